/**
 * A result that cannot be written is a failure, coded like every other (BRIEF §2):
 * standard output on /dev/full (every write ENOSPC) gives exit 1 and one stderr line
 * `offchain: error E_OUTPUT_WRITE: …` — through the `psbt decode` shortcut, through the
 * full CLI, for a message command and for oclif's own help text — never exit 0, never
 * Node's report of an uncaught error (the minified bundle's source line, ~22 KB, and a
 * stack). A reader that closed the pipe (EPIPE, `| head`) is the one quiet case: no
 * message, exit 0, as Unix tools treat it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { BIN, assertFreshBuild, cleanEnv } from './cli.ts';

const PSBT = 'fixtures/psbt/musig-keypath-unsigned.psbt';
const ROUTE = 'fixtures/route/seed-request.json';

/** Run with stdout on /dev/full: exit status and stderr. */
function toFullDisk(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  assertFreshBuild();
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['pipe', full, 'pipe'], env: cleanEnv(env), cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stderr: r.stderr };
  } finally {
    closeSync(full);
  }
}

function expectOutputWriteError(r: { status: number | null; stderr: string }): void {
  expect(r.status, r.stderr.slice(0, 400)).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr.slice(0, 400)).toHaveLength(1);
  expect(lines[0]).toMatch(/^offchain: error E_OUTPUT_WRITE: cannot write the result to standard output: no space left on the device \(ENOSPC\)/);
}

describe.skipIf(!existsSync('/dev/full'))('standard output that cannot be written (/dev/full)', () => {
  it('psbt decode through its shortcut: exit 1, E_OUTPUT_WRITE, one line', () => {
    expectOutputWriteError(toFullDisk(['psbt', 'decode', '--in', PSBT]));
  });

  it('psbt decode through the full CLI: exit 1, E_OUTPUT_WRITE, one line (no bundle source, no stack)', () => {
    expectOutputWriteError(toFullDisk(['psbt', 'decode', '--in', PSBT], { OFFCHAIN_FAST_PATHS: '0' }));
  });

  it('a message command (route plan) and the --psbt form (psbt finalize): the same', () => {
    expectOutputWriteError(toFullDisk(['route', 'plan', '--in', ROUTE]));
    expectOutputWriteError(toFullDisk(['psbt', 'finalize', '--psbt', '--in', 'fixtures/psbt/musig-keypath-signed.psbt']));
  });

  it('help written by oclif (--help, help COMMAND): the same', () => {
    expectOutputWriteError(toFullDisk(['psbt', 'decode', '--help']));
    expectOutputWriteError(toFullDisk(['help', 'credit', 'list']));
  });

  it('a command that failed first keeps its own error and exit code (no second line)', () => {
    const r = toFullDisk(['psbt', 'decode', '--in', 'no/such/file.psbt']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('E_OUTPUT_WRITE');
  });
});

describe('a reader that closed the pipe (EPIPE) is the quiet case', () => {
  /** Spawn with stdout a pipe whose reading end we close at once: the child's write meets EPIPE. */
  async function withReaderGone(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stderr: string }> {
    assertFreshBuild();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv(env), cwd: ROOT });
    child.stdout.destroy();
    child.stdin.end();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { status, stderr };
  }

  it.each([
    ['the shortcut', {}],
    ['the full CLI', { OFFCHAIN_FAST_PATHS: '0' }],
  ])('psbt decode through %s: exit 0, nothing on stderr', async (_name, env) => {
    const r = await withReaderGone(['psbt', 'decode', '--in', PSBT], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
