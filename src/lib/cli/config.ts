/**
 * The optional configuration file, so an operator does not repeat `--network mainnet`,
 * the RPC URL and the state directory on every command: `$OFFCHAIN_CONFIG`, else
 * `~/.offchain/config` when it exists. bitcoin.conf's format — `key=value` lines, `#`
 * comments — with these keys:
 *
 *     network=mainnet
 *     rpc_url=http://127.0.0.1:8332/
 *     rpc_cookie=~/.bitcoin/.cookie                         (--rpc-cookie, $OFFCHAIN_RPC_COOKIE: a path, not the secret)
 *     state_dir=/var/lib/offchain
 *     lightning_rpc=/var/lib/lightningd/bitcoin/lightning-rpc   (gateway pay --lightning-rpc)
 *     store=postgres://mint@db.example/mint?sslmode=verify-full   (--store, $OFFCHAIN_STORE_URL)
 *     store_password_file=/etc/offchain/db.pass             (--store-password-file, 0600)
 *
 * A state_dir, rpc_cookie, lightning_rpc or store_password_file starting with `~/` is under the home
 * directory (as a shell would read it). A store URL carrying a password is refused: the
 * password goes in the 0600 file store_password_file names (or $OFFCHAIN_STORE_PASSWORD).
 *
 * Precedence: a flag, then the environment (OFFCHAIN_NETWORK, OFFCHAIN_RPC_URL,
 * OFFCHAIN_RPC_COOKIE, OFFCHAIN_STATE_DIR, OFFCHAIN_STORE_URL, OFFCHAIN_STORE_PASSWORD_FILE), then this file — it only fills in environment variables that are
 * unset, which the commands already read. Credentials never go here: the node's cookie
 * or OFFCHAIN_RPC_USER / OFFCHAIN_RPC_PASSWORD, as before. An error about one of these
 * settings names all three places (`settingPlaces`, src/lib/settings.ts). Not a key: `--peer`, which changes
 * what a step does (send instead of print), not where it connects.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { NETWORKS } from '../network.ts';
import { redactUrl } from '../store/pg/url.ts';
import { SETTINGS as KEYS } from '../settings.ts';
import { nearest } from './suggest.ts';

export const CONFIG_ENV = 'OFFCHAIN_CONFIG';

const PATHS = new Set(['state_dir', 'lightning_rpc', 'store_password_file', 'rpc_cookie']);

/** Fill the unset environment variables from the configuration file, if there is one. */
export function applyConfigFile(env: NodeJS.ProcessEnv, home: string): void {
  const named = env[CONFIG_ENV];
  const path = named !== undefined && named !== '' ? named : join(home, '.offchain', 'config');
  if (named === undefined || named === '') {
    if (!existsSync(path)) return;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('E_CONFIG', `cannot read the configuration file ${path} (${CONFIG_ENV}): ${(e as NodeJS.ErrnoException).code}`);
  }
  for (const [key, value] of Object.entries(parseConfig(text, path))) {
    const name = KEYS[key as keyof typeof KEYS];
    // `state_dir=~/x`, `lightning_rpc=~/x`: the home directory, as a shell would expand it (no shell reads this file).
    const expanded = PATHS.has(key) ? expandTilde(value, home) : value;
    if (env[name] === undefined || env[name] === '') env[name] = expanded;
  }
}

/** `~` or `~/…` → the home directory (what a shell would have done). */
export function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

export function parseConfig(text: string, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([a-z_]+)\s*=\s*(.*)$/.exec(line);
    const where = `${path} line ${i + 1}`;
    if (!m) throw new UsageError('E_CONFIG', `${where}: expected key=value, got "${line.slice(0, 40)}"`);
    const [, key, value] = m as unknown as [string, string, string];
    if (!(key in KEYS)) {
      const near = nearest(key, Object.keys(KEYS));
      throw new UsageError('E_CONFIG', `${where}: unknown key "${key}"${near ? `; did you mean "${near}"?` : ''} (known: ${Object.keys(KEYS).join(', ')})`);
    }
    if (key in out) throw new UsageError('E_CONFIG', `${where}: "${key}" is set twice`);
    if (value === '') throw new UsageError('E_CONFIG', `${where}: "${key}" has no value`);
    if (key === 'network' && !(NETWORKS as readonly string[]).includes(value)) {
      throw new UsageError('E_CONFIG', `${where}: network must be one of ${NETWORKS.join(', ')}, got "${value}"`);
    }
    // Credentials never go here: a password in the store's URL (user:pw@, ?password=) is refused, not kept.
    if (key === 'store' && redactUrl(value) !== value) {
      throw new UsageError('E_CONFIG', `${where}: "store" carries a password; put it in a 0600 file named by store_password_file (or $OFFCHAIN_STORE_PASSWORD)`);
    }
    out[key] = value;
  });
  return out;
}
