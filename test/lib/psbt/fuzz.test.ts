/**
 * Robustness: random bytes and random mutations of the valid vectors (bit flips, truncation,
 * appended, inserted and deleted bytes, overwritten length prefixes) either parse or throw
 * MalformedInputError — never another exception type, never a hang. Whatever parses must
 * also decode, analyze and serialise without throwing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hex } from '@scure/base';
import { loadVector } from '../../helpers.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { stringifyLine } from '../../../src/lib/json.ts';
import { analyzePsbt } from '../../../src/lib/psbt/analyze.ts';
import { decodePsbt } from '../../../src/lib/psbt/decode.ts';
import { parsePsbt, PSBT_MAGIC, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { applyMutations, byteMutation } from '../../fuzz.ts';

const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const bip373 = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');
const seeds: Uint8Array[] = [
  ...bip174.valid.cases,
  ...bip174.fails_signer_checks.cases,
  ...bip373.valid.cases,
  ...bip174.role_workflow.steps.filter((s: { expected_psbt?: unknown }) => s.expected_psbt).map((s: { expected_psbt: unknown }) => s.expected_psbt),
].map((c: { hex: string }) => hex.decode(c.hex));

const SLOW_MS = 1000;
let slowest = 0;

/** Parse; on success exercise every reader. Any throw other than MalformedInputError fails. */
function exercise(bytes: Uint8Array, scriptChecks: boolean): void {
  const started = performance.now();
  try {
    const tx = parsePsbt(bytes, { scriptChecks });
    stringifyLine(decodePsbt(tx, 'regtest'));
    stringifyLine(analyzePsbt(tx));
    parsePsbt(serializePsbt(tx), { scriptChecks: false });
  } catch (e) {
    if (!(e instanceof MalformedInputError)) {
      throw new Error(`unexpected ${e instanceof Error ? e.constructor.name : typeof e} for ${hex.encode(bytes)}: ${String(e)}`);
    }
    expect(e.code).toBe('E_MALFORMED_PSBT');
    expect(e.message).not.toContain('\n');
  } finally {
    const elapsed = performance.now() - started;
    slowest = Math.max(slowest, elapsed);
    if (elapsed > SLOW_MS) throw new Error(`took ${elapsed.toFixed(0)} ms for ${bytes.length} bytes`);
  }
}

// Length prefixes and compact sizes are the interesting bytes: 0xfd..0xff, 0x00, 0xfc.
const mutation = byteMutation({ setValues: [0x00, 0x01, 0xfc, 0xfd, 0xfe, 0xff], append: true });

describe('fuzz: parsePsbt never throws anything but MalformedInputError', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => exercise(bytes, true)), { numRuns: 1000, seed: 174 });
  });

  it('random bytes after the magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, checks) => exercise(new Uint8Array([...PSBT_MAGIC, ...bytes]), checks)),
      { numRuns: 2000, seed: 370 },
    );
  });

  it('mutations of the valid vectors', () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (seed, mutations, checks) =>
        exercise(applyMutations(seed, mutations), checks),
      ),
      { numRuns: 3000, seed: 373 },
    );
  });

  it('the unmutated seeds all parse (so mutations start from valid PSBTs)', () => {
    for (const seed of seeds) expect(() => parsePsbt(seed, { scriptChecks: false })).not.toThrow();
    expect(slowest).toBeLessThan(SLOW_MS);
  });
});
