/**
 * The credit update's dedicated reader (src/lib/psbt/read.ts readKeyPathSpend), attacked as the
 * mint's counterparty would: for EVERY byte string it either builds exactly the Transaction
 * btc-signer's general `Transaction.fromPSBT` builds (same id, unsigned bytes, fields, options,
 * re-serialised PSBT, BIP-341 sighash of every hash type) or declines, and the general path runs.
 *
 * - property: honest update PSBTs (random keys, amounts, outpoint, sequence, lock time, version
 *   2/3, 1–3 outputs, the BIP-373 fields) mutated byte-wise (flip, insert, delete, append) and
 *   structurally (records inserted from a hostile pool, duplicated, dropped, reordered, moved
 *   between maps, CompactSizes re-encoded non-minimally, the unsigned transaction edited, maps
 *   added); the reader must take many of them, so equal transactions are compared, not only
 *   refusals;
 * - targeted: one case per attack (a second input or output, a sighash type or tap key sig
 *   record, a merkle root, duplicate keys, non-minimal sizes, trailing bytes, a witness_utxo the
 *   internal key does not commit to), and the options cache (per version and lock time, more
 *   than it remembers, a caller mutating what it got back).
 *
 * The oracle is btc-signer's own `fromPSBT`, which shares none of the reader's code.
 */
import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { looksLikePsbt, splitPsbtMaps } from '../../../src/lib/psbt/maps.ts';
import { readKeyPathSpend } from '../../../src/lib/psbt/read.ts';
import { PSBT_TX_OPTS } from '../../../src/lib/psbt/tx-opts.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { selectBackend } from '../../../src/lib/musig/bip327.ts';
import { ALL_BACKENDS, installed } from '../../setup/backends.ts';
import { P, liftX } from '../../independent/secp256k1.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const MAGIC = unhex('70736274ff');

/** Compressed public keys of small secrets (points by construction; the reader's caches see few keys). */
const KEYS = Array.from({ length: 6 }, (_, i) => secp256k1.getPublicKey(unhex((BigInt(i + 2) * 0x1234567n).toString(16).padStart(64, '0')), true));
const xOnly = (k: Uint8Array) => k.slice(1);

type Honest = { version: number; lockTime: number; sequence: number; outpoint: Uint8Array; index: number; amount: bigint; outputs: { amount: bigint; script: Uint8Array }[]; user: number; mint: number };

/** An update request's PSBT as the user sends it: one P2TR key-path input with the MuSig2 fields, empty output maps. */
function honestPsbt(h: Honest): Uint8Array {
  const internal = KEYS[h.user]!; // the aggregate key stands in as any point: the reader reads, it does not aggregate
  const outputKey = taprootOutput(xOnly(internal)).outputKey;
  const tx = new Transaction({ ...PSBT_TX_OPTS, version: h.version, lockTime: h.lockTime });
  tx.addInput({
    txid: h.outpoint, index: h.index, sequence: h.sequence,
    witnessUtxo: { amount: h.amount, script: Uint8Array.of(0x51, 0x20, ...outputKey) },
    tapInternalKey: xOnly(internal),
  });
  for (const o of h.outputs) tx.addOutput(o);
  const key = { participantPubkey: KEYS[h.user]!, aggregatePubkey: KEYS[h.mint]! };
  tx.updateInput(0, {
    musig2ParticipantPubkeys: [[KEYS[h.mint]!, [KEYS[h.user]!, KEYS[h.mint]!]]],
    musig2PubNonce: [[key, Uint8Array.of(...KEYS[h.user]!, ...KEYS[h.mint]!)]],
    musig2PartialSig: [[key, new Uint8Array(32).fill(7)]],
  }, true);
  return tx.toPSBT(0);
}

