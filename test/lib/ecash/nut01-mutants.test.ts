/**
 * NUT-01 mint keys (src/lib/ecash/nut01.ts) pinned where `npm run mutate` found a planted
 * change passing every test (issue 42, deliverable 2): a keyset's settings refused at their
 * exact edges with the field named, Nutshell 0.20.3's defaults taken only for what is absent
 * (0 is a fee, null no expiry), the keys object ordered by amount, and a keys object read
 * strictly (NUT-01: amount string → 33-byte compressed key). Expected keys come from the test
 * code's Nutshell derivation (test/independent/cashu.ts: node:crypto and its own curve);
 * expected refusals from the module's stated rules.
 */
import { describe, expect, it } from 'vitest';
import { nutshellKeyset } from '../../independent/cashu.ts';
import { liftX } from '../../independent/secp256k1.ts';
import { refusal } from '../../setup/refusal.ts';
import { compressed } from '../../../src/lib/ecash/curve.ts';
import {
  NUTSHELL_DEFAULTS, checkSettings, deriveMintKeyset, firstKey, keysAnswer, keysObject, parseKeys, splitPath, withDefaults, type KeysetSettings,
} from '../../../src/lib/ecash/nut01.ts';

const SEED = 'TEST_PRIVATE_KEY';
const NUTSHELL = nutshellKeyset(SEED, "m/0'/0'/3'", { inputFeePpk: 0 });
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ok: KeysetSettings = { ...NUTSHELL_DEFAULTS };
const usage = (s: Partial<KeysetSettings>, message: string) => expect(refusal(() => checkSettings({ ...ok, ...s }), 'E_USAGE', 2).message).toBe(message);
const badKeys = (json: unknown, message: string) => expect(refusal(() => parseKeys(json), 'E_BAD_KEYSET', 3).message).toBe(message);

describe('keyset settings', () => {
  it("Nutshell 0.20.3's defaults", () => {
    expect(NUTSHELL_DEFAULTS).toEqual({ path: "m/0'/0'/0'", unit: 'sat', input_fee_ppk: 100, final_expiry: null, amounts: 64, id_version: '01' });
  });

  it('a path hardened at every step, at least one step', () => {
    expect(checkSettings({ ...ok, path: "m/5'" }).path).toBe("m/5'");
    usage({ path: 'm' }, 'keyset path m must be hardened at every step (m/0\'/0\'/0\')');
    usage({ path: "m/0'/0/0'" }, "keyset path m/0'/0/0' must be hardened at every step (m/0'/0'/0')");
    usage({ path: "m/0'/0'/0" }, "keyset path m/0'/0'/0 must be hardened at every step (m/0'/0'/0')");
    usage({ path: "m/0/0'/0'" }, "keyset path m/0/0'/0' must be hardened at every step (m/0'/0'/0')");
  });

  it('a unit: a lowercase letter then up to 15 lowercase letters or digits', () => {
    for (const unit of ['a', 'usd', 'msat', 'a' + '9'.repeat(15)]) expect(checkSettings({ ...ok, unit }).unit).toBe(unit);
    for (const unit of ['', 'Sat', '1sat', 'a' + '9'.repeat(16), 'sat ', ' sat', 'sa-t', 'sat\n']) usage({ unit }, `unit ${JSON.stringify(unit)} is not a currency unit (lowercase, e.g. sat)`);
  });

  it('a fee: a whole number ≥ 0', () => {
    expect(checkSettings({ ...ok, input_fee_ppk: 0 }).input_fee_ppk).toBe(0);
    for (const input_fee_ppk of [-1, 0.5, 2 ** 53, Number.NaN]) usage({ input_fee_ppk }, `input fee ${input_fee_ppk} ppk is not a whole number ≥ 0`);
  });

  it('a final expiry: null, or unix seconds ≥ 0', () => {
    for (const final_expiry of [null, 0, 1_800_000_000]) expect(checkSettings({ ...ok, final_expiry }).final_expiry).toBe(final_expiry);
    for (const final_expiry of [-1, 1.5, 2 ** 53]) usage({ final_expiry }, `final expiry ${final_expiry} is not unix seconds`);
  });

  it('1–64 amounts', () => {
    for (const amounts of [1, 32, 64]) expect(checkSettings({ ...ok, amounts }).amounts).toBe(amounts);
    for (const amounts of [0, 65, -1, 1.5, Number.NaN]) usage({ amounts }, `a keyset has 1–64 amounts, not ${amounts}`);
  });

  it('withDefaults fills only what is absent: a fee of 0, an expiry of 0 or null, are values', () => {
    expect(withDefaults({})).toEqual(NUTSHELL_DEFAULTS);
    const given: KeysetSettings = { path: "m/1'", unit: 'usd', input_fee_ppk: 0, final_expiry: 0, amounts: 1, id_version: '00' };
    expect(withDefaults(given)).toEqual(given);
    expect(withDefaults({ input_fee_ppk: 0 }).input_fee_ppk).toBe(0);
    expect(withDefaults({ final_expiry: null }).final_expiry).toBe(null);
    expect(withDefaults({ unit: undefined, amounts: undefined })).toEqual(NUTSHELL_DEFAULTS);
  });

  it('splitPath: the last step, unhardened, and the path before it', () => {
    expect(splitPath("m/0'/0'/5'")).toEqual({ prefix: "m/0'/0'", index: 5 });
    expect(splitPath("m/129372'/1967237907'/12'")).toEqual({ prefix: "m/129372'/1967237907'", index: 12 });
    expect(splitPath("m/7'")).toEqual({ prefix: 'm', index: 7 });
  });
});

