/**
 * The anchor under bench/pg-scale.ts's "CPU per update on PostgreSQL ≤ 2× SQLite's": a mint
 * update's statements alone, outside the toolkit — the same four round trips `serve mint`
 * sends for a payment (pg/mint-store.ts `get`/`put`, pg/mint-nonces.ts, pg/mint-transactions.ts
 * `tick`, counted at src/lib/store/pg/mint-connection.ts `q`; test/pg/round-trips.test.ts),
 * named prepared statements as it sends them, with the `pg` module of the tree, on the same
 * server, a 2.4 kB record, kept as the store keeps it (schema.ts CONTRACTS_STORAGE; no indexes over it):
 *
 *   1 BEGIN; the contract FOR UPDATE, then the nonce the request names FOR UPDATE, one
 *     statement (the store's own text; the first statement goes with BEGIN, as literals)
 *   2 the nonce consumed
 *   3 the next nonce inserted, the contract upserted and the epoch tick, one statement
 *     (its text made by the store's own `writesWithTick`)    4 COMMIT
 *
 * Its client CPU (this process: system time apart) and the server's (every process of the
 * postmaster) per update, at two placements: "as the mint runs" (this process and the server
 * on any core, as the services are) and "one core" (both on core 0). What the mint costs beyond
 * the first is the toolkit's own work; the gap between the two is what waking a process on the
 * other core costs the statements' round trips on this machine. Printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { ALL_CORES, cpuSeconds, hasTaskset, onEveryCore } from './procs.ts';
import { writesWithTick } from '../src/lib/store/pg/mint-held-back.ts';
import { NONCE_CONSUME_SQL as CONSUME, NONCE_ISSUE_SQL as ISSUE } from '../src/lib/store/pg/mint-nonces.ts';
import { CONTRACT_AND_NONCE_LOCKED as LOCKED, CONTRACT_PUT_SQL as PUT } from '../src/lib/store/pg/mint-store.ts';
import { withLiterals } from '../src/lib/store/pg/mint-connection.ts';
import { CONTRACTS_STORAGE } from '../src/lib/store/pg/schema.ts';

type Server = { host: string; port: number; user: string; password: string };
type PgModule = { Client: new (config: Record<string, unknown>) => PgClient };
type PgClient = { connect(): Promise<void>; end(): Promise<void>; escapeLiteral(s: string): string; query(q: string | { name: string; text: string; values: unknown[] }, values?: unknown[]): Promise<{ rows: Record<string, string>[] }> };

export type StatementsAlone = { placement: string; updates: number; client_ms: number; client_sys_ms: number; server_ms: number; wall_ms: number };

const CONTRACTS = 32;
const hex = (n: number) => randomBytes(n).toString('hex');

/** `updates` payments' statements at each placement (after `updates / 10` untimed), in database `database` of `server`. */
export async function statementsAlone(pg: PgModule, server: Server, database: string, serverPids: () => number[], updates: number): Promise<StatementsAlone[]> {
  const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await c.connect();
  const self = String(process.pid);
  const before = hasTaskset ? /list: (.*)$/m.exec(spawnSync('taskset', ['-c', '-p', self], { encoding: 'utf8' }).stdout)?.[1]?.trim() : undefined;
  try {
    await c.query(`CREATE TABLE contracts (contract_id text PRIMARY KEY, record text NOT NULL) WITH (${CONTRACTS_STORAGE});
      CREATE TABLE nonces (id text PRIMARY KEY, context text, pubnonce text, epoch text, sealed bytea, consumed boolean NOT NULL DEFAULT false);
      CREATE TABLE epochs (epoch text PRIMARY KEY, counter bigint NOT NULL)`);
    const ids = Array.from({ length: CONTRACTS }, () => hex(16));
    const next = new Map<string, string>();
    for (const id of ids) {
      next.set(id, hex(16));
      await c.query('INSERT INTO contracts VALUES ($1, $2)', [id, hex(1200)]);
      await c.query("INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, 'ctx', 'pn', 'e', $2)", [next.get(id)!, randomBytes(80)]);
    }
    await c.query("INSERT INTO epochs VALUES ('e', 0)");
    // The bytes written are made before the clock: the client's figure is the statements' alone.
    const records = Array.from({ length: 64 }, () => hex(1200));
    const sealed = randomBytes(80);
    let fresh = 0;
    let counter = 0;
    const q = (name: string, text: string, values: unknown[]) => c.query({ name, text, values });
    const update = async (i: number) => {
      const id = ids[i % CONTRACTS]!;
      const nonce = next.get(id)!;
      const issued = (++fresh).toString(16).padStart(32, '0');
      const locked = await c.query(`BEGIN; ${withLiterals(LOCKED, [id, nonce], (x) => c.escapeLiteral(x))!}`);
      if ((locked as unknown as { rows: { found?: boolean }[] }[])[1]!.rows[0]?.found !== true) throw new Error('pg-statements: the contract or its nonce is missing under the bench');
      await q('consume', CONSUME, [nonce]);
      const writes = writesWithTick([
        { sql: ISSUE, params: [issued, 'ctx', 'pn', 'e', sealed], key: '', check: undefined },
        { sql: PUT, params: [id, records[i % records.length]!], key: '', check: undefined },
      ], 'e');
      const tick = await q('writes', writes.text, writes.params);
      if (Number(tick.rows[0]!.counter) !== ++counter || tick.rows[0]!.w0 !== '1') throw new Error('pg-statements: the epoch counter or a nonce moved under the bench');
      await c.query('COMMIT');
      next.set(id, issued);
    };
    const placements: [string, string][] = hasTaskset ? [['as the mint runs', ALL_CORES], ['one core', '0']] : [['as the mint runs', '']];
    const out: StatementsAlone[] = [];
    for (const [placement, cores] of placements) {
      if (cores) {
        spawnSync('taskset', ['-a', '-p', '-c', cores, self], { stdio: 'ignore' });
        for (const pid of serverPids()) spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
      }
      for (let i = 0; i < Math.ceil(updates / 10); i++) await update(i);
      const pids = serverPids();
      const [c0, s0, t0] = [process.cpuUsage(), cpuSeconds(pids), performance.now()];
      for (let i = 0; i < updates; i++) await update(i);
      const [cpu, server, wall] = [process.cpuUsage(c0), cpuSeconds(pids) - s0, performance.now() - t0];
      const ms = (x: number) => Number(x.toFixed(3));
      out.push({ placement, updates, client_ms: ms((cpu.user + cpu.system) / 1000 / updates), client_sys_ms: ms(cpu.system / 1000 / updates), server_ms: ms((1000 * server) / updates), wall_ms: ms(wall / updates) });
    }
    return out;
  } finally {
    if (before) spawnSync('taskset', ['-a', '-p', '-c', before, self], { stdio: 'ignore' });
    onEveryCore(serverPids());
    await c.end();
  }
}
