/**
 * Credit contracts for the streaming-mint tests, through the built CLI: one mint and
 * several users, each user with its own key and its own --state-dir, each contract on
 * its own funding outpoint (one outpoint carries one contract), opened offline at tip
 * 1000 and paid at tip 1001 with the funding's confirmations given by flag.
 *
 * What the tests know about a contract comes from test code, not from the product:
 * the contract's output key is KeyAgg + TapTweak of the two keys (test/independent/
 * keys.ts), the funding PSBT is built here, and a request's txid is read from its PSBT
 * by test/independent/tx.ts.
 *
 * `MintStream` is one running `sign-update --role mint --stream` process: lines are
 * written to its stdin when the test says so, complete stdout lines are collected as
 * they come, and the process can be ended (EOF) or killed (SIGKILL).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { base64, hex } from '@scure/base';
import { ROOT } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { BIN, cleanEnv, pipeline, type Run, type Stage } from './cli.ts';
import { fixture } from './fixtures.ts';

export const MINT_KEY = fixture('keys/mint.key');
export const MINT_PUB = publicKeyOf(hex.decode(MINT_KEY));
export const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
export const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
export const CAPACITY = 1_000_000n;
/** The chain facts every payment is made under (offline). */
export const PAY_FLAGS = ['--tip-height', '1001', '--confirmations', '1'];

const sha256 = (text: string) => createHash('sha256').update(text).digest();

export type Msg = Record<string, any>;

export type User = {
  index: number;
  /** Hex secret key, passed to the CLI through $USER_KEY. */
  key: string;
  pub: Uint8Array;
  dir: string;
  contractId: string;
  /** The contract's taproot output key and scriptPubKey, derived by test code. */
  outputKey: Uint8Array;
  script: Uint8Array;
  funding: { txid: string; vout: number };
};

export type Parties = { root: string; mintDir: string; users: User[]; env: Record<string, string> };

/**
 * An unsigned funding PSBT paying `script` the capacity from one made-up native segwit
 * coin whose txid depends on `label`: a distinct funding outpoint per contract.
 */
export function fundingPsbt(script: Uint8Array, label: string): string {
  const wallet = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(0x99)]);
  const tx = new Transaction({ version: 2 });
  tx.addInput({ txid: sha256(`offchain stream test funding ${label}`), index: 0, sequence: 0xfffffffd, witnessUtxo: { amount: CAPACITY + 10_000n, script: wallet } });
  tx.addOutput({ script, amount: CAPACITY });
  tx.addOutput({ script: wallet, amount: 9_000n });
  return base64.encode(tx.toPSBT(0));
}

export function mintStage(mintDir: string, env: Record<string, string>, ...args: string[]): Stage {
  return { args: [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir], env: { ...env, MINT_KEY } };
}

export function userStage(user: Pick<User, 'key' | 'dir'>, env: Record<string, string>, ...args: string[]): Stage {
  return { args: [...args, '--key-env', 'USER_KEY', '--state-dir', user.dir], env: { ...env, USER_KEY: user.key } };
}

/** Every stage exited 0 and the last printed one message of `type`. */
export function message(results: Run[], type: string, what: string): { text: string; msg: Msg } {
  results.forEach((r, i) => {
    if (r.status !== 0) throw new Error(`${what}: stage ${i} exited ${r.status}: ${r.stderr}`);
  });
  const text = results.at(-1)!.stdout;
  const msg = JSON.parse(text) as Msg;
  if (msg.type !== type) throw new Error(`${what}: expected ${type}, got ${text}`);
  return { text, msg };
}

/** How the steps run: as processes joined by OS pipes (cli.ts `pipeline`), or in this process (in-process.ts `pipelineInProcess`). */
export type Pipeline = (stages: Stage[], input: string) => Promise<Run[]>;

/**
 * A mint with a published offer and `count` open contracts, one per user, in `root`.
 * `env` goes to every process (e.g. OFFCHAIN_TEST_SEED). Users' keys depend on `label`.
 */
