/**
 * Reproducing the ecash mint's keysets from its seed (docs/ecash.md, "The live
 * keyset"; invariants in ecash-keysets.ts): the keyset the credit mint issues under,
 * settled from the operator's settings and checked against the mint's answers (a
 * mismatch names the setting that differs), a rotation followed at the next indices, and
 * what --publish keeps. Derivation is cheap where it can be: the key of amount 1 tells a
 * seed, path and index apart. The signer that uses the result is ecash-signer.ts.
 */
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, UsageError } from '../errors.ts';
import { childKey, derivePath, hardened } from '../ecash/bip32.ts';
import { bytesToScalar, compressed, mulBase } from '../ecash/curve.ts';
import { checkSettings, deriveMintKeyset, withDefaults, splitPath, type MintKeyset } from '../ecash/nut01.ts';
import { keysetIdMatches, keysetIdVersion, type KeysetKeys } from '../ecash/nut02.ts';
import type { LiveKeyset, LiveMint } from './ecash-answers.ts';
import { ECASH_KEYSETS_DOC, recordOf, sealKeysetsDoc, seedBytes, short, type EcashKeysetRecord, type EcashKeysetsDoc, type NamedSettings } from './ecash-keysets.ts';

/** Where the settings are set on the ecash mint's side (Nutshell), for the refusal messages. */
const NUTSHELL_NAME: Record<string, string> = {
  seed: 'MINT_PRIVATE_KEY', path: 'MINT_DERIVATION_PATH', index: 'the last step of MINT_DERIVATION_PATH (a rotation increments it)',
  fee: 'MINT_INPUT_FEE_PPK', 'id version': 'the id a keyset was created with: 00 by Nutshell ≤ 0.19, 01 by 0.20', unit: 'the keyset\'s unit',
  'final expiry': 'the rotation\'s final_expiry', amounts: 'max_order',
};

function mismatch(setting: string, message: string): never {
  throw new RefusedError('E_ECASH_KEYSET_MISMATCH', `${setting}: ${message} (the ecash mint: ${NUTSHELL_NAME[setting]}); no token was issued`, { setting });
}

/** The key of amount 1 at PREFIX/i' for i in `indices`: one child and one multiplication each. */
function firstKeysUnder(seed: Uint8Array, prefix: string, indices: number[]): Map<string, number> {
  const base = derivePath(seed, prefix);
  const out = new Map<string, number>();
  for (const i of indices) out.set(toHex(compressed(mulBase(bytesToScalar(childKey(childKey(base, hardened(i)), hardened(0)).key)))), i);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
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
