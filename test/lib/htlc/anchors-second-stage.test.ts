/**
 * The anchors second stage (BOLT 3 option_anchors): the HTLC transaction carries no fee,
 * the remote signs SIGHASH_SINGLE|ANYONECANPAY, and the holder adds a wallet's coins and
 * change before signing SIGHASH_ALL. Invariants tested here:
 * - the holder never signs a zero-fee anchors HTLC transaction;
 * - the fee is exactly --fee-rate × the transaction's size once the wallet has signed
 *   (measured here by signing as the wallet with test code), taken from the wallet's change;
 * - the remote's signature stays valid whatever fee inputs are added, and either party
 *   may go first; a PSBT whose HTLC part (input 0 / output 0) differs is refused;
 * - the fee PSBT pays nobody else, and a fee it cannot cover is refused with the shortfall;
 * - the holder signs nothing beyond input 0 / output 0 that its own --fee-psbt did not add:
 *   a PSBT from the remote carrying the holder's coin and an output to the remote is refused
 *   with or without --fee-psbt, and no refusal suggests dropping --fee-psbt.
 * Core accepts and mines the results in test/regtest/htlc.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Transaction, p2wpkh } from '@scure/btc-signer';
import { sha256 } from '@noble/hashes/sha2.js';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { htlcOutput, type HtlcSpec } from '../../../src/lib/htlc/htlc.ts';
import { signSecondStage } from '../../../src/lib/htlc/second-stage.ts';
import { refusal } from '../../setup/refusal.ts';

const secret = (b: number) => new Uint8Array(32).fill(b);
const ALICE = keyPair(secret(0x11)); // the holder: local HTLC key
const BOB = keyPair(secret(0x22)); // the remote HTLC key
const WALLET = keyPair(secret(0x66));
const STRANGER = keyPair(secret(0x77));
const PREIMAGE = sha256(Uint8Array.of(1, 2, 3));
const OUTPOINT = { txid: 'c3'.repeat(32), vout: 0 };
const AMOUNT = 50_000n;
const spec = (kind: 'offered' | 'received', anchors = true): HtlcSpec => ({
  kind, paymentHash: sha256(PREIMAGE), revocationPubkey: keyPair(secret(0x33)).publicKey, localHtlcPubkey: ALICE.publicKey, remoteHtlcPubkey: BOB.publicKey,
  cltvExpiry: 1100, anchors, secondStage: { toSelfDelay: 144, localDelayedPubkey: keyPair(secret(0x44)).publicKey, feeratePerKw: 253 },
});
const walletScript = p2wpkh(WALLET.publicKey).script;
const strangerScript = p2wpkh(STRANGER.publicKey).script;
const DERIVATION = [[WALLET.publicKey, { fingerprint: 0x01020304, path: [0x80000054, 0x80000001, 0x80000000, 1, 7] }]] as never;

/** What `walletcreatefundedpsbt` returns: the wallet's coin, an output to its own address and its change (both BIP-32-marked). */
function walletPsbt(coin = 20_000n, outputs: { script: Uint8Array; amount: bigint; mine?: boolean }[] = [{ script: walletScript, amount: 5_000n }, { script: walletScript, amount: 14_800n }]): Transaction {
  const tx = new Transaction({ version: 2, lockTime: 300 });
  tx.addInput({ txid: 'ab'.repeat(32), index: 1, sequence: 0xfffffffd, witnessUtxo: { script: walletScript, amount: coin }, bip32Derivation: DERIVATION });
  for (const o of outputs) tx.addOutput({ script: o.script, amount: o.amount, ...(o.mine === false ? {} : { bip32Derivation: DERIVATION }) });
  return tx;
}

/** The wallet's step, played by test code: sign its P2WPKH input, finalize, extract. */
function walletSigns(tx: Transaction): Transaction {
  const t = Transaction.fromPSBT(tx.toPSBT(), { allowUnknownOutputs: true });
  for (let i = 1; i < t.inputsLength; i++) {
    t.signIdx(WALLET.secretKey, i);
    t.finalizeIdx(i);
  }
  return Transaction.fromRaw(t.extract(), { allowUnknownOutputs: true });
}

