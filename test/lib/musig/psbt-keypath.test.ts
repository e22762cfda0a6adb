/**
 * A narrated two-party MuSig2 key-path spend, in process: updater sets participants,
 * each signer contributes a nonce, both sign, the aggregator finalizes, the extractor
 * gives the network transaction. The spent output is the one the test derives itself
 * (test/independent/keys.ts: KeyAgg of the sorted keys, TapTweak), so the updater must
 * agree with it, and the final transaction is checked by the independent verifier
 * (test/independent/verify.ts): its own parser and BIP-341 sighash, and BIP-340 on an
 * implementation the product is not using.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import {
  setMusigParticipants, readMusigInput, musigNonceGen, addPubNonce, musigPartialSign,
  musigDeterministicSign, aggregateMusigInput, verifyPartialSigs, lastSignature, partialSignature, signingSessionDigest,
} from '../../../src/lib/musig/psbt-keypath.ts';
import { finalizeAll } from '../../../src/lib/musig/finalize.ts';
import { extractTransaction } from '../../../src/lib/psbt/roles.ts';
import { InvalidContributionError, RefusedError } from '../../../src/lib/errors.ts';
import { fromHex, toHex, utf8 } from '../../../src/lib/bytes.ts';
import { musigTaprootOutput, publicKeyOf } from '../../independent/keys.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';

const alice = keyPair(fromHex('11'.repeat(32)));
const bob = keyPair(fromHex('22'.repeat(32)));
/** The 2-of-2 output, derived in test code from the two secret keys. */
const OUTPUT = musigTaprootOutput([publicKeyOf(fromHex('11'.repeat(32))), publicKeyOf(fromHex('22'.repeat(32)))]);
const PREVOUT = { txid: 'aa'.repeat(32), vout: 0, amount: 100_000n, script: OUTPUT.script };

function fundedPsbt(): Transaction {
  const tx = new Transaction({ version: 2 });
  tx.addInput({ txid: PREVOUT.txid, index: PREVOUT.vout, witnessUtxo: { script: PREVOUT.script, amount: PREVOUT.amount }, sequence: 0xfffffffd });
  tx.addOutput({ script: fromHex('0014' + '33'.repeat(20)), amount: 99_000n });
  return tx;
}

/** Finalize (our Input Finalizer), extract (our Extractor), and check the result independently. */
function finalizeAndVerify(tx: Transaction): void {
  finalizeAll(tx);
  const extracted = extractTransaction(tx);
  const v = verifyKeyPathSpend(extracted.hex, [PREVOUT], OUTPUT.outputKey);
  expect(v.txid).toBe(extracted.txid);
  expect(v.vsize).toBe(extracted.vsize);
}

