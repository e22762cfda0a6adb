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
 *
 * The dispatch is ./mint-steps.ts, the group commit ./mint-batch.ts (shared with `serve mint`).
 */
import type { Command } from '@oclif/core';
import { UsageError } from '../../lib/errors.ts';
import type { MintContext, MintContractRecord } from '../../lib/credit/ports.ts';
import type { MintStorePort } from '../../lib/store/mint-store-port.ts';
import type { Network } from '../../lib/network.ts';
import { WatchSteps } from '../watch/command.ts';
import type { MintBatch } from './mint-batch.ts';

type StreamFlags = { role: string; stream?: boolean; 'nonce-epoch'?: string };

/**
 * --nonce-epoch, kept hidden for the scripts that name it: `process` is what every PostgreSQL
 * mint process does now (a no-op); `host` — a key shared by a host's processes under
 * --state-dir — is gone, refused saying so (docs/postgres.md, "Nonces live in processes").
 */
export function retiredNonceEpoch(value: string | undefined): void {
  if (value === 'host') {
    throw new UsageError('E_USAGE', '--nonce-epoch host is retired: every PostgreSQL mint process now seals the nonces it issues under its own key (docs/postgres.md, "Nonces live in processes"); drop the flag');
  }
}

// ExitSteps: `serve mint` answers POST /v1/operator/exit with `credit exit`'s step (./exit.ts).
export abstract class MintStream<T extends typeof Command> extends WatchSteps<T> {
  /** --nonce-epoch: retired (every PostgreSQL mint process seals its nonces under its own key). */
  protected async checkNonceEpoch(): Promise<void> {
    retiredNonceEpoch((this.flags as StreamFlags)['nonce-epoch']);
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
    const { describeError } = await import('../../lib/cli/describe-error.ts');
    const { setBasePointWindow } = await import('../../lib/curve.ts');
    setBasePointWindow(8);
    const backend = await this.useFastestBackend();
    this.term.info(`offchain: mint streaming on the ${backend} secp256k1 backend`);
    const network = this.network();
    await this.withMintStore(network, async (ctx, store) => {
      const batch = await this.mintBatch(network, ctx, store, 'stream');
      const meter = this.term.meter('requests');
      const lines = this.inputLines()[Symbol.asyncIterator]();
      // Answers are released by the batcher in the order the requests came, after their commit.
      // Only those not yet written are held (a stream of millions of lines keeps no promise per
      // line); a failed one stays, and the Promise.all below rejects with it as before.
      const written = new Set<Promise<void>>();
      const track = (p: Promise<void>) => {
        written.add(p);
        void p.then(() => written.delete(p));
      };
      // A failed commit while the input is idle ends the stream: stop reading (an open standard
      // input would keep the process alive), and the read below ends.
      batch.ended.catch(() => process.stdin.destroy());
      try {
        for (;;) {
          const r = await lines.next();
          if (r.done) break;
          const item = r.value;
          const { line } = item;
          if ('error' in item) {
            track(batch.refuse(item.error).then(undefined, (e) => this.streamRefusal(batch, network, line, e, describeError)));
          } else {
            // Opens, abandons, closes and rollovers too: with a PostgreSQL store a nonce is usable
            // only by the process that issued it, so a contract's whole life goes through one stream.
            const { answer, served } = batch.enqueue(item.value, undefined, `line ${line}`);
            track(answer.then((v) => this.emitLine(v), (e) => this.streamRefusal(batch, network, line, e, describeError)));
            await served;
          }
          meter.tick();
          if (batch.failure !== undefined) break;
        }
        await batch.close();
      } catch (e) {
        // The stream ends here: an open standard input would keep the process alive.
        process.stdin.destroy();
        throw batch.failure ?? e;
      }
      await Promise.all(written);
      meter.done();
    });
  }

  /** A refused line as its credit/error line; nothing when the batcher ended (the stream fails instead). */
  private streamRefusal(batch: { failure: unknown }, network: string, line: number, e: unknown, describe: typeof import('../../lib/cli/describe-error.ts').describeError): void {
    if (batch.failure !== undefined) return;
    const { code, message, exitCode } = describe(e);
    this.emitLine({ type: 'credit/error', version: 1, network, line, code, exit_code: exitCode, message });
  }

  /**
   * The mint's steps behind its group commit (./mint-batch.ts), on an open store: the stream
   * and the service (`serve mint`) both. Checks first what would fail every request (no chain
   * source, no ecash seed), so a configuration error stops the process at its start.
   */
  protected async mintBatch(network: Network, ctx: MintContext, store: MintStorePort<MintContractRecord>, what: string): Promise<MintBatch> {
    return mintBatchOn(this.term, network, ctx, store, what);
  }
}

/** MintStream's mintBatch for a command that is no MintStream (`serve gateway`, a credit mint on device channels). */
export async function mintBatchOn(term: { warn(text: string): void }, network: Network, ctx: MintContext, store: MintStorePort<MintContractRecord>, what: string): Promise<MintBatch> {
  const { Outages, reconnectWindowMs } = await import('../../lib/store/outages.ts');
  const { BATCH, MintBatch, STREAM_BATCH } = await import('./mint-batch.ts');
  const { mintSteps } = await import('./mint-steps.ts');
  const windowMs = reconnectWindowMs();
  const outages = new Outages(store, windowMs, (retired, why) => term.warn(
    `the store ${store.dir} broke under this ${what} (${(why as { code?: string }).code ?? why.message.split('\n')[0]}: the request in flight says why): it wiped its nonce key (epoch ${retired.slice(0, 8)}…), drew a fresh one and goes on; users holding a nonce of the old one are refused E_NONCE_ELSEWHERE once and recover with "credit abandon"`,
  ));
  // A second service or stream on one SQLite directory is refused at its start: each keeps its batch and nonces in memory.
  store.holdAlone?.(what === 'stream' ? 'sign-update --stream' : 'serve');
  // A configuration error (no chain source, no ecash seed) stops the process at its start, not per request.
  await ctx.chain.tip();
  if (ctx.policy.ecash && !ctx.ecash) throw new UsageError('E_NO_ECASH_SEED', 'this mint issues ecash: pass its seed with --ecash-seed-env NAME or --ecash-seed-file FILE');
  // A stream commits up to STREAM_BATCH requests at once; a service's answers wait for at most BATCH.
  return new MintBatch(ctx, store, outages, await mintSteps(network), what === 'stream' ? STREAM_BATCH : BATCH);
}
