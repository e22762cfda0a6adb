/**
 * The device's unilateral path for one payment (`device refund-htlc`): the HTLC output of a
 * state the gateway put on chain, spent back through the refund leaf once its expiry height is
 * final (src/lib/device/onchain.ts deviceRefund), optionally sent to the node. Writes nothing.
 */
import type { Command } from '@oclif/core';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import { DeviceCommand } from './command.ts';

/** `device refund-htlc`'s flags, or a watcher's request in their place (`contract`: the one whose HTLC, as --contract). */
export type HtlcRefundRequest = { 'payment-hash'?: string; 'state-txid'?: string; 'fee-rate': string; to?: string; 'any-time'?: boolean; broadcast?: boolean; contract?: string };

export abstract class HtlcRefundSteps<T extends typeof Command> extends DeviceCommand<T> {
  /**
   * device/htlc-refund: the signed refund of the payment in flight, or of a failed one
   * (--payment-hash). `given`: a watcher's request in place of this command's flags (the fee
   * guard's limits stay the command's).
   */
  protected async htlcRefund(given?: HtlcRefundRequest): Promise<Record<string, unknown>> {
    const f = given ?? this.flags as unknown as HtlcRefundRequest;
    const network = this.network();
    const { deviceRefund, refundable } = await import('../../lib/device/onchain.ts');
    const { termsFromJson } = await import('../../lib/credit/codec.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const { isFinal } = await import('../../lib/chain/finality.ts');
    const feeRate = await this.guardedRate(f['fee-rate']);
    const feeLimits = await this.feeLimits();
    const { ctx, book } = await this.userSession(network);
    const id = given?.contract ?? await this.pickContract(book, ['open', 'closing', 'rolling-over']);
    const rec = await book.get(id);
    if (!rec) throw new RefusedError('E_UNKNOWN_CONTRACT', `no contract ${id} in this state directory`);
    const d = rec.device;
    const candidates = d ? refundable(d) : [];
    if (!d || candidates.length === 0) throw new RefusedError('E_NO_PAYMENT_IN_FLIGHT', `contract ${id} has no payment in flight or failed: no HTLC for the device to refund (refund-credit takes the whole channel after its expiry)`);
    const hash = f['payment-hash']?.toLowerCase() ?? d.in_flight?.payment_hash;
    if (!hash) throw new UsageError('E_USAGE', `no payment is in flight: name a failed one with --payment-hash (${candidates.map((p) => p.payment_hash).join(', ')})`);
    const to = f.to ? decodeAddress(f.to, network, '--to') : termsFromJson(d.contract, d.network).refundScript;
    const { toHex } = await import('../../lib/bytes.ts');
    // Signed by any other key, the refund would only be refused by the node: said here, before anything is built.
    if (toHex(ctx.user.publicKey) !== d.contract.user_pubkey) throw new RefusedError('E_WRONG_KEY', `this key is not the device's key of contract ${id} (${d.contract.user_pubkey}): pass the device's --key-file/--key-env`);
    const spend = deviceRefund(d, ctx.user, hash, to, feeRate, feeLimits, f['state-txid']);
    const tip = await ctx.chain.tip();
    // The HTLC's expiry is a block height (checked when the payment was made): median-time-past plays no part.
    const final = isFinal({ lockTime: spend.lockTime, inputs: [{ sequence: spend.sequence }] }, tip.height, 0);
    if (!final && !f['any-time']) {
      throw new RefusedError('E_NOT_FINAL', `the HTLC refund's nLockTime ${spend.lockTime} is final once the tip reaches ${spend.lockTime} (now ${tip.height}, ${spend.lockTime - tip.height} blocks to go); rerun then, or pass --any-time`);
    }
    const input = spend.tx.getInput(0);
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
