/**
 * The credit mint's streaming mode (`credit sign-update --role mint --stream`): one process
 * serves JSON Lines, each request answered by the mint's step for its message type, as
 * one savepoint (SQLite) or one transaction (PostgreSQL), the answers written only once
 * their batch is committed.
 *
 *   message in               step (src/lib/credit/)   message out
 *   credit/open-request      acceptOpen               credit/open-accept
 *   credit/abandon           acceptAbandon            credit/abandoned
 *   credit/close-request     acceptClose              credit/closed
 *   credit/rollover-request  proposeRollover          credit/rollover-refund
 *   credit/rollover-sign     acceptRollover           credit/rollover-accept
 *   anything else            acceptUpdate             credit/receipt
 *   (refused)                —                        credit/error (code, exit_code, line)
 */
import type { Command } from '@oclif/core';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import { CreditCommand } from './command.ts';

type StreamFlags = { role: string; stream?: boolean; 'nonce-epoch'?: string };

export abstract class MintStream<T extends typeof Command> extends CreditCommand<T> {
  /** --nonce-epoch: only for the mint's --stream, and only on PostgreSQL. */
  protected async checkNonceEpoch(): Promise<void> {
    const f = this.flags as StreamFlags;
    if (f['nonce-epoch'] !== undefined) {
      if (f.role !== 'mint' || !f.stream) throw new UsageError('E_USAGE', '--nonce-epoch is for the mint\'s --stream (a one-shot mint command always uses its host\'s epoch)');
      const { storeTarget } = await import('../../lib/cli/store-flags.ts');
      if (!(await storeTarget(f as Record<string, unknown>))) throw new UsageError('E_USAGE', '--nonce-epoch needs a PostgreSQL store (--store or $OFFCHAIN_STORE_URL): SQLite keeps nonces under --state-dir already');
    }
  }

  /**
   * The mint's streaming mode: one process holds the mint's lock and serves requests as
   * they come. Group commit: requests are processed while more input is already
   * waiting (up to a batch limit); then the batch is made durable with one commit
   * and its receipts are written — never before. A failed commit ends the stream
   * (exit 1) without writing any receipt of that batch. On PostgreSQL the store's outages
   * (a restart, a failover, a lost connection) do not end it: each request is served
   * through them (store/outages.ts) — answered once, coded when refused.
   */
  protected async stream(): Promise<void> {
    this.longRunning = true;
    const { decodeMessage } = await import('../../lib/message.ts');
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const { AbandonSchema, CloseRequestSchema, OpenRequestSchema, RolloverRequestSchema, RolloverSignSchema, UpdateRequestSchema } = await import('../../lib/credit/schemas.ts');
    const { acceptClose, acceptOpen, acceptRollover, acceptUpdate, proposeRollover } = await import('../../lib/credit/mint.ts');
    const { acceptAbandon } = await import('../../lib/credit/abandon.ts');
    const { describeError } = await import('../../lib/cli/base-command.ts');
    const { setBasePointWindow } = await import('../../lib/curve.ts');
    setBasePointWindow(8);
    const backend = await this.useFastestBackend();
    this.term.info(`offchain: mint streaming on the ${backend} secp256k1 backend`);
    await this.ecashOnBackend();
    const network = this.network();
    const BATCH = 256;
    const { Outages, reconnectWindowMs } = await import('../../lib/store/outages.ts');
    const windowMs = reconnectWindowMs();
    await this.withMintStore(network, async (ctx, store) => {
      const outages = new Outages(store, windowMs, (retired, why) => this.term.warn(
        `the store ${store.dir} broke under this stream (${(why as { code?: string }).code ?? why.message.split('\n')[0]}: the request in flight says why): it wiped its nonce key (epoch ${retired.slice(0, 8)}…), drew a fresh one and goes on; users holding a nonce of the old one are refused E_NONCE_ELSEWHERE once and recover with "credit abandon"`,
      ));
      // A configuration error (no chain source, no ecash seed) stops the stream at its start, not per line.
      await ctx.chain.tip();
      if (ctx.policy.ecash && !ctx.ecash) throw new UsageError('E_NO_ECASH_SEED', 'this mint issues ecash: pass its seed with --ecash-seed-env NAME or --ecash-seed-file FILE');
      let out: unknown[] = [];
      const meter = this.term.meter('requests');
      const flush = async () => {
        // A PostgreSQL store broken and not yet renewed (unreachable past the window) has
        // nothing to commit — each request committed itself — and the next request renews it.
        try {
          if (!store.broken || outages.mustStop()) await store.commit();
        } catch (e) {
          process.stdin.destroy(); // the stream ends here: an open standard input would keep the process alive
          throw e;
        }
        for (const line of out) this.emitLine(line);
        out = [];
      };
      const lines = this.inputLines()[Symbol.asyncIterator]();
      const idle = Symbol('idle');
      let next = lines.next();
      for (;;) {
        // Commit as soon as the input has nothing more for us right now: nothing came in a
        // whole turn of the event loop, I/O polled once. (One setImmediate is not enough:
        // a file read that completed while the batch was served is only seen in the next
        // poll phase, and committing there put an fsync at every 64 KiB of a file.)
        let r = await Promise.race([next, new Promise<typeof idle>((res) => setImmediate(() => setImmediate(() => res(idle))))]);
        if (r === idle) {
          await flush();
          r = await next;
        }
        if (r.done) break;
        const item = r.value;
        const { line } = item;
        try {
          if ('error' in item) throw item.error;
          const { value } = item;
          const envelope = readEnvelope(value);
          if (envelope.network !== network) throw new RefusedError('E_NETWORK_MISMATCH', `line ${line} is for another network than ${network}`);
          // Opens, abandons, closes and rollovers too: with a PostgreSQL store a nonce is usable
          // only by the process that issued it, so a contract's whole life goes through one stream.
          const serve = envelope.type === 'credit/open-request' ? () => acceptOpen(ctx, decodeMessage(OpenRequestSchema, value))
            : envelope.type === 'credit/abandon' ? () => acceptAbandon(ctx, decodeMessage(AbandonSchema, value))
            : envelope.type === 'credit/close-request' ? () => acceptClose(ctx, decodeMessage(CloseRequestSchema, value))
            : envelope.type === 'credit/rollover-request' ? () => proposeRollover(ctx, decodeMessage(RolloverRequestSchema, value))
            : envelope.type === 'credit/rollover-sign' ? () => acceptRollover(ctx, decodeMessage(RolloverSignSchema, value))
            : () => acceptUpdate(ctx, decodeMessage(UpdateRequestSchema, value));
          // One request, one savepoint (SQLite) or one transaction (PostgreSQL): a refused request leaves nothing.
          out.push(await outages.step(serve));
        } catch (e) {
          // A store that failed in a way no fresh epoch leaves behind (SQLite's commit) ends
          // the stream: nothing more may be answered from this process.
          if (outages.mustStop()) {
            // Stop reading too: an open standard input would keep the process alive.
            process.stdin.destroy();
            throw e;
          }
          const { code, message, exitCode } = describeError(e);
          out.push({ type: 'credit/error', version: 1, network, line, code, exit_code: exitCode, message });
        }
        if (out.length >= BATCH) await flush();
        meter.tick();
        next = lines.next();
      }
      await flush();
      meter.done();
    }, { nonces: (this.flags as StreamFlags)['nonce-epoch'] === 'host' ? 'host' : 'process' });
  }
}
