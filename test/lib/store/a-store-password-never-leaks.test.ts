/**
 * A STORE'S PASSWORD NEVER LEAKS (src/lib/store/pg/connect.ts, url.ts): a PostgreSQL store is
 * named by a URL whose password is never accepted from argv (E_SECRET_ON_ARGV, exit 2, without
 * echoing it) wherever it hides — `user:password@`, libpq's `?password=`, a password that breaks
 * the URL — and comes instead from the environment or a 0600 file; a URL is printed only
 * redacted, in errors too; a parameter this store does not act on is refused, not ignored
 * (R6: `?ssl=true` meant TLS). (Folded from pg-connect and pg-url-review.)
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePgTarget } from '../../../src/lib/store/pg/connect.ts';
import { redactUrl } from '../../../src/lib/store/pg/url.ts';
import { readSecretText } from '../../../src/lib/cli/secret-file.ts';
import { tempDir } from '../../helpers.ts';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return `${(e as { code?: string }).code} ${(e as { exitCode?: number }).exitCode}`;
  }
  return 'no error';
};

describe('resolvePgTarget', () => {
  it('no --store and no OFFCHAIN_STORE_URL: the embedded store (undefined)', () => {
    expect(resolvePgTarget({}, {})).toBeUndefined();
    expect(resolvePgTarget({ store: '' }, { OFFCHAIN_STORE_URL: ' ' })).toBeUndefined();
  });

  it('parses host, port, database, user and query options; the password from OFFCHAIN_STORE_PASSWORD', () => {
    const t = resolvePgTarget({ store: 'postgresql://mint@db.example:6543/offchain?sslmode=require' }, { OFFCHAIN_STORE_PASSWORD: 's3cret', HOME: '/nonexistent' })!;
    expect(t).toMatchObject({ host: 'db.example', port: 6543, database: 'offchain', user: 'mint', password: 's3cret', tls: { mode: 'require' } });
    expect(t.url).not.toContain('s3cret');
    expect(resolvePgTarget({ store: 'postgres://h/d?sslmode=disable' }, {})).toMatchObject({ host: 'h', port: 5432, database: 'd' });
  });

  it('refuses a password in --store (argv) with E_SECRET_ON_ARGV, exit 2, without echoing it', () => {
    let msg = '';
    try {
      resolvePgTarget({ store: 'postgres://mint:hunter2@h/d' }, {});
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(code(() => resolvePgTarget({ store: 'postgres://mint:hunter2@h/d' }, {}))).toBe('E_SECRET_ON_ARGV 2');
    expect(msg).not.toContain('hunter2');
  });

  it('accepts a password in OFFCHAIN_STORE_URL (the environment is not argv)', () => {
    expect(resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://mint:p%40ss@localhost:1/d' })).toMatchObject({ password: 'p@ss', user: 'mint' });
  });

  it('reads the password from a 0600 file, and refuses a file others can read', () => {
    const dir = tempDir();
    const f = join(dir.path, 'pw');
    writeFileSync(f, 'from-file\n');
    chmodSync(f, 0o600);
    expect(resolvePgTarget({ store: 'postgres://u@localhost/d', passwordFile: f }, { OFFCHAIN_STORE_PASSWORD: 'env' }, readSecretText)!.password).toBe('from-file');
    chmodSync(f, 0o644);
    expect(code(() => resolvePgTarget({ store: 'postgres://u@localhost/d', passwordFile: f }, {}, readSecretText))).toBe('E_SECRET_FILE_PERMISSIONS 4');
    dir.cleanup();
  });

  it('E_STORE_URL (exit 2) for what is not a postgres URL; no database named is the user\'s (libpq)', () => {
    expect(code(() => resolvePgTarget({ store: 'mysql://h/d' }, {}))).toBe('E_STORE_URL 2');
    expect(resolvePgTarget({ store: 'postgres://op@localhost' }, {})).toMatchObject({ user: 'op', database: 'op' });
    expect(code(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://[::1' }))).toBe('E_STORE_URL 2');
  });

  it('redactUrl hides the password and nothing else', () => {
    expect(redactUrl('postgres://u:pw@h:5/d')).toBe('postgres://u:***@h:5/d');
    expect(redactUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
  });
});

/** The code, exit and message of what `f` throws, or 'no error' and the URL it resolved. */
function outcome(f: () => { url: string } | undefined): { code: string; text: string } {
  try {
    const t = f();
    return { code: 'no error', text: t?.url ?? '' };
  } catch (e) {
    return { code: `${(e as { code?: string }).code} ${(e as { exitCode?: number }).exitCode}`, text: (e as Error).message };
  }
}

