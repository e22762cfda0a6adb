/**
 * Signing and completing BOLT 3 transactions (segwit v0, BIP-143, ECDSA as ./ecdsa.ts).
 *
 * - Commitment: each party signs SIGHASH_ALL over the 2-of-2 funding script; the holder
 *   completes `0 <sig1> <sig2> <funding script>`, signatures in funding-key order.
 * - HTLC-timeout / HTLC-success: the local (holder) signature is SIGHASH_ALL, the remote
 *   one the format's type; the witness is
 *   `0 <remotehtlcsig> <localhtlcsig> <payment_preimage or empty> <htlc script>`.
 *
 * Who signs what: in commitment_signed a node signs the OTHER party's commitment and
 * its HTLC transactions (`signCounterpartyCommitment`), never its own; it completes its
 * own only to broadcast it. A signature that does not verify is refused naming whose it
 * is; a preimage that does not hash to the payment hash is refused before any witness
 * is built. Signatures are DER without the sighash byte, as BOLT 3's vectors print them.
 */
import { sha256 } from '../hash.ts';
import { concatBytes, equalBytes, toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { channelFundingOutput } from './channel.ts';
import type { CommitmentTransaction } from './commitment.ts';
import { NOBLE, type Bolt3Backend } from './backend.ts';
import { compactFromDer, derFromCompact } from './ecdsa.ts';
import type { HtlcTransaction } from './htlc-tx.ts';
import { derivePrivkey, pointOf } from './keys.ts';
import { sortedFundingPubkeys } from './scripts.ts';
import { SIGHASH_ALL, segwitV0Sighash } from './sighash.ts';
import { serializeTx, txid, type Tx } from './tx.ts';

export type Party = 'local' | 'remote';

export type SignedTransaction = { tx: Tx; hex: string; txid: string };

function complete(tx: Tx, witness: Uint8Array[]): SignedTransaction {
  const signed: Tx = { ...tx, inputs: [{ ...tx.inputs[0]!, witness }] };
  return { tx: signed, hex: toHex(serializeTx(signed)), txid: txid(signed) };
}

function withHashType(der: Uint8Array, hashType: number): Uint8Array {
  return concatBytes(der, Uint8Array.of(hashType));
}

function wrongKey(what: string): never {
  throw new RefusedError('E_WRONG_SIGNING_KEY', `the secret key given is not ${what}`);
}

/**
 * A secret key proven to be the key it claims — its k·G computed and kept — once, where a
 * channel's keys are loaded: each commitment signed with it after that compares public keys
 * (bytes) instead of computing k·G again. The caller holds it for as long as it holds the
 * channel; this module keeps none (no process-wide state derived from secrets). The secret is
 * copied in, and neither it nor the proven public key can be changed from outside. Every
 * signing function takes one of these or a plain secret, which it proves there and then.
 */
export class ProvenKey {
  readonly #secret: Uint8Array;
  readonly #publicKey: Uint8Array;

  /** Refused as `field` (E_BAD_SECRET_KEY) when the secret is not a scalar in [1, n-1]. */
  constructor(secret: Uint8Array, field: string, backend: Bolt3Backend = NOBLE) {
    this.#publicKey = pointOf(secret, field, backend.ec);
    this.#secret = Uint8Array.from(secret);
    Object.freeze(this); // no own method can be put in front of the class's
  }

  /** Whether this is the secret key of `publicKey`. */
  is(publicKey: Uint8Array): boolean {
    return equalBytes(this.#publicKey, publicKey);
  }

  /** A DER signature (no sighash byte) of a 32-byte digest. */
  sign(digest: Uint8Array, backend: Bolt3Backend): Uint8Array {
    return derFromCompact(backend.ecdsa.signCompact(digest, this.#secret));
  }

  /** This basepoint secret's key for one commitment (`derivePrivkey`), its basepoint proven already. */
  derivePrivkey(perCommitmentPoint: Uint8Array, backend: Bolt3Backend): Uint8Array {
    return derivePrivkey(this.#secret, perCommitmentPoint, backend.ec, this.#publicKey);
  }
}

function proven(key: Uint8Array | ProvenKey, field: string, backend: Bolt3Backend): ProvenKey {
  return key instanceof ProvenKey ? key : new ProvenKey(key, field, backend);
}

// ---- commitment ------------------------------------------------------------------

/**
 * The 2-of-2 funding script of the channel whose local funding pubkey is this array, kept for
 * the next commitment of the same channel (public values; the copies of both keys are compared
 * first, so keys changed in place are never answered with a stale script).
 */
const fundingScripts = new WeakMap<Uint8Array, { local: Uint8Array; remote: Uint8Array; witnessScript: Uint8Array }>();
function fundingWitnessScript(params: CommitmentTransaction['params']): Uint8Array {
  const { local, remote } = params;
  const hit = fundingScripts.get(local.fundingPubkey);
  if (hit && equalBytes(hit.local, local.fundingPubkey) && equalBytes(hit.remote, remote.fundingPubkey)) return hit.witnessScript;
  const { witnessScript } = channelFundingOutput(params);
  fundingScripts.set(local.fundingPubkey, { local: Uint8Array.from(local.fundingPubkey), remote: Uint8Array.from(remote.fundingPubkey), witnessScript });
  return witnessScript;
}

/** The BIP-143 SIGHASH_ALL digest both parties sign for the commitment. */
export function commitmentSighash(c: CommitmentTransaction): Uint8Array {
  return segwitV0Sighash(c.tx, 0, fundingWitnessScript(c.params), c.params.fundingSatoshis, SIGHASH_ALL);
}

/** Sign the commitment with a funding secret key (either party's). */
export function signCommitment(c: CommitmentTransaction, fundingSecretKey: Uint8Array | ProvenKey, backend: Bolt3Backend = NOBLE): Uint8Array {
  const key = proven(fundingSecretKey, 'funding secret key', backend);
  if (!key.is(c.params.local.fundingPubkey) && !key.is(c.params.remote.fundingPubkey)) wrongKey("either party's funding key");
  return key.sign(commitmentSighash(c), backend);
}

export function verifyCommitmentSignature(c: CommitmentTransaction, signature: Uint8Array, by: Party, backend: Bolt3Backend = NOBLE): boolean {
  const pubkey = by === 'local' ? c.params.local.fundingPubkey : c.params.remote.fundingPubkey;
  return backend.ecdsa.verifyCompact(compactFromDer(signature), commitmentSighash(c), pubkey);
}

/** The holder's broadcastable commitment: both signatures checked, then the 2-of-2 witness. */
export function finalizeCommitment(c: CommitmentTransaction, localSignature: Uint8Array, remoteSignature: Uint8Array, backend: Bolt3Backend = NOBLE): SignedTransaction {
  for (const [by, sig] of [['local', localSignature], ['remote', remoteSignature]] as const) {
    if (!verifyCommitmentSignature(c, sig, by, backend)) {
      throw new RefusedError('E_BAD_COMMITMENT_SIGNATURE', `the ${by} signature does not verify for commitment ${c.txid}`, { party: by });
    }
  }
  const funding = channelFundingOutput(c.params);
  const [first] = sortedFundingPubkeys(c.params.local.fundingPubkey, c.params.remote.fundingPubkey);
  const localFirst = equalBytes(first, c.params.local.fundingPubkey);
  const local = withHashType(localSignature, SIGHASH_ALL);
  const remote = withHashType(remoteSignature, SIGHASH_ALL);
  return complete(c.tx, [new Uint8Array(0), localFirst ? local : remote, localFirst ? remote : local, funding.witnessScript]);
}

// ---- HTLC transactions -------------------------------------------------------------

function htlcHashType(h: HtlcTransaction, by: Party): number {
  return by === 'local' ? SIGHASH_ALL : h.remoteSighashType;
}

/** The BIP-143 digest `by` signs for an HTLC transaction. */
export function htlcSighash(h: HtlcTransaction, by: Party): Uint8Array {
  return segwitV0Sighash(h.tx, 0, h.spentWitnessScript, h.spentAmountSat, htlcHashType(h, by));
}

/**
 * Sign an HTLC transaction as `by` with its HTLC key for this commitment
 * (`derivePrivkey(htlc_basepoint_secret, per_commitment_point)`).
 */
export function signHtlcTransaction(h: HtlcTransaction, htlcPrivkey: Uint8Array | ProvenKey, by: Party, backend: Bolt3Backend = NOBLE): Uint8Array {
  const key = proven(htlcPrivkey, 'HTLC secret key', backend);
  if (!key.is(by === 'local' ? h.keys.localHtlcPubkey : h.keys.remoteHtlcPubkey)) wrongKey(`the ${by} htlcpubkey of this commitment`);
  return key.sign(htlcSighash(h, by), backend);
}

export function verifyHtlcSignature(h: HtlcTransaction, signature: Uint8Array, by: Party, backend: Bolt3Backend = NOBLE): boolean {
  const pubkey = by === 'local' ? h.keys.localHtlcPubkey : h.keys.remoteHtlcPubkey;
  return backend.ecdsa.verifyCompact(compactFromDer(signature), htlcSighash(h, by), pubkey);
}

/**
 * The holder's broadcastable HTLC transaction. HTLC-success needs the 32-byte payment
 * preimage; HTLC-timeout takes none (and is valid only from its nLockTime on).
 */
export function finalizeHtlcTransaction(
  h: HtlcTransaction,
  localSignature: Uint8Array,
  remoteSignature: Uint8Array,
  paymentPreimage?: Uint8Array,
  backend: Bolt3Backend = NOBLE,
): SignedTransaction {
  let fifth: Uint8Array = new Uint8Array(0);
  if (h.kind === 'htlc-success') {
    if (!paymentPreimage || paymentPreimage.length !== 32 || !equalBytes(sha256(paymentPreimage), h.htlc.paymentHash)) {
      throw new RefusedError('E_PREIMAGE_MISMATCH', `the preimage is not the 32 bytes whose SHA256 is payment hash ${toHex(h.htlc.paymentHash)}`);
    }
    fifth = paymentPreimage;
  } else if (paymentPreimage) {
    throw new RefusedError('E_PREIMAGE_UNEXPECTED', 'an HTLC-timeout transaction takes no preimage');
  }
  for (const [by, sig] of [['local', localSignature], ['remote', remoteSignature]] as const) {
    if (!verifyHtlcSignature(h, sig, by, backend)) {
      throw new RefusedError('E_BAD_HTLC_SIGNATURE', `the ${by} signature does not verify for the ${h.kind} transaction of commitment output ${h.commitmentOutputIndex}`, { party: by });
    }
  }
  return complete(h.tx, [
    new Uint8Array(0),
    withHashType(remoteSignature, htlcHashType(h, 'remote')),
    withHashType(localSignature, SIGHASH_ALL),
    fifth,
    h.spentWitnessScript,
  ]);
}

// ---- commitment_signed ------------------------------------------------------------------

/**
 * What BOLT 2's commitment_signed carries: our signature on the counterparty's
 * commitment (`c` built with local = the counterparty, see counterpartyView) and our
 * signature on each of its HTLC transactions, in output order.
 */
export function signCounterpartyCommitment(
  c: CommitmentTransaction,
  htlcTransactions: readonly HtlcTransaction[],
  fundingSecretKey: Uint8Array | ProvenKey,
  htlcBasepointSecret: Uint8Array | ProvenKey,
  backend: Bolt3Backend = NOBLE,
): { signature: Uint8Array; htlcSignatures: Uint8Array[] } {
  // We are the remote party of c: our htlc_basepoint is c.params.remote's, and the
  // privkey derived from its secret is then remote_htlcpubkey's by construction.
  const htlcBasepointKey = proven(htlcBasepointSecret, 'htlc basepoint secret', backend);
  if (!htlcBasepointKey.is(c.params.remote.htlcBasepoint)) wrongKey('the secret of our htlc_basepoint in this channel');
  const htlcPrivkey = htlcBasepointKey.derivePrivkey(c.keys.perCommitmentPoint, backend);
  // Every digest first, then the 21 signatures back to back: the signer's precomputed tables
  // stay in cache from one signature to the next instead of being evicted by the hashing and
  // script work between them (the same bytes either way).
  const digests = htlcTransactions.map((h) => {
    if (h.keys !== c.keys) throw new RangeError('an HTLC transaction of another commitment');
    return htlcSighash(h, 'remote');
  });
  return {
    signature: signCommitment(c, fundingSecretKey, backend),
    htlcSignatures: digests.map((digest) => derFromCompact(backend.ecdsa.signCompact(digest, htlcPrivkey))),
  };
}
