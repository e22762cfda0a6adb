import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { StatechainCommand } from './shared/command.ts';
import { checkCoinId, coinFlag, statechainFlags, operatorStoreFlags } from './shared/flags.ts';
import { feeGuardFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError, StateConflictError, UsageError } from '../../lib/errors.ts';

export default class StatechainWithdraw extends StatechainCommand<typeof StatechainWithdraw> {
  /** Also `statechain-withdraw`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['statechain-withdraw'];
  static override summary = 'Spend a statechain coin cooperatively to any address; the operator signs nothing more for it.';
  static override description =
    'Three steps: (1) the owner, with --coin ID --to ADDRESS --fee-rate R, asks the operator to co-sign the spend; (2) the operator checks the ' +
    'request is the current owner\'s and spends exactly the coin, co-signs, and closes the coin; (3) the owner finishes the signature and prints ' +
    'statechain/spend (with --broadcast, sent to the node and its answer printed). The signed withdrawal is kept before it is printed or sent: ' +
    '--coin ID alone (no --to) prints it again, with --broadcast sends it again; a refused broadcast changes nothing. The withdrawal is TRUC (version 3) with a 240-sat ' +
    'pay-to-anchor, so whoever holds it bumps it from a wallet (package child); with a node named (--rpc-url), a --fee-rate under its relay floor is refused ' +
    'before anything is signed (E_FEE_TOO_LOW). A coin held by a pair (O = A + B): B starts with --coin, ' +
    'A answers B\'s statechain/joint-withdraw-nonce with the same --to and --fee-rate, the operator co-signs, A adds its partial signature ' +
    '(statechain/joint-withdraw-sign), and B prints the signed withdrawal.';
  static override examples = [
    {
      description: 'Step 1, Bob (the fixture coin\'s owner) withdraws it',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/bob $D/sc-bob && BOB_KEY=$(cat fixtures/keys/bob.key) <%= config.bin %> statechain-withdraw --coin $(cat fixtures/statechain/coin-id) --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2 --key-env BOB_KEY --state-dir $D/sc-bob',
    },
    {
      description: 'Step 2, the operator co-signs the fixture request',
      command: 'D=$(mktemp -d); cp -r fixtures/statechain/state/operator $D/sc-operator && OPERATOR_KEY=$(cat fixtures/keys/mint.key) <%= config.bin %> statechain-withdraw --key-env OPERATOR_KEY --state-dir $D/sc-operator --in fixtures/statechain/withdraw-request.json',
    },
  ];
  static override flags = {
    ...statechainFlags,
    ...operatorStoreFlags,
    ...coinFlag,
    to: Flags.string({ description: 'step 1: where the coin goes', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'step 1: fee rate, sat/vB', helpValue: 'RATE' }),
    broadcast: Flags.boolean({ description: 'step 3 (or --coin ID alone): send the signed withdrawal to the node and print its answer' }),
    ...feeGuardFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const own = await import('../../lib/statechain/owner.ts');
    if (f.coin !== undefined) {
      const network = this.network();
      const coinId = checkCoinId(f.coin);
      if (f.to === undefined && f['fee-rate'] === undefined) {
        // No new withdrawal: the one already signed, printed again (and with --broadcast, sent again).
        const store = await this.store(network);
        const held = await this.heldJointly(store, coinId, true);
        const signed = held
          ? (await import('../../lib/statechain/joint-send.ts')).storedJointWithdrawal(await this.jointRecord(store, coinId))
          : own.storedWithdrawal(await this.ownerRecord(store, coinId));
        return { message: await this.spendMessage(network, coinId, signed, held) };
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
        const send = await import('../../lib/statechain/joint-send.ts');
        return { message: await this.jointStep(store, coinId, (r) => send.jointWithdrawNonce(r, destination, rate, ctx, relay, limits)) };
      }
      return { message: await this.ownerStep(network, coinId, (r) => own.withdrawRequest(r, destination, rate, ctx, relay, limits)) };
    }
    const step = await this.readStep('a statechain/withdraw-request or -cosigned (or --coin to start)');
    const network = step.network;
    const schemas = await import('../../lib/statechain/schemas.ts');
    switch (step.type) {
      case 'statechain/withdraw-request': {
        const req = await this.decode(schemas.WithdrawRequestSchema, step.value);
        this.noBroadcast('the operator\'s step prints its co-signature for the owner, who sends the withdrawal');
        const op = await import('../../lib/statechain/operator.ts');
        return { message: await this.operatorStep(network, req.coin_id, async (r) => op.cosignWithdrawal(r, req, await this.operatorContext(network))) };
      }
      case 'statechain/joint-withdraw-nonce': {
        const msg = await this.decode(schemas.JointWithdrawNonceSchema, step.value);
        this.noBroadcast('A\'s step prints a request for the operator; nothing is signed to send yet');
        if (f.to === undefined || f['fee-rate'] === undefined) throw new UsageError('E_USAGE', 'the pair\'s withdrawal: A gives the same --to ADDRESS and --fee-rate RATE as B, and gets the same transaction or a refusal');
        const { destination, feeRate: rate } = await this.payTo(network, f.to, f['fee-rate']);
        const limits = await this.feeLimits();
        const ctx = await this.ownerContext(network);
        const send = await import('../../lib/statechain/joint-send.ts');
        const relay = await this.relayFloor(network);
        return { message: await this.jointStep(await this.store(network), msg.coin_id, (r) => send.jointWithdrawRequest(r, msg, destination, rate, ctx, relay, limits)) };
      }
      case 'statechain/joint-withdraw-sign': {
        const msg = await this.decode(schemas.JointWithdrawSignSchema, step.value);
        const ctx = await this.ownerContext(network);
        const send = await import('../../lib/statechain/joint-send.ts');
        const signed = await this.jointStep(await this.store(network), msg.coin_id, async (r) => {
          const out = await send.jointWithdrawFinish(r, msg, ctx);
          return { record: out.record, message: out.signed };
        });
        return { message: await this.spendMessage(network, msg.coin_id, signed, true) };
      }
      case 'statechain/withdraw-cosigned': {
        const cos = await this.decode(schemas.WithdrawCosignedSchema, step.value);
        const ctx = await this.ownerContext(network);
        const store = await this.store(network);
        if (await this.heldJointly(store, cos.coin_id, true)) {
          const send = await import('../../lib/statechain/joint-send.ts');
          return { message: await this.jointStep(store, cos.coin_id, (r) => send.jointWithdrawSignA(r, cos, ctx)) };
        }
        const signed = await this.ownerStep(network, cos.coin_id, async (r) => {
          const out = await own.withdrawFinish(r, cos, ctx);
          return { record: out.record, message: out.signed };
        });
        return { message: await this.spendMessage(network, cos.coin_id, signed, false) };
      }
      default:
        throw new MalformedInputError('E_WRONG_MESSAGE', `statechain-withdraw reads statechain/withdraw-request, -cosigned, joint-withdraw-nonce or joint-withdraw-sign, not ${step.type}`);
    }
  }

  /**
   * With a node named (--rpc-url, or $OFFCHAIN_RPC_URL): its relay floor (getmempoolinfo), asked
   * only when a new withdrawal is about to be requested — a rerun printing the stored request
   * needs no node. Offline there is no floor to check against: the withdrawal's anchor is then
   * what gets it mined if the rate asked was too low (package child).
   */
  private async relayFloor(network: import('../../lib/network.ts').Network): Promise<import('../../lib/statechain/withdrawal.ts').RelayFloorSource | undefined> {
    const chain = await this.chain(network);
    if (chain.kind !== 'rpc' || chain.mempoolPolicy === undefined) return undefined;
    return () => chain.mempoolPolicy!();
  }