export async function openContracts(root: string, count: number, env: Record<string, string>, label = 'stream', via: Pipeline = pipeline): Promise<Parties> {
  const mintDir = join(root, 'mint');
  mkdirSync(mintDir, { recursive: true });
  const offer = message(await via([mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer', 'offer');
  const offerPath = join(root, 'offer.json');
  writeFileSync(offerPath, offer.text);
  const users: User[] = [];
  for (let index = 0; index < count; index++) {
    const key = hex.encode(sha256(`offchain stream test user ${label} ${index}`));
    const pub = publicKeyOf(hex.decode(key));
    const output = musigTaprootOutput([pub, MINT_PUB]);
    const psbt = fundingPsbt(output.script, `${label} ${index}`);
    const user = { key, dir: join(root, `user-${index}`) };
    const opened = message(
      await via(
        [
          userStage(user, env, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND),
          mintStage(mintDir, env, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
          userStage(user, env, 'open-credit', '--role', 'user'),
        ],
        psbt,
      ),
      'credit/opened',
      `open contract ${index}`,
    );
    const funding = psbtUnsignedTx(base64.decode(psbt));
    users.push({ index, ...user, pub, contractId: opened.msg.contract_id, outputKey: output.outputKey, script: output.script, funding: { txid: funding.txid, vout: 0 } });
  }
  return { root, mintDir, users, env };
}

/** The user's next payment: its credit/update-request as one JSON line. */
export async function payRequest(user: User, amount: number, env: Record<string, string>, via: Pipeline = pipeline): Promise<{ line: string; msg: Msg }> {
  const { msg } = message(await via([userStage(user, env, 'sign-update', '--role', 'user', '--amount', String(amount))], ''), 'credit/update-request', `user ${user.index} pays ${amount}`);
  return { line: JSON.stringify(msg), msg };
}

/** The user takes the mint's receipt: its credit/balance (throws if the user refuses it). */
export async function applyReceipt(user: User, receipt: string, env: Record<string, string>, via: Pipeline = pipeline): Promise<Msg> {
  return message(await via([userStage(user, env, 'sign-update', '--role', 'user')], receipt), 'credit/balance', `user ${user.index} applies a receipt`).msg;
}

/** The txid of the state a request asks the mint to sign, read from its PSBT by test code. */
export function requestTxid(request: Msg): string {
  return psbtUnsignedTx(base64.decode(request.psbt as string)).txid;
}

/** One `sign-update --role mint --stream` process on `mintDir`. */
export class MintStream {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  /** Exit status and signal, once the process is gone. */
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  constructor(mintDir: string, env: Record<string, string>, extraArgs: string[] = PAY_FLAGS) {
    this.child = spawn(process.execPath, [BIN, 'sign-update', '--role', 'mint', '--stream', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...extraArgs], {
      env: cleanEnv({ ...env, MINT_KEY }),
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin.on('error', () => {}); // it may die (or be killed) before we finish writing
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.wake();
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.wake();
    });
    this.exited = new Promise((resolve) => this.child.on('close', (status, signal) => {
      this.wake();
      resolve({ status, signal });
    }));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Complete stdout lines so far (a line cut by a kill is not one). */
  lines(): string[] {
    const all = this.stdout.split('\n');
    all.pop();
    return all;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  write(text: string): void {
    if (this.alive) this.child.stdin.write(text);
  }

  /** Resolves once `pred()` holds, or rejects when the process exits first or after `timeoutMs`. */
  async until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (!this.alive) {
        // 'exit' can come before the pipes are drained: wait for 'close', then look again.
        const { status, signal } = await this.exited;
        if (pred()) return;
        throw new Error(`the stream exited (status ${status}, signal ${signal}) before ${what}; stderr: ${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; stdout: ${this.stdout}; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** EOF on stdin; resolves with the exit once the stream has drained. */
  async end(timeoutMs = 30_000): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  async kill(): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill('SIGKILL');
    return this.exited;
  }
}
