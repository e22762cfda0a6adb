/**
 * Test-only builder of raw legacy transactions (no signatures: coloring reads outpoints
 * and outputs only), written independently of src/lib/tx/raw.ts, with the txid
 * from @scure/btc-signer's parser as a cross-check.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { RawTx } from '@scure/btc-signer';
import { concatBytes, fromHex, toHex } from '../../../src/lib/bytes.ts';

export interface BuildIn { txid: string; vout: number }
export interface BuildOut { value: number; script: string }

const le32 = (n: number) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
const le64 = (n: number) => { const b = new Uint8Array(8); let v = BigInt(n); for (let i = 0; i < 8; i++) { b[i] = Number(v & 0xffn); v >>= 8n; } return b; };
const varint = (n: number) => (n < 0xfd ? Uint8Array.of(n) : Uint8Array.of(0xfd, n & 0xff, n >> 8));

export function buildTx(inputs: BuildIn[], outputs: BuildOut[], locktime = 0): { hex: string; txid: string } {
  const parts: Uint8Array[] = [le32(2), varint(inputs.length)];
  for (const i of inputs) parts.push(fromHex(i.txid).reverse(), le32(i.vout), varint(0), le32(0xfffffffd));
  parts.push(varint(outputs.length));
  for (const o of outputs) { const s = fromHex(o.script); parts.push(le64(o.value), varint(s.length), s); }
  parts.push(le32(locktime));
  const bytes = concatBytes(...parts);
  RawTx.decode(bytes); // must parse with btc-signer too
  return { hex: toHex(bytes), txid: toHex(sha256(sha256(bytes)).reverse()) };
}

export const p2pkh = (h160: string) => `76a914${h160}88ac`;
export function opReturn(payloadHex: string): string {
  const n = payloadHex.length / 2;
  return n < 0x4c ? `6a${n.toString(16).padStart(2, '0')}${payloadHex}` : `6a4c${n.toString(16).padStart(2, '0')}${payloadHex}`;
}

/** The scenario of the fixtures: funding → issuance of 20 units (the seed's marker) → transfer 15 + 5. */
export const SEED_H160 = 'b895201a7cfdd91a9bff3b42cd114d42e3a634d2'; // 1HpyyiGaXLq7ZCHk3s9EkVEFoG15oLn2Us (seed_example.json)
export const OTHER_H160 = '010966776006953d5567439e5e39f86a0d273bee'; // 16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM (asset_id_address_vectors.json)
export const SEED_MARKER = '4f41010001141b753d68747470733a2f2f6370722e736d2f466f796b777248365559';

export function scenario() {
  const funding = buildTx([{ txid: '11'.repeat(32), vout: 0 }], [{ value: 100_000, script: p2pkh(SEED_H160) }, { value: 50_000, script: p2pkh(OTHER_H160) }]);
  const issuance = buildTx([{ txid: funding.txid, vout: 0 }], [
    { value: 600, script: p2pkh(SEED_H160) },
    { value: 0, script: opReturn(SEED_MARKER) },
    { value: 98_000, script: p2pkh(SEED_H160) },
  ]);
  const transfer = buildTx([{ txid: issuance.txid, vout: 0 }, { txid: funding.txid, vout: 1 }], [
    { value: 0, script: opReturn('4f410100020f0500') }, // [15, 5]
    { value: 600, script: p2pkh(OTHER_H160) },
    { value: 600, script: p2pkh(SEED_H160) },
    { value: 48_000, script: p2pkh(OTHER_H160) },
  ]);
  return { funding, issuance, transfer };
}
