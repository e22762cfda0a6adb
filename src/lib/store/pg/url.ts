/**
 * A PostgreSQL store's URL read as libpq reads it (connect.ts says which settings it carries
 * and what is refused): libpq's URI grammar, `postgresql://[user@][host][:port][/dbname][?param=value&…]`,
 * `%`-escapes, an IPv6 host in brackets, a Unix-socket directory as `?host=…`; a password in it
 * found (refused on argv by the caller) and never printed — `redactUrl` is the one way a URL
 * is printed. Also the variables that name the store and its password. Not here: the PG*
 * environment, the defaults, TLS (connect.ts).
 */
import { UsageError } from '../../errors.ts';

export const STORE_URL_ENV = 'OFFCHAIN_STORE_URL';
export const STORE_PASSWORD_ENV = 'OFFCHAIN_STORE_PASSWORD';
export const STORE_PASSWORD_FILE_ENV = 'OFFCHAIN_STORE_PASSWORD_FILE';

/** True for the URLs this module serves. */
export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text.trim());
}

/** The URL's query parameters this store acts on (libpq's names); any other is refused. */
export const URL_PARAMS = new Set(['host', 'port', 'dbname', 'user', 'password', 'passfile', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'application_name', 'connect_timeout', 'options']);

/** libpq's query parameters that carry a secret (`?password=`): refused on argv, never printed. */
export const SECRET_PARAMS = new Set(['password', 'sslpassword']);

/**
 * The URL with any password replaced by `***`: the only form a URL is printed in. It is
 * used on URLs that may not parse (a `/` in a password, another scheme), so it takes the
 * user-information to the last `@` of any `scheme://` and every `password=` parameter, however
 * its name is %-escaped.
 */
