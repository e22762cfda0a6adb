/**
 * The transfer's roles as `statechain transfer` runs them: one row per message a run can
 * read (and `--start`, which reads none) — who runs it, what it must hold, what it checks,
 * what it writes (before its answer leaves), what it prints — and the step itself. The
 * command dispatches on the message's type; the protocol is ../../../lib/statechain/
 * (transfer.ts: a single sender and receiver, and the invariants; joint.ts: a pair
 * receiving; joint-send.ts: a pair sending), this module only reads and writes the parties'
 * documents around it (./command.ts names them).
 * Not here: any check or signature of the protocol's own, the flags (../transfer.ts).
 */
import { type Command } from '@oclif/core';
import { MalformedInputError, StateConflictError, UsageError } from '../../lib/errors.ts';
import { flagValue } from '../../lib/cli/flags.ts';
import type { Static } from '@sinclair/typebox';
import type { Network } from '../../lib/network.ts';
import type { TransferPackageSchema } from '../../lib/statechain/schemas.ts';
import type { JointPending, JointRecord, PendingPart } from '../../lib/statechain/joint.ts';
import type { OwnerContext, OwnerRecord } from '../../lib/statechain/owner.ts';
import type { PendingReceive } from '../../lib/statechain/transfer.ts';
import type { Documents as StateStore } from '../../lib/store/sqlite/records.ts';
import { StatechainCommand } from './command.ts';
import { checkCoinId } from './flags.ts';

/** The flags the steps read (../transfer.ts declares them). */
type TransferFlags = { coin?: string; 'operator-key'?: string; 'joint-part'?: boolean; 'joint-with'?: string; 'backup-address'?: string };

/** What a step is given: the message's network and value (`--start`: the flags' network, no value), and the state store, opened first. */
type StepInput = { network: Network; value: Record<string, unknown>; store: StateStore };
/** `--start` reads no message and opens its store only once its flags are checked. */
type StartInput = { network: Network };

/** One row of a role's table: the columns say what `run` does, in the order it does it. */
export type TransferStep<I = StepInput> = { by: string; holds: string; checks: string; writes: string; out: string; run: (input: I) => Promise<Record<string, unknown>> };

const lib = {
  transfer: () => import('../../lib/statechain/transfer.ts'),
  joint: () => import('../../lib/statechain/joint.ts'),
  send: () => import('../../lib/statechain/joint-send.ts'),
  schemas: () => import('../../lib/statechain/schemas.ts'),
};

