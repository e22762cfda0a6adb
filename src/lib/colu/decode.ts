/**
 * Colu Colored Coins ("CC", protocol 0x4343) OP_RETURN data: SFFC amounts, transfer
 * instructions ("payments") and issuance / transfer / burn payloads, decoded as the
 * reference npm packages do (sffc-encoder, cc-payment-encoder, cc-issuance-encoder,
 * cc-transfer-encoder, cc-transaction), and the output of a transaction that carries
 * them. Pure; malformed data is a MalformedInputError.
 */
import { MalformedInputError, OffchainError } from '../errors.ts';
import { toHex } from '../bytes.ts';
import type { RawTx } from '../tx/raw.ts';

const bad = (m: string) => new MalformedInputError('E_COLU_MALFORMED', m);

/** SFFC: top bits give the size; mantissa × 10^exponent (numbers up to 2^53 as in JS). */
export function readSffc(b: Uint8Array, pos: number): { value: bigint; next: number } {
  if (pos >= b.length) throw bad('SFFC amount missing');
  const f = b[pos]!;
  let size: number, mBits: number, eBits: number, flagBits: number;
  if (f < 0x20) [size, mBits, eBits, flagBits] = [1, 5, 0, 3];
  else if (f < 0x40) [size, mBits, eBits, flagBits] = [2, 9, 4, 3];
  else if (f < 0x60) [size, mBits, eBits, flagBits] = [3, 17, 4, 3];
  else if (f < 0x80) [size, mBits, eBits, flagBits] = [4, 25, 4, 3];
  else if (f < 0xa0) [size, mBits, eBits, flagBits] = [5, 34, 3, 3];
  else if (f < 0xc0) [size, mBits, eBits, flagBits] = [6, 42, 3, 3];
  else [size, mBits, eBits, flagBits] = [7, 54, 0, 2];
  if (pos + size > b.length) throw bad('SFFC amount truncated');
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(b[pos + i]!);
  v &= (1n << BigInt(size * 8 - flagBits)) - 1n;
  const exponent = v & ((1n << BigInt(eBits)) - 1n);
  const mantissa = (v >> BigInt(eBits)) & ((1n << BigInt(mBits)) - 1n);
  return { value: mantissa * 10n ** exponent, next: pos + size };
}

export interface Payment {
  skip: boolean;
  range: boolean;
  percent: boolean;
  output?: number;
  burn?: boolean;
  amount: bigint;
}

/** One transfer instruction; in a burn payload output 31 without range is a burn. */
export function readPayment(b: Uint8Array, pos: number, burnAllowed = false): { payment: Payment; next: number } {
  if (pos >= b.length) throw bad('payment missing');
  const f = b[pos]!;
  const skip = (f & 0x80) !== 0;
  const range = (f & 0x40) !== 0;
  const percent = (f & 0x20) !== 0;
  let output: number;
  let next: number;
  if (range) {
    if (pos + 2 > b.length) throw bad('range payment truncated');
    output = ((f & 0x1f) << 8) | b[pos + 1]!;
    next = pos + 2;
  } else {
    output = f & 0x1f;
    next = pos + 1;
  }
  const amount = readSffc(b, next);
  if (burnAllowed && !range && output === 31) return { payment: { skip, range: false, percent, burn: true, amount: amount.value }, next: amount.next };
  return { payment: { skip, range, percent, output, amount: amount.value }, next: amount.next };
}

export interface ColuPayload {
  protocol: number;
  version: number;
  type: 'issuance' | 'transfer' | 'burn';
  opcode: number;
  torrentHash?: string;
  sha2?: string;
  multiSig: { index: number; hashType: 'sha2' | 'torrentHash' }[];
  noRules?: boolean;
  amount?: bigint;
  payments: (Payment & { input: number })[];
  divisibility?: number;
  lockStatus?: boolean;
  aggregationPolicy?: 'aggregatable' | 'hybrid' | 'dispersed';
}

const POLICIES = ['aggregatable', 'hybrid', 'dispersed'] as const;

