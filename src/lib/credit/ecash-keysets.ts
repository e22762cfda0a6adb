/**
 * The ecash mint's keysets, as the credit mint knows them (docs/ecash.md, "The live
 * keyset"). The credit mint signs ecash with the private keys of the mint it fronts, so
 * its tokens redeem only if it signs under a keyset that mint announces, under the id the
 * mint announces (NUT-02 v00 or v01, the latter committing to unit, fee and final expiry).
 *
 * Invariants (tested in test/lib/credit/ecash-keysets.test.ts and test/nutshell/):
 * - Nothing is issued under a keyset the credit mint did not reproduce: the keys derived
 *   from its seed at the keyset's path, with the keyset's unit, fee and final expiry, hash
 *   to the id the ecash mint announced (or, without the live mint, the id the operator's
 *   settings make). A mismatch refuses with the setting that differs: seed, path, index,
 *   unit, fee, final expiry, amounts or id version (E_ECASH_KEYSET_MISMATCH), before any
 *   token exists.
 * - Outputs are signed under the ecash mint's active keyset; under an older one only while
 *   the ecash mint still lists it and only for a contract that has not moved past it (its
 *   last payment was signed under it, or its last receipt announced it). A receipt signed
 *   under another keyset than the active one carries the active one (`next_keyset`: id,
 *   unit, fee, expiry, keys), signed by the mint's key for that contract and state, for the
 *   user to check (signature, then keys against the id) and adopt — again on every such
 *   receipt, so an announcement dropped on its way costs the user nothing.
 * - Following a rotation writes public data only (ids, paths, fees, keys); the private
 *   keys are derived from the seed at use and never stored.
 * - The store is not the authority on which keyset to issue under: the document carries a
 *   MAC (HMAC-SHA256 under a key derived from the ecash seed, which the store never sees)
 *   made by whoever wrote it from the ecash mint's answers (--publish, follow); the signer
 *   checks it at every read and signs nothing under a document without it
 *   (E_STATE_CORRUPT). Each record's keys are self-consistent to anyone (public keys,
 *   NUT-02), so without the MAC a writer of the database could have the mint issue — and
 *   announce, signed — the same keys under an id the ecash mint never announced (its v00
 *   id, another fee or expiry): tokens the ecash mint does not know. A document written
 *   before it was sealed is sealed by `credit ecash follow` (which checks it against the
 *   mint's answers) or a new --publish.
 *
 *   who       step            in                                checks                                              written                out
 *   operator  publish/check   settings (+ the mint's answers)   derive; reproduce the mint's active keyset          keysets doc, offer     credit/offer | credit/ecash-check
 *   operator  follow          keysets doc + the mint's answers  new active keysets derived at the next indices     keysets doc, offer     credit/ecash-keysets
 *   mint      update-request  outputs under keyset K            K active, or K listed and the contract's last      (the payment's rows)   receipt (+ next_keyset if K is not active)
 *                                                               payment's or announced keyset
 *   user      receipt         next_keyset                       the mint's signature; keys hash to the id; unit    record: next keyset    credit/balance
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { utf8 } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { stringifyLine } from '../json.ts';
import { keysObject, type KeysetSettings, type MintKeyset } from '../ecash/nut01.ts';
import { keysetIdVersion } from '../ecash/nut02.ts';

/** A keyset the credit mint reproduced, as it keeps it: public data only. */
export type EcashKeysetRecord = KeysetSettings & {
  id: string;
  /** The ecash mint issues under it (as last seen). */
  active: boolean;
  /** The ecash mint still lists it (its tokens redeem). */
  listed: boolean;
  keys: Record<string, string>;
};

/** The credit mint's store document 'ecash-keysets' (`mac`: sealKeysetsDoc). */
export type EcashKeysetsDoc = { active: string; keysets: EcashKeysetRecord[]; mac?: string };

/** The MAC key: tagged SHA-256 of the ecash seed (the seed itself never keys anything but BIP-32). */
const docMacKey = (seed: string | Uint8Array) => schnorr.utils.taggedHash('offchain/credit/v1/ecash-keysets-mac', seedBytes(seed));
const docMac = (seed: string | Uint8Array, doc: EcashKeysetsDoc) =>
  createHmac('sha256', docMacKey(seed)).update(stringifyLine({ active: doc.active, keysets: doc.keysets })).digest('hex');

