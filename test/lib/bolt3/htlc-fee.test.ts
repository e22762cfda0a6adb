/**
 * The fee-input path of a zero-fee HTLC transaction (src/lib/bolt3/htlc-fee.ts, `commitment
 * finalize --fee-psbt`): the wallet's coins and change added after BOLT 3's input 0 /
 * output 0, the holder's SIGHASH_ALL signature over the whole, the peer's SINGLE|
 * ANYONECANPAY one still valid; refusals with their codes. Signatures are checked here with
 * the library's verifier over a transaction this test assembles; Core's script interpreter
 * checks them in test/regtest/bolt3.test.ts ("a zero-fee channel by the CLI").
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import {
  ZERO_FEE, buildCommitment, buildHtlcTransactions, derivePrivkey, generateFromSeed, perCommitmentPoint, pointOf, signHtlcTransaction, verifyHtlcSignature, compactFromDer,
} from '../../../src/lib/bolt3/index.ts';
import { fundHtlcTransaction } from '../../../src/lib/bolt3/htlc-fee.ts';
import { DEFAULT_FEE_LIMITS } from '../../../src/lib/tx/fee-guard.ts';
import { refusal } from '../../setup/refusal.ts';

const sec = (b: number) => new Uint8Array(32).fill(b);
const party = (o: number) => ({ fundingPubkey: pointOf(sec(o + 1)), revocationBasepoint: pointOf(sec(o + 2)), paymentBasepoint: pointOf(sec(o + 3)), delayedPaymentBasepoint: pointOf(sec(o + 4)), htlcBasepoint: pointOf(sec(o + 5)) });
const pcp = perCommitmentPoint(generateFromSeed(sec(9), 2 ** 48 - 1));
const preimage = sec(0x42);
const c = buildCommitment(
  { format: ZERO_FEE, fundingOutpoint: { txid: '89'.repeat(32), vout: 0 }, fundingSatoshis: 1_000_000n, opener: 'local', local: party(10), remote: party(20), toSelfDelay: 6, dustLimitSatoshis: 546n },
  { commitmentNumber: 0, perCommitmentPoint: pcp, toLocalMsat: 610_000_000n, toRemoteMsat: 350_000_000n, feeratePerKw: 0, htlcs: [{ direction: 'received', amountMsat: 40_000_000n, paymentHash: createHash('sha256').update(preimage).digest(), cltvExpiry: 500 }] },
);
const h = buildHtlcTransactions(c)[0]!;
const localKey = derivePrivkey(sec(15), pcp);
const remoteSig = signHtlcTransaction(h, derivePrivkey(sec(25), pcp), 'remote');
const KEY = pointOf(sec(0x55));
const P2WPKH = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(0x66)]);
const mark = (i: number) => [[KEY, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
function wallet(coins: bigint[], outputs: { amount: bigint; stranger?: boolean }[]): Transaction {
  const w = new Transaction({ version: 2 });
  coins.forEach((amount, i) => w.addInput({ txid: 'cd'.repeat(32), index: i, witnessUtxo: { script: P2WPKH, amount }, bip32Derivation: mark(i) }));
  outputs.forEach((o, i) => w.addOutput({ script: o.stranger ? Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(1)]) : P2WPKH, amount: o.amount, ...(o.stranger ? {} : { bip32Derivation: mark(50 + i) }) }));
  return w;
}

describe('fundHtlcTransaction', () => {
  it('adds the wallet\'s coin and change after input 0 / output 0, pays the rate on the largest size, and signs ALL over the whole; the peer\'s signature still holds', () => {
    const f = fundHtlcTransaction(h, wallet([30_000n], [{ amount: 25_000n }]), 4, DEFAULT_FEE_LIMITS, localKey, remoteSig, preimage);
    const psbt = Transaction.fromPSBT(base64.decode(f.psbt), { allowUnknownOutputs: true });
    expect([psbt.version, psbt.lockTime, psbt.inputsLength, psbt.outputsLength]).toEqual([3, h.tx.lockTime, 2, 2]);
    expect(psbt.getOutput(0)).toMatchObject({ amount: h.tx.outputs[0]!.amount });
    expect(psbt.getOutput(1).amount).toBe(30_000n - f.feeSat);
    expect(f.feeSat).toBe(BigInt(Math.ceil(4 * f.vsize)));
    expect(psbt.getOutput(1).bip32Derivation).toEqual(mark(50));
    // Input 0's witness: 0, remote sig (SINGLE|ACP), local sig (ALL), preimage, witness script.
    const w = psbt.getInput(0).finalScriptWitness!;
    expect(w.length).toBe(5);
    expect(w[1]![w[1]!.length - 1]).toBe(0x83);
    expect(w[2]![w[2]!.length - 1]).toBe(0x01);
    expect(w[3]).toEqual(preimage);
    // The local signature verifies over the funded transaction (inputs and outputs as in the PSBT), not over BOLT 3's bare one.
    const funded = { ...h, tx: { ...h.tx, inputs: [h.tx.inputs[0]!, { txid: 'cd'.repeat(32), vout: 0, sequence: psbt.getInput(1).sequence! }], outputs: [h.tx.outputs[0]!, { amount: 30_000n - f.feeSat, script: P2WPKH }] } };
    const local = w[2]!.subarray(0, -1);
    expect(verifyHtlcSignature(funded, local, 'local')).toBe(true);
    expect(verifyHtlcSignature(h, local, 'local')).toBe(false);
    expect(verifyHtlcSignature(funded, w[1]!.subarray(0, -1), 'remote')).toBe(true);
    expect(compactFromDer(local).length).toBe(64);
  });

  it('refuses a stranger\'s output (E_FEE_PSBT_OUTPUT), no coins, short change, the HTLC output itself, and the fee guard', () => {
    refusal(() => fundHtlcTransaction(h, wallet([30_000n], [{ amount: 5_000n, stranger: true }, { amount: 20_000n }]), 4, DEFAULT_FEE_LIMITS, localKey, remoteSig, preimage), 'E_FEE_PSBT_OUTPUT', 4);
    refusal(() => fundHtlcTransaction(h, wallet([], [{ amount: 1_000n }]), 4, DEFAULT_FEE_LIMITS, localKey, remoteSig, preimage), 'E_FEE_PSBT_INPUT', 4);
    refusal(() => fundHtlcTransaction(h, wallet([1_000n], [{ amount: 900n }]), 4, DEFAULT_FEE_LIMITS, localKey, remoteSig, preimage), 'E_FEE_PSBT_SHORT', 4);
    refusal(() => fundHtlcTransaction(h, wallet([30_000n], [{ amount: 25_000n }]), 40, { maxFeeRate: 20, maxFeeShare: 0.5 }, localKey, remoteSig, preimage), 'E_FEE_TOO_HIGH', 4);
    const own = new Transaction({ version: 2 });
    own.addInput({ txid: h.tx.inputs[0]!.txid, index: h.tx.inputs[0]!.vout, witnessUtxo: { script: P2WPKH, amount: 40_000n }, bip32Derivation: mark(0) });
    own.addOutput({ script: P2WPKH, amount: 30_000n, bip32Derivation: mark(1) });
    refusal(() => fundHtlcTransaction(h, own, 4, DEFAULT_FEE_LIMITS, localKey, remoteSig, preimage), 'E_FEE_PSBT_INPUT', 4);
  });
});
