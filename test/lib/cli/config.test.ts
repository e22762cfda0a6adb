/**
 * The configuration file's state_dir: `~` is the home directory (no shell reads the file,
 * so nothing else would expand it); other values are kept as written.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers.ts';
import { applyConfigFile } from '../../../src/lib/cli/config.ts';

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
