/**
 * The mutual close steps (src/lib/bolt3/party-close.ts) pinned where `npm run mutate` found a
 * planted change passing every test (issue 42, deliverable 2): each refusal by code, exit class
 * and whole message (which field, which script, which numbers), the fee bound exact on both
 * sides, every field of the three messages and of the record written, and the replays.
 *
 * Expected values come from BOLT 2 / BOLT 3 and docs/bolt3.md, never from the code: the final
 * commitment's fee is BOLT 3's 724 weight units at 2500 sat/kw (1810 sat), the closing
 * transaction is serialized here (version 2, nLockTime 0, nSequence 0xFFFFFFFF, BIP-69 outputs)
 * and hashed by test code (test/independent/tx.ts), signatures are checked with test code's
 * BIP-143 and OpenSSL's ECDSA (independent-p2wsh.ts).
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import type { ChannelRecord, RevokeAndAck } from '../../../src/lib/bolt3/party.ts';
import { finishClose, proposeClose, replyClose, type ClosingSigned, type Shutdown } from '../../../src/lib/bolt3/party-close.ts';
import { receiveSigs, signPeer } from '../../../src/lib/bolt3/party-commitment-signed.ts';
import { receiveRevocation } from '../../../src/lib/bolt3/party-revoke-and-ack.ts';
import { refusal } from '../../setup/refusal.ts';
import { compactSize, concat, u32le, u64le } from '../../independent/tx.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';
import { bip143SingleHash, parseTx, verifyEcdsa } from './independent-p2wsh.ts';
import { A, B, CHANNEL_ID, aliceState, bobState, open, sk, update } from './two-parties.ts';

const P2WPKH = (b: number) => Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(b));
const OP_RETURN = Uint8Array.of(0x6a, 0x04, 1, 2, 3, 4); // standard, but no one's balance
const BARE = Uint8Array.of(0x51); // OP_TRUE: no standard output type
const ALICE = P2WPKH(1);
const BOB = P2WPKH(2);
/** BOLT 3: a commitment without HTLCs weighs 724; at 2500 sat/kw its fee is 724 · 2500 / 1000. */
const FINAL_FEE = 1810n;

/** Both at commitment 1, nothing in flight (aliceState(1, 0): Alice 980,000 sat, Bob 20,000 sat). */
// Built once: the steps return new records and never change the one given.
let zeroOnce: ReturnType<typeof update> | undefined;
let quietOnce: ReturnType<typeof update> | undefined;
const zero = () => (zeroOnce ??= update(open(), 0, 0));
const quiet = () => (quietOnce ??= update(zero(), 1, 0));
const shutdownOf = (rec: ChannelRecord, fee = 1000n, script = ALICE) => proposeClose(rec, script, fee, A.seed);

/** The closing transaction BOLT 2/3 describe, serialized here without witness: Alice (opener) pays the fee. */
function closingHex(fee: bigint, aliceScript = ALICE, bobScript = BOB): string {
  const outputs = [{ amount: 980_000n - fee, script: aliceScript }, { amount: 20_000n, script: bobScript }].sort((x, y) => (x.amount < y.amount ? -1 : 1));
  const outpoint = concat(Uint8Array.from(Buffer.from('ab'.repeat(32), 'hex')).reverse(), u32le(1));
  const parts = [u32le(2), compactSize(1), outpoint, compactSize(0), u32le(0xffffffff), compactSize(outputs.length)];
  for (const o of outputs) parts.push(u64le(o.amount), compactSize(o.script.length), o.script);
  parts.push(u32le(0));
  return Buffer.from(concat(...parts)).toString('hex');
}
const fundingScript = () => {
  const [k1, k2] = [publicKeyOf(A.funding), publicKeyOf(B.funding)].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return Uint8Array.from([0x52, 0x21, ...k1!, 0x21, ...k2!, 0x52, 0xae]);
};
/** Does `der` verify under `key` on the unsigned closing transaction `hex` (BIP-143, SIGHASH_ALL, the 2-of-2 funding script)? */
const signs = (hex: string, der: Uint8Array, key: Uint8Array) => verifyEcdsa(publicKeyOf(key), der, bip143SingleHash(parseTx(hex), 0, fundingScript(), 1_000_000n, 0x01));

