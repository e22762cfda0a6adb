/**
 * The statechain owners' and receivers' steps in process, the operator's as real processes
 * (test/pg): the same argv, environment and --state-dir as `pgFlow` (./operator.ts), but a
 * party whose name does not start OPERATOR runs the built bundle's `main` in this process
 * (test/e2e/in-process.ts, ~10 ms instead of ~0.14 CPU-s a spawn), while every operator
 * step is still its own `offchain` process on the PostgreSQL store, as the operator runs.
 *
 * For the PostgreSQL operator runs, where the process under test is the operator on its
 * store and the owners are its drivers (as ./mint-cluster.ts's users are for the credit mint). Each
 * file that uses it keeps one flow with every party its own process (statechain-operator's
 * "deposit, transfer ×2, withdraw"), and the owners' commands at the process boundary are
 * the e2e suite's (test/e2e/statechain*.test.ts).
 */
import type { Client } from 'pg';
import { runAsync } from '../e2e/process.ts';
import { runInProcess } from '../e2e/in-process.ts';
import { KEYS, OPERATOR_PUB, fundingTo, ok, partyArgs } from '../e2e/statechain-flow.ts';
import { depositVia, transferVia, type AsyncFlow } from '../e2e/statechain-here.ts';
import type { Postgres } from '../setup/postgres.ts';
import type { PgFixture } from './fixture.ts';
import { OFFLINE, isOperator, pgParty } from './operator.ts';

export { depositVia, transferVia };

/** `pgFlow`'s parties, every step awaited: operators spawned, the others in process. */
export function ownerFlow(dir: string, server: Postgres, url: string, keys: Record<string, string> = {}): AsyncFlow {
  const { env, args } = pgParty(dir, server, url, keys);
  return {
    dir,
    as: (who, a, input) => (isOperator(who) ? runAsync(args(who, a), { input, env: env(who) }) : runInProcess(args(who, a), { input, env: env(who) })),
  };
}

/** ./operator.ts aliceSignedTransfer on an AsyncFlow: Alice's coin and her signed transfer to Bob. */
export async function aliceSignedTransferVia(fx: PgFixture, pgdb: { url: string; db: Client; temp: () => string }) {
  const dir = pgdb.temp();
  const f = ownerFlow(dir, fx.server, pgdb.url);
  const d = await depositVia(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
  const request = ok(await f.as('BOB_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', OPERATOR_PUB]));
  const sign = ok(await f.as('ALICE_KEY', ['statechain-transfer'], request));
  const version = async () => Number((await pgdb.db.query<{ version: string }>('SELECT version FROM statechain_operator_coins WHERE coin_id = $1', [d.coinId])).rows[0]!.version);
  return { dir, f, d, sign, version };
}

/**
 * test/e2e/statechain-flow.ts `flow(dir, () => OFFLINE)` (the operator on files, no store), every step
 * awaited: the owners in process; the operator spawned, or with `operator: 'in-process'` in process
 * too — for coins that are only setup (an operator on files whose `statechain store migrate` is the
 * process under test).
 */
export function filesFlow(dir: string, opts: { operator: 'spawned' | 'in-process' } = { operator: 'spawned' }): AsyncFlow {
  const args = (who: string, a: string[]) => partyArgs(dir, () => OFFLINE, who, a);
  return {
    dir,
    as: (who, a, input) => (isOperator(who) && opts.operator === 'spawned' ? runAsync(args(who, a), { input, env: KEYS }) : runInProcess(args(who, a), { input, env: KEYS })),
  };
}
