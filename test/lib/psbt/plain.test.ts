/**
 * The reader of PSBTs that carry no key (src/lib/psbt/plain.ts) against btc-signer's
 * `Transaction.fromPSBT`, which shares none of its code: for every PSBT it takes, `fromPSBT`
 * accepts it — with the signer checks on and off — and builds the same transaction (version,
 * lock time, unsigned bytes, every input's and output's fields, the re-serialised PSBT), and
 * `readPsbt` returns that transaction; every PSBT it declines goes to `fromPSBT` whole. Built
 * byte by byte here (not by btc-signer, which would not write most of the hostile ones): the
 * honest shape with every kind of output script — keyless ones, bare keys and multisig,
 * OP_RETURN, witness programs of odd lengths, random bytes — every transaction version and
 * count, witness_utxo present or not, amounts past 21 million BTC; then mutated: a record
 * added (another field, key data, a duplicate), a CompactSize made non-minimal, a scriptSig,
 * maps added or dropped, bytes appended.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { toHex } from '../../../src/lib/bytes.ts';
import { splitPsbtMaps } from '../../../src/lib/psbt/maps.ts';
import { isKeylessScript, readPlainPsbt, type PlainPsbt } from '../../../src/lib/psbt/plain.ts';
import { readPsbt } from '../../../src/lib/psbt/read.ts';
import { INSPECT_TX_OPTS, PSBT_TX_OPTS } from '../../../src/lib/psbt/tx-opts.ts';

const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return Uint8Array.from(b); };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return Uint8Array.from(b); };
/** A CompactSize, minimal unless `wide` (then always 0xfd and two bytes: non-minimal below 253). */
const cs = (n: number, wide = false) => (n < 0xfd && !wide ? Uint8Array.of(n) : cat(Uint8Array.of(0xfd), Uint8Array.of(n & 0xff, n >> 8)));
const record = (key: Uint8Array, value: Uint8Array) => cat(cs(key.length), key, cs(value.length), value);
const MAGIC = unhex('70736274ff');

const KEY = unhex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
const X = KEY.subarray(1);
const bytesOf = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** Output scripts of every kind the reader must tell apart. */
const SCRIPTS: Uint8Array[] = [
  cat(Uint8Array.of(0x51, 0x20), X), // P2TR, a point
  cat(Uint8Array.of(0x51, 0x20), bytesOf(32, 0xab)), // P2TR, x of no point
  cat(Uint8Array.of(0x00, 0x14), bytesOf(20, 1)), // P2WPKH
  cat(Uint8Array.of(0x00, 0x20), bytesOf(32, 2)), // P2WSH
  cat(Uint8Array.of(0x00, 0x18), bytesOf(24, 3)), // witness v0 of another length
  unhex('51024e73'), // P2A
  cat(Uint8Array.of(0x52, 0x10), bytesOf(16, 4)), // witness v2
  cat(Uint8Array.of(0x60, 0x28), bytesOf(40, 5)), // witness v16, 40 bytes
  cat(Uint8Array.of(0x51, 0x29), bytesOf(41, 6)), // 41 bytes: no witness program
  cat(Uint8Array.of(0xa9, 0x14), bytesOf(20, 7), Uint8Array.of(0x87)), // P2SH
  cat(Uint8Array.of(0x76, 0xa9, 0x14), bytesOf(20, 8), Uint8Array.of(0x88, 0xac)), // P2PKH
  cat(Uint8Array.of(0x21), KEY, Uint8Array.of(0xac)), // bare key
  cat(Uint8Array.of(0x51, 0x21), KEY, Uint8Array.of(0x51, 0xae)), // bare 1-of-1 multisig
  cat(Uint8Array.of(0x20), X, Uint8Array.of(0xac)), // a taproot leaf's key script
  unhex('6a0568656c6c6f'), // OP_RETURN
  new Uint8Array(0),
];