const scriptArb = fc.constantFrom(
  unhex(`5120${hex(xOnly(KEYS[3]!))}`), unhex(`0014${'11'.repeat(20)}`), unhex(`a914${'22'.repeat(20)}87`), unhex('6a0568656c6c6f'), unhex('51024e73'),
);
const honestArb: fc.Arbitrary<Honest> = fc.record({
  version: fc.constantFrom(2, 3),
  lockTime: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
  sequence: fc.oneof(fc.constant(0xfffffffd), fc.integer({ min: 0, max: 0xffffffff })),
  outpoint: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  index: fc.integer({ min: 0, max: 0xffffffff }),
  amount: fc.bigInt(330n, 10n ** 8n),
  outputs: fc.array(fc.record({ amount: fc.bigInt(0n, 10n ** 8n), script: scriptArb }), { minLength: 1, maxLength: 3 }),
  user: fc.integer({ min: 0, max: 2 }),
  mint: fc.integer({ min: 3, max: 5 }),
});

// ---------------------------------------------------------------------------------------
// The oracle

function attempt<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? hex(x) : x)));
const sorted = (o: object) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** Everything the mint could sign or forward from a transaction: its fields, options, PSBT and sighashes. */
function stateOf(tx: Transaction) {
  const inner = tx as unknown as { global: object; opts: object; inputs: object[]; outputs: object[] };
  const prevouts = inner.inputs.map((i) => (i as { witnessUtxo?: { amount: bigint; script: Uint8Array } }).witnessUtxo);
  const sighash = (type: number) => attempt(() => hex(tx.preimageWitnessV1(0, prevouts.map((p) => p!.script), type, prevouts.map((p) => p!.amount))));
  return {
    id: tx.id, version: tx.version, lockTime: tx.lockTime, unsigned: hex(tx.unsignedTx),
    global: plain(sorted(inner.global)), opts: plain(sorted(inner.opts)),
    // what a holder of the transaction can change: btc-signer freezes its options (toPSBT, signing and finalising re-read them)
    frozen: [inner.opts, inner.global, ...inner.inputs, ...inner.outputs].map((o) => Object.isFrozen(o)),
    inputs: inner.inputs.map((i) => plain(sorted(i))), outputs: inner.outputs.map((o) => plain(sorted(o))),
    psbt: attempt(() => hex(tx.toPSBT())),
    sighashes: prevouts.every(Boolean) ? [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83].map(sighash) : [],
  };
}

const tally = { fast: 0, declined: 0 };
const big32 = (v: bigint) => unhex(v.toString(16).padStart(64, '0'));

/** The invariant, for one byte string; returns whether the dedicated reader took it. */
function expectFastIsGeneral(bytes: Uint8Array): boolean {
  let maps: ReturnType<typeof splitPsbtMaps>;
  try {
    if (!looksLikePsbt(bytes)) throw new Error('parsePsbt refuses it before readPsbt');
    maps = splitPsbtMaps(bytes); // readPsbt's first step: a framing error is thrown before either reader
  } catch {
    tally.declined++;
    return false;
  }
  const fast = readKeyPathSpend(maps, PSBT_TX_OPTS); // it never throws: a throw fails the test here
  if (!fast) {
    tally.declined++;
    return false;
  }
  tally.fast++;
  const general = attempt(() => Transaction.fromPSBT(bytes, PSBT_TX_OPTS));
  expect(typeof general, `the dedicated reader took a PSBT btc-signer refuses (${String(general)}): ${hex(bytes)}`).toBe('object');
  expect(stateOf(fast), hex(bytes)).toEqual(stateOf(general as Transaction));
  return true;
}

// ---------------------------------------------------------------------------------------
// Wire editing (the test's own, from BIP-174)

type Rec = { key: Uint8Array; value: Uint8Array; keyLenWidth?: number; valueLenWidth?: number };

