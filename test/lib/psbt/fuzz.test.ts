/**
 * Robustness: random bytes and random mutations of the valid vectors (bit flips, truncation,
 * appended, inserted and deleted bytes, overwritten length prefixes) either parse or throw
 * MalformedInputError — never another exception type, never a hang. Whatever parses must
 * also decode, analyze and serialise, and what it serialises to must hold the same records
 * as the input, map by map (read with the independent reader in ./raw.ts): a parser that
 * accepted bytes by dropping or inventing fields would fail here, not only one that threw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hex } from '@scure/base';
import { loadVector } from '../../helpers.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { stringifyLine } from '../../../src/lib/json.ts';
import { analyzePsbt } from '../../../src/lib/psbt/analyze.ts';
import { decodePsbt } from '../../../src/lib/psbt/decode.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { PSBT_MAGIC } from '../../../src/lib/constants.ts';
import { applyMutations, byteMutation } from '../../fuzz.ts';
import { rawMaps, recordSet } from './raw.ts';

const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const bip373 = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');
const seeds: Uint8Array[] = [
  ...bip174.valid.cases,
  ...bip174.fails_signer_checks.cases,
  ...bip373.valid.cases,
  ...bip174.role_workflow.steps.filter((s: { expected_psbt?: unknown }) => s.expected_psbt).map((s: { expected_psbt: unknown }) => s.expected_psbt),
].map((c: { hex: string }) => hex.decode(c.hex));


let accepted = 0;

/**
 * What an accepted PSBT re-serialises to: the same records in every map (btc-signer
 * writes them in its own key order), the same number of maps, and a fixed point — and
 * the only maps it may drop are empty ones after the last output map (bip174js's
 * tolerated extra map; see the report on zero-input PSBTs below).
 */
function expectSameRecords(input: Uint8Array, output: Uint8Array, inputs: number, outputs: number): void {
  const before = rawMaps(hex.encode(input)).map(recordSet);
  const after = rawMaps(hex.encode(output)).map(recordSet);
  const expected = 1 + inputs + outputs;
  expect(after).toEqual(before.slice(0, expected));
  const extra = before.slice(expected);
  expect(extra.every((map) => map.length === 0), `records after the last output map of ${hex.encode(input)}`).toBe(true);
  // Known: btc-signer (so parsePsbt) accepts two trailing empty maps when the unsigned
  // transaction has no inputs and no outputs; one is the documented tolerance otherwise.
  if (inputs + outputs > 0) expect(extra.length, hex.encode(input)).toBeLessThanOrEqual(1);
  expect(hex.encode(serializePsbt(parsePsbt(output, { scriptChecks: false })))).toBe(hex.encode(output));
}

/** Parse; on success exercise every reader and check the round trip. Any throw other than MalformedInputError fails. */
function exercise(bytes: Uint8Array, scriptChecks: boolean): void {
  let tx: ReturnType<typeof parsePsbt> | undefined;
  try {
    tx = parsePsbt(bytes, { scriptChecks });
  } catch (e) {
    if (!(e instanceof MalformedInputError)) {
      throw new Error(`unexpected ${e instanceof Error ? e.constructor.name : typeof e} for ${hex.encode(bytes)}: ${String(e)}`);
    }
    expect(e.code).toBe('E_MALFORMED_PSBT');
    expect(e.message).not.toContain('\n');
  }
  if (tx) {
    accepted++;
    stringifyLine(decodePsbt(tx, 'regtest', bytes));
    stringifyLine(analyzePsbt(tx));
    expectSameRecords(bytes, serializePsbt(tx), tx.inputsLength, tx.outputsLength);
  }
}

// Length prefixes and compact sizes are the interesting bytes: 0xfd..0xff, 0x00, 0xfc.
const mutation = byteMutation({ setValues: [0x00, 0x01, 0xfc, 0xfd, 0xfe, 0xff], append: true });

describe('fuzz: parsePsbt never throws anything but MalformedInputError', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => exercise(bytes, true)), { numRuns: 2000 });
  });

  it('random bytes after the magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, checks) => exercise(new Uint8Array([...PSBT_MAGIC, ...bytes]), checks)),
      { numRuns: 3000 },
    );
  });

  it('mutations of the valid vectors: accepted ones keep every record', () => {
    const before = accepted;
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (seed, mutations, checks) =>
        exercise(applyMutations(seed, mutations), checks),
      ),
      { numRuns: 4000 },
    );
    // Many mutations (a flipped bit in an amount, a signature, a key) leave a valid PSBT:
    // the round-trip check above must actually have run on some.
    expect(accepted - before).toBeGreaterThan(100);
  });

  it('the unmutated seeds all parse and keep every record (so mutations start from valid PSBTs)', () => {
    // parse.test.ts checks the BIP vectors byte for byte; the role-workflow PSBTs list
    // some records in another order than btc-signer writes them, which BIP-174 allows.
    expect(seeds).toHaveLength(bip174.valid.cases.length + bip174.fails_signer_checks.cases.length + bip373.valid.cases.length + 7);
    for (const seed of seeds) {
      const tx = parsePsbt(seed, { scriptChecks: false });
      expectSameRecords(seed, serializePsbt(tx), tx.inputsLength, tx.outputsLength);
    }
  });
});
