/**
 * The error line (src/lib/cli/error-line.ts, issue 41): an echoed value is cut short, and
 * --json-errors / OFFCHAIN_JSON_ERRORS=1 make the line one JSON object in the services' shape.
 */
import { describe, expect, it } from 'vitest';
import { clipEchoes, errorLine, jsonErrorsWanted } from '../../../src/lib/cli/error-line.ts';

describe('the error line', () => {
  it('a value of 100 kB in a message comes back as its first 80 characters and its length', () => {
    const value = 'y'.repeat(100_000);
    const line = errorLine('E_USAGE', `Expected --network=${value} to be one of: regtest`, 2, { json: false });
    expect(line).toBe(`offchain: error E_USAGE: Expected --network=${'y'.repeat(70)}… (100010 bytes) to be one of: regtest\n`);
    expect(line.length).toBeLessThan(200);
  });

  it('prose, a txid, a public key and a path are left as they are', () => {
    const m = `payment ${'ab'.repeat(32)} of 02${'cd'.repeat(32)} in /tmp/offchain-x/mint/regtest is not in flight`;
    expect(clipEchoes(m)).toBe(m);
  });

  it('--json-errors: one JSON line, the shape of a service refusal, the same code and exit code', () => {
    const line = errorLine('E_INPUT_FILE', 'cannot read --in x: ENOENT', 2, { json: true });
    expect(line.endsWith('\n') && line.indexOf('\n') === line.length - 1).toBe(true);
    expect(JSON.parse(line)).toEqual({ type: 'error', version: 1, code: 'E_INPUT_FILE', exit_code: 2, message: 'cannot read --in x: ENOENT' });
  });

  it('asked for by the flag (before any --) or OFFCHAIN_JSON_ERRORS=1, nothing else', () => {
    expect(jsonErrorsWanted(['node', 'run.js', 'psbt', 'analyze', '--json-errors'], {})).toBe(true);
    expect(jsonErrorsWanted(['node', 'run.js', 'psbt', 'analyze'], { OFFCHAIN_JSON_ERRORS: '1' })).toBe(true);
    expect(jsonErrorsWanted(['node', 'run.js', 'psbt', 'analyze'], { OFFCHAIN_JSON_ERRORS: '0' })).toBe(false);
    expect(jsonErrorsWanted(['node', 'run.js', 'x', '--', '--json-errors'], {})).toBe(false);
  });
});
