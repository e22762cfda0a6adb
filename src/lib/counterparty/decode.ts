/**
 * Counterparty data in a Bitcoin transaction, found as counterparty-core's get_tx_info
 * finds it (p2sh_addresses era): the outputs are read in order; each is
 *   - OP_RETURN <push>: ARC4(key, push) must start with `CNTRPRTY`; the rest is data;
 *   - bare 1-of-2 / 1-of-3 (any m) multisig: the public keys but the last, each without
 *     its first and last byte, concatenated and ARC4-decrypted; if bytes 1..8 are
 *     `CNTRPRTY` the first byte is the chunk length and the data follows the prefix,
 *     otherwise the output is a (multisig) destination;
 *   - P2PKH: the hash160 ARC4-decrypted, read the same way (the early "pubkeyhash"
 *     encoding), else a destination;
 *   - P2SH, segwit v0 and v1: destinations;
 *   - anything else: not a Counterparty transaction.
 * The key is the first input's previous txid (display byte order), fresh for each
 * output. Destinations are the outputs before the first data output (their values are
 * btc_amount); a destination after data is change and ends the scan. When the data is
 * `P2SH` the message is in the inputs (P2SH encoding): each scriptSig's last push is a
 * redeem script `<CNTRPRTY+chunk> OP_DROP <pubkey> OP_CHECKSIGVERIFY <n> OP_DROP
 * OP_DEPTH 0 OP_EQUAL` (or the multisig form); the chunks, prefix removed, are
 * concatenated in input order. The source address needs the first input's previous
 * output (not looked up here) except in the P2SH encoding, where it is the redeem
 * script's public key.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check } from '@scure/base';
import { fromHex } from '../bytes.ts';
import { scriptAddress } from '../address.ts';
import type { Network } from '../network.ts';
import type { RawTx } from '../tx/raw.ts';
import { arc4 } from './arc4.ts';

export const PREFIX = new TextEncoder().encode('CNTRPRTY');
const P2SH_SIGNAL = new TextEncoder().encode('P2SH');
const b58c = createBase58check(sha256);
const hash160 = (b: Uint8Array) => ripemd160(sha256(b));

export type Encoding = 'opreturn' | 'multisig' | 'pubkeyhash' | 'p2sh';

export interface TxData {
  /** Why this is not a Counterparty transaction (then no data). */
  reason?: string;
  encodings: Encoding[];
  data?: Uint8Array;
  destinations: { output: number; address: string | null; value: number }[];
  btcAmount: number;
  dataOutputs: number[];
  source?: string;
}

const startsWith = (b: Uint8Array, p: Uint8Array, at = 0) => b.length >= at + p.length && p.every((x, i) => b[at + i] === x);

interface Op { op: number; data?: Uint8Array }

/** Script ops; undefined when a push runs past the end. */
export function ops(s: Uint8Array): Op[] | undefined {
  const out: Op[] = [];
  let i = 0;
  while (i < s.length) {
    const op = s[i++]!;
    let len = -1;
    if (op >= 1 && op <= 0x4b) len = op;
    else if (op === 0x4c) { if (i + 1 > s.length) return undefined; len = s[i]!; i += 1; }
    else if (op === 0x4d) { if (i + 2 > s.length) return undefined; len = s[i]! | (s[i + 1]! << 8); i += 2; }
    else if (op === 0x4e) { if (i + 4 > s.length) return undefined; len = (s[i]! | (s[i + 1]! << 8) | (s[i + 2]! << 16)) + s[i + 3]! * 0x1000000; i += 4; }
    if (len < 0) { out.push({ op }); continue; }
    if (i + len > s.length) return undefined;
    out.push({ op, data: s.subarray(i, i + len) });
    i += len;
  }
  return out;
}

const OP_RETURN = 0x6a, OP_CHECKMULTISIG = 0xae, OP_CHECKSIG = 0xac, OP_DUP = 0x76, OP_HASH160 = 0xa9, OP_EQUALVERIFY = 0x88, OP_EQUAL = 0x87;
const smallInt = (o: Op) => (o.data === undefined && o.op >= 0x51 && o.op <= 0x60 ? o.op - 0x50 : o.data === undefined && o.op === 0 ? 0 : undefined);

