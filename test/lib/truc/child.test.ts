/**
 * The child builder (src/lib/truc/child.ts): what it spends, whom it pays, and the fee it
 * leaves, on hand-built parents (build.ts) and wallet PSBTs made here the way
 * walletcreatefundedpsbt makes them (witness_utxo on inputs, BIP-32 derivations on the
 * wallet's outputs). Sizes of the stand-in child come from the independent reader
 * (test/independent/tx.ts); the regtest proof with a real wallet is
 * test/regtest/truc-child.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { buildChild, type ChildRequest } from '../../../src/lib/truc/child.ts';
import { INCREMENTAL_RELAY_FEE_RATE } from '../../../src/lib/tx/policy.ts';
import { CORE_POLICY, type Prevout } from '../../../src/lib/truc/check.ts';
import { DEFAULT_FEE_LIMITS } from '../../../src/lib/tx/fee-guard.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANYONE, P2A, buildTx, spendAnchor, spendAnyone, type Built } from './build.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { publicKeyOf, taggedHash } from '../../independent/secp256k1.ts';

const XKEY = publicKeyOf(new Uint8Array(32).fill(5)).subarray(1);
const XLEAF = publicKeyOf(new Uint8Array(32).fill(6)).subarray(1);
/** BIP-341's unspendable H. */
const NUMS = Uint8Array.from(Buffer.from('50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0', 'hex'));

const COIN = { txid: 'aa'.repeat(32), vout: 0, amount: 100_000n };
const PREVOUTS: Prevout[] = [{ ...COIN, script: ANYONE }];
const KEY = Uint8Array.from(Buffer.from('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'));
const P2WPKH = Uint8Array.from(Buffer.from('0014751e76e8199196d454941c45d1b3a323f1433bd6', 'hex'));
const STRANGER = Uint8Array.from(Buffer.from('0014' + '11'.repeat(20), 'hex'));
const derivation = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 1, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];

const zeroFeeParent = (version = 3): Built => buildTx(version, [spendAnyone(COIN.txid, COIN.vout)], [{ amount: COIN.amount, script: ANYONE }, { amount: 0n, script: P2A }]);

/** walletcreatefundedpsbt's shape: P2WPKH coins, outputs marked as the wallet's unless `stranger`. */
function wallet(coins: bigint[], outputs: { amount: bigint; stranger?: boolean }[], firstTxid = 'bb'): Transaction {
  const w = new Transaction({ version: 2 });
  coins.forEach((amount, i) => w.addInput({ txid: firstTxid.repeat(32), index: i, witnessUtxo: { script: P2WPKH, amount }, bip32Derivation: derivation(i) }));
  outputs.forEach((o, i) => w.addOutput({ script: o.stranger ? STRANGER : P2WPKH, amount: o.amount, ...(o.stranger ? {} : { bip32Derivation: derivation(100 + i) }) }));
  return w;
}
const request = (over: Partial<ChildRequest> = {}): ChildRequest => ({
  parent: zeroFeeParent().raw, parentPrevouts: PREVOUTS, wallet: wallet([50_000n], [{ amount: 40_000n }]), feeRate: 5, feeLimits: DEFAULT_FEE_LIMITS, policy: CORE_POLICY, ...over,
});

