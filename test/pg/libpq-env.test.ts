/**
 * libpq's settings honoured against a real server (issue 38, Found 2): the test's own
 * PostgreSQL turned to `ssl=on` with a certificate for `localhost` from a CA of the test's
 * own (openssl, in the test's temp dir), and a second CA that signed nothing of it.
 *
 * verify-full to the right host, the wrong host (127.0.0.1: not in the certificate) and with
 * the wrong CA — through the URL and through PGSSLMODE/PGSSLROOTCERT — and what the server
 * itself says of each connection (pg_stat_ssl), so "honoured" means the bytes went over TLS,
 * not that a setting was parsed; verify-ca and require, which do not check the host; the
 * Unix-socket host (`?host=/tmp`, PGHOST); a host name that begins `127.` (resolved to this
 * server by the test), which is TLS by default like any name; the password from PGPASSFILE; and through the
 * built CLI, PGSSLMODE honoured or refused (E_STORE_TLS, exit 4), and the configuration
 * file's `store=`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dns from 'node:dns';
import { beforeAll, expect, it, vi } from 'vitest';
import type { Client } from 'pg';
import { describePostgres } from './fixture.ts';
import { connectPg } from '../../src/lib/store/pg/client.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { readSecretText } from '../../src/lib/cli/secret-file.ts';
import { pipeline } from '../e2e/cli.ts';
import { PAYOUT, mintStage } from '../e2e/stream-credit.ts';

describePostgres('libpq settings against a real server: TLS with its own CA, a Unix socket, a password file', (fx) => {
  let pki: { ca: string; wrongCa: string };
  let home: string;

  /** openssl in `dir`: a CA, a server certificate for DNS:localhost signed by it, and an unrelated CA. */
  function makePki(dir: string) {
    mkdirSync(dir, { recursive: true });
    const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const ca of ['ca', 'wrong-ca']) {
      ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=offchain test ${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`);
    }
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,DNS:127.db.example\n');
    ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt');
  }

  async function admin(): Promise<Client> {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ host: fx.server.host, port: fx.server.port, user: fx.server.user, password: fx.server.password, database: 'postgres' });
    await c.connect();
    return c;
  }

  beforeAll(async () => {
    const dir = join(fx.root, 'pki');
    makePki(dir);
    pki = { ca: join(dir, 'ca.crt'), wrongCa: join(dir, 'wrong-ca.crt') };
    // The server's key and certificate in its data directory, owned by the user it runs as.
    const owner = statSync(fx.server.dataDir);
    for (const f of ['server.crt', 'server.key']) {
      copyFileSync(join(dir, f), join(fx.server.dataDir, f));
      chownSync(join(fx.server.dataDir, f), owner.uid, owner.gid);
      chmodSync(join(fx.server.dataDir, f), 0o600);
    }
    const c = await admin();
    await c.query("ALTER SYSTEM SET ssl_cert_file = 'server.crt'");
    await c.query("ALTER SYSTEM SET ssl_key_file = 'server.key'");
    await c.query('ALTER SYSTEM SET ssl = on');
    await c.query('SELECT pg_reload_conf()');
    await c.end();
    for (let i = 0; ; i++) {
      const c2 = await admin();
      const on = (await c2.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl;
      await c2.end();
      if (on === 'on') break;
      if (i > 50) throw new Error('ssl did not turn on');
      await new Promise((r) => setTimeout(r, 100));
    }
    home = join(fx.root, 'home'); // no ~/.postgresql: nothing found by default
    mkdirSync(home, { recursive: true });
  }, 120_000);

  /** Connect as the store would: the target from `url` and `env` (the password from the environment); what the server says of the session. */
  async function session(url: string, env: Record<string, string> = {}) {
    const t = resolvePgTarget({}, { HOME: home, OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password, ...env }, readSecretText)!;
    const c = await connectPg(t, 'offchain test');
    try {
      const r = (await c.query<{ ssl: boolean; socket: boolean }>('SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS ssl, inet_server_addr() IS NULL AS socket')).rows[0]!;
      return { tls: r.ssl, socket: r.socket };
    } finally {
      await c.end();
    }
  }
  /** The code and exit of what connecting throws ('connected' if it does not). */
  async function refused(url: string, env: Record<string, string> = {}): Promise<string> {
    try {
      await session(url, env);
      return 'connected';
    } catch (e) {
      return `${(e as { code?: string }).code} ${(e as { exitCode?: number }).exitCode}`;
    }
  }
  const at = (host: string, query = '') => `postgres://${fx.server.user}@${host}:${fx.server.port}/postgres${query}`;

  it('verify-full through the URL: the right host over TLS; the wrong host and the wrong CA refused E_STORE_TLS (exit 4)', async () => {
    expect(await session(at('localhost', `?sslmode=verify-full&sslrootcert=${pki.ca}`))).toEqual({ tls: true, socket: false });
    expect(await refused(at('127.0.0.1', `?sslmode=verify-full&sslrootcert=${pki.ca}`))).toBe('E_STORE_TLS 4');
    expect(await refused(at('localhost', `?sslmode=verify-full&sslrootcert=${pki.wrongCa}`))).toBe('E_STORE_TLS 4');
  });

  it('verify-full through PGSSLMODE and PGSSLROOTCERT (was ignored: plain text): the same three outcomes', async () => {
    expect(await session(at('localhost'), { PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.ca })).toEqual({ tls: true, socket: false });
    expect(await refused(at('127.0.0.1'), { PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.ca })).toBe('E_STORE_TLS 4');
    expect(await refused(at('localhost'), { PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.wrongCa })).toBe('E_STORE_TLS 4');
    // The host, port and database from the environment too: an empty URL.
    expect(await session('postgres://', { PGHOST: 'localhost', PGPORT: String(fx.server.port), PGDATABASE: 'postgres', PGUSER: fx.server.user, PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.ca })).toEqual({ tls: true, socket: false });
  });

  it('verify-ca checks the chain, not the host; require checks nothing; a local host without sslmode is plain', async () => {
    expect(await session(at('127.0.0.1'), { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: pki.ca })).toEqual({ tls: true, socket: false });
    expect(await refused(at('127.0.0.1'), { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: pki.wrongCa })).toBe('E_STORE_TLS 4');
    expect(await session(at('127.0.0.1', '?sslmode=require'))).toEqual({ tls: true, socket: false });
    expect(await session(at('127.0.0.1'))).toEqual({ tls: false, socket: false });
  });

  it('a host NAME that begins "127." is not this machine by its name: verify-full when no sslmode is given, never plain text with the password', async () => {
    // 127.db.example resolves here to this server (a test's resolver); the certificate names it too.
    const lookup = dns.lookup;
    const spy = vi.spyOn(dns, 'lookup').mockImplementation(((host: string, ...rest: unknown[]) => (lookup as (...a: unknown[]) => void)(host === '127.db.example' ? '127.0.0.1' : host, ...rest)) as typeof dns.lookup);
    try {
      // With the CA: TLS, checked against the name (before: sslmode=disable, the password sent in clear).
      expect(await session(at('127.db.example'), { PGSSLROOTCERT: pki.ca })).toEqual({ tls: true, socket: false });
      expect(spy).toHaveBeenCalled();
      // Without one: refused before anything connects, as for any host not this machine.
      expect(await refused(at('127.db.example'))).toBe('E_STORE_URL 2');
      // An address in 127.0.0.0/8 is this machine: plain text unless asked (the same server).
      expect(await session(at('127.0.0.1'))).toEqual({ tls: false, socket: false });
    } finally {
      spy.mockRestore();
    }
  });

  it('a Unix-socket host: ?host=/tmp and PGHOST=/tmp (was "not a valid URL")', async () => {
    expect(await session(`postgres://${fx.server.user}@/postgres?host=/tmp&port=${fx.server.port}`)).toEqual({ tls: false, socket: true });
    expect(await session('postgres:///postgres', { PGHOST: '/tmp', PGPORT: String(fx.server.port), PGUSER: fx.server.user, PGSSLMODE: 'verify-full' })).toEqual({ tls: false, socket: true });
  });

  it('the password from PGPASSFILE (0600) when none is given; a file others can read refused; none at all E_STORE_AUTH', async () => {
    const url = at('localhost');
    const passfile = join(fx.root, 'pgpass');
    writeFileSync(passfile, `# test\nlocalhost:${fx.server.port}:postgres:${fx.server.user}:${fx.server.password.replace(/[:\\]/g, '\\$&')}\n`);
    chmodSync(passfile, 0o600);
    const t = resolvePgTarget({}, { HOME: home, OFFCHAIN_STORE_URL: url, PGPASSFILE: passfile }, readSecretText)!;
    expect(t.password).toBeUndefined();
    const c = await connectPg(t, 'offchain test');
    expect((await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u).toBe(fx.server.user);
    await c.end();
    chmodSync(passfile, 0o644);
    const open = resolvePgTarget({}, { HOME: home, OFFCHAIN_STORE_URL: url, PGPASSFILE: passfile }, readSecretText)!;
    await expect(connectPg(open, 'offchain test')).rejects.toMatchObject({ code: 'E_SECRET_FILE_PERMISSIONS', exitCode: 4 });
    const none = resolvePgTarget({}, { HOME: home, OFFCHAIN_STORE_URL: url }, readSecretText)!;
    await expect(connectPg(none, 'offchain test')).rejects.toMatchObject({ code: 'E_STORE_AUTH', exitCode: 2 });
  });

  it('through the built CLI: PGSSLMODE=verify-full honoured (the right CA) or refused E_STORE_TLS with one line; the configuration file\'s store=', async () => {
    const url = (await fx.server.createDatabase('libpq_cli')).replace('127.0.0.1', 'localhost');
    const state = join(fx.root, 'cli-state');
    const tlsEnv = { HOME: home, OFFCHAIN_STORE_PASSWORD: fx.server.password, PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.ca };
    const [offer] = await pipeline([mintStage(state, tlsEnv, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--store', url)], '');
    expect(offer!.status, offer!.stderr).toBe(0);
    const list = (env: Record<string, string>, store = ['--store', url]) => pipeline([{ args: ['credit', 'list', ...store, '--tip-height', '1000', '--state-dir', state], env }], '');
    const [ok] = await list(tlsEnv);
    expect(ok!.status, ok!.stderr).toBe(0);
    expect(JSON.parse(ok!.stdout)).toMatchObject({ type: 'credit/contracts', contracts: [] });
    const [wrong] = await list({ ...tlsEnv, PGSSLROOTCERT: pki.wrongCa });
    expect({ status: wrong!.status, stdout: wrong!.stdout }).toEqual({ status: 4, stdout: '' });
    expect(wrong!.stderr.trim().split('\n')).toHaveLength(1);
    expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(wrong!.stderr)?.[1]).toBe('E_STORE_TLS');
    // The configuration file names the store (and its password file); no --store, no OFFCHAIN_STORE_URL.
    const pw = join(fx.root, 'cli-pw');
    writeFileSync(pw, fx.server.password);
    chmodSync(pw, 0o600);
    const config = join(fx.root, 'offchain.conf');
    writeFileSync(config, `store=${url}?sslmode=verify-full&sslrootcert=${pki.ca}\nstore_password_file=${pw}\n`);
    const [fromConfig] = await list({ HOME: home, OFFCHAIN_CONFIG: config }, []);
    expect(fromConfig!.status, fromConfig!.stderr).toBe(0);
    expect(JSON.parse(fromConfig!.stdout)).toMatchObject({ type: 'credit/contracts', contracts: [] });
  }, 120_000);
});
