/**
 * The lean BIP-174 map reader (src/lib/psbt/lean.ts): version 0 framing only, strict.
 * What it reads must be what the full map scanner (parse.ts `splitPsbtMaps`) reads, record
 * for record; what it refuses is one `MalformedInputError('E_MALFORMED_PSBT')` with a
 * one-line reason; random bytes and mutations of valid PSBTs never make it throw anything
 * else, or hang.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hex } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { loadVector } from '../../helpers.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { musigKey } from '../../../src/lib/musig/keyagg.ts';
import { setMusigParticipants } from '../../../src/lib/musig/psbt-keypath.ts';
import { readLeanPsbt, type LeanPsbt } from '../../../src/lib/psbt/lean.ts';
import { splitPsbtMaps } from '../../../src/lib/psbt/parse.ts';
import { encodeMaps, rawMaps, type RawRecord } from './raw.ts';
import { applyMutations, byteMutation } from '../../fuzz.ts';

const alice = keyPair(fromHex('11'.repeat(32)));
const bob = keyPair(fromHex('22'.repeat(32)));

/** A one-input MuSig2 key-path spend with two outputs, as a PSBT (hex). */
function musigSpend(): string {
  const tx = new Transaction({ version: 2 });
  const script = musigKey([alice.publicKey, bob.publicKey]).output.script;
  tx.addInput({ txid: 'aa'.repeat(32), index: 1, sequence: 0xfffffffd, witnessUtxo: { script, amount: 100_000n } });
  tx.addOutput({ script: fromHex('0014' + '33'.repeat(20)), amount: 60_000n });
  tx.addOutput({ script: fromHex('0014' + '44'.repeat(20)), amount: 39_000n });
  setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]);
  return hex.encode(tx.toPSBT());
}

const SPEND = musigSpend();

function refusal(bytes: Uint8Array): MalformedInputError {
  try {
    readLeanPsbt(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedInputError);
    const err = e as MalformedInputError;
    expect(err.code).toBe('E_MALFORMED_PSBT');
    expect(err.message).not.toContain('\n');
    return err;
  }
  throw new Error(`readLeanPsbt accepted ${hex.encode(bytes)}`);
}

/** The lean reader's maps in the shape of the full scanner's, for comparison. */
function asScanned(psbt: LeanPsbt) {
  return [psbt.global, ...psbt.inputs, ...psbt.outputs].map((map) => map.map((r) => [r.keyType, toHex(r.keyData), toHex(r.value)]));
}

/** The lean reader's records written back in the order read (./raw.ts): the input again, byte for byte. */
function reencoded(psbt: LeanPsbt): string {
  return encodeMaps([psbt.global, ...psbt.inputs, ...psbt.outputs].map((map) => map.map((r) => ({ type: r.keyType, keyData: toHex(r.keyData), value: toHex(r.value) }))));
}

function scanned(bytes: Uint8Array) {
  return splitPsbtMaps(bytes).map((map) => map.map((r) => [r.keyType, toHex(r.keyData), toHex(r.value)]));
}

const withMaps = (edit: (maps: RawRecord[][]) => RawRecord[][]) => fromHex(encodeMaps(edit(rawMaps(SPEND))));

