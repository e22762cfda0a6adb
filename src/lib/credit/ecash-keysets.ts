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
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import { stringifyLine } from '../json.ts';
import { childKey, derivePath, hardened } from '../ecash/bip32.ts';
import { G, bytesToScalar, compressed } from '../ecash/curve.ts';
import { checkSettings, deriveMintKeyset, withDefaults, keysObject, parseKeys, splitPath, type KeysetSettings, type MintKeyset } from '../ecash/nut01.ts';
import { keysetIdMatches, keysetIdVersion, type KeysetIdVersion, type KeysetKeys } from '../ecash/nut02.ts';
import { utf8 } from '../bytes.ts';

/** One keyset as GET /v1/keysets lists it. */
export type LiveKeyset = { id: string; unit: string; active: boolean; input_fee_ppk: number; final_expiry: number | null };

/** What the ecash mint answered: its keysets, and the keys of those the answers carry. */
export type LiveMint = { source: string; keysets: LiveKeyset[]; keys: Map<string, KeysetKeys> };

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

/** Where the settings are set on the ecash mint's side (Nutshell), for the refusal messages. */
const NUTSHELL_NAME: Record<string, string> = {
  seed: 'MINT_PRIVATE_KEY', path: 'MINT_DERIVATION_PATH', index: 'the last step of MINT_DERIVATION_PATH (a rotation increments it)',
  fee: 'MINT_INPUT_FEE_PPK', 'id version': 'the id a keyset was created with: 00 by Nutshell ≤ 0.19, 01 by 0.20', unit: 'the keyset\'s unit',
  'final expiry': 'the rotation\'s final_expiry', amounts: 'max_order',
};

function mismatch(setting: string, message: string): never {
  throw new RefusedError('E_ECASH_KEYSET_MISMATCH', `${setting}: ${message} (the ecash mint: ${NUTSHELL_NAME[setting]}); no token was issued`, { setting });
}

export const short = (id: string) => (id.length > 20 ? `${id.slice(0, 16)}…` : id);

// ——— the ecash mint's answers ———

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const optionalInt = (v: unknown, what: string): number | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MalformedInputError('E_BAD_KEYSET', `${what} is not a whole number ≥ 0`);
  return v;
};

/** GET /v1/keysets (NUT-02): every keyset, its unit, whether active, its fee and final expiry. Ids of unknown versions are kept (never matched). */
export function readKeysetsAnswer(json: unknown, source: string): LiveKeyset[] {
  if (!isObject(json) || !Array.isArray(json['keysets'])) throw new MalformedInputError('E_BAD_KEYSET', `${source}: not a /v1/keysets answer ({"keysets": [...]})`);
  return json['keysets'].map((k, i) => {
    if (!isObject(k) || typeof k['id'] !== 'string' || typeof k['unit'] !== 'string') throw new MalformedInputError('E_BAD_KEYSET', `${source}: keysets[${i}] has no id or unit`);
    if (k['active'] !== undefined && typeof k['active'] !== 'boolean') throw new MalformedInputError('E_BAD_KEYSET', `${source}: keysets[${i}].active is not a boolean`);
    return {
      id: k['id'], unit: k['unit'], active: k['active'] !== false,
      input_fee_ppk: optionalInt(k['input_fee_ppk'], `${source}: keysets[${i}].input_fee_ppk`) ?? 0,
      final_expiry: optionalInt(k['final_expiry'], `${source}: keysets[${i}].final_expiry`),
    };
  });
}

/** GET /v1/keys or /v1/keys/{id} (NUT-01): id → keys, each keys object read strictly. */
export function readKeysAnswer(json: unknown, source: string): Map<string, KeysetKeys> {
  if (!isObject(json) || !Array.isArray(json['keysets'])) throw new MalformedInputError('E_BAD_KEYSET', `${source}: not a /v1/keys answer ({"keysets": [{"id", "keys"}, ...]})`);
  const out = new Map<string, KeysetKeys>();
  for (const [i, k] of json['keysets'].entries()) {
    if (!isObject(k) || typeof k['id'] !== 'string') throw new MalformedInputError('E_BAD_KEYSET', `${source}: keysets[${i}] has no id`);
    out.set(k['id'], parseKeys(k['keys']).keys);
  }
  return out;
}

// ——— derivation, cheaply: the key of amount 1 tells a seed and path apart ———

