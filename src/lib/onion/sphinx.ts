/**
 * BOLT 4 Sphinx packets: construction for a route of hops with variable-length hop
 * payloads, and the processing of one layer by a hop. Pure (no I/O); the secp256k1
 * point multiplications go through the project's pluggable backend
 * (../musig/engine/backend.ts), the symmetric part through ./crypto.ts.
 *
 * Vocabulary as in BOLT 4: shared_secret = SHA256(compressed ECDH point);
 * blinding_factor = SHA256(ephemeral_pubkey || shared_secret); keys rho (payload
 * stream), mu (HMAC), pad (initial filling); filler (the tail that makes the last
 * HMAC verifiable); the packet is version (1) || public_key (33) || hop_payloads
 * (1300) || hmac (32) = 1366 bytes whatever the route length.
 */
import type { Secp256k1Backend } from '../musig/engine/backend.ts';
import { N, bytes32, int, isSecretKey32 } from '../musig/engine/scalar.ts';
import { sharedSecret, sharedSecretOf } from './ecdh.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { BigSizeError, decodeBigSize, encodeBigSize } from '../bigsize.ts';
import { Lru, keyOf } from '../lru.ts';
import { hash } from 'node:crypto';
import { chacha20XorInto, generateKey, hmacEquals, hmacSha256Framed } from './crypto.ts';

export const HOP_PAYLOADS_SIZE = 1300;
export const HMAC_SIZE = 32;
export const PACKET_SIZE = 1 + 33 + HOP_PAYLOADS_SIZE + HMAC_SIZE; // 1366
export const ONION_VERSION = 0;

export type Hop = {
  /** The hop's 33-byte compressed node id. */
  readonly pubkey: Uint8Array;
  /** The hop's payload WITHOUT its BigSize length prefix (usually a TLV stream). */
  readonly payload: Uint8Array;
};

export type BuiltOnion = {
  readonly packet: Uint8Array;
  /** The shared secret of every hop, in route order: the sender keeps these to unwrap errors. */
  readonly sharedSecrets: readonly Uint8Array[];
};

export type PeeledOnion = {
  /** The decrypted payload of this hop (without its length prefix). */
  readonly payload: Uint8Array;
  readonly sharedSecret: Uint8Array;
  /** True when the next HMAC is all zero: this node is the final recipient. */
  readonly final: boolean;
  /** The packet to forward (absent when final). */
  readonly nextPacket: Uint8Array | undefined;
};

/** E (33 bytes) || ss (32 bytes), the blinding factor's message; zeroed after each use. */
const BLINDING_MESSAGE = new Uint8Array(33 + 32);

/**
 * b = SHA256(E || ss) mod n, the blinding factor of the ephemeral key E (33 bytes) after the
 * hop with shared secret ss: one call into OpenSSL whose hex digest is the bigint's literal.
 */
function blindingFactor(E: Uint8Array, ss: Uint8Array): bigint {
  BLINDING_MESSAGE.set(E, 0);
  BLINDING_MESSAGE.set(ss, 33);
  const b = BigInt(`0x${hash('sha256', BLINDING_MESSAGE, 'hex')}`) % N;
  BLINDING_MESSAGE.fill(0);
  return b;
}

/** The framed hop payload: BigSize(length) || payload (the HMAC follows it in the packet). */
export function framedLength(payload: Uint8Array): number {
  return encodeBigSize(BigInt(payload.length)).length + payload.length + HMAC_SIZE;
}

/**
 * Node ids decoded through each backend, by their 33 bytes: a sender routes through the
 * same nodes again and again, and decoding one (a square root) costs ~6 µs. Public values.
 */
const nodeIds = new WeakMap<Secp256k1Backend<unknown>, Lru<unknown>>();

function nodeIdPoint<P>(ec: Secp256k1Backend<P>, bytes: Uint8Array): P | undefined {
  let cache = nodeIds.get(ec) as Lru<P> | undefined;
  if (!cache) nodeIds.set(ec, (cache = new Lru<P>(1024)) as Lru<unknown>);
  const key = keyOf([bytes]);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const P = ec.pointFromBytes(bytes);
  return P === undefined ? undefined : cache.set(key, P);
}

/**
 * Ephemeral keys and shared secrets along the route (BOLT 4 "Shared Secret" and
 * "Blinding Ephemeral Onion Keys"): e_0 = session_key; E_i = e_i·G;
 * ss_i = SHA256(e_i·P_i); b_i = SHA256(E_i || ss_i); e_{i+1} = e_i·b_i. The sender
 * blinds the scalar, so each hop costs one ECDH, and each E_i the packet or a blinding
 * factor needs (E_0 … E_{n−2}) one k·G.
 */
