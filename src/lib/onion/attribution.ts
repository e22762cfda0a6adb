/**
 * Attribution data (BOLT 4 "Returning Errors", `option_attribution_data`): 920 bytes that
 * travel back beside an error packet (or a fulfilled HTLC), so the sender learns each hop's
 * hold time and which hop garbled the error, even when the error packet itself does not
 * verify. Pure: no I/O.
 *
 * Layout, MAX_HOPS = 20:
 *
 *   htlc_hold_times  20 × u32 (big-endian, units of 100 ms), this node's first
 *   truncated_hmacs  210 × 4 bytes: 20 from this node, 19 from the next one downstream, …, 1
 *
 * HMAC (x, p) — the p-th of node x's block, x counted from the node holding the data (0 = it)
 * — is node x's um-keyed HMAC-SHA256, truncated to 4 bytes, for the case where x is
 * 19 − x − p hops from the erring node (or the payee). It covers, concatenated:
 *   - the message: the error packet as node x passes it to its own ammag layer (empty for a
 *     fulfilled HTLC);
 *   - the first y hold times, y = 20 − p: node x's and the y − 1 after it;
 *   - the y − 1 downstream HMACs that match that assumption: HMAC (x+1+j, p) for j < y − 1 —
 *     in the downstream node's own numbering, its block entry p.
 * A node shifts what it received by one place (its hold times right, dropping the last; each
 * downstream block loses its first HMAC, which assumed one hop more than the route can hold),
 * puts its own hold time and 20 HMACs in front, and XORs the 920 bytes with its `ammagext`
 * stream. The sender removes one layer per hop, checks that hop's HMACs for the positions
 * the rest of the route can occupy, and reads its hold time.
 */
import { RefusedError } from '../errors.ts';
import { chacha20Xor, generateKey, hmacEquals, hmacSha256 } from './crypto.ts';
import { wrapError } from './error.ts';

export const ATTRIBUTION_MAX_HOPS = 20;
const HOLD_TIME_LEN = 4;
const HMAC_LEN = 4;
const HOLD_TIMES_LEN = ATTRIBUTION_MAX_HOPS * HOLD_TIME_LEN; // 80
const HMAC_COUNT = (ATTRIBUTION_MAX_HOPS * (ATTRIBUTION_MAX_HOPS + 1)) / 2; // 210
export const ATTRIBUTION_LEN = HOLD_TIMES_LEN + HMAC_COUNT * HMAC_LEN; // 920

/** Largest hold time a u32 carries (units of 100 ms). */
export const MAX_HOLD_TIME = 0xffffffff;

/** Byte offset of HMAC (x, p): block x holds 20 − x HMACs, blocks in order. */
function hmacAt(x: number, p: number): number {
  return HOLD_TIMES_LEN + (ATTRIBUTION_MAX_HOPS * x - (x * (x - 1)) / 2 + p) * HMAC_LEN;
}

/**
 * Node 0's HMACs for positions `from`..19 of `data` (the plaintext layout above, node 0's
 * hold time and the shifted downstream blocks already in place).
 */
function hmacsOf(um: Uint8Array, message: Uint8Array, data: Uint8Array, from: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let p = from; p < ATTRIBUTION_MAX_HOPS; p++) {
    const y = ATTRIBUTION_MAX_HOPS - p;
    const parts = [message, data.subarray(0, y * HOLD_TIME_LEN)];
    for (let j = 0; j < y - 1; j++) parts.push(data.subarray(hmacAt(1 + j, p), hmacAt(1 + j, p) + HMAC_LEN));
    out.push(hmacSha256(um, ...parts).subarray(0, HMAC_LEN));
  }
  return out;
}

function ammagext(sharedSecret: Uint8Array, data: Uint8Array): Uint8Array {
  return chacha20Xor(generateKey('ammagext', sharedSecret), data);
}

/**
 * This node's layer: its hold time and HMACs in front of `downstream` (the attribution data
 * it received, as received; none for the erring node or the payee), XORed with its ammagext
 * stream. `message` is the error packet this node passes to its ammag layer, or empty for a
 * fulfilled HTLC.
 */
