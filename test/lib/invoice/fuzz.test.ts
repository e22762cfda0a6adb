/**
 * Both decoders fuzzed (fast-check, the suite's seed): every input ends in exactly one of
 * - a coded refusal (an OffchainError whose code is one of the decoder's, in its exit
 *   class: malformed 3, refused 4), or
 * - an accepted invoice whose re-encoding is the input (lower case, `+` removed), and —
 *   for BOLT 11 — whose payee the independent reader recovers too.
 * Each property counts its outcomes and requires both kinds, so neither branch passes by
 * never running. Inputs: the spec's and Core Lightning's invoices with their words
 * mutated and the checksum made valid again (so the decoder gets past bech32), raw
 * character mutations, and random TLV streams under each BOLT 12 prefix.
 */
import { bech32 } from '@scure/base';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { decodeBolt11, encodeBolt11 } from '../../../src/lib/invoice/bolt11.ts';
import { decodeBolt12, decodeBolt12String, encodeBolt12, encodeBolt12String } from '../../../src/lib/invoice/bolt12.ts';
import { encodeBigSize } from '../../../src/lib/bigsize.ts';
import { ROOT, loadVector, readVectorText } from '../../helpers.ts';
import { bolt11Payee } from '../../independent/invoice.ts';

const BOLT11_CODES: Record<string, number> = {
  E_INVOICE_BECH32: 3,
  E_INVOICE_CHECKSUM: 3,
  E_INVOICE_PREFIX: 3,
  E_INVOICE_AMOUNT: 3,
  E_INVOICE_TRUNCATED: 3,
  E_INVOICE_FIELD: 3,
  E_INVOICE_AMOUNT_RANGE: 4,
  E_INVOICE_MISSING_FIELD: 4,
  E_INVOICE_NON_MINIMAL: 4,
  E_INVOICE_UNKNOWN_FEATURE: 4,
  E_INVOICE_FEATURE_DEPENDENCY: 4,
  E_INVOICE_SIGNATURE: 4,
};
const BOLT12_CODES: Record<string, number> = {
  E_BOLT12_STRING: 3,
  E_BOLT12_TLV: 3,
  E_BOLT12_FIELD: 3,
  E_BOLT12_FIELD_VALUE: 4,
  E_BOLT12_UNKNOWN_FIELD: 4,
  E_BOLT12_FORBIDDEN_FIELD: 4,
  E_BOLT12_MISSING_FIELD: 4,
  E_BOLT12_UNKNOWN_FEATURE: 4,
  E_BOLT12_AMOUNT: 4,
  E_BOLT12_QUANTITY: 4,
  E_BOLT12_EMPTY_PATH: 4,
  E_BOLT12_NO_ROUTE: 4,
  E_BOLT12_SIGNATURE: 4,
  E_BOLT12_NODE_ID: 4,
  E_BOLT12_CHAIN: 4,
};

/** The outcome of one input: 'refused' (coded, in class) or 'accepted' (re-encodes to the input); anything else fails. */
function outcome(decode: () => { reencoded: string; check?: () => void }, expected: string, codes: Record<string, number>): 'accepted' | 'refused' {
  let result: { reencoded: string; check?: () => void };
  try {
    result = decode();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(OffchainError);
    const err = e as OffchainError;
    expect(codes[err.code], `${err.code}: ${err.message}`).toBe(err.exitCode);
    expect(err.message).not.toContain('\n');
    return 'refused';
  }
  expect(result.reencoded).toBe(expected);
  result.check?.();
  return 'accepted';
}

const md = readVectorText('bolts/bolt11/11-payment-encoding.md');
const SPEC_INVOICES = [...md.slice(md.indexOf('\n# Examples\n'), md.indexOf('\n# Examples of Invalid')).matchAll(/^(?:> )?(ln[0-9a-z]{50,})$/gm)].map((m) => m[1]!);
const CLN_INVOICES = [readFileSync(join(ROOT, 'fixtures/invoice/regtest.bolt11'), 'utf8').trim()];
const SEEDS = [...SPEC_INVOICES, ...CLN_INVOICES];

const bolt11 = (text: string) => () => {
  const inv = decodeBolt11(text);
  return { reencoded: encodeBolt11(inv), check: () => expect(toHex(inv.payee)).toBe(bolt11Payee(text)) };
};