export function routeSecrets<P>(ec: Secp256k1Backend<P>, sessionKey: Uint8Array, pubkeys: readonly Uint8Array[]): { ephemeral0: Uint8Array; sharedSecrets: Uint8Array[] } {
  let e = int(sessionKey);
  if (e <= 0n || e >= N) throw new RefusedError('E_ONION_SESSION_KEY', 'session key is not a valid secp256k1 secret key');
  const E0 = ec.mulBase(e);
  if (E0 === null) throw new RefusedError('E_ONION_SESSION_KEY', 'session key is not a valid secp256k1 secret key');
  const ephemeral0 = ec.pointToBytes(E0);
  let E = ephemeral0;
  const sharedSecrets: Uint8Array[] = [];
  for (let i = 0; i < pubkeys.length; i++) {
    const P = nodeIdPoint(ec, pubkeys[i]!);
    if (P === undefined) throw new RefusedError('E_ONION_HOP_PUBKEY', `hop ${i}: node id is not a valid compressed secp256k1 point`);
    const ss = sharedSecretOf(ec, P, e); // e in [1, n): e·P is never infinity
    sharedSecrets.push(ss);
    if (i + 1 === pubkeys.length) break;
    e = (e * blindingFactor(E, ss)) % N;
    if (e === 0n) throw new RefusedError('E_ONION_SESSION_KEY', 'ephemeral key reached zero');
    if (i + 2 < pubkeys.length) E = ec.pointToBytes(ec.mulBase(e)!); // E_{n−1} blinds nothing: not computed
  }
  return { ephemeral0, sharedSecrets };
}

/** BOLT 4 generate_filler for the rho stream. */
export function generateFiller(sharedSecrets: readonly Uint8Array[], frameSizes: readonly number[]): Uint8Array {
  return fillerOf(sharedSecrets.map((ss) => generateKey('rho', ss)), frameSizes);
}

/**
 * The filler from the hops' rho keys: hop i (all but the last) XORs its stream bytes
 * [1300 − (frames before i), 1300 + frame_i) into the filler's first bytes — made here
 * from that stream position, so no stream is kept from the filler to the layers.
 */
function fillerOf(rhoKeys: readonly Uint8Array[], frameSizes: readonly number[]): Uint8Array {
  const n = rhoKeys.length;
  let fillerSize = 0;
  for (let i = 0; i < n - 1; i++) fillerSize += frameSizes[i]!;
  const filler = new Uint8Array(fillerSize);
  let used = 0;
  for (let i = 0; i < n - 1; i++) {
    const start = HOP_PAYLOADS_SIZE - used;
    used += frameSizes[i]!;
    chacha20XorInto(rhoKeys[i]!, filler, 0, used, start);
  }
  return filler;
}

/**
 * Build the onion packet for a route (1..20 hops; payloads must fit in 1300 bytes). The
 * layers are built in place from the last hop back, in a buffer that keeps 64 bytes in
 * front of hop_payloads for the HMAC's inner pad and the associated data after it, so
 * each layer's HMAC is one call into OpenSSL.
 */
export function buildOnion<P>(ec: Secp256k1Backend<P>, sessionKey: Uint8Array, hops: readonly Hop[], associatedData: Uint8Array): BuiltOnion {
  if (hops.length === 0) throw new RefusedError('E_ONION_EMPTY_ROUTE', 'route has no hops');
  const frames = hops.map((h) => framedLength(h.payload));
  const total = frames.reduce((a, b) => a + b, 0);
  if (total > HOP_PAYLOADS_SIZE)
    throw new RefusedError('E_ONION_ROUTE_TOO_LARGE', `hop payloads need ${total} bytes, more than the ${HOP_PAYLOADS_SIZE} an onion carries`);
  const { ephemeral0, sharedSecrets } = routeSecrets(ec, sessionKey, hops.map((h) => h.pubkey));
  const n = hops.length;
  const rho = sharedSecrets.map((ss) => generateKey('rho', ss));
  const filler = fillerOf(rho, frames);
  const framed = new Uint8Array(64 + HOP_PAYLOADS_SIZE + associatedData.length);
  framed.set(associatedData, 64 + HOP_PAYLOADS_SIZE);
  const mix = framed.subarray(64, 64 + HOP_PAYLOADS_SIZE);
  // The pad stream: of its 1300 bytes only the first 1300 − (all frames) outlive the last
  // hop's shift and filler.
  chacha20XorInto(generateKey('pad', sessionKey), mix, 0, HOP_PAYLOADS_SIZE - total);
  // Each layer: shift right by the frame, write BigSize(length) || payload || next HMAC in
  // front, XOR the rho stream (the last hop's: only where the filler does not go).
  let nextHmac: Uint8Array = new Uint8Array(HMAC_SIZE);
  for (let i = n - 1; i >= 0; i--) {
    const payload = hops[i]!.payload;
    const len = encodeBigSize(BigInt(payload.length));
    mix.copyWithin(frames[i]!, 0, HOP_PAYLOADS_SIZE - frames[i]!);
    mix.set(len, 0);
    mix.set(payload, len.length);
    mix.set(nextHmac, len.length + payload.length);
    if (i === n - 1) {
      chacha20XorInto(rho[i]!, mix, 0, HOP_PAYLOADS_SIZE - filler.length);
      mix.set(filler, HOP_PAYLOADS_SIZE - filler.length);
    } else chacha20XorInto(rho[i]!, mix, 0, HOP_PAYLOADS_SIZE);
    nextHmac = hmacSha256Framed(generateKey('mu', sharedSecrets[i]!), framed);
  }
  const packet = new Uint8Array(PACKET_SIZE);
  packet[0] = ONION_VERSION;
  packet.set(ephemeral0, 1);
  packet.set(mix, 34);
  packet.set(nextHmac, 34 + HOP_PAYLOADS_SIZE);
  return { packet, sharedSecrets };
}

