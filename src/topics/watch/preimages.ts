/**
 * The preimages a channel party's watcher claims HTLCs with (./channel.ts, through the host's
 * htlcKey), each round's (docs/watch.md, "Preimages learnt while the watcher runs"):
 *
 *   --preimage-file FILE   read once, at the start (an unreadable one refuses the start)
 *   --preimage-dir DIR     read at every round: each regular file of DIR one preimage (64 hex
 *                          digits, 0600 like --preimage-file); a file that is not one is skipped and
 *                          said once (its name and why, never its content), the others still used
 *   learnt on chain        the peer's claim of an HTLC the party offered (its HTLC-success from its
 *                          commitment, its direct spend from the party's) carries the preimage in
 *                          its witness: kept in the store (`preimage-<payment hash>`, stored before
 *                          anything uses it), said once, and used from the next round on for every
 *                          other channel's HTLC of that payment_hash (the forwarding case: learnt
 *                          downstream, claimed upstream before its cltv_expiry)
 *
 * Every copy handed out is the caller's to zero; this module's own are zeroed when a round's are
 * replaced (src/lib/watch/preimages.ts: a preimage is used only for the payment_hash it opens).
 */
import { opendir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../lib/bytes.ts';
import { OffchainError, UsageError } from '../../lib/errors.ts';
import { MAX_PREIMAGE_FILE, preimageOfText, revealedPreimage } from '../../lib/watch/preimages.ts';
import type { Round } from './credit.ts';
import type { WatchedChannel } from './channel.ts';
import type { ChannelRecord } from '../../lib/bolt3/party.ts';
import type { LearntPreimage } from '../../lib/watch/preimages.ts';
import { MAX_WALK } from '../../lib/watch/chain-view.ts';
import { oneLine, readRegularFile } from './regular-file.ts';

type ClosingCommitment = typeof import('../../lib/bolt3/party.ts').closingCommitment;

const FLAG = '--preimage-dir';

/**
 * The most files of --preimage-dir one round reads (a file costs a few system calls, some hundreds of µs): a directory
 * flooded by whoever may write into it neither stalls the round (the penalties wait on it) nor fills memory.
 */
export const MAX_PREIMAGE_FILES = 10_000;

/** The rounds a channel's failed read of its HTLC outputs' spenders is retried over the same blocks (a node's hiccup passes in fewer). */
const RETRIES = 6;

/** The preimage in `path`: a private (0600) regular file of 64 hex digits; else why not (E_INPUT_FILE, E_SECRET_FILE_PERMISSIONS, E_BAD_PREIMAGE). */
async function readPreimageFile(path: string): Promise<Uint8Array> {
  const { requirePrivateFile } = await import('../../lib/cli/secret-file.ts');
  requirePrivateFile(path, FLAG); // a stat only: a FIFO or a device is refused here, never opened
  const bytes = await readRegularFile(path, { max: MAX_PREIMAGE_FILE, code: 'E_BAD_PREIMAGE', writer: 'a preimage is written elsewhere and renamed in' });
  try {
    return preimageOfText(bytes);
  } finally {
    bytes.fill(0);
  }
}

/**
 * The preimages of `dir`'s files, in name order: a file that is not one is skipped and said (`warn`, its
 * name and code, never its content), the others kept. A directory that cannot be read: said, none from it.
 * At most `max` files (the first the directory lists): more is said, the rest not read this round.
 */
export async function readPreimageDir(dir: string, warn: (message: string) => void, max = MAX_PREIMAGE_FILES): Promise<Uint8Array[]> {
  const names: string[] = [];
  try {
    for await (const entry of await opendir(dir)) {
      if (names.length === max) {
        warn(`${FLAG} ${dir} holds more than ${max} files: only ${max} read this round (remove the files whose HTLCs are settled)`);
        break;
      }
      names.push(entry.name);
    }
  } catch (e) {
    warn(`${FLAG} ${dir}: not a directory the watcher can read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): no preimage from it this round`);
    return [];
  }
  names.sort();
  const out: Uint8Array[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      out.push(await readPreimageFile(path));
    } catch (e) {
      const why = e instanceof OffchainError ? `${e.code}: ${e.message}` : (e as NodeJS.ErrnoException).code ?? 'unreadable';
      warn(oneLine(`${FLAG} ${path} skipped: not a preimage file (${why})`));
    }
  }
  return out;
}

