/**
 * Several `sign-update --role mint --stream` processes (the built CLI) serving ONE mint
 * whose state is in a PostgreSQL database (OFFCHAIN_STORE_URL + OFFCHAIN_STORE_PASSWORD
 * in their environment, never argv), and users driven through the CLI as in
 * test/e2e/stream-credit.ts — a user's open, and a plain user's payment request and its
 * taking of a receipt, run the same bundle in this process (test/e2e/in-process.ts: the user
 * is the driver, the streams are under test); a user with its own environment or flags
 * (ecash) pays through processes unless told otherwise.
 *
 * The test side keeps its own book of which mint nonce each request was signed against:
 * the `next_nonce` of the last answer (open-accept, receipt, abandoned) it fed to that
 * user — so "one signature per nonce" is counted from what the test saw, not from what
 * the product says.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64, hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { pipeline } from '../e2e/cli.ts';
import { MINT_PUB, MintStream, PAY_FLAGS, PAYOUT, REFUND, fundingPsbt, message, mintStage, userStage, type Msg, type User } from '../e2e/stream-credit.ts';
import type { Postgres } from '../setup/postgres.ts';
import { pipelineInProcess } from '../e2e/in-process.ts';
import type { Pipeline } from '../e2e/stream-credit.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

export type PgUser = User & { nonce?: string; home: number; env?: Record<string, string>; flags?: string[] };

/** A database for one mint; the environment its processes get; its offer published through the CLI. */
export async function pgMint(server: Postgres, name: string, root: string, extra: { env?: Record<string, string>; publish?: string[] } = {}): Promise<{ env: Record<string, string>; mintDir: string; offerPath: string }> {
  const url = await server.createDatabase(name);
  const env = { ...extra.env, OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: server.password };
  const mintDir = join(root, 'mint-host'); // the mint's --state-dir: with a store URL nothing of the mint is kept there (one-shot-steps.test.ts)
  const offer = message(await pipeline([mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, ...(extra.publish ?? []))], ''), 'credit/offer', 'offer');
  const offerPath = join(root, 'offer.json');
  writeFileSync(offerPath, offer.text);
  return { env, mintDir, offerPath };
}

/** A user and its open-request (as one JSON line), on its own funding outpoint unless `funding` is shared. */
export async function userOpenRequest(root: string, offerPath: string, label: string, index: number, opts: { dirName?: string; refund?: string } = {}): Promise<{ user: PgUser; line: string }> {
  const key = hex.encode(sha256(`offchain pg test user ${label} ${index}`));
  const pub = publicKeyOf(hex.decode(key));
  const output = musigTaprootOutput([pub, MINT_PUB]);
  const psbt = fundingPsbt(output.script, `${label} ${index}`);
  const dir = join(root, opts.dirName ?? `user-${label}-${index}`);
  const req = message(await pipelineInProcess([userStage({ key, dir }, {}, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', opts.refund ?? REFUND)], psbt), 'credit/open-request', `open request ${label} ${index}`);
  const funding = psbtUnsignedTx(base64.decode(psbt));
  const user: PgUser = { index, key, pub, dir, contractId: req.msg.contract_id, outputKey: output.outputKey, script: output.script, funding: { txid: funding.txid, vout: 0 }, home: index };
  return { user, line: JSON.stringify(req.msg) };
}

/** The user takes the mint's open-accept. */
export async function userOpened(user: PgUser, accept: string): Promise<void> {
  message(await pipelineInProcess([userStage(user, {}, 'open-credit', '--role', 'user')], accept), 'credit/opened', `user ${user.index} opened`);
  user.nonce = (JSON.parse(accept) as Msg).next_nonce.pubnonce;
}

/**
 * How a user's payment steps run unless told: in this process (test/e2e/in-process.ts), or,
 * for a user with its own environment or flags (an ecash wallet), as processes.
 */
const stepsOf = (user: PgUser): Pipeline => (user.env === undefined && user.flags === undefined ? pipelineInProcess : pipeline);

/** The user's next payment request (one line) and the mint nonce it is signed against. */
export async function userPays(user: PgUser, amount: number, run: Pipeline = stepsOf(user)): Promise<{ line: string; msg: Msg; nonce: string }> {
  const { msg } = message(await run([userStage(user, user.env ?? {}, 'sign-update', '--role', 'user', '--amount', String(amount), ...(user.flags ?? []))], ''), 'credit/update-request', `user ${user.index} pays ${amount}`);
  return { line: JSON.stringify(msg), msg, nonce: user.nonce! };
}

let tokens = 0;

/** The user applies a receipt (with ecash flags, its token goes to a new file beside its state directory). */
export async function userTakesReceipt(user: PgUser, receipt: string, run: Pipeline = stepsOf(user)): Promise<Msg> {
  const balance = message(await run([userStage(user, user.env ?? {}, 'sign-update', '--role', 'user', ...(user.flags ?? []), ...(user.flags ? ['--token-out', `${user.dir}.token-${++tokens}`] : []))], receipt), 'credit/balance', `user ${user.index} applies a receipt`).msg;
  user.nonce = (JSON.parse(receipt) as Msg).next_nonce.pubnonce;
  return balance;
}

/** The user abandons its pending request: the credit/abandon line (signed against `user.nonce`). */
export async function userAbandons(user: PgUser): Promise<string> {
  return JSON.stringify(message(await pipeline([userStage(user, {}, 'credit', 'abandon', '--role', 'user', '--start')], ''), 'credit/abandon', `user ${user.index} abandons`).msg);
}

export async function userTakesAbandoned(user: PgUser, answer: string): Promise<void> {
  const r = await pipeline([userStage(user, {}, 'credit', 'abandon', '--role', 'user')], answer);
  if (r[0]!.status !== 0) throw new Error(`user ${user.index} refused the abandon answer: ${r[0]!.stderr}`);
  const m = JSON.parse(answer) as Msg;
  if (m.type === 'credit/abandoned') user.nonce = m.next_nonce.pubnonce;
  else if (m.type === 'credit/receipt') user.nonce = m.next_nonce.pubnonce;
}

/** N stream processes on the mint's database; `ask(i, line)` answers one line from process i. */
export class Cluster {
  readonly procs: MintStream[];
  private sent: number[];
  /** Every line each process printed, in order (kept after the process is gone). */
  constructor(n: number, mintDir: string, env: Record<string, string>, extraArgs: string[] = []) {
    this.procs = Array.from({ length: n }, () => new MintStream(mintDir, env, [...PAY_FLAGS, ...extraArgs]));
    this.sent = this.procs.map(() => 0);
  }

  async ask(i: number, line: string): Promise<string> {
    const p = this.procs[i]!;
    const n = ++this.sent[i]!;
    p.write(`${line}\n`);
    await p.until(() => p.lines().length >= n, `answer ${n} of process ${i}`, 60_000);
    return p.lines()[n - 1]!;
  }

  /** The same line to every process at once: their answers, by process. */
  async askAll(line: string): Promise<string[]> {
    return Promise.all(this.procs.map((_, i) => this.ask(i, line)));
  }

  allLines(): string[] {
    return this.procs.flatMap((p) => p.lines());
  }

  async end(): Promise<{ status: number | null }[]> {
    return Promise.all(this.procs.map((p) => p.end()));
  }
}
