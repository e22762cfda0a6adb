/**
 * --json-errors / OFFCHAIN_JSON_ERRORS=1 through the built CLI (issue 41): every path that
 * reports an error — an unknown command, oclif's parse error, a command's own — writes one JSON line on standard error with the code and exit code it
 * has without the flag; standard output stays empty.
 */
import { describe, expect, it } from 'vitest';
import { run } from './cli.ts';

const PSBT = 'fixtures/psbt/musig-keypath-unsigned.psbt';
const CASES: [what: string, args: string[], code: string][] = [
  ['an unknown command', ['credit', 'lst'], 'E_UNKNOWN_COMMAND'],
  ['a flag oclif refuses', ['psbt', 'analyze', '--network', 'moon', '--in', PSBT], 'E_USAGE'],
  ['a malformed flag value (hexFlag)', ['gateway', 'fail', '--payment-hash', 'zz', '--state-dir', 'no-such-dir'], 'E_BAD_HEX'],
];

describe('--json-errors: the coded line as one JSON line, nothing else changed', () => {
  it.each(CASES.map((c, i) => [...c, i] as const))('%s', (_what, args, code, i) => {
    const plain = run(args);
    expect(plain.stderr).toMatch(new RegExp(`^offchain: error ${code}: `));
    // The flag on each; the environment variable on the first (the same reader decides both: error-line.test.ts).
    for (const r of [run([...args, '--json-errors']), ...(i === 0 ? [run(args, { env: { OFFCHAIN_JSON_ERRORS: '1' } })] : [])]) {
      expect(r.status).toBe(plain.status);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
      const error = JSON.parse(r.stderr);
      expect(error).toEqual({ type: 'error', version: 1, code, exit_code: plain.status, message: plain.stderr.replace(`offchain: error ${code}: `, '').trimEnd() });
    }
  });
});
