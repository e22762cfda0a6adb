/**
 * The device's unilateral path for one payment (`device refund-htlc`): the HTLC output of a
 * state the gateway put on chain, spent back through the refund leaf once its expiry height is
 * final (src/lib/device/onchain.ts deviceRefund), optionally sent to the node. Writes nothing.
 */
import type { Command } from '@oclif/core';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import { DeviceCommand } from './command.ts';

type RefundFlags = { 'payment-hash'?: string; 'state-txid'?: string; 'fee-rate': string; to?: string; 'any-time'?: boolean; broadcast?: boolean };

export abstract class HtlcRefundSteps<T extends typeof Command> extends DeviceCommand<T> {
  /** device/htlc-refund: the signed refund of the payment in flight, or of a failed one (--payment-hash). */
  protected async htlcRefund(): Promise<Record<string, unknown>> {
    const f = this.flags as unknown as RefundFlags;
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
    return message;
  }
}
