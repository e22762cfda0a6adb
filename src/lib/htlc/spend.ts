/**
 * One-signer spends of an HTLC output: the recipient's claim with the preimage, the
 * payer's refund once the timeout is final, and (BOLT 3 kinds) the revocation spend.
 * One input (the HTLC), one output (the spender's address), fee from a sat/vB rate.
 *
 * BOLT 3's own-commitment paths (offered timeout, received success) need both HTLC
 * keys and are in ./second-stage.ts; the taproot cooperative key path is a MuSig2 PSBT
 * (./cooperative.ts).
 *
 * Rules kept here, each refused with its own code before anything is signed:
 * - a claim carries a preimage whose SHA256 is the payment hash, 32 bytes long unless
 *   the script is the seed's bare form (E_PREIMAGE_MISMATCH, E_PREIMAGE_LENGTH);
 * - the key given is the one the path needs (E_KEY_MISMATCH);
 * - a refund's nLockTime is the HTLC's timeout and its sequence is not final, so the
 *   lock is enforced; whether it is final at the tip is the caller's check (one rule:
 *   ../chain/finality.ts);
 * - the output stays above dust after the fee (E_DUST_OUTPUT).
 */
import { Transaction } from '@scure/btc-signer';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { schnorrSign, schnorrVerify } from '../taproot/schnorr.ts';
import { derFromCompact, nobleEcdsa } from '../bolt3/ecdsa.ts';
import { SIGHASH_ALL } from '../bolt3/sighash.ts';
import { compactSizeLength, dustThreshold, feeFor } from '../tx/policy.ts';
import { checkFee, checkFeeRate, type FeeLimits } from '../tx/fee-guard.ts';
import { payerKey, recipientKey, timeoutOf, type HtlcOutput } from './htlc.ts';

export type SpendPath = 'claim' | 'refund' | 'revoke';

export type OutPoint = { txid: string; vout: number };

export type SpendRequest = {
  htlc: HtlcOutput;
  path: SpendPath;
  outpoint: OutPoint;
  amountSat: bigint;
  /** scriptPubKey the coins go to. */
  destination: Uint8Array;
  /** sat/vB. */
  feeRate: number;
  /** The fee guard (a command's --max-fee-rate / --max-fee-share); none when absent. */
  feeLimits?: FeeLimits;
  signer: KeyPair;
  /** Claim: the payment preimage. */
  preimage?: Uint8Array;
  /** Claim: an anti-fee-sniping nLockTime (default 0); a refund always uses the timeout. */
  lockTime?: number;
  /** BIP-340 auxiliary randomness (taproot). */
  auxRand?: Uint8Array;
  /**
   * Transaction version (default 2). 3 (TRUC, BIP-431) when the HTLC sits in a TRUC
   * parent that may be unconfirmed: the node refuses a non-TRUC child of one, so only a
   * version-3 spend can be its CPFP (e.g. the IoT gateway's claim, src/lib/device/).
   */
  version?: 2 | 3;
};

export type Spend = {
  tx: Transaction;
  txid: string;
  hex: string;
  feeSat: bigint;
  vsize: number;
  lockTime: number;
  sequence: number;
};

/** nSequence that is not final (enables nLockTime) and signals replaceability. */
export const SEQUENCE_RBF = 0xffff_fffd;

export function checkPreimage(htlc: HtlcOutput, preimage: Uint8Array | undefined): Uint8Array {
  if (!preimage) throw new RefusedError('E_PREIMAGE_REQUIRED', 'a claim needs the payment preimage (--preimage-file)');
  if (!equalBytes(sha256(preimage), htlc.spec.paymentHash)) {
    throw new RefusedError('E_PREIMAGE_MISMATCH', `the preimage does not hash to the payment hash ${toHex(htlc.spec.paymentHash)}`);
  }
  const anyLength = htlc.spec.kind === 'seed' && !htlc.spec.sizeCheck;
  if (!anyLength && preimage.length !== 32) {
    throw new RefusedError('E_PREIMAGE_LENGTH', `the script demands a 32-byte preimage; this one is ${preimage.length} bytes`);
  }
  return preimage;
}