describe('two-party MuSig2 key-path spend in a PSBT', () => {
  it('signs with NonceGen for both, aggregates, and the witness verifies independently', () => {
    const tx = fundedPsbt();
    setMusigParticipants(tx, 0, [bob.publicKey, alice.publicKey]);
    let input = readMusigInput(tx, 0);
    const na = musigNonceGen(input, alice, new Uint8Array(32).fill(1), utf8('ctx'));
    const nb = musigNonceGen(input, bob, new Uint8Array(32).fill(2), utf8('ctx'));
    addPubNonce(tx, input, alice.publicKey, na.pubnonce);
    addPubNonce(tx, input, bob.publicKey, nb.pubnonce);
    // Round-trip through PSBT bytes between steps, as the CLI does.
    const tx2 = Transaction.fromPSBT(tx.toPSBT());
    input = readMusigInput(tx2, 0);
    musigPartialSign(tx2, input, alice, na.secnonce);
    musigPartialSign(tx2, input, bob, nb.secnonce);
    expect(secretZeroed(na.secnonce)).toBe(true);
    finalizeAndVerify(tx2);
  });

  it('lets the second signer use DeterministicSign', () => {
    const tx = fundedPsbt();
    setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
    const input = readMusigInput(tx, 0);
    const na = musigNonceGen(input, alice, new Uint8Array(32).fill(3), new Uint8Array());
    addPubNonce(tx, input, alice.publicKey, na.pubnonce);
    const det = musigDeterministicSign(tx, input, bob);
    // Deterministic: same inputs, same nonce and partial signature.
    const again = musigDeterministicSign(fundedPsbtWith(na.pubnonce), readMusigInput(fundedPsbtWith(na.pubnonce), 0), bob);
    expect(toHex(again.pubnonce)).toBe(toHex(det.pubnonce));
    musigPartialSign(tx, input, alice, na.secnonce);
    const sig = aggregateMusigInput(tx, readMusigInput(tx, 0));
    expect(sig).toHaveLength(64); // SIGHASH_DEFAULT: no sighash byte
    finalizeAndVerify(tx);
  });

  it('blames the participant whose partial signature is bad', () => {
    const tx = fundedPsbt();
    setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
    const input = readMusigInput(tx, 0);
    const na = musigNonceGen(input, alice, new Uint8Array(32).fill(4), new Uint8Array());
    const nb = musigNonceGen(input, bob, new Uint8Array(32).fill(5), new Uint8Array());
    addPubNonce(tx, input, alice.publicKey, na.pubnonce);
    addPubNonce(tx, input, bob.publicKey, nb.pubnonce);
    musigPartialSign(tx, input, alice, na.secnonce);
    const bad = new Uint8Array(32).fill(7);
    tx.updateInput(0, { musig2PartialSig: undefined });
    tx.updateInput(0, { musig2PartialSig: [[{ participantPubkey: alice.publicKey, aggregatePubkey: input.signingKey }, input.partialSigs[input.key.participants.findIndex((p) => p === alice.publicKey || toHex(p) === toHex(alice.publicKey))]!], [{ participantPubkey: bob.publicKey, aggregatePubkey: input.signingKey }, bad]] });
    const err = catchErr(() => verifyPartialSigs(readMusigInput(tx, 0)));
    expect(err).toBeInstanceOf(InvalidContributionError);
    expect((err as InvalidContributionError).participant).toBe(toHex(bob.publicKey));
    expect((err as InvalidContributionError).code).toBe('E_BAD_PARTIAL_SIG');
  });

  it('refuses a PSBT whose spent output is not the MuSig2 key', () => {
    const tx = fundedPsbt();
    const carol = keyPair(fromHex('44'.repeat(32)));
    const err = catchErr(() => setMusigParticipants(tx, 0, [alice.publicKey, carol.publicKey]));
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as RefusedError).code).toBe('E_KEY_MISMATCH');
  });

  it('refuses any sighash type but SIGHASH_DEFAULT', () => {
    const tx = fundedPsbt();
    setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
    tx.updateInput(0, { sighashType: 0x01 });
    expect((catchErr(() => readMusigInput(tx, 0)) as RefusedError).code).toBe('E_SIGHASH_NOT_ALLOWED');
  });
});

describe('the last signer (lastSignature): Sign without its self-check, then the aggregate verified', () => {
  /** Both nonces in, Alice's partial signature in: Bob's turn. */
  function bobsTurn(seed: number) {
    const tx = fundedPsbt();
    setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
    let input = readMusigInput(tx, 0);
    const na = musigNonceGen(input, alice, new Uint8Array(32).fill(seed), new Uint8Array());
    const nb = musigNonceGen(input, bob, new Uint8Array(32).fill(seed + 1), new Uint8Array());
    addPubNonce(tx, input, alice.publicKey, na.pubnonce);
    addPubNonce(tx, input, bob.publicKey, nb.pubnonce);
    input = readMusigInput(tx, 0);
    return { tx, input, na, nb };
  }

  it('gives the signature the full path gives, and it verifies independently', () => {
    const { tx, input, na, nb } = bobsTurn(8);
    musigPartialSign(tx, input, alice, na.secnonce);
    const reference = bobsTurn(8);
    musigPartialSign(reference.tx, reference.input, alice, reference.na.secnonce);
    musigPartialSign(reference.tx, reference.input, bob, reference.nb.secnonce);
    const sig = lastSignature(input, bob, nb.secnonce);
    expect(secretZeroed(nb.secnonce)).toBe(true);
    expect(toHex(sig)).toBe(toHex(aggregateMusigInput(reference.tx, readMusigInput(reference.tx, 0))));
    tx.updateInput(0, { tapKeySig: sig }, true);
    finalizeAndVerify(tx);
  });

  it('a faulty partial signature of its own never leaves: the aggregate fails verification (E_BAD_SIGNATURE)', () => {
    const { tx, input, na, nb } = bobsTurn(10);
    musigPartialSign(tx, input, alice, na.secnonce);
    // A fault: Bob's key pair with a secret that is not his public key's. Sign skips d·G and
    // its self-check here, so only the final verification can catch it.
    const faulty = { ...bob, secretKey: fromHex('23'.repeat(32)) };
    const err = catchErr(() => lastSignature(input, faulty, nb.secnonce));
    expect((err as RefusedError).code).toBe('E_BAD_SIGNATURE');
    expect(input.partialSigs[input.key.participants.findIndex((p) => toHex(p) === toHex(bob.publicKey))]).toBeUndefined();
    expect(secretZeroed(nb.secnonce)).toBe(true);
  });

  it('refuses before signing when another participant has not signed, and zeroes the nonce anyway', () => {
    const { input, nb } = bobsTurn(12);
    const err = catchErr(() => lastSignature(input, bob, nb.secnonce));
    expect((err as RefusedError).code).toBe('E_MISSING_PARTIAL_SIGS');
    expect(secretZeroed(nb.secnonce)).toBe(true);
  });

  it('blames another participant whose partial signature is bad, before signing', () => {
    const { tx, input, nb } = bobsTurn(14);
    tx.updateInput(0, { musig2PartialSig: [[{ participantPubkey: alice.publicKey, aggregatePubkey: input.signingKey }, new Uint8Array(32).fill(7)]] });
    const err = catchErr(() => lastSignature(readMusigInput(tx, 0), bob, nb.secnonce));
    expect((err as InvalidContributionError).code).toBe('E_BAD_PARTIAL_SIG');
    expect((err as InvalidContributionError).participant).toBe(toHex(alice.publicKey));
    expect(secretZeroed(nb.secnonce)).toBe(true);
  });
});

