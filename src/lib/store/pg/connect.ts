/**
 * Where a PostgreSQL-backed store lives, and how to reach it without a secret on argv —
 * with libpq's conventions, so a runbook's `PGSSLMODE=verify-full` means what it means to
 * psql (https://www.postgresql.org/docs/current/libpq-connect.html, libpq-envars.html).
 *
 * The store is chosen by a URL — `--store postgres://user@host:port/db`, OFFCHAIN_STORE_URL,
 * or the configuration file's `store=` — and without one the command keeps its embedded
 * SQLite store in --state-dir. Each setting is then taken as libpq takes it: the URL
 * first (libpq's URI grammar: `postgresql://[user@][host][:port][/dbname][?param=value&…]`,
 * `%`-escapes, an IPv6 host in brackets, a Unix-socket directory as `?host=/run/postgresql`
 * or `%2Frun%2Fpostgresql`), then the PG* environment (PGHOST, PGPORT, PGDATABASE, PGUSER,
 * PGPASSWORD, PGPASSFILE, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGAPPNAME,
 * PGCONNECT_TIMEOUT, PGOPTIONS, PGTZ, PGDATESTYLE), then libpq's defaults: port 5432, the OS
 * user, a database named as the user, ~/.pgpass, ~/.postgresql/root.crt,
 * ~/.postgresql/postgresql.crt and .key. What libpq would do and this cannot — several hosts,
 * PGSERVICE, PGHOSTADDR, a CRL, `require_auth`, `target_session_attrs` other than `any`… — is
 * refused (E_STORE_URL, exit 2) naming the setting, never ignored.
 *
 * Where it differs from libpq, on purpose, said here and in docs/postgres.md:
 * - No host anywhere: `localhost` over TCP (libpq: its compiled-in socket directory, which a
 *   Node program cannot know). Name a socket directory to use one.
 * - TLS (client.ts): `prefer` and `allow` — libpq's default is `prefer` — fall back to plain
 *   text when the server offers no TLS, so they are refused; say which you mean. With no
 *   sslmode anywhere, a local server (a Unix socket, localhost, 127.0.0.0/8, ::1) is reached
 *   in plain text and any other host with `verify-full`: plain text crosses a network only
 *   when asked for (`sslmode=disable`).
 * - A password file others can read is refused (E_SECRET_FILE_PERMISSIONS, exit 4; libpq
 *   warns and ignores it), as is a client key file (libpq refuses that too).
 *
 * Secrets. The password comes from --store-password-file / OFFCHAIN_STORE_PASSWORD_FILE (a
 * 0600 file), OFFCHAIN_STORE_PASSWORD, the URL when it came from the environment, PGPASSWORD,
 * or the password file — never from argv: a URL on the command line that carries a password
 * (`user:pw@`, `?password=`) is refused (E_SECRET_ON_ARGV, exit 2) before anything connects,
 * because argv is visible to every user of the machine (`ps`). A password never appears in
 * an output or an error: `redactUrl` (url.ts) is the one way a URL is printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import { passwordFromFile, type SecretFileReader } from './pgpass.ts';
import { isPostgresUrl, parseUrl, redactUrl, STORE_PASSWORD_ENV, STORE_PASSWORD_FILE_ENV, STORE_URL_ENV } from './url.ts';

/** How the connection is protected (client.ts maps it to node's TLS options). */
export type PgTls =
  | { mode: 'disable' }
  | {
      /** libpq's sslmode as it acts: `require` with a root certificate acts as `verify-ca`. */
      mode: 'require' | 'verify-ca' | 'verify-full';
      /** The root certificates (PEM) to check the server against; 'system' = the platform's. Absent for plain `require`. */
      ca?: string | 'system';
      /** A client certificate and its key (PEM), when one is configured. */
      cert?: string;
      key?: string;
    };

export interface PgTarget {
  /** The URL as given, password removed: what may be printed. */
  url: string;
  /** A host name, an IP address, or a Unix-socket directory (starting with `/`). */
  host: string;
  port: number;
  database: string;
  user?: string;
  password?: string;
  /** The password file to look in when the server asks for a password and none is above. */
  passfile?: string;
  /** The password file's line for this connection, read when the server asks (client.ts); undefined when none matches. */
  lookupPassword?: () => string | undefined;
  tls: PgTls;
  /** Other settings read (application_name, connect_timeout, options): `name` → value. */
  options: Record<string, string>;
}