describe('anchors second stage: the holder pays the fee from a wallet', () => {
  for (const kind of ['received', 'offered'] as const) {
    it(`${kind}: remote first (SINGLE|ANYONECANPAY), then the holder with the wallet's coins; the fee is exactly the rate once the wallet signs`, () => {
      const htlc = htlcOutput(spec(kind));
      const preimage = kind === 'received' ? { preimage: PREIMAGE } : {};
      const base = { htlc, outpoint: OUTPOINT, amountSat: AMOUNT };
      const remote = signSecondStage({ ...base, signer: BOB }); // in BOLT 2, with commitment_signed: no preimage yet
      expect(remote.missing).toEqual(kind === 'received' ? ['local_htlc', 'preimage', 'fee_input'] : ['local_htlc', 'fee_input']);
      const [, remoteSig] = remote.tx.getInput(0).partialSig![0]!;
      expect(remoteSig.at(-1)).toBe(0x83);
      expect(remote.tx.getOutput(0).amount).toBe(AMOUNT); // zero fee: the HTLC passes whole

      for (const feeRate of [1, 2.5, 25]) {
        const holder = signSecondStage({ ...base, signer: ALICE, ...preimage, psbt: Transaction.fromPSBT(remote.tx.toPSBT(), { allowUnknownOutputs: true }), feeWallet: walletPsbt(), feeRate });
        expect(holder.missing).toEqual(['wallet_signatures']);
        expect(holder.tx.getInput(0).finalScriptWitness).toBeDefined();
        expect(holder.tx.lockTime).toBe(kind === 'offered' ? 1100 : 0);
        expect(holder.tx.getInput(0).sequence).toBe(1);
        const signed = walletSigns(holder.tx);
        expect(signed.id).toBe(holder.txid);
        const fee = 20_000n - (signed.getOutput(1).amount! + signed.getOutput(2).amount!);
        expect(fee).toBe(holder.feeSat);
        // At least the rate for the real size (our estimate uses 73-byte signatures), at most 2 vB over.
        expect(Number(fee)).toBeGreaterThanOrEqual(Math.ceil(signed.vsize * feeRate));
        expect(Number(fee)).toBeLessThanOrEqual(Math.ceil((signed.vsize + 2) * feeRate));
        // Only the larger change output paid it; the other is as the wallet made it.
        expect(signed.getOutput(1).amount).toBe(5_000n);
      }
    });
  }

  it('holder first (wallet coins and SIGHASH_ALL), then the remote completes input 0', () => {
    const htlc = htlcOutput(spec('received'));
    const base = { htlc, outpoint: OUTPOINT, amountSat: AMOUNT };
    const holder = signSecondStage({ ...base, signer: ALICE, feeWallet: walletPsbt(), feeRate: 2 });
    expect(holder.missing).toEqual(['remote_htlc', 'preimage', 'wallet_signatures']);
    const remote = signSecondStage({ ...base, signer: BOB, preimage: PREIMAGE, psbt: holder.tx });
    expect(remote.missing).toEqual(['wallet_signatures']);
    expect(remote.feeSat).toBe(holder.feeSat);
    expect(remote.tx.getInput(0).finalScriptWitness?.length).toBe(5);
  });

  it('refusals: a zero-fee holder signature, a fee PSBT from the remote or on a legacy HTLC, a stranger paid, a short wallet, another HTLC part', () => {
    const htlc = htlcOutput(spec('received'));
    const base = { htlc, outpoint: OUTPOINT, amountSat: AMOUNT };
    refusal(() => signSecondStage({ ...base, signer: ALICE }), 'E_ANCHORS_FEE_INPUT', 4);
    refusal(() => signSecondStage({ ...base, signer: BOB, feeWallet: walletPsbt(), feeRate: 2 }), 'E_USAGE', 2);
    refusal(() => signSecondStage({ ...base, htlc: htlcOutput(spec('received', false)), signer: ALICE, feeWallet: walletPsbt(), feeRate: 2 }), 'E_USAGE', 2);
    refusal(() => signSecondStage({ ...base, signer: ALICE, feeWallet: walletPsbt(20_000n, [{ script: strangerScript, amount: 19_000n, mine: false }]), feeRate: 2 }), 'E_FEE_PSBT_OUTPUT', 4);
    refusal(() => signSecondStage({ ...base, signer: ALICE, feeWallet: walletPsbt(700n, [{ script: walletScript, amount: 600n }]), feeRate: 2 }), 'E_FEE_PSBT_SHORT', 4);
    const funded = signSecondStage({ ...base, signer: ALICE, feeWallet: walletPsbt(), feeRate: 2 });
    refusal(() => signSecondStage({ ...base, signer: ALICE, psbt: funded.tx, feeWallet: walletPsbt(), feeRate: 2 }), 'E_FOREIGN_INPUT', 4);
    const selfSpend = walletPsbt();
    selfSpend.updateInput(0, { txid: OUTPOINT.txid, index: OUTPOINT.vout }, true);
    refusal(() => signSecondStage({ ...base, signer: ALICE, feeWallet: selfSpend, feeRate: 2 }), 'E_FEE_PSBT_INPUT', 4);
    const other = signSecondStage({ ...base, outpoint: { ...OUTPOINT, vout: 1 }, signer: BOB });
    refusal(() => signSecondStage({ ...base, signer: ALICE, psbt: other.tx, feeWallet: walletPsbt(), feeRate: 2 }), 'E_PSBT_MISMATCH', 4);
  });

  it('the fee guard on the wallet\'s fee input (issue 24, as commitment finalize --fee-psbt): a fee above --max-fee-share of the wallet\'s coin, or a rate above --max-fee-rate, is refused E_FEE_TOO_HIGH before anything is signed', () => {
    const htlc = htlcOutput(spec('received'));
    const base = { htlc, outpoint: OUTPOINT, amountSat: AMOUNT, signer: ALICE, preimage: PREIMAGE };
    // 40 sat/vB on a ~300 vB transaction: over 12,000 sat of the wallet's 20,000 sat coin, above half of it (change still above dust).
    const e = refusal(() => signSecondStage({ ...base, feeWallet: walletPsbt(), feeRate: 40 }), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toContain('--max-fee-share 0.5');
    refusal(() => signSecondStage({ ...base, feeWallet: walletPsbt(), feeRate: 11, feeLimits: { maxFeeRate: 10, maxFeeShare: 0.5 } }), 'E_FEE_TOO_HIGH', 4);
    // Raised on purpose, the same fee goes through: the fee (wallet coin less every change output) is over half the coin.
    const paid = signSecondStage({ ...base, feeWallet: walletPsbt(), feeRate: 40, feeLimits: { maxFeeRate: 10_000, maxFeeShare: 0.9 } });
    let change = 0n;
    for (let i = 1; i < paid.tx.outputsLength; i++) change += paid.tx.getOutput(i).amount!;
    expect(20_000n - change).toBeGreaterThan(10_000n);
  });

  /** The remote's PSBT with extras: one of the holder's wallet coins (input) and/or an output paying the remote. */
  function slipped(remotePsbt: Transaction, parts: { input?: boolean; output?: boolean }): Transaction {
    const t = Transaction.fromPSBT(remotePsbt.toPSBT(), { allowUnknownOutputs: true });
    if (parts.input) t.addInput({ txid: 'ab'.repeat(32), index: 1, sequence: 0xfffffffd, witnessUtxo: { script: walletScript, amount: 20_000n }, bip32Derivation: DERIVATION });
    if (parts.output) t.addOutput({ script: strangerScript, amount: 19_000n });
    return t;
  }

  for (const kind of ['received', 'offered'] as const) {
    it(`${kind}: the holder never signs a remote PSBT that slips in inputs or outputs (E_FOREIGN_INPUT / E_FEE_PSBT_OUTPUT), with or without --fee-psbt`, () => {
      const htlc = htlcOutput(spec(kind));
      const preimage = kind === 'received' ? { preimage: PREIMAGE } : {};
      const base = { htlc, outpoint: OUTPOINT, amountSat: AMOUNT };
      const remote = signSecondStage({ ...base, signer: BOB });
      const attacks = [
        [{ input: true, output: true }, 'E_FOREIGN_INPUT'],
        [{ input: true }, 'E_FOREIGN_INPUT'],
        [{ output: true }, 'E_FEE_PSBT_OUTPUT'],
      ] as const;
      for (const [parts, code] of attacks) {
        for (const withFee of [true, false]) {
          const psbt = slipped(remote.tx, parts);
          const e = refusal(() => signSecondStage({ ...base, signer: ALICE, ...preimage, psbt, ...(withFee ? { feeWallet: walletPsbt(), feeRate: 2 } : {}) }), code, 4);
          expect(e.message).not.toMatch(/without --fee-psbt|drop --fee-psbt|already has its fee/);
          // Nothing was signed into the PSBT the attacker handed over.
          expect(psbt.getInput(0).partialSig?.length).toBe(1);
        }
      }
      // The honest remote PSBT is still signed with the holder's own coins.
      const ok = signSecondStage({ ...base, signer: ALICE, ...preimage, psbt: remote.tx, feeWallet: walletPsbt(), feeRate: 2 });
      expect(ok.missing).toEqual(['wallet_signatures']);
    });
  }
});