export abstract class TransferRoles<T extends typeof Command> extends StatechainCommand<T> {
  /** Step 1, `--start`: the first row of the roles' table, the one that reads no message. */
  protected readonly transferStart: TransferStep<StartInput> = {
    by: 'receiver (a pair: B with --joint-part, then A with --joint-with)', holds: 'no coin-<id> (or one it sent)', checks: '--coin, --operator-key',
    writes: 'receive-<id> (B: part-<id>)', out: 'transfer-request (B: joint-part)',
    run: async ({ network }) => {
      const f = this.flags as TransferFlags;
      const coinId = checkCoinId(f.coin);
      if (f['operator-key'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --operator-key: the operator whose statements you will trust for this coin');
      const { parsePublicKey } = await import('../../lib/keys/keys.ts');
      const operatorKey = flagValue(() => parsePublicKey(f['operator-key']!, '--operator-key'));
      const store = await this.store(network);
      const ctx = await this.ownerContext(network);
      let backupScript: Uint8Array | undefined;
      if (f['backup-address'] !== undefined) backupScript = (await import('../../lib/address.ts')).decodeAddress(f['backup-address'], network, '--backup-address');
      if (f['joint-part'] || f['joint-with'] !== undefined) return this.startJoint(store, coinId, operatorKey, ctx, backupScript);
      // A coin this directory sent away ('sent') may come back: its old record is set aside when the new one is taken.
      const held = await store.read<OwnerRecord>(`coin-${coinId}`);
      if (held !== undefined && held.status !== 'sent') throw new StateConflictError('E_COIN_EXISTS', `coin ${coinId} is already in this state directory (${held.status})`);
      const { pending, message } = (await lib.transfer()).startReceive(coinId, operatorKey, ctx, backupScript);
      await store.write(`receive-${coinId}`, pending);
      return message;
    },
  };

  /** The roles' steps by the message they read, in the order a transfer runs them; a pair's steps beside the single party's they replace. */
  protected readonly transferSteps: Record<string, TransferStep> = {
    'statechain/transfer-request': {
      by: 'sender (a pair: B)', holds: 'coin-<id> (a pair: joint-<id>)', checks: 'the receiver\'s signature and proof of possession', writes: 'the receiver\'s backup under way, our nonce issued',
      out: 'transfer-sign (a pair: joint-nonce, to A)',
      run: async ({ network, value, store }) => {
        const req = await this.decode((await lib.schemas()).TransferRequestSchema, value);
        const ctx = await this.ownerContext(network);
        const tip = await (await this.coinChain(network)).tip();
        // The pair's (also once its package left, 'sent', unless the coin came back to this directory as a single owner's).
        if (await this.heldJointly(store, req.coin_id) || ((await store.read<{ status?: string }>(`joint-${req.coin_id}`))?.status === 'sent' && (await store.read(`coin-${req.coin_id}`)) === undefined)) {
          const send = await lib.send();
          return this.jointStep(store, req.coin_id, (r) => send.jointNonce(r, req, tip.height, ctx));
        }
        const tr = await lib.transfer();
        return this.ownerStep(network, req.coin_id, (r) => tr.transferSign(r, req, tip.height, ctx));
      },
    },
    'statechain/joint-nonce': {
      by: 'a sending pair\'s A', holds: 'joint-<id>', checks: 'B\'s signature, the same request', writes: 'A\'s nonce issued', out: 'transfer-sign',
      run: async ({ network, value, store }) => {
        const msg = await this.decode((await lib.schemas()).JointNonceSchema, value);
        const ctx = await this.ownerContext(network);
        const tip = await (await this.coinChain(network)).tip();
        const send = await lib.send();
        return this.jointStep(store, msg.coin_id, (r) => send.jointTransferSign(r, msg, tip.height, ctx));
      },
    },
    'statechain/transfer-sign': {
      by: 'operator', holds: 'op-<id>', checks: 'the current owner\'s signature, the receiver\'s backup one interval below', writes: 'op-<id>: the backup counted, x₁ pending',
      out: 'transfer-cosigned (x₁ sealed to the sender)',
      run: async ({ network, value }) => this.operatorAnswer(network, 'statechain/transfer-sign', value),
    },
    'statechain/transfer-cosigned': {
      by: 'sender (a pair: A)', holds: 'coin-<id> sending (a pair: joint-<id>)', checks: 'the operator\'s partial signature and statement', writes: 'the backup finished, the package kept',
      out: 'transfer-package, t₁ sealed to the receiver (a pair: joint-sign, to B)',
      run: async ({ network, value, store }) => {
        const cos = await this.decode((await lib.schemas()).TransferCosignedSchema, value);
        const ctx = await this.ownerContext(network);
        if (await this.heldJointly(store, cos.coin_id, true)) {
          const send = await lib.send();
          return this.jointStep(store, cos.coin_id, (r) => send.jointSignA(r, cos, ctx));
        }
        const tr = await lib.transfer();
        return this.ownerStep(network, cos.coin_id, (r) => tr.transferPackage(r, cos, ctx));
      },
    },
    'statechain/joint-sign': {
      by: 'a sending pair\'s B', holds: 'joint-<id>', checks: 'A\'s signature and partial signature', writes: 'the package kept', out: 'transfer-package',
      run: async ({ network, value, store }) => {
        const msg = await this.decode((await lib.schemas()).JointSignSchema, value);
        const ctx = await this.ownerContext(network);
        const send = await lib.send();
        return this.jointStep(store, msg.coin_id, (r) => send.jointPackage(r, msg, ctx));
      },
    },
    'statechain/transfer-package': {
      by: 'receiver (a pair: A)', holds: 'receive-<id>', checks: 'the whole chain (as statechain verify) and our floor', writes: 'coin-<id> (a pair: joint-<id>), receive-<id> removed',
      out: 'transfer-accept, t₂ sealed to the operator (a pair: joint-handoff, u sealed to B)',
      run: async ({ network, value, store }) => this.takePackage(network, await this.decode((await lib.schemas()).TransferPackageSchema, value), store),
    },
    'statechain/joint-handoff': {
      by: 'a receiving pair\'s B', holds: 'part-<id>', checks: 'A\'s signature, our part, the chain with u·G = O₁ + X₁ − A', writes: 'joint-<id>, part-<id> removed',
      out: 'joint-t2 (t₂ sealed to the operator)',
      run: async ({ network, value, store }) => {
        const msg = await this.decode((await lib.schemas()).JointHandoffSchema, value);
        const joint = await lib.joint();
        const pending = await store.read<PendingPart>(`part-${msg.coin_id}`);
        const again = joint.answeredBefore(await store.read<JointRecord>(`joint-${msg.coin_id}`), msg.transfer_id, 1);
        if (again !== undefined) {
          await store.remove(`part-${msg.coin_id}`);
          return again;
        }
        if (pending === undefined) throw new StateConflictError('E_NOT_RECEIVING', `we made no part for coin ${msg.coin_id} (run step 1 with --start --joint-part first, same --state-dir)`);
        const ctx = await this.ownerContext(network);
        const inner = joint.openHandoffFor(msg, pending, ctx.auth.secretKey);
        const out = joint.jointTakeHandoff(msg, pending, await this.chainFacts(network, inner.statement), { ...ctx, floor: await this.floor() }, inner);
        await this.keepJoint(store, out.record); // b and the chain on disk before t₂ leaves
        await store.remove(`part-${msg.coin_id}`);
        return out.message;
      },
    },
    'statechain/joint-t2': {
      by: 'a receiving pair\'s A', holds: 'joint-<id> receiving', checks: 'B\'s signature, the transfer', writes: 'nothing (the answer is the same again)', out: 'transfer-accept',
      run: async ({ network, value, store }) => {
        const msg = await this.decode((await lib.schemas()).JointT2Schema, value);
        const record = await store.read<JointRecord>(`joint-${msg.coin_id}`);
        if (record === undefined) throw new StateConflictError('E_NOT_RECEIVING', `no joint receipt of coin ${msg.coin_id} here`);
        return (await lib.joint()).jointAcceptFrom(msg, record, await this.ownerContext(network));
      },
    },
    'statechain/transfer-accept': {
      by: 'operator', holds: 'op-<id> with x₁ pending', checks: 'the receiver\'s signature, s₂·G + O₂ = P', writes: 'op-<id>: its share rotated (the old one erased)', out: 'transfer-done',
      run: async ({ network, value }) => this.operatorAnswer(network, 'statechain/transfer-accept', value),
    },
    'statechain/transfer-done': {
      by: 'receiver (a pair: both parts)', holds: 'coin-<id> (a pair: joint-<id>) receiving', checks: 'the operator\'s statement keeps what we verified, S₂ + O₂ = P', writes: 'the coin active',
      out: 'statechain/coin',
      run: async ({ network, value, store }) => {
        const done = await this.decode((await lib.schemas()).TransferDoneSchema, value);
        const tr = await lib.transfer();
        const held = await store.read<JointRecord>(`joint-${done.coin_id}`);
        const finish = async <R extends OwnerRecord>(r: R) => {
          const next = tr.finishReceive(r, done) as R;
          return { record: next, message: next };
        };
        const record = held !== undefined && (held.status === 'receiving' || held.status === 'active')
          ? await this.jointStep(store, done.coin_id, finish)
          : await this.ownerStep(network, done.coin_id, finish);
        return tr.coinView(record, (await (await this.coinChain(network)).tip().catch(() => undefined))?.height);
      },
    },
  };

  /** The row for this message, or E_WRONG_MESSAGE naming what the command reads. */
  protected transferStep(type: string): TransferStep {
    const step = Object.hasOwn(this.transferSteps, type) ? this.transferSteps[type] : undefined;
    if (step === undefined) throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-transfer reads statechain/transfer-request, -sign, -cosigned, -package, -accept, -done, or joint-handoff, -t2, -nonce, -sign, not ${type}`);
    return step;
  }

  /** A receiver's step 5: its acceptance (a pair's A: the handoff to B), the coin on disk before it leaves; a repeated step prints the same answer. */
  private async takePackage(network: Network, pkg: Static<typeof TransferPackageSchema>, store: StateStore): Promise<Record<string, unknown>> {
    const tr = await lib.transfer();
    const pending = await store.read<PendingReceive | JointPending>(`receive-${pkg.coin_id}`);
    // A repeated step (its answer lost, even mid-write) prints the same answer: the same u, never a second one.
    const again = (await lib.joint()).answeredBefore(await store.read<JointRecord>(`joint-${pkg.coin_id}`), pkg.transfer_id, 0);
    if (again !== undefined) {
      await store.remove(`receive-${pkg.coin_id}`);
      return again;
    }
    // A single receiver's acceptance given before (its answer lost, or a crash before receive- was removed): the same bytes.
    const accepted = tr.acceptedBefore(await store.read<OwnerRecord>(`coin-${pkg.coin_id}`), pkg);
    if (accepted !== undefined) {
      await store.remove(`receive-${pkg.coin_id}`);
      return accepted;
    }
    if (pending === undefined) throw new StateConflictError('E_NOT_RECEIVING', `we asked for no coin ${pkg.coin_id} (run step 1 with --start first, same --state-dir)`);
    const ctx = await this.ownerContext(network);
    if ('parts' in pending) {
      const joint = await lib.joint();
      const inner = joint.openJointPackage(pkg, pending, ctx.auth.secretKey);
      const out = joint.jointTakePackage(pkg, pending, await this.chainFacts(network, inner.statement), { ...ctx, floor: await this.floor() }, inner);
      await this.keepJoint(store, out.record); // a and the chain on disk before u leaves
      await store.remove(`receive-${pkg.coin_id}`);
      return out.message;
    }
    const facts = await this.chainFacts(network, tr.openPackage(pkg, pending, ctx.auth.secretKey).statement);
    const out = tr.acceptPackage(pkg, pending, facts, ctx, await this.floor());
    // The coin coming back to a directory that sent it: the old record ('sent') is kept aside as coin-<id>.sent-<transfer>.
    const before = await store.read<OwnerRecord>(`coin-${pkg.coin_id}`);
    if (before !== undefined && before.status === 'sent') await store.write(`coin-${pkg.coin_id}.sent-${before.transfer?.transfer_id ?? 'unknown'}`, before);
    // The coin (o₂ and the chain) is on disk before t₂ leaves.
    await store.update<OwnerRecord>(`coin-${pkg.coin_id}`, (current) => {
      if (current !== undefined && current.status !== 'sent') throw new StateConflictError('E_COIN_EXISTS', `coin ${pkg.coin_id} is already in this state directory (${current.status})`);
      return out.record;
    });
    await store.remove(`receive-${pkg.coin_id}`);
    return out.message;
  }

  /** Step 1 of a joint receiver: B's part (--joint-part), or A's request with B's part (--joint-with). */
  private async startJoint(store: StateStore, coinId: string, operatorKey: Uint8Array, ctx: OwnerContext, backupScript: Uint8Array | undefined) {
    const f = this.flags as TransferFlags;
    if (f['joint-part'] && f['joint-with'] !== undefined) throw new UsageError('E_USAGE', '--joint-part (B) and --joint-with (A) are the two parts\' step 1: give one');
    if ((await store.read(`joint-${coinId}`)) !== undefined) throw new StateConflictError('E_COIN_EXISTS', `a joint share of coin ${coinId} is already in this state directory`);
    const joint = await lib.joint();
    if (f['joint-part']) {
      const { pending, message } = joint.startPart(coinId, operatorKey, ctx, backupScript);
      await store.write(`part-${coinId}`, pending);
      return message;
    }
    const { inputFrom, readInputBytes, detectFormat } = await import('../../lib/cli/input.ts');
    const doc = detectFormat(await readInputBytes(inputFrom(f['joint-with'], '--joint-with')), '--joint-with');
    if (doc.format !== 'json') throw new MalformedInputError('E_MALFORMED_MESSAGE', '--joint-with: not a JSON statechain/joint-part message');
    const b = await this.decode((await lib.schemas()).JointPartSchema, doc.value);
    const { pending, message } = joint.startJointReceive(coinId, operatorKey, b, ctx, backupScript);
    await store.write(`receive-${coinId}`, pending);
    return message;
  }

  /** A part's record of the coin, written once: a second receipt of the same coin is refused. */
  private async keepJoint(store: StateStore, record: JointRecord): Promise<void> {
    await store.update<JointRecord>(`joint-${record.coin_id}`, (current) => {
      if (current !== undefined) throw new StateConflictError('E_COIN_EXISTS', `a joint share of coin ${record.coin_id} is already in this state directory`);
      return record;
    });
  }
}
