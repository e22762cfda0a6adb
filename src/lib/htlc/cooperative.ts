/**
 * The taproot HTLC's cooperative spend: payer and recipient sign the key path together
 * (MuSig2 on the aggregate internal key, tweaked with the script tree's Merkle root).
 * Used when both agree — the recipient has been paid off-chain, or both want the coins
 * moved early — and it looks on chain like any single-key taproot spend.
 *
 * This only builds the unsigned PSBT with the BIP-371/BIP-373 fields set (internal key,
 * Merkle root, participants); the signing is the existing `musig nonce` / `musig sign`
 * / `psbt finalize` flow, which checks that the output is this key's.
 */
import { Transaction } from '@scure/btc-signer';
import { RefusedError } from '../errors.ts';
import type { FeeLimits } from '../tx/fee-guard.ts';
import { setMusigParticipants } from '../musig/psbt-keypath.ts';
import type { HtlcOutput } from './htlc.ts';
import { SEQUENCE_RBF, payOut, type OutPoint } from './spend.ts';

export type CooperativeRequest = {
  htlc: HtlcOutput;
  outpoint: OutPoint;
  amountSat: bigint;
  destination: Uint8Array;
  feeRate: number;
  /** The fee guard (--max-fee-rate / --max-fee-share). */
  feeLimits?: FeeLimits;
  lockTime?: number;
};

export function cooperativePsbt(req: CooperativeRequest): { tx: Transaction; feeSat: bigint; vsize: number } {
  const taproot = req.htlc.taproot;
  if (!taproot) throw new RefusedError('E_NO_KEY_PATH', `a ${req.htlc.spec.kind} HTLC has no cooperative key path; only the taproot HTLC does`);
  const tx = new Transaction({ version: 2, lockTime: req.lockTime ?? 0, allowUnknownOutputs: true });
  tx.addInput({
    txid: req.outpoint.txid,
    index: req.outpoint.vout,
    sequence: SEQUENCE_RBF,
    witnessUtxo: { script: req.htlc.scriptPubKey, amount: req.amountSat },
    tapMerkleRoot: taproot.merkleRoot,
  });
  const { feeSat, vsize } = payOut(tx, req, [64]); // a key-path witness: one Schnorr signature
  setMusigParticipants(tx, 0, taproot.participants);
  return { tx, feeSat, vsize };
}