/** --preimage-dir checked at the start: a directory the watcher can read (E_USAGE). */
export async function checkPreimageDir(dir: string): Promise<void> {
  try {
    await readdir(dir);
  } catch (e) {
    throw new UsageError('E_USAGE', `${FLAG} ${dir}: not a directory the watcher can read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A transaction's spender of `txid:vout`: the node's mempool, else — gone from the UTXO set — `blocks` (new to the view this round, or left unread by a round that failed). */
async function spenderOf(r: Round, txid: string, vout: number, blocks: readonly string[]): Promise<string | undefined> {
  const inMempool = await r.chain.mempoolSpender(txid, vout);
  if (inMempool !== undefined || !r.chain.blockSpender || (await r.chain.utxo(txid, vout)) !== null) return inMempool;
  for (const hash of blocks) {
    const found = await r.chain.blockSpender(hash, txid, vout);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Where a round's preimages come from: --preimage-file's, --preimage-dir's, those learnt on chain (module header). */
export class PreimageSource {
  /** This round's, from the directory and the store. */
  private current: Uint8Array[] = [];
  private readonly said = new Set<string>();
  /** The directory's lines said and still true at the last round: a file is said once while it stays, and forgotten when it goes. */
  private dirSaid = new Set<string>();
  /** HTLC outputs whose spender was read (outpoint → its txid): not read again while the node has it mined (a reorganisation that un-mines it reads again). */
  private readonly read = new Map<string, string>();
  /** Per channel, the blocks a round could not read it in (a call failed) and the rounds that failed: read at the next, though its view has moved on — RETRIES times. */
  private readonly unread = new Map<string, { blocks: string[]; failed: number }>();
  /** The channels done before this round's turns (`watch.done`: every output taken, FINAL_DEPTH deep): no claim of theirs left to read. */
  private settled = new Set<string>();

  /** `given`: --preimage-file's (this source zeroes them in `close`); `say`: one line on the watcher's log. */
  constructor(private readonly given: Uint8Array[], private readonly o: { dir?: string; say: (line: string) => void }) {}

  private sayOnce(line: string): void {
    if (this.said.has(line)) return;
    this.said.add(line);
    this.o.say(line);
  }

  /**
   * The round's preimages: the directory read again, the learnt ones read from the store (the last round's zeroed);
   * and, before the round's turns, which of `channels` were done already (`learn` skips those: a restart would
   * otherwise read each new block once per HTLC output of every channel ever closed).
   */
  async refresh(r: Round, channels: readonly WatchedChannel[] = []): Promise<void> {
    const settled = new Set<string>();
    for (const { id } of r.offline ? [] : channels) {
      const w = await r.records.channel(id);
      if (w.done !== undefined && w.done.spender === w.spender) settled.add(id);
    }
    this.settled = settled;
    const now = new Set<string>();
    const next = this.o.dir === undefined ? [] : await readPreimageDir(this.o.dir, (m) => {
      if (!this.dirSaid.has(m) && !now.has(m)) this.o.say(m);
      now.add(m);
    });
    this.dirSaid = now;
    const ignored = (id: string) => this.sayOnce(`the record ${oneLine(id)} is not a learnt preimage of its payment hash (damaged, or written by hand): never used`);
    for (const p of (await r.records.preimagesLearnt(ignored)).values()) next.push(fromHex(p.preimage));
    for (const p of this.current) p.fill(0);
    this.current = next;
  }

  /** Copies of every preimage held this round (the caller zeroes them). */
  copies(): Uint8Array[] {
    return [...this.given, ...this.current].map((p) => p.slice());
  }

  /**
   * The preimages the peer revealed this round: for each channel closed by a commitment the record rebuilds, each
   * output of an HTLC the party offered, its spender (mempool, or a block new this round) read for a witness item
   * opening its payment_hash — stored (unless a dry run), then said.
   */
  async learn(r: Round, channels: readonly WatchedChannel[]): Promise<void> {
    if (r.offline) return;
    const { closingCommitment } = await import('../../lib/bolt3/party.ts');
    const known = await r.records.preimagesLearnt();
    for (const { id, record: rec } of channels) {
      if (!rec || (this.settled.has(id) && !this.unread.has(id))) continue;
      const before = this.unread.get(id);
      const blocks = [...new Set([...(before?.blocks ?? []), ...(r.connected ?? [])])].slice(-MAX_WALK);
      try {
        await this.learnFrom(r, id, rec, known, closingCommitment, blocks);
        this.unread.delete(id);
      } catch (e) {
        const failed = (before?.failed ?? 0) + 1;
        const why = `${e instanceof OffchainError ? e.code : 'E_INTERNAL'}: ${(e as Error).message}`;
        if (failed <= RETRIES) {
          this.unread.set(id, { blocks, failed });
          this.o.say(`channel ${id}: its HTLC outputs' spenders not read for preimages this round (${why}): read again at the next`);
        } else {
          // A failure that repeats (a block the node no longer has) would keep its blocks, and their cost, for ever.
          this.unread.delete(id);
          this.o.say(`channel ${id}: its HTLC outputs' spenders not read for preimages in ${failed} rounds (${why}): given up for the blocks before height ${r.tip + 1} — a preimage the peer revealed there is not learnt: give it with --preimage-dir`);
        }
      }
    }
  }

  /** One channel's HTLCs the party offered on its closing commitment, read for the preimages their spenders revealed. */
  private async learnFrom(r: Round, id: string, rec: ChannelRecord, known: Map<string, LearntPreimage>, closingCommitment: ClosingCommitment, blocks: readonly string[]): Promise<void> {
    const commitment = (await r.records.channel(id)).spender;
    const rebuilt = commitment === undefined ? undefined : closingCommitment(rec, commitment);
    if (!rebuilt) return;
    // The party's offered HTLC is an offered_htlc output of its own commitment, a received_htlc one of the peer's.
    const offered = rebuilt.own ? 'offered_htlc' : 'received_htlc';
    for (const [vout, o] of rebuilt.c.outputs.entries()) {
      if (o.kind !== offered || !o.htlc) continue;
      const hash = toHex(o.htlc.paymentHash);
      const outpoint = `${commitment}:${vout}`;
      if (known.has(hash)) continue;
      const before = this.read.get(outpoint);
      if (before !== undefined && ((await r.chain.txConfirmations(before)) ?? 0) > 0) continue;
      const spender = await spenderOf(r, commitment!, vout, blocks);
      if (spender === undefined) continue;
      const tx = Transaction.fromRaw(await r.chain.rawTransaction(spender), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
      let preimage: Uint8Array | undefined;
      for (let i = 0; i < tx.inputsLength && !preimage; i++) {
        const input = tx.getInput(i);
        if (toHex(input.txid!) === commitment && input.index === vout) preimage = revealedPreimage(input.finalScriptWitness ?? [], o.htlc.paymentHash);
      }
      this.read.set(outpoint, spender);
      if (!preimage) continue; // the party's own HTLC-timeout, or the peer's revocation path: nothing revealed
      const learnt = { preimage: toHex(preimage), txid: spender, channel: id, outpoint, tip: r.tip };
      preimage.fill(0);
      // Stored before anything uses it (the next round reads it from the store): a crash after this loses nothing.
      if (!r.dryRun) await r.records.setPreimageLearnt(hash, learnt);
      known.set(hash, learnt);
      this.sayOnce(`channel ${id}: the preimage of payment_hash ${hash} learnt from ${spender} (the peer's claim of ${learnt.outpoint})${r.dryRun ? ' — a dry run: not stored' : ': stored, used from the next round for every HTLC of that payment_hash (commitment list shows it)'}`);
    }
  }

  /** Every preimage this source holds, zeroed. */
  close(): void {
    for (const p of [...this.given, ...this.current]) p.fill(0);
    this.current = [];
  }
}
