/**
 * The CPFP child of an anchors commitment (src/lib/bolt3/anchor-child.ts, its invariants): the
 * holder's own `to_local_anchor` spent with her funding key — the signature checked by an
 * independent BIP-143 digest and OpenSSL (./independent-p2wsh.ts), never by the code that made it —
 * the wallet's coins and change after it, the fee exactly what was asked, the package's guard; then
 * a property test: whatever the balances and keys, the input is the holder's anchor, never the peer's.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { ANCHORS, buildCommitment, generateFromSeed, perCommitmentPoint, pointOf } from '../../../src/lib/bolt3/index.ts';
import { anchorChildVsize, fundAnchorChild } from '../../../src/lib/bolt3/anchor-child.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { refusal } from '../../setup/refusal.ts';
import { SIGHASH_ALL, bip143SingleHash, p2wshOf, parseTx, verifyEcdsa } from './independent-p2wsh.ts';

const sec = (b: number) => new Uint8Array(32).fill(b);
const party = (o: number) => ({ fundingPubkey: pointOf(sec(o + 1)), revocationBasepoint: pointOf(sec(o + 2)), paymentBasepoint: pointOf(sec(o + 3)), delayedPaymentBasepoint: pointOf(sec(o + 4)), htlcBasepoint: pointOf(sec(o + 5)) });
const pcp = perCommitmentPoint(generateFromSeed(sec(9), 2 ** 48 - 1));
const commitment = (toLocalMsat: bigint, toRemoteMsat: bigint, local = 10, remote = 20, opener: 'local' | 'remote' = 'local') => buildCommitment(
  { format: ANCHORS, fundingOutpoint: { txid: '89'.repeat(32), vout: 0 }, fundingSatoshis: 1_000_000n, opener, local: party(local), remote: party(remote), toSelfDelay: 6, dustLimitSatoshis: 546n },
  { commitmentNumber: 0, perCommitmentPoint: pcp, toLocalMsat, toRemoteMsat, feeratePerKw: 253, htlcs: [] },
);
const KEY = pointOf(sec(0x55));
const P2WPKH = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(0x66)]);
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
function wallet(coin: bigint, change: bigint): Transaction {
  const w = new Transaction({ version: 2 });
  w.addInput({ txid: 'cd'.repeat(32), index: 0, witnessUtxo: { script: P2WPKH, amount: coin }, bip32Derivation: mark(0) });
  w.addOutput({ script: P2WPKH, amount: change, bip32Derivation: mark(1) });
  return w;
}
const guard = (c: ReturnType<typeof commitment>, maxFeeRate = 50) => ({ parent: { vsize: 300, feeSat: c.actualFeeSat }, stakeSat: 100_000n, limits: { maxFeeRate, maxFeeShare: 0.5 } });
/** BOLT 3's anchor script, written out: <pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF. */
const anchorScriptOf = (pubkey: Uint8Array) => Uint8Array.of(0x21, ...pubkey, 0xac, 0x73, 0x64, 0x60, 0xb2, 0x68);

function spentBy(c: ReturnType<typeof commitment>, secret: Uint8Array, fee = 2_000n) {
  const f = fundAnchorChild(c, wallet(50_000n, 20_000n), fee, secret, guard(c));
  const psbt = Transaction.fromPSBT(base64.decode(f.psbt), { allowUnknownOutputs: true });
  return { f, psbt, input0: psbt.getInput(0) };
}

describe('Alice\'s commitment (630,000 / 370,000 sat, feerate_per_kw 253): her child', () => {
  const c = commitment(630_000_000n, 370_000_000n);
  it('spends HER to_local_anchor (330 sat) first, with a signature of her funding key over the whole child (SIGHASH_ALL), the wallet\'s coin after it', () => {
    const { f, psbt, input0 } = spentBy(c, sec(11));
    const mine = anchorScriptOf(pointOf(sec(11)));
    const vout = c.tx.outputs.findIndex((o) => toHex(o.script) === toHex(p2wshOf(mine)));
    expect(vout).toBeGreaterThanOrEqual(0);
    expect([toHex(input0.txid!), input0.index]).toEqual([c.txid, vout]);
    expect(input0.witnessUtxo).toEqual({ script: p2wshOf(mine), amount: 330n });
    const [sig, script] = input0.finalScriptWitness!;
    expect(toHex(script!)).toBe(toHex(mine));
    expect(sig![sig!.length - 1]).toBe(SIGHASH_ALL);
    const tx = parseTx(psbt.unsignedTx);
    expect(verifyEcdsa(pointOf(sec(11)), sig!.subarray(0, -1), bip143SingleHash(tx, 0, mine, 330n, SIGHASH_ALL))).toBe(true);
    expect(verifyEcdsa(pointOf(sec(21)), sig!.subarray(0, -1), bip143SingleHash(tx, 0, mine, 330n, SIGHASH_ALL))).toBe(false);
    expect([psbt.version, psbt.inputsLength, psbt.outputsLength]).toEqual([2, 2, 1]);
    expect(toHex(psbt.getInput(1).txid!)).toBe('cd'.repeat(32));
    // The fee is what was asked: 330 + 50,000 in, its one change output 50,000 + 330 − 2,000 = 48,330.
    expect(psbt.getOutput(0).amount).toBe(48_330n);
    expect(f.feeSat).toBe(2_000n);
    expect(f.vsize).toBe(anchorChildVsize(c, wallet(50_000n, 20_000n)));
  });
  it('refuses Bob\'s funding key (it cannot spend her anchor; his own anchor is not hers to spend), short change, and a package above --max-fee-rate', () => {
    refusal(() => fundAnchorChild(c, wallet(50_000n, 20_000n), 2_000n, sec(21), guard(c)), 'E_WRONG_SIGNING_KEY', 4);
    refusal(() => fundAnchorChild(c, wallet(2_000n, 1_000n), 2_100n, sec(11), guard(c)), 'E_FEE_PSBT_SHORT', 4);
    refusal(() => fundAnchorChild(c, wallet(50_000n, 20_000n), 40_000n, sec(11), guard(c, 20)), 'E_FEE_TOO_HIGH', 4);
  });
  it('a commitment without her anchor (nothing of hers on it: no to_local, no HTLC): E_NO_ANCHOR', () => {
    refusal(() => fundAnchorChild(commitment(0n, 1_000_000_000n, 10, 20, 'remote'), wallet(50_000n, 20_000n), 2_000n, sec(11), guard(c)), 'E_NO_ANCHOR', 4);
  });
});

describe('property: whatever the balances and keys, the child\'s anchor is the holder\'s own, never the peer\'s', () => {
  it('input 0 pays p2wsh(<local funding pubkey> …), never the remote one\'s anchor', () => {
    fc.assert(fc.property(fc.integer({ min: 100_000, max: 900_000 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 41, max: 80 }), (local, a, b) => {
      const c = commitment(BigInt(local) * 1000n, BigInt(1_000_000 - local) * 1000n, a, b);
      const { input0 } = spentBy(c, sec(a + 1), 1_000n);
      expect(toHex(input0.witnessUtxo!.script)).toBe(toHex(p2wshOf(anchorScriptOf(pointOf(sec(a + 1))))));
      expect(toHex(input0.witnessUtxo!.script)).not.toBe(toHex(p2wshOf(anchorScriptOf(pointOf(sec(b + 1))))));
      refusal(() => spentBy(c, sec(b + 1), 1_000n), 'E_WRONG_SIGNING_KEY', 4);
    }), { numRuns: 40 });
  });
});
