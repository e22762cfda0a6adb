/**
 * Statechain coins made through the CLI on a funded `bitcoind -regtest`, for the watcher suites
 * (watch-statechain.test.ts, watch-tower.test.ts): Alice deposits (the funding signed by the
 * wallet only after backup 1 is held), and a coin is handed on (the transfer's five steps). Each
 * step is the suite's own `step(who, args, input)`: one CLI invocation as `who` (its key and
 * state directory), printing one message.
 */
import { expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { OPERATOR_PUB } from '../e2e/statechain-flow.ts';
import type { FundedNode } from './funded-node.ts';
import { messageOf } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';

export type Step = (who: string, args: string[], input?: string) => Promise<string>;

/** The operator's regtest terms: backups 5 blocks apart, the first 40 blocks out, a 400-sat backup fee. */
export const INTERVAL = 5;
export const TERMS = ['--interval', String(INTERVAL), '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '2'];
/** Regtest's terms are below an owner's default floor: its owners lower theirs to match. */
export const FLOOR = ['--min-interval', String(INTERVAL), '--min-margin', '2'];

/**
 * One step as `who`: the CLI in-process with `who`'s key (from `env`) and state directory (`dir(who)`), beside the
 * node, printing one message; deposits and transfers with the owners' floor lowered to regtest's terms (`floor`).
 */
export function ownerStep(o: { node: () => FundedNode; dir: (who: string) => string; env: Record<string, string>; floor: string[]; run?: typeof offchainInProcess }): Step {
  const run = o.run ?? offchainInProcess; // or the built CLI spawned (./offchain-cli.ts offchain)
  return async (who, args, input = '') => {
    const extra = ['statechain-deposit', 'statechain-transfer'].includes(args[0]!) ? o.floor : [];
    const r = await run([...args, ...extra, '--key-env', who, '--state-dir', o.dir(who), ...o.node().chain()], { input, env: o.env });
    messageOf(r);
    return r.stdout;
  };
}

export function statechainCoins(o: { node: () => FundedNode; work: () => string; step: Step; amount: bigint }) {
  const { step } = o;
  return {
    /** Alice deposits `amount` under the operator's `terms`: the coin id, its signed funding (not sent) and backup 1's locktime. */
    async deposit(terms: string[]) {
      const n = o.node();
      const req = await step('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]);
      const offer = await step('OPERATOR_KEY', ['statechain-deposit', ...terms], req);
      const c = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
      const funded = await n.wallet.call<{ hex: string }>('fundrawtransaction', [await n.wallet.call<string>('createrawtransaction', [[], [{ [c.statement.address]: satsToBtc(o.amount) }]])]);
      const file = join(o.work(), `${c.coin_id}.funding`);
      writeFileSync(file, funded.hex);
      const backup = await step('ALICE_KEY', ['statechain-deposit', '--funding', file, '--operator-key', OPERATOR_PUB], offer);
      const coin = JSON.parse(await step('ALICE_KEY', ['statechain-deposit'], await step('OPERATOR_KEY', ['statechain-deposit'], backup))) as { latest_locktime: number };
      const signed = await n.wallet.call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [funded.hex]);
      expect(signed.complete).toBe(true);
      return { coinId: c.coin_id, fundingHex: signed.hex, lockTime: coin.latest_locktime };
    },
    /** `sender` hands coin `coinId` to `receiver`: the receiver's coin message (its newest backup's locktime). */
    async transfer(coinId: string, sender: string, receiver: string) {
      const req = await step(receiver, ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', OPERATOR_PUB]);
      const cos = await step('OPERATOR_KEY', ['statechain-transfer'], await step(sender, ['statechain-transfer'], req));
      const pkg = await step(sender, ['statechain-transfer'], cos);
      const done = await step('OPERATOR_KEY', ['statechain-transfer'], await step(receiver, ['statechain-transfer'], pkg));
      return JSON.parse(await step(receiver, ['statechain-transfer'], done)) as { latest_locktime: number };
    },
    /**
     * `sender` hands coin `coinId` to the pair `a` + `b` (docs/statechain.md "A Lightning channel on the coin": B's part,
     * A's request with both, the sender's and the operator's steps, A's handoff, B's t₂, A's acceptance), its backup paying
     * `backupAddress`; `accept`: flags of each part's accepting step. The pair's coin message (B's), its backups' hex.
     */
    async pairReceives(coinId: string, sender: string, a: string, b: string, backupAddress: string, accept: string[] = []) {
      const start = ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', OPERATOR_PUB, '--backup-address', backupAddress];
      const partFile = join(o.work(), `${coinId}.part.json`);
      writeFileSync(partFile, await step(b, [...start, '--joint-part']));
      const req = await step(a, [...start, '--joint-with', partFile]);
      const pkg = await step(sender, ['statechain-transfer'], await step('OPERATOR_KEY', ['statechain-transfer'], await step(sender, ['statechain-transfer'], req)));
      const t2 = await step(b, ['statechain-transfer', ...accept], await step(a, ['statechain-transfer', ...accept], pkg));
      const done = await step('OPERATOR_KEY', ['statechain-transfer'], await step(a, ['statechain-transfer'], t2));
      await step(a, ['statechain-transfer'], done);
      return JSON.parse(await step(b, ['statechain-transfer'], done)) as { coin_id: string; outpoint: string; backups: string[]; latest_locktime: number };
    },
  };
}
