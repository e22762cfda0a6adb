/**
 * The statechain operator's store alone (not in `npm run bench`: it needs a PostgreSQL
 * server, which the test harness starts): steps per second and latency per step with 1, 2
 * and 4 concurrent operator connections on different coins, 4 on one coin, and the file
 * store for comparison. The steps are a transfer's two writes in turn, each lock the coin's
 * rows, read them, unseal the share, rewrite the record and the sealed share, COMMIT, raise
 * this host's witness: the co-signing inserts an owner nonce, a backup and the pending
 * transfer, the completion marks it done and keeps its receipt. No signing (that is
 * bench/statechain.ts's) and no CLI start-up.
 *
 *   node --import tsx bench/statechain-store.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startPostgres } from '../test/setup/postgres.ts';
import { resolvePgTarget } from '../src/lib/store/pg/connect.ts';
import { PgOperatorStore } from '../src/lib/store/pg/operator-store.ts';
import { VersionWitness } from '../src/lib/store/pg/witness.ts';
import { SqliteOperatorStore } from '../src/lib/store/sqlite/operator.ts';
import { StateDb } from '../src/lib/store/sqlite/database.ts';
import { Sealer } from '../src/lib/store/seal.ts';
import type { OperatorRecord, OperatorStore } from '../src/lib/statechain/ports.ts';

const STEPS = Number(process.env.STEPS ?? 400);
const hex = (n: number) => randomBytes(n).toString('hex');

function coin(): OperatorRecord {
  return {
    coin_id: hex(16), network: 'regtest', share_secret: hex(32), funding_tx: null, x1: null, seen_nonces: [], done: [],
    statement: { coin_id: '', network: 'regtest', status: 'active', backups: [], transfer: null, count: 0 } as unknown as OperatorRecord['statement'],
  };
}

/**
 * A transfer's two writes in turn, as a coin's record grows in life: the co-signing (a backup and an owner nonce
 * more, the transfer pending, a new last answer), then the completion (the transfer's receipt, ports.ts
 * TransferReceipt, nothing pending).
 */
function step(r: OperatorRecord) {
  const pending = r.statement.transfer;
  if (pending !== null) {
    const receipt = { transfer_id: pending.transfer_id, count: r.statement.count, owner_auth: '03'.padEnd(66, '1'), operator_share: '02'.padEnd(66, '2'), operator_sig: hex(64) };
    return { record: { ...r, statement: { ...r.statement, transfer: null }, done: [...r.done, receipt] }, message: r.statement.count };
  }
  const n = r.statement.backups.length + 1;
  const transfer = { transfer_id: hex(16), receiver_auth: '03'.padEnd(66, '1'), receiver_share: '02'.padEnd(66, '0'), x1_point: '02'.padEnd(66, '3') };
  const statement = { ...r.statement, count: n, transfer, backups: [...r.statement.backups, { n, txid: hex(32), locktime: 1_000_000 - n, owner_share: '02'.padEnd(66, '0') }] };
  return { record: { ...r, statement, seen_nonces: [...r.seen_nonces, hex(16)], last_answer: { request: hex(32), message: { n } } }, message: n };
}

async function run(label: string, stores: OperatorStore[], coins: string[][]) {
  const lat: number[] = [];
  const per = Math.ceil(STEPS / stores.length);
  const t0 = performance.now();
  await Promise.all(stores.map(async (s, w) => {
    for (let i = 0; i < per; i++) {
      const c = coins[w]![i % coins[w]!.length]!;
      const a = performance.now();
      await s.step(c, step);
      lat.push(performance.now() - a);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(1);
  console.log(`${label.padEnd(34)} ${(lat.length / secs).toFixed(0).padStart(5)} steps/s   p50 ${q(0.5)} ms   p99 ${q(0.99)} ms`);
}

const server = await startPostgres();
const work = mkdtempSync(join(tmpdir(), 'offchain-bench-op-'));
try {
  const url = await server.createDatabase('bench');
  const target = resolvePgTarget({ store: url }, { OFFCHAIN_STORE_PASSWORD: server.password })!;
  const pg = (w: number) => new PgOperatorStore(target, { network: 'regtest', operatorSecret: randomBytes(32).fill(7), witness: new VersionWitness(async (create) => StateDb.open(join(work, `witness-${w}`), { create }), join(work, `witness-${w}`)) });
  const make = async (s: OperatorStore, n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = coin();
      await s.offer(r.coin_id.repeat(2), () => ({ record: r, message: { coin_id: r.coin_id } }));
      ids.push(r.coin_id);
    }
    return ids;
  };
  for (const workers of [1, 2, 4]) {
    const stores = Array.from({ length: workers }, (_, w) => pg(w));
    const coins = await Promise.all(stores.map((s) => make(s, 16)));
    await run(`postgres, ${workers} connection(s), own coins`, stores, coins);
    await Promise.all(stores.map((s) => s.close()));
  }
  const stores = Array.from({ length: 4 }, (_, w) => pg(10 + w));
  const one = await make(stores[0]!, 1);
  await run('postgres, 4 connections, one coin', stores, stores.map(() => one));
  await Promise.all(stores.map((s) => s.close()));
  const file = new SqliteOperatorStore(async (create) => StateDb.open(join(work, 'files'), { create }), Sealer.fromSecret(randomBytes(32).fill(7)), join(work, 'files'));
  await run('state.sqlite (--state-dir), 1 process', [file], [await make(file, 16)]);
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