describe('derived keys', () => {
  it("deriveMintKeyset: PATH/i' for 2^i, as Nutshell derives them, as many as asked", () => {
    const ks = deriveMintKeyset(SEED, { path: "m/0'/0'/3'", amounts: 3, input_fee_ppk: 0 });
    expect([...ks.keys.keys()]).toEqual([1n, 2n, 4n]);
    for (const [a, K] of ks.keys) {
      expect(toHex(K), String(a)).toBe(NUTSHELL.publicKeys.get(a));
      expect(ks.privateKeys.get(a), String(a)).toBe(NUTSHELL.privateKeys.get(a));
      expect(toHex(compressed(ks.points.get(a)!))).toBe(NUTSHELL.publicKeys.get(a));
    }
    expect(ks).toMatchObject({ path: "m/0'/0'/3'", unit: 'sat', input_fee_ppk: 0, final_expiry: null, amounts: 3, id_version: '01' });
    // an id given is kept as given (the caller checks it)
    expect(deriveMintKeyset(SEED, { amounts: 1 }, 'given').id).toBe('given');
    // the seed as bytes is the same seed as its UTF-8 string
    expect(toHex(deriveMintKeyset(Buffer.from(SEED), { path: "m/0'/0'/3'", amounts: 1 }).keys.get(1n)!)).toBe(NUTSHELL.publicKeys.get(1n));
    expect(() => deriveMintKeyset(SEED, { amounts: 0 })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it("firstKey: amount 1's public key at the path", () => {
    expect(firstKey(SEED, "m/0'/0'/3'")).toBe(NUTSHELL.publicKeys.get(1n));
    expect(firstKey(Buffer.from(SEED), "m/0'/0'/3'")).toBe(NUTSHELL.publicKeys.get(1n));
  });
});

describe('the keys object', () => {
  const K1 = NUTSHELL.publicKeys.get(1n)!;
  const K2 = NUTSHELL.publicKeys.get(2n)!;
  const K4 = NUTSHELL.publicKeys.get(4n)!;

  it('keysObject: by amount, also past 2^32 (where an object keeps insertion order)', () => {
    const keys = new Map<bigint, Uint8Array>([[2n ** 40n, Buffer.from(K4, 'hex')], [2n ** 33n, Buffer.from(K2, 'hex')], [2n ** 63n, Buffer.from(K1, 'hex')]]);
    const o = keysObject(keys);
    expect(Object.entries(o)).toEqual([['8589934592', K2], ['1099511627776', K4], ['9223372036854775808', K1]]);
  });

  it('keysAnswer: one active keyset; a fee and expiry not given are 0 and null', () => {
    const keys = new Map<bigint, Uint8Array>([[1n, Buffer.from(K1, 'hex')]]);
    expect(keysAnswer({ id: 'x', unit: 'usd', keys })).toEqual({ keysets: [{ id: 'x', unit: 'usd', active: true, input_fee_ppk: 0, final_expiry: null, keys: { 1: K1 } }] });
    expect(keysAnswer({ id: 'x', unit: 'sat', input_fee_ppk: 7, final_expiry: 0, keys }).keysets[0]).toMatchObject({ input_fee_ppk: 7, final_expiry: 0 });
  });

  it('parseKeys: each amount and key read, as bigint → bytes and points', () => {
    const { keys, points } = parseKeys({ 1: K1, '9223372036854775808': K2 });
    expect([...keys].map(([a, k]) => [a, toHex(k)])).toEqual([[1n, K1], [2n ** 63n, K2]]);
    expect([...points].map(([a, P]) => [a, toHex(compressed(P))])).toEqual([[1n, K1], [2n ** 63n, K2]]);
  });

  it('parseKeys refuses, naming the amount: not a power of two below 2^64, not lowercase compressed hex, not a point', () => {
    for (const json of [null, [K1], 'x', 5]) badKeys(json, 'keys must be an object of amount → public key');
    badKeys({}, 'the keyset has no keys');
    for (const a of ['0', '3', '01', '+1', '1.0', '18446744073709551616', '36893488147419103232', '123456789012345678901', ' 1', '1 ']) {
      badKeys({ [a]: K1 }, `keyset amount ${a} is not a power of two below 2^64`);
    }
    for (const v of [K1.toUpperCase(), K1.slice(0, 64), K1 + '00', 5, null, ' ' + K1.slice(1), K1.slice(0, 65) + 'g', [K1]]) {
      badKeys({ 2: v }, 'the key for amount 2 is not a 33-byte compressed public key in lowercase hex');
    }
    let x = 1n;
    while (liftX(x) !== null) x++; // an x with no point on secp256k1
    for (const v of ['04' + K1.slice(2), '02' + x.toString(16).padStart(64, '0')]) badKeys({ 8: v }, 'the key for amount 8 is not a point on secp256k1');
    // a good key after a bad amount, a bad key after good ones: refused all the same
    badKeys({ 1: K1, 2: K1.toUpperCase() }, 'the key for amount 2 is not a 33-byte compressed public key in lowercase hex');
  });
});