describe('signingSessionDigest: equal digests give the same partial signature, and every change of the session another digest (src/lib/store/nonce-ledger.ts)', () => {
  // Alice is the mint: ONE secret nonce, opened for each session below (a copy each time:
  // Sign zeroes it). Bob is the user, signing last-but-one by DeterministicSign, as credit does.
  const mintNonce = (() => {
    const tx = fundedPsbt();
    setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
    return musigNonceGen(readMusigInput(tx, 0), alice, new Uint8Array(32).fill(21), new Uint8Array());
  })();

  /** A session: Bob pays `amount` out (the message), with his nonce derived (or drawn with `rand`). */
  function open(amount: bigint, rand?: Uint8Array) {
    const tx = new Transaction({ version: 2 });
    tx.addInput({ txid: PREVOUT.txid, index: PREVOUT.vout, witnessUtxo: { script: PREVOUT.script, amount: PREVOUT.amount }, sequence: 0xfffffffd });
    tx.addOutput({ script: fromHex('0014' + '33'.repeat(20)), amount });
    setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
    addPubNonce(tx, readMusigInput(tx, 0), alice.publicKey, mintNonce.pubnonce);
    musigDeterministicSign(tx, readMusigInput(tx, 0), bob, rand);
    // As the mint reads it: from the PSBT's bytes.
    const input = readMusigInput(Transaction.fromPSBT(tx.toPSBT()), 0);
    const digest = toHex(signingSessionDigest(input));
    return { digest, psig: toHex(partialSignature(input, alice, mintNonce.secnonce.slice())) };
  }

  it('the same request read twice: one digest, one partial signature; another message or another user nonce: another digest and another partial signature', () => {
    const first = open(99_000n);
    expect(open(99_000n)).toEqual(first);
    const otherMessage = open(98_000n);
    const otherUserNonce = open(99_000n, new Uint8Array(32).fill(9)); // the same transaction, Bob's nonce drawn
    for (const other of [otherMessage, otherUserNonce]) {
      expect(other.digest).not.toBe(first.digest);
      expect(other.psig).not.toBe(first.psig);
    }
    expect(otherMessage.digest).not.toBe(otherUserNonce.digest);
  });

  it('property: for any two sessions on one secret nonce, the digests are equal exactly when the partial signatures are', () => {
    const sessionArb = fc.record({ amount: fc.constantFrom(99_000n, 98_500n, 1_000n), rand: fc.option(fc.constantFrom(1, 2), { nil: undefined }) });
    const seen = { equal: 0, different: 0 };
    fc.assert(
      fc.property(sessionArb, sessionArb, (a, b) => {
        const x = open(a.amount, a.rand === undefined ? undefined : new Uint8Array(32).fill(a.rand));
        const y = open(b.amount, b.rand === undefined ? undefined : new Uint8Array(32).fill(b.rand));
        const same = x.digest === y.digest;
        seen[same ? 'equal' : 'different']++;
        expect(x.psig === y.psig).toBe(same);
        // And equal digests come only from equal sessions (test code's own reading of "the same").
        expect(same).toBe(a.amount === b.amount && a.rand === b.rand);
      }),
      { numRuns: 40 },
    );
    expect(seen.equal).toBeGreaterThan(0);
    expect(seen.different).toBeGreaterThan(0);
  });

  it('needs every public nonce (E_MISSING_NONCES)', () => {
    const err = catchErr(() => signingSessionDigest(readMusigInput(fundedPsbtWith(mintNonce.pubnonce), 0)));
    expect((err as RefusedError).code).toBe('E_MISSING_NONCES');
  });
});

function fundedPsbtWith(aliceNonce: Uint8Array): Transaction {
  const tx = fundedPsbt();
  setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
  addPubNonce(tx, readMusigInput(tx, 0), alice.publicKey, aliceNonce);
  return tx;
}

function secretZeroed(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