/** The key a path needs, compared with the signer's (x-only for taproot leaves). */
function checkSigner(htlc: HtlcOutput, path: SpendPath, signer: KeyPair): void {
  const { spec } = htlc;
  let wanted: Uint8Array;
  let role: string;
  if (path === 'revoke') {
    if (spec.kind !== 'offered' && spec.kind !== 'received') {
      throw new RefusedError('E_NO_REVOCATION_PATH', `a ${spec.kind} HTLC has no revocation path`);
    }
    wanted = spec.revocationPubkey;
    role = 'the revocation key';
  } else {
    wanted = path === 'claim' ? recipientKey(spec) : payerKey(spec);
    role = path === 'claim' ? 'the recipient' : 'the payer';
  }
  const same = spec.kind === 'taproot' ? equalBytes(wanted.subarray(1), signer.xOnly) : equalBytes(wanted, signer.publicKey);
  if (!same) throw new RefusedError('E_KEY_MISMATCH', `this key (${toHex(signer.publicKey)}) is not ${role} of the HTLC (${toHex(wanted)})`);
}

/** Which direct paths exist: BOLT 3's holder paths go through the second stage instead. */
function checkDirectPath(htlc: HtlcOutput, path: SpendPath): void {
  const kind = htlc.spec.kind;
  if ((kind === 'offered' && path === 'refund') || (kind === 'received' && path === 'claim')) {
    throw new RefusedError(
      'E_SECOND_STAGE',
      `the ${kind} HTLC's ${path} goes through the ${kind === 'offered' ? 'HTLC-timeout' : 'HTLC-success'} transaction, which both HTLC keys sign`,
    );
  }
}

export function buildSpend(req: SpendRequest): Spend {
  const { htlc, path } = req;
  checkDirectPath(htlc, path);
  checkSigner(htlc, path, req.signer);
  const preimage = path === 'claim' ? checkPreimage(htlc, req.preimage) : undefined;
  const anchorsDelay = (htlc.spec.kind === 'offered' || htlc.spec.kind === 'received') && htlc.spec.anchors && path !== 'revoke';
  // BOLT 3 with anchors: every non-revocation HTLC path carries `1 OP_CSV`.
  const sequence = anchorsDelay ? 1 : SEQUENCE_RBF;
  const lockTime = path === 'refund' ? timeoutOf(htlc.spec) : (req.lockTime ?? 0);

  const tx = new Transaction({ version: req.version ?? 2, lockTime, allowUnknownOutputs: true });
  tx.addInput({
    txid: req.outpoint.txid,
    index: req.outpoint.vout,
    sequence,
    witnessUtxo: { script: htlc.scriptPubKey, amount: req.amountSat },
    ...(htlc.witnessScript ? { witnessScript: htlc.witnessScript } : {}),
  });
  const { feeSat, vsize } = payOut(tx, req, plannedWitness(htlc, path, preimage));
  tx.updateInput(0, { finalScriptWitness: witness(tx, req, preimage) }, true);
  return { tx, txid: tx.id, hex: toHex(tx.extract()), feeSat, vsize, lockTime, sequence };
}

/** Byte lengths of the witness items (signatures at their largest), for the fee. */
function plannedWitness(htlc: HtlcOutput, path: SpendPath, preimage: Uint8Array | undefined): number[] {
  const ecdsa = 73;
  if (htlc.taproot) {
    const leaf = path === 'claim' ? htlc.taproot.claimLeaf : htlc.taproot.refundLeaf;
    const cb = path === 'claim' ? htlc.taproot.claimControlBlock : htlc.taproot.refundControlBlock;
    return [...(path === 'claim' ? [preimage!.length] : []), 64, leaf.length, cb.length];
  }
  const ws = htlc.witnessScript!.length;
  if (path === 'revoke') return [ecdsa, 33, ws];
  if (htlc.spec.kind === 'seed') return path === 'claim' ? [ecdsa, preimage!.length, 1, ws] : [ecdsa, 0, ws];
  return path === 'claim' ? [ecdsa, preimage!.length, ws] : [ecdsa, 0, ws];
}

