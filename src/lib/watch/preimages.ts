/**
 * The payment preimages a channel party's watcher claims HTLCs with, beyond those given at its
 * start (--preimage-file): the files of --preimage-dir, read at every round, and those it learns
 * on chain — the peer claimed an HTLC the party offered, and its witness carries the preimage
 * (docs/watch.md, "Preimages learnt while the watcher runs"). Pure: bytes in, bytes out.
 *
 * INVARIANTS
 * - A preimage is used for an HTLC only if its SHA256 is that HTLC's payment_hash: a file's, a
 *   witness item's or a stored record's that does not match is never used (the claim code matches
 *   by hash too; this module keeps nothing else).
 * - A preimage file holds exactly 32 bytes as 64 hex digits (whitespace around it ignored); anything
 *   else is that file's error alone, and the error never holds a byte of its content.
 * - Learnt on chain: only a witness item of the transaction spending an output of an HTLC the party
 *   offered, whose SHA256 is that HTLC's payment_hash — public once in a mempool or a block.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, fromHex, isHex, toHex } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';

/** The most a preimage file may hold: 64 hex digits and some whitespace. */
export const MAX_PREIMAGE_FILE = 1024;

/** A preimage file's content as 32 bytes; else E_BAD_PREIMAGE saying what is wrong with it, never what it holds. */
export function preimageOfText(bytes: Uint8Array): Uint8Array {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).trim();
  } catch {
    throw new MalformedInputError('E_BAD_PREIMAGE', 'not text: a preimage file holds 64 hex digits');
  }
  if (text.length !== 64 || !isHex(text)) throw new MalformedInputError('E_BAD_PREIMAGE', `not 64 hex digits (${text.length} characters): a preimage file holds a 32-byte preimage as hex`);
  return fromHex(text, 'the preimage', 32);
}

/** The payment_hash a preimage opens (hex). */
export function paymentHashOf(preimage: Uint8Array): string {
  return toHex(sha256(preimage));
}

/** The item of a spending witness that opens `paymentHash` (a copy), if any: a preimage learnt on chain. */
export function revealedPreimage(witness: readonly Uint8Array[], paymentHash: Uint8Array): Uint8Array | undefined {
  const found = witness.find((item) => item.length === 32 && equalBytes(sha256(item), paymentHash));
  return found?.slice();
}

/** What a watcher keeps of a preimage it learnt on chain (record `preimage-<payment hash>`). */
export type LearntPreimage = { preimage: string; txid: string; channel: string; outpoint: string; tip: number };

const TXID = /^[0-9a-f]{64}$/;

/** A stored record under `paymentHash`, if it is one and its preimage opens that hash (a damaged or forged row is none). */
export function learntPreimageOf(paymentHash: string, v: unknown): LearntPreimage | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.preimage !== 'string' || !TXID.test(r.preimage) || paymentHashOf(fromHex(r.preimage)) !== paymentHash) return undefined;
  if (typeof r.txid !== 'string' || !TXID.test(r.txid) || typeof r.channel !== 'string' || typeof r.outpoint !== 'string' || !Number.isSafeInteger(r.tip)) return undefined;
  return { preimage: r.preimage, txid: r.txid, channel: r.channel, outpoint: r.outpoint, tip: r.tip as number };
}
