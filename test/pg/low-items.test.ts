/**
 * Issue 38's low items on the PostgreSQL store, through the built CLI:
 *
 * - `exit-credit --store …` without --state-dir wrote the host's nonce key and witness under
 *   ~/.offchain (host epochs, since gone): it signs with no nonce, runs one-shot on PostgreSQL
 *   and writes nothing outside the database — the home directory is byte-identical before and
 *   after.
 * - A second `credit store migrate` of a finished migration exited 5 (E_STORE_MIGRATED): it
 *   now says there is nothing left (exit 0, the same report, `resumed: true`, the source
 *   untouched) when the target holds that migration; a target that does not (restored,
 *   another database) and another target are still refused E_STORE_MIGRATED.
 * - `--store-password-file /dev/null` said "it is a directory": it says what it is.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { run, pipeline, type Run } from '../e2e/cli.ts';
import { openContracts, mintStage, payRequest } from '../e2e/stream-credit.ts';
import { describePostgres } from './fixture.ts';
import { PgStream, openVia, publishOffer } from './pg-parties.ts';

/**
 * Every file under `dir` (recursively), hashed; directories listed too. SQLite's shared-memory
 * index (-shm) is not state, and an empty write-ahead log is the same as none.
 */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = join(f.parentPath ?? (f as { path: string }).path, f.name);
    if (f.name.endsWith('-shm')) continue;
    const bytes = f.isFile() ? readFileSync(p) : undefined;
    if (f.name.endsWith('-wal') && bytes?.length === 0) continue;
    out[p] = bytes ? createHash('sha256').update(bytes).digest('hex') : 'dir';
  }
  return out;
}

/** A refusal as the operator meets it: the exit code, one coded line, an empty stdout; the line. */
function refused(r: Run, code: string, exit: number): string {
  expect({ status: r.status, stdout: r.stdout }, r.stderr).toEqual({ status: exit, stdout: '' });
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.includes('OFFCHAIN_TEST_SEED'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(lines[0]!)?.[1], lines[0]).toBe(code);
  return lines[0]!;
}

describePostgres('the low items: exit-credit writes nothing outside the store, a finished migration run again, /dev/null as a password file', (fx) => {
  it('exit-credit --store without --state-dir writes nothing under the home directory (was ~/.offchain/<network>/credit-mint-pg)', async () => {
    const url = await fx.server.createDatabase('exit_home');
    const root = join(fx.root, 'exit-home');
    const env = { OFFCHAIN_STORE_PASSWORD: fx.server.password };
    const offer = await publishOffer(root, url, env);
    const s = new PgStream(root, url, env);
    await s.started();
    const u = await openVia(s, root, offer, 0, env, 'exit-home');
    const paid = await s.ask((await payRequest(u, 2000, env)).line);
    expect(paid.msg.type, paid.text).toBe('credit/receipt');
    expect((await s.stream.end()).status, s.stream.stderr).toBe(0);

    const home = join(fx.root, 'exit-home-home');
    mkdirSync(home);
    const before = tree(home);
    const { args, env: stageEnv } = mintStage('', { ...env, HOME: home }, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId, '--store', url);
    const withoutStateDir = args.slice(0, args.indexOf('--state-dir'));
    const [exit] = await pipeline([{ args: withoutStateDir, env: stageEnv! }], '');
    expect(exit!.status, exit!.stderr).toBe(0);
    expect(JSON.parse(exit!.stdout)).toMatchObject({ type: 'credit/exit', contract_id: u.contractId, cumulative_sat: 2000 });
    expect(tree(home)).toEqual(before);
    expect(before).toEqual({});
  }, 300_000);

  it('a finished migration run again: nothing left (exit 0, the same counts, the source untouched); another target, or a target without it, still E_STORE_MIGRATED', async () => {
    const SEED = { OFFCHAIN_TEST_SEED: 'pg-low-items' };
    const p = await openContracts(join(fx.root, 'migrated'), 2, SEED, 'low-items');
    const url = await fx.server.createDatabase('migrated_once');
    const env = { ...SEED, OFFCHAIN_STORE_PASSWORD: fx.server.password };
    const migrate = (to: string) => run(['credit', 'store', 'migrate', '--state-dir', p.mintDir, '--to', to], { env });
    const first = migrate(url);
    expect(first.status, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ type: 'credit/store-migrated', contracts: 2, resumed: false });
    const source = tree(p.mintDir);

    const again = migrate(url);
    expect(again.status, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    const { next: n1, resumed: _r1, ...counts1 } = report;
    const { next: n2, resumed, ...counts2 } = second;
    expect(counts2).toEqual(counts1);
    expect(resumed).toBe(true);
    expect(n2).toMatch(/^nothing left to do: /);
    expect(n1).not.toMatch(/^nothing left/);
    expect(tree(p.mintDir)).toEqual(source);

    // Another target: refused as before.
    const other = await fx.server.createDatabase('migrated_elsewhere');
    expect(refused(migrate(other), 'E_STORE_MIGRATED', 5)).toContain('was migrated to');
    // The target no longer holds this migration (a restore, another database at the URL): refused, not "nothing left".
    const { default: pg } = await import('pg');
    const c = new pg.Client({ host: fx.server.host, port: fx.server.port, user: fx.server.user, password: fx.server.password, database: 'migrated_once' });
    await c.connect();
    await c.query("DELETE FROM meta WHERE key = 'migrated_from'");
    await c.end();
    expect(refused(migrate(url), 'E_STORE_MIGRATED', 5)).toMatch(/does not hold/);
    expect(tree(p.mintDir)).toEqual(source);
  }, 300_000);

  it('--store-password-file /dev/null: E_INPUT_FILE (exit 2) saying it is not a regular file — not "a directory"', async () => {
    const url = await fx.server.createDatabase('devnull');
    const r = run(['credit', 'list', '--store', url, '--store-password-file', '/dev/null', '--tip-height', '1000'], {});
    const line = refused(r, 'E_INPUT_FILE', 2);
    expect(line).toMatch(/--store-password-file \/dev\/null: .*not a regular file/);
    expect(line).not.toMatch(/directory/);
  });
});