export function addAttribution(sharedSecret: Uint8Array, message: Uint8Array, holdTime: number, downstream?: Uint8Array): Uint8Array {
  if (!Number.isInteger(holdTime) || holdTime < 0 || holdTime > MAX_HOLD_TIME) {
    throw new RefusedError('E_ONION_HOLD_TIME', `a hold time is a whole number of 100 ms units, 0..${MAX_HOLD_TIME}`);
  }
  if (downstream !== undefined && downstream.length !== ATTRIBUTION_LEN) {
    throw new RefusedError('E_ONION_ATTRIBUTION_LENGTH', `attribution data is ${ATTRIBUTION_LEN} bytes, not ${downstream.length}`);
  }
  const prev = downstream ?? new Uint8Array(ATTRIBUTION_LEN);
  const data = new Uint8Array(ATTRIBUTION_LEN);
  new DataView(data.buffer).setUint32(0, holdTime);
  data.set(prev.subarray(0, HOLD_TIMES_LEN - HOLD_TIME_LEN), HOLD_TIME_LEN);
  // Downstream block x (20 − x HMACs) becomes block x + 1 without its first HMAC; the last block drops out.
  for (let x = 0; x < ATTRIBUTION_MAX_HOPS - 1; x++) {
    data.set(prev.subarray(hmacAt(x, 1), hmacAt(x, 0) + (ATTRIBUTION_MAX_HOPS - x) * HMAC_LEN), hmacAt(x + 1, 0));
  }
  hmacsOf(generateKey('um', sharedSecret), message, data, 0).forEach((h, p) => data.set(h, hmacAt(0, p)));
  return ammagext(sharedSecret, data);
}

export type HopAttribution = { readonly hop: number; readonly holdTime: number };

export type AttributionResult = {
  /** Hold times of the hops whose HMACs verified, in route order. */
  readonly holdTimes: readonly HopAttribution[];
  /** The first hop whose HMACs do not verify (it, or its link to the next hop, altered the data); undefined when all did. */
  readonly failedAt: number | undefined;
};

/**
 * The sender's side, for the first `sharedSecrets.length` hops of the route (to the erring
 * node, or to the payee for a fulfilled HTLC). With `errorPacket` (as received), each hop's
 * message is that packet with the ammag layers of the hops up to it removed; without, a
 * fulfilled HTLC's empty message.
 */
export function readAttribution(sharedSecrets: readonly Uint8Array[], attribution: Uint8Array, errorPacket?: Uint8Array): AttributionResult {
  if (attribution.length !== ATTRIBUTION_LEN) {
    throw new RefusedError('E_ONION_ATTRIBUTION_LENGTH', `attribution data is ${ATTRIBUTION_LEN} bytes, not ${attribution.length}`);
  }
  const hops = Math.min(sharedSecrets.length, ATTRIBUTION_MAX_HOPS);
  const holdTimes: HopAttribution[] = [];
  let layer = attribution;
  let message = errorPacket ?? new Uint8Array(0);
  for (let k = 0; k < hops; k++) {
    if (errorPacket) message = wrapError(sharedSecrets[k]!, message);
    const data = ammagext(sharedSecrets[k]!, layer);
    const from = ATTRIBUTION_MAX_HOPS - (hops - k); // the positions hops k..end can occupy
    const expected = hmacsOf(generateKey('um', sharedSecrets[k]!), message, data, from);
    const ok = expected.every((h, i) => hmacEquals(h, data.subarray(hmacAt(0, from + i), hmacAt(0, from + i) + HMAC_LEN)));
    if (!ok) return { holdTimes, failedAt: k };
    holdTimes.push({ hop: k, holdTime: new DataView(data.buffer, data.byteOffset).getUint32(0) });
    layer = unshift(data);
  }
  return { holdTimes, failedAt: undefined };
}

/** What the next hop downstream sent, as far as it can be known: the pruned HMACs and the last hold time come back as zeros. */
function unshift(data: Uint8Array): Uint8Array {
  const prev = new Uint8Array(ATTRIBUTION_LEN);
  prev.set(data.subarray(HOLD_TIME_LEN, HOLD_TIMES_LEN), 0);
  for (let x = 0; x < ATTRIBUTION_MAX_HOPS - 1; x++) {
    prev.set(data.subarray(hmacAt(x + 1, 0), hmacAt(x + 1, 0) + (ATTRIBUTION_MAX_HOPS - x - 1) * HMAC_LEN), hmacAt(x, 1));
  }
  return prev;
}