describe('buildChild', () => {
  it('spends the parent\'s anchor (no witness data yet) and the wallet\'s coin, pays only the wallet, v3, RBF-signalling', () => {
    const parent = zeroFeeParent();
    const b = buildChild(request({ parent: parent.raw }));
    expect(b.psbt.version).toBe(3);
    expect(b.psbt.inputsLength).toBe(2);
    const anchor = b.psbt.getInput(0);
    expect(Buffer.from(anchor.txid!).toString('hex')).toBe(parent.parsed.txid);
    expect(anchor.index).toBe(1);
    expect(anchor.witnessUtxo).toEqual({ script: P2A, amount: 0n });
    expect(anchor.finalScriptWitness).toBeUndefined();
    expect(b.psbt.getInput(1).bip32Derivation).toEqual(derivation(0)); // what walletprocesspsbt signs with
    expect(b.psbt.outputsLength).toBe(1);
    expect(b.psbt.getOutput(0).script).toEqual(P2WPKH);
    expect(b.psbt.getOutput(0).bip32Derivation).toEqual(derivation(100));
    expect(b.verdict.spent_parent_outputs).toEqual([1]);
    // Everything the wallet brings, less the fee, goes back to it.
    expect(b.psbt.getOutput(0).amount).toBe(50_000n - b.childFee);
  });

  it('property: the package pays --fee-rate on the child\'s largest size, never less and less than one sat more', () => {
    fc.assert(fc.property(fc.integer({ min: 100, max: 200_000 }), fc.array(fc.integer({ min: 20_000, max: 1_000_000 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 3 }), (milli, coins, outs) => {
      const feeRate = milli / 1000;
      const total = coins.reduce((a, b) => a + b, 0);
      const outputs = Array.from({ length: outs }, (_, i) => ({ amount: BigInt(Math.floor(total / (outs + 1))) + BigInt(i) }));
      let b;
      try {
        b = buildChild(request({ feeRate, wallet: wallet(coins.map(BigInt), outputs) }));
      } catch (e) {
        // Only a short wallet may refuse; checked exactly in its own test.
        expect((e as { code?: string }).code).toBe('E_WALLET_PSBT_SHORT');
        return;
      }
      const needed = Math.ceil(feeRate * b.verdict.package.vsize);
      expect(Number(b.verdict.package.fee)).toBeGreaterThanOrEqual(needed);
      expect(Number(b.verdict.package.fee)).toBeLessThanOrEqual(needed + 1);
      // Value kept: the wallet's coins = its outputs + the fee (the parent's anchor carries 0).
      let outSum = 0n;
      for (let i = 0; i < b.psbt.outputsLength; i++) outSum += b.psbt.getOutput(i).amount!;
      expect(outSum + b.childFee).toBe(BigInt(total));
    }), { numRuns: 150 });
  });

  it('refuses a wallet PSBT paying anyone but the wallet (E_WALLET_PSBT_OUTPUT, exit 4)', () => {
    refusal(() => buildChild(request({ wallet: wallet([50_000n], [{ amount: 10_000n, stranger: true }, { amount: 30_000n }]) })), 'E_WALLET_PSBT_OUTPUT', 4);
  });

  it('issue 37 finding 7: refuses an output marked with a derivation whose key does not make its script (a stranger behind the wallet\'s mark)', () => {
    // The stranger's P2WPKH, carrying the wallet's BIP-32 record for KEY: a record is present, its key pays elsewhere.
    const marked = new Transaction({ version: 2 });
    marked.addInput({ txid: 'bb'.repeat(32), index: 0, witnessUtxo: { script: P2WPKH, amount: 50_000n }, bip32Derivation: derivation(0) });
    marked.addOutput({ script: STRANGER, amount: 40_000n, bip32Derivation: derivation(100) });
    const e = refusal(() => buildChild(request({ wallet: marked })), 'E_WALLET_PSBT_OUTPUT', 4);
    expect(e.message).toContain(`pays ${Buffer.from(STRANGER).toString('hex')}`);
  });

  it('review of issue 37: a wallet coin that is a taproot output with a script tree (Core\'s tr(K,{…}) wallet) is spent by its key path — its merkle root travels with it (before: E_INTERNAL, exit 1); one whose internal key is not the wallet\'s (H: script path only) cannot be sized: E_WALLET_PSBT_INPUT, exit 4', () => {
    const leaf = Uint8Array.from([0x20, ...XLEAF, 0xac]);
    const root = taggedHash('TapLeaf', Uint8Array.of(0xc0, leaf.length), leaf);
    const tr = (internal: Uint8Array, withRecord: boolean) => {
      const w = new Transaction({ version: 2 });
      w.addInput({
        txid: 'cc'.repeat(32), index: 0, witnessUtxo: { script: taprootOutput(internal, root).script, amount: 50_000n }, tapInternalKey: internal, tapMerkleRoot: root,
        tapBip32Derivation: [...(withRecord ? [[internal, { hashes: [], der: { fingerprint: 1, path: [1] } }]] : []), [XLEAF, { hashes: [root], der: { fingerprint: 1, path: [2] } }]] as never,
      });
      w.addOutput({ script: P2WPKH, amount: 40_000n, bip32Derivation: derivation(100) });
      return w;
    };
    const b = buildChild(request({ wallet: tr(XKEY, true) }));
    expect(b.psbt.getInput(1).tapMerkleRoot).toEqual(root); // what walletprocesspsbt tweaks the key with
    // Sized at a key-path spend: the anchor (41 vB and its empty witness's count byte), the coin (41 + 66/4 vB),
    // one P2WPKH output (31 vB), 10.5 vB of overhead.
    expect(b.vsize).toBe(Math.ceil(10.5 + 41.25 + 57.5 + 31));
    refusal(() => buildChild(request({ wallet: tr(NUMS, false) })), 'E_WALLET_PSBT_INPUT', 4);
    refusal(() => buildChild(request({ wallet: tr(NUMS, true) })), 'E_WALLET_PSBT_INPUT', 4); // Core records H as a key with no leaf
  });

  it('refuses a v2 parent (E_TRUC_VERSION), a parent without an anchor unless --spend names an output (E_TRUC_NO_ANCHOR), a --spend out of range', () => {
    refusal(() => buildChild(request({ parent: zeroFeeParent(2).raw })), 'E_TRUC_VERSION', 4);
    const noAnchor = buildTx(3, [spendAnyone(COIN.txid, COIN.vout)], [{ amount: COIN.amount - 200n, script: P2WPKH }]);
    refusal(() => buildChild(request({ parent: noAnchor.raw })), 'E_TRUC_NO_ANCHOR', 2);
    refusal(() => buildChild(request({ parent: noAnchor.raw, spend: [1] })), 'E_TRUC_NO_SUCH_OUTPUT', 2);
    // An anyone-can-spend P2WSH cannot be sized before signing: not a child input we build.
    refusal(() => buildChild(request({ spend: [0] })), 'E_TRUC_CHILD_INPUT', 4);
    // A script path asked for the anchor (P2A, not taproot): no such spend of it — the same refusal (was exit 2).
    refusal(() => buildChild(request({ scriptPathWitness: new Map([[1, [64]]]) })), 'E_TRUC_CHILD_INPUT', 4);
    expect(buildChild(request({ parent: noAnchor.raw, spend: [0] })).verdict.spent_parent_outputs).toEqual([0]);
  });

  it('refuses a wallet coin the parent spends (E_TRUC_CONFLICT; described otherwise than the parent\'s prevout: E_TRUC_PREVOUT_CONFLICT), and a wallet too short for the fee (E_WALLET_PSBT_SHORT)', () => {
    const w = new Transaction({ version: 2 });
    w.addInput({ txid: COIN.txid, index: COIN.vout, witnessUtxo: { script: P2WPKH, amount: COIN.amount }, bip32Derivation: derivation(0) });
    w.addOutput({ script: P2WPKH, amount: 90_000n, bip32Derivation: derivation(1) });
    refusal(() => buildChild(request({ wallet: w })), 'E_TRUC_PREVOUT_CONFLICT', 2);
    // A parent spending a P2WPKH coin (witness shaped like a signature: the checker does not verify it), the wallet offering the same coin.
    const parent = buildTx(3, [{ txid: COIN.txid, vout: COIN.vout, witness: [new Uint8Array(72), KEY] }], [{ amount: COIN.amount, script: ANYONE }, { amount: 0n, script: P2A }]);
    const e = refusal(() => buildChild(request({ parent: parent.raw, parentPrevouts: [{ ...COIN, script: P2WPKH }], wallet: w })), 'E_TRUC_CONFLICT', 4);
    expect(e.message).toContain('conflict-in-package');
    refusal(() => buildChild(request({ wallet: wallet([1_000n], [{ amount: 900n }]) })), 'E_WALLET_PSBT_SHORT', 4);
  });

  it('the fee guard: a --fee-rate above --max-fee-rate, or a fee above --max-fee-share of what the wallet moves (E_FEE_TOO_HIGH)', () => {
    refusal(() => buildChild(request({ feeRate: 11, feeLimits: { maxFeeRate: 10, maxFeeShare: 0.5 } })), 'E_FEE_TOO_HIGH', 4);
    // 260 vB at 100 sat/vB = 26,000 sat out of a 50,000 sat coin: over a 0.5 share.
    refusal(() => buildChild(request({ feeRate: 100 })), 'E_FEE_TOO_HIGH', 4);
  });

  it('shareOfSat (a watcher\'s wallet child bumping a coin it does not pay from): --max-fee-share is of that coin, not of the fee coin', () => {
    // 26,000 sat of fee from a 50,000 sat fee coin is over a 0.5 share of what the child moves — but a tenth of a 260,000 sat coin.
    const limits = { maxFeeRate: 1_000, maxFeeShare: 0.1 };
    refusal(() => buildChild(request({ feeRate: 100, feeLimits: limits })), 'E_FEE_TOO_HIGH', 4);
    const b = buildChild(request({ feeRate: 100, feeLimits: limits, shareOfSat: 300_000n }));
    expect(Number(b.childFee)).toBeLessThanOrEqual(30_000);
    // And the share still bounds it: the same fee over a 0.1 share of a 200,000 sat coin is refused.
    const e = refusal(() => buildChild(request({ feeRate: 100, feeLimits: limits, shareOfSat: 200_000n })), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toContain('of the 200000 sat');
  });

  it('property: with shareOfSat, the child is built exactly when its fee is within the share of that coin (and the rate limit)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 10_000, max: 2_000_000 }), (feeRate, coin) => {
      const limits = { maxFeeRate: 1_000, maxFeeShare: 0.1 };
      let b;
      try {
        b = buildChild(request({ feeRate, feeLimits: limits, wallet: wallet([60_000n], [{ amount: 40_000n }]), shareOfSat: BigInt(coin) }));
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'E_WALLET_PSBT_SHORT') return; // the fee coin itself too small: its own test
        expect(code).toBe('E_FEE_TOO_HIGH');
        // Refused only if the fee at this rate is really above a tenth of the coin.
        expect(Math.ceil(feeRate * 250)).toBeGreaterThan(coin * 0.1 * 0.9);
        return;
      }
      expect(Number(b.childFee)).toBeLessThanOrEqual(coin * 0.1);
    }), { numRuns: 300 });
  });

  it('refuses a child over 1,000 vB with Core\'s reason (E_TRUC_CHILD_TOO_BIG): 14 P2WPKH coins fit, 15 do not', () => {
    const many = (n: number) => wallet(Array.from({ length: n }, () => 10_000n), [{ amount: 1_000n }]);
    expect(buildChild(request({ wallet: many(13) })).verdict.child.vsize).toBeLessThanOrEqual(1_000);
    const e = refusal(() => buildChild(request({ wallet: many(15) })), 'E_TRUC_CHILD_TOO_BIG', 4);
    expect(e.message).toContain('TRUC-violation, version=3 child tx');
  });

  it('--replaces: the new child pays the earlier one\'s fee plus 0.1 sat/vB of its own size, even when the rate alone asks less', () => {
    const parent = zeroFeeParent();
    // The earlier child, signed (test code): anchor + an anyone-can-spend coin of 20,000 sat, paying 3,000 sat.
    const earlier = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone('cc'.repeat(32), 0)], [{ amount: 17_000n, script: ANYONE }]);
    const b = buildChild(request({ parent: parent.raw, feeRate: 1, replaces: { raw: earlier.raw, prevouts: [{ txid: 'cc'.repeat(32), vout: 0, amount: 20_000n, script: ANYONE }] } }));
    expect(b.replaces).toEqual({ txid: earlier.parsed.txid, fee: 3_000n });
    expect(b.childFee).toBe(3_000n + BigInt(Math.ceil((INCREMENTAL_RELAY_FEE_RATE * b.verdict.child.vsize) / 1000)));
  });
});