  /** The fee guard's limits (--max-fee-rate, --max-fee-share; Core's maxfeerate and half the coin by default). */
  private async feeLimits() {
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    return parseFeeLimits({ maxFeeRate: this.flags['max-fee-rate'], maxFeeShare: this.flags['max-fee-share'] });
  }

  /** --broadcast on a step that has nothing to send: refused before anything is done (it would be ignored). */
  private noBroadcast(why: string): void {
    if (this.flags.broadcast) throw new UsageError('E_USAGE', `--broadcast is for step 3 (or --coin ID alone): ${why}`);
  }

  /**
   * statechain/spend for a signed withdrawal, already kept in our record; with --broadcast,
   * the node's answer too. A refused or impossible broadcast changes nothing (the withdrawal
   * stays kept, its error says how to print it again); an accepted one is marked.
   */
  private async spendMessage(network: import('../../lib/network.ts').Network, coinId: string, signed: { txid: string; hex: string }, joint: boolean) {
    const message: Record<string, unknown> = { type: 'statechain/spend', version: 1, network, coin_id: coinId, kind: 'withdrawal', txid: signed.txid, hex: signed.hex };
    if (this.flags.broadcast) {
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
        await (await this.store(network)).update<import('../../lib/statechain/owner.ts').OwnerRecord>(`coin-${coinId}`, (r) => (r?.withdrawal ? { ...r, withdrawal: { ...r.withdrawal, broadcast: true } } : r!));
      }
    }
    return message;
  }

  private async jointRecord(store: import('../../lib/store/state-store.ts').StateStore, coinId: string) {
    const r = await store.read<import('../../lib/statechain/joint-send.ts').SendingRecord>(`joint-${coinId}`);
    if (r === undefined) throw new StateConflictError('E_UNKNOWN_COIN', `no joint share of coin ${coinId} in ${store.dir}`);
    return r;
  }
}