describe('readLeanPsbt: what it reads', () => {
  it('reads the global map, one map per input and output, and the unsigned transaction', () => {
    const bytes = fromHex(SPEND);
    const psbt = readLeanPsbt(bytes);
    expect(psbt.inputs).toHaveLength(1);
    expect(psbt.outputs).toHaveLength(2);
    expect(psbt.unsignedTx.inputs[0]!.index).toBe(1);
    expect(psbt.unsignedTx.outputs.map((o) => o.amount)).toEqual([60_000n, 39_000n]);
    expect(toHex(psbt.unsignedTxBytes)).toBe(rawMaps(SPEND)[0]!.find((r) => r.type === 0)!.value);
    expect(psbt.inputs[0]!.map((r) => r.keyType)).toEqual(rawMaps(SPEND)[1]!.map((r) => r.type));
    expect(asScanned(psbt)).toEqual(scanned(bytes));
  });

  // The vectors it refuses, each with the reason it gives: nothing else may be refused.
  const REFUSED_VECTORS: Record<string, string> = {
    'PSBT with global unsigned tx that has 0 inputs and 0 outputs': 'PSBT_GLOBAL_UNSIGNED_TX has no inputs',
    'PSBT with 0 inputs': 'PSBT_GLOBAL_UNSIGNED_TX has no inputs',
  };

  it('reads every version 0 BIP-174 vector (valid, or failing signer checks) record for record as the full scanner does, and byte for byte', () => {
    const vectors = loadVector('bips/bip-0174/psbt-test-vectors.json');
    const refused: Record<string, string> = {};
    let read = 0;
    for (const c of [...vectors.valid.cases, ...vectors.fails_signer_checks.cases] as { description: string; hex: string }[]) {
      const bytes = hex.decode(c.hex);
      let psbt: LeanPsbt;
      try {
        psbt = readLeanPsbt(bytes);
      } catch (e) {
        refused[c.description] = refusal(bytes).message;
        continue;
      }
      expect(asScanned(psbt)).toEqual(scanned(bytes));
      expect(reencoded(psbt)).toBe(c.hex);
      read++;
    }
    expect(refused).toEqual(REFUSED_VECTORS);
    expect(read).toBe(vectors.valid.cases.length + vectors.fails_signer_checks.cases.length - Object.keys(REFUSED_VECTORS).length);
  });

  it('accepts an explicit PSBT_GLOBAL_VERSION 0, and keeps unknown records for the caller to judge', () => {
    const bytes = withMaps((m) => [[...m[0]!, { type: 0xfb, keyData: '', value: '00000000' }, { type: 0x42, keyData: 'ab', value: 'cd' }], ...m.slice(1)]);
    const psbt = readLeanPsbt(bytes);
    expect(psbt.global.map((r) => r.keyType)).toEqual([0x00, 0xfb, 0x42]);
  });
});

describe('readLeanPsbt: what it refuses (E_MALFORMED_PSBT, one line)', () => {
  const global = (m: RawRecord[][]) => m[0]!;
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['no magic bytes', () => fromHex('00' + SPEND.slice(10)), /magic bytes/],
    ['base64 text', () => new TextEncoder().encode('cHNidP8BAH0CAAAA'), /magic bytes/],
    ['nothing after the magic', () => fromHex('70736274ff'), /truncated/],
    ['a duplicate key in the global map', () => withMaps((m) => [[...global(m), { type: 0x42, keyData: '', value: '01' }, { type: 0x42, keyData: '', value: '02' }], ...m.slice(1)]), /the global map: duplicate key 42/],
    ['a duplicate key in an input map', () => withMaps((m) => [m[0]!, [...m[1]!, m[1]![0]!], ...m.slice(2)]), /input map 0: duplicate key/],
    ['a duplicate key in an output map', () => withMaps((m) => [...m.slice(0, 3), [{ type: 0x42, keyData: '00', value: '' }, { type: 0x42, keyData: '00', value: '01' }]]), /output map 1: duplicate key 4200/],
    ['one output map missing', () => withMaps((m) => m.slice(0, 3)), /truncated: output map 1 is missing/],
    ['every input and output map missing', () => withMaps((m) => m.slice(0, 1)), /truncated: input map 0/],
    ['an extra, empty map after the outputs (which btc-signer tolerates)', () => withMaps((m) => [...m, []]), /1 byte\(s\) follow the last output map/],
    ['an extra map with a record', () => withMaps((m) => [...m, [{ type: 0x01, keyData: '', value: '00' }]]), /follow the last output map/],
    ['no unsigned transaction', () => withMaps((m) => [global(m).filter((r) => r.type !== 0), ...m.slice(1)]), /no PSBT_GLOBAL_UNSIGNED_TX/],
    ['key data on the unsigned transaction', () => withMaps((m) => [global(m).map((r) => ({ ...r, keyData: '00' })), ...m.slice(1)]), /must have no key data/],
    ['an unsigned transaction that does not parse', () => withMaps((m) => [[{ type: 0, keyData: '', value: '0200000001' }], ...m.slice(1)]), /is not a transaction/],
    ['an unsigned transaction with a scriptSig', () => withMaps((m) => [[{ type: 0, keyData: '', value: withScriptSig(global(m)[0]!.value) }], ...m.slice(1)]), /input 0 of PSBT_GLOBAL_UNSIGNED_TX has a non-empty scriptSig/],
    ['an unsigned transaction in the witness serialization', () => withMaps((m) => [[{ type: 0, keyData: '', value: withWitness(global(m)[0]!.value) }], ...m.slice(1)]), /witness serialization/],
    ['PSBT version 2', () => new Transaction({ version: 2, PSBTVersion: 2 }).toPSBT(2), /PSBT version 2 is not read here/],
    ['PSBT_GLOBAL_VERSION 1', () => withMaps((m) => [[...global(m), { type: 0xfb, keyData: '', value: '01000000' }], ...m.slice(1)]), /PSBT version 1/],
    ['PSBT_GLOBAL_VERSION of 3 bytes', () => withMaps((m) => [[...global(m), { type: 0xfb, keyData: '', value: '000000' }], ...m.slice(1)]), /PSBT_GLOBAL_VERSION is not a 4-byte integer/],
    ['a non-minimal key length', () => fromHex(SPEND.replace(/^70736274ff01/, '70736274fffd0100')), /not minimally encoded/],
    ['a key whose key type runs past the key', () => fromHex(`70736274ff01fd00`), /does not start with a valid key type/],
    ['a value running past the end', () => fromHex(SPEND.slice(0, 30)), /truncated/],
  ];
  it.each(cases)('%s', (_name, bytes, message) => {
    expect(refusal(bytes()).message).toMatch(message);
  });

  it('refuses every truncation of a valid PSBT', () => {
    const bytes = fromHex(SPEND);
    for (let n = 0; n < bytes.length; n++) refusal(bytes.subarray(0, n));
  });
});