/** Decode the pushed data of a Colu OP_RETURN. */
export function decodeColuPayload(b: Uint8Array): ColuPayload {
  if (b.length < 4) throw bad('Colu payload shorter than protocol, version and opcode');
  const protocol = (b[0]! << 8) | b[1]!;
  const version = b[2]!;
  const opcode = b[3]!;
  const type = opcode < 0x10 ? 'issuance' : opcode < 0x20 ? 'transfer' : opcode < 0x30 ? 'burn' : undefined;
  if (!type) throw bad(`unknown Colu opcode 0x${opcode.toString(16)}`);
  const low = type === 'issuance' ? opcode : opcode & 0x0f;
  // issuance 0x01..0x06; transfer/burn 0x10..0x15 (0x20..0x25) map to issuance codes 1,2,3,4(+noRules false),4(+noRules true),6
  const code = type === 'issuance' ? low : [1, 2, 3, -4, 4, 6][low];
  if (code === undefined || (type === 'issuance' && (low < 1 || low > 6))) throw bad(`unknown Colu ${type} opcode 0x${opcode.toString(16)}`);
  let pos = 4;
  const out: ColuPayload = { protocol, version, type, opcode, multiSig: [], payments: [] };
  const take = (n: number, what: string) => {
    if (pos + n > b.length) throw bad(`${what} truncated`);
    const s = toHex(b.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  switch (code) {
    case 1:
      out.torrentHash = take(20, 'torrent hash');
      out.sha2 = take(32, 'sha2');
      break;
    case 2:
      out.torrentHash = take(20, 'torrent hash');
      out.multiSig.push({ index: 1, hashType: 'sha2' });
      break;
    case 3:
      out.multiSig.push({ index: 1, hashType: 'sha2' }, { index: 2, hashType: 'torrentHash' });
      break;
    case 4:
      out.torrentHash = take(20, 'torrent hash');
      if (type !== 'issuance') out.noRules = true;
      break;
    case -4:
      out.torrentHash = take(20, 'torrent hash');
      out.noRules = false;
      break;
    case 5:
      out.noRules = true;
      break;
    case 6:
      if (type === 'issuance') out.noRules = false;
      break;
  }
  let end = b.length;
  if (type === 'issuance') {
    const a = readSffc(b, pos);
    out.amount = a.value;
    pos = a.next;
    if (end - 1 < pos) throw bad('issuance flags byte missing');
    end -= 1;
    const flags = b[end]!;
    out.divisibility = flags >> 5;
    out.lockStatus = (flags & 0x10) !== 0;
    const p = (flags >> 2) & 3;
    if (p > 2) throw bad('unknown aggregation policy 3');
    out.aggregationPolicy = POLICIES[p];
  }
  const body = b.subarray(0, end);
  let input = 0;
  while (pos < end) {
    const r = readPayment(body, pos, type === 'burn');
    out.payments.push({ ...r.payment, input });
    if (r.payment.skip) input++;
    pos = r.next;
  }
  return out;
}

/** The data of `OP_RETURN <one push>`, or undefined. */
function opReturnData(s: Uint8Array): Uint8Array | undefined {
  if (s.length < 2 || s[0] !== 0x6a) return undefined;
  const op = s[1]!;
  let start = 2;
  let len: number;
  if (op >= 1 && op <= 0x4b) len = op;
  else if (op === 0x4c && s.length >= 3) { len = s[2]!; start = 3; }
  else if (op === 0x4d && s.length >= 4) { len = s[2]! | (s[3]! << 8); start = 4; }
  else return undefined;
  return start + len === s.length ? s.subarray(start) : undefined;
}

/** The first output whose OP_RETURN data is a decodable Colu payload (or why none is). */
export function findColuOutput(tx: RawTx): { index?: number; data?: Uint8Array; reason?: string } {
  let reason: string | undefined;
  for (let i = 0; i < tx.outputs.length; i++) {
    const data = opReturnData(tx.outputs[i]!.script);
    if (!data || data.length < 4 || data[0] !== 0x43 || data[1] !== 0x43) continue;
    try {
      decodeColuPayload(data);
      return { index: i, data };
    } catch (e) {
      reason ??= `output ${i}: ${e instanceof OffchainError ? e.message : String(e)}`;
    }
  }
  return { reason: reason ?? 'no Colu ("CC") OP_RETURN output' };
}
