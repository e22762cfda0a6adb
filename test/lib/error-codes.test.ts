/**
 * One exit class per error code (issue 41): every code src/ names is in the table
 * (src/lib/error-codes.ts), every throw site that test code can resolve exits as its code's
 * class allows, and docs/cli.md's code list is the table's (generated, like schemas/).
 * The scan of src/ is test code (error-codes-scan.ts), not the table's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { ERROR_CODES, EXIT_CLASSES } from '../../src/lib/error-codes.ts';
import { errorCodesSection, withErrorCodes } from '../../scripts/error-codes-doc.ts';
import { scanErrorCodes, type Site } from './error-codes-scan.ts';

const { codes, sites } = scanErrorCodes(ROOT);

/** The prefixes of a wallet PSBT's codes (src/lib/tx/wallet-psbt.ts WalletPsbtRole.code): E_TOPUP → E_TOPUP_INPUT, E_TOPUP_OUTPUT. */
const ROLE_PREFIXES = ['E_FEE_PSBT', 'E_TOPUP', 'E_WALLET_PSBT'];

const disagrees = (s: Site) => !(EXIT_CLASSES[ERROR_CODES[s.code]!]?.exits as readonly number[] | undefined)?.includes(s.exit);

describe('error codes: one exit class each (src/lib/error-codes.ts)', () => {
  it('the scan finds what it is meant to (a scan that finds nothing cannot pass)', () => {
    expect(codes.size).toBeGreaterThan(400);
    expect(sites.length).toBeGreaterThan(1000);
    // A direct throw, a file's helper, an OffchainError with its exit, a subclass's super().
    const at = (code: string, via: string) => sites.find((s) => s.code === code && s.via === via)?.exit;
    expect(at('E_MUSIG_PARTICIPANTS', 'MalformedInputError')).toBe(3);
    expect(at('E_ALREADY_PAID', 'refuse')).toBe(4);
    expect(at('E_STEP_TIMEOUT', 'OffchainError')).toBe(1);
    expect(at('E_CONTENT_TYPE', 'OffchainError')).toBe(2);
    expect(at('E_OUTPUT_WRITE', 'super')).toBe(1);
    expect(at('E_TRUC_VERSION', 'TrucRefusal')).toBe(4);
  });

  it('every code src/ names is in the table', () => {
    const missing = [...codes.keys()].filter((c) => ERROR_CODES[c] === undefined && !ROLE_PREFIXES.includes(c)).sort();
    expect(
      missing,
      `src/ names error code(s) the table does not have: ${missing.map((c) => `${c} (${codes.get(c)![0]})`).join(', ')}. ` +
        "Add each to ERROR_CODES in src/lib/error-codes.ts with its one exit class (docs/cli.md's classes), then run `npm run -s error-codes` to regenerate docs/cli.md.",
    ).toEqual([]);
  });

  it('every code in the table is named in src/ or bin/run.js (a code derived from a role prefix, E_WALLET_PSBT → E_WALLET_PSBT_INPUT, counts)', () => {
    const src = (p: string) => readFileSync(join(ROOT, p), 'utf8');
    const derivedSuffixes = new Set([...src('src/lib/tx/wallet-psbt.ts').matchAll(/\$\{role\.code\}_([A-Z]+)/g), ...src('src/lib/truc/fee-input.ts').matchAll(/\$\{role\.code\}_([A-Z]+)/g)].map((m) => m[1]!));
    const prefixes = ROLE_PREFIXES;
    expect(prefixes.every((p) => codes.has(p)), 'the role prefixes are still in src/').toBe(true);
    const derived = new Set(prefixes.flatMap((p) => [...derivedSuffixes].map((s) => `${p}_${s}`)));
    // The entry's own codes (E_NODE_VERSION: said before any of src/ is loaded).
    const entry = new Set([...src('bin/run.js').matchAll(/error (E_[A-Z0-9_]+):/g)].map((m) => m[1]!));
    expect(entry.has('E_NODE_VERSION'), 'the scan of bin/run.js finds its codes').toBe(true);
    const stale = Object.keys(ERROR_CODES).filter((c) => !codes.has(c) && !derived.has(c) && !entry.has(c));
    expect(stale, 'codes in the table that src/ no longer emits: remove them').toEqual([]);
  });

  it('every resolvable throw site exits as its code\'s class allows (malformed: 2 in a flag, 3 in the input)', () => {
    const wrong = sites.filter(disagrees);
    expect(
      wrong.map((s) => `${s.file}:${s.line} throws ${s.code} with exit ${s.exit} (${s.via}); the table says ${ERROR_CODES[s.code]}`),
      'one code, one class: throw the class the table names, or give the other meaning its own code',
    ).toEqual([]);
  });

  it('the table is sorted (one line per code, so branches adding codes merge cleanly)', () => {
    const text = readFileSync(join(ROOT, 'src/lib/error-codes.ts'), 'utf8');
    const listed = [...text.matchAll(/^ {2}(E_[A-Z0-9_]+): '/gm)].map((m) => m[1]!);
    expect(listed.length).toBe(Object.keys(ERROR_CODES).length);
    expect(listed).toEqual([...listed].sort());
  });

  it('docs/cli.md lists exactly the table (run `npm run -s error-codes` after changing it)', () => {
    const page = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    expect(page).toContain(errorCodesSection());
    expect(withErrorCodes(page)).toBe(page);
    for (const [code, cls] of Object.entries(ERROR_CODES)) expect(page).toContain(`| \`${code}\` | ${cls} |`);
  });
});
