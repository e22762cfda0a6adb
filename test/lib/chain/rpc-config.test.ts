import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.ts';
import { DEFAULT_RPC_TIMEOUT_MS, defaultCookiePath, defaultRpcPort, resolveRpcConfig } from '../../../src/lib/chain/rpc-config.ts';
import type { RpcConfigInput } from '../../../src/lib/chain/rpc-config.ts';
import type { Network } from '../../../src/lib/network.ts';

const HOME = '/home/op';
const base = (over: Partial<RpcConfigInput> = {}): RpcConfigInput => ({ env: {}, network: 'regtest', home: HOME, ...over });

function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('resolveRpcConfig', () => {
  it.each([
    ['mainnet', 8332, '/home/op/.bitcoin/.cookie'],
    ['testnet', 18332, '/home/op/.bitcoin/testnet3/.cookie'],
    ['testnet4', 48332, '/home/op/.bitcoin/testnet4/.cookie'],
    ['signet', 38332, '/home/op/.bitcoin/signet/.cookie'],
    ['regtest', 18443, '/home/op/.bitcoin/regtest/.cookie'],
  ] as const)('%s defaults: port %i, cookie %s', (network: Network, port, cookie) => {
    expect(defaultRpcPort(network)).toBe(port);
    expect(defaultCookiePath(network, HOME)).toBe(cookie);
    expect(resolveRpcConfig(base({ network }))).toEqual({
      url: `http://127.0.0.1:${port}/`,
      network,
      auth: { cookieFile: cookie },
      timeoutMs: DEFAULT_RPC_TIMEOUT_MS,
    });
  });

  it('uses the macOS data directory on darwin', () => {
    expect(defaultCookiePath('signet', '/Users/op', 'darwin')).toBe('/Users/op/Library/Application Support/Bitcoin/signet/.cookie');
  });

  it('adds the network default port only when the URL has none', () => {
    const url = (u: string, network: Network = 'regtest') => resolveRpcConfig(base({ url: u, network })).url;
    expect(url('http://node.lan')).toBe('http://node.lan:18443/');
    expect(url('http://node.lan', 'testnet4')).toBe('http://node.lan:48332/');
    expect(url('node.lan')).toBe('http://node.lan:18443/');
    expect(url('10.0.0.2:9999')).toBe('http://10.0.0.2:9999/');
    expect(url('http://[::1]')).toBe('http://[::1]:18443/');
    expect(url('http://[::1]:8000/')).toBe('http://[::1]:8000/');
    // An explicit :80 stays 80 (URL would otherwise drop it as the scheme default).
    expect(url('http://node.lan:80')).toBe('http://node.lan/');
    expect(url('https://node.lan/wallet/w')).toBe('https://node.lan:18443/wallet/w');
  });

  it('takes the URL from OFFCHAIN_RPC_URL when no flag is given; the flag wins', () => {
    const env = { OFFCHAIN_RPC_URL: 'http://envhost:1234' };
    expect(resolveRpcConfig(base({ env })).url).toBe('http://envhost:1234/');
    expect(resolveRpcConfig(base({ env, url: 'http://flaghost:1' })).url).toBe('http://flaghost:1/');
  });

  it('refuses credentials in the URL without echoing them', () => {
    for (const url of ['http://alice:hunter2secret@127.0.0.1:18443', 'alice:hunter2secret@127.0.0.1', 'http://alice@127.0.0.1']) {
      const e = usageError(() => resolveRpcConfig(base({ url })));
      expect(e.code).toBe('E_RPC_URL_CREDENTIALS');
      expect(e.message).not.toContain('hunter2secret');
      expect(e.message).toContain('ps');
    }
    const e = usageError(() => resolveRpcConfig(base({ env: { OFFCHAIN_RPC_URL: 'http://u:hunter2secret@h' } })));
    expect(e.message).toContain('OFFCHAIN_RPC_URL');
    expect(e.message).not.toContain('hunter2secret');
  });

  it('refuses malformed and non-http URLs', () => {
    expect(usageError(() => resolveRpcConfig(base({ url: 'http://[nope' }))).code).toBe('E_RPC_URL');
    expect(usageError(() => resolveRpcConfig(base({ url: 'ftp://host' }))).code).toBe('E_RPC_URL');
  });

  it('auth order: --rpc-cookie, then user/password env, then OFFCHAIN_RPC_COOKIE, then the default cookie', () => {
    const userPass = { OFFCHAIN_RPC_USER: 'alice', OFFCHAIN_RPC_PASSWORD: 'pw' };
    expect(resolveRpcConfig(base({ cookieFile: '/c', env: userPass })).auth).toEqual({ cookieFile: '/c' });
    expect(resolveRpcConfig(base({ env: userPass })).auth).toEqual({ user: 'alice', password: 'pw' });
    expect(resolveRpcConfig(base({ env: { OFFCHAIN_RPC_COOKIE: '/env/.cookie' } })).auth).toEqual({ cookieFile: '/env/.cookie' });
    expect(resolveRpcConfig(base({ env: { OFFCHAIN_RPC_COOKIE: '~/x/.cookie' } })).auth).toEqual({ cookieFile: '/home/op/x/.cookie' });
    expect(resolveRpcConfig(base({ env: { OFFCHAIN_RPC_USER: '', OFFCHAIN_RPC_PASSWORD: '' } })).auth).toEqual({
      cookieFile: '/home/op/.bitcoin/regtest/.cookie',
    });
  });

  it('refuses half or conflicting credentials, never printing the password', () => {
    const onlyPassword = usageError(() => resolveRpcConfig(base({ env: { OFFCHAIN_RPC_PASSWORD: 'hunter2secret' } })));
    expect(onlyPassword.code).toBe('E_RPC_CONFIG');
    expect(onlyPassword.message).toContain('OFFCHAIN_RPC_USER');
    expect(onlyPassword.message).not.toContain('hunter2secret');
    const both = usageError(() =>
      resolveRpcConfig(base({ env: { OFFCHAIN_RPC_USER: 'a', OFFCHAIN_RPC_PASSWORD: 'hunter2secret', OFFCHAIN_RPC_COOKIE: '/c' } })),
    );
    expect(both.code).toBe('E_RPC_CONFIG');
    expect(both.message).not.toContain('hunter2secret');
  });

  it('validates the timeout', () => {
    expect(resolveRpcConfig(base({ timeoutMs: 500 })).timeoutMs).toBe(500);
    expect(usageError(() => resolveRpcConfig(base({ timeoutMs: 0 }))).code).toBe('E_RPC_CONFIG');
  });
});