/** The first input's scriptSig set to OP_TRUE (legacy serialization, one input). */
function withScriptSig(txHex: string): string {
  // version(4) | count(1) | txid(32) index(4) | scriptSig length …
  const at = (4 + 1 + 36) * 2;
  expect(txHex.slice(at, at + 2)).toBe('00');
  return txHex.slice(0, at) + '0151' + txHex.slice(at + 2);
}

/** The same transaction in the BIP-144 serialization, with one witness item on input 0. */
function withWitness(txHex: string): string {
  const body = txHex.slice(8, -8);
  return txHex.slice(0, 8) + '0001' + body + '0101ff' + txHex.slice(-8);
}

// ---------------------------------------------------------------------------------------
// Robustness

const mutation = byteMutation({ setValues: [0x00, 0x01, 0xfc, 0xfd, 0xfe, 0xff] });

let read = 0;

/**
 * Read or refuse; whatever is read, the full scanner reads the same records, and writing
 * those records back reproduces the input byte for byte (strict framing leaves no
 * other spelling: minimal sizes, nothing after the last map).
 */
function exercise(bytes: Uint8Array): void {
  let psbt: LeanPsbt | undefined;
  try {
    psbt = readLeanPsbt(bytes);
  } catch (e) {
    if (!(e instanceof MalformedInputError)) throw new Error(`unexpected ${String(e)} for ${hex.encode(bytes)}`);
    expect(e.code).toBe('E_MALFORMED_PSBT');
    expect(e.message).not.toContain('\n');
  }
  if (psbt) {
    read++;
    expect(asScanned(psbt)).toEqual(scanned(bytes));
    expect(reencoded(psbt)).toBe(hex.encode(bytes));
  }
}

describe('readLeanPsbt: robustness', () => {
  const seeds = [fromHex(SPEND), ...(loadVector('bips/bip-0373/musig2-psbt-test-vectors.json').valid.cases as { hex: string }[]).map((c) => hex.decode(c.hex))];

  it('random bytes, with and without the magic: read or E_MALFORMED_PSBT', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 400 }), (magic, body) => {
        exercise(magic ? new Uint8Array([0x70, 0x73, 0x62, 0x74, 0xff, ...body]) : body);
      }),
      { numRuns: 3000 },
    );
  });

  it('mutations of valid PSBTs: read (as the full scanner reads them, and byte for byte) or E_MALFORMED_PSBT', () => {
    const before = read;
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, mutations) => {
        exercise(applyMutations(seed, mutations));
      }),
      { numRuns: 4000 },
    );
    // Mutations inside values (amounts, keys, nonces) keep the framing: the checks on what
    // was read must have run on many of them.
    expect(read - before).toBeGreaterThan(200);
  });
});