export function redactUrl(text: string): string {
  // As parseUrl reads it: after any leading spaces (trimmed), a parameter's name %-decoded (`?%70assword=`).
  return text
    .replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):.*@/i, '$1:***@')
    .replace(/([?&;])([^=&;#?]*)=[^&;#]*/g, (all, sep: string, name: string) => (SECRET_PARAMS.has(decodedName(name).toLowerCase()) ? `${sep}${name}=***` : all));
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/** A URL taken apart by libpq's grammar: each part still %-escaped. */
type UrlParts = { userinfo: string | undefined; hostport: string; path: string | undefined; query: [string, string][]; authorityLength: number };

function splitUrl(text: string, where: string): UrlParts {
  const shown = () => JSON.stringify(redactUrl(text).slice(0, 80));
  const rest = text.trim().replace(/^postgres(ql)?:\/\//i, '');
  if (rest.includes('#')) throw new UsageError('E_STORE_URL', `${where} is not a valid URL (a "#" fragment): ${shown()}`);
  const q = rest.indexOf('?');
  const beforeQuery = q < 0 ? rest : rest.slice(0, q);
  const slash = beforeQuery.indexOf('/');
  const authority = slash < 0 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash < 0 ? undefined : beforeQuery.slice(slash + 1);
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hostport = at < 0 ? authority : authority.slice(at + 1);
  const query: [string, string][] = [];
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq < 0) throw new UsageError('E_STORE_URL', `${where}: the query parameter ${JSON.stringify(redactUrl('?' + pair).slice(1, 40))} has no "=value"`);
      query.push([pair.slice(0, eq), pair.slice(eq + 1)]);
    }
  }
  return { userinfo, hostport, path, query, authorityLength: authority.length };
}

/** Parts of a URL, decoded: user, password, host, port and dbname, and the query parameters. */
export function parseUrl(text: string, where: string): { url: Record<string, string>; printed: string; secretInUrl: boolean } {
  const p = splitUrl(text, where);
  // An "@" after the host: libpq's grammar ends the authority at the first "/" or "?", so
  // `user:2024/Winter@db` is host "user", port 2024, database "Winter@db" — a password with
  // an unescaped "/" or "?" read as no password at all, and the URL we print would carry it.
  // Refused as a password (on argv: E_SECRET_ON_ARGV), never echoed; %40 writes a real "@".
  if (text.trim().replace(/^postgres(ql)?:\/\//i, '').slice(p.authorityLength).includes('@')) {
    if (where === '--store') throw new UsageError('E_SECRET_ON_ARGV', `--store has an "@" after its host, as a password with a "/" or "?" in it would (user:pass/word@host): every user of this machine can read argv in the process list; put the password in ${STORE_PASSWORD_ENV} or a 0600 file named by --store-password-file (write a real "@" as %40)`);
    throw new UsageError('E_STORE_URL', `${where} has an "@" after its host, as a password with a "/" or "?" in it would (user:pass/word@host): %-encode the password ("/" is %2F, "?" is %3F, "@" is %40), or put it in ${STORE_PASSWORD_ENV}`);
  }
  // A malformed %-escape is the URL's fault (E_STORE_URL), and the message names which part, never its text.
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError('E_STORE_URL', `${where}: the ${what} in the URL has a malformed %-escape`);
    }
  };
  const url: Record<string, string> = {};
  let secretInUrl = false;
  if (p.userinfo !== undefined) {
    const colon = p.userinfo.indexOf(':');
    const user = colon < 0 ? p.userinfo : p.userinfo.slice(0, colon);
    if (user !== '') url['user'] = decode(user, 'user');
    if (colon >= 0) {
      secretInUrl = true;
      url['password'] = decode(p.userinfo.slice(colon + 1), 'password');
    }
  }
  if (p.hostport.includes(',')) throw new UsageError('E_STORE_URL', `${where} names several hosts: failover between hosts is not offered here; name one host (a load balancer or a virtual IP for a cluster)`);
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(p.hostport);
  let host: string;
  let port: string | undefined;
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
  } else {
    if (p.hostport.startsWith('[')) throw new UsageError('E_STORE_URL', `${where} is not a valid URL (an unclosed "[" around the host): ${JSON.stringify(redactUrl(text).slice(0, 80))}`);
    const colon = p.hostport.lastIndexOf(':');
    host = colon < 0 ? p.hostport : p.hostport.slice(0, colon);
    port = colon < 0 ? undefined : p.hostport.slice(colon + 1);
  }
  if (host !== '') url['host'] = decode(host, 'host');
  if (port !== undefined && port !== '') url['port'] = port;
  if (p.path !== undefined && p.path !== '') url['dbname'] = decode(p.path, 'database');
  for (const [rawKey, rawValue] of p.query) {
    const key = decode(rawKey, 'parameter name');
    const value = decode(rawValue, `parameter ${key}`);
    if (SECRET_PARAMS.has(key.toLowerCase())) {
      secretInUrl = true;
      if (key !== 'password') throw new UsageError('E_STORE_URL', `${where}: the parameter ${JSON.stringify(key)} is not one this store reads (an encrypted client key is not offered)`);
    } else if (!URL_PARAMS.has(key)) {
      // A parameter we would not act on is refused, not dropped: ?ssl=true (node-postgres's spelling) would connect in plain text.
      throw new UsageError('E_STORE_URL', `${where}: the parameter ${JSON.stringify(key)} is not one this store reads (${[...URL_PARAMS].filter((k) => k !== 'password').join(', ')}); for TLS write sslmode=require, verify-ca or verify-full`);
    }
    // libpq: a parameter in the query overrides the same setting in the URL's other parts.
    url[key] = value;
  }
  // The URL as given, minus its password: `user:pw@` loses `:pw`, `password=` parameters go.
  const schemeEnd = text.trim().indexOf('://') + 3;
  const trimmed = text.trim();
  let printed = trimmed.slice(0, schemeEnd) + (p.userinfo !== undefined ? `${p.userinfo.split(':')[0]}@` : '') + p.hostport + (p.path !== undefined ? `/${p.path}` : '');
  const kept = p.query.filter(([k]) => !SECRET_PARAMS.has(safeDecode(k).toLowerCase()));
  if (kept.length) printed += `?${kept.map(([k, v]) => `${k}=${v}`).join('&')}`;
  return { url, printed, secretInUrl };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

