/**
 * libpq's password file (https://www.postgresql.org/docs/current/libpq-pgpass.html), as the
 * store reads it when the server asks for a password and none was given (connect.ts): named
 * by the URL's `passfile` or PGPASSFILE, else ~/.pgpass.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../../errors.ts';

/**
 * Reads a 0600 secret file (the CLI's `readSecretText`: refuses a file others can read,
 * E_SECRET_FILE_PERMISSIONS, exit 4), given by the caller so this module stays below the CLI.
 */
export type SecretFileReader = (path: string, flag: string) => string;

/**
 * The password for this connection from a libpq password file (libpq-pgpass.html): lines
 * `hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaped,
 * `#` comments; the first matching line wins. A Unix-socket connection also matches the
 * host name `localhost`. Undefined when no line matches or the file does not exist (unless
 * it was named: then E_INPUT_FILE). A file others can read is refused through `readSecretText`
 * (E_SECRET_FILE_PERMISSIONS, exit 4).
 */
export function passwordFromFile(path: string, t: { host: string; port: number; database: string; user?: string }, readSecretText: SecretFileReader, named: boolean): string | undefined {
  if (!named && !existsSync(path)) return undefined;
  const text = readSecretText(path, named ? 'the password file (passfile / PGPASSFILE)' : 'the password file ~/.pgpass');
  const hosts = t.host.startsWith('/') ? [t.host, 'localhost'] : [t.host];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields: string[] = [];
    let cur = '';
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === ':' && fields.length < 4) {
        fields.push(cur);
        cur = '';
      } else cur += ch;
    }
    fields.push(cur);
    if (fields.length !== 5) continue;
    const [h, p, d, u, pw] = fields as [string, string, string, string, string];
    const ok = (field: string, value: string | undefined) => field === '*' || field === value;
    if (hosts.some((x) => ok(h, x)) && ok(p, String(t.port)) && ok(d, t.database) && ok(u, t.user)) return pw;
  }
  return undefined;
}

/** Refused: the server wants a password and none was found. Exit 2, like a wrong one. */
export function noPassword(t: { url: string; host: string; port: number; database: string; user?: string; passfile?: string }): UsageError {
  return new UsageError('E_STORE_AUTH', `the store at ${t.url} asks for a password and none was given: set OFFCHAIN_STORE_PASSWORD, --store-password-file FILE (0600), PGPASSWORD, or a line for ${t.host}:${t.port}:${t.database}:${t.user ?? '*'} in the password file (${t.passfile ?? '~/.pgpass'})`, { store: t.url });
}
