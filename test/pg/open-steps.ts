/**
 * Credit stages (test/e2e/stream-credit.ts `mintStage` / `userStage`) run in this process,
 * one after the other, each fed the whole output of the one before: the built bundle's
 * `main` (test/e2e/in-process.ts, ~0.03 CPU-s instead of ~0.15 a spawn), same argv,
 * environment and --state-dir as the spawned stage.
 *
 * For setup whose processes are not under test: the SQLite mints and users a PostgreSQL
 * migration starts from (test/pg/migrate.test.ts, where `credit store migrate`, the mint on
 * the store and every refusal stay real processes). `openContracts` through OS pipes is the
 * e2e suite's (test/e2e/stream-credit.ts).
 */
import { join } from 'node:path';
import { pipelineInProcess } from '../e2e/in-process.ts';
import { expect } from 'vitest';
import { CAPACITY, message, mintStage, openContracts, userStage, type Msg, type Parties, type User } from '../e2e/stream-credit.ts';
import type { SchnorrVerifier } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import type { PgStream } from './pg-parties.ts';

/** `a | b | c`, every stage in process in turn: each stage's result, as `pipeline` gives them. */
export const inProcess = pipelineInProcess;

/** test/e2e/stream-credit.ts `openContracts` (the same keys, PSBTs and steps), every stage in process. */
export const openContractsInProcess = (root: string, count: number, env: Record<string, string>, label = 'stream'): Promise<Parties> => openContracts(root, count, env, label, pipelineInProcess);

/**
 * ./pg-parties.ts `abandonVia` with the user's two `credit abandon` steps in process (the user
 * is the driver; `via`, the stream under test, answers): the abandoned message, which the user applied.
 */
export async function abandonInProcess(via: PgStream, user: User, env: Record<string, string>): Promise<Msg> {
  const start = message(await inProcess([userStage(user, env, 'credit', 'abandon', '--role', 'user', '--start')], ''), 'credit/abandon', `abandon ${user.index}`);
  const answer = await via.ask(JSON.stringify(start.msg));
  if (answer.msg.type === 'credit/error') throw new Error(`abandon ${user.index} refused: ${answer.text}`);
  message(await inProcess([userStage(user, env, 'credit', 'abandon', '--role', 'user')], answer.text), 'credit/balance', `abandon apply ${user.index}`);
  return answer.msg;
}

/**
 * ./pg-parties.ts `exitAndVerify` with each `exit-credit --store` run in process: the same
 * command, flags and environment, reading what the streams under test left in the store; the
 * state and cumulative amount the test expects, its signature verified independently.
 */
export async function exitAndVerifyInProcess(url: string, root: string, users: User[], paid: Map<number, number>, latest: Map<number, Msg>, env: Record<string, string>, verifier: SchnorrVerifier): Promise<void> {
  for (const u of users) {
    const exit = message(await inProcess([mintStage(join(root, 'unused-state'), env, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId, '--store', url)], ''), 'credit/exit', `exit ${u.index}`);
    expect(exit.msg).toMatchObject({ contract_id: u.contractId, state: latest.get(u.index)!.state, cumulative_sat: paid.get(u.index) });
    const spend = verifyKeyPathSpend(exit.msg.state_tx.hex, [{ amount: CAPACITY, script: u.script, txid: u.funding.txid, vout: u.funding.vout }], u.outputKey, { verifier });
    expect(spend.txid).toBe(latest.get(u.index)!.txid);
    expect(spend.outputs[0]!.amount).toBe(BigInt(paid.get(u.index)!));
  }
}

let tokens = 0;

/**
 * ./mint-cluster.ts `userPays` for a user with its own environment and flags (an ecash wallet),
 * in process: its credit/update-request line and the mint nonce it is signed against.
 */
export async function walletPays(user: User & { nonce?: string; env?: Record<string, string>; flags?: string[] }, amount: number): Promise<{ line: string; msg: Msg; nonce: string }> {
  const { msg } = message(await inProcess([userStage(user, user.env ?? {}, 'sign-update', '--role', 'user', '--amount', String(amount), ...(user.flags ?? []))], ''), 'credit/update-request', `user ${user.index} pays ${amount}`);
  return { line: JSON.stringify(msg), msg, nonce: user.nonce! };
}

/** ./mint-cluster.ts `userTakesReceipt` for such a user, in process: its token to a new file beside its state directory. */
export async function walletTakesReceipt(user: User & { nonce?: string; env?: Record<string, string>; flags?: string[] }, receipt: string): Promise<Msg> {
  const balance = message(await inProcess([userStage(user, user.env ?? {}, 'sign-update', '--role', 'user', ...(user.flags ?? []), '--token-out', `${user.dir}.token-in-process-${++tokens}`)], receipt), 'credit/balance', `user ${user.index} applies a receipt`).msg;
  user.nonce = (JSON.parse(receipt) as Msg).next_nonce.pubnonce;
  return balance;
}
