/**
 * Bitcoin transactions read by hand, for the independent verifier: the network
 * serialization (BIP-144 when it has witnesses), txid, wtxid, weight and vsize. Only
 * what a verifier needs; no script interpretation. A PSBT's unsigned transaction and
 * witness UTXOs are read by `psbtUnsignedTx` / `psbtWitnessUtxos` (BIP-174 key-value
 * maps, v0 only), so a test can take prevouts from a PSBT without the product's parser.
 */
import { sha256 } from './secp256k1.ts';

export type TxInput = {
  /** The spent txid as displayed (big-endian hex). */
  txid: string;
  vout: number;
  scriptSig: Uint8Array;
  sequence: number;
  witness: Uint8Array[];
  /** The 36-byte outpoint as serialized (txid little-endian, vout LE). */
  outpoint: Uint8Array;
};
export type TxOutput = { amount: bigint; script: Uint8Array };
export type ParsedTx = {
  version: number;
  lockTime: number;
  inputs: TxInput[];
  outputs: TxOutput[];
  txid: string;
  /** Equals txid when there are no witnesses. */
  wtxid: string;
  weight: number;
  vsize: number;
};

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new Error(`transaction truncated at byte ${this.pos} (wanted ${n} more)`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8 = () => this.bytes(1)[0]!;
  u32 = () => Buffer.from(this.bytes(4)).readUInt32LE(0);
  u64 = () => Buffer.from(this.bytes(8)).readBigUInt64LE(0);
  compactSize(): number {
    const first = this.u8();
    if (first < 0xfd) return first;
    if (first === 0xfd) return Buffer.from(this.bytes(2)).readUInt16LE(0);
    if (first === 0xfe) return this.u32();
    return Number(this.u64());
  }
  varSlice = () => this.bytes(this.compactSize());
}

export function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  const b = Buffer.alloc(5);
  b[0] = 0xfe;
  b.writeUInt32LE(n, 1);
  return new Uint8Array(b);
}

export const u32le = (n: number): Uint8Array => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return new Uint8Array(b);
};
export const u64le = (n: bigint): Uint8Array => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n, 0);
  return new Uint8Array(b);
};
export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
export const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const bytesOf = (hex: string): Uint8Array => {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not hex');
  return new Uint8Array(Buffer.from(hex, 'hex'));
};
const displayHash = (h: Uint8Array): string => hexOf(Uint8Array.from(h).reverse());

/** A transaction output in CTxOut form: amount (8 LE) || compactSize || script. */
export const serializeOutput = (o: TxOutput): Uint8Array => concat(u64le(o.amount), compactSize(o.script.length), o.script);

export function parseTx(raw: Uint8Array | string): ParsedTx {
  // A plain Uint8Array copy: slices of a Buffer would be Buffers, which compare unequal to Uint8Arrays.
  const buf = typeof raw === 'string' ? bytesOf(raw) : new Uint8Array(raw);
  const r = new Reader(buf);
  const version = r.u32();
  let segwit = false;
  if (buf[r.pos] === 0x00) {
    r.bytes(1);
    if (r.u8() !== 0x01) throw new Error('BIP-144 marker without flag 0x01');
    segwit = true;
  }
  const bodyStart = r.pos;
  const inputs: TxInput[] = [];
  const nIn = r.compactSize();
  for (let i = 0; i < nIn; i++) {
    const outpoint = r.bytes(36);
    inputs.push({
      txid: displayHash(outpoint.subarray(0, 32)),
      vout: Buffer.from(outpoint).readUInt32LE(32),
      scriptSig: r.varSlice(),
      sequence: r.u32(),
      witness: [],
      outpoint,
    });
  }
  const outputs: TxOutput[] = [];
  const nOut = r.compactSize();
  for (let i = 0; i < nOut; i++) outputs.push({ amount: r.u64(), script: r.varSlice() });
  const bodyEnd = r.pos;
  if (segwit) {
    for (const input of inputs) {
      const n = r.compactSize();
      for (let j = 0; j < n; j++) input.witness.push(r.varSlice());
    }
    if (inputs.every((i) => i.witness.length === 0)) throw new Error('BIP-144: the witness flag is set but every witness is empty');
  }
  const lockTime = r.u32();
  if (r.pos !== buf.length) throw new Error(`${buf.length - r.pos} bytes after the transaction`);
  const stripped = concat(buf.subarray(0, 4), buf.subarray(bodyStart, bodyEnd), buf.subarray(buf.length - 4));
  const weight = stripped.length * 3 + buf.length;
  return {
    version,
    lockTime,
    inputs,
    outputs,
    txid: displayHash(sha256(sha256(stripped))),
    wtxid: displayHash(sha256(sha256(buf))),
    weight,
    vsize: Math.ceil(weight / 4),
  };
}

/** BIP-174 key-value maps: [global, ...inputs, ...outputs], each a list of {key, value}. */
function psbtMaps(psbt: Uint8Array): { key: Uint8Array; value: Uint8Array }[][] {
  if (hexOf(psbt.subarray(0, 5)) !== '70736274ff') throw new Error('not a PSBT (magic)');
  const r = new Reader(new Uint8Array(psbt.subarray(5)));
  const readMap = () => {
    const map: { key: Uint8Array; value: Uint8Array }[] = [];
    for (;;) {
      const keyLen = r.compactSize();
      if (keyLen === 0) return map;
      const key = r.bytes(keyLen);
      map.push({ key, value: r.varSlice() });
    }
  };
  const global = readMap();
  const unsigned = global.find((kv) => kv.key.length === 1 && kv.key[0] === 0x00);
  if (!unsigned) throw new Error('PSBT v0 without PSBT_GLOBAL_UNSIGNED_TX');
  const tx = parseTx(unsigned.value);
  const maps = [global];
  for (let i = 0; i < tx.inputs.length + tx.outputs.length; i++) maps.push(readMap());
  return maps;
}

/** The unsigned transaction of a v0 PSBT (PSBT_GLOBAL_UNSIGNED_TX). */
export function psbtUnsignedTx(psbt: Uint8Array): ParsedTx {
  const unsigned = psbtMaps(psbt)[0]!.find((kv) => kv.key.length === 1 && kv.key[0] === 0x00)!;
  return parseTx(unsigned.value);
}

/** Every input's PSBT_IN_WITNESS_UTXO (undefined where absent). */
export function psbtWitnessUtxos(psbt: Uint8Array): (TxOutput | undefined)[] {
  const maps = psbtMaps(psbt);
  const n = psbtUnsignedTx(psbt).inputs.length;
  return maps.slice(1, 1 + n).map((map) => {
    const kv = map.find((e) => e.key.length === 1 && e.key[0] === 0x01);
    if (!kv) return undefined;
    const r = new Reader(kv.value);
    const out = { amount: r.u64(), script: r.varSlice() };
    if (r.pos !== kv.value.length) throw new Error('PSBT_IN_WITNESS_UTXO has trailing bytes');
    return out;
  });
}