describe('a password anywhere in the store URL', () => {
  it('?password= on argv (libpq reads it as the password) is refused E_SECRET_ON_ARGV, exit 2, without echoing it', () => {
    const r = outcome(() => resolvePgTarget({ store: 'postgres://op@db/x?sslmode=disable&password=hunter2' }, {}));
    expect(r.code).toBe('E_SECRET_ON_ARGV 2');
    expect(r.text).not.toContain('hunter2');
  });

  it('?password= in OFFCHAIN_STORE_URL is the password, and is not in the URL we print nor in the options', () => {
    const t = resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://op@db/x?password=hun%26ter2&sslmode=require', HOME: '/nonexistent' })!;
    expect(t.password).toBe('hun&ter2');
    expect(t.url).not.toContain('hun');
    expect(t.url).toBe('postgres://op@db/x?sslmode=require');
    expect(t.tls).toEqual({ mode: 'require' });
    expect(t.options).toEqual({});
    // OFFCHAIN_STORE_PASSWORD still wins, as over a user:password@ one
    expect(resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://op@db/x?password=a&sslmode=disable', OFFCHAIN_STORE_PASSWORD: 'b' })!.password).toBe('b');
  });

  it('an unparseable URL from the environment is never printed with its password', () => {
    for (const [url, secret] of [
      ['postgres://op:hun/ter2@db/x', 'ter2'], // a "/" in the password ends the authority: the URL does not parse
      ['pg://op:hunter2@db/x', 'hunter2'], // another scheme
      ['postgresql+asyncpg://op:hunter2@db/x', 'hunter2'],
      ['jdbc:postgresql://db/x?user=op&password=hunter2', 'hunter2'],
    ] as const) {
      const r = outcome(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: url }));
      expect(r.code, url).toBe('E_STORE_URL 2');
      expect(r.text, url).not.toContain(secret);
    }
  });

  it('R13: a password with an unescaped "/" or "?" whose first part is a number (user:2024/Winter@host) is not read as host "user", port 2024: refused on argv (E_SECRET_ON_ARGV) and from the environment (E_STORE_URL), never printed', () => {
    // libpq's grammar reads postgres://mint:2024/Winter@db/x as host "mint", port 2024,
    // database "Winter@db/x": no password, so the argv check passed and the whole URL — the
    // password with it — was kept as the URL we print (in every connection error).
    for (const [url, secret] of [
      ['postgres://mint:2024/Winter@127.0.0.1:5432/offchain?sslmode=disable', 'Winter'],
      ['postgres://mint:12/s3cr+t@db.example/offchain?sslmode=require', 's3cr+t'],
      ['postgres://mint:5?options=Zz9@127.0.0.1/offchain', 'Zz9'],
    ] as const) {
      const argv = outcome(() => resolvePgTarget({ store: url }, { HOME: '/nonexistent' }));
      expect(argv.code, url).toBe('E_SECRET_ON_ARGV 2');
      expect(argv.text, url).not.toContain(secret);
      const env = outcome(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, HOME: '/nonexistent' }));
      expect(env.code, url).toBe('E_STORE_URL 2');
      expect(env.text, url).not.toContain(secret);
    }
    // %40 is how an "@" in a database name (or a password) is written: accepted.
    expect(resolvePgTarget({ store: 'postgres://mint@127.0.0.1/off%40chain' }, { HOME: '/nonexistent' })!.database).toBe('off@chain');
    expect(resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://mint:2024%2FWinter@127.0.0.1/offchain', HOME: '/nonexistent' })!.password).toBe('2024/Winter');
  });

  it('redactUrl hides every form of password', () => {
    expect(redactUrl('postgres://u:p@ss@h/d')).not.toContain('ss@h');
    expect(redactUrl('postgres://u:p/ss@h/d')).not.toContain('ss');
    expect(redactUrl('mysql://u:secret@h/d')).not.toContain('secret');
    expect(redactUrl('postgres://u@h/d?a=1&password=secret&b=2')).toBe('postgres://u@h/d?a=1&password=***&b=2');
    expect(redactUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
  });

  it('R6: a query parameter we do not act on is refused (E_STORE_URL), not ignored: ?ssl=true (node-postgres\'s spelling) would otherwise connect in plain text', () => {
    for (const q of ['ssl=true', 'ssl_mode=require', 'sslMode=verify-full', 'sslcrl=/c.pem&sslmode=require', 'hostaddr=10.0.0.1']) {
      const r = outcome(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: `postgres://op@db/x?${q}` }));
      expect(r.code, q).toBe('E_STORE_URL 2');
    }
    // what is read stays accepted
    expect(resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://op@db/x?sslmode=require&application_name=a&connect_timeout=5', HOME: '/nonexistent' })!.options).toEqual({
      application_name: 'a', connect_timeout: '5',
    });
  });

  it('R7: bad percent-encoding in the user, password or database is E_STORE_URL (exit 2), not E_INTERNAL, and never echoes the password', () => {
    for (const url of ['postgres://u:hunter2%E0%A4%A@h/d', 'postgres://u%ZZ@h/d', 'postgres://u@h/d%E0%A4%A']) {
      const r = outcome(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: url }));
      expect(r.code, url).toBe('E_STORE_URL 2');
      expect(r.text, url).not.toContain('hunter2');
    }
  });

  it('R12: connect_timeout that is not a whole number of seconds is E_STORE_URL (exit 2), not a NaN timeout', () => {
    for (const v of ['abc', '1e3', '-5', '2.5', '']) {
      expect(outcome(() => resolvePgTarget({}, { OFFCHAIN_STORE_URL: `postgres://op@db/x?sslmode=disable&connect_timeout=${v}` })).code, v).toBe('E_STORE_URL 2');
    }
    expect(resolvePgTarget({}, { OFFCHAIN_STORE_URL: 'postgres://op@db/x?sslmode=disable&connect_timeout=30' })!.options['connect_timeout']).toBe('30');
  });
});
