/**
 * Credit contracts served by `sign-update --role mint --stream --store postgres://…`
 * processes, through the built CLI, for the PostgreSQL fault and benchmark runs.
 *
 * On PostgreSQL a mint nonce is usable only by the process that issued it (the restore
 * rule, src/lib/store/pg/mint-store.ts), so a contract is opened through the stream
 * process that will serve it (the stream answers open-requests too), and a request
 * refused with E_NONCE_ELSEWHERE (its nonce's process is gone) is recovered with
 * `credit abandon` through the serving process, then sent again.
 *
 * The user's steps are its built CLI: its abandon a process, its open, its payment request
 * and its taking of a receipt the same bundle in this process (test/e2e/in-process.ts).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64, hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { pipeline } from '../e2e/cli.ts';
import { expect } from 'vitest';
import type { SchnorrVerifier } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import {
  CAPACITY, MINT_PUB, MintStream, PAY_FLAGS, PAYOUT, REFUND, fundingPsbt, message, mintStage, userStage, type Msg, type User,
} from '../e2e/stream-credit.ts';
import { pipelineInProcess } from '../e2e/in-process.ts';
import { applyReceipt as applyReceiptVia, payRequest as payRequestVia, type Pipeline } from '../e2e/stream-credit.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** One stream process on the store, with a request/answer helper (answers come in order). */
export class PgStream {
  readonly stream: MintStream;
  private answered = 0;
  constructor(root: string, url: string, env: Record<string, string>) {
    this.stream = new MintStream(join(root, 'unused-state'), env, [...PAY_FLAGS, '--store', url]);
  }
  async started(): Promise<void> {
    await this.stream.until(() => this.stream.stderr.includes('mint streaming'), 'the stream to start', 60_000);
  }
  /** Send one message line; resolve with its answer line (parsed) and text. */
  async ask(line: string, timeoutMs = 60_000): Promise<{ msg: Msg; text: string }> {
    const n = ++this.answered;
    this.stream.write(line.trim() + '\n');
    await this.stream.until(() => this.stream.lines().length >= n, `answer ${n}`, timeoutMs);
    const text = this.stream.lines()[n - 1]!;
    return { msg: JSON.parse(text) as Msg, text };
  }
  /** Send several lines at once (one batch); the answers are collected later with `answers`. */
  send(lines: string[]): number[] {
    const ids = lines.map(() => ++this.answered);
    this.stream.write(lines.map((l) => l.trim() + '\n').join(''));
    return ids;
  }
}

/** Publish the offer into the store (one-shot; the offer needs no nonce). */
export async function publishOffer(root: string, url: string, env: Record<string, string>): Promise<string> {
  mkdirSync(root, { recursive: true });
  const offer = message(await pipeline([mintStage(join(root, 'unused-state'), env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--store', url)], ''), 'credit/offer', 'offer');
  const path = join(root, 'offer.json');
  writeFileSync(path, offer.text);
  return path;
}

/** Open a contract for a new user through `via` (the process that will serve it). */
export async function openVia(via: PgStream, root: string, offerPath: string, index: number, env: Record<string, string>, label: string): Promise<User> {
  const key = hex.encode(sha256(`offchain pg test user ${label} ${index}`));
  const pub = publicKeyOf(hex.decode(key));
  const output = musigTaprootOutput([pub, MINT_PUB]);
  const psbt = fundingPsbt(output.script, `pg ${label} ${index}`);
  const user = { key, dir: join(root, `user-${index}`) };
  const request = message(await pipelineInProcess([userStage(user, env, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND)], psbt), 'credit/open-request', `open request ${index}`).msg;
  const accept = await via.ask(JSON.stringify(request));
  if (accept.msg.type === 'credit/error') throw new Error(`open ${index} refused: ${accept.text}`);
  const opened = message(await pipelineInProcess([userStage(user, env, 'open-credit', '--role', 'user')], accept.text), 'credit/opened', `open ${index}`);
  const funding = psbtUnsignedTx(base64.decode(psbt));
  return { index, ...user, pub, contractId: opened.msg.contract_id, outputKey: output.outputKey, script: output.script, funding: { txid: funding.txid, vout: 0 } };
}

/** `credit abandon` of the user's pending request, answered by `via`; the user applies it. */
export async function abandonVia(via: PgStream, user: User, env: Record<string, string>, run: Pipeline = pipeline): Promise<Msg> {
  const start = message(await run([userStage(user, env, 'credit', 'abandon', '--role', 'user', '--start')], ''), 'credit/abandon', `abandon ${user.index}`);
  const answer = await via.ask(JSON.stringify(start.msg));
  if (answer.msg.type === 'credit/error') throw new Error(`abandon ${user.index} refused: ${answer.text}`);
  message(await run([userStage(user, env, 'credit', 'abandon', '--role', 'user')], answer.text), 'credit/balance', `abandon apply ${user.index}`);
  return answer.msg;
}

/** Every receipt seen, per contract and state: one transaction each, or a nonce signed twice. */
export class Signed {
  private byState = new Map<string, string>();
  add(receipt: Msg): void {
    const key = `${receipt.contract_id}:${receipt.state}`;
    const seen = this.byState.get(key);
    if (seen !== undefined) expect(receipt.txid, `${key} signed for two transactions`).toBe(seen);
    this.byState.set(key, receipt.txid as string);
  }
}

/**
 * exit-credit from the store for each contract: the state and cumulative amount the test
 * expects, its signature verified by the independent verifier against the contract's key.
 */
export async function exitAndVerify(url: string, root: string, users: User[], paid: Map<number, number>, latest: Map<number, Msg>, env: Record<string, string>, verifier: SchnorrVerifier, run: Pipeline = pipeline): Promise<void> {
  for (const u of users) {
    const exit = message(await run([mintStage(join(root, 'unused-state'), env, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId, '--store', url)], ''), 'credit/exit', `exit ${u.index}`);
    expect(exit.msg).toMatchObject({ contract_id: u.contractId, state: latest.get(u.index)!.state, cumulative_sat: paid.get(u.index) });
    const spend = verifyKeyPathSpend(exit.msg.state_tx.hex, [{ amount: CAPACITY, script: u.script, txid: u.funding.txid, vout: u.funding.vout }], u.outputKey, { verifier });
    expect(spend.txid).toBe(latest.get(u.index)!.txid);
    expect(spend.outputs[0]!.amount).toBe(BigInt(paid.get(u.index)!));
  }
}

/** The user's payment steps, in process (in-process.ts): the user drives the stream under test. */
export const payRequest = (user: User, amount: number, env: Record<string, string>) => payRequestVia(user, amount, env, pipelineInProcess);
export const applyReceipt = (user: User, receipt: string, env: Record<string, string>) => applyReceiptVia(user, receipt, env, pipelineInProcess);
