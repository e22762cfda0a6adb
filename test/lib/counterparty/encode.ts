/**
 * Test-side Counterparty encoder, written from counterparty-core's composer (not from
 * src/): its ARC4, its OP_RETURN / multisig / P2SH data outputs and a plain transaction
 * serializer. It is checked against counterparty-core's composer vectors
 * (OPRETURN_DATA, MULTISIG_PAIRS) before it is used to build round-trip cases.
 */
import { createHash } from 'node:crypto';

export function rc4(key: Uint8Array, data: Uint8Array): Uint8Array {
  const S = Array.from({ length: 256 }, (_, i) => i);
  let j = 0;
  for (let i = 0; i < 256; i++) {
    j = (j + S[i]! + key[i % key.length]!) % 256;
    [S[i], S[j]] = [S[j]!, S[i]!];
  }
  const out = new Uint8Array(data.length);
  let a = 0;
  let b = 0;
  for (let n = 0; n < data.length; n++) {
    a = (a + 1) % 256;
    b = (b + S[a]!) % 256;
    [S[a], S[b]] = [S[b]!, S[a]!];
    out[n] = data[n]! ^ S[(S[a]! + S[b]!) % 256]!;
  }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p.map((x) => Buffer.from(x))));
const push = (d: Uint8Array) => (d.length <= 75 ? cat(Uint8Array.of(d.length), d) : d.length <= 255 ? cat(Uint8Array.of(0x4c, d.length), d) : cat(Uint8Array.of(0x4d, d.length & 0xff, d.length >> 8), d));

export const PREFIX = new TextEncoder().encode('CNTRPRTY');

export function opReturnScript(keyTxid: string, data: Uint8Array, prefix = PREFIX): Uint8Array {
  return cat(Uint8Array.of(0x6a), push(rc4(Buffer.from(keyTxid, 'hex'), cat(prefix, data))));
}

/** composer.data_to_pubkey_pairs: 62-byte chunks (length byte, prefix, ≤53 data, zero padding), encrypted, split in two 31-byte halves. */
export function multisigScripts(keyTxid: string, data: Uint8Array, senderPubkey: Uint8Array, prefix = PREFIX): Uint8Array[] {
  const room = 62 - 1 - prefix.length;
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += room) {
    const part = data.subarray(i, i + room);
    const chunk = new Uint8Array(62);
    chunk[0] = prefix.length + part.length;
    chunk.set(prefix, 1);
    chunk.set(part, 1 + prefix.length);
    const enc = rc4(Buffer.from(keyTxid, 'hex'), chunk);
    const k1 = cat(Uint8Array.of(0x02), enc.subarray(0, 31), Uint8Array.of(0x00));
    const k2 = cat(Uint8Array.of(0x02), enc.subarray(31, 62), Uint8Array.of(0x00));
    out.push(cat(Uint8Array.of(0x51), push(k1), push(k2), push(senderPubkey), Uint8Array.of(0x53, 0xae)));
  }
  return out;
}

/** A P2SH-encoding data input's scriptSig: <sig> <redeem>, redeem = <prefix+chunk> OP_DROP <pubkey> OP_CHECKSIGVERIFY <n> OP_DROP OP_DEPTH 0 OP_EQUAL. */
export function p2shDataScriptSig(chunk: Uint8Array, pubkey: Uint8Array, n: number, prefix = PREFIX): Uint8Array {
  const redeem = cat(push(cat(prefix, chunk)), Uint8Array.of(0x75), push(pubkey), Uint8Array.of(0xad, n === 0 ? 0 : 0x50 + n, 0x75, 0x74, 0x00, 0x87));
  return cat(push(new Uint8Array(71).fill(0x30)), push(redeem));
}

export interface Out { value: number; script: Uint8Array }
export interface In { txid: string; vout: number; scriptSig?: Uint8Array }

export function serializeTx(ins: In[], outs: Out[]): string {
  const parts: Buffer[] = [Buffer.from('01000000', 'hex'), Buffer.from([ins.length])];
  for (const i of ins) {
    const vout = Buffer.alloc(4);
    vout.writeUInt32LE(i.vout);
    const ss = i.scriptSig ?? new Uint8Array(0);
    parts.push(Buffer.from(i.txid, 'hex').reverse(), vout, varint(ss.length), Buffer.from(ss), Buffer.from('ffffffff', 'hex'));
  }
  parts.push(Buffer.from([outs.length]));
  for (const o of outs) {
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(BigInt(o.value));
    parts.push(v, varint(o.script.length), Buffer.from(o.script));
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts).toString('hex');
}

function varint(n: number): Buffer {
  if (n < 0xfd) return Buffer.from([n]);
  const b = Buffer.alloc(3);
  b[0] = 0xfd;
  b.writeUInt16LE(n, 1);
  return b;
}

export const p2pkh = (h160: string) => cat(Buffer.from('76a914', 'hex'), Buffer.from(h160, 'hex'), Buffer.from('88ac', 'hex'));
export const sha256d = (b: Uint8Array) => createHash('sha256').update(createHash('sha256').update(b).digest()).digest();
export { hex, cat };
