import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { DeviceCommand, tollExample } from './shared/command.ts';
import { contractFlag } from '../credit/shared/flags.ts';
import { chainFlags, feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { RefusedError, UsageError } from '../../lib/errors.ts';

export default class DeviceRefundHtlc extends DeviceCommand<typeof DeviceRefundHtlc> {
  static override summary = 'The device\'s unilateral path for a payment: take its HTLC back through the refund leaf once the HTLC\'s expiry height is final.';
  static override description = `  device  [--payment-hash HEX]  → device/htlc-refund (the signed refund transaction)

When the gateway has put a state holding the payment's HTLC on chain (its exit) and not claimed it: the device spends
the HTLC output through the refund leaf, built from its own record (it built every state, so it knows the state's txid
and the HTLC's place), for the payment in flight or any failed payment (--payment-hash; default: the one in flight; a hash failed and paid
again sits in several states: name the one on chain with --state-txid).
The transaction has nLockTime = the HTLC's expiry height: Bitcoin Core accepts it once the tip reaches that height.
Refuses (exit 4) before then, saying how many blocks remain, unless --any-time (E_NOT_FINAL). --broadcast sends it to
the node (E_BROADCAST_REJECTED, exit 4, when refused, e.g. the state is not on chain or the gateway claimed first).
Writes nothing. Everything else of the channel comes back by the device's change output, or by refund-credit after
the channel's expiry when no state was broadcast.`;
  static override examples = [
    {
      description: 'A toll in flight, the gateway gone after putting its state on chain: the device takes the HTLC back once the tip reaches its expiry (1144)',
      command: `${tollExample(2)} > /dev/null && <%= config.bin %> device refund-htlc --fee-rate 2 --tip-height 1144 --key-env USER_KEY --state-dir $D/user`,
    },
  ];
  static override flags = {
    'payment-hash': Flags.string({ description: 'the payment whose HTLC to refund (default: the one in flight)', helpValue: 'HEX' }),
    'state-txid': Flags.string({ description: 'the state on chain holding the HTLC, when the payment hash was in several states (a failed payment paid again)', helpValue: 'TXID' }),
    'fee-rate': Flags.string({ description: 'fee rate of the refund, sat/vB', required: true, helpValue: 'SAT/VB' }),
    to: Flags.string({ description: 'where the refund pays (default: the contract\'s refund address)', helpValue: 'ADDRESS' }),
    'any-time': Flags.boolean({ description: 'print the refund even before it is final (rejected as non-final until then)' }),
    broadcast: Flags.boolean({ description: 'send it to the node (needs --rpc-url) and print its answer under "broadcast"' }),
    'dry-run': Flags.boolean({ description: 'build and print only (the default without --broadcast)', exclusive: ['broadcast'] }),
    ...keyFlags,
    ...stateFlags,
    ...contractFlag,
    ...feeGuardFlags,
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const network = this.network();
    const { deviceRefund, refundable } = await import('../../lib/device/onchain.ts');
    const { termsFromJson } = await import('../../lib/credit/codec.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const { isFinal } = await import('../../lib/chain/finality.ts');
    const feeRate = await this.guardedRate(f['fee-rate']);
    const feeLimits = await this.feeLimits();
    const { ctx, book } = await this.userSession(network);
    const id = await this.pickContract(book, ['open', 'closing', 'rolling-over']);
    const rec = await book.get(id);
    if (!rec) throw new RefusedError('E_UNKNOWN_CONTRACT', `no contract ${id} in this state directory`);
    const d = rec.device;
    const candidates = d ? refundable(d) : [];
    if (!d || candidates.length === 0) throw new RefusedError('E_NO_PAYMENT_IN_FLIGHT', `contract ${id} has no payment in flight or failed: no HTLC for the device to refund (refund-credit takes the whole channel after its expiry)`);
    const hash = f['payment-hash']?.toLowerCase() ?? d.in_flight?.payment_hash;
    if (!hash) throw new UsageError('E_USAGE', `no payment is in flight: name a failed one with --payment-hash (${candidates.map((p) => p.payment_hash).join(', ')})`);
    const to = f.to ? decodeAddress(f.to, network, '--to') : termsFromJson(d.contract, d.network).refundScript;
    const spend = deviceRefund(d, ctx.user, hash, to, feeRate, feeLimits, f['state-txid']);
    const tip = await ctx.chain.tip();
    // The HTLC's expiry is a block height (checked when the payment was made): median-time-past plays no part.
    const final = isFinal({ lockTime: spend.lockTime, inputs: [{ sequence: spend.sequence }] }, tip.height, 0);
    if (!final && !f['any-time']) {
      throw new RefusedError('E_NOT_FINAL', `the HTLC refund's nLockTime ${spend.lockTime} is final once the tip reaches ${spend.lockTime} (now ${tip.height}, ${spend.lockTime - tip.height} blocks to go); rerun then, or pass --any-time`);
    }
    const input = spend.tx.getInput(0);
    const { toHex } = await import('../../lib/bytes.ts');
    let message: Record<string, unknown> = {
      type: 'device/htlc-refund', version: 1, network, contract_id: id, payment_hash: hash,
      outpoint: { txid: toHex(input.txid!), vout: input.index! }, amount_sat: Number(input.witnessUtxo!.amount),
      txid: spend.txid, hex: spend.hex, fee_sat: Number(spend.feeSat), vsize: spend.vsize, final, final_from_height: spend.lockTime + 1,
    };
    if (f.broadcast) {
      if (ctx.chain.kind !== 'rpc') throw new UsageError('E_CHAIN_OFFLINE', '--broadcast needs a node: pass --rpc-url (or drop --broadcast and send the printed hex with bitcoin-cli sendrawtransaction)');
      message = { ...message, broadcast: { txid: await this.broadcastTx(ctx.chain, spend.tx.extract(), 'the HTLC refund', 'the device\'s record') } };
    }
    return { message };
  }
}
