/**
 * Where the Bitcoin Core node is and how to authenticate, resolved from flags and an
 * environment given as a plain object (the library never reads `process.env`), the
 * way `bitcoin-cli` does it: cookie file by default, user/password when configured.
 *
 * Order (first match wins):
 *   URL:  --rpc-url, then OFFCHAIN_RPC_URL, then http://127.0.0.1:<network's port>.
 *         A URL without a port gets the network's default port (Core's -rpcport defaults).
 *   Auth: --rpc-cookie, then OFFCHAIN_RPC_USER + OFFCHAIN_RPC_PASSWORD, then
 *         OFFCHAIN_RPC_COOKIE, then the default cookie ~/.bitcoin/<chain dir>/.cookie.
 *
 * Credentials in the URL (`http://user:pass@host`) are refused: argv is visible to every
 * user in `ps`, and a URL tends to end up in logs and error messages.
 *
 * Not done: reading bitcoin.conf (`rpcuser`, `rpccookiefile`, `datadir`); a node with a
 * custom datadir needs --rpc-cookie. Windows default data directories are not guessed.
 */
import { posix } from 'node:path';
import { UsageError } from '../errors.ts';
import type { Network } from '../network.ts';

export type RpcAuth = { cookieFile: string } | { user: string; password: string };

export interface RpcConfig {
  /** Normalised http(s) URL with an explicit port; never carries credentials. */
  url: string;
  network: Network;
  auth: RpcAuth;
  timeoutMs: number;
}

export interface RpcConfigInput {
  /** --rpc-url */
  url?: string | undefined;
  /** --rpc-cookie */
  cookieFile?: string | undefined;
  /** The process environment, or any subset of it. */
  env: Readonly<Record<string, string | undefined>>;
  network: Network;
  /** The user's home directory (os.homedir()), for the default cookie path and `~/`. */
  home: string;
  timeoutMs?: number | undefined;
  /** process.platform; only 'darwin' changes the default data directory. */
  platform?: string | undefined;
}

/** bitcoin-cli's -rpcclienttimeout is 900 s; a command waiting on one answer needs far less. */
export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

export const ENV_RPC_URL = 'OFFCHAIN_RPC_URL';
export const ENV_RPC_USER = 'OFFCHAIN_RPC_USER';
export const ENV_RPC_PASSWORD = 'OFFCHAIN_RPC_PASSWORD';
export const ENV_RPC_COOKIE = 'OFFCHAIN_RPC_COOKIE';

/** Core's default -rpcport per chain (chainparamsbase.cpp). */
export function defaultRpcPort(network: Network): number {
  switch (network) {
    case 'mainnet':
      return 8332;
    case 'testnet':
      return 18332;
    case 'testnet4':
      return 48332;
    case 'signet':
      return 38332;
    case 'regtest':
      return 18443;
  }
}

/** The chain's subdirectory of the data directory ('' for mainnet), as Core names it. */
export function chainDataSubdir(network: Network): string {
  switch (network) {
    case 'mainnet':
      return '';
    case 'testnet':
      return 'testnet3';
    case 'testnet4':
      return 'testnet4';
    case 'signet':
      return 'signet';
    case 'regtest':
      return 'regtest';
  }
}

/** Core's default cookie file: <default datadir>/<chain subdir>/.cookie. */
export function defaultCookiePath(network: Network, home: string, platform = 'linux'): string {
  const datadir = platform === 'darwin' ? posix.join(home, 'Library', 'Application Support', 'Bitcoin') : posix.join(home, '.bitcoin');
  return posix.join(datadir, chainDataSubdir(network), '.cookie');
}

export function resolveRpcConfig(input: RpcConfigInput): RpcConfig {
  const { env, network, home } = input;
  const fromFlag = nonEmpty(input.url);
  const rawUrl = fromFlag ?? nonEmpty(env[ENV_RPC_URL]);
  const source = fromFlag !== undefined ? '--rpc-url' : ENV_RPC_URL;
  const url = rawUrl === undefined ? `http://127.0.0.1:${defaultRpcPort(network)}/` : normaliseUrl(rawUrl, network, source);
  const timeoutMs = input.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new UsageError('E_RPC_CONFIG', `the RPC timeout must be a positive number of milliseconds, got ${timeoutMs}`);
  }
  return { url, network, auth: resolveAuth(input), timeoutMs };
}

function resolveAuth(input: RpcConfigInput): RpcAuth {
  const { env, home } = input;
  const flagCookie = nonEmpty(input.cookieFile);
  if (flagCookie !== undefined) return { cookieFile: expandHome(flagCookie, home) };
  const user = nonEmpty(env[ENV_RPC_USER]);
  const password = nonEmpty(env[ENV_RPC_PASSWORD]);
  const envCookie = nonEmpty(env[ENV_RPC_COOKIE]);
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined) {
      throw new UsageError(
        'E_RPC_CONFIG',
        `set both ${ENV_RPC_USER} and ${ENV_RPC_PASSWORD} (only ${user === undefined ? ENV_RPC_PASSWORD : ENV_RPC_USER} is set), or neither to use the cookie file`,
      );
    }
    if (envCookie !== undefined) {
      throw new UsageError('E_RPC_CONFIG', `set either ${ENV_RPC_USER}/${ENV_RPC_PASSWORD} or ${ENV_RPC_COOKIE}, not both`);
    }
    return { user, password };
  }
  if (envCookie !== undefined) return { cookieFile: expandHome(envCookie, home) };
  return { cookieFile: defaultCookiePath(input.network, home, input.platform) };
}

function normaliseUrl(raw: string, network: Network, source: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not echoed: a malformed URL may still contain a password.
    throw new UsageError('E_RPC_URL', `${source} is not a valid URL; expected e.g. http://127.0.0.1:${defaultRpcPort(network)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError(
      'E_RPC_URL_CREDENTIALS',
      `${source} must not contain a user name or password (argv is visible in ps); ` +
        `use the node's cookie file (--rpc-cookie) or set ${ENV_RPC_USER} and ${ENV_RPC_PASSWORD}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError('E_RPC_URL', `${source} must be an http:// or https:// URL, got ${url.protocol}`);
  }
  // URL drops a port equal to the scheme's default (http://host:80 → port ''), so look
  // at the authority as written to tell "no port" from "port 80".
  const authority = text.slice(text.indexOf('//') + 2).split(/[/?#]/, 1)[0] ?? '';
  if (!/:\d+$/.test(authority)) url.port = String(defaultRpcPort(network));
  return url.toString();
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? posix.join(home, path.slice(2)) : path;
}