/** A data chunk read the multisig / pubkeyhash way: undefined when it is not data. */
function lengthPrefixed(plain: Uint8Array, prefix: Uint8Array): Uint8Array | undefined {
  if (!startsWith(plain, prefix, 1)) return undefined;
  const len = plain[0]!;
  return plain.subarray(1 + prefix.length, Math.min(1 + len, plain.length));
}

/**
 * `prefix`: `CNTRPRTY` on every network; counterparty-core's unit tests configure
 * `TESTXXXX`, which their fixture transactions carry.
 */
export function findData(tx: RawTx, network: Network, prefix: Uint8Array = PREFIX): TxData {
  const result: TxData = { encodings: [], destinations: [], btcAmount: 0, dataOutputs: [] };
  if (tx.inputs.length === 0) return { ...result, reason: 'no inputs' };
  if (/^0{64}$/.test(tx.inputs[0]!.prevTxid) && tx.inputs[0]!.vout === 0xffffffff) return { ...result, reason: 'coinbase transaction' };
  const key = fromHex(tx.inputs[0]!.prevTxid);
  const chunks: Uint8Array[] = [];
  const uses = new Set<Encoding>();
  for (let index = 0; index < tx.outputs.length; index++) {
    const out = tx.outputs[index]!;
    const s = out.script;
    const a = ops(s);
    if (!a || a.length === 0) return { ...result, reason: `output ${index}: unparsable script` };
    let data: Uint8Array | undefined;
    let destination: string | null | undefined;
    let encoding: Encoding | undefined;
    const last = a[a.length - 1]!;
    if (a[0]!.op === OP_RETURN) {
      const push = a[1]?.data;
      if (!push) return { ...result, reason: `output ${index}: OP_RETURN without data` };
      const plain = arc4(key, push);
      if (!startsWith(plain, prefix)) return { ...result, reason: `output ${index}: OP_RETURN data does not decrypt to the ${new TextDecoder().decode(prefix)} prefix` };
      data = plain.subarray(prefix.length);
      encoding = 'opreturn';
    } else if (last.op === OP_CHECKSIG && last.data === undefined) {
      if (!(a.length === 5 && a[0]!.op === OP_DUP && a[1]!.op === OP_HASH160 && a[2]!.data && a[3]!.op === OP_EQUALVERIFY))
        return { ...result, reason: `output ${index}: OP_CHECKSIG output that is not P2PKH` };
      const d = lengthPrefixed(arc4(key, a[2]!.data), prefix);
      if (d) { data = d; encoding = 'pubkeyhash'; } else destination = scriptAddress(s, network) ?? null;
    } else if (last.op === OP_CHECKMULTISIG && last.data === undefined) {
      const n = a.length - 3;
      const ok = (n === 2 || n === 3) && smallInt(a[a.length - 2]!) === n && smallInt(a[0]!) !== undefined && a.slice(1, 1 + n).every((o) => o.data !== undefined);
      if (!ok) return { ...result, reason: `output ${index}: OP_CHECKMULTISIG output that is not 1-of-2 or 1-of-3 shaped` };
      const keys = a.slice(1, 1 + n).map((o) => o.data!);
      const cipher = new Uint8Array(keys.slice(0, -1).reduce((t, k) => t + Math.max(0, k.length - 2), 0));
      let p = 0;
      for (const k of keys.slice(0, -1)) { if (k.length >= 2) { cipher.set(k.subarray(1, -1), p); p += k.length - 2; } }
      const d = lengthPrefixed(arc4(key, cipher), prefix);
      if (d) { data = d; encoding = 'multisig'; } else destination = `${smallInt(a[0]!)}_${keys.map((k) => b58c.encode(Uint8Array.of(network === 'mainnet' ? 0x00 : 0x6f, ...hash160(k)))).join('_')}_${n}`;
    } else if (a.length === 3 && a[0]!.op === OP_HASH160 && a[1]!.data?.length === 20 && a[2]!.op === OP_EQUAL) {
      destination = scriptAddress(s, network) ?? null;
    } else if ((a[0]!.op === 0 || a[0]!.op === 0x51) && a.length === 2 && a[1]!.data) {
      destination = scriptAddress(s, network) ?? null;
    } else return { ...result, reason: `output ${index}: unrecognised output type` };

    if (data !== undefined) {
      chunks.push(data);
      uses.add(encoding!);
      result.dataOutputs.push(index);
    } else if (chunks.length === 0) {
      result.destinations.push({ output: index, address: destination ?? null, value: Number(out.value) });
      result.btcAmount += Number(out.value);
    } else break; // change
  }
  let data = concat(chunks);
  if (chunks.length === 0) return { ...result, reason: 'no Counterparty data output' };
  if (data.length === P2SH_SIGNAL.length && startsWith(data, P2SH_SIGNAL)) {
    const p2sh = fromInputs(tx, network, prefix);
    if (p2sh.reason) return { ...result, reason: p2sh.reason };
    data = p2sh.data!;
    uses.clear();
    uses.add('p2sh');
    if (p2sh.source) result.source = p2sh.source;
  }
  result.encodings = [...uses];
  result.data = data;
  return result;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((t, p) => t + p.length, 0));
  let p = 0;
  for (const x of parts) { out.set(x, p); p += x.length; }
  return out;
}

