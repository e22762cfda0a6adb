/**
 * The configuration file through the built CLI (docs/config.md, issue 72 item 5): a mint started
 * with `--config FILE` and nothing else serves; `--print-config` shows the effective settings,
 * where each came from, secrets redacted, and starts nothing; a bad file is one coded line,
 * exit 2, nothing on stdout.
 */
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { run } from './cli.ts';
import { ServeProcess } from './serve-process.ts';

const dir = tempDir('offchain-config-e2e-');
afterAll(() => dir.cleanup());

const MINT_KEY = readFileSync(join(ROOT, 'fixtures/keys/mint.key'), 'utf8').trim();
const ADDRESS = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

function file(name: string, text: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, text);
  return path;
}

describe('serve mint --config FILE alone', () => {
  it('publishes its policy and serves from the file\'s settings: state, key file, listeners', async () => {
    const key = join(dir.path, 'mint.key');
    copyFileSync(join(ROOT, 'fixtures/keys/mint.key'), key);
    chmodSync(key, 0o600);
    const conf = file('mint.conf', [
      '# one file for the mint and its one-shot commands',
      'network=regtest',
      `key_file=${key}`,
      `state_dir=${join(dir.path, 'state')}`,
      '[credit open]',
      'role=mint',
      'publish=true',
      `payout_address=${ADDRESS}`,
      '[serve mint]',
      'listen=127.0.0.1:0',
      'operator_listen=127.0.0.1:0',
      'tip_height=1001',
      'log_level=warn',
      '',
    ].join('\n'));
    const published = run(['credit', 'open', '--config', conf]);
    expect(published.status, published.stderr).toBe(0);
    const svc = await ServeProcess.launch('mint', ['--config', conf], {}, { listen: false });
    try {
      expect(svc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(svc.operator).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const offer = await svc.get('/v1/credit/offer');
      expect(offer.status).toBe(200);
      expect(JSON.parse(offer.text)).toMatchObject({ type: 'credit/offer', network: 'regtest', mint_pubkey: JSON.parse(published.stdout).mint_pubkey });
    } finally {
      expect((await svc.stop()).status).toBe(0);
    }
  }, 60_000);
});

describe('--print-config', () => {
  it('each setting with its value and source; passwords and keys never shown; nothing started or created', () => {
    const state = join(dir.path, 'print-state');
    const conf = file('print.conf', `key_env=MINT_KEY\nmax_connections=100\n[serve mint]\nmax_connections=200\nstate_dir=${state}\nwatch=false\n`);
    const r = run(['serve', 'mint', '--config', conf, '--print-config', '--rate-limit', '5'], {
      env: { MINT_KEY, OFFCHAIN_STORE_URL: 'postgres://mint:hunter2@db.example/mint', OFFCHAIN_TRUST_PROXY: '10.0.0.1' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).not.toContain(MINT_KEY);
    const out = JSON.parse(r.stdout) as { type: string; command: string; file: string; settings: Record<string, { value: unknown; from: string }> };
    expect({ type: out.type, command: out.command, file: out.file }).toEqual({ type: 'config/effective', command: 'serve mint', file: conf });
    expect(out.settings.rate_limit).toEqual({ value: 5, from: 'flag' });
    expect(out.settings.trust_proxy).toEqual({ value: '10.0.0.1', from: 'env OFFCHAIN_TRUST_PROXY' });
    expect(out.settings.store).toEqual({ value: 'postgres://mint:***@db.example/mint', from: 'env OFFCHAIN_STORE_URL' });
    expect(out.settings.max_connections).toEqual({ value: 200, from: `file ${conf} line 4 [serve mint]` });
    expect(out.settings.key_env).toEqual({ value: 'MINT_KEY', from: `file ${conf} line 1` });
    expect(out.settings.watch).toEqual({ value: false, from: `file ${conf} line 6 [serve mint]` });
    expect(out.settings.drain_timeout).toEqual({ value: 30, from: 'default' });
    expect(existsSync(state)).toBe(false);
  });
  it('on the gateway and the statechain operator too', () => {
    for (const role of ['gateway', 'statechain']) {
      const r = run(['serve', role, '--print-config', '--listen', '127.0.0.1:1']);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ command: `serve ${role}`, settings: { listen: { value: '127.0.0.1:1', from: 'flag' } } });
    }
  });
});

describe('a bad configuration file: one coded line, exit 2, nothing on stdout', () => {
  it.each([
    ['an unknown key', 'max_conections=9\n', /E_CONFIG: .*line 1: unknown key "max_conections".*did you mean "max_connections"\?/],
    ['an unknown section', '[serve mnt]\nlisten=127.0.0.1:1\n', /E_CONFIG: .*line 1: no command "serve mnt".*did you mean \[serve mint\]\?/],
    ['a value its flag refuses', '[serve mint]\nmax_connections=lots\n', /E_CONFIG: .*line 2: max_connections: /],
    ['a password in a URL', 'store=postgres://mint:hunter2@db/mint\n', /E_CONFIG: .*line 1: "store" carries a password/],
    ['a line that is no setting', 'listen 127.0.0.1:1\n', /E_CONFIG: .*line 1: expected key=value/],
  ])('%s', (_what, text, message) => {
    const r = run(['serve', 'mint', '--config', file('bad.conf', text), '--print-config']);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // A service's stderr is JSON lines (docs/serve.md), its refusals too: the line's message and code.
    const line = JSON.parse(r.stderr) as { code: string; exit_code: number; msg: string };
    expect({ code: line.code, exit_code: line.exit_code }).toEqual({ code: 'E_CONFIG', exit_code: 2 });
    expect(line.msg).toMatch(message);
    expect(r.stderr).not.toContain('hunter2');
  });
  it('a --config that is not there', () => {
    const r = run(['key', 'show', '--config', join(dir.path, 'missing.conf')]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(/E_CONFIG: cannot read the configuration file .*missing\.conf \(--config\): ENOENT/);
  });
  it('an $OFFCHAIN_<KEY> its flag refuses', () => {
    const r = run(['serve', 'mint', '--print-config'], { env: { OFFCHAIN_MAX_CONNECTIONS: 'lots' } });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(/E_CONFIG: \$OFFCHAIN_MAX_CONNECTIONS: max_connections: /);
  });
});
