/**
 * The witness scripts of BOLT 3 "Transactions", one function per output the spec names:
 * the funding output, `to_local`, `to_remote` (anchors form), `to_local_anchor` /
 * `to_remote_anchor`, offered and received HTLC outputs, and the HTLC-timeout /
 * HTLC-success output (which is a `to_local` script). The `htlc` command builds its
 * BOLT 3 kinds from these same functions; the seed's HASH160 HTLC and the taproot HTLC
 * are not BOLT 3 scripts and live with that command's library.
 *
 * Who can spend what, and when (the invariants each script enforces):
 * - to_local: the remote party at once with `revocationpubkey` (it only knows its secret
 *   once the local party revealed this commitment's per-commitment secret), else the
 *   local party with `local_delayedpubkey` after `to_self_delay` blocks (CSV).
 * - offered HTLC (local pays remote): the revocation key at once; the remote with the
 *   32-byte payment preimage; else only through the 2-of-2 HTLC-timeout transaction
 *   (whose nLockTime is the HTLC's cltv_expiry).
 * - received HTLC (remote pays local): the revocation key at once; the remote after
 *   cltv_expiry (CLTV); else only through the 2-of-2 HTLC-success transaction with the
 *   preimage.
 * - With anchors (`csv = 1`) every non-revocation path also waits one block
 *   (`1 OP_CHECKSEQUENCEVERIFY`), so no one can chain unconfirmed spends off the
 *   commitment except through the anchors (the CPFP carve-out).
 */
import { OP, hash160, putScriptNumber, script, scriptLength, scriptNumberLength, type ScriptPart } from './script.ts';
import { compareBytes, equalBytes } from '../bytes.ts';
import { ripemd160 } from '../hash.ts';
import { publicSlab } from './tx.ts';

const {
  OP_IF, OP_NOTIF, OP_ELSE, OP_ENDIF, OP_DROP, OP_DUP, OP_SWAP, OP_SIZE, OP_EQUAL, OP_EQUALVERIFY, OP_HASH160,
  OP_CHECKSIG, OP_CHECKSIGVERIFY, OP_CHECKMULTISIG, OP_CHECKLOCKTIMEVERIFY, OP_CHECKSEQUENCEVERIFY, OP_IFDUP, OP_16, OP_2,
} = OP;

/**
 * Funding output: `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`, the two funding pubkeys in
 * lexicographic order of their compressed encodings.
 */
export function fundingScript(localFundingPubkey: Uint8Array, remoteFundingPubkey: Uint8Array): Uint8Array {
  const [first, second] = sortedFundingPubkeys(localFundingPubkey, remoteFundingPubkey);
  return script(OP_2, first, second, OP_2, OP_CHECKMULTISIG);
}

/** The funding pubkeys in script order (the order the commitment witness's signatures take). */
export function sortedFundingPubkeys(a: Uint8Array, b: Uint8Array): [Uint8Array, Uint8Array] {
  return compareBytes(a, b) <= 0 ? [a, b] : [b, a];
}

/**
 * `to_local` (also the output of HTLC-timeout / HTLC-success transactions):
 *
 *     OP_IF <revocationpubkey>
 *     OP_ELSE `to_self_delay` OP_CHECKSEQUENCEVERIFY OP_DROP <local_delayedpubkey>
 *     OP_ENDIF OP_CHECKSIG
 */
export function toLocalScript(revocationPubkey: Uint8Array, toSelfDelay: number, localDelayedPubkey: Uint8Array): Uint8Array {
  return script(
    OP_IF, revocationPubkey,
    OP_ELSE, { num: toSelfDelay }, OP_CHECKSEQUENCEVERIFY, OP_DROP, localDelayedPubkey,
    OP_ENDIF, OP_CHECKSIG,
  );
}

/** `to_remote` with option_anchors: `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY` (P2WSH). */
export function toRemoteAnchorsScript(remotePubkey: Uint8Array): Uint8Array {
  return script(remotePubkey, OP_CHECKSIGVERIFY, { num: 1 }, OP_CHECKSEQUENCEVERIFY);
}

/**
 * `to_local_anchor` / `to_remote_anchor` (330 sat): the owner's funding key at once, or
 * anyone after 16 blocks (so the UTXO set is not left with dust once the commitment is
 * buried):
 *
 *     <local_funding_pubkey/remote_funding_pubkey> OP_CHECKSIG OP_IFDUP
 *     OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF
 */