/** The P2SH encoding: data chunks in the inputs' redeem scripts. */
function fromInputs(tx: RawTx, network: Network, prefix: Uint8Array): { data?: Uint8Array; source?: string; reason?: string } {
  const chunks: Uint8Array[] = [];
  let source: string | undefined;
  for (const [i, input] of tx.inputs.entries()) {
    const a = ops(input.script);
    const redeem = a?.[a.length - 1]?.data;
    if (!redeem) continue;
    const r = dataRedeemScript(redeem);
    if (!r) continue;
    if (r.pubkey) source = b58c.encode(Uint8Array.of(network === 'mainnet' ? 0x00 : 0x6f, ...hash160(r.pubkey)));
    if (r.chunk.length === 0) continue;
    if (!startsWith(r.chunk, prefix)) return { reason: `input ${i}: P2SH data chunk without the ${new TextDecoder().decode(prefix)} prefix` };
    chunks.push(r.chunk.subarray(prefix.length));
  }
  if (chunks.length === 0) return { reason: 'P2SH encoding signalled but no input carries a data redeem script' };
  return { data: concat(chunks), ...(source ? { source } : {}) };
}

/** `<chunk> OP_DROP (<pubkey> OP_CHECKSIGVERIFY | OP_m <keys> OP_n OP_CHECKMULTISIGVERIFY) <n> OP_DROP OP_DEPTH 0 OP_EQUAL`. */
function dataRedeemScript(redeem: Uint8Array): { chunk: Uint8Array; pubkey?: Uint8Array } | undefined {
  const a = ops(redeem);
  if (!a || a.length < 7) return undefined;
  const tail = a.slice(-4);
  if (!(tail[0]!.op === 0x75 && tail[1]!.op === 0x74 && tail[2]!.op === 0 && tail[2]!.data === undefined && tail[3]!.op === OP_EQUAL)) return undefined;
  // the 41-byte form without data: OP_DROP <pubkey> OP_CHECKSIGVERIFY <n> OP_DROP OP_DEPTH 0 OP_EQUAL
  if (a[0]!.op === 0x75 && a[1]!.data?.length === 33 && a[2]!.op === 0xad) return { chunk: new Uint8Array(0), pubkey: a[1]!.data };
  const chunk = a[0]!.data;
  if (!chunk || a[1]!.op !== 0x75) return undefined;
  if (a[2]!.data && a[3]!.op === 0xad) return { chunk, pubkey: a[2]!.data };
  if (a.some((o) => o.op === 0xaf)) return { chunk }; // OP_CHECKMULTISIGVERIFY form: no single source key
  return undefined;
}