/**
 * The peel's working memory, reused (peels run one at a time: nothing here awaits):
 * 64 bytes of room for the HMAC's inner pad, hop_payloads, then 1300 bytes that hold the
 * associated data while the HMAC is computed and, zeroed, the rho stream bytes past
 * hop_payloads that fill the next packet's end. It never holds a key: a packet's bytes,
 * and its decrypted layer, wiped before the peel returns.
 */
const PEEL_SCRATCH = new Uint8Array(64 + 2 * HOP_PAYLOADS_SIZE);

/**
 * The next packets' memory: views carved from 16 KiB slabs (11 packets each), a fresh slab
 * when one is used up. An array of more than 64 bytes gets an ArrayBuffer of its own, which
 * V8 allocates, zeroes, registers and sweeps (up to ~3.5 µs for 1366 bytes in a loop that
 * makes nothing else; a peel on libsecp256k1 went from 89.6 to 87.9 µs); a view on a slab
 * costs ~0.1 µs. Only next packets live there,
 * bytes the hop forwards (public), each written whole before it is returned; a slab is
 * freed when its last packet is.
 */
const SLAB_PACKETS = 11;
let slab = new ArrayBuffer(0);
let slabUsed = 0;
function packetMemory(): Uint8Array {
  if (slabUsed + PACKET_SIZE > slab.byteLength) [slab, slabUsed] = [new ArrayBuffer(SLAB_PACKETS * PACKET_SIZE), 0];
  const out = new Uint8Array(slab, slabUsed, PACKET_SIZE);
  slabUsed += PACKET_SIZE;
  return out;
}

/**
 * Process one layer with the node's secret key: version, ephemeral key, HMAC (constant
 * time), decrypt, payload length, next ephemeral key, next packet; final when the next
 * HMAC is all zero. Decryption makes only the rho stream bytes the layer uses, in one
 * pass over hop_payloads followed by zeros: bytes [0, frame) give this hop's frame (length
 * prefix, payload, next HMAC); a final hop stops there, a forwarding one goes on to
 * 1300 + frame, whose last 1300 bytes are the next packet's hop_payloads, shifted.
 */
