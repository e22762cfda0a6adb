/**
 * The rollover's steps, run by `credit rollover` (two round trips: the user holds the next
 * contract's verified refund before it signs anything that moves its funds). The protocol is
 * src/lib/credit/mint.ts and user-rollover.ts; this is who reads what and which record it writes.
 *
 *   role  message in                 step                written                          message out
 *   user  (--expiry, --top-up PSBT)  rolloverRequest     the contract's pending rollover  credit/rollover-request
 *   mint  credit/rollover-request    proposeRollover     mint nonce                       credit/rollover-refund
 *   user  credit/rollover-refund     rolloverSign        new refund, user nonce           credit/rollover-sign
 *   mint  credit/rollover-sign       acceptRollover      old contract frozen, new one     credit/rollover-accept
 *   user  credit/rollover-accept     applyRolloverAccept both contracts                   credit/rolled-over
 */
import type { Command } from '@oclif/core';
import { RefusedError } from '../../lib/errors.ts';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import type { CreditTermsJson } from '../../lib/credit/codec.ts';
import { CreditCommand } from './command.ts';
import { MintPeer, absorbingElsewhere } from './peer.ts';

type RolloverFlags = { role: string; expiry?: string; 'fee-rate'?: string; 'top-up'?: string; peer?: string };

export abstract class RolloverSteps<T extends typeof Command> extends CreditCommand<T> {
  /**
   * One step of the table above, picked by --role and the message read (--expiry starts).
   * With --peer (./peer.ts) the user's start runs both rounds against the mint service: each
   * message the user prints is sent, and the answer applied by the user's step for it.
   */
  protected async rolloverStep(): Promise<CommandResult> {
    const f = this.flags as unknown as RolloverFlags;
    const { decodeMessage } = await import('../../lib/message.ts');
    const schemas = await import('../../lib/credit/schemas.ts');
    const user = await import('../../lib/credit/user-rollover.ts');
    if (f.role === 'user' && f.expiry !== undefined) {
      const network = this.network();
      const peer = await MintPeer.from(f, network, this.term);
      const { ctx, book } = await this.userSession(network);
      const id = await this.pickContract(book, ['open']);
      const record = await book.get(id);
      if (!record) throw new RefusedError('E_UNKNOWN_CONTRACT', `no contract ${id} in ${book.dir}`);
      const expiryHeight = await this.expiryHeight(f.expiry, ctx.chain, record?.expiry_window);
      const feeRate = f['fee-rate'] !== undefined ? await this.guardedRate(f['fee-rate']) : record.contract.fee_rate;
      const topUp = f['top-up'] ? await this.topUp(f['top-up'], record.contract) : undefined;
      // Round 1, or — run again once round 2 was sent — the credit/rollover-sign to resend.
      const rounds = async () => {
        let message = await book.exclusive(() => user.rolloverRequest(ctx, id, { expiryHeight, feeRate, topUp }));
        if (!peer) return message;
        if (message.type === 'credit/rollover-request') {
          const refund = await peer.send(message);
          message = await book.exclusive(() => user.rolloverSign(ctx, decodeMessage(schemas.RolloverRefundSchema, refund.value)));
        }
        const accept = await peer.send(message);
        return book.exclusive(() => user.applyRolloverAccept(ctx, decodeMessage(schemas.RolloverAcceptSchema, accept.value)));
      };
      if (!peer) return { message: await rounds() };
      // The mint process that issued the contract's nonce gone: abandoned, and the rollover once more (./peer.ts).
      return { message: await absorbingElsewhere(peer, ctx, book, id, 'rollover', this.term, rounds) };
    }
    if (f.peer !== undefined) throw MintPeer.refuse('rollover --role user --expiry …');
    const { type, network, value } = await this.readMessage('a credit/rollover-* message (or --expiry to start)');
    if (f.role === 'mint') {
      const mint = await import('../../lib/credit/mint.ts');
      if (type === 'credit/rollover-sign') {
        const sign = decodeMessage(schemas.RolloverSignSchema, value);
        return { message: await this.withMint(network, (ctx) => mint.acceptRollover(ctx, sign)) };
      }
      const req = decodeMessage(schemas.RolloverRequestSchema, value);
      return { message: await this.withMint(network, (ctx) => mint.proposeRollover(ctx, req)) };
    }
    const { ctx, book } = await this.userSession(network);
    if (type === 'credit/rollover-refund') {
      const refund = decodeMessage(schemas.RolloverRefundSchema, value);
      return { message: await book.exclusive(() => user.rolloverSign(ctx, refund)) };
    }
    const accept = decodeMessage(schemas.RolloverAcceptSchema, value);
    return { message: await book.exclusive(() => user.applyRolloverAccept(ctx, accept)) };
  }

  /** The wallet's funded PSBT, used as is: its coins join, its change stays (see topUpFromPsbt). */
  private async topUp(path: string, terms: CreditTermsJson) {
    const { topUpFromPsbt } = await import('../../lib/credit/transactions.ts');
    const { termsFromJson } = await import('../../lib/credit/codec.ts');
    return topUpFromPsbt(await this.readPsbtAt(path, '--top-up'), termsFromJson(terms, this.network()).script);
  }
}