export function anchorScript(fundingPubkey: Uint8Array): Uint8Array {
  return script(fundingPubkey, OP_CHECKSIG, OP_IFDUP, OP_NOTIF, OP_16, OP_CHECKSEQUENCEVERIFY, OP_ENDIF);
}

/** The keys an HTLC output is locked to, as BOLT 3 derives them for one commitment. */
export type HtlcScriptKeys = {
  /** `revocationpubkey` */
  revocationPubkey: Uint8Array;
  /** `local_htlcpubkey` */
  localHtlcPubkey: Uint8Array;
  /** `remote_htlcpubkey` */
  remoteHtlcPubkey: Uint8Array;
};

/**
 * HASH160(revocationpubkey), once per commitment rather than once per HTLC output (a
 * commitment's HTLC scripts all share its revocationpubkey array).
 */
const revocationHashes = new WeakMap<Uint8Array, Uint8Array>();
function revocationHash(revocationPubkey: Uint8Array): Uint8Array {
  let h = revocationHashes.get(revocationPubkey);
  if (!h) revocationHashes.set(revocationPubkey, (h = hash160(revocationPubkey)));
  return h;
}

/** `1 OP_CHECKSEQUENCEVERIFY OP_DROP` when the format delays HTLC spends one block, else nothing. */
function csvDelay(csv: number): ScriptPart[] {
  return csv > 0 ? [{ num: csv }, OP_CHECKSEQUENCEVERIFY, OP_DROP] : [];
}

/**
 * An HTLC script of one commitment with its per-HTLC parts left open: `head` holds 20 zero
 * bytes at `hashAt` for RIPEMD160(payment_hash); a received HTLC's cltv_expiry goes between
 * `head` and `tail`. A commitment's HTLC scripts share everything else (its keys, the CSV), so
 * each kind is assembled once per commitment's keys and copied for every HTLC.
 */
type HtlcScriptTemplate = { head: Uint8Array; hashAt: number; tail: Uint8Array; madeFor: HtlcScriptKeys };

const NO_HASH = new Uint8Array(20);

function template(keys: HtlcScriptKeys, before: ScriptPart[], between: ScriptPart[], after: ScriptPart[]): HtlcScriptTemplate {
  return { head: script(...before, NO_HASH, ...between), hashAt: scriptLength(before) + 1, tail: script(...after), madeFor: { ...keys } };
}

const sameKeys = (a: HtlcScriptKeys, b: HtlcScriptKeys): boolean =>
  a.revocationPubkey === b.revocationPubkey && a.remoteHtlcPubkey === b.remoteHtlcPubkey && a.localHtlcPubkey === b.localHtlcPubkey;

const templates = new WeakMap<HtlcScriptKeys, Map<number, HtlcScriptTemplate>>();

/**
 * The template of `kind` for these keys and CSV, assembled on first use and kept while the keys
 * object lives (public values); assembled again if one of its keys was replaced since.
 */
function templateFor(keys: HtlcScriptKeys, kind: 'offered' | 'received', csv: number, make: () => HtlcScriptTemplate): HtlcScriptTemplate {
  let byKind = templates.get(keys);
  if (!byKind) templates.set(keys, (byKind = new Map()));
  const name = kind === 'offered' ? csv : -1 - csv;
  let t = byKind.get(name);
  if (!t || !sameKeys(t.madeFor, keys)) byKind.set(name, (t = make()));
  return t;
}

/**
 * RIPEMD160(payment_hash) of the HTLCs seen lately, by the payment hash's array: an HTLC stays
 * in every commitment of both parties from update_add_htlc until it is removed, and a node
 * holding its channel state signs each of them again in every commitment_signed. The copy
 * kept beside the digest is compared first, so a payment hash array changed in place is
 * hashed anew (public values only).
 */
const paymentHashDigests = new WeakMap<Uint8Array, { of: Uint8Array; digest: Uint8Array }>();
function paymentHashDigest(paymentHash: Uint8Array): Uint8Array {
  const hit = paymentHashDigests.get(paymentHash);
  if (hit && equalBytes(hit.of, paymentHash)) return hit.digest;
  const digest = ripemd160(paymentHash);
  paymentHashDigests.set(paymentHash, { of: Uint8Array.from(paymentHash), digest });
  return digest;
}

const scriptArrays = publicSlab();

