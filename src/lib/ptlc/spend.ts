/**
 * The PTLC's transactions: the claim (key path, the payee's, signed by adapting the
 * pre-signature with t), reading t back from a claim seen on chain, and the payer's
 * refund (the CLTV leaf, once final). Fees from a sat/vB rate out of the PTLC amount.
 *
 * Refused: an adaptor secret that is not the log of the lock point, or whose adapted
 * signature does not verify (E_WRONG_SECRET); a transaction that is not the claim of this
 * pre-signature (E_NOT_THE_CLAIM); a signer that is not the payer (E_KEY_MISMATCH).
 */
import { Transaction } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { adapt, bip340Verify, extractAdaptor } from '../musig/bip327.ts';
import { schnorrSign } from '../taproot/schnorr.ts';
import { SEQUENCE_RBF, payOut, type OutPoint } from '../htlc/spend.ts';
import type { FeeLimits } from '../tx/fee-guard.ts';
import { claimMessage } from './presign.ts';
import type { PtlcOutput } from './ptlc.ts';

/** feeLimits: the fee guard (--max-fee-rate, --max-fee-share), checked by payOut as for an HTLC's spend. */
export type SpendRequest = { outpoint: OutPoint; amountSat: bigint; destination: Uint8Array; feeRate: number; feeLimits?: FeeLimits };

function spendingTx(ptlc: PtlcOutput, req: SpendRequest, lockTime: number, script: boolean): Transaction {
  const tx = new Transaction({ version: 2, lockTime, allowUnknownOutputs: true });
  tx.addInput({
    txid: req.outpoint.txid,
    index: req.outpoint.vout,
    sequence: SEQUENCE_RBF,
    witnessUtxo: { script: ptlc.scriptPubKey, amount: req.amountSat },
    ...(script ? {} : { tapInternalKey: ptlc.internalKey, tapMerkleRoot: ptlc.merkleRoot }),
  });
  return tx;
}

/** The unsigned claim: the PTLC output to the payee's destination (key path: one 64-byte signature). */
export function claimTransaction(ptlc: PtlcOutput, req: SpendRequest): { tx: Transaction; feeSat: bigint } {
  const tx = spendingTx(ptlc, req, 0, false);
  const { feeSat } = payOut(tx, req, [64]);
  return { tx, feeSat };
}

function checkSecret(ptlc: PtlcOutput, t: Uint8Array): void {
  let T: Uint8Array;
  try {
    T = secp256k1.getPublicKey(t, true);
  } catch {
    throw new RefusedError('E_WRONG_SECRET', 'the adaptor secret is not a valid scalar');
  }
  if (!equalBytes(T, ptlc.spec.point)) throw new RefusedError('E_WRONG_SECRET', `this secret's point is ${toHex(T)}, not the lock point ${toHex(ptlc.spec.point)}`);
}

/** The payee's claim: adapt the pre-signature with t, check it, and finish the key-path spend. */
export function completeClaim(ptlc: PtlcOutput, tx: Transaction, preSignature: Uint8Array, parity: number, t: Uint8Array): { tx: Transaction; hex: string } {
  checkSecret(ptlc, t);
  const msg = claimMessage(ptlc, tx);
  const sig = adapt(preSignature, t, parity);
  if (!bip340Verify(sig, msg, ptlc.outputKey)) throw new RefusedError('E_WRONG_SECRET', 'the adapted signature does not verify: this pre-signature is not for this claim');
  const done = Transaction.fromPSBT(tx.toPSBT(), { allowUnknownOutputs: true });
  done.updateInput(0, { finalScriptWitness: [sig] }, true);
  return { tx: done, hex: toHex(done.extract()) };
}

/** t from the claim as mined: its key-path signature against the pre-signature. */
export function extractSecret(ptlc: PtlcOutput, claim: Uint8Array, preSignature: Uint8Array, parity: number): Uint8Array {
  let tx: Transaction;
  try {
    tx = Transaction.fromRaw(claim, { allowUnknownOutputs: true, disableScriptCheck: true });
  } catch (e) {
    throw new RefusedError('E_NOT_THE_CLAIM', `not a transaction: ${(e as Error).message}`);
  }
  for (let i = 0; i < tx.inputsLength; i++) {
    const w = tx.getInput(i).finalScriptWitness;
    const sig = w?.length === 1 ? w[0]! : undefined;
    if (sig?.length !== 64 || !equalBytes(sig.subarray(0, 32), preSignature.subarray(0, 32))) continue;
    const t = extractAdaptor(sig, preSignature, parity);
    checkSecret(ptlc, t);
    return t;
  }
  throw new RefusedError('E_NOT_THE_CLAIM', `transaction ${tx.id} carries no key-path signature with this pre-signature's nonce`);
}

/** The payer's refund through the CLTV leaf: nLockTime = L, a non-final sequence. */
export function refundTransaction(ptlc: PtlcOutput, req: SpendRequest, payer: KeyPair, auxRand: Uint8Array): { tx: Transaction; hex: string; feeSat: bigint } {
  if (!equalBytes(payer.xOnly, ptlc.spec.payer.subarray(1))) throw new RefusedError('E_KEY_MISMATCH', `this key (${toHex(payer.publicKey)}) is not the PTLC's payer`);
  const tx = spendingTx(ptlc, req, ptlc.spec.locktime, true);
  const { feeSat } = payOut(tx, req, [64, ptlc.refundLeaf.length, ptlc.refundControlBlock.length]);
  const digest = tx.preimageWitnessV1(0, [ptlc.scriptPubKey], 0x00, [req.amountSat], undefined, ptlc.refundLeaf, 0xc0);
  const sig = schnorrSign(digest, payer.secretKey, auxRand);
  tx.updateInput(0, { finalScriptWitness: [sig, ptlc.refundLeaf, ptlc.refundControlBlock] }, true);
  return { tx, hex: toHex(tx.extract()), feeSat };
}