const KEYLESS = SCRIPTS.filter(isKeylessScript);
const script = fc.oneof({ arbitrary: fc.constantFrom(...KEYLESS), weight: 6 }, { arbitrary: fc.constantFrom(...SCRIPTS), weight: 2 }, { arbitrary: fc.uint8Array({ maxLength: 45 }), weight: 1 });
const amount = fc.oneof(fc.bigInt({ min: 0n, max: 100_000_000n }), fc.constantFrom(2_100_000_000_000_000n, 2_100_000_000_000_001n, 2n ** 64n - 1n));
const txInput = fc.record({ txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), index: fc.integer({ min: 0, max: 0xffffffff }), sequence: fc.integer({ min: 0, max: 0xffffffff }), utxo: fc.option(fc.record({ amount, script }), { nil: undefined }) });
const shape = fc.record({
  version: fc.oneof({ arbitrary: fc.constantFrom(1, 2, 3), weight: 6 }, { arbitrary: fc.constantFrom(0, 4, -1, 0x7fffffff), weight: 1 }),
  lockTime: fc.integer({ min: 0, max: 0xffffffff }),
  inputs: fc.array(txInput, { minLength: 1, maxLength: 4 }),
  outputs: fc.array(fc.record({ amount, script }), { minLength: 1, maxLength: 4 }),
});
type Shape = typeof shape extends fc.Arbitrary<infer T> ? T : never;

const MUTATIONS = [
  'none', 'a sighash type record', 'witness_utxo with key data', 'witness_utxo twice', 'an unknown input record', 'an output record', 'a global version 2',
  'a non-minimal output count', 'a non-minimal script length', 'a scriptSig', 'a map added', 'a map dropped', 'a byte appended', 'witness_utxo cut short', 'no output',
] as const;

function build(s: Shape, mutation: (typeof MUTATIONS)[number]): Uint8Array {
  const ins = s.inputs.map((i) => cat(Uint8Array.from(i.txid).reverse(), u32(i.index), cs(0), u32(i.sequence)));
  if (mutation === 'a scriptSig') ins[0] = cat(ins[0]!.subarray(0, 36), Uint8Array.of(1, 0x51), ins[0]!.subarray(37));
  const outs = s.outputs.map((o) => cat(u64(o.amount), cs(o.script.length, mutation === 'a non-minimal script length'), o.script));
  const outCount = mutation === 'no output' ? 0 : outs.length;
  const unsigned = cat(u32(s.version), cs(ins.length), ...ins, cs(outCount, mutation === 'a non-minimal output count'), ...(mutation === 'no output' ? [] : outs), u32(s.lockTime));
  let global = record(Uint8Array.of(0x00), unsigned);
  if (mutation === 'a global version 2') global = cat(global, record(Uint8Array.of(0xfb), u32(2)));
  const inputMaps = s.inputs.map((i, n) => {
    let map = new Uint8Array(0);
    if (i.utxo) {
      let value = cat(u64(i.utxo.amount), cs(i.utxo.script.length), i.utxo.script);
      if (n === 0 && mutation === 'witness_utxo cut short') value = value.subarray(0, value.length - 1);
      map = record(Uint8Array.of(0x01), value);
      if (n === 0 && mutation === 'witness_utxo twice') map = cat(map, map);
      if (n === 0 && mutation === 'witness_utxo with key data') map = record(Uint8Array.of(0x01, 0x00), value);
    }
    if (n === 0 && mutation === 'a sighash type record') map = cat(map, record(Uint8Array.of(0x03), u32(1)));
    if (n === 0 && mutation === 'an unknown input record') map = cat(map, record(Uint8Array.of(0x99), Uint8Array.of(1)));
    return cat(map, Uint8Array.of(0));
  });
  const outputMaps = Array.from({ length: outCount }, (_, o) => (o === 0 && mutation === 'an output record' ? cat(record(Uint8Array.of(0x00), Uint8Array.of(0x51)), Uint8Array.of(0)) : Uint8Array.of(0)));
  let maps = [cat(global, Uint8Array.of(0)), ...inputMaps, ...outputMaps];
  if (mutation === 'a map added') maps.push(Uint8Array.of(0));
  if (mutation === 'a map dropped') maps = maps.slice(0, -1);
  const psbt = cat(MAGIC, ...maps);
  return mutation === 'a byte appended' ? cat(psbt, Uint8Array.of(0)) : psbt;
}

const hexed = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? toHex(x) : x)));