describe('BOLT 11 decoder fuzz', () => {
  it('seeds: 15 spec examples (the upper-case one aside) and Core Lightning\'s', () => {
    expect(SPEC_INVOICES.length).toBe(15);
    for (const s of SEEDS) expect(outcome(bolt11(s), s, BOLT11_CODES)).toBe('accepted');
  });

  it('mutated words with a valid checksum again: refused with a code, or accepted and re-encoded exactly (payee = independent recovery)', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS),
        fc.array(fc.oneof(
          fc.record({ kind: fc.constant('set' as const), at: fc.nat(), word: fc.integer({ min: 0, max: 31 }) }),
          fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }) }),
          fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), words: fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 12 }) }),
        ), { minLength: 0, maxLength: 3 }),
        fc.option(fc.constantFrom('lnbc', 'lntb', 'lnbcrt', 'lntbs', 'lnbc1m', 'lnbc20p', 'lnbc0', 'lnxx', 'lnbc2500x'), { nil: undefined }),
        (seed, mutations, hrp) => {
          const d = bech32.decode(seed.toLowerCase() as `${string}1${string}`, false);
          let words = [...d.words];
          for (const m of mutations) {
            const at = m.at % (words.length + 1);
            if (m.kind === 'set' && at < words.length) words[at] = m.word;
            else if (m.kind === 'delete') words = [...words.slice(0, at), ...words.slice(at + m.count)];
            else if (m.kind === 'insert') words = [...words.slice(0, at), ...m.words, ...words.slice(at)];
          }
          const text = bech32.encode(hrp ?? d.prefix, words, false);
          seen[outcome(bolt11(text), text, BOLT11_CODES)]++;
        },
      ),
      { numRuns: 600 },
    );
    expect(seen.accepted).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });

  it('raw character mutations and arbitrary text: a coded refusal, never a crash', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.nat(), fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 3 }), (seed, at, insert, cut) => {
        const i = at % seed.length;
        const text = seed.slice(0, i) + insert + seed.slice(i + cut);
        seen[outcome(bolt11(text), text.toLowerCase(), BOLT11_CODES)]++;
      }),
      { numRuns: 300 },
    );
    fc.assert(fc.property(fc.string({ maxLength: 120 }), (text) => void seen[outcome(bolt11(text), text.toLowerCase(), BOLT11_CODES)]++), { numRuns: 200 });
    expect(seen.refused).toBeGreaterThan(400);
    // An unchanged seed (empty insert, no cut) is accepted.
    expect(seen.accepted).toBeGreaterThan(0);
  });
});

const OFFERS = loadVector<{ bolt12: string; valid: boolean }[]>('bolts/bolt12/offers-test.json');
const SIGNED = [
  loadVector<{ bolt12?: string }[]>('bolts/bolt12/signature-test.json').find((c) => c.bolt12)!.bolt12!,
  readFileSync(join(ROOT, 'fixtures/invoice/regtest.bolt12'), 'utf8').trim(),
  readFileSync(join(ROOT, 'fixtures/invoice/regtest.invreq'), 'utf8').trim(),
];

const bolt12 = (text: string) => () => ({ reencoded: encodeBolt12(decodeBolt12(text)) });

describe('BOLT 12 decoder fuzz', () => {
  it('random TLV streams under lno / lnr / lni (types near the spec\'s, lengths as given): refused with a code, or re-encoded exactly', () => {
    const seen = { accepted: 0, refused: 0 };
    const record = fc.record({
      type: fc.oneof(fc.integer({ min: 0, max: 250 }), fc.constantFrom(1000000001, 1000000033, 2000000001, 3000000001)),
      value: fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.constant(Uint8Array.from(Buffer.from('02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619', 'hex'))),
        fc.constant(new TextEncoder().encode('Test vectors')),
      ),
    });
    fc.assert(
      fc.property(fc.constantFrom('lno', 'lno', 'lnr', 'lni'), fc.array(record, { maxLength: 6 }), fc.boolean(), (hrp, records, sorted) => {
        // An offer with an issuer id, so that some random streams are valid offers.
        const withIssuer = hrp === 'lno' ? [...records, { type: 22, value: Uint8Array.from(Buffer.from('02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619', 'hex')) }] : records;
        const list = sorted ? [...withIssuer].sort((a, b) => a.type - b.type) : withIssuer;
        const bytes = Uint8Array.from(list.flatMap((r) => [...encodeBigSize(BigInt(r.type)), ...encodeBigSize(BigInt(r.value.length)), ...r.value]));
        const text = encodeBolt12String(hrp, bytes);
        seen[outcome(bolt12(text), text, BOLT12_CODES)]++;
      }),
      { numRuns: 800 },
    );
    expect(seen.refused).toBeGreaterThan(100);
    expect(seen.accepted).toBeGreaterThan(5);
  });

  it('mutated valid offers, requests and invoices (bytes flipped, cut, inserted): refused with a code, or re-encoded exactly', () => {
    const seen = { accepted: 0, refused: 0 };
    const seeds = [...OFFERS.filter((c) => c.valid).map((c) => c.bolt12), ...SIGNED];
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.constantFrom('flip', 'cut', 'none'), (seed, at, bit, kind) => {
        const { hrp, bytes: raw } = decodeBolt12String(seed);
        const i = at % Math.max(raw.length, 1);
        const mutated = kind === 'flip' ? Uint8Array.from(raw, (b, j) => (j === i ? b ^ (1 << bit) : b)) : kind === 'cut' ? raw.slice(0, i) : raw;
        const text = encodeBolt12String(hrp, mutated);
        seen[outcome(bolt12(text), text, BOLT12_CODES)]++;
      }),
      { numRuns: 600 },
    );
    expect(seen.refused).toBeGreaterThan(100);
    expect(seen.accepted).toBeGreaterThan(20);
  });
});
