/**
 * Where a PostgreSQL-backed store lives, and how to reach it without a secret on argv.
 *
 * The store is named by a URL, `--store postgres://user@host:port/db` or
 * OFFCHAIN_STORE_URL; without either the command keeps its embedded SQLite store in
 * --state-dir. The password comes only from OFFCHAIN_STORE_PASSWORD, a 0600 file named by
 * --store-password-file (or OFFCHAIN_STORE_PASSWORD_FILE), or libpq's own PGPASSWORD /
 * ~/.pgpass, which `pg` reads — never from argv: a URL on the command line that carries
 * a password is refused (E_SECRET_ON_ARGV, exit 2) before anything connects, because
 * argv is visible to every user of the machine (`ps`). The same URL in the environment
 * may carry one. A password never appears in an output or an error: `redactUrl` is the
 * one way a URL is printed.
 */
import { UsageError } from '../../errors.ts';

export const STORE_URL_ENV = 'OFFCHAIN_STORE_URL';
export const STORE_PASSWORD_ENV = 'OFFCHAIN_STORE_PASSWORD';
export const STORE_PASSWORD_FILE_ENV = 'OFFCHAIN_STORE_PASSWORD_FILE';

export interface PgTarget {
  /** The URL as given, password removed: what may be printed. */
  url: string;
  host: string;
  port: number;
  database: string;
  user?: string;
  password?: string;
  /** Extra libpq-style options from the query string (sslmode, application_name…). */
  options: Record<string, string>;
}

export interface StoreSource {
  /** --store as given on the command line. */
  store?: string;
  /** --store-password-file as given on the command line. */
  passwordFile?: string;
}

/**
 * Reads a 0600 secret file (the CLI's `readSecretText`: refuses a file others can read,
 * E_SECRET_FILE_PERMISSIONS, exit 4), given by the caller so this module stays below the CLI.
 */
export type SecretFileReader = (path: string, flag: string) => string;
const noFileReader: SecretFileReader = (_path, flag) => {
  throw new UsageError('E_USAGE', `${flag}: no secret-file reader given`);
};

/** True for the URLs this module serves. */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text.trim());
}

/** The query parameters the connection reads (client.ts pgConfig); any other is refused. */
const READ_PARAMS = new Set(['sslmode', 'sslrootcert', 'application_name', 'connect_timeout']);

/** libpq's query parameters that carry a secret (`?password=`): refused on argv, never printed. */
const SECRET_PARAMS = new Set(['password', 'sslpassword']);

/**
 * The URL with any password replaced by `***`: the only form a URL is printed in. It is
 * used on URLs that may not parse (a `/` in a password, another scheme), so it takes the
 * user-information to the last `@` of any `scheme://` and every `password=` parameter.
 */
export function redactUrl(text: string): string {
  return text
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):.*@/i, '$1:***@')
    .replace(/([?&;](?:ssl)?password=)[^&;#]*/gi, '$1***');
}

/**
 * The PostgreSQL store chosen by --store / OFFCHAIN_STORE_URL, or undefined when the
 * embedded store is to be used. E_STORE_URL (exit 2) for a URL that is not a postgres
 * one, E_SECRET_ON_ARGV (exit 2) for a password in a URL given on argv.
 */
export function resolvePgTarget(src: StoreSource, env: NodeJS.ProcessEnv = process.env, readSecretText: SecretFileReader = noFileReader): PgTarget | undefined {
  const fromArgv = src.store !== undefined && src.store !== '';
  const text = fromArgv ? src.store! : env[STORE_URL_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  const where = fromArgv ? '--store' : STORE_URL_ENV;
  if (!isPostgresUrl(text)) throw new UsageError('E_STORE_URL', `${where} must be a postgres:// URL (got ${JSON.stringify(redactUrl(text).slice(0, 80))})`);
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    throw new UsageError('E_STORE_URL', `${where} is not a valid URL: ${JSON.stringify(redactUrl(text).slice(0, 80))}`);
  }
  const secretParams = [...u.searchParams.keys()].filter((k) => SECRET_PARAMS.has(k.toLowerCase()));
  if (fromArgv && (u.password !== '' || secretParams.length > 0)) {
    throw new UsageError('E_SECRET_ON_ARGV', `--store carries a password, which every user of this machine can read in the process list; put it in ${STORE_PASSWORD_ENV} or a 0600 file named by --store-password-file`);
  }
  // A malformed %-escape is the URL's fault (E_STORE_URL), and the message names which part, never its text.
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError('E_STORE_URL', `${where}: the ${what} in the URL has a malformed %-escape`);
    }
  };
  const database = decode(u.pathname.replace(/^\//, ''), 'database');
  if (database === '') throw new UsageError('E_STORE_URL', `${where} names no database (postgres://user@host:port/DATABASE)`);
  // libpq's ?password= is the password as user:password@ is; neither stays in the URL we print.
  let password: string | undefined = u.password !== '' ? decode(u.password, 'password') : (u.searchParams.get('password') ?? undefined);
  for (const k of secretParams) u.searchParams.delete(k);
  const options: Record<string, string> = {};
  for (const [k, v] of u.searchParams) {
    // A parameter we would not act on is refused, not dropped: ?ssl=true (node-postgres's spelling) would connect in plain text.
    if (!READ_PARAMS.has(k)) throw new UsageError('E_STORE_URL', `${where}: the parameter ${JSON.stringify(k)} is not one this store reads (${[...READ_PARAMS].join(', ')}); for TLS write sslmode=require, verify-ca or verify-full`);
    options[k] = v;
  }
  if (options['connect_timeout'] !== undefined && !/^[1-9][0-9]{0,4}$/.test(options['connect_timeout'])) {
    throw new UsageError('E_STORE_URL', `${where}: connect_timeout must be a whole number of seconds from 1 to 99999`);
  }
  const file = src.passwordFile ?? env[STORE_PASSWORD_FILE_ENV];
  if (file) password = readSecretText(file, src.passwordFile ? '--store-password-file' : STORE_PASSWORD_FILE_ENV).replace(/\r?\n$/, '');
  else if (env[STORE_PASSWORD_ENV] !== undefined) password = env[STORE_PASSWORD_ENV];
  u.password = '';
  return {
    url: u.toString(),
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : 5432,
    database,
    ...(u.username ? { user: decode(u.username, 'user') } : {}),
    ...(password !== undefined ? { password } : {}),
    options,
  };
}