/** The key of amount 1 at PREFIX/i' for i in `indices`: one child and one multiplication each. */
function firstKeysUnder(seed: Uint8Array, prefix: string, indices: number[]): Map<string, number> {
  const base = derivePath(seed, prefix);
  const out = new Map<string, number>();
  for (const i of indices) out.set(toHex(compressed(G.multiply(bytesToScalar(childKey(childKey(base, hardened(i)), hardened(0)).key)))), i);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
const seedBytes = (seed: string | Uint8Array) => (typeof seed === 'string' ? utf8(seed) : seed);
const amountOne = (keys: KeysetKeys) => (keys.get(1n) ? toHex(keys.get(1n)!) : undefined);

/** Where other mints put their keysets: Nutshell's default prefix, CDK's for sat (m/129372'/{sha256("SAT") mod 2^31}'). */
const KNOWN_PREFIXES = ["m/0'/0'", "m/129372'/1967237907'"];
/** How far past the highest known index a search for a rotated keyset goes. */
export const INDEX_SEARCH = 64;

/** The keys a live keyset needs for a check, or a refusal naming what to pass. */
function liveKeys(live: LiveMint, k: LiveKeyset): KeysetKeys {
  const keys = live.keys.get(k.id);
  if (!keys) throw new UsageError('E_USAGE', `${live.source} lists keyset ${short(k.id)} as active but no keys were given for it: pass the mint's /v1/keys answer (--ecash-keys FILE) or its URL (--ecash-keysets URL)`);
  return keys;
}

/**
 * Why no active keyset of the mint is the one at `path`: another index under the same
 * prefix, another path a mint uses, or (nothing found) another seed. Always throws.
 */
function diagnoseKeys(seed: Uint8Array, path: string, active: { k: LiveKeyset; keys: KeysetKeys }[], source: string): never {
  const wanted = new Map(active.flatMap(({ k, keys }) => (amountOne(keys) ? [[amountOne(keys)!, k] as const] : [])));
  const { prefix, index } = splitPath(path);
  const ids = active.map(({ k }) => short(k.id)).join(', ');
  const mine = firstKeysUnder(seed, prefix, range(0, Math.max(index + 1, INDEX_SEARCH)));
  for (const [key, i] of mine) {
    const k = wanted.get(key);
    if (k) mismatch('index', `the ecash mint's active keyset ${short(k.id)} is at index ${i} (${prefix}/${i}'), not at index ${index} (${path}): name --ecash-path ${prefix}/${i}'`);
  }
  for (const p of KNOWN_PREFIXES.filter((p) => p !== prefix)) {
    for (const [key, i] of firstKeysUnder(seed, p, range(0, INDEX_SEARCH))) {
      const k = wanted.get(key);
      if (k) mismatch('path', `the ecash mint's active keyset ${short(k.id)} is at ${p}/${i}', not under ${prefix}: name --ecash-path ${p}/${i}'`);
    }
  }
  mismatch('seed', `no keyset this seed gives (at ${prefix}/0'…/${Math.max(index + 1, INDEX_SEARCH) - 1}' or ${KNOWN_PREFIXES.filter((p) => p !== prefix).map((p) => `${p}/0'…/${INDEX_SEARCH - 1}'`).join(', ')}) has the keys of ${source}'s active keyset${active.length > 1 ? 's' : ''} ${ids}: the seed is not the mint's`);
}

/** The keyset at `path` must be `k` whole: every key, and the id from the keys and k's metadata. */
function reproduce(seed: Uint8Array, path: string, k: LiveKeyset, keys: KeysetKeys, source: string): MintKeyset {
  const version = keysetIdVersion(k.id);
  if (!version) mismatch('id version', `${source}'s keyset ${k.id} has an id of a version this credit mint does not derive (00 and 01 only)`);
  const ks = deriveMintKeyset(seed, { path, unit: k.unit, input_fee_ppk: k.input_fee_ppk, final_expiry: k.final_expiry, amounts: keys.size, id_version: version }, k.id);
  for (const [a, K] of keys) {
    if (!ks.keys.has(a) || toHex(ks.keys.get(a)!) !== toHex(K)) {
      mismatch('amounts', `${source}'s keyset ${short(k.id)} has ${keys.size} keys whose amounts are not 2^0…2^${keys.size - 1} (the key of ${a} differs at ${path})`);
    }
  }
  if (!keysetIdMatches(k.id, ks.keys, k)) {
    mismatch('id version', `the keys at ${path} are ${source}'s keyset ${short(k.id)}'s, but with its unit ${k.unit}, fee ${k.input_fee_ppk} and final expiry ${k.final_expiry} they do not hash to its id in NUT-02 version ${version}`);
  }
  return ks;
}

/**
 * The keyset the credit mint issues under, from the operator's settings, checked against
 * the ecash mint's answers when given: the active keyset at the settings' path, each named
 * setting equal to what the mint announces. Without answers: the settings alone (Nutshell
 * 0.20.3's defaults for what is not named).
 */
export function settleKeyset(seed: string | Uint8Array, named: NamedSettings, live?: LiveMint): MintKeyset {
  const s = checkSettings(withDefaults(named));
  if (!live) return deriveMintKeyset(seed, s);
  const bytes = seedBytes(seed);
  const active = live.keysets.filter((k) => k.active);
  const ofUnit = active.filter((k) => k.unit === s.unit);
  if (ofUnit.length === 0) {
    if (active.length) mismatch('unit', `${live.source} has no active ${s.unit} keyset (its active keysets are in ${[...new Set(active.map((k) => k.unit))].join(', ')})`);
    throw new RefusedError('E_ECASH_NO_ACTIVE_KEYSET', `${live.source} lists no active keyset: the ecash mint issues nothing, so the credit mint would not either`);
  }
  const withKeys = ofUnit.map((k) => ({ k, keys: liveKeys(live, k) }));
  const mine = firstKeysUnder(bytes, splitPath(s.path).prefix, [splitPath(s.path).index]);
  const target = withKeys.find(({ keys }) => mine.has(amountOne(keys) ?? ''));
  if (!target) diagnoseKeys(bytes, s.path, withKeys, live.source);
  const { k, keys } = target;
  const ks = reproduce(bytes, s.path, k, keys, live.source);
  if (named.id_version !== undefined && named.id_version !== ks.id_version) {
    mismatch('id version', `the ecash mint's active keyset ${short(k.id)} has a version ${ks.id_version} id, these settings make version ${named.id_version} (--ecash-id-version ${ks.id_version})`);
  }
  if (named.input_fee_ppk !== undefined && named.input_fee_ppk !== k.input_fee_ppk) {
    mismatch('fee', `the ecash mint's active keyset ${short(k.id)} charges input_fee_ppk ${k.input_fee_ppk}, these settings say ${named.input_fee_ppk} (--ecash-input-fee-ppk ${k.input_fee_ppk})`);
  }
  if (named.final_expiry !== undefined && (named.final_expiry ?? 0) !== (k.final_expiry ?? 0)) {
    mismatch('final expiry', `the ecash mint's active keyset ${short(k.id)} has final_expiry ${k.final_expiry}, these settings say ${named.final_expiry}`);
  }
  if (named.amounts !== undefined && named.amounts !== keys.size) {
    mismatch('amounts', `the ecash mint's active keyset ${short(k.id)} has ${keys.size} amounts, these settings say ${named.amounts} (--ecash-amounts ${keys.size})`);
  }
  return ks;
}

export function recordOf(ks: MintKeyset, active = true, listed = true): EcashKeysetRecord {
  return {
    id: ks.id, path: ks.path, unit: ks.unit, input_fee_ppk: ks.input_fee_ppk, final_expiry: ks.final_expiry, amounts: ks.amounts, id_version: ks.id_version,
    active, listed, keys: keysObject(ks.keys),
  };
}

/**
 * A rotation followed: the doc's keysets marked as the mint now lists them, and each new
 * active keyset of the unit derived at the next indices under the active keyset's prefix
 * (the keys and the id reproduced, or E_ECASH_KEYSET_MISMATCH). The keyset issued under is
 * the active one at the highest index, as Nutshell's own (`maybe_update_derivation_path`).
 */
export function followKeysets(seed: string | Uint8Array, doc: EcashKeysetsDoc, live: LiveMint): { doc: EcashKeysetsDoc; added: string[] } {
  const bytes = seedBytes(seed);
  const current = doc.keysets.find((k) => k.id === doc.active);
  if (!current) {
    throw new MalformedInputError(
      'E_STATE_CORRUPT',
      `the store's ${ECASH_KEYSETS_DOC} document names ${typeof doc.active === 'string' ? `keyset ${doc.active.slice(0, 16)}` : 'no keyset'} as active but holds no record of it: there is nothing to follow from. ` +
        'Publish the offer again from the ecash mint\'s answers (open-credit --role mint --publish --ecash-keysets URL) and check who writes the mint\'s database',
    );
  }
  const { prefix } = splitPath(current.path);
  const keysets = doc.keysets.map((r) => {
    const l = live.keysets.find((k) => k.id === r.id);
    return { ...r, active: l?.active ?? false, listed: l !== undefined };
  });
  const known = new Set(keysets.map((k) => k.id));
  const used = keysets.filter((k) => splitPath(k.path).prefix === prefix).map((k) => splitPath(k.path).index);
  const fresh = live.keysets.filter((k) => k.active && k.unit === current.unit && !known.has(k.id));
  const added: string[] = [];
  if (fresh.length) {
    const candidates = firstKeysUnder(bytes, prefix, range(0, Math.max(...used) + 1 + INDEX_SEARCH).filter((i) => !used.includes(i)));
    for (const k of fresh) {
      const keys = liveKeys(live, k);
      const i = candidates.get(amountOne(keys) ?? '');
      if (i === undefined) {
        mismatch('index', `${live.source}'s active keyset ${short(k.id)} is at no index 0…${Math.max(...used) + INDEX_SEARCH} under ${prefix} for this seed: the mint's seed or derivation path changed (check it with "credit ecash check")`);
      }
      keysets.push(recordOf(reproduce(bytes, `${prefix}/${i}'`, k, keys, live.source), true, true));
      added.push(k.id);
    }
  }
  const issuing = keysets.filter((k) => k.active && k.unit === current.unit && splitPath(k.path).prefix === prefix).sort((a, b) => splitPath(b.path).index - splitPath(a.path).index)[0];
  if (!issuing) throw new RefusedError('E_ECASH_NO_ACTIVE_KEYSET', `${live.source} lists none of this credit mint's keysets as active any more, and no new active ${current.unit} keyset: nothing to issue under`);
  return { doc: sealKeysetsDoc(bytes, { active: issuing.id, keysets }), added };
}

/**
 * What --publish keeps: the keyset settled from the settings (and checked against the
 * mint's answers), before the keysets a previous publish kept (still signed under for a
 * contract's one payment after a rotation); with the answers, followed to the mint's
 * newest active keyset at once.
 */
export function publishedKeysets(seed: string | Uint8Array, ks: MintKeyset, stored: EcashKeysetsDoc | undefined, live?: LiveMint): { doc: EcashKeysetsDoc; keyset: EcashKeysetRecord } {
  if (ks.unit !== 'sat') throw new UsageError('E_USAGE', `the credit contract pays in sat; keyset ${short(ks.id)} is in ${ks.unit}`);
  const older = (stored?.keysets ?? []).filter((k) => k.id !== ks.id).map((k) => ({ ...k, active: false }));
  let doc: EcashKeysetsDoc = sealKeysetsDoc(seed, { active: ks.id, keysets: [recordOf(ks), ...older] });
  if (live) doc = followKeysets(seed, doc, live).doc;
  return { doc, keyset: doc.keysets.find((k) => k.id === doc.active)! };
}

/** The announcement of a keyset, for a receipt (unsigned: signAnnouncement, ecash-announce.ts, binds it to a contract and state). */
export function announce(r: EcashKeysetRecord): NextKeysetJson {
  return { id: r.id, unit: r.unit, input_fee_ppk: r.input_fee_ppk, final_expiry: r.final_expiry, keys: r.keys };
}

// ——— the credit mint at work ———

/** What the mint's record says it last told a contract to issue under (undefined before its first payment). */
export type ToldByReceipt = { state: number; signatures?: { id: string }[]; next_keyset?: { id: string } } | undefined;

/**
 * The keysets a running credit mint signs with: the store's document read at each
 * request (so a `credit ecash follow` reaches a running stream), each keyset derived from
 * the seed once and checked against its stored id and keys before its first use.
 */
export class EcashSigner {
  private cache = new Map<string, MintKeyset>();
  private doc: EcashKeysetsDoc | undefined;

  /** A signer over keysets already derived, the first active (library tests and benchmarks: no seed to derive from; its document sealed under the empty seed). */
  static fixed(...keysets: MintKeyset[]): EcashSigner {
    const signer = new EcashSigner('', async () => sealKeysetsDoc('', { active: keysets[0]!.id, keysets: keysets.map((k, i) => recordOf(k, i === 0)) }));
    for (const k of keysets) signer.cache.set(k.id, k);
    return signer;
  }

  constructor(
    private readonly seed: string,
    private readonly load: () => Promise<EcashKeysetsDoc>,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The document as stored now — its MAC this seed's (checkKeysetsDoc) unless `sealed` is false — and its active keyset (derived and checked: a wrong seed refuses here, before anything is signed). */
  async refresh(sealed = true): Promise<{ doc: EcashKeysetsDoc; active: MintKeyset }> {
    const doc = await this.load();
    // The active keyset first: another seed than the mint's is E_WRONG_KEY (what the operator got wrong), not a changed document.
    const active = this.keyset(doc.keysets.find((k) => k.id === doc.active)!);
    // Unsealed only for `credit ecash follow`, which rebuilds the document from the ecash mint's answers and seals it.
    this.doc = sealed ? checkKeysetsDoc(this.seed, doc) : doc;
    return { doc: this.doc, active };
  }

  /** The keyset of a record, derived once from the seed; the seed must reproduce its keys and id. */
  keyset(r: EcashKeysetRecord): MintKeyset {
    const cached = this.cache.get(r.id);
    if (cached) return cached;
    const ks = deriveMintKeyset(this.seed, r, r.id);
    const same = Object.keys(r.keys).length === ks.keys.size && [...ks.keys].every(([a, K]) => r.keys[a.toString()] === toHex(K));
    if (!same || !keysetIdMatches(r.id, ks.keys, r)) {
      throw new UsageError('E_WRONG_KEY', `this ecash seed does not give keyset ${short(r.id)} (at ${r.path}), the one this credit mint issues under: pass the ecash mint's own seed (Nutshell: MINT_PRIVATE_KEY)`, { setting: 'seed' });
    }
    this.cache.set(r.id, ks);
    return ks;
  }

  /**
   * Every keyset this credit mint keeps — the active one and each it issued under before a
   * rotation, listed by the ecash mint or not — by id, each derived from the seed and checked
   * at its first use (E_WRONG_KEY): what NUT-09 restore answers under (ecash-restore.ts).
   */
  async kept(): Promise<{ ids: string[]; keyset(id: string): MintKeyset | undefined }> {
    const { doc } = await this.refresh();
    return {
      ids: doc.keysets.map((k) => k.id),
      keyset: (id) => {
        const r = doc.keysets.find((k) => k.id === id);
        return r ? this.keyset(r) : undefined;
      },
    };
  }

  /**
   * The keyset a request's outputs are signed under, and the announcement its receipt
   * carries: the active keyset; or, if the ecash mint still lists it and it has not
   * expired, the one this contract's last payment was signed under or the one its receipt
   * announced (any listed one before its first payment), and then the receipt announces
   * the active one. The last payment's keyset stays allowed although its receipt announced
   * another: an announcement dropped on its way (a relay, a lost answer) must not leave the
   * user unable to pay; it is announced again until the user adopts it. Anything else: the
   * active keyset, which the outputs' check refuses (E_UNKNOWN_KEYSET), or E_KEYSET_INACTIVE.
   */
  async forRequest(told: ToldByReceipt, outputs: { id: string }[] | undefined): Promise<{ keyset: MintKeyset; announce?: NextKeysetJson }> {
    const { doc, active } = await this.refresh();
    const id = outputs?.[0]?.id;
    if (id === undefined || id === active.id) return { keyset: active };
    const r = doc.keysets.find((k) => k.id === id);
    if (!r) return { keyset: active };
    const activeRecord = doc.keysets.find((k) => k.id === doc.active)!;
    if (!r.listed) throw new RefusedError('E_KEYSET_INACTIVE', `keyset ${short(id)} is no longer listed by the ecash mint (its tokens would not redeem): make the outputs under keyset ${short(active.id)}`);
    if (r.final_expiry && r.final_expiry * 1000 <= this.now()) throw new RefusedError('E_KEYSET_INACTIVE', `keyset ${short(id)} expired at ${r.final_expiry}: make the outputs under keyset ${short(active.id)}`);
    const last = told?.signatures?.[0]?.id;
    const announced = told?.next_keyset?.id;
    if (told && id !== last && id !== announced) {
      throw new RefusedError('E_KEYSET_INACTIVE', `the outputs name keyset ${short(id)}, which the ecash mint no longer issues under; the receipt of state ${told.state} told this contract to use ${short(announced ?? last ?? active.id)}`);
    }
    return { keyset: this.keyset(r), announce: announce(activeRecord) };
  }
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
