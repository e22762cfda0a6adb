/**
 * The files of the single-use nonce store (nonce-store.ts): what an unused record and a
 * tombstone hold, how a damaged one is refused, the refusals a take words, and the
 * `<taker>` part of a taking/ name — who is taking, so a recovery never buries the file of
 * a take still running. Not here: the moves between unused/, taking/ and consumed/, which
 * make a nonce single-use (nonce-store.ts).
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../bytes.ts';
import { MalformedInputError, OffchainError, RefusedError, StateConflictError } from '../errors.ts';
import { currentProcess, processIsGone } from './process-identity.ts';

export interface NonceRecord {
  id: string;
  context: string;
  pubnonce: string;
  secnonce: string;
  counter: number;
  created: string;
}

export interface Tombstone {
  id: string;
  /** null when the consumed file was unreadable at recovery. */
  context: string | null;
  pubnonce: string | null;
  counter: number | null;
  created: string | null;
  consumed: string;
  recovered?: true;
}

export type Located =
  | { state: 'unused'; context: string }
  | { state: 'consumed'; context: string | null }
  | { state: 'unknown' };

/** BIP-327 pubnonce: two compressed points. */
export const PUBNONCE_LENGTH = 66;
const MAX_CONTEXT_LENGTH = 1024;

/** Identifies this copy of the module in this process; see `takerIsGone`. */
const INSTANCE = randomBytes(4).toString('hex');
/** taking/ names of takes running in this module instance right now. */
export const inFlight = new Set<string>();

export function checkContext(context: string): void {
  if (typeof context !== 'string' || context.length === 0 || context.length > MAX_CONTEXT_LENGTH) {
    throw new OffchainError('E_NONCE_CONTEXT', `nonce context must be a non-empty string of at most ${MAX_CONTEXT_LENGTH} characters`);
  }
}

export function parseRecord(text: string, path: string): NonceRecord {
  let r: Partial<NonceRecord>;
  try {
    r = JSON.parse(text) as Partial<NonceRecord>;
  } catch {
    r = {};
  }
  const hex = (v: unknown): v is string => typeof v === 'string' && /^(?:[0-9a-f]{2})+$/.test(v);
  if (typeof r.id !== 'string' || typeof r.context !== 'string' || !hex(r.pubnonce) || !hex(r.secnonce) || !Number.isSafeInteger(r.counter) || typeof r.created !== 'string') {
    throw new MalformedInputError('E_STATE_CORRUPT', `nonce file ${path} is damaged; the nonce cannot be used`, { path });
  }
  return r as NonceRecord;
}

export function used(id: string): StateConflictError {
  return new StateConflictError('E_NONCE_USED', `nonce ${id} has already been used; request a fresh nonce`, { id });
}

export function misbound(id: string, issuedFor: string, requested: string): RefusedError {
  return new RefusedError('E_NONCE_MISBOUND', `nonce ${id} was issued for ${issuedFor}, not ${requested}; refusing to sign with it (it stays unused for its own context)`, {
    id,
    issuedFor,
    requested,
  });
}

/** `<host hash>.<pid>.<process start>.<module instance>.<random>`: who is taking. */
export function takerTag(): string {
  const me = currentProcess();
  return [hostTag(me.hostname), me.pid, me.procStart ?? 'x', INSTANCE, randomBytes(4).toString('hex')].join('.');
}

function hostTag(hostname: string): string {
  return toHex(sha256(utf8(hostname))).slice(0, 8);
}

/**
 * A taking/ file may be buried only once its taker cannot still be reading it: another
 * process that is gone, or a take in this very module instance that has ended (thrown).
 * Anything uncertain stays put (the nonce is consumed regardless; only the scrub waits).
 */
export function takerIsGone(name: string): boolean {
  const parts = name.slice(0, -'.json'.length).split('.');
  if (parts.length !== 6) return false;
  const [, host, pidText, start, instance] = parts as [string, string, string, string, string, string];
  const me = currentProcess();
  if (host !== hostTag(me.hostname)) return false;
  const pid = Number(pidText);
  const procStart = start === 'x' ? null : start;
  if (pid === me.pid && procStart === me.procStart) {
    return instance === INSTANCE && !inFlight.has(name);
  }
  return processIsGone({ hostname: me.hostname, pid, procStart, bootId: null });
}
