import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { StatechainCommand } from './shared/command.ts';
import { checkCoinId, coinFlag, floorFlags, statechainFlags, operatorStoreFlags } from './shared/flags.ts';
import { MalformedInputError, StateConflictError, UsageError } from '../../lib/errors.ts';
import { flagValue } from '../../lib/cli/flags.ts';
import type { JointPending, JointRecord } from '../../lib/statechain/joint.ts';
import type { OwnerContext, OwnerRecord } from '../../lib/statechain/owner.ts';
import type { StateStore } from '../../lib/store/state-store.ts';

export default class StatechainTransfer extends StatechainCommand<typeof StatechainTransfer> {
  /** Also `statechain-transfer`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['statechain-transfer'];
  static override summary = 'Move a statechain coin to a new owner off chain: backup first, then the share rotation.';
  static override description =
    'Seven steps, one per run, each reading the previous output (which party runs a step follows from the message): ' +
    '(1) the receiver, with --start --coin ID --operator-key KEY, makes its new share and a request for the sender; ' +
    '(2) the sender builds the receiver\'s backup (one interval below its own) for the operator; ' +
    '(3) the operator co-signs it, counts it, and seals a fresh x₁ to the sender; ' +
    '(4) the sender finishes the backup and seals t₁ = o₁ + x₁ with the whole chain to the receiver; ' +
    '(5) the receiver verifies everything (as statechain-verify), keeps the coin, and seals t₂ = t₁ − o₂ to the operator; ' +
    '(6) the operator rotates its share (s₂ = s₁ + t₂ − x₁, checked against P); ' +
    '(7) the receiver records the operator\'s answer and prints statechain/coin. Repeating step 6 answers the same. ' +
    'A joint receiver (the two parties of a channel on the coin, O₂ = A + B): B first runs --start --joint-part (statechain/joint-part), ' +
    'A runs --start --joint-with B\'s part file; at step 5 A prints statechain/joint-handoff for B, B answers statechain/joint-t2, ' +
    'A turns it into the acceptance; both read the operator\'s transfer-done. Each part keeps only its own secret, and each refuses a coin whose terms ' +
    'have no anchor (E_BACKUP_UNBUMPABLE: neither part could bump the pair\'s backup) unless it passes --allow-unanchored, accepting that fee risk. ' +
    'A pair sending its coin (the virtual close): the receiver\'s request goes to B (statechain/joint-nonce), then A (transfer-sign), ' +
    'the operator, A again (statechain/joint-sign), and B, who prints the transfer-package.';
  static override examples = [
    {
      description: 'Step 1, the receiver (Bob) asks for the fixture coin',
      command: 'D=$(mktemp -d); BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-transfer --start --coin 3a95fbf6f491e385593b652bb35c5934 --operator-key $(cat fixtures/statechain/operator.pub) --key-env BOB_KEY --state-dir $D/sc-bob',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...operatorStoreFlags,
    ...floorFlags,
    ...coinFlag,
    start: Flags.boolean({ description: 'step 1 (receiver): ask for the coin given by --coin; no input is read' }),
    'operator-key': Flags.string({ description: 'step 1 (receiver): the operator\'s authentication key, hex: only its statements are trusted', helpValue: 'PUBKEY' }),
    'joint-part': Flags.boolean({ description: 'step 1 (second part B of a joint receiver): make B\'s part for A instead of a request' }),
    'joint-with': Flags.string({ description: 'step 1 (first part A of a joint receiver): B\'s statechain/joint-part message', helpValue: 'FILE' }),
    'backup-address': Flags.string({ description: 'step 1 (receiver): your backup pays this address instead of your share\'s P2TR (e.g. a Lightning channel\'s funding output)', helpValue: 'ADDRESS' }),
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const tr = await import('../../lib/statechain/transfer.ts');
    if (f.start) {
      const network = this.network();
      const coinId = checkCoinId(f.coin);
      if (f['operator-key'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --operator-key: the operator whose statements you will trust for this coin');
      const { parsePublicKey } = await import('../../lib/keys/keys.ts');
      const operatorKey = flagValue(() => parsePublicKey(f['operator-key']!, '--operator-key'));
      const store = await this.store(network);
      const ctx = await this.ownerContext(network);
      let backupScript: Uint8Array | undefined;
      if (f['backup-address'] !== undefined) backupScript = (await import('../../lib/address.ts')).decodeAddress(f['backup-address'], network, '--backup-address');
      if (f['joint-part'] || f['joint-with'] !== undefined) return { message: await this.startJoint(store, coinId, operatorKey, ctx, backupScript) };
      // A coin this directory sent away ('sent') may come back: its old record is set aside when the new one is taken.
      const held = await store.read<OwnerRecord>(`coin-${coinId}`);
      if (held !== undefined && held.status !== 'sent') throw new StateConflictError('E_COIN_EXISTS', `coin ${coinId} is already in this state directory (${held.status})`);
      const { pending, message } = tr.startReceive(coinId, operatorKey, ctx, backupScript);
      await store.write(`receive-${coinId}`, pending);
      return { message };
    }
    const step = await this.readStep('a statechain/transfer-* message (or --start)');
    const network = step.network;
    const schemas = await import('../../lib/statechain/schemas.ts');
    const op = await import('../../lib/statechain/operator.ts');
    const store = await this.store(network);
    switch (step.type) {
      case 'statechain/transfer-request': {
        const req = await this.decode(schemas.TransferRequestSchema, step.value);
        const ctx = await this.ownerContext(network);
        const tip = await (await this.coinChain(network)).tip();
        // The pair's (also once its package left, 'sent', unless the coin came back to this directory as a single owner's).
        if (await this.heldJointly(store, req.coin_id) || ((await store.read<{ status?: string }>(`joint-${req.coin_id}`))?.status === 'sent' && (await store.read(`coin-${req.coin_id}`)) === undefined)) {
          const send = await import('../../lib/statechain/joint-send.ts');
          return { message: await this.jointStep(store, req.coin_id, (r) => send.jointNonce(r, req, tip.height, ctx)) };
        }
        return { message: await this.ownerStep(network, req.coin_id, (r) => tr.transferSign(r, req, tip.height, ctx)) };
      }
      case 'statechain/transfer-sign': {
        const req = await this.decode(schemas.TransferSignSchema, step.value);
        return { message: await this.operatorStep(network, req.coin_id, async (r) => op.cosignTransfer(r, req, await this.operatorContext(network, r.statement))) };
      }
      case 'statechain/joint-nonce': {
        const msg = await this.decode(schemas.JointNonceSchema, step.value);
        const ctx = await this.ownerContext(network);
        const tip = await (await this.coinChain(network)).tip();
        const send = await import('../../lib/statechain/joint-send.ts');
        return { message: await this.jointStep(store, msg.coin_id, (r) => send.jointTransferSign(r, msg, tip.height, ctx)) };
      }
      case 'statechain/joint-sign': {
        const msg = await this.decode(schemas.JointSignSchema, step.value);
        const ctx = await this.ownerContext(network);
        const send = await import('../../lib/statechain/joint-send.ts');
        return { message: await this.jointStep(store, msg.coin_id, (r) => send.jointPackage(r, msg, ctx)) };
      }
      case 'statechain/transfer-cosigned': {
        const cos = await this.decode(schemas.TransferCosignedSchema, step.value);
        const ctx = await this.ownerContext(network);
        if (await this.heldJointly(store, cos.coin_id, true)) {
          const send = await import('../../lib/statechain/joint-send.ts');
          return { message: await this.jointStep(store, cos.coin_id, (r) => send.jointSignA(r, cos, ctx)) };
        }
        return { message: await this.ownerStep(network, cos.coin_id, (r) => tr.transferPackage(r, cos, ctx)) };
      }
      case 'statechain/transfer-package': {
        const pkg = await this.decode(schemas.TransferPackageSchema, step.value);
        const pending = await store.read<import('../../lib/statechain/transfer.ts').PendingReceive | JointPending>(`receive-${pkg.coin_id}`);
        // A repeated step (its answer lost, even mid-write) prints the same answer: the same u, never a second one.
        const again = (await import('../../lib/statechain/joint.ts')).answeredBefore(await store.read<JointRecord>(`joint-${pkg.coin_id}`), pkg.transfer_id, 0);
        if (again !== undefined) {
          await store.remove(`receive-${pkg.coin_id}`);
          return { message: again };
        }
        // A single receiver's acceptance given before (its answer lost, or a crash before receive- was removed): the same bytes.
        const accepted = tr.acceptedBefore(await store.read<OwnerRecord>(`coin-${pkg.coin_id}`), pkg);
        if (accepted !== undefined) {
          await store.remove(`receive-${pkg.coin_id}`);
          return { message: accepted };
        }
        if (pending === undefined) throw new StateConflictError('E_NOT_RECEIVING', `we asked for no coin ${pkg.coin_id} (run step 1 with --start first, same --state-dir)`);
        const ctx = await this.ownerContext(network);
        if ('parts' in pending) {
          const joint = await import('../../lib/statechain/joint.ts');
          const inner = joint.openJointPackage(pkg, pending, ctx.auth.secretKey);
          const out = joint.jointTakePackage(pkg, pending, await this.chainFacts(network, inner.statement), { ...ctx, floor: this.floor() }, inner);
          await this.keepJoint(store, out.record); // a and the chain on disk before u leaves
          await store.remove(`receive-${pkg.coin_id}`);
          return { message: out.message };
        }
        const facts = await this.chainFacts(network, tr.openPackage(pkg, pending, ctx.auth.secretKey).statement);
        const out = tr.acceptPackage(pkg, pending, facts, ctx, this.floor());
        // The coin coming back to a directory that sent it: the old record ('sent') is kept aside as coin-<id>.sent-<transfer>.
        const before = await store.read<OwnerRecord>(`coin-${pkg.coin_id}`);
        if (before !== undefined && before.status === 'sent') await store.write(`coin-${pkg.coin_id}.sent-${before.transfer?.transfer_id ?? 'unknown'}`, before);
        // The coin (o₂ and the chain) is on disk before t₂ leaves.
        await store.update<OwnerRecord>(`coin-${pkg.coin_id}`, (current) => {
          if (current !== undefined && current.status !== 'sent') throw new StateConflictError('E_COIN_EXISTS', `coin ${pkg.coin_id} is already in this state directory (${current.status})`);
          return out.record;
        });
        await store.remove(`receive-${pkg.coin_id}`);
        return { message: out.message };
      }
      case 'statechain/transfer-accept': {
        const acc = await this.decode(schemas.TransferAcceptSchema, step.value);
        return { message: await this.operatorStep(network, acc.coin_id, async (r) => op.completeTransfer(r, acc, await this.operatorContext(network))) };
      }
      case 'statechain/joint-handoff': {
        const msg = await this.decode(schemas.JointHandoffSchema, step.value);
        const joint = await import('../../lib/statechain/joint.ts');
        const pending = await store.read<import('../../lib/statechain/joint.ts').PendingPart>(`part-${msg.coin_id}`);
        const again = joint.answeredBefore(await store.read<JointRecord>(`joint-${msg.coin_id}`), msg.transfer_id, 1);
        if (again !== undefined) {
          await store.remove(`part-${msg.coin_id}`);
          return { message: again };
        }
        if (pending === undefined) throw new StateConflictError('E_NOT_RECEIVING', `we made no part for coin ${msg.coin_id} (run step 1 with --start --joint-part first, same --state-dir)`);
        const ctx = await this.ownerContext(network);
        const inner = joint.openHandoffFor(msg, pending, ctx.auth.secretKey);
        const out = joint.jointTakeHandoff(msg, pending, await this.chainFacts(network, inner.statement), { ...ctx, floor: this.floor() }, inner);
        await this.keepJoint(store, out.record); // b and the chain on disk before t₂ leaves
        await store.remove(`part-${msg.coin_id}`);
        return { message: out.message };
      }
      case 'statechain/joint-t2': {
        const msg = await this.decode(schemas.JointT2Schema, step.value);
        const record = await store.read<JointRecord>(`joint-${msg.coin_id}`);
        if (record === undefined) throw new StateConflictError('E_NOT_RECEIVING', `no joint receipt of coin ${msg.coin_id} here`);
        return { message: (await import('../../lib/statechain/joint.ts')).jointAcceptFrom(msg, record, await this.ownerContext(network)) };
      }
      case 'statechain/transfer-done': {
        const done = await this.decode(schemas.TransferDoneSchema, step.value);
        const held = await store.read<JointRecord>(`joint-${done.coin_id}`);
        const finish = async <R extends OwnerRecord>(r: R) => {
          const next = tr.finishReceive(r, done) as R;
          return { record: next, message: next };
        };
        const record = held !== undefined && (held.status === 'receiving' || held.status === 'active')
          ? await this.jointStep(store, done.coin_id, finish)
          : await this.ownerStep(network, done.coin_id, finish);
        return { message: tr.coinView(record, (await (await this.coinChain(network)).tip().catch(() => undefined))?.height) };
      }
      default:
        throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-transfer reads statechain/transfer-request, -sign, -cosigned, -package, -accept, -done, or joint-handoff, -t2, -nonce, -sign, not ${step.type}`);
    }
  }

  /** Step 1 of a joint receiver: B's part (--joint-part), or A's request with B's part (--joint-with). */
  private async startJoint(store: StateStore, coinId: string, operatorKey: Uint8Array, ctx: OwnerContext, backupScript: Uint8Array | undefined) {
    const f = this.flags;
    if (f['joint-part'] && f['joint-with'] !== undefined) throw new UsageError('E_USAGE', '--joint-part (B) and --joint-with (A) are the two parts\' step 1: give one');
    if ((await store.read(`joint-${coinId}`)) !== undefined) throw new StateConflictError('E_COIN_EXISTS', `a joint share of coin ${coinId} is already in this state directory`);
    const joint = await import('../../lib/statechain/joint.ts');
    if (f['joint-part']) {
      const { pending, message } = joint.startPart(coinId, operatorKey, ctx, backupScript);
      await store.write(`part-${coinId}`, pending);
      return message;
    }
    const { inputFrom, readInputBytes, detectFormat } = await import('../../lib/cli/input.ts');
    const doc = detectFormat(await readInputBytes(inputFrom(f['joint-with'], '--joint-with')), '--joint-with');
    if (doc.format !== 'json') throw new MalformedInputError('E_MALFORMED_MESSAGE', '--joint-with: not a JSON statechain/joint-part message');
    const schemas = await import('../../lib/statechain/schemas.ts');
    const b = await this.decode(schemas.JointPartSchema, doc.value);
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