/** The template filled (into a range of ./tx.ts's publicSlab): RIPEMD160(payment_hash) at its place, then (received HTLCs) cltv_expiry and the tail. */
function fill(t: HtlcScriptTemplate, paymentHash: Uint8Array, cltvExpiry?: number): Uint8Array {
  const middle = cltvExpiry === undefined ? 0 : scriptNumberLength(cltvExpiry);
  const out = scriptArrays(t.head.length + middle + t.tail.length);
  out.set(t.head);
  out.set(paymentHashDigest(paymentHash), t.hashAt);
  if (cltvExpiry !== undefined) putScriptNumber(out, t.head.length, cltvExpiry);
  out.set(t.tail, t.head.length + middle);
  return out;
}

/**
 * How both HTLC scripts begin: the revocation key's branch, then the remote key and the
 * 32-byte size test that tells a preimage from a signature.
 *
 *     OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL
 *     OP_IF OP_CHECKSIG
 *     OP_ELSE <remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL
 */
function htlcScriptStart(keys: HtlcScriptKeys): ScriptPart[] {
  return [OP_DUP, OP_HASH160, revocationHash(keys.revocationPubkey), OP_EQUAL, OP_IF, OP_CHECKSIG, OP_ELSE, keys.remoteHtlcPubkey, OP_SWAP, OP_SIZE, { num: 32 }, OP_EQUAL];
}

/**
 * Offered HTLC output (the local node pays the remote):
 *
 *     OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL
 *     OP_IF
 *         OP_CHECKSIG
 *     OP_ELSE
 *         <remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL
 *         OP_NOTIF
 *             # To local node via HTLC-timeout transaction (timelocked).
 *             OP_DROP 2 OP_SWAP <local_htlcpubkey> 2 OP_CHECKMULTISIG
 *         OP_ELSE
 *             # To remote node with preimage.
 *             OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY
 *             OP_CHECKSIG
 *         OP_ENDIF
 *         [1 OP_CHECKSEQUENCEVERIFY OP_DROP]   # option_anchors
 *     OP_ENDIF
 */
export function offeredHtlcScript(keys: HtlcScriptKeys, paymentHash: Uint8Array, csv = 0): Uint8Array {
  return fill(templateFor(keys, 'offered', csv, () => template(
    keys,
    [
      ...htlcScriptStart(keys),
      OP_NOTIF,
      OP_DROP, OP_2, OP_SWAP, keys.localHtlcPubkey, OP_2, OP_CHECKMULTISIG,
      OP_ELSE,
      OP_HASH160, /* RIPEMD160(payment_hash) */
    ],
    [
      OP_EQUALVERIFY,
      OP_CHECKSIG,
      OP_ENDIF,
      ...csvDelay(csv),
      OP_ENDIF,
    ],
    [],
  )), paymentHash);
}

/**
 * Received HTLC output (the remote node pays the local):
 *
 *     OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL
 *     OP_IF
 *         OP_CHECKSIG
 *     OP_ELSE
 *         <remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL
 *         OP_IF
 *             # To local node via HTLC-success transaction.
 *             OP_HASH160 <RIPEMD160(payment_hash)> OP_EQUALVERIFY
 *             2 OP_SWAP <local_htlcpubkey> 2 OP_CHECKMULTISIG
 *         OP_ELSE
 *             # To remote node after timeout.
 *             OP_DROP <cltv_expiry> OP_CHECKLOCKTIMEVERIFY OP_DROP
 *             OP_CHECKSIG
 *         OP_ENDIF
 *         [1 OP_CHECKSEQUENCEVERIFY OP_DROP]   # option_anchors
 *     OP_ENDIF
 */
export function receivedHtlcScript(keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry: number, csv = 0): Uint8Array {
  return fill(templateFor(keys, 'received', csv, () => template(
    keys,
    [
      ...htlcScriptStart(keys),
      OP_IF,
      OP_HASH160, /* RIPEMD160(payment_hash) */
    ],
    [
      OP_EQUALVERIFY,
      OP_2, OP_SWAP, keys.localHtlcPubkey, OP_2, OP_CHECKMULTISIG,
      OP_ELSE,
      OP_DROP, /* cltv_expiry */
    ],
    [
      OP_CHECKLOCKTIMEVERIFY, OP_DROP,
      OP_CHECKSIG,
      OP_ENDIF,
      ...csvDelay(csv),
      OP_ENDIF,
    ],
  )), paymentHash, cltvExpiry);
}
