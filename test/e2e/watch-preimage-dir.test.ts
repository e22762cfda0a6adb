/**
 * `offchain watch --preimage-dir` as an operator runs it (the built CLI, a channel party's fixture
 * state directory, offline: --once --dry-run --tip-height): what lands in the directory — a FIFO, a
 * link to /dev/zero, a file too big, bad hex, a file others may read — is skipped and said on
 * standard error, one line per file naming it and never its content, and the round goes on (exit 0,
 * its report on stdout). A directory the watcher cannot read, or one given without the htlc_basepoint
 * secret that claims with its preimages, is refused at the start: one coded line, exit 2, nothing on
 * stdout.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { run } from './cli.ts';

const R = readFileSync(join(ROOT, 'fixtures/bolt3/local-htlc.key'), 'utf8').trim(); // Alice's revocation and htlc basepoint secret
const TO = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const GOOD = '5a'.repeat(32);
const BAD_HEX = 'zq'.repeat(32);
const READABLE = '6b'.repeat(32);

describe('offchain watch --preimage-dir, what lands in the directory', () => {
  const t = tempDir('offchain-e2e-preimage-dir-');
  const state = join(t.path, 'alice');
  cpSync(join(ROOT, 'fixtures/bolt3/alice-state-dir'), state, { recursive: true });
  const drop = join(t.path, 'drop');
  mkdirSync(drop);
  const args = (dir: string, keys = ['--htlc-key-env', 'R']) => ['watch', '--once', '--dry-run', '--state-dir', state, '--tip-height', '900', '--revocation-key-env', 'R', ...keys, '--preimage-dir', dir, '--sweep-to', TO, '--network', 'regtest'];

  it('bad files skipped and said by name (never their content), the round goes on: exit 0, the report on stdout', () => {
    execFileSync('mkfifo', [join(drop, 'fifo')]);
    symlinkSync('/dev/zero', join(drop, 'zero'));
    writeFileSync(join(drop, 'big'), '0'.repeat(4096), { mode: 0o600 });
    writeFileSync(join(drop, 'bad-hex'), BAD_HEX, { mode: 0o600 });
    writeFileSync(join(drop, 'readable'), READABLE, { mode: 0o644 });
    writeFileSync(join(drop, 'good'), GOOD, { mode: 0o600 });
    const r = run(args(drop), { env: { R }, timeoutMs: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).type).toBe('watch/report');
    const said = r.stderr.split('\n').filter((l) => l.includes('--preimage-dir'));
    expect(said.map((l) => /--preimage-dir \S+\/(\S+) skipped/.exec(l)?.[1]).sort()).toEqual(['bad-hex', 'big', 'fifo', 'readable', 'zero']);
    for (const secret of [GOOD, BAD_HEX, READABLE, R]) expect(r.stderr + r.stdout).not.toContain(secret);
  });

  it('its config key, preimage_dir, as every flag: the directory read from the file, its bad files said the same', () => {
    const cfg = join(t.path, 'offchain.conf');
    writeFileSync(cfg, `[watch]\npreimage_dir=${drop}\n`);
    const r = run([...args(drop).filter((a, i, all) => a !== '--preimage-dir' && all[i - 1] !== '--preimage-dir'), '--config', cfg], { env: { R }, timeoutMs: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--preimage-dir \S+\/bad-hex skipped/);
  });

  it('refused at the start: a directory the watcher cannot read (E_USAGE), or no htlc_basepoint secret to claim with (E_USAGE naming --htlc-key-env)', () => {
    const missing = run(args(join(t.path, 'no-such-dir')), { env: { R } });
    expect([missing.status, missing.stdout]).toEqual([2, '']);
    expect(missing.stderr).toMatch(/E_USAGE: --preimage-dir \S+no-such-dir: not a directory the watcher can read \(ENOENT\)/);
    const noKey = run(args(drop, []), { env: { R } });
    expect([noKey.status, noKey.stdout]).toEqual([2, '']);
    expect(noKey.stderr).toMatch(/E_USAGE: --preimage-dir claims HTLCs with the htlc_basepoint secret: pass --htlc-key-env/);
  });
});
