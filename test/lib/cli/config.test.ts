/**
 * The configuration file's state_dir: `~` is the home directory (no shell reads the file,
 * so nothing else would expand it); other values are kept as written.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers.ts';
import { applyConfigFile } from '../../../src/lib/cli/config.ts';
import { ClnRpc } from '../../../src/lib/lightning/cln-rpc.ts';

const dir = tempDir('offchain-config-');
afterAll(() => dir.cleanup());

function stateDirFrom(line: string, preset: Record<string, string> = {}): string | undefined {
  const path = join(dir.path, 'config');
  writeFileSync(path, `${line}\n`);
  const env: NodeJS.ProcessEnv = { OFFCHAIN_CONFIG: path, ...preset };
  applyConfigFile(env, '/home/operator');
  return env.OFFCHAIN_STATE_DIR;
}

describe('state_dir in the configuration file', () => {
  it('~/x is under the home directory', () => {
    expect(stateDirFrom('state_dir=~/x')).toBe('/home/operator/x');
  });

  it('~ alone is the home directory', () => {
    expect(stateDirFrom('state_dir=~')).toBe('/home/operator');
  });

  it('an absolute path, a relative one and ~user are kept as written', () => {
    expect(stateDirFrom('state_dir=/var/lib/offchain')).toBe('/var/lib/offchain');
    expect(stateDirFrom('state_dir=rel/dir')).toBe('rel/dir');
    expect(stateDirFrom('state_dir=~other/x')).toBe('~other/x');
  });

  it('the environment still wins over the file', () => {
    expect(stateDirFrom('state_dir=~/x', { OFFCHAIN_STATE_DIR: '/from/env' })).toBe('/from/env');
  });
});

describe('lightning_rpc in the configuration file (gateway pay --lightning-rpc)', () => {
  const socketFrom = (line: string, preset: Record<string, string> = {}) => {
    const path = join(dir.path, 'config');
    writeFileSync(path, `${line}\n`);
    const env: NodeJS.ProcessEnv = { OFFCHAIN_CONFIG: path, ...preset };
    applyConfigFile(env, '/home/operator');
    return env.OFFCHAIN_LIGHTNING_RPC;
  };
  it('fills $OFFCHAIN_LIGHTNING_RPC, ~/ under the home directory; the environment wins', () => {
    expect(socketFrom('lightning_rpc=~/.lightning/bitcoin/lightning-rpc')).toBe('/home/operator/.lightning/bitcoin/lightning-rpc');
    expect(socketFrom('lightning_rpc=/run/cln/lightning-rpc')).toBe('/run/cln/lightning-rpc');
    expect(socketFrom('lightning_rpc=/run/cln/lightning-rpc', { OFFCHAIN_LIGHTNING_RPC: '/from/env' })).toBe('/from/env');
  });
});

describe('store and store_password_file in the configuration file (--store, --store-password-file)', () => {
  const envFrom = (text: string, preset: Record<string, string> = {}) => {
    const path = join(dir.path, 'config');
    writeFileSync(path, text);
    const env: NodeJS.ProcessEnv = { OFFCHAIN_CONFIG: path, ...preset };
    applyConfigFile(env, '/home/operator');
    return env;
  };
  it('fill $OFFCHAIN_STORE_URL and $OFFCHAIN_STORE_PASSWORD_FILE (~/ under the home directory); the environment wins', () => {
    const env = envFrom('store=postgres://mint@db.example/mint?sslmode=verify-full\nstore_password_file=~/db.pass\n');
    expect({ url: env.OFFCHAIN_STORE_URL, file: env.OFFCHAIN_STORE_PASSWORD_FILE }).toEqual({ url: 'postgres://mint@db.example/mint?sslmode=verify-full', file: '/home/operator/db.pass' });
    expect(envFrom('store=postgres://a@h/d\n', { OFFCHAIN_STORE_URL: 'postgres://env@h/d' }).OFFCHAIN_STORE_URL).toBe('postgres://env@h/d');
  });
  it('a store URL carrying a password is refused (E_CONFIG, exit 2), the password not echoed', () => {
    for (const url of ['postgres://mint:hunter2@db/mint', 'postgres://mint@db/mint?password=hunter2', 'postgres://mint:hun/ter2@db/mint']) {
      let err: { code?: string; exitCode?: number; message?: string } = {};
      try {
        envFrom(`store=${url}\n`);
      } catch (e) {
        err = e as typeof err;
      }
      expect({ code: err.code, exit: err.exitCode }, url).toEqual({ code: 'E_CONFIG', exit: 2 });
      expect(err.message).not.toMatch(/hun/);
    }
  });
});

describe('rpc_cookie in the configuration file (issue 41: a setting an operator repeats on every command)', () => {
  it('fills $OFFCHAIN_RPC_COOKIE, ~ expanded; the environment still wins', () => {
    const path = join(dir.path, 'config-cookie');
    writeFileSync(path, 'rpc_url=http://127.0.0.1:8332/\nrpc_cookie=~/.bitcoin/.cookie\n');
    const env: NodeJS.ProcessEnv = { OFFCHAIN_CONFIG: path };
    applyConfigFile(env, '/home/operator');
    expect(env.OFFCHAIN_RPC_COOKIE).toBe('/home/operator/.bitcoin/.cookie');
    const preset: NodeJS.ProcessEnv = { OFFCHAIN_CONFIG: path, OFFCHAIN_RPC_COOKIE: '/from/env' };
    applyConfigFile(preset, '/home/operator');
    expect(preset.OFFCHAIN_RPC_COOKIE).toBe('/from/env');
  });
});

describe('a mistyped key and the errors that name a setting (issue 41)', () => {
  const refusal = (text: string) => {
    const path = join(dir.path, 'config');
    writeFileSync(path, text);
    try {
      applyConfigFile({ OFFCHAIN_CONFIG: path }, '/home/operator');
    } catch (e) {
      return e as { code?: string; exitCode?: number; message: string };
    }
    throw new Error('accepted');
  };
  it('an unknown key is still refused (E_CONFIG, exit 2), with the key it was probably meant to be', () => {
    expect(refusal('lightning_prc=/run/x\n')).toMatchObject({ code: 'E_CONFIG', exitCode: 2 });
    expect(refusal('lightning_prc=/run/x\n').message).toContain('unknown key "lightning_prc"; did you mean "lightning_rpc"?');
    expect(refusal('rpc_ur=http://x/\n').message).toContain('did you mean "rpc_url"?');
    expect(refusal('peer=http://x/\n').message).not.toContain('did you mean');
  });
  it('a Lightning node that cannot be reached: the socket\'s flag, environment variable and key named', async () => {
    const e = await new ClnRpc(join(dir.path, 'no-such-socket'), 2000).call('getinfo', {}).catch((x: Error) => x);
    expect(e).toMatchObject({ code: 'E_LIGHTNING_UNREACHABLE' });
    expect((e as Error).message).toContain('--lightning-rpc, $OFFCHAIN_LIGHTNING_RPC or lightning_rpc= in the configuration file');
  });
});