export function peelOnion<P>(ec: Secp256k1Backend<P>, nodeKey: Uint8Array, packet: Uint8Array, associatedData: Uint8Array): PeeledOnion {
  if (packet.length !== PACKET_SIZE) throw new MalformedInputError('E_ONION_PACKET_LENGTH', `onion packet is ${packet.length} bytes, expected ${PACKET_SIZE}`);
  if (packet[0] !== ONION_VERSION) throw new MalformedInputError('E_ONION_VERSION', `unknown onion version ${packet[0]} (only 0 is defined)`);
  const ephemeral = packet.subarray(1, 34);
  const E = ec.pointFromBytes(ephemeral);
  if (E === undefined) throw new MalformedInputError('E_ONION_EPHEMERAL_KEY', 'onion ephemeral public key is not a valid compressed secp256k1 point');
  // The node key goes to the ECDH as its 32 bytes (a key of another length, as an integer's).
  let key = nodeKey;
  if (!isSecretKey32(nodeKey)) {
    const k = int(nodeKey);
    if (k <= 0n || k >= N) throw new RefusedError('E_ONION_NODE_KEY', 'node key is not a valid secp256k1 secret key');
    key = bytes32(k);
  }
  const ss = sharedSecret(ec, E, key); // k in [1, n): k·E is never infinity
  if (key !== nodeKey) key.fill(0);
  // Associated data longer than the scratch's tail (BOLT 4's is a 32-byte payment hash) gets memory of its own.
  const work = associatedData.length <= HOP_PAYLOADS_SIZE ? PEEL_SCRATCH : new Uint8Array(64 + HOP_PAYLOADS_SIZE + Math.max(associatedData.length, HOP_PAYLOADS_SIZE));
  const tail = 64 + HOP_PAYLOADS_SIZE;
  try {
    // HMAC(mu, hop_payloads || associated_data) in one call into OpenSSL.
    work.set(packet.subarray(34, 34 + HOP_PAYLOADS_SIZE), 64);
    work.set(associatedData, tail);
    const expected = hmacSha256Framed(generateKey('mu', ss), work.subarray(0, tail + associatedData.length));
    if (!hmacEquals(expected, packet.subarray(34 + HOP_PAYLOADS_SIZE))) throw new RefusedError('E_ONION_HMAC', 'onion HMAC does not verify (wrong node key, wrong associated data or a corrupted packet)');
    work.fill(0, tail, tail + HOP_PAYLOADS_SIZE);
    // The first stream block: the length prefix (BigSize, at most 9 bytes).
    const rho = generateKey('rho', ss);
    chacha20XorInto(rho, work, 64, 64);
    let n: number, prefix: number;
    if (work[64]! < 0xfd) [n, prefix] = [work[64]!, 1];
    else {
      let len: bigint;
      try {
        [len, prefix] = decodeBigSize(work.subarray(64, 128), 0);
      } catch (e) {
        throw new MalformedInputError('E_ONION_PAYLOAD_LENGTH', `hop payload length: ${(e as BigSizeError).message}`);
      }
      if (BigInt(prefix) + len + BigInt(HMAC_SIZE) > BigInt(HOP_PAYLOADS_SIZE)) throw new MalformedInputError('E_ONION_PAYLOAD_LENGTH', `hop payload length ${len} does not fit in the packet`);
      n = Number(len);
    }
    if (n === 0) throw new MalformedInputError('E_ONION_PAYLOAD_LENGTH', 'hop payload length is 0 (legacy fixed-size payloads are not supported)');
    const shift = prefix + n + HMAC_SIZE; // at most 1300: a one-byte length is below 0xfd
    // The rest of the frame: the stream blocks up to its end (past it, at most a block's worth).
    const frameEnd = (shift + 63) & ~63;
    if (frameEnd > 64) chacha20XorInto(rho, work, 128, frameEnd - 64, 64);
    const payload = work.slice(64 + prefix, 64 + prefix + n);
    const nextHmac = work.slice(64 + prefix + n, 64 + shift);
    let final = true;
    for (let i = 0; i < HMAC_SIZE; i++) if (nextHmac[i] !== 0) final = false;
    if (final) return { payload, sharedSecret: ss, final: true, nextPacket: undefined };
    // b·E on the backend's variable-time k·P, as Core Lightning, LDK and Electrum do (their
    // tweak_mul): b = SHA256(E || ss) is no key — it is used once, the sender knows it, and it
    // reveals only the link E → b·E that forwarding this packet shows anyway. The secrets
    // (the node key above, the sender's session key chain) stay on constant-time calls.
    const En = ec.mul(E, blindingFactor(ephemeral, ss));
    if (En === null) throw new MalformedInputError('E_ONION_EPHEMERAL_KEY', 'next ephemeral key is the point at infinity');
    // The stream on to 1300 + frame: the decrypted hop_payloads after this frame, then the
    // stream itself over the zeros behind them.
    chacha20XorInto(rho, work, 64 + frameEnd, HOP_PAYLOADS_SIZE + shift - frameEnd, frameEnd);
    // next: version || b·E || (decrypted hop_payloads after this hop's frame || rho stream bytes [1300, 1300 + frame)) || next HMAC
    const next = packetMemory();
    next[0] = ONION_VERSION;
    next.set(ec.pointToBytes(En), 1);
    next.set(work.subarray(64 + shift, 64 + shift + HOP_PAYLOADS_SIZE), 34);
    next.set(nextHmac, 34 + HOP_PAYLOADS_SIZE);
    return { payload, sharedSecret: ss, final: false, nextPacket: next };
  } finally {
    work.fill(0, 64);
  }
}
