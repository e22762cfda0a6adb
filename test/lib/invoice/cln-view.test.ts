/**
 * `invoice decode --cln` (src/lib/invoice/cln-view.ts) prints what Core Lightning's
 * `lightning-cli decode` printed for the same strings: CLN v26.06's own decodes, captured in
 * fixtures/invoice/cln/, are the expected values, whole (toEqual) — names, types, DER
 * signature, nested payinfo, the 7200 s default and CLN's offer_id (SHA-256 of the offer's
 * TLV records: a Merkle root, as the signature uses, does not match). The live comparison,
 * over every variant a node writes, is test/regtest/invoice-cln.test.ts's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clnDecodeText, clnOfferId } from '../../../src/lib/invoice/cln-view.ts';
import { decodeInvoiceText } from '../../../src/lib/invoice/messages.ts';
import { ROOT } from '../../helpers.ts';

const fixture = (f: string) => readFileSync(join(ROOT, 'fixtures/invoice', f), 'utf8').trim();

describe('invoice decode --cln: CLN\'s decode, field for field', () => {
  for (const [text, cln] of [['regtest.bolt11', 'cln/regtest.bolt11.json'], ['regtest.bolt12', 'cln/regtest.bolt12.json']] as const) {
    it(`${text}: equals CLN's decode of it`, () => {
      const expected = JSON.parse(fixture(cln));
      const ours = decodeInvoiceText(fixture(text), { now: expected.created_at ?? expected.invoice_created_at }).message;
      const printed = clnDecodeText(ours);
      expect(JSON.parse(printed)).toEqual(expected);
      // Integers beyond 2^53 are written exactly, as CLN writes them.
      if (text === 'regtest.bolt12') expect(printed).toContain('"htlc_maximum_msat": 2100000000000000000');
    });
  }

  it('offer_id: the offer and the invoice fetched from it give CLN\'s id', () => {
    const id = JSON.parse(fixture('cln/regtest.bolt12.json')).offer_id;
    expect(clnOfferId(fixture('regtest.offer'))).toBe(id);
    expect(clnOfferId(fixture('regtest.bolt12'))).toBe(id);
  });
});
