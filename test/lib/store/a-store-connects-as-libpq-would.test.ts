/**
 * The store's connection settings taken as libpq takes them (src/lib/store/pg/connect.ts;
 * issue 38, Found 2): the URL first, then the PG* environment, then libpq's defaults —
 * checked against libpq's own documentation, not against the code:
 *
 * - the connection URIs of libpq-connect.html §"Connection URIs", each with the settings the
 *   documentation says it means;
 * - libpq-envars.html: "PGHOST behaves the same as the host connection parameter", … — a
 *   variable fills what the URL leaves out and never overrides it;
 * - libpq-ssl.html, "SSL Mode Descriptions": require (no check; as verify-ca when a root
 *   certificate file is present), verify-ca (chain), verify-full (chain and host name);
 *   ~/.postgresql/root.crt the default root file; sslrootcert=system only with verify-full;
 *   sslmode ignored for a Unix-domain socket;
 * - libpq-pgpass.html: host:port:database:user:password, `*`, `\:` and `\\`, first match;
 *
 * and the store's own rules beside them: a password never from argv; `prefer`/`allow`
 * refused (they fall back to plain text); with no sslmode a non-local host gets verify-full,
 * never plain text; a setting libpq would act on and this cannot is refused, naming it; a
 * failed login or connection is coded, never carrying the password. (pg-operator-parts'
 * connecting tests folded in.)
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvePgTarget } from '../../../src/lib/store/pg/connect.ts';
import { passwordFromFile } from '../../../src/lib/store/pg/pgpass.ts';
import { pgConfig, storeError } from '../../../src/lib/store/pg/client.ts';
import { readSecretText } from '../../../src/lib/cli/secret-file.ts';
import { tempDir } from '../../helpers.ts';

const dir = tempDir('offchain-libpq-');
afterAll(() => dir.cleanup());
/** A home directory without ~/.postgresql: no default root certificate, client certificate or ~/.pgpass. */
const EMPTY_HOME = join(dir.path, 'empty-home');
mkdirSync(EMPTY_HOME);
const OS_USER = userInfo().username;

