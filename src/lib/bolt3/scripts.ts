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

/** The places an HTLC script leaves open, as the arrays that stand for them while its template is assembled. */
type OpenPlaces = { revocationHash: Uint8Array; remoteHtlcPubkey: Uint8Array; localHtlcPubkey: Uint8Array; paymentHash: Uint8Array };

/**
 * An HTLC script with every per-commitment and per-HTLC value left open — HASH160 of the
 * revocation key, the two HTLC keys, RIPEMD160(payment_hash) — at the offsets kept beside it;
 * a received HTLC's cltv_expiry goes between `head` and `tail`. Everything else depends only
 * on the kind, the CSV and the keys' lengths (33 bytes each in BOLT 3), so it is assembled
 * once for those and copied for every HTLC of every commitment, its open places written in.
 */
type HtlcScriptTemplate = { head: Uint8Array; tail: Uint8Array; at: { readonly [place in keyof OpenPlaces]: number } };

const templates = new Map<number, HtlcScriptTemplate>();

/**
 * The template of `kind` for this CSV and these keys' lengths, assembled on first use from the
 * parts `make` lists for the open places (kept while the process lives: a handful of them).
 */
function templateFor(
  kind: 'offered' | 'received', csv: number, keys: HtlcScriptKeys, make: (open: OpenPlaces) => [head: ScriptPart[], tail: ScriptPart[]],
): HtlcScriptTemplate {
  const [remoteLength, localLength] = [keys.remoteHtlcPubkey.length, keys.localHtlcPubkey.length];
  if (remoteLength > 255 || localLength > 255) throw new RangeError('BOLT 3 scripts push at most 255 bytes');
  const name = ((csv * 2 + (kind === 'offered' ? 1 : 0)) * 256 + remoteLength) * 256 + localLength;
  let t = templates.get(name);
  if (!t) {
    const open: OpenPlaces = {
      revocationHash: new Uint8Array(20),
      remoteHtlcPubkey: new Uint8Array(remoteLength),
      localHtlcPubkey: new Uint8Array(localLength),
      paymentHash: new Uint8Array(20),
    };
    const [head, tail] = make(open);
    // Where a pushed array's bytes start: after the parts before it and its own push opcode(s).
    const at = (place: Uint8Array) => scriptLength(head.slice(0, head.indexOf(place) + 1)) - place.length;
    t = {
      head: script(...head),
      tail: script(...tail),
      at: { revocationHash: at(open.revocationHash), remoteHtlcPubkey: at(open.remoteHtlcPubkey), localHtlcPubkey: at(open.localHtlcPubkey), paymentHash: at(open.paymentHash) },
    };
    if (templates.size >= 64) templates.clear(); // only an unusual CSV or key length makes more
    templates.set(name, t);
  }
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

/** The template filled (into a range of ./tx.ts's publicSlab): its open places written, then (received HTLCs) cltv_expiry and the tail. */
function fill(t: HtlcScriptTemplate, keys: HtlcScriptKeys, paymentHash: Uint8Array, cltvExpiry?: number): Uint8Array {
  const middle = cltvExpiry === undefined ? 0 : scriptNumberLength(cltvExpiry);
  const out = scriptArrays(t.head.length + middle + t.tail.length);
  out.set(t.head);
  out.set(revocationHash(keys.revocationPubkey), t.at.revocationHash);
  out.set(keys.remoteHtlcPubkey, t.at.remoteHtlcPubkey);
  out.set(keys.localHtlcPubkey, t.at.localHtlcPubkey);
  out.set(paymentHashDigest(paymentHash), t.at.paymentHash);
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
function htlcScriptStart(open: OpenPlaces): ScriptPart[] {
  return [OP_DUP, OP_HASH160, open.revocationHash, OP_EQUAL, OP_IF, OP_CHECKSIG, OP_ELSE, open.remoteHtlcPubkey, OP_SWAP, OP_SIZE, { num: 32 }, OP_EQUAL];
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
  return fill(templateFor('offered', csv, keys, (open) => [
    [
      ...htlcScriptStart(open),
      OP_NOTIF,
      OP_DROP, OP_2, OP_SWAP, open.localHtlcPubkey, OP_2, OP_CHECKMULTISIG,
      OP_ELSE,
      OP_HASH160, open.paymentHash, OP_EQUALVERIFY,
      OP_CHECKSIG,
      OP_ENDIF,
      ...csvDelay(csv),
      OP_ENDIF,
    ],
    [],
  ]), keys, paymentHash);
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
  return fill(templateFor('received', csv, keys, (open) => [
    [
      ...htlcScriptStart(open),
      OP_IF,
      OP_HASH160, open.paymentHash, OP_EQUALVERIFY,
      OP_2, OP_SWAP, open.localHtlcPubkey, OP_2, OP_CHECKMULTISIG,
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
  ]), keys, paymentHash, cltvExpiry);
}