/** A CompactSize, minimal or widened to `width` bytes of prefix + payload (3, 5, 9). */
function compactSize(n: number, width = 0): Uint8Array {
  const w = width || (n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9);
  if (w === 1) return Uint8Array.of(n);
  const out = new Uint8Array(w);
  out[0] = w === 3 ? 0xfd : w === 5 ? 0xfe : 0xff;
  let v = BigInt(n);
  for (let i = 1; i < w; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function mapsOf(bytes: Uint8Array): Rec[][] {
  return splitPsbtMaps(bytes).map((m) => m.map((r) => ({ key: r.key.slice(), value: r.value.slice() })));
}

function serialize(maps: Rec[][]): Uint8Array {
  const parts: number[] = [...MAGIC];
  for (const m of maps) {
    for (const r of m) parts.push(...compactSize(r.key.length, r.keyLenWidth), ...r.key, ...compactSize(r.value.length, r.valueLenWidth), ...r.value);
    parts.push(0);
  }
  return Uint8Array.from(parts);
}

const rec = (key: string, value: string): Rec => ({ key: unhex(key), value: unhex(value) });

/** Records a hostile user might add: each means something to btc-signer or to BIP-174. */
const HOSTILE: Rec[] = [
  rec('03', '01000000'), // sighash type ALL
  rec('03', '83000000'), // sighash type SINGLE|ANYONECANPAY
  rec('13', '11'.repeat(64)), // tap key sig
  rec('18', '22'.repeat(32)), // tap merkle root
  rec('17', hex(xOnly(KEYS[4]!))), // another internal key (a duplicate key when there is one)
  rec(`17${'00'}`, hex(xOnly(KEYS[4]!))), // internal key with key data
  rec('01', `e803000000000000225120${hex(xOnly(KEYS[5]!))}`), // a second witness_utxo
  rec('0100', `e803000000000000225120${hex(xOnly(KEYS[5]!))}`), // witness_utxo with key data
  rec('00', '00'), // non_witness_utxo (garbage)
  rec('04', '51'), // redeem script
  rec('05', '51'), // witness script
  rec('07', ''), // final scriptSig, empty
  rec('08', '00'), // final witness, empty stack
  rec('fb', '00000000'), // PSBT version 0 (global)
  rec('fb', '02000000'), // PSBT version 2
  rec('fc00', ''), // proprietary
  rec('ff', '00'), // unknown
  rec('0e', '11'.repeat(32)), // v2 previous txid
  rec('0f', '00000000'), // v2 output index
  rec('10', 'ffffffff'), // v2 sequence
  rec('11', '00000000'), // required time locktime
  rec('03', '00000000'), // sighash type 0 (DEFAULT) written out
  rec(`1a${hex(KEYS[4]!)}`, `${hex(KEYS[0]!)}${hex(KEYS[4]!)}`), // a second participants record
  rec(`1b${hex(KEYS[1]!)}${hex(KEYS[4]!)}`, '00'.repeat(66)), // a nonce of another pair
  rec(`1c${hex(KEYS[1]!)}${hex(KEYS[4]!)}${'33'.repeat(32)}`, '00'.repeat(32)), // a partial sig with leaf hash
];

type Op =
  | { t: 'flip'; at: number; xor: number }
  | { t: 'insertByte'; at: number; b: number }
  | { t: 'deleteByte'; at: number }
  | { t: 'append'; bytes: Uint8Array }
  | { t: 'addRecord'; map: number; at: number; rec: number }
  | { t: 'dupRecord'; map: number; at: number }
  | { t: 'dropRecord'; map: number; at: number }
  | { t: 'swapRecords'; map: number; at: number }
  | { t: 'moveRecord'; map: number; at: number; to: number }
  | { t: 'widen'; map: number; at: number; which: 'key' | 'value'; width: number }
  | { t: 'addMap'; at: number }
  | { t: 'dropMap'; at: number }
  | { t: 'unsignedEdit'; at: number; bytes: Uint8Array; del: number }
  | { t: 'valueByte'; map: number; at: number; pos: number; xor: number }
  | { t: 'unsignedOverwrite'; at: number; bytes: Uint8Array };

const small = fc.integer({ min: 0, max: 400 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('flip' as const), at: small, xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ t: fc.constant('insertByte' as const), at: small, b: fc.constantFrom(0, 1, 0xfd, 0xfe, 0xff, 0x20) }),
  fc.record({ t: fc.constant('deleteByte' as const), at: small }),
  fc.record({ t: fc.constant('append' as const), bytes: fc.oneof(fc.constant(Uint8Array.of(0)), fc.uint8Array({ minLength: 1, maxLength: 4 })) }),
  fc.record({ t: fc.constant('addRecord' as const), map: small, at: small, rec: fc.integer({ min: 0, max: HOSTILE.length - 1 }) }),
  fc.record({ t: fc.constant('dupRecord' as const), map: small, at: small }),
  fc.record({ t: fc.constant('dropRecord' as const), map: small, at: small }),
  fc.record({ t: fc.constant('swapRecords' as const), map: small, at: small }),
  fc.record({ t: fc.constant('moveRecord' as const), map: small, at: small, to: small }),
  fc.record({ t: fc.constant('widen' as const), map: small, at: small, which: fc.constantFrom('key' as const, 'value' as const), width: fc.constantFrom(3, 5, 9) }),
  fc.record({ t: fc.constant('addMap' as const), at: small }),
  fc.record({ t: fc.constant('dropMap' as const), at: small }),
  fc.record({ t: fc.constant('unsignedEdit' as const), at: small, bytes: fc.uint8Array({ maxLength: 3 }), del: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ t: fc.constant('valueByte' as const), map: small, at: small, pos: small, xor: fc.integer({ min: 1, max: 255 }) }),
  // in place, so the shape mostly survives: outpoint, sequence, amounts, scripts, lock time, version
  { arbitrary: fc.record({ t: fc.constant('unsignedOverwrite' as const), at: small, bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }), weight: 6 },
);

function apply(bytes: Uint8Array, op: Op): Uint8Array {
  const b = [...bytes];
  switch (op.t) {
    case 'flip': if (b.length) b[op.at % b.length]! ^= op.xor; return Uint8Array.from(b);
    case 'insertByte': b.splice(op.at % (b.length + 1), 0, op.b); return Uint8Array.from(b);
    case 'deleteByte': if (b.length) b.splice(op.at % b.length, 1); return Uint8Array.from(b);
    case 'append': return Uint8Array.from([...b, ...op.bytes]);
    default: break;
  }
  let maps: Rec[][];
  try {
    maps = mapsOf(bytes);
  } catch {
    return bytes; // no longer framed: only byte edits apply
  }
  if (!maps.length) return bytes;
  const m = maps[('map' in op ? op.map : 0) % maps.length]!;
  switch (op.t) {
    case 'addRecord': m.splice(op.at % (m.length + 1), 0, { ...HOSTILE[op.rec]! }); break;
    case 'dupRecord': if (m.length) m.splice(op.at % m.length, 0, { ...m[op.at % m.length]! }); break;
    case 'dropRecord': if (m.length) m.splice(op.at % m.length, 1); break;
    case 'swapRecords': if (m.length > 1) { const i = op.at % (m.length - 1); [m[i], m[i + 1]] = [m[i + 1]!, m[i]!]; } break;
    case 'moveRecord': if (m.length) maps[op.to % maps.length]!.push(...m.splice(op.at % m.length, 1)); break;
    case 'widen': if (m.length) { const r = m[op.at % m.length]!; if (op.which === 'key') r.keyLenWidth = op.width; else r.valueLenWidth = op.width; } break;
    case 'addMap': maps.splice(op.at % (maps.length + 1), 0, []); break;
    case 'dropMap': maps.splice(op.at % maps.length, 1); break;
    case 'unsignedEdit': {
      const u = maps[0]!.find((r) => r.key.length === 1 && r.key[0] === 0);
      if (u) { const v = [...u.value]; v.splice(op.at % (v.length + 1), op.del, ...op.bytes); u.value = Uint8Array.from(v); }
      break;
    }
    case 'unsignedOverwrite': {
      const u = maps[0]!.find((r) => r.key.length === 1 && r.key[0] === 0);
      if (u) { const v = u.value.slice(); v.set(op.bytes.subarray(0, Math.max(0, v.length - (op.at % v.length))), op.at % v.length); u.value = v; }
      break;
    }
    case 'valueByte': if (m.length) { const r = m[op.at % m.length]!; if (r.value.length) { const v = r.value.slice(); v[op.pos % v.length]! ^= op.xor; r.value = v; } } break;
  }
  return serialize(maps);
}

// ---------------------------------------------------------------------------------------

describe('readKeyPathSpend: the general path\'s transaction, or none', () => {
  it('every honest update PSBT is taken, and is the general path\'s transaction', () => {
    fc.assert(fc.property(honestArb, (h) => {
      expect(expectFastIsGeneral(honestPsbt(h)), 'an honest update takes the dedicated reader').toBe(true);
    }), { numRuns: 8 });
  });

  it('property: byte-wise and structural mutations of honest updates', () => {
    const before = { ...tally };
    const pool = fc.sample(honestArb, 8).map(honestPsbt);
    fc.assert(fc.property(fc.constantFrom(...pool), fc.array(opArb, { minLength: 1, maxLength: 4 }), (honest, ops) => {
      expectFastIsGeneral(ops.reduce(apply, honest));
    }), { numRuns: 300 });
    // Both outcomes happen often: transactions are compared, not only declines.
    expect(tally.fast - before.fast).toBeGreaterThan(40);
    expect(tally.declined - before.declined).toBeGreaterThan(120);
  });
});

const H: Honest = {
  version: 2, lockTime: 800_000, sequence: 0xfffffffd, outpoint: new Uint8Array(32).fill(0xab), index: 1, amount: 100_000n,
  outputs: [{ amount: 60_000n, script: unhex(`5120${hex(xOnly(KEYS[3]!))}`) }, { amount: 39_000n, script: unhex(`0014${'11'.repeat(20)}`) }],
  user: 0, mint: 3,
};
const HONEST = honestPsbt(H);

/** The honest PSBT with its maps edited. */
function edited(edit: (maps: Rec[][]) => void, from = HONEST): Uint8Array {
  const maps = mapsOf(from);
  edit(maps);
  return serialize(maps);
}

/** The unsigned transaction's bytes edited. */
function unsignedEdited(edit: (u: number[]) => number[]): Uint8Array {
  return edited((maps) => { maps[0]![0]!.value = Uint8Array.from(edit([...maps[0]![0]!.value])); });
}

describe('readKeyPathSpend: targeted attacks', () => {
  const declines = (bytes: Uint8Array) => expect(expectFastIsGeneral(bytes), 'the dedicated reader declines').toBe(false);
  const takes = (bytes: Uint8Array) => expect(expectFastIsGeneral(bytes), 'the dedicated reader takes it').toBe(true);

  it('the honest request is taken', () => takes(HONEST));

  it('records btc-signer interprets, or BIP-174 forbids, in the input map: declined; more BIP-373 records: equal', () => {
    const taken = HOSTILE.filter((r) => expectFastIsGeneral(edited((maps) => maps[1]!.push({ ...r })))).map((r) => hex(r.key).slice(0, 2));
    expect(taken).toEqual(['1a', '1b', '1c']);
  });

  it('duplicate keys (every input record, the unsigned tx), in place and reordered: declined', () => {
    for (let i = 0; i < mapsOf(HONEST)[1]!.length; i++) {
      declines(edited((maps) => maps[1]!.push({ ...maps[1]![i]! })));
      declines(edited((maps) => maps[1]!.unshift({ ...maps[1]![i]!, value: maps[1]![i]!.value.slice() })));
    }
    declines(edited((maps) => maps[0]!.push({ ...maps[0]![0]! })));
  });

  it('reordered input records: the same transaction', () => {
    takes(edited((maps) => maps[1]!.reverse()));
  });

  it('non-minimal CompactSizes (key and value lengths, output count, script length): declined', () => {
    for (let i = 0; i < 5; i++) for (const which of ['keyLenWidth', 'valueLenWidth'] as const) {
      declines(edited((maps) => { maps[1]![i]![which] = 3; }));
    }
    declines(edited((maps) => { maps[0]![0]!.keyLenWidth = 5; }));
    // output count 2 as fd 02 00 (at 46) and the first script length 34 as fd 22 00 (at 46 + 1 + 8)
    declines(unsignedEdited((u) => [...u.slice(0, 46), 0xfd, 0x02, 0x00, ...u.slice(47)]));
    declines(unsignedEdited((u) => [...u.slice(0, 55), 0xfd, 0x22, 0x00, ...u.slice(56)]));
  });

  it('trailing bytes (after the PSBT, after the unsigned tx, an extra empty map): declined', () => {
    for (const tail of [[0], [0, 0], [1], [0x70]]) declines(Uint8Array.from([...HONEST, ...tail]));
    declines(unsignedEdited((u) => [...u, 0]));
    declines(edited((maps) => maps.push([])));
  });

  it('a second input or output smuggled in (without or with its map): declined or equal', () => {
    // A second input: count 2, the first input duplicated.
    declines(unsignedEdited((u) => [...u.slice(0, 4), 2, ...u.slice(5, 46), ...u.slice(5, 46), ...u.slice(46)]));
    declines(edited((maps) => {
      const u = [...maps[0]![0]!.value];
      maps[0]![0]!.value = Uint8Array.from([...u.slice(0, 4), 2, ...u.slice(5, 46), ...u.slice(5, 46), ...u.slice(46)]);
      maps.splice(2, 0, maps[1]!.map((r) => ({ ...r })));
    }));
    // A third output in the unsigned tx without its map; with its map it is a different, honest-shaped PSBT.
    const third = (u: number[]) => [...u.slice(0, 46), 3, ...u.slice(47, -4), ...unhex('e803000000000000016a'), ...u.slice(-4)];
    declines(unsignedEdited(third));
    takes(edited((maps) => { maps[0]![0]!.value = Uint8Array.from(third([...maps[0]![0]!.value])); maps.push([]); }));
    // A witness marker (0x00 0x01) in the unsigned tx.
    declines(unsignedEdited((u) => [...u.slice(0, 4), 0, 1, ...u.slice(4)]));
  });

  it('a scriptSig in the unsigned tx, version 1 / 4 / -1: declined', () => {
    declines(unsignedEdited((u) => [...u.slice(0, 41), 1, 0x51, ...u.slice(42)]));
    for (const v of [[1, 0, 0, 0], [4, 0, 0, 0], [0xff, 0xff, 0xff, 0xff], [2, 0, 0, 0x80]]) declines(unsignedEdited((u) => [...v, ...u.slice(4)]));
  });

  it('sequence, lock time, version 3, outpoint and amounts edited: the general path\'s transaction, its sighash', () => {
    takes(unsignedEdited((u) => [...u.slice(0, 42), 0, 0, 0, 0, ...u.slice(46)]));
    takes(unsignedEdited((u) => [...u.slice(0, -4), 0xff, 0xff, 0xff, 0xff]));
    takes(unsignedEdited((u) => [3, 0, 0, 0, ...u.slice(4)]));
    takes(unsignedEdited((u) => [...u.slice(0, 5), ...new Array(32).fill(0xcd), ...u.slice(37)]));
    takes(unsignedEdited((u) => [...u.slice(0, 47), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...u.slice(55)]));
  });

  it('a witness_utxo the internal key does not commit to (another key, another amount): declined / equal', () => {
    const utxo = (maps: Rec[][]) => maps[1]!.find((r) => r.key.length === 1 && r.key[0] === 0x01)!;
    declines(edited((maps) => { const r = utxo(maps); r.value = Uint8Array.from([...r.value.slice(0, -32), ...xOnly(KEYS[5]!)]); }));
    declines(edited((maps) => { const r = utxo(maps); r.value = Uint8Array.from([...r.value.slice(0, 8), 0x22, 0x00, 0x20, ...r.value.slice(-32)]); }));
    declines(edited((maps) => { const r = utxo(maps); r.value = Uint8Array.from([...r.value, 0]); }));
    // Another amount changes the sighash: the general path's too.
    takes(edited((maps) => { const r = utxo(maps); const v = r.value.slice(); v[0] = 1; r.value = v; }));
    // The internal key not a point (x = 0; x = p).
    for (const x of ['00'.repeat(32), 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f']) {
      declines(edited((maps) => { maps[1]!.find((r) => r.key[0] === 0x17)!.value = unhex(x); }));
    }
  });

  it('the options cache: per version and lock time, beyond what it remembers, not poisoned by a caller', () => {
    for (let lockTime = 0; lockTime < 70; lockTime++) {
      for (const version of [2, 3]) {
        const bytes = unsignedEdited((u) => [version, 0, 0, 0, ...u.slice(4, -4), lockTime, 0, 0, 0]);
        if (lockTime % 16 === 0) takes(bytes);
        const tx = readKeyPathSpend(splitPsbtMaps(bytes), PSBT_TX_OPTS)!;
        expect([tx.version, tx.lockTime]).toEqual([version, lockTime]);
        const fresh = new Transaction({ ...PSBT_TX_OPTS, version, lockTime, PSBTVersion: 0 }) as unknown as { opts: object };
        expect(plain(sorted((tx as unknown as { opts: object }).opts))).toEqual(plain(sorted(fresh.opts)));
        // As on the general path, a holder cannot loosen the checks its later toPSBT/sign run (nor the cache's next answer).
        expect(() => { (tx as unknown as { opts: Record<string, unknown> }).opts.disableScriptCheck = true; }).toThrow(TypeError);
      }
    }
    takes(HONEST);
    // A caller's options object it changes between reads: each read sees the options as they are then.
    const mutable: Record<string, unknown> = { ...PSBT_TX_OPTS };
    for (const lowR of [false, true]) {
      mutable.lowR = lowR;
      const read = readKeyPathSpend(splitPsbtMaps(HONEST), mutable)!;
      expect(plain(sorted((read as unknown as { opts: object }).opts))).toEqual(plain(sorted((Transaction.fromPSBT(HONEST, mutable) as unknown as { opts: object }).opts)));
    }
    // Other options objects (equal in content, or different) get their own validated options.
    const strict = Object.freeze({ ...PSBT_TX_OPTS, allowUnknownOutputs: false });
    const tx = readKeyPathSpend(splitPsbtMaps(HONEST), strict)!;
    expect(plain(sorted((tx as unknown as { opts: object }).opts))).toEqual(plain(sorted((Transaction.fromPSBT(HONEST, strict) as unknown as { opts: object }).opts)));
  });
});

describe('readKeyPathSpend on every backend: keys that are no point (x ≥ p whose x − p is one, x = 0)', () => {
  afterAll(() => selectBackend('noble'));
  // The smallest x − p that lifts, by the independent curve code: on a backend that reduced x
  // mod p, p + x0 would read as a point.
  let x0 = 1n;
  while (liftX(x0) === null) x0++;
  const aliases = [big32(P + x0), big32(0n), big32(2n ** 256n - 1n)];
  for (const backend of ALL_BACKENDS) {
    it(`on ${backend}: the internal key, a MuSig2 participant, an aggregate key: declined, as btc-signer refuses`, async (t) => {
      if (!(await installed(backend))) return t.skip();
      expect((await selectBackend(backend)).engine).toBe(backend);
      expect(expectFastIsGeneral(HONEST)).toBe(true);
      for (const x of aliases) {
        const cases = [
          edited((maps) => { maps[1]!.find((r) => r.key[0] === 0x17)!.value = x; }),
          edited((maps) => { const r = maps[1]!.find((r) => r.key[0] === 0x1a)!; r.value = Uint8Array.from([...r.value.slice(0, 33), 0x02, ...x]); }),
          edited((maps) => { const r = maps[1]!.find((r) => r.key[0] === 0x1b)!; r.key = Uint8Array.from([...r.key.slice(0, 34), 0x03, ...x]); }),
          edited((maps) => { const r = maps[1]!.find((r) => r.key[0] === 0x1c)!; r.key = Uint8Array.from([0x1c, 0x02, ...x, ...r.key.slice(34)]); }),
        ];
        for (const bytes of cases) {
          expect(expectFastIsGeneral(bytes), `${hex(x)} read as a point`).toBe(false);
          expect(attempt(() => Transaction.fromPSBT(bytes, PSBT_TX_OPTS))).toMatch(/^error: /);
        }
      }
    });
  }
});