const resolve = (url: string, env: Record<string, string> = {}) => resolvePgTarget({}, { HOME: EMPTY_HOME, OFFCHAIN_STORE_URL: url, ...env }, readSecretText)!;
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return `${(e as { code?: string }).code} ${(e as { exitCode?: number }).exitCode}: ${(e as Error).message}`;
  }
  return 'no error';
};
const file = (name: string, text: string, mode = 0o600) => {
  const path = join(dir.path, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
};

describe("libpq's connection URIs (libpq-connect.html, the documentation's examples)", () => {
  // Each row: the URI as the documentation writes it, and what it says it connects to.
  const where = (u: string) => {
    const t = resolve(u);
    return { host: t.host, port: t.port, database: t.database, user: t.user };
  };
  it('postgresql:// — every default: port 5432, the OS user, a database named as the user (host: localhost, our documented default)', () => {
    expect(where('postgresql://')).toEqual({ host: 'localhost', port: 5432, database: OS_USER, user: OS_USER });
  });
  it('postgresql://localhost, :5433, /mydb, user@, other@…/otherdb?connect_timeout=10&application_name=myapp', () => {
    expect(where('postgresql://localhost')).toEqual({ host: 'localhost', port: 5432, database: OS_USER, user: OS_USER });
    expect(where('postgresql://localhost:5433')).toMatchObject({ host: 'localhost', port: 5433 });
    expect(where('postgresql://localhost/mydb')).toMatchObject({ host: 'localhost', database: 'mydb' });
    expect(where('postgresql://user@localhost')).toMatchObject({ user: 'user', database: 'user' });
    const t = resolve('postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp');
    expect({ user: t.user, database: t.database, options: t.options }).toEqual({ user: 'other', database: 'otherdb', options: { connect_timeout: '10', application_name: 'myapp' } });
  });
  it('postgresql:///mydb?host=localhost&port=5433 — query parameters for the host and port', () => {
    expect(where('postgresql:///mydb?host=localhost&port=5433')).toMatchObject({ host: 'localhost', port: 5433, database: 'mydb' });
  });
  it('postgresql://[2001:db8::1234]/database — an IPv6 host in brackets', () => {
    expect(where('postgresql://[2001:db8::1234]/database?sslmode=disable')).toMatchObject({ host: '2001:db8::1234', database: 'database' });
  });
  it('a Unix-domain socket: postgresql:///dbname?host=/var/lib/postgresql and postgresql://%2Fvar%2Flib%2Fpostgresql/dbname', () => {
    expect(where('postgresql:///dbname?host=/var/lib/postgresql')).toMatchObject({ host: '/var/lib/postgresql', database: 'dbname' });
    expect(where('postgresql://%2Fvar%2Flib%2Fpostgresql/dbname')).toMatchObject({ host: '/var/lib/postgresql', database: 'dbname' });
    // The finding's form: a user, no host in the authority, the socket directory in ?host= (was "not a valid URL").
    expect(where('postgres://mint@/mint?host=/run/postgresql')).toEqual({ host: '/run/postgresql', port: 5432, database: 'mint', user: 'mint' });
  });
  it('postgresql://host1:123,host2:456/somedb — several hosts: refused, naming it (failover is not offered)', () => {
    expect(refusal(() => resolve('postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp'))).toMatch(/^E_STORE_URL 2: .*several hosts/);
  });
  it('%-escapes are decoded in every part; "+" stays "+" (libpq decodes %XX only)', () => {
    const t = resolve('postgresql://us%40er@localhost/d%20b?application_name=a+b%26c');
    expect({ user: t.user, database: t.database, app: t.options['application_name'] }).toEqual({ user: 'us@er', database: 'd b', app: 'a+b&c' });
  });
});

describe("the PG* environment (libpq-envars.html): fills what the URL leaves out, never overrides it", () => {
  it('PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGAPPNAME, PGCONNECT_TIMEOUT fill an empty URL', () => {
    const t = resolve('postgresql://', { PGHOST: '/run/postgresql', PGPORT: '6432', PGDATABASE: 'mintdb', PGUSER: 'mint', PGPASSWORD: 'pw', PGAPPNAME: 'mint-7', PGCONNECT_TIMEOUT: '4' });
    expect({ host: t.host, port: t.port, database: t.database, user: t.user, password: t.password, options: t.options }).toEqual({
      host: '/run/postgresql', port: 6432, database: 'mintdb', user: 'mint', password: 'pw', options: { application_name: 'mint-7', connect_timeout: '4' },
    });
  });
  it('the URL wins over each variable', () => {
    const t = resolve('postgresql://op@localhost:5000/db?application_name=url', { PGHOST: 'elsewhere', PGPORT: '6432', PGDATABASE: 'other', PGUSER: 'other', PGAPPNAME: 'env' });
    expect({ host: t.host, port: t.port, database: t.database, user: t.user, app: t.options['application_name'] }).toEqual({ host: 'localhost', port: 5000, database: 'db', user: 'op', app: 'url' });
  });
  it('PGOPTIONS, PGTZ and PGDATESTYLE reach the session as options (libpq sends them at start-up)', () => {
    expect(resolve('postgresql://localhost/d', { PGOPTIONS: '-c statement_timeout=5000', PGTZ: 'UTC', PGDATESTYLE: 'ISO, MDY' }).options['options']).toBe('-c statement_timeout=5000 -c datestyle=ISO,\\ MDY -c timezone=UTC');
  });
  it('the password: OFFCHAIN_STORE_PASSWORD over the URL\'s, the URL\'s over PGPASSWORD', () => {
    expect(resolve('postgresql://u:url@localhost/d', { PGPASSWORD: 'pg', OFFCHAIN_STORE_PASSWORD: 'ours' }).password).toBe('ours');
    expect(resolve('postgresql://u:url@localhost/d', { PGPASSWORD: 'pg' }).password).toBe('url');
    expect(resolve('postgresql://u@localhost/d', { PGPASSWORD: 'pg' }).password).toBe('pg');
  });
  it('a variable libpq acts on and this store cannot honour is refused, naming it; its harmless value is not', () => {
    for (const [name, value] of [['PGSERVICE', 'mint'], ['PGHOSTADDR', '10.0.0.5'], ['PGREQUIREAUTH', 'scram-sha-256'], ['PGSSLCRL', '/crl.pem'], ['PGTARGETSESSIONATTRS', 'read-write'], ['PGGSSENCMODE', 'require'], ['PGSSLNEGOTIATION', 'direct'], ['PGCHANNELBINDING', 'require'], ['PGSSLPASSWORD', 'secret-pass']] as const) {
      const r = refusal(() => resolve('postgresql://localhost/d', { [name]: value }));
      expect(r, name).toMatch(new RegExp(`^E_STORE_URL 2: ${name}=`));
      expect(r).not.toContain('secret-pass');
    }
    for (const [name, value] of [['PGTARGETSESSIONATTRS', 'any'], ['PGGSSENCMODE', 'prefer'], ['PGGSSENCMODE', 'disable'], ['PGCHANNELBINDING', 'prefer'], ['PGSSLNEGOTIATION', 'postgres']] as const) {
      expect(resolve('postgresql://localhost/d', { [name]: value }).host, name).toBe('localhost');
    }
  });
  it('a password in --store on argv is refused whatever the environment says (E_SECRET_ON_ARGV)', () => {
    expect(refusal(() => resolvePgTarget({ store: 'postgresql://u:pw@localhost/d' }, { HOME: EMPTY_HOME }))).toMatch(/^E_SECRET_ON_ARGV 2/);
  });
});

describe('TLS (libpq-ssl.html, "SSL Mode Descriptions")', () => {
  const CA = '-----BEGIN CERTIFICATE-----\ntest CA\n-----END CERTIFICATE-----\n';
  const ca = file('ca.pem', CA, 0o644);
  const ssl = (url: string, env: Record<string, string> = {}) => pgConfig(resolve(url, env), 'x').ssl as Record<string, unknown> | false;

  it('PGSSLMODE=verify-full with PGSSLROOTCERT: the chain checked against that file, and the host name (node\'s default check)', () => {
    const s = ssl('postgresql://mint@db.example/mint', { PGSSLMODE: 'verify-full', PGSSLROOTCERT: ca });
    expect(s).toEqual({ rejectUnauthorized: true, ca: CA });
  });
  it('verify-ca: the chain, not the host name', () => {
    const s = ssl('postgresql://mint@db.example/mint?sslmode=verify-ca', { PGSSLROOTCERT: ca }) as { checkServerIdentity: () => unknown; ca: string };
    expect(s).toMatchObject({ rejectUnauthorized: true, ca: CA });
    expect(s.checkServerIdentity()).toBeUndefined();
  });
  it('require: no check — and as verify-ca when a root certificate file is present (given, or ~/.postgresql/root.crt)', () => {
    expect(ssl('postgresql://mint@db.example/mint?sslmode=require')).toEqual({ rejectUnauthorized: false });
    expect(ssl('postgresql://mint@db.example/mint?sslmode=require', { PGSSLROOTCERT: ca })).toMatchObject({ rejectUnauthorized: true, ca: CA });
    const home = join(dir.path, 'home-with-root');
    mkdirSync(join(home, '.postgresql'), { recursive: true });
    writeFileSync(join(home, '.postgresql', 'root.crt'), CA);
    expect(ssl('postgresql://mint@db.example/mint?sslmode=require', { HOME: home })).toMatchObject({ rejectUnauthorized: true, ca: CA });
    // … and the default for a non-local host, verify-full, takes it too.
    expect(ssl('postgresql://mint@db.example/mint', { HOME: home })).toEqual({ rejectUnauthorized: true, ca: CA });
  });
  it('the URL\'s sslmode wins over PGSSLMODE', () => {
    expect(ssl('postgresql://mint@db.example/mint?sslmode=require', { PGSSLMODE: 'verify-full' })).toEqual({ rejectUnauthorized: false });
    expect(ssl('postgresql://mint@db.example/mint?sslmode=disable', { PGSSLMODE: 'verify-full' })).toBe(false);
  });
  it('verify-ca / verify-full with no root certificate anywhere: refused before connecting (libpq: "root certificate file does not exist")', () => {
    expect(refusal(() => resolve('postgresql://mint@db.example/mint', { PGSSLMODE: 'verify-full' }))).toMatch(/^E_STORE_URL 2: sslmode=verify-full \(PGSSLMODE\)/);
    expect(refusal(() => resolve('postgresql://mint@db.example/mint?sslmode=verify-ca'))).toMatch(/^E_STORE_URL 2: /);
  });
  it('sslrootcert=system: the platform\'s CAs, verify-full by default; anything weaker refused', () => {
    expect(ssl('postgresql://mint@db.example/mint?sslrootcert=system')).toEqual({ rejectUnauthorized: true });
    expect(refusal(() => resolve('postgresql://mint@db.example/mint?sslrootcert=system&sslmode=require'))).toMatch(/^E_STORE_URL 2: sslrootcert=system/);
    expect(refusal(() => resolve('postgresql://mint@db.example/mint?sslmode=verify-ca', { PGSSLROOTCERT: 'system' }))).toMatch(/^E_STORE_URL 2: sslrootcert=system/);
  });
  it('no sslmode anywhere: a local server in plain text, any other host verify-full — never plain text across a network unless asked', () => {
    for (const local of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) expect(ssl(`postgresql://mint@${local}/mint`), local).toBe(false);
    expect(refusal(() => resolve('postgresql://mint@db.example/mint'))).toMatch(/^E_STORE_URL 2: the store's host db\.example is not this machine/);
    expect(refusal(() => resolve('postgresql://mint@10.0.0.5/mint'))).toMatch(/^E_STORE_URL 2: /);
    expect(ssl('postgresql://mint@db.example/mint', { PGSSLMODE: 'disable' })).toBe(false);
  });
  it('prefer and allow (libpq\'s default is prefer) fall back to plain text: refused, naming where they came from', () => {
    expect(refusal(() => resolve('postgresql://mint@db.example/mint', { PGSSLMODE: 'prefer' }))).toMatch(/^E_STORE_URL 2: PGSSLMODE: sslmode=prefer/);
    expect(refusal(() => resolve('postgresql://mint@localhost/mint?sslmode=allow'))).toMatch(/^E_STORE_URL 2: OFFCHAIN_STORE_URL: sslmode=allow/);
    expect(refusal(() => resolve('postgresql://mint@localhost/mint?sslmode=verify_full'))).toMatch(/^E_STORE_URL 2: /);
  });
  it('a Unix-domain socket ignores sslmode, as libpq does (PGSSLMODE=verify-full too)', () => {
    expect(ssl('postgresql:///mint?host=/run/postgresql', { PGSSLMODE: 'verify-full' })).toBe(false);
  });
  it('a client certificate (sslcert/PGSSLCERT) with its key (sslkey/PGSSLKEY): the key must be 0600; one without the other is refused', () => {
    const cert = file('client.crt', 'CERT', 0o644);
    const key = file('client.key', 'KEY', 0o600);
    expect(ssl('postgresql://mint@db.example/mint?sslmode=require', { PGSSLCERT: cert, PGSSLKEY: key })).toEqual({ rejectUnauthorized: false, cert: 'CERT', key: 'KEY' });
    chmodSync(key, 0o644);
    expect(refusal(() => resolve('postgresql://mint@db.example/mint?sslmode=require', { PGSSLCERT: cert, PGSSLKEY: key }))).toMatch(/^E_SECRET_FILE_PERMISSIONS 4/);
    expect(refusal(() => resolve('postgresql://mint@db.example/mint?sslmode=require', { PGSSLCERT: cert, PGSSLKEY: join(dir.path, 'missing.key') }))).toMatch(/^E_STORE_URL 2: /);
    expect(refusal(() => resolve('postgresql://mint@db.example/mint?sslmode=require', { PGSSLKEY: key }))).toMatch(/^E_STORE_URL 2: sslkey/);
  });
});

describe('the password file (libpq-pgpass.html)', () => {
  const t = { host: 'db.example', port: 5432, database: 'mint', user: 'mint' };
  it('host:port:database:user:password, the first matching line; * matches anything; \\: and \\\\ are escaped; # comments', () => {
    const path = file('pgpass', ['# a comment', 'other:5432:mint:mint:wrong', 'db.example:5432:mint:mint:p\\:a\\\\ss', '*:*:*:*:fallback'].join('\n'));
    expect(passwordFromFile(path, t, readSecretText, true)).toBe('p:a\\ss');
    expect(passwordFromFile(path, { ...t, database: 'other' }, readSecretText, true)).toBe('fallback');
    expect(passwordFromFile(file('pgpass-none', 'other:5432:mint:mint:x\n'), t, readSecretText, true)).toBeUndefined();
  });
  it('a Unix-socket connection matches its directory or localhost', () => {
    const path = file('pgpass-local', 'localhost:5432:mint:mint:socket-pw\n');
    expect(passwordFromFile(path, { ...t, host: '/run/postgresql' }, readSecretText, true)).toBe('socket-pw');
  });
  it('a file others can read is refused (E_SECRET_FILE_PERMISSIONS, exit 4; libpq would warn and ignore it)', () => {
    const path = file('pgpass-open', '*:*:*:*:pw\n', 0o644);
    expect(refusal(() => passwordFromFile(path, t, readSecretText, true))).toMatch(/^E_SECRET_FILE_PERMISSIONS 4/);
  });
  it('PGPASSFILE names it, read when the server asks; the default ~/.pgpass may be absent', () => {
    const path = file('pgpass-env', 'localhost:5432:mint:mint:from-file\n');
    const target = resolve('postgresql://mint@localhost/mint', { PGPASSFILE: path });
    expect(target.password).toBeUndefined();
    expect(target.lookupPassword!()).toBe('from-file');
    expect(resolve('postgresql://mint@localhost/mint').lookupPassword!()).toBeUndefined();
    expect(refusal(() => resolve('postgresql://mint@localhost/mint', { PGPASSFILE: join(dir.path, 'missing') }).lookupPassword!())).toMatch(/^E_INPUT_FILE 2/);
  });
});

const target = (url: string, env: Record<string, string> = {}) => resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, HOME: '/nonexistent', ...env })!;