/**
 * The one output of a one-input spend: the input's amount less the fee for the vsize the
 * witness will have, refused when that leaves the destination below dust.
 */
export function payOut(
  tx: Transaction,
  req: { amountSat: bigint; destination: Uint8Array; feeRate: number; feeLimits?: FeeLimits },
  witnessItemLengths: readonly number[],
): { feeSat: bigint; vsize: number } {
  if (req.feeLimits) checkFeeRate(req.feeRate, req.feeLimits);
  const vsize = estimateVsize(req.destination, witnessItemLengths);
  const feeSat = feeFor(vsize, req.feeRate);
  const value = req.amountSat - feeSat;
  const dust = dustThreshold(req.destination);
  if (value < dust) {
    throw new RefusedError('E_DUST_OUTPUT', `${req.amountSat} sat less a ${feeSat} sat fee leaves ${value} sat, below the ${dust} sat dust limit of the destination`);
  }
  // The fee guard (the command's --max-fee-rate / --max-fee-share): the fee comes out of the HTLC's amount.
  if (req.feeLimits) checkFee({ what: 'the spend', feeSat, vsize, amountSat: req.amountSat }, req.feeLimits);
  tx.addOutput({ script: req.destination, amount: value });
  return { feeSat, vsize };
}

/** vsize of a one-input, one-output segwit transaction with these witness items. */
export function estimateVsize(destination: Uint8Array, witnessItemLengths: readonly number[]): number {
  const base = 4 + 1 + (32 + 4 + 1 + 4) + 1 + (8 + compactSizeLength(destination.length) + destination.length) + 4;
  let witness = 2 + compactSizeLength(witnessItemLengths.length);
  for (const n of witnessItemLengths) witness += compactSizeLength(n) + n;
  return Math.ceil((base * 4 + witness) / 4);
}

function witness(tx: Transaction, req: SpendRequest, preimage: Uint8Array | undefined): Uint8Array[] {
  const { htlc, path, signer } = req;
  if (htlc.taproot) {
    const leaf = path === 'claim' ? htlc.taproot.claimLeaf : htlc.taproot.refundLeaf;
    const cb = path === 'claim' ? htlc.taproot.claimControlBlock : htlc.taproot.refundControlBlock;
    const digest = tx.preimageWitnessV1(0, [htlc.scriptPubKey], 0x00, [req.amountSat], undefined, leaf, 0xc0);
    const sig = schnorrSign(digest, signer.secretKey, req.auxRand ?? new Uint8Array(32));
    if (!schnorrVerify(sig, digest, signer.xOnly)) throw new Error('internal: a fresh Schnorr signature does not verify');
    // Stack bottom to top: the leaf checks the signature first (on top), then the preimage.
    return path === 'claim' ? [preimage!, sig, leaf, cb] : [sig, leaf, cb];
  }
  const ws = htlc.witnessScript!;
  const digest = tx.preimageWitnessV0(0, ws, SIGHASH_ALL, req.amountSat);
  const compact = nobleEcdsa.signCompact(digest, signer.secretKey);
  if (!nobleEcdsa.verifyCompact(compact, digest, signer.publicKey)) throw new Error('internal: a fresh ECDSA signature does not verify');
  const sig = Uint8Array.from([...derFromCompact(compact), SIGHASH_ALL]);
  const EMPTY = new Uint8Array(0);
  if (path === 'revoke') return [sig, signer.publicKey, ws];
  if (htlc.spec.kind === 'seed') return path === 'claim' ? [sig, preimage!, Uint8Array.of(1), ws] : [sig, EMPTY, ws];
  // BOLT 3, remote's direct paths: offered claim `<sig> <preimage>`, received timeout `<sig> <>`.
  return path === 'claim' ? [sig, preimage!, ws] : [sig, EMPTY, ws];
}
