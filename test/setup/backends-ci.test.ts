/**
 * .ci/run's libsecp256k1 step on a machine without the library: it may try apt-get, it
 * says what it did, and it never stops the run — `npm ci` and `npm test` still run, with
 * the libsecp256k1 tests skipping. Run with stand-ins on PATH for ldconfig (an empty
 * cache), apt-get (fails, after reading its stdin to the end as a prompt would) and npm
 * (prints what it was asked), so nothing is installed and no suite starts. On linux-x64, where
 * npm ci installs Node 22 and 26 beside 24, the run requires them (OFFCHAIN_NODE_LINES_REQUIRED).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';

function ciRun(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const bin = tempDir('offchain-ci-run-');
  try {
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin.path, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin.path, name), 0o755);
    };
    stub('ldconfig', 'exit 0');
    stub('apt-get', 'cat >/dev/null; echo "apt-get $*" >&2; exit 100');
    stub('npm', 'echo "npm $* (node lines required: ${OFFCHAIN_NODE_LINES_REQUIRED:-no})"');
    const { OFFCHAIN_LIBSECP256K1: _named, OFFCHAIN_LIBSECP256K1_REQUIRED: _required, ...rest } = process.env;
    const r = spawnSync('bash', [join(ROOT, '.ci/run')], { env: { ...rest, PATH: `${bin.path}:${process.env.PATH}`, ...env }, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    bin.cleanup();
  }
}

describe('.ci/run without libsecp256k1', () => {
  it('no library and no way to install it: the run goes on to npm ci and npm test, saying the libsecp256k1 tests skip', () => {
    const r = ciRun({});
    expect(r.stdout).toMatch(/^libsecp256k1: (apt-get could not install libsecp256k1-1 \(\d+ s\); going on without it|not found, and no apt-get as root to install it)$/m);
    expect(r.stdout).toMatch(/^libsecp256k1 for the libsecp256k1 backend: none \(its tests skip\)\nnode on PATH: \S+ v\d+\.\d+\.\d+\nnpm ci \(node lines required: (1|no)\)\nnpm test \(node lines required: (1|no)\)\n$/m);
    const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
    expect(r.stdout).toContain(`npm test (node lines required: ${linuxX64 ? '1' : 'no'})`);
    expect(r.status).toBe(0);
  });

  it(`OFFCHAIN_LIBSECP256K1 naming a file that is not there: the same`, () => {
    const r = ciRun({ OFFCHAIN_LIBSECP256K1: '/nonexistent/libsecp256k1.so.1' });
    expect(r.stdout).toMatch(/^libsecp256k1 for the libsecp256k1 backend: none \(its tests skip\)\nnode on PATH: \S+ v\d+\.\d+\.\d+\nnpm ci \(node lines required: (1|no)\)\nnpm test \(node lines required: (1|no)\)\n$/m);
    expect(r.status).toBe(0);
  });
});
