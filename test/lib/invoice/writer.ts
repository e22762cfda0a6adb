/**
 * Invoices the invoice tests write and sign themselves (a payee, or an attacker posing as
 * one): a BOLT 11 writer over the product's field encoder, BOLT 12 TLV records and a
 * Merkle-signed BOLT 12 string. Shared by the refusal, hardening and review tests.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { type Bolt11Field, bolt11SigningHash, encodeBolt11 } from '../../../src/lib/invoice/bolt11.ts';
import { encodeBolt12String } from '../../../src/lib/invoice/bolt12.ts';
import { merkleTree, signatureMessage } from '../../../src/lib/invoice/merkle.ts';
import { parseTlvStream } from '../../../src/lib/invoice/tlv.ts';
import { encodeBigSize } from '../../../src/lib/bigsize.ts';

export const KEY = Uint8Array.from(Buffer.alloc(32, 9));
export const PUB = secp256k1.getPublicKey(KEY, true);
export const P: Bolt11Field = { tag: 1, name: 'payment_hash', bytes: Uint8Array.from(Buffer.alloc(32, 1)) };
export const S: Bolt11Field = { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x11)) };
export const D: Bolt11Field = { tag: 13, name: 'description', text: 'test' };
export const T0 = 1_700_000_000;

/** A BOLT 11 invoice of these fields signed by KEY (low-S, its recovery id). */
export function bolt11(hrp: string, fields: Bolt11Field[], timestamp = T0): string {
  const hash = bolt11SigningHash(hrp, timestamp, fields);
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(hash, KEY, { prehash: false, format: 'recovered' }), 'recovered');
  const rs = Uint8Array.from(Buffer.from(sig.r.toString(16).padStart(64, '0') + sig.s.toString(16).padStart(64, '0'), 'hex'));
  return encodeBolt11({ hrp, timestamp, fields, signature: rs, recoveryId: sig.recovery! });
}

/** One TLV record. */
export const rec = (type: number, value: Uint8Array | number[]): number[] => [...encodeBigSize(BigInt(type)), ...encodeBigSize(BigInt(value.length)), ...value];
/** An unsigned big-endian integer of `bytes` bytes. */
export const u = (n: bigint | number, bytes: number) => Array.from({ length: bytes }, (_, i) => Number((BigInt(n) >> BigInt(8 * (bytes - 1 - i))) & 0xffn));
/** BOLT 1's tu64: big-endian, leading zeros dropped. */
export const tu64 = (n: bigint) => {
  const b = u(n, 8);
  while (b.length > 0 && b[0] === 0) b.shift();
  return b;
};

/** A BOLT 12 string of `hrp` whose TLV stream `body` (no signature) is signed by `key` as `messageName`. */
export function signed12(hrp: string, messageName: string, body: number[], key = KEY): string {
  const bytes = Uint8Array.from(body);
  const sig = schnorr.sign(signatureMessage(messageName, 'signature', merkleTree(parseTlvStream(bytes)).root), key);
  return encodeBolt12String(hrp, Uint8Array.from([...bytes, ...rec(240, sig)]));
}

/** One blinded path to PUB with one hop, and its payinfo (no features). */
export const PATH = [...PUB, ...PUB, 1, ...PUB, 0, 0];
export const PAYINFO = [...u(0, 4), ...u(0, 4), ...u(40, 2), ...u(1, 8), ...u(1_000_000_000n, 8), 0, 0];
