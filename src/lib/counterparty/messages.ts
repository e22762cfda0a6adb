/**
 * Counterparty message payloads (the bytes after the `CNTRPRTY` prefix), unpacked as
 * counterparty-core's `unpack` does for the message formats current at the block of its
 * API vectors (784320): a 1-byte type id (or 4 bytes when the first byte is 0), then
 *   send (0)            asset_id u64, quantity u64
 *   enhanced_send (2)   asset_id u64, quantity u64, short address (version byte + hash160), memo
 *   issuance (20)       asset_id u64, quantity u64, divisible, lock, reset (bytes), description
 *   issuance (21, 22, 23: subasset) the same with a compacted subasset long name (length byte + name) before the description
 *   broadcast (30)      timestamp u32, value f64, fee_fraction_int u32, text (varint length, the text the last bytes)
 *   bet (40)            bet_type u16, deadline u32, wager u64, counterwager u64, target_value f64, leverage u32, expiration u32
 * Other type ids are named, their payload given as hex. Validity against the ledger
 * (does the asset exist, is the sender allowed) is not decided here: that needs
 * Counterparty's own database. Numbers that may exceed 2^53 are decimal strings.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check } from '@scure/base';
import { toHex } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';

const b58c = createBase58check(sha256);
const bad = (m: string) => new MalformedInputError('E_XCP_MALFORMED', m);

export const MESSAGE_TYPES: Record<number, string> = {
  0: 'send', 1: 'send', 2: 'enhanced_send', 3: 'mpma', 4: 'sweep', 10: 'order', 11: 'btcpay', 12: 'dispenser', 13: 'dispense',
  20: 'issuance', 21: 'issuance', 22: 'issuance', 23: 'issuance', 30: 'broadcast', 40: 'bet', 50: 'dividend', 60: 'burn', 70: 'cancel',
  90: 'fairminter', 91: 'fairmint', 100: 'utxo', 101: 'attach', 102: 'detach', 110: 'destroy',
};

export interface Unpacked {
  message_type: string;
  message_type_id: number;
  message_data: Record<string, unknown>;
}

class R {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly what: string) {}
  need(n: number) {
    if (this.pos + n > this.b.length) throw bad(`${this.what} truncated at byte ${this.pos} (needs ${n} more)`);
  }
  u8() { this.need(1); return this.b[this.pos++]!; }
  u16() { this.need(2); const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!; this.pos += 2; return v; }
  u32() { this.need(4); const b = this.b, p = this.pos; this.pos += 4; return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!); }
  u64() { const hi = BigInt(this.u32()); return (hi << 32n) | BigInt(this.u32()); }
  f64() { this.need(8); const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 8).getFloat64(0, false); this.pos += 8; return v; }
  bytes(n: number) { this.need(n); const v = this.b.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  rest() { const v = this.b.subarray(this.pos); this.pos = this.b.length; return v; }
}

const B26 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** counterparty-core's asset_name: BTC, XCP, base-26 names, or numeric "A<id>". */
export function assetName(id: bigint): string {
  if (id === 0n) return 'BTC';
  if (id === 1n) return 'XCP';
  if (id < 26n ** 3n) throw bad(`asset id ${id} is too low to name an asset`);
  if (id >= 26n ** 12n + 1n) return `A${id}`;
  let n = id;
  let s = '';
  while (n > 0n) {
    s = B26[Number(n % 26n)]! + s;
    n /= 26n;
  }
  return s;
}

const SUBASSET_DIGITS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@!';

/** counterparty-core's expand_subasset_longname: a base-68 big-endian integer, digit d ↦ SUBASSET_DIGITS[d-1]. */
export function expandSubassetLongname(raw: Uint8Array): string {
  let n = 0n;
  for (const x of raw) n = (n << 8n) | BigInt(x);
  let s = '';
  while (n !== 0n) {
    const d = Number(n % 68n);
    if (d === 0) throw bad('subasset long name has a zero digit');
    s = SUBASSET_DIGITS[d - 1]! + s;
    n /= 68n;
  }
  return s;
}

function text(b: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return ''; // counterparty-core: an undecodable description becomes ''
  }
}

/** Bitcoin's varint (broadcast text length). */
function varint(r: R): number {
  const f = r.u8();
  if (f < 0xfd) return f;
  if (f === 0xfd) { const lo = r.u8(); return lo | (r.u8() << 8); }
  if (f === 0xfe) { const b = r.bytes(4); return (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000; }
  throw bad('broadcast text length over 2^32');
}

/** Short address (enhanced send): version byte + 20-byte hash, base58check. */
function shortAddress(b: Uint8Array): string {
  return b58c.encode(b);
}

function exact(r: R): void {
  if (r.pos !== r.b.length) throw bad(`${r.what}: ${r.b.length - r.pos} bytes after the message`);
}

/** Unpack a message (type id + payload). */
export function unpackMessage(data: Uint8Array): Unpacked {
  if (data.length === 0) throw bad('empty Counterparty message');
  const r = new R(data, 'Counterparty message');
  const typeId = data[0]! > 0 ? r.u8() : r.u32();
  const name = MESSAGE_TYPES[typeId] ?? 'unknown';
  const m: Record<string, unknown> = {};
  const rr = new R(r.rest(), name === 'unknown' ? 'message' : name);
  switch (typeId) {
    case 0: {
      const assetId = rr.u64();
      m.asset = assetName(assetId);
      m.quantity = rr.u64().toString();
      exact(rr);
      break;
    }
    case 2: {
      const assetId = rr.u64();
      m.asset = assetName(assetId);
      m.quantity = rr.u64().toString();
      m.address = shortAddress(rr.bytes(21));
      m.memo = toHex(rr.rest());
      break;
    }
    case 20: case 21: case 22: case 23: {
      const assetId = rr.u64();
      m.asset_id = assetId.toString();
      m.asset = assetName(assetId);
      m.quantity = rr.u64().toString();
      m.divisible = rr.u8() !== 0;
      m.lock = rr.u8() !== 0;
      m.reset = rr.u8() !== 0;
      if (typeId !== 20) {
        const len = rr.u8();
        m.subasset_longname = expandSubassetLongname(rr.bytes(len));
      } else m.subasset_longname = null;
      m.description = text(rr.rest());
      break;
    }
    case 30: {
      m.timestamp = rr.u32();
      m.value = rr.f64();
      m.fee_fraction_int = rr.u32();
      const raw = rr.rest();
      const lr = new R(raw, 'broadcast text');
      const len = raw.length === 0 ? 0 : varint(lr);
      if (len > raw.length - lr.pos) throw bad(`broadcast text length ${len} exceeds the ${raw.length - lr.pos} bytes left`);
      m.text = new TextDecoder('utf-8').decode(raw.subarray(raw.length - len));
      break;
    }
    case 40: {
      m.bet_type = rr.u16();
      m.deadline = rr.u32();
      m.wager_quantity = rr.u64().toString();
      m.counterwager_quantity = rr.u64().toString();
      m.target_value = rr.f64();
      m.leverage = rr.u32();
      m.expiration = rr.u32();
      exact(rr);
      break;
    }
    default:
      m.payload = toHex(rr.rest());
  }
  return { message_type: name, message_type_id: typeId, message_data: m };
}