/** What a reading of the PSBT is made of: the members decode.ts and views.ts read, and the PSBT written back. */
function stateOf(tx: Transaction | PlainPsbt) {
  const sorted = (o: object) => hexed(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));
  return {
    version: tx.version,
    lockTime: tx.lockTime,
    unsignedTx: toHex(tx.unsignedTx),
    inputs: Array.from({ length: tx.inputsLength }, (_, i) => sorted(tx.getInput(i))),
    outputs: Array.from({ length: tx.outputsLength }, (_, o) => sorted(tx.getOutput(o))),
  };
}

const tally = { taken: 0, declined: 0, declinedButValid: 0 };

function check(bytes: Uint8Array): void {
  let maps;
  try {
    maps = splitPsbtMaps(bytes);
  } catch {
    return; // framing: no reader sees it
  }
  const plain = readPlainPsbt(maps);
  for (const opts of [PSBT_TX_OPTS, INSPECT_TX_OPTS]) {
    let theirs: Transaction | Error;
    try {
      theirs = Transaction.fromPSBT(bytes, opts);
    } catch (e) {
      theirs = e as Error;
    }
    if (!plain) {
      if (!(theirs instanceof Error)) tally.declinedButValid++;
      continue;
    }
    expect(theirs instanceof Error ? theirs.message : 'accepted', `taken where btc-signer refuses: ${toHex(bytes)}`).toBe('accepted');
    const expected = stateOf(theirs as Transaction);
    expect(stateOf(plain)).toEqual(expected);
    const ours = readPsbt(bytes, opts);
    expect(stateOf(ours)).toEqual(expected);
    expect(toHex(ours.toPSBT())).toBe(toHex((theirs as Transaction).toPSBT()));
    expect((ours as unknown as { opts: unknown }).opts).toEqual((theirs as unknown as { opts: unknown }).opts);
  }
  if (plain) tally.taken++;
  else tally.declined++;
}

describe('readPlainPsbt takes only what fromPSBT reads, and reads it as fromPSBT does', () => {
  it('honest and mutated plain PSBTs, every kind of script', () => {
    fc.assert(fc.property(shape, fc.oneof({ arbitrary: fc.constant(MUTATIONS[0]), weight: 3 }, { arbitrary: fc.constantFrom(...MUTATIONS), weight: 2 }), (s, m) => check(build(s, m))), { numRuns: 2500 });
    // Both sides exercised: many taken (so whole transactions are compared), many declined.
    expect(tally.taken).toBeGreaterThan(300);
    expect(tally.declined).toBeGreaterThan(300);
    // Declined yet valid: the shapes left to btc-signer on purpose (another record, a bare key script).
    expect(tally.declinedButValid).toBeGreaterThan(50);
  });

  it('each mutation of an honest plain PSBT is declined', () => {
    const honest: Shape = { version: 2, lockTime: 0, inputs: [{ txid: bytesOf(32, 0xe0), index: 1, sequence: 0xfffffffd, utxo: { amount: 100_000n, script: SCRIPTS[0]! } }], outputs: [{ amount: 99_000n, script: SCRIPTS[2]! }] };
    expect(readPlainPsbt(splitPsbtMaps(build(honest, 'none')))).toBeDefined();
    for (const m of MUTATIONS.filter((x) => x !== 'none' && x !== 'a byte appended')) {
      expect(readPlainPsbt(splitPsbtMaps(build(honest, m))), m).toBeUndefined();
    }
    // A byte appended is a map of its own (splitPsbtMaps): one map too many.
    expect(readPlainPsbt(splitPsbtMaps(build(honest, 'a byte appended')))).toBeUndefined();
  });

  it('a witness_utxo paying a script that holds a key is left to btc-signer (its signer check refuses bare keys)', () => {
    for (const s of SCRIPTS) {
      const psbt = build({ version: 2, lockTime: 0, inputs: [{ txid: bytesOf(32, 1), index: 0, sequence: 0, utxo: { amount: 1n, script: s } }], outputs: [{ amount: 1n, script: SCRIPTS[2]! }] }, 'none');
      expect(readPlainPsbt(splitPsbtMaps(psbt)) !== undefined, toHex(s)).toBe(isKeylessScript(s));
      check(psbt);
    }
  });
});
