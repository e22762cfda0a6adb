import { Flags } from '@oclif/core';
import type { CommandResult } from '../lib/cli/base-command.ts';
import { StatechainCommand, checkCoinId, coinFlag, statechainFlags } from '../lib/cli/statechain-command.ts';
import { MalformedInputError, StateConflictError, UsageError } from '../lib/errors.ts';

export default class StatechainTransfer extends StatechainCommand<typeof StatechainTransfer> {
  static override summary = 'Move a statechain coin to a new owner off chain: backup first, then the share rotation.';
  static override description =
    'Seven steps, one per run, each reading the previous output (which party runs a step follows from the message): ' +
    '(1) the receiver, with --start --coin ID --operator-key KEY, makes its new share and a request for the sender; ' +
    '(2) the sender builds the receiver\'s backup (one interval below its own) for the operator; ' +
    '(3) the operator co-signs it, counts it, and seals a fresh x₁ to the sender; ' +
    '(4) the sender finishes the backup and seals t₁ = o₁ + x₁ with the whole chain to the receiver; ' +
    '(5) the receiver verifies everything (as statechain-verify), keeps the coin, and seals t₂ = t₁ − o₂ to the operator; ' +
    '(6) the operator rotates its share (s₂ = s₁ + t₂ − x₁, checked against P); ' +
    '(7) the receiver records the operator\'s answer and prints statechain/coin. Repeating step 6 answers the same.';
  static override examples = [
    {
      description: 'Step 1, the receiver (Bob) asks for the fixture coin',
      command: 'BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-transfer --start --coin 3a95fbf6f491e385593b652bb35c5934 --operator-key $(cat fixtures/statechain/operator.pub) --key-env BOB_KEY --state-dir /tmp/offchain-sc-bob',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...coinFlag,
    start: Flags.boolean({ description: 'step 1 (receiver): ask for the coin given by --coin; no input is read' }),
    'operator-key': Flags.string({ description: 'step 1 (receiver): the operator\'s authentication key, hex: only its statements are trusted', helpValue: 'PUBKEY' }),
    'backup-address': Flags.string({ description: 'step 1 (receiver): your backup pays this address instead of your share\'s P2TR (e.g. a Lightning channel\'s funding output)', helpValue: 'ADDRESS' }),
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const tr = await import('../lib/statechain/transfer.ts');
    if (f.start) {
      const network = this.network();
      const coinId = checkCoinId(f.coin);
      if (f['operator-key'] === undefined) throw new UsageError('E_USAGE', 'step 1 needs --operator-key: the operator whose statements you will trust for this coin');
      const operatorKey = (await import('../lib/keys/keys.ts')).parsePublicKey(f['operator-key'], '--operator-key');
      const store = await this.store(network);
      if ((await store.read(`coin-${coinId}`)) !== undefined) throw new StateConflictError('E_COIN_EXISTS', `coin ${coinId} is already in this state directory`);
      const ctx = await this.ownerContext(network);
      let backupScript: Uint8Array | undefined;
      if (f['backup-address'] !== undefined) backupScript = (await import('../lib/address.ts')).decodeAddress(f['backup-address'], network, '--backup-address');
      const { pending, message } = tr.startReceive(coinId, operatorKey, ctx, backupScript);
      await store.write(`receive-${coinId}`, pending);
      return { message };
    }
    const step = await this.readStep('a statechain/transfer-* message (or --start)');
    const network = step.network;
    const schemas = await import('../lib/statechain/schemas.ts');
    const op = await import('../lib/statechain/operator.ts');
    const store = await this.store(network);
    switch (step.type) {
      case 'statechain/transfer-request': {
        const req = await this.decode(schemas.TransferRequestSchema, step.value);
        const ctx = await this.ownerContext(network);
        const tip = await (await this.coinChain(network)).tip();
        return { message: await this.ownerStep(network, req.coin_id, (r) => tr.transferSign(r, req, tip.height, ctx)) };
      }
      case 'statechain/transfer-sign': {
        const req = await this.decode(schemas.TransferSignSchema, step.value);
        return { message: await this.operatorStep(network, req.coin_id, async (r) => op.cosignTransfer(r, req, await this.operatorContext(network, r.statement))) };
      }
      case 'statechain/transfer-cosigned': {
        const cos = await this.decode(schemas.TransferCosignedSchema, step.value);
        const ctx = await this.ownerContext(network);
        return { message: await this.ownerStep(network, cos.coin_id, (r) => tr.transferPackage(r, cos, ctx)) };
      }
      case 'statechain/transfer-package': {
        const pkg = await this.decode(schemas.TransferPackageSchema, step.value);
        const pending = await store.read<import('../lib/statechain/transfer.ts').PendingReceive>(`receive-${pkg.coin_id}`);
        if (pending === undefined) throw new StateConflictError('E_NOT_RECEIVING', `we asked for no coin ${pkg.coin_id} (run step 1 with --start first, same --state-dir)`);
        const ctx = await this.ownerContext(network);
        const facts = await this.chainFacts(network, tr.openPackage(pkg, pending, ctx.auth.secretKey).statement);
        const out = tr.acceptPackage(pkg, pending, facts, ctx);
        // The coin (o₂ and the chain) is on disk before t₂ leaves.
        await store.update(`coin-${pkg.coin_id}`, (current) => {
          if (current !== undefined) throw new StateConflictError('E_COIN_EXISTS', `coin ${pkg.coin_id} is already in this state directory`);
          return out.record;
        });
        await store.remove(`receive-${pkg.coin_id}`);
        return { message: out.message };
      }
      case 'statechain/transfer-accept': {
        const acc = await this.decode(schemas.TransferAcceptSchema, step.value);
        return { message: await this.operatorStep(network, acc.coin_id, async (r) => op.completeTransfer(r, acc, await this.operatorContext(network))) };
      }
      case 'statechain/transfer-done': {
        const done = await this.decode(schemas.TransferDoneSchema, step.value);
        const record = await this.ownerStep(network, done.coin_id, async (r) => {
          const next = tr.finishReceive(r, done);
          return { record: next, message: next };
        });
        return { message: tr.coinView(record, (await (await this.coinChain(network)).tip().catch(() => undefined))?.height) };
      }
      default:
        throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-transfer reads statechain/transfer-request, -sign, -cosigned, -package, -accept or -done, not ${step.type}`);
    }
  }
}
