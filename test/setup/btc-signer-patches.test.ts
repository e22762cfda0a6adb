/**
 * scripts/btc-signer-patches.mjs, the change the build makes to @scure/btc-signer, held to what it
 * replaces: applied to the installed btc-signer's own file (an upgrade that changes the patched
 * function fails here as it fails the build), the patched module is loaded beside the original
 * (from a temporary directory whose node_modules is ours) and the two `validatePubkey` compared:
 * the same answer for valid keys of both types and for keys that are no point, asked once and
 * again (a failure is never remembered), and a key remembered as one type still refused as the
 * other.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BTC_SIGNER_PATCHES, rememberValidKeys } from '../../scripts/btc-signer-patches.mjs';
import { ROOT } from '../helpers.ts';

const UTILS = join(ROOT, 'node_modules', '@scure', 'btc-signer', 'utils.js');
type Validate = (pub: Uint8Array, type: string) => Uint8Array;
type Utils = { validatePubkey: Validate; PubT: { ecdsa: string; schnorr: string } };

let dir: string;
let original: Utils;
let patched: Utils;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'offchain-btc-signer-patch-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'utils.mjs'), rememberValidKeys(UTILS, readFileSync(UTILS, 'utf8')));
  original = (await import('@scure/btc-signer/utils.js')) as unknown as Utils;
  patched = (await import(pathToFileURL(join(dir, 'utils.mjs')).href)) as Utils;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
/** What a call gives: the same array back, or its error's class and message. */
const answer = (f: Validate, pub: Uint8Array, type: string) => {
  try {
    return f(pub, type) === pub ? 'the key' : 'another array';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};

describe('the btc-signer patch of the build', () => {
  it('applies to the installed btc-signer only where it says, and refuses a text it does not know, naming the file', () => {
    const before = readFileSync(UTILS, 'utf8');
    const after = rememberValidKeys(UTILS, before);
    expect(after).not.toBe(before);
    // The original check is all there, renamed: only the lines of the remembering wrapper were added.
    expect(after.replace(/const __validPubkeys[\s\S]*?\nfunction __checkPubkey\(pub, type\) \{/, 'export function validatePubkey(pub, type) {')).toBe(before);
    expect(BTC_SIGNER_PATCHES).toHaveLength(1);
    expect(() => rememberValidKeys('x/utils.js', 'export function validatePubkey(pub) {')).toThrow(/x\/utils\.js: btc-signer's key check changed; review scripts\/btc-signer-patches\.mjs rememberValidKeys/);
  });

  it('answers as the original, once and again: valid keys, keys that are no point, a key of the other type', () => {
    const { ecdsa, schnorr } = original.PubT;
    const G = '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
    const cases: [string, string][] = [
      [`02${G}`, ecdsa],
      [`03${G}`, ecdsa],
      [G, schnorr],
      ['02' + '00'.repeat(31) + '05', ecdsa], // x = 5: no y on the curve
      ['00'.repeat(31) + '05', schnorr],
      ['ff'.repeat(32), schnorr], // x ≥ p
      [G, ecdsa], // 32 bytes asked as a compressed key: refused though remembered as x-only
      [`04${G}`, ecdsa], // a prefix no compressed key has
    ];
    for (let round = 0; round < 3; round++) {
      for (const [key, type] of cases) {
        const expected = answer(original.validatePubkey, hex(key), type);
        expect(answer(patched.validatePubkey, hex(key), type), `${key} as ${type}, round ${round}`).toBe(expected);
      }
    }
    expect(answer(patched.validatePubkey, hex(`02${G}`), ecdsa)).toBe('the key');
    expect(answer(patched.validatePubkey, hex('02' + '00'.repeat(31) + '05'), ecdsa)).not.toBe('the key');
  });
});