describe('connecting (the operator\'s store)', () => {
  it('maps sslmode to TLS: disable (a local server\'s default) plain, require unchecked, verify-full checked; prefer refused', () => {
    expect(pgConfig(target('postgres://u@localhost:1/db'), 'x').ssl).toBe(false);
    expect(pgConfig(target('postgres://u@h:1/db?sslmode=disable'), 'x').ssl).toBe(false);
    expect(pgConfig(target('postgres://u@h:1/db?sslmode=require'), 'x').ssl).toEqual({ rejectUnauthorized: false });
    expect(pgConfig(target('postgres://u@h:1/db?sslmode=verify-full&sslrootcert=system'), 'x').ssl).toEqual({ rejectUnauthorized: true });
    expect(() => pgConfig(target('postgres://u@h:1/db?sslmode=prefer'), 'x')).toThrow(expect.objectContaining({ code: 'E_STORE_URL', exitCode: 2 }));
    const c = pgConfig(target('postgres://u@h:1/db?sslmode=disable&application_name=op1&connect_timeout=3', { OFFCHAIN_STORE_PASSWORD: 'pw' }), 'x');
    expect(c).toMatchObject({ host: 'h', port: 1, database: 'db', user: 'u', password: 'pw', application_name: 'op1', connectionTimeoutMillis: 3000 });
  });

  it('a failed login is E_STORE_AUTH (2), anything else E_STORE_UNREACHABLE (1); the password is never in the message', () => {
    const t = target('postgres://u:sekrit-pw@h:1/db?sslmode=disable');
    const auth = storeError(Object.assign(new Error('password authentication failed for user "u"'), { code: '28P01' }), t);
    expect({ code: auth.code, exit: auth.exitCode }).toEqual({ code: 'E_STORE_AUTH', exit: 2 });
    const down = storeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), t);
    expect({ code: down.code, exit: down.exitCode }).toEqual({ code: 'E_STORE_UNREACHABLE', exit: 1 });
    for (const e of [auth, down]) expect(e.message).not.toContain('sekrit-pw');
    expect(down.message).toContain('postgres://u@h:1/db?sslmode=disable');
  });
});