describe('a close waits until nothing is in flight (E_CLOSE_PENDING, each case its own message)', () => {
  const IN_FLIGHT = 'an update is in flight: both parties must hold the same latest commitment before a close';

  it('no commitment held, or held without the peer\'s of the same number: an update in flight', () => {
    const o = open();
    expect(refusal(() => shutdownOf(o.a), 'E_CLOSE_PENDING', 4).message).toBe(IN_FLIGHT); // nothing held, nothing signed
    const sigA = signPeer(o.a, aliceState(0, 0), sk(A));
    expect(refusal(() => shutdownOf(sigA.record!), 'E_CLOSE_PENDING', 4).message).toBe(IN_FLIGHT); // Bob's 0 signed, none of hers held
    const bob0 = receiveSigs(o.b, sigA.message, bobState(0, 0), B.seed).record!; // Bob holds his 0, has signed none of Alice's
    expect(refusal(() => proposeClose(bob0, BOB, 1000n, B.seed), 'E_CLOSE_PENDING', 4).message).toBe(IN_FLIGHT);
    // Bob holds his 1 while the last of Alice's he signed is 0.
    const p = zero();
    const bob1 = receiveSigs(p.b, signPeer(p.a, aliceState(1, 0), sk(A)).message, bobState(1, 0), B.seed).record!;
    expect([bob1.local?.state.commitment_number, bob1.remote_signed.at(-1)?.state.commitment_number]).toEqual([1, 0]);
    expect(refusal(() => proposeClose(bob1, BOB, 1000n, B.seed), 'E_CLOSE_PENDING', 4).message).toBe(IN_FLIGHT);
  });

  it('commitment n−1 unrevoked by either party: named, for the peer\'s and for one\'s own (a record claiming its own n−1 live)', () => {
    const p = quiet();
    const sigA = signPeer(p.a, aliceState(2, 0), sk(A));
    const recvB = receiveSigs(p.b, sigA.message, bobState(2, 0), B.seed);
    const a = receiveSigs(sigA.record!, signPeer(recvB.record!, bobState(2, 0), sk(B)).message, aliceState(2, 0), A.seed).record!;
    expect(refusal(() => shutdownOf(a), 'E_CLOSE_PENDING', 4).message).toBe('commitment 1 is not revoked by both parties yet: finish the update first');
    const both = receiveRevocation(a, recvB.message as RevokeAndAck).record!;
    expect(shutdownOf(both).message).toMatchObject({ commitment_number: 2 });
    expect(refusal(() => shutdownOf({ ...both, local_revoked_through: 0 }), 'E_CLOSE_PENDING', 4).message).toBe('commitment 1 is not revoked by both parties yet: finish the update first');
    // At commitment 0 nothing is to be revoked (−1 both ways): the close is proposed.
    expect(shutdownOf(zero().a).message).toMatchObject({ commitment_number: 0 });
  });

  it('HTLCs in the final state: counted in the refusal', () => {
    const p = update(update(open(), 0, 1), 1, 1);
    expect(refusal(() => shutdownOf(p.a), 'E_CLOSE_PENDING', 4).message).toBe('1 HTLCs are in flight: settle or fail them first');
    const two = update(update(open(), 0), 1);
    expect(refusal(() => shutdownOf(two.a), 'E_CLOSE_PENDING', 4).message).toBe('2 HTLCs are in flight: settle or fail them first');
  });
});

