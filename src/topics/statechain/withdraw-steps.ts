/**
 * The withdrawal's roles as `statechain withdraw` runs them (src/lib/statechain/owner.ts and
 * joint-send.ts hold the protocol and its invariants): one row per message a run can read,
 * and `--coin`, which reads none — who runs it, what it holds, checks, writes (before its
 * answer leaves or is broadcast), prints — and the step itself, which the command dispatches on.
 * Not here: any check or signature of the protocol's own, the flags (../withdraw.ts).
 */
import { type Command } from '@oclif/core';
import { MalformedInputError, StateConflictError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { SendingRecord } from '../../lib/statechain/joint-send.ts';
import type { OwnerRecord } from '../../lib/statechain/owner.ts';
import type { RelayFloorSource } from '../../lib/statechain/withdrawal.ts';
import type { Documents as StateStore } from '../../lib/store/sqlite/records.ts';
import { StatechainCommand } from './command.ts';
import { checkCoinId } from './flags.ts';

/** The flags the steps read (../withdraw.ts declares them). */
type WithdrawFlags = { coin?: string; to?: string; 'fee-rate'?: string; broadcast?: boolean; 'max-fee-rate'?: string; 'max-fee-share'?: string };

/** One row of the roles' table: the columns say what `run` does, in the order it does it. */
export type WithdrawStep<I = { network: Network; value: Record<string, unknown> }> = { by: string; holds: string; checks: string; writes: string; out: string; run: (input: I) => Promise<Record<string, unknown>> };

const lib = {
  owner: () => import('../../lib/statechain/owner.ts'),
  send: () => import('../../lib/statechain/joint-send.ts'),
  schemas: () => import('../../lib/statechain/schemas.ts'),
};

export abstract class WithdrawRoles<T extends typeof Command> extends StatechainCommand<T> {
  /** Step 1, `--coin ID`: a new withdrawal's request (a pair: B's nonce), or with neither --to nor --fee-rate the signed one printed (and sent) again. */
  protected readonly withdrawStart: WithdrawStep<{ network: Network }> = {
    by: 'owner (a pair: B)', holds: 'coin-<id> (a pair: joint-<id>)', checks: '--to and --fee-rate, the fee guard, the node\'s relay floor', writes: 'our nonce issued, the request kept',
    out: 'withdraw-request (a pair: joint-withdraw-nonce, to A); with neither flag, the kept statechain/spend',
    run: async ({ network }) => {
      const f = this.flags as WithdrawFlags;
      const coinId = checkCoinId(f.coin);
      if (f.to === undefined && f['fee-rate'] === undefined) {
        // No new withdrawal: the one already signed, printed again (and with --broadcast, sent again).
        const store = await this.store(network);
        const held = await this.heldJointly(store, coinId, true);
        const signed = held
          ? (await lib.send()).storedJointWithdrawal(await this.jointRecord(store, coinId))
          : (await lib.owner()).storedWithdrawal(await this.ownerRecord(store, coinId));
        return this.spendMessage(network, coinId, signed, held);
      }
      if (f.to === undefined || f['fee-rate'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --to ADDRESS and --fee-rate RATE (or neither, to print the signed withdrawal again)');
      this.noBroadcast('step 1 prints a statechain/withdraw-request (or a pair\'s nonce) for the operator; nothing is signed to send yet');
      const { destination, feeRate: rate } = await this.payTo(network, f.to, f['fee-rate']);
      const limits = await this.feeLimits();
      const ctx = await this.ownerContext(network);
      const store = await this.store(network);
      const jointly = await this.heldJointly(store, coinId) || (await this.heldJointly(store, coinId, true) && (await store.read(`coin-${coinId}`)) === undefined);
      const relay = await this.relayFloor(network);
      if (jointly) {
        // A pair's withdrawal (also once its package left, or again after a lost message) starts with B's nonce; A answers it with the same --to and --fee-rate.
        const send = await lib.send();
        return this.jointStep(store, coinId, (r) => send.jointWithdrawNonce(r, destination, rate, ctx, relay, limits));
      }
      const own = await lib.owner();
      return this.ownerStep(network, coinId, (r) => own.withdrawRequest(r, destination, rate, ctx, relay, limits));
    },
  };

  /** The roles' steps by the message they read, in the order a withdrawal runs them. */
  protected readonly withdrawSteps: Record<string, WithdrawStep> = {
    'statechain/withdraw-request': {
      by: 'operator', holds: 'op-<id>', checks: 'the current owner\'s signature, a spend of exactly the coin', writes: 'op-<id> closed (withdrawn)', out: 'withdraw-cosigned',
      run: async ({ network, value }) => {
        await this.decode((await lib.schemas()).WithdrawRequestSchema, value); // a malformed request is that (exit 3) before a flag's misuse
        this.noBroadcast('the operator\'s step prints its co-signature for the owner, who sends the withdrawal');
        return this.operatorAnswer(network, 'statechain/withdraw-request', value);
      },
    },
    'statechain/joint-withdraw-nonce': {
      by: 'a pair\'s A', holds: 'joint-<id>', checks: 'B\'s signature, the same --to and --fee-rate, the fee guard and relay floor', writes: 'A\'s nonce issued', out: 'withdraw-request (for the operator)',
      run: async ({ network, value }) => {
        const f = this.flags as WithdrawFlags;
        const msg = await this.decode((await lib.schemas()).JointWithdrawNonceSchema, value);
        this.noBroadcast('A\'s step prints a request for the operator; nothing is signed to send yet');
        if (f.to === undefined || f['fee-rate'] === undefined) throw new UsageError('E_USAGE', 'the pair\'s withdrawal: A gives the same --to ADDRESS and --fee-rate RATE as B, and gets the same transaction or a refusal');
        const { destination, feeRate: rate } = await this.payTo(network, f.to, f['fee-rate']);
        const limits = await this.feeLimits();
        const ctx = await this.ownerContext(network);
        const send = await lib.send();
        const relay = await this.relayFloor(network);
        return this.jointStep(await this.store(network), msg.coin_id, (r) => send.jointWithdrawRequest(r, msg, destination, rate, ctx, relay, limits));
      },
    },
    'statechain/withdraw-cosigned': {
      by: 'owner (a pair: A)', holds: 'coin-<id> withdrawing (a pair: joint-<id>)', checks: 'the operator\'s partial signature and statement', writes: 'the signed withdrawal kept', out: 'statechain/spend (a pair: joint-withdraw-sign, to B)',
      run: async ({ network, value }) => {
        const cos = await this.decode((await lib.schemas()).WithdrawCosignedSchema, value);
        const ctx = await this.ownerContext(network);
        const store = await this.store(network);
        if (await this.heldJointly(store, cos.coin_id, true)) {
          const send = await lib.send();
          return this.jointStep(store, cos.coin_id, (r) => send.jointWithdrawSignA(r, cos, ctx));
        }
        const own = await lib.owner();
        const signed = await this.ownerStep(network, cos.coin_id, async (r) => {
          const out = await own.withdrawFinish(r, cos, ctx);
          return { record: out.record, message: out.signed };
        });
        return this.spendMessage(network, cos.coin_id, signed, false);
      },
    },
    'statechain/joint-withdraw-sign': {
      by: 'a pair\'s B', holds: 'joint-<id>', checks: 'A\'s signature and partial signature', writes: 'the signed withdrawal kept', out: 'statechain/spend',
      run: async ({ network, value }) => {
        const msg = await this.decode((await lib.schemas()).JointWithdrawSignSchema, value);
        const ctx = await this.ownerContext(network);
        const send = await lib.send();
        const signed = await this.jointStep(await this.store(network), msg.coin_id, async (r) => {
          const out = await send.jointWithdrawFinish(r, msg, ctx);
          return { record: out.record, message: out.signed };
        });
        return this.spendMessage(network, msg.coin_id, signed, true);
      },
    },
  };

  /** The row for this message, or E_WRONG_MESSAGE naming what the command reads. */
  protected withdrawStep(type: string): WithdrawStep {
    const step = Object.hasOwn(this.withdrawSteps, type) ? this.withdrawSteps[type] : undefined;
    if (step === undefined) throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-withdraw reads statechain/withdraw-request, -cosigned, joint-withdraw-nonce or joint-withdraw-sign, not ${type}`);
    return step;
  }

  /**
   * With a node named (--rpc-url, or $OFFCHAIN_RPC_URL): its relay floor (getmempoolinfo), asked
   * only when a new withdrawal is about to be requested — a rerun printing the stored request
   * needs no node. Offline there is no floor to check against: the withdrawal's anchor is then
   * what gets it mined if the rate asked was too low (package child).
   */
  private async relayFloor(network: Network): Promise<RelayFloorSource | undefined> {
    const chain = await this.chain(network);
    if (chain.kind !== 'rpc' || chain.mempoolPolicy === undefined) return undefined;
    return () => chain.mempoolPolicy!();
  }

  /** The fee guard's limits (--max-fee-rate, --max-fee-share; Core's maxfeerate and half the coin by default). */
  private async feeLimits() {
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    return parseFeeLimits({ maxFeeRate: (this.flags as WithdrawFlags)['max-fee-rate'], maxFeeShare: (this.flags as WithdrawFlags)['max-fee-share'] });
  }

  /** --broadcast on a step that has nothing to send: refused before anything is done (it would be ignored). */
  private noBroadcast(why: string): void {
    // With --peer the operator's answer is finished in this run: --broadcast is for that last step.
    if ((this.flags as WithdrawFlags).broadcast && (this.flags as { peer?: string }).peer === undefined) throw new UsageError('E_USAGE', `--broadcast is for step 3 (or --coin ID alone): ${why}`);
  }

  /**
   * statechain/spend for a signed withdrawal, already kept in our record; with --broadcast,
   * the node's answer too. A refused or impossible broadcast changes nothing (the withdrawal
   * stays kept, its error says how to print it again); an accepted one is marked.
   */
  private async spendMessage(network: Network, coinId: string, signed: { txid: string; hex: string }, joint: boolean) {
    const message: Record<string, unknown> = { type: 'statechain/spend', version: 1, network, coin_id: coinId, kind: 'withdrawal', txid: signed.txid, hex: signed.hex };
    if ((this.flags as WithdrawFlags).broadcast) {
      const { fromHex } = await import('../../lib/bytes.ts');
      const { OffchainError, RefusedError } = await import('../../lib/errors.ts');
      const { RpcError } = await import('../../lib/chain/rpc-client.ts');
      const kept = `the signed withdrawal ${signed.txid} is kept: statechain-withdraw --coin ${coinId} prints it again (add --broadcast to send it)`;
      try {
        message.broadcast = { txid: await (await this.chain(network)).broadcast(fromHex(signed.hex)) };
      } catch (e) {
        // The node refused it (docs/cli.md: E_BROADCAST_REJECTED, exit 4, whatever was submitted); under its floor, the anchor is the way out.
        if (e instanceof RpcError && e.method === 'sendrawtransaction') {
          throw new RefusedError('E_BROADCAST_REJECTED', `the node did not accept the withdrawal: ${e.rpcMessage} — ${kept}; below the node's floor, bump it through its anchor from a wallet: package child --parent <that statechain/spend> --wallet-psbt FILE --fee-rate R, then package submit`, e.detail);
        }
        if (!(e instanceof OffchainError)) throw e;
        throw new OffchainError(e.code, `${e.message} — ${kept}`, e.exitCode, e.detail);
      }
      if (!joint) {
        await (await this.store(network)).update<OwnerRecord>(`coin-${coinId}`, (r) => (r?.withdrawal ? { ...r, withdrawal: { ...r.withdrawal, broadcast: true } } : r!));
      }
    }
    return message;
  }

  private async jointRecord(store: StateStore, coinId: string) {
    const r = await store.read<SendingRecord>(`joint-${coinId}`);
    if (r === undefined) throw new StateConflictError('E_UNKNOWN_COIN', `no joint share of coin ${coinId} in ${store.dir}`);
    return r;
  }
}
