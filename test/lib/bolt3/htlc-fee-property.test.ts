/**
 * INVARIANTS of the fee input of an anchors HTLC transaction (src/lib/bolt3/htlc-fee.ts, the
 * watcher's and `commitment finalize --fee-psbt`'s), over BOLT 3 Appendix F's own HTLC
 * transactions and the peer's signatures the spec prints: whatever coins and change the wallet
 * gives and whatever rate within the budget, input 0 and output 0 stay the spec's (version,
 * locktime, outpoint, nSequence, script, amount), so the spec's SINGLE|ANYONECANPAY signature
 * still verifies over the funded transaction; ours is SIGHASH_ALL over the whole; the fee is the
 * rate on the largest signed size, within --max-fee-rate, taken from the wallet's change only.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { buildCommitment } from '../../../src/lib/bolt3/commitment.ts';
import { ANCHORS } from '../../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../../src/lib/bolt3/htlc-tx.ts';
import { verifyHtlcSignature } from '../../../src/lib/bolt3/sign.ts';
import { fundHtlcTransaction } from '../../../src/lib/bolt3/htlc-fee.ts';
import { pointOf } from '../../../src/lib/bolt3/keys.ts';
import { F, channel, htlcIndicesFor, preimages, secrets, state } from './appendix-c.ts';

type Case = { Name: string; LocalBalance: number; RemoteBalance: number; DustLimitSatoshis: number; FeePerKw: number; UseTestHtlcs: boolean; HtlcDescs: { RemoteSigHex: string; ResolutionTxHex: string }[] };
const withHtlcs = (F.test_vectors as Case[]).filter((c) => c.HtlcDescs.length > 0);
const stages = withHtlcs.flatMap((c) => {
  const htlcTxs = buildHtlcTransactions(buildCommitment(channel(ANCHORS, BigInt(c.DustLimitSatoshis)), state(BigInt(c.LocalBalance), BigInt(c.RemoteBalance), c.FeePerKw, htlcIndicesFor(c.Name, c.UseTestHtlcs))));
  return c.HtlcDescs.map((d, i) => ({ name: `${c.Name} #${i}`, h: htlcTxs[i]!, remote: fromHex(d.RemoteSigHex), spec: Transaction.fromRaw(fromHex(d.ResolutionTxHex), { allowUnknownOutputs: true }) }));
});

const KEY = pointOf(new Uint8Array(32).fill(0x55));
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
const P2WPKH = (b: number) => Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(b)]);
const LIMITS = { maxFeeRate: 50, maxFeeShare: 0.5 };

const walletArb = fc.record({
  coins: fc.array(fc.bigInt({ min: 100_000n, max: 5_000_000_000n }), { minLength: 1, maxLength: 3 }),
  pay: fc.bigInt({ min: 1_000n, max: 20_000n }),
  rate: fc.double({ min: 1, max: LIMITS.maxFeeRate, noNaN: true }),
  stage: fc.integer({ min: 0, max: stages.length - 1 }),
});

describe('INVARIANTS: an anchors HTLC transaction given a wallet\'s fee input (Appendix F\'s transactions and signatures)', () => {
  it(`${stages.length} HTLC transactions: the spec's parts untouched, the peer's SINGLE|ANYONECANPAY signature still valid, ours ALL, the fee the rate within the budget from the wallet's change`, () => {
    fc.assert(fc.property(walletArb, ({ coins, pay, rate, stage }) => {
      const { h, remote, spec } = stages[stage]!;
      const w = new Transaction({ version: 2 });
      coins.forEach((amount, i) => w.addInput({ txid: 'cd'.repeat(32), index: i, witnessUtxo: { script: P2WPKH(0x66), amount }, bip32Derivation: mark(i) }));
      const moved = coins.reduce((a, b) => a + b, 0n);
      w.addOutput({ script: P2WPKH(0x67), amount: pay, bip32Derivation: mark(50) });
      w.addOutput({ script: P2WPKH(0x68), amount: moved - pay - 500n, bip32Derivation: mark(51) });
      const preimage = h.kind === 'htlc-success' ? preimages.find((p) => toHex(createHash('sha256').update(p).digest()) === toHex(h.htlc.paymentHash)) : undefined;
      const f = fundHtlcTransaction(h, w, rate, LIMITS, secrets.localHtlcPrivkey, remote, preimage);
      const psbt = Transaction.fromPSBT(base64.decode(f.psbt), { allowUnknownOutputs: true });
      // The spec's parts.
      expect([psbt.version, psbt.lockTime]).toEqual([spec.version, spec.lockTime]);
      expect([toHex(psbt.getInput(0).txid!), psbt.getInput(0).index, psbt.getInput(0).sequence]).toEqual([toHex(spec.getInput(0).txid!), spec.getInput(0).index, spec.getInput(0).sequence]);
      expect([toHex(psbt.getOutput(0).script!), psbt.getOutput(0).amount]).toEqual([toHex(spec.getOutput(0).script!), spec.getOutput(0).amount]);
      // The funded transaction as the signatures commit to it.
      const tx = {
        version: psbt.version, lockTime: psbt.lockTime,
        inputs: Array.from({ length: psbt.inputsLength }, (_, i) => ({ txid: toHex(psbt.getInput(i).txid!), vout: psbt.getInput(i).index!, sequence: psbt.getInput(i).sequence! })),
        outputs: Array.from({ length: psbt.outputsLength }, (_, i) => ({ script: psbt.getOutput(i).script!, amount: psbt.getOutput(i).amount! })),
      };
      const witness = psbt.getInput(0).finalScriptWitness!;
      expect(toHex(witness[1]!)).toBe(`${toHex(remote)}83`);
      expect(witness[2]![witness[2]!.length - 1]).toBe(0x01);
      expect(verifyHtlcSignature({ ...h, tx }, witness[1]!.subarray(0, -1), 'remote')).toBe(true);
      expect(verifyHtlcSignature({ ...h, tx }, witness[2]!.subarray(0, -1), 'local')).toBe(true);
      // The fee: the rate on the size sized, never above the budget, paid by the wallet's coins alone.
      const out = tx.outputs.reduce((a, o) => a + o.amount, 0n);
      expect(h.spentAmountSat + moved - out).toBe(f.feeSat);
      expect(f.feeSat).toBe(BigInt(Math.ceil(rate * f.vsize)));
      expect(Number(f.feeSat)).toBeLessThanOrEqual(Math.ceil(LIMITS.maxFeeRate * f.vsize));
      expect(tx.outputs[0]!.amount).toBe(h.spentAmountSat);
    }), { numRuns: 60 });
  });
});