/** The document with the MAC of the seed that derived its keysets (its writers: --publish, follow). */
export function sealKeysetsDoc(seed: string | Uint8Array, doc: EcashKeysetsDoc): EcashKeysetsDoc {
  const { mac: _m, ...body } = doc;
  return { ...body, mac: docMac(seed, body) };
}

/** The document as this seed's holder wrote it, or E_STATE_CORRUPT (exit 3): nothing is issued under it. */
export function checkKeysetsDoc(seed: string | Uint8Array, doc: EcashKeysetsDoc): EcashKeysetsDoc {
  const want = Buffer.from(docMac(seed, doc), 'hex');
  const got = typeof doc.mac === 'string' && /^[0-9a-f]{64}$/.test(doc.mac) ? Buffer.from(doc.mac, 'hex') : undefined;
  if (!got || !timingSafeEqual(want, got)) {
    throw new MalformedInputError(
      'E_STATE_CORRUPT',
      `the store's ${ECASH_KEYSETS_DOC} document ${got ? 'was changed by someone without the ecash seed' : 'carries no MAC of this ecash seed (changed by someone without it, or written before documents were sealed)'}: nothing is issued under it. ` +
        'Rebuild it from the ecash mint\'s answers: offchain credit ecash follow --ecash-keysets URL (and check who writes the mint\'s database)',
    );
  }
  return doc;
}

/**
 * The announcement a receipt carries when the next payment is to use another keyset, signed
 * by the mint's key for this contract and state: a relay that swapped it for a keyset of its
 * own (a valid id for other keys) would leave the user unable to pay in ecash.
 */
export type NextKeysetJson = { id: string; unit: string; input_fee_ppk: number; final_expiry: number | null; keys: Record<string, string>; sig?: string };

/** The settings the operator named; anything left undefined is taken from the mint's answers (or, without them, Nutshell's defaults). */
export type NamedSettings = Partial<KeysetSettings>;

export const ECASH_KEYSETS_DOC = 'ecash-keysets';

export const short = (id: string) => (id.length > 20 ? `${id.slice(0, 16)}…` : id);

export const seedBytes = (seed: string | Uint8Array) => (typeof seed === 'string' ? utf8(seed) : seed);

export function recordOf(ks: MintKeyset, active = true, listed = true): EcashKeysetRecord {
  return {
    id: ks.id, path: ks.path, unit: ks.unit, input_fee_ppk: ks.input_fee_ppk, final_expiry: ks.final_expiry, amounts: ks.amounts, id_version: ks.id_version,
    active, listed, keys: keysObject(ks.keys),
  };
}

/** The announcement of a keyset, for a receipt (unsigned: signAnnouncement, ecash-announce.ts, binds it to a contract and state). */
export function announce(r: EcashKeysetRecord): NextKeysetJson {
  return { id: r.id, unit: r.unit, input_fee_ppk: r.input_fee_ppk, final_expiry: r.final_expiry, keys: r.keys };
}


/**
 * The document of a store published before keysets were kept (an offer naming one v00
 * keyset): that keyset, at the path the operator gives. Unsealed: the stored offer is the
 * database's word, so nothing is issued under it (E_STATE_CORRUPT) until `credit ecash
 * follow` has checked it against the ecash mint's answers and sealed the document.
 */
export function legacyKeysetsDoc(offer: { keyset_id: string; unit: string; keys: Record<string, string>; input_fee_ppk?: number; final_expiry?: number | null }, path: string): EcashKeysetsDoc {
  const version = keysetIdVersion(offer.keyset_id) ?? '00';
  return {
    active: offer.keyset_id,
    keysets: [{
      id: offer.keyset_id, path, unit: offer.unit, input_fee_ppk: offer.input_fee_ppk ?? 0, final_expiry: offer.final_expiry ?? null,
      amounts: Object.keys(offer.keys).length, id_version: version, active: true, listed: true, keys: offer.keys,
    }],
  };
}