export interface StoreSource {
  /** --store as given on the command line. */
  store?: string;
  /** --store-password-file as given on the command line. */
  passwordFile?: string;
}

const noFileReader: SecretFileReader = (_path, flag) => {
  throw new UsageError('E_USAGE', `${flag}: no secret-file reader given`);
};


/** The PG* variables this store takes, and the parameter each stands for (libpq-envars). */
const ENV_PARAMS: Record<string, string> = {
  PGHOST: 'host', PGPORT: 'port', PGDATABASE: 'dbname', PGUSER: 'user', PGPASSWORD: 'password', PGPASSFILE: 'passfile',
  PGSSLMODE: 'sslmode', PGSSLROOTCERT: 'sslrootcert', PGSSLCERT: 'sslcert', PGSSLKEY: 'sslkey',
  PGAPPNAME: 'application_name', PGCONNECT_TIMEOUT: 'connect_timeout', PGOPTIONS: 'options',
};

/**
 * PG* variables libpq acts on that this store cannot honour: refused when set, unless to the
 * one value that changes nothing here (listed). Others libpq reads (PGKRBSRVNAME, PGGSSLIB,
 * PGSERVICEFILE, PGSYSCONFDIR, PGLOCALEDIR, PGCLIENTENCODING) matter only to a feature that
 * is not used (GSSAPI, a service, messages) and are left alone.
 */
const ENV_REFUSED: Record<string, { harmless: string[]; why: string }> = {
  PGHOSTADDR: { harmless: [], why: 'a numeric address beside the host name is not offered: put the address in the host' },
  PGSERVICE: { harmless: [], why: 'connection service files are not read: give the settings in the URL or the PG* variables' },
  PGREQUIREAUTH: { harmless: [], why: 'require_auth is not offered' },
  PGCHANNELBINDING: { harmless: ['disable', 'prefer'], why: 'channel binding cannot be required here' },
  PGGSSENCMODE: { harmless: ['disable', 'prefer'], why: 'GSSAPI encryption is not offered: use sslmode' },
  PGSSLCRL: { harmless: [], why: 'certificate revocation lists are not read' },
  PGSSLCRLDIR: { harmless: [], why: 'certificate revocation lists are not read' },
  PGSSLPASSWORD: { harmless: [], why: 'an encrypted client key is not offered: give an unencrypted key file (mode 0600)' },
  PGSSLNEGOTIATION: { harmless: ['postgres'], why: 'only the postgres TLS negotiation is offered' },
  PGSSLCERTMODE: { harmless: ['allow', 'disable'], why: 'a client certificate cannot be required here' },
  PGSSLMINPROTOCOLVERSION: { harmless: ['TLSv1.2'], why: 'TLS 1.2 is the minimum here (as libpq\'s default)' },
  PGSSLMAXPROTOCOLVERSION: { harmless: [], why: 'a maximum TLS version is not offered' },
  PGTARGETSESSIONATTRS: { harmless: ['any'], why: 'target_session_attrs needs several hosts, which are not offered' },
  PGLOADBALANCEHOSTS: { harmless: ['disable'], why: 'load_balance_hosts needs several hosts, which are not offered' },
  PGREQUIRESSL: { harmless: ['0'], why: 'requiressl is deprecated: say sslmode=require' },
  PGREQUIREPEER: { harmless: [], why: 'requirepeer is not offered' },
};

/** Session settings libpq sends at start-up from the environment, as `-c` options here. */
const ENV_SESSION: Record<string, string> = { PGDATESTYLE: 'datestyle', PGTZ: 'timezone', PGGEQO: 'geqo' };

const SSLMODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);

/** The host is this machine: a Unix socket, localhost, 127.0.0.0/8 or ::1. */
export function isLocalHost(host: string): boolean {
  return host.startsWith('/') || host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1';
}

/**
 * The PostgreSQL store chosen by --store / OFFCHAIN_STORE_URL, or undefined when the
 * embedded store is to be used; every setting resolved as libpq would (see above), the TLS
 * files read (a client key through `readSecretText`, 0600). E_STORE_URL (exit 2) for a URL or
 * setting that cannot be honoured, E_SECRET_ON_ARGV (exit 2) for a password in a URL given on
 * argv, E_INPUT_FILE (exit 2) for a certificate file that cannot be read.
 */
