/**
 * BOLT 3's second stage for a standalone HTLC output: the commitment holder's own paths
 * go through a transaction both HTLC keys sign — HTLC-timeout for an offered HTLC
 * (nLockTime = cltv_expiry), HTLC-success for a received one (with the preimage) —
 * paying into the holder's delayed, revocable output, so that a revoked commitment's
 * HTLC stays punishable after the second stage too.
 *
 * Two signers, one PSBT (BIP-174 partial signatures): whoever runs first builds the
 * transaction and adds its signature; the other rebuilds it from the same HTLC, checks
 * the PSBT is exactly that transaction, adds its own and, once both signatures (and for
 * HTLC-success the preimage) are there, finalizes the witness
 * `0 <remotehtlcsig> <localhtlcsig> <preimage or empty>`.
 *
 * Deliberately absent: the anchors format. Its HTLC transactions carry no fee (the
 * remote signs SIGHASH_SINGLE|ANYONECANPAY so the holder adds a fee input), and adding
 * that input is a wallet step not built here yet: refused with E_ANCHORS_FEE_INPUT.
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import type { KeyPair } from '../keys/keys.ts';
import { compactFromDer, derFromCompact, nobleEcdsa } from '../bolt3/ecdsa.ts';
import { LEGACY } from '../bolt3/formats.ts';
import { p2wsh } from '../bolt3/script.ts';
import { SIGHASH_ALL } from '../bolt3/sighash.ts';
import { secondStageScript, type HtlcOutput, type HtlcSpec } from './htlc.ts';
import { checkPreimage, type OutPoint } from './spend.ts';

type Bolt3Spec = Extract<HtlcSpec, { kind: 'offered' | 'received' }>;

export type SecondStageRequest = {
  htlc: HtlcOutput;
  outpoint: OutPoint;
  amountSat: bigint;
  signer: KeyPair;
  /** HTLC-success: the payment preimage (needed only to finalize). */
  preimage?: Uint8Array;
  /** The PSBT the other signer produced, if it went first. */
  psbt?: Transaction;
};

export type SecondStage = {
  kind: 'htlc-timeout' | 'htlc-success';
  tx: Transaction;
  complete: boolean;
  /** Whose signatures are still missing. */
  missing: ('local_htlc' | 'remote_htlc' | 'preimage')[];
  txid: string;
  /** Set once complete. */
  hex?: string;
  feeSat: bigint;
  lockTime: number;
};

function bolt3Spec(htlc: HtlcOutput): Bolt3Spec {
  const { spec } = htlc;
  if (spec.kind !== 'offered' && spec.kind !== 'received') {
    throw new RefusedError('E_NO_SECOND_STAGE', `a ${spec.kind} HTLC has no second-stage transaction`);
  }
  if (spec.anchors) {
    throw new RefusedError(
      'E_ANCHORS_FEE_INPUT',
      'an anchors HTLC transaction carries no fee and needs a fee input added before the holder signs; not supported by htlc yet',
    );
  }
  return spec;
}

/** The unsigned second-stage transaction, as BOLT 3 fixes it (legacy format). */
export function secondStageTransaction(htlc: HtlcOutput, outpoint: OutPoint, amountSat: bigint): { tx: Transaction; kind: SecondStage['kind']; feeSat: bigint } {
  const spec = bolt3Spec(htlc);
  const kind = spec.kind === 'offered' ? 'htlc-timeout' : 'htlc-success';
  const feeSat = LEGACY.htlcTxFee(kind, spec.secondStage.feeratePerKw);
  if (amountSat - feeSat <= 0n) throw new RefusedError('E_DUST_OUTPUT', `the ${amountSat} sat HTLC does not cover its ${kind} fee of ${feeSat} sat`);
  const tx = new Transaction({ version: LEGACY.htlcTxVersion, lockTime: kind === 'htlc-timeout' ? spec.cltvExpiry : 0, allowUnknownOutputs: true });
  tx.addInput({
    txid: outpoint.txid,
    index: outpoint.vout,
    sequence: LEGACY.htlcCsv,
    witnessUtxo: { script: htlc.scriptPubKey, amount: amountSat },
    witnessScript: htlc.witnessScript!,
  });
  tx.addOutput({ script: p2wsh(secondStageScript(spec)), amount: amountSat - feeSat });
  return { tx, kind, feeSat };
}

export function signSecondStage(req: SecondStageRequest): SecondStage {
  const spec = bolt3Spec(req.htlc);
  const built = secondStageTransaction(req.htlc, req.outpoint, req.amountSat);
  const tx = req.psbt ?? built.tx;
  if (req.psbt && !equalBytes(req.psbt.unsignedTx, built.tx.unsignedTx)) {
    throw new RefusedError('E_PSBT_MISMATCH', `the PSBT is not this HTLC's ${built.kind} transaction (${built.tx.id})`);
  }
  const role = equalBytes(req.signer.publicKey, spec.localHtlcPubkey)
    ? 'local_htlc'
    : equalBytes(req.signer.publicKey, spec.remoteHtlcPubkey)
      ? 'remote_htlc'
      : undefined;
  if (!role) throw new RefusedError('E_KEY_MISMATCH', `this key (${toHex(req.signer.publicKey)}) is neither HTLC key of the channel`);
  const digest = tx.preimageWitnessV0(0, req.htlc.witnessScript!, SIGHASH_ALL, req.amountSat);

  const sigs = new Map<string, Uint8Array>();
  for (const [pubkey, sig] of tx.getInput(0).partialSig ?? []) {
    const who = equalBytes(pubkey, spec.localHtlcPubkey) ? 'local_htlc' : equalBytes(pubkey, spec.remoteHtlcPubkey) ? 'remote_htlc' : undefined;
    if (!who) throw new RefusedError('E_BAD_SIGNATURE', `the PSBT carries a signature by ${toHex(pubkey)}, not an HTLC key of the channel`);
    if (sig[sig.length - 1] !== SIGHASH_ALL || !nobleEcdsa.verifyCompact(compactFromDer(sig.subarray(0, -1)), digest, pubkey)) {
      throw new RefusedError('E_BAD_SIGNATURE', `the ${who} signature in the PSBT does not verify for this ${built.kind} transaction`);
    }
    sigs.set(who, sig);
  }
  const mine = Uint8Array.from([...derFromCompact(nobleEcdsa.signCompact(digest, req.signer.secretKey)), SIGHASH_ALL]);
  sigs.set(role, mine);
  tx.updateInput(0, { partialSig: [[req.signer.publicKey, mine]] }, true);

  const missing: SecondStage['missing'] = [];
  if (!sigs.has('local_htlc')) missing.push('local_htlc');
  if (!sigs.has('remote_htlc')) missing.push('remote_htlc');
  let preimage: Uint8Array | undefined;
  if (built.kind === 'htlc-success') {
    if (req.preimage) preimage = checkPreimage(req.htlc, req.preimage);
    else missing.push('preimage');
  }
  const out: SecondStage = { kind: built.kind, tx, complete: missing.length === 0, missing, txid: tx.id, feeSat: built.feeSat, lockTime: tx.lockTime };
  if (out.complete) {
    const EMPTY = new Uint8Array(0);
    const final = Transaction.fromPSBT(tx.toPSBT(), { allowUnknownOutputs: true });
    final.updateInput(0, { finalScriptWitness: [EMPTY, sigs.get('remote_htlc')!, sigs.get('local_htlc')!, preimage ?? EMPTY, req.htlc.witnessScript!] }, true);
    out.tx = final;
    out.hex = toHex(final.extract());
  }
  return out;
}
