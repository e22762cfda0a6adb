/**
 * Adversarial review, on bitcoind -regtest: one state directory holding a statechain owner's coin
 * (Bob's key) and a credit mint (another key). docs/watch.md: "a directory whose mint and
 * statechain owner hold different keys is refused ... (E_WRONG_KEY, exit 4, before any round)".
 * With the owner's key, `watch` starts (the owner's check passes before the loop; the mint's is
 * taken inside every round), and a long-running watcher then fails every round: the owner's coin,
 * within its margin, is never acted on — only `round-failed` lines in the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { KEYS, OPERATOR_PUB } from '../e2e/statechain-flow.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { BIN, assertBuilt, messageOf } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';

const BITCOIND = findBitcoind();
const INTERVAL = 5;
const TERMS = ['--interval', String(INTERVAL), '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '2'];
const FLOOR = ['--min-interval', String(INTERVAL), '--min-margin', '2'];

describe.skipIf(!BITCOIND)('review: a mint and an owner with different keys in one state directory', () => {
  let work: { path: string; cleanup: () => void };
  let n: FundedNode;
  let coin = '';
  let L1 = 0;
  const rpc = <T>(method: string, params: unknown[] = []) => n.node.rpc.call<T>(method, params);
  const dir = (who: string) => join(work.path, who);
  const step = async (who: string, args: string[], input = '', at = who) => {
    const extra = ['statechain-deposit', 'statechain-transfer'].includes(args[0]!) ? FLOOR : [];
    const r = await offchainInProcess([...args, ...extra, '--key-env', who, '--state-dir', dir(at), ...n.chain()], { input, env: KEYS });
    messageOf(r);
    return r.stdout;
  };
  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-watch-sc-mixed-');
    n = await startFundedNode(BITCOIND!, 'watch-sc-mixed');
    const req = await step('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]);
    const offer = await step('OPERATOR_KEY', ['statechain-deposit', ...TERMS], req);
    const o = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
    const funded = await n.wallet.call<{ hex: string }>('fundrawtransaction', [await n.wallet.call<string>('createrawtransaction', [[], [{ [o.statement.address]: satsToBtc(100_000n) }]])]);
    const file = join(work.path, 'funding');
    writeFileSync(file, funded.hex);
    const backup = await step('ALICE_KEY', ['statechain-deposit', '--funding', file, '--operator-key', OPERATOR_PUB], offer);
    const c = JSON.parse(await step('ALICE_KEY', ['statechain-deposit'], await step('OPERATOR_KEY', ['statechain-deposit'], backup))) as { latest_locktime: number };
    await rpc('sendrawtransaction', [(await n.wallet.call<{ hex: string }>('signrawtransactionwithwallet', [funded.hex])).hex]);
    await n.mine(2);
    coin = o.coin_id;
    L1 = c.latest_locktime;
    const treq = await step('BOB_KEY', ['statechain-transfer', '--start', '--coin', coin, '--operator-key', OPERATOR_PUB]);
    const cos = await step('OPERATOR_KEY', ['statechain-transfer'], await step('ALICE_KEY', ['statechain-transfer'], treq));
    const pkg = await step('ALICE_KEY', ['statechain-transfer'], cos);
    const done = await step('OPERATOR_KEY', ['statechain-transfer'], await step('BOB_KEY', ['statechain-transfer'], pkg));
    await step('BOB_KEY', ['statechain-transfer'], done);
    // A mint in Bob's state directory, under another key (DAVE_KEY).
    await step('DAVE_KEY', ['open-credit', '--role', 'mint', '--publish', '--payout-address', n.sweepTo], '', 'BOB_KEY');
  }, 180_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  const parsed = (log: string) => log.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as { event?: string; code?: string; contract?: string; action?: string });
  it('refused before any round, or the owner\'s coin kept', async () => {
    await n.mine(L1 - INTERVAL - (await n.tip())); // Bob's backup final, within the margin
    const child = spawn(process.execPath, [BIN, 'watch', '--key-env', 'BOB_KEY', '--state-dir', dir('BOB_KEY'), ...n.chain(), '--max-fee-rate', '5', '--interval', '0.2', '--log-level', 'info'], { env: { ...process.env, ...KEYS, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    let decidedOnCoin: () => void = () => {};
    const decision = new Promise<void>((resolve) => (decidedOnCoin = resolve));
    child.stderr.on('data', (b: Buffer) => {
      log += b.toString();
      if (parsed(log).some((l) => l.event === 'decision' && l.contract === coin)) decidedOnCoin();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Waits for what the watcher does, not a fixed time: a loaded CI machine took over 5 s to start
    // one (its exit was then read as "still running"). 30 s is many rounds at --interval 0.2.
    await Promise.race([exited, decision, new Promise((r) => setTimeout(r, 30_000))]);
    const running = child.exitCode === null;
    child.kill('SIGTERM');
    await exited;
    const lines = parsed(log);
    const failed = lines.filter((l) => l.event === 'round-failed');
    const decided = lines.filter((l) => l.event === 'decision' && l.contract === coin);
    console.warn(`[review] still running after it exited, decided or 30 s: ${running}; round-failed lines: ${failed.length} (${failed[0]?.code}); decisions on Bob's coin: ${decided.length}; mempool: ${JSON.stringify(await rpc('getrawmempool'))}`);
    expect(running && decided.length === 0, 'a watcher that runs but never decides for the coin').toBe(false);
  }, 60_000);
});