export function resolvePgTarget(src: StoreSource, env: NodeJS.ProcessEnv = process.env, readSecretText: SecretFileReader = noFileReader): PgTarget | undefined {
  const fromArgv = src.store !== undefined && src.store !== '';
  const text = fromArgv ? src.store! : env[STORE_URL_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  const where = fromArgv ? '--store' : STORE_URL_ENV;
  if (!isPostgresUrl(text)) throw new UsageError('E_STORE_URL', `${where} must be a postgres:// URL (got ${JSON.stringify(redactUrl(text).slice(0, 80))})`);
  const { url, printed, secretInUrl } = parseUrl(text, where);
  if (fromArgv && secretInUrl) {
    throw new UsageError('E_SECRET_ON_ARGV', `--store carries a password, which every user of this machine can read in the process list; put it in ${STORE_PASSWORD_ENV} or a 0600 file named by --store-password-file`);
  }

  for (const [name, rule] of Object.entries(ENV_REFUSED)) {
    const v = env[name];
    if (v !== undefined && v !== '' && !rule.harmless.includes(v)) throw new UsageError('E_STORE_URL', `${name}=${name === 'PGSSLPASSWORD' ? '***' : JSON.stringify(v.slice(0, 40))} is set, and ${rule.why} (unset it for offchain)`);
  }
  // The URL first, then the environment; `from` says where each setting came from, for messages.
  const from: Record<string, string> = {};
  const setting = (name: string): string | undefined => {
    if (url[name] !== undefined) {
      from[name] = where;
      return url[name];
    }
    for (const [v, param] of Object.entries(ENV_PARAMS)) {
      if (param === name && env[v] !== undefined && env[v] !== '') {
        from[name] = v;
        return env[v];
      }
    }
    return undefined;
  };
  const home = env['HOME'] || homedir();

  const host = setting('host') ?? 'localhost';
  const portText = setting('port') ?? '5432';
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw new UsageError('E_STORE_URL', `${from['port']}: the port must be a number from 1 to 65535`);
  let user = setting('user');
  if (user === undefined) {
    try {
      user = userInfo().username; // libpq: the operating-system user
    } catch {
      user = undefined;
    }
  }
  const database = setting('dbname') ?? user;
  if (database === undefined || database === '') throw new UsageError('E_STORE_URL', `${where} names no database (postgres://user@host:port/DATABASE, or PGDATABASE)`);

  const options: Record<string, string> = {};
  const app = setting('application_name');
  if (app !== undefined) options['application_name'] = app;
  const timeout = setting('connect_timeout');
  if (timeout !== undefined) {
    if (!/^[1-9][0-9]{0,4}$/.test(timeout)) throw new UsageError('E_STORE_URL', `${from['connect_timeout']}: connect_timeout must be a whole number of seconds from 1 to 99999`);
    options['connect_timeout'] = timeout;
  }
  const session = [setting('options'), ...Object.entries(ENV_SESSION).filter(([v]) => env[v]).map(([v, g]) => `-c ${g}=${env[v]!.replace(/([\\ ])/g, '\\$1')}`)].filter((o) => o);
  if (session.length) options['options'] = session.join(' ');

  // The password: ours first (flag, file, variable), then libpq's (the URL, PGPASSWORD), then its password file.
  let password: string | undefined;
  const file = src.passwordFile ?? env[STORE_PASSWORD_FILE_ENV];
  if (file) password = readSecretText(file, src.passwordFile ? '--store-password-file' : STORE_PASSWORD_FILE_ENV).replace(/\r?\n$/, '');
  else if (env[STORE_PASSWORD_ENV] !== undefined) password = env[STORE_PASSWORD_ENV];
  else password = setting('password');
  const namedPassfile = password === undefined ? setting('passfile') : undefined;
  const passfile = password === undefined ? (namedPassfile ?? join(home, '.pgpass')) : undefined;

  const tls = resolveTls(host, setting, from, home, readSecretText);
  const target: PgTarget = {
    url: printed,
    host,
    port: Number(portText),
    database,
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(passfile !== undefined ? { passfile } : {}),
    tls,
    options,
  };
  if (passfile !== undefined) target.lookupPassword = () => passwordFromFile(passfile, target, readSecretText, namedPassfile !== undefined);
  return target;
}

/**
 * libpq's sslmode, sslrootcert, sslcert and sslkey (libpq-ssl.html, "SSL Mode Descriptions"),
 * with the defaults and refusals above. Files are read here, before anything connects.
 */
function resolveTls(host: string, setting: (name: string) => string | undefined, from: Record<string, string>, home: string, readSecretText: SecretFileReader): PgTls {
  const given = setting('sslmode');
  if (given !== undefined && !SSLMODES.has(given)) throw new UsageError('E_STORE_URL', `${from['sslmode']}: sslmode=${given} is not one of libpq's (disable, require, verify-ca, verify-full)`);
  // libpq: sslmode is ignored for Unix-domain socket communication.
  if (host.startsWith('/')) return { mode: 'disable' };
  const rootGiven = setting('sslrootcert');
  if (given === 'prefer' || given === 'allow') {
    throw new UsageError('E_STORE_URL', `${from['sslmode']}: sslmode=${given} falls back to plain text when the server offers no TLS, so it is not offered here; say which you mean: sslmode=verify-full (or require, verify-ca), or sslmode=disable for plain text`);
  }
  // sslrootcert=system: libpq makes verify-full the default and refuses anything weaker.
  const mode = (given ?? (rootGiven === 'system' ? 'verify-full' : isLocalHost(host) ? 'disable' : 'verify-full')) as 'disable' | 'require' | 'verify-ca' | 'verify-full';
  if (rootGiven === 'system' && mode !== 'verify-full') throw new UsageError('E_STORE_URL', `sslrootcert=system (${from['sslrootcert']}) needs sslmode=verify-full: any CA the system trusts would vouch for a server under ${mode}`);
  if (mode === 'disable') return { mode: 'disable' };

  const defaultRoot = join(home, '.postgresql', 'root.crt');
  const rootPath = rootGiven ?? (existsSync(defaultRoot) ? defaultRoot : undefined);
  let ca: string | 'system' | undefined;
  if (rootPath === 'system') ca = 'system';
  else if (rootPath !== undefined) ca = readPem(rootPath, rootGiven !== undefined ? `sslrootcert (${from['sslrootcert']})` : 'the root certificate ~/.postgresql/root.crt');
  if ((mode === 'verify-ca' || mode === 'verify-full') && ca === undefined) {
    const why = given === undefined ? `the store's host ${host} is not this machine, so it is reached over TLS checked against a root certificate (sslmode=verify-full when none is given)` : `sslmode=${mode} (${from['sslmode']}) checks the server against a root certificate`;
    throw new UsageError('E_STORE_URL', `${why}, and none is configured: give sslrootcert=FILE in the URL or PGSSLROOTCERT (or put the CA in ${defaultRoot}), sslrootcert=system for a CA the system trusts, or choose sslmode=require (TLS, server unchecked) or sslmode=disable (plain text)`);
  }

  const certGiven = setting('sslcert');
  const defaultCert = join(home, '.postgresql', 'postgresql.crt');
  const certPath = certGiven ?? (existsSync(defaultCert) ? defaultCert : undefined);
  let client: { cert: string; key: string } | undefined;
  if (certPath !== undefined) {
    const keyPath = setting('sslkey') ?? join(home, '.postgresql', 'postgresql.key');
    if (!existsSync(keyPath)) throw new UsageError('E_STORE_URL', `a client certificate is configured (${certGiven !== undefined ? from['sslcert'] : defaultCert}) but not its key ${keyPath}: give sslkey=FILE or PGSSLKEY`);
    client = { cert: readPem(certPath, `sslcert (${from['sslcert'] ?? defaultCert})`), key: readSecretText(keyPath, `sslkey (${from['sslkey'] ?? 'the default key file'})`) };
  } else if (setting('sslkey') !== undefined) {
    throw new UsageError('E_STORE_URL', `sslkey (${from['sslkey']}) is given without a client certificate: give sslcert=FILE or PGSSLCERT too`);
  }
  // libpq: require with a root certificate file present verifies like verify-ca.
  const acting = mode === 'require' && ca !== undefined ? 'verify-ca' : mode;
  return { mode: acting, ...(acting !== 'require' && ca !== undefined ? { ca } : {}), ...(client ?? {}) };
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('E_INPUT_FILE', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path });
  }
}
