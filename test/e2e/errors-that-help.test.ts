/**
 * Errors that help (docs/cli.md), through the built CLI: one stderr line, a stable code,
 * the brief's exit code, nothing on stdout.
 *
 *   - a JSON error in a pretty-printed message is reported at its line and column of the
 *     whole document (not "line 1 … position 1" as if it were JSON Lines), naming the
 *     flag the file came from;
 *   - a missing file, or a directory, given to any file flag is E_INPUT_FILE (exit 2)
 *     naming that flag — not "--in", and the same code whatever the flag;
 *   - a directory as --key-file says so (not "chmod 600 DIR");
 *   - `help <unknown>` and `autocomplete fish` are coded one-line errors, not oclif's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { run, type Run } from './cli.ts';
import { runInProcess } from './in-process.ts';

const dir = tempDir('offchain-errors-help-');
afterAll(() => dir.cleanup());
const PSBT = 'fixtures/psbt/musig-keypath-unsigned.psbt';

function oneLine(r: Run, exitCode: number, code: string): string {
  expect(r.stdout).toBe('');
  expect(r.status, r.stderr).toBe(exitCode);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: `));
  return lines[0]!;
}

describe('JSON errors name the line and column of the whole document', () => {
  // What the tool writes and users hand-edit: pretty-printed, here missing the comma after "version": 1.
  const bad = join(dir.path, 'offer.json');
  writeFileSync(bad, '{\n  "type": "credit/offer",\n  "version": 1\n  "network": "regtest"\n}\n');

  it('on standard input', () => {
    const line = oneLine(run(['psbt', 'decode'], { input: '{\n  "type": "credit/offer",\n  "version": 1\n  "network": "regtest"\n}\n' }), 3, 'E_MALFORMED_JSON');
    expect(line).toBe("offchain: error E_MALFORMED_JSON: the input is not valid JSON at line 4, column 3: Expected ',' or '}' after property value");
  });

  it('in a file a flag names (--offer), naming the flag', () => {
    const line = oneLine(run(['open-credit', '--role', 'user', '--offer', bad, '--refund-address', 'x', '--in', PSBT]), 3, 'E_MALFORMED_JSON');
    expect(line).toBe(`offchain: error E_MALFORMED_JSON: --offer ${bad} is not valid JSON at line 4, column 3: Expected ',' or '}' after property value`);
  });
});

describe('a file flag that names no readable file: E_INPUT_FILE, exit 2, naming the flag', () => {
  const missing = join(dir.path, 'no-such-file');
  const folder = join(dir.path, 'a-directory');
  mkdirSync(folder);

  it.each([
    ['--offer', ['open-credit', '--role', 'user', '--refund-address', 'x', '--in', PSBT]],
    ['--lock', ['ptlc', 'lock-check']],
    // Was E_USAGE with another wording (issue 28).
    ['--funding', ['statechain-deposit', '--in', 'fixtures/statechain/deposit-offer.json']],
    // Was E_INTERNAL (issue 28): read with readFileSync, its ENOENT unmapped.
    ['--claim-tx', ['ptlc', 'extract', '--in', 'fixtures/ptlc/presigned.json', '--ptlc', 'fixtures/ptlc/created.json', '--secret-out', join(dir.path, 't.hex')]],
  ])('%s: missing, then a directory', async (flag, args) => {
    // --offer through the built CLI as a process, the other flags the same bundle in this process (in-process.ts).
    const go = (a: string[]) => (flag === '--offer' ? run(a) : runInProcess(a));
    expect(oneLine(await go([...args, flag, missing]), 2, 'E_INPUT_FILE')).toBe(`offchain: error E_INPUT_FILE: cannot read ${flag} ${missing}: no such file (ENOENT)`);
    expect(oneLine(await go([...args, flag, folder]), 2, 'E_INPUT_FILE')).toBe(`offchain: error E_INPUT_FILE: cannot read ${flag} ${folder}: it is a directory, not a file`);
  });

  it('--in: the same code and words', () => {
    expect(oneLine(run(['psbt', 'decode', '--in', missing], { env: { OFFCHAIN_FAST_PATHS: '0' } }), 2, 'E_INPUT_FILE')).toBe(`offchain: error E_INPUT_FILE: cannot read --in ${missing}: no such file (ENOENT)`);
  });

  it('a directory as --key-file says it is a directory (no chmod advice)', () => {
    const line = oneLine(run(['key', 'show', '--key-file', folder]), 2, 'E_KEY_FILE');
    expect(line).toBe(`offchain: error E_KEY_FILE: cannot read --key-file ${folder}: it is a directory; give the file holding the key`);
  });
});

describe('help and completion for what does not exist', () => {
  it('help <unknown command>: E_UNKNOWN_COMMAND, exit 2', () => {
    expect(oneLine(run(['help', 'nope']), 2, 'E_UNKNOWN_COMMAND')).toBe('offchain: error E_UNKNOWN_COMMAND: "nope" is not an offchain command; see offchain --help');
    expect(oneLine(run(['help', 'credit', 'nope']), 2, 'E_UNKNOWN_COMMAND')).toContain('"credit nope" is not an offchain command');
  });

  it('autocomplete fish: E_USAGE naming the shells there are, exit 2', () => {
    expect(oneLine(run(['autocomplete', 'fish']), 2, 'E_USAGE')).toBe('offchain: error E_USAGE: Expected fish to be one of: zsh, bash, powershell (see --help)');
  });
});
