/**
 * Which secp256k1 library a one-shot command runs on when $OFFCHAIN_SECP256K1 is unset
 * (src/lib/cli/base-command.ts `curveWork`): a command whose work is curve arithmetic (a
 * credit step, an onion) loads the system's libsecp256k1 when test code can load it too;
 * any other command (a route plan, a single-key HTLC claim) never loads it; a library
 * that cannot be opened is a silent fallback (no warning, the same answer), and
 * $OFFCHAIN_SECP256K1=noble keeps it out. Observed from outside the product: the child's
 * own memory map (/proc/self/maps, written at exit by a preload of this test) names the
 * shared object when it was loaded.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { installed } from '../setup/backends.ts';
import { BIN, assertFreshBuild, cleanEnv } from './cli.ts';

const LIBSECP = await installed('libsecp256k1');
const LINUX = process.platform === 'linux';

const dir = tempDir('offchain-one-shot-backend-');
const PRELOAD = join(dir.path, 'maps.cjs');
writeFileSync(PRELOAD, `process.on('exit', () => {
  const fs = require('node:fs');
  const mapped = /libsecp256k1\\.so/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
  // koffi through the require bin/run.js lends (its CommonJS entry), not import() (its ES module one).
  const required = Object.keys(require.cache).some((k) => /[\\/]koffi[\\/]index\\.cjs$/.test(k));
  fs.writeFileSync(process.env.MAPS_OUT, JSON.stringify({ libsecp: mapped ? 'loaded' : 'not loaded', koffi: required ? 'required' : 'not required' }));
});\n`);

const OUTPOINT = `${'5f'.repeat(32)}:0`;
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const BOB_KEY = readFileSync(join(ROOT, 'fixtures/keys/bob.key'), 'utf8').trim();

/** The command's stdout and stderr, exit status, and whether libsecp256k1.so was mapped in it at exit. */
function observe(args: string[], extra: Record<string, string> = {}) {
  const out = join(dir.path, `maps-${Math.random().toString(16).slice(2)}`);
  const r = spawnSync(process.execPath, ['--require', PRELOAD, BIN, ...args], {
    cwd: ROOT,
    env: cleanEnv({ MAPS_OUT: out, BOB_KEY, ...extra }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ...(JSON.parse(readFileSync(out, 'utf8')) as { libsecp: string; koffi: string }) };
}

const ONION_BUILD = ['onion', 'build', '--session-key-file', 'fixtures/onion/session.key', '--in', 'fixtures/onion/route.json'];

describe.skipIf(!LINUX)('a one-shot command picks its secp256k1 library by its work', () => {
  beforeAll(() => assertFreshBuild());
  afterAll(() => dir.cleanup());

  it.skipIf(!LIBSECP)('curve work (onion build, onion peel) loads the system libsecp256k1 (SKIPPED only if test code cannot load it)', () => {
    expect(observe(ONION_BUILD)).toMatchObject({ status: 0, stderr: '', libsecp: 'loaded', koffi: 'required' });
    expect(observe(['onion', 'peel', '--key-file', 'fixtures/onion/hop1.key', '--in', 'fixtures/onion/packet.json'])).toMatchObject({ status: 0, libsecp: 'loaded' });
  });

  it('a command without it never loads it: route plan, a single-key HTLC claim', () => {
    expect(observe(['route', 'plan', '--in', 'fixtures/route/seed-request.json'])).toMatchObject({ status: 0, libsecp: 'not loaded' });
    const claim = observe(['htlc', 'claim', '--key-env', 'BOB_KEY', '--outpoint', OUTPOINT, '--preimage-file', 'fixtures/htlc/preimage.hex', '--to', TO, '--fee-rate', '2', '--in', 'fixtures/htlc/seed.json']);
    expect(claim).toMatchObject({ status: 0, libsecp: 'not loaded' });
  });

  it('OFFCHAIN_SECP256K1=noble keeps it out, a library that cannot be opened is a silent fallback, and the bytes are the same', () => {
    const chosen = observe(ONION_BUILD);
    const noble = observe(ONION_BUILD, { OFFCHAIN_SECP256K1: 'noble' });
    const missing = observe(ONION_BUILD, { OFFCHAIN_LIBSECP256K1: join(dir.path, 'no-such-libsecp256k1.so') });
    expect(noble).toMatchObject({ status: 0, stderr: '', libsecp: 'not loaded' });
    expect(missing).toMatchObject({ status: 0, stderr: '', libsecp: 'not loaded' });
    expect(chosen.stdout).not.toBe('');
    expect(noble.stdout).toBe(chosen.stdout);
    expect(missing.stdout).toBe(chosen.stdout);
  });
});