describe('shutdown (proposeClose)', () => {
  it('says the channel, the state, its own script and the fee; writes exactly the proposal', () => {
    const p = quiet();
    const s = shutdownOf(p.a, 1234n);
    expect(s.message).toEqual({ type: 'bolt3/shutdown', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: 1, script_pubkey: toHex(ALICE), fee_sat: 1234 });
    expect(s.record).toEqual({ ...p.a, closing: { proposed: true, own_script: toHex(ALICE), fee_sat: 1234 } });
  });

  it('the fee: the final commitment\'s (BOLT 3: 1810 sat) is allowed, one satoshi more refused with both numbers', () => {
    const p = quiet();
    expect(shutdownOf(p.a, FINAL_FEE).record?.closing?.fee_sat).toBe(1810);
    expect(shutdownOf(p.a, 0n).record?.closing?.fee_sat).toBe(0);
    const e = refusal(() => shutdownOf(p.a, FINAL_FEE + 1n), 'E_CLOSING_FEE', 4);
    expect(e.message).toBe('a closing fee of 1811 sat is more than the final commitment\'s 1810 sat (BOLT 2)');
  });

  it('its own script must relay: neither a non-standard script nor an OP_RETURN', () => {
    const p = quiet();
    for (const script of [BARE, OP_RETURN]) {
      expect(refusal(() => shutdownOf(p.a, 1000n, script), 'E_NONSTANDARD_SCRIPT', 4).message)
        .toBe('your --to is not a standard output script: the closing transaction would not relay');
    }
  });

  it('a rerun with the same script and fee prints the same shutdown and writes nothing; another script or fee, or after signing or completing, is a state conflict', () => {
    const p = quiet();
    const first = shutdownOf(p.a);
    const again = shutdownOf(first.record!);
    expect(again.record).toBeUndefined();
    expect(again.message).toEqual(first.message);
    const CONFLICT = 'a close with another script or fee was already proposed or signed';
    expect(refusal(() => shutdownOf(first.record!, 999n), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
    expect(refusal(() => shutdownOf(first.record!, 1000n, P2WPKH(3)), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
    // Bob signed Alice's close: he cannot propose one of his own (same script and fee included).
    const bobSigned = replyClose(p.b, first.message as Shutdown, BOB, B.seed, B.funding).record!;
    refusal(() => proposeClose(bobSigned, BOB, 1000n, B.seed), 'E_CHANNEL_CLOSING', 5);
    // Alice completed it: her very proposal is not printed again as if still open.
    const signed = replyClose(p.b, first.message as Shutdown, BOB, B.seed, B.funding).message as ClosingSigned;
    const done = finishClose(first.record!, signed, A.seed, A.funding).record!;
    refusal(() => shutdownOf(done), 'E_CHANNEL_CLOSING', 5);
  });

  it('another channel\'s seed is refused', () => {
    refusal(() => proposeClose(quiet().a, ALICE, 1000n, B.seed), 'E_KEY_MISMATCH', 4);
  });
});

describe('closing_signed (replyClose)', () => {
  it('signs the transaction BOLT 2/3 describe, names both scripts and its txid, and writes exactly that', () => {
    const p = quiet();
    const s = shutdownOf(p.a, 1000n);
    const r = replyClose(p.b, s.message as Shutdown, BOB, B.seed, B.funding);
    const unsigned = closingHex(1000n);
    const m = r.message as ClosingSigned;
    expect({ ...m, signature: undefined }).toEqual({
      type: 'bolt3/closing-signed', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: 1, fee_sat: 1000,
      sender_script_pubkey: toHex(BOB), receiver_script_pubkey: toHex(ALICE), txid: parseTx(unsigned).txid, signature: undefined,
    });
    const der = Uint8Array.from(Buffer.from(m.signature, 'hex'));
    expect(signs(unsigned, der, B.funding)).toBe(true);
    der[der.length - 1]! ^= 1;
    expect(signs(unsigned, der, B.funding)).toBe(false);
    expect(r.record).toEqual({ ...p.b, closing: { proposed: false, own_script: toHex(BOB), fee_sat: 1000, peer_script: toHex(ALICE), txid: parseTx(unsigned).txid } });
  });

  it('the fee: up to the final commitment\'s, from the accepter\'s side too', () => {
    const p = quiet();
    const at = (fee: number) => ({ ...(shutdownOf(p.a).message as Shutdown), fee_sat: fee });
    expect(replyClose(p.b, at(1810), BOB, B.seed, B.funding).record?.closing?.fee_sat).toBe(1810);
    expect(refusal(() => replyClose(p.b, at(1811), BOB, B.seed, B.funding), 'E_CLOSING_FEE', 4).message)
      .toBe('a closing fee of 1811 sat is more than the final commitment\'s 1810 sat (BOLT 2)');
  });

  it('refuses another channel, another seed, another commitment number, and a script of either side that would not relay', () => {
    const p = quiet();
    const s = shutdownOf(p.a).message as Shutdown;
    refusal(() => replyClose(p.b, { ...s, channel_id: `${'cd'.repeat(32)}:0` }, BOB, B.seed, B.funding), 'E_WRONG_CHANNEL', 4);
    refusal(() => replyClose(p.b, s, BOB, A.seed, B.funding), 'E_KEY_MISMATCH', 4);
    const e = refusal(() => replyClose(p.b, { ...s, commitment_number: 0 }, BOB, B.seed, B.funding), 'E_TERMS_MISMATCH', 4);
    expect([e.message, e.detail]).toEqual(['the peer\'s shutdown: commitment_number differs from the state you agreed to', { field: 'commitment_number' }]);
    for (const script of [BARE, OP_RETURN]) {
      expect(refusal(() => replyClose(p.b, { ...s, script_pubkey: toHex(script) }, BOB, B.seed, B.funding), 'E_NONSTANDARD_SCRIPT', 4).message)
        .toBe('the peer\'s script_pubkey is not a standard output script: the closing transaction would not relay');
      expect(refusal(() => replyClose(p.b, s, script, B.seed, B.funding), 'E_NONSTANDARD_SCRIPT', 4).message)
        .toBe('your --to is not a standard output script: the closing transaction would not relay');
    }
  });

  it('a field of the shutdown that is not hex is malformed input naming it', () => {
    const s = shutdownOf(quiet().a).message as Shutdown;
    expect(refusal(() => replyClose(quiet().b, { ...s, script_pubkey: 'zz' }, BOB, B.seed, B.funding), 'E_BAD_HEX', 3).message).toBe('script_pubkey is not valid hex');
  });

  it('a rerun with the same shutdown and script signs the same and writes nothing; any other script or fee, or a close of one\'s own proposed, is a state conflict', () => {
    const p = quiet();
    const s = shutdownOf(p.a).message as Shutdown;
    const first = replyClose(p.b, s, BOB, B.seed, B.funding);
    const again = replyClose(first.record!, s, BOB, B.seed, B.funding);
    expect(again.record).toBeUndefined();
    expect(again.message).toEqual(first.message);
    const CONFLICT = 'a close with another script or fee was already proposed or signed';
    expect(refusal(() => replyClose(first.record!, s, P2WPKH(3), B.seed, B.funding), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
    expect(refusal(() => replyClose(first.record!, { ...s, script_pubkey: toHex(P2WPKH(3)) }, BOB, B.seed, B.funding), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
    expect(refusal(() => replyClose(first.record!, { ...s, fee_sat: 999 }, BOB, B.seed, B.funding), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
    // Bob proposed his own close (same script, same fee as Alice's): he does not also sign hers.
    const bobProposed = proposeClose(p.b, BOB, 1000n, B.seed).record!;
    expect(refusal(() => replyClose(bobProposed, { ...s, script_pubkey: toHex(ALICE) }, BOB, B.seed, B.funding), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
    // Alice, having completed her own close, does not sign Bob's shutdown as the accepter (even one naming the same scripts and fee).
    const aliceDone = finishClose(shutdownOf(p.a).record!, first.message as ClosingSigned, A.seed, A.funding).record!;
    const bobs = proposeClose(p.b, BOB, 1000n, B.seed).message as Shutdown;
    expect(refusal(() => replyClose(aliceDone, bobs, ALICE, A.seed, A.funding), 'E_CHANNEL_CLOSING', 5).message).toBe(CONFLICT);
  });
});

describe('the proposer completes the close (finishClose)', () => {
  const setup = () => {
    const p = quiet();
    const s = shutdownOf(p.a, 1000n);
    const signed = replyClose(p.b, s.message as Shutdown, BOB, B.seed, B.funding).message as ClosingSigned;
    return { p, a: s.record!, signed };
  };

  it('prints the closing transaction signed by both (each signature checked here), and records the peer\'s script and the txid', () => {
    const { a, signed } = setup();
    const r = finishClose(a, signed, A.seed, A.funding);
    const m = r.message as { type: string; hex: string; txid: string };
    const tx = parseTx(m.hex);
    const unsigned = closingHex(1000n);
    expect(tx.txid).toBe(parseTx(unsigned).txid);
    expect(m).toEqual({ type: 'bolt3/closing-tx', version: 1, network: 'regtest', channel_id: CHANNEL_ID, txid: tx.txid, hex: m.hex, fee_sat: 1000 });
    expect([tx.version, tx.lockTime, tx.inputs[0]!.sequence]).toEqual([2, 0, 0xffffffff]);
    const [empty, s1, s2, script] = tx.inputs[0]!.witness;
    expect([empty!.length, toHex(script!)]).toEqual([0, toHex(fundingScript())]);
    const by = (k: Uint8Array) => [s1!, s2!].filter((s) => s.at(-1) === 0x01 && signs(unsigned, s.subarray(0, -1), k)).length;
    expect([by(A.funding), by(B.funding)]).toEqual([1, 1]);
    expect(r.record).toEqual({ ...a, closing: { ...a.closing, peer_script: toHex(BOB), txid: tx.txid } });
    // A rerun prints the same and writes nothing.
    const again = finishClose(r.record!, signed, A.seed, A.funding);
    expect(again.record).toBeUndefined();
    expect(again.message).toEqual(r.message);
  });

  it('no shutdown of one\'s own: neither without a close nor on the accepter\'s side', () => {
    const { p, signed } = setup();
    const NONE = 'you proposed no close of this channel (commitment close --start)';
    expect(refusal(() => finishClose(p.a, signed, A.seed, A.funding), 'E_NO_SHUTDOWN', 4).message).toBe(NONE);
    const bobSigned = replyClose(p.b, shutdownOf(p.a).message as Shutdown, BOB, B.seed, B.funding).record!;
    expect(refusal(() => finishClose(bobSigned, signed, B.seed, B.funding), 'E_NO_SHUTDOWN', 4).message).toBe(NONE);
  });

  it('refuses another channel, another seed, and each field of the closing_signed that is not the close it proposed, naming it', () => {
    const { a, signed } = setup();
    refusal(() => finishClose(a, { ...signed, channel_id: `${'cd'.repeat(32)}:0` }, A.seed, A.funding), 'E_WRONG_CHANNEL', 4);
    refusal(() => finishClose(a, signed, B.seed, A.funding), 'E_KEY_MISMATCH', 4);
    const field = (m: ClosingSigned, name: string) => {
      const e = refusal(() => finishClose(a, m, A.seed, A.funding), 'E_TERMS_MISMATCH', 4);
      expect([e.message, e.detail]).toEqual([`the peer's closing_signed: ${name} differs from the state you agreed to`, { field: name }]);
    };
    field({ ...signed, commitment_number: 0 }, 'commitment_number');
    field({ ...signed, receiver_script_pubkey: toHex(P2WPKH(3)) }, 'receiver_script_pubkey');
    field({ ...signed, fee_sat: 999 }, 'fee_sat');
    // Bob's output moved to another (standard) script: not the transaction Alice builds with his.
    field({ ...signed, sender_script_pubkey: toHex(P2WPKH(4)) }, 'txid');
    field({ ...signed, txid: 'ee'.repeat(32) }, 'txid');
    for (const script of [BARE, OP_RETURN]) {
      expect(refusal(() => finishClose(a, { ...signed, sender_script_pubkey: toHex(script) }, A.seed, A.funding), 'E_NONSTANDARD_SCRIPT', 4).message)
        .toBe('the peer\'s sender_script_pubkey is not a standard output script: the closing transaction would not relay');
    }
    // Once completed, the peer's script is the one recorded: another one is named as such.
    const done = finishClose(a, signed, A.seed, A.funding).record!;
    const e = refusal(() => finishClose(done, { ...signed, sender_script_pubkey: toHex(P2WPKH(4)) }, A.seed, A.funding), 'E_TERMS_MISMATCH', 4);
    expect([e.message, e.detail]).toEqual(['the peer\'s closing_signed: sender_script_pubkey differs from the state you agreed to', { field: 'sender_script_pubkey' }]);
  });

  it('a field of the closing_signed that is not hex is malformed input naming it', () => {
    const { a, signed } = setup();
    expect(refusal(() => finishClose(a, { ...signed, sender_script_pubkey: 'zz' }, A.seed, A.funding), 'E_BAD_HEX', 3).message).toBe('sender_script_pubkey is not valid hex');
    expect(refusal(() => finishClose(a, { ...signed, signature: 'zz' }, A.seed, A.funding), 'E_BAD_HEX', 3).message).toBe('signature is not valid hex');
  });

  it('a signature that is not the peer\'s on this transaction is refused naming the transaction', () => {
    const { a, signed } = setup();
    const der = Buffer.from(signed.signature, 'hex');
    der[der.length - 1]! ^= 1;
    const e = refusal(() => finishClose(a, { ...signed, signature: der.toString('hex') }, A.seed, A.funding), 'E_BAD_SIGNATURE', 4);
    expect(e.message).toBe(`the peer's signature does not verify for the closing transaction ${parseTx(closingHex(1000n)).txid}`);
  });
});
