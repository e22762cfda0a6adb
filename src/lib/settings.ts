/**
 * The settings an operator may give once instead of on every command, each with the
 * environment variable that carries it (src/lib/cli/config.ts reads the configuration file
 * into these). Only their names live here, at the foundation, so that the node's and the
 * Lightning node's clients can name every place a setting comes from in their errors.
 */
export const SETTINGS = {
  network: 'OFFCHAIN_NETWORK', rpc_url: 'OFFCHAIN_RPC_URL', rpc_cookie: 'OFFCHAIN_RPC_COOKIE', state_dir: 'OFFCHAIN_STATE_DIR', lightning_rpc: 'OFFCHAIN_LIGHTNING_RPC',
  store: 'OFFCHAIN_STORE_URL', store_password_file: 'OFFCHAIN_STORE_PASSWORD_FILE',
} as const satisfies Record<string, string>;

/** Where a setting comes from, for an error to name: `--rpc-url, $OFFCHAIN_RPC_URL or rpc_url= in the configuration file`. */
export function settingPlaces(key: keyof typeof SETTINGS & string, flag = `--${key.replace(/_/g, '-')}`): string {
  return `${flag}, $${SETTINGS[key]} or ${key}= in the configuration file`;
}
