/**
 * The other side of the review fixes (review-attacks.test.ts): what the new rules must
 * still accept, where each cap sits exactly, and the decisions the review asked for
 * (duplicate BOLT 11 fields). Invoices are written by test code (fields chosen here,
 * signed with a test key by noble as a writer would); the decoder is only the reader.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { BOLT11_MAX_LENGTH, type Bolt11Field, decodeBolt11 } from '../../../src/lib/invoice/bolt11.ts';
import { BOLT12_MAX_LENGTH, decodeBolt12, decodeBolt12String, encodeBolt12String } from '../../../src/lib/invoice/bolt12.ts';
import { decodeInvoiceText } from '../../../src/lib/invoice/messages.ts';
import { bolt11Payee } from '../../independent/invoice.ts';
import { refusal } from '../../setup/refusal.ts';
import { D, KEY, P, PATH, PAYINFO, PUB, S, T0, bolt11, rec, signed12, tu64 } from './writer.ts';

/** An invoice of `offer` + `request` fields (no signature) with the invoice fields, amount `amount`, signed by `key` as invoice_node_id. */
const invoice = (offer: number[], request: number[], amount: bigint, key = KEY) =>
  signed12('lni', 'invoice', [
    ...rec(0, [1, 2, 3, 4]),
    ...offer,
    ...request,
    ...rec(160, PATH),
    ...rec(162, PAYINFO),
    ...rec(164, tu64(BigInt(T0))),
    ...rec(168, new Array(32).fill(7)),
    ...rec(170, tu64(amount)),
    ...rec(176, [...secp256k1.getPublicKey(key, true)]),
  ], key);

describe('BOLT 11: caps and duplicates', () => {
  it('an invoice of exactly 7089 characters decodes; 7090 is E_INVOICE_TOO_LONG (exit 3)', () => {
    const sized = (n: number) => {
      // Pad with an unknown odd field (tag 2) until the string is n characters long.
      for (let words = 0; words < 1023; words++) {
        const text = bolt11('lnbcrt10u', [P, S, D, { tag: 2, name: 'unknown', words: new Array(words).fill(3) }, { tag: 2, name: 'unknown', words: new Array(1023).fill(3) }, { tag: 2, name: 'unknown', words: new Array(1023).fill(3) }, { tag: 2, name: 'unknown', words: new Array(1023).fill(3) }, { tag: 2, name: 'unknown', words: new Array(1023).fill(3) }, { tag: 2, name: 'unknown', words: new Array(1023).fill(3) }, { tag: 2, name: 'unknown', words: new Array(1023).fill(3) }]);
        if (text.length === n) return text;
      }
      throw new Error(`no invoice of ${n} characters`);
    };
    expect(BOLT11_MAX_LENGTH).toBe(7089);
    const max = sized(7089);
    expect(toHex(decodeBolt11(max).payee)).toBe(bolt11Payee(max));
    refusal(() => decodeBolt11(sized(7090)), 'E_INVOICE_TOO_LONG', 3);
    // Surrounding whitespace does not count (it is trimmed first).
    expect(decodeBolt11(`  ${max}\n`).hrp).toBe('lnbcrt10u');
  });

  it('only ASCII 33-126: a non-breaking space or a Latin-1 letter anywhere is E_INVOICE_BECH32, never folded', () => {
    const text = bolt11('lnbcrt10u', [P, S, D]);
    refusal(() => decodeBolt11(text.slice(0, 20) + '\u00a0' + text.slice(20)), 'E_INVOICE_BECH32', 3);
    refusal(() => decodeBolt11(text.replace('q', '\u0131')), 'E_INVOICE_BECH32', 3); // dotless i
    // Control: the upper-case ASCII form is the same invoice.
    expect(toHex(decodeBolt11(text.toUpperCase()).payee)).toBe(toHex(PUB));
  });

  it('a repeated x, c, 9, d or s: the first is used, every later one is listed under unknown_fields (and the string re-encodes exactly)', () => {
    const fields: Bolt11Field[] = [
      P,
      S,
      D,
      { tag: 6, name: 'expiry', value: 60 },
      { tag: 24, name: 'min_final_cltv_expiry_delta', value: 40 },
      { tag: 6, name: 'expiry', value: 999_999 },
      { tag: 24, name: 'min_final_cltv_expiry_delta', value: 9 },
      { tag: 13, name: 'description', text: 'second' },
      { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x22)) },
      { tag: 5, name: 'features', words: [16, 0] }, // bit 9: var_onion_optin (optional)
      { tag: 5, name: 'features', words: [1, 0, 0] }, // bit 10, unknown and even: refused were it used, ignored as a repeat
    ];
    const text = bolt11('lnbcrt10u', fields);
    const m = decodeInvoiceText(text, { now: T0 + 1 }).message as Record<string, unknown>;
    expect(m).toMatchObject({ expiry: 60, min_final_cltv_expiry_delta: 40, description: 'test', payment_secret: '11'.repeat(32), feature_bits: [9], invoice: text, valid: true });
    expect((m.unknown_fields as { tag: number }[]).map((f) => f.tag)).toEqual([6, 24, 13, 16, 5]);
  });
});

describe('BOLT 12: caps, signer, amount', () => {
  it('a string of exactly BOLT12_MAX_LENGTH characters is parsed; one more is E_BOLT12_TOO_LONG (exit 3)', () => {
    expect(BOLT12_MAX_LENGTH).toBe(110_000);
    const offer = (chars: number) => {
      // An offer with an unknown odd field (type 1000000001) sized so the string is `chars` long, joined by "+" every 1000 characters.
      const base = encodeBolt12String('lno', Uint8Array.from([...rec(10, [120]), ...rec(22, [...PUB])])).length;
      const plain = (pad: number) => encodeBolt12String('lno', Uint8Array.from([...rec(10, [120]), ...rec(22, [...PUB]), ...rec(1_000_000_001, new Array(pad).fill(0))]));
      let pad = Math.floor(((chars - base) * 5) / 8);
      let s = plain(pad);
      const withPluses = (t: string) => t.match(/.{1,1000}/g)!.join('+');
      while (withPluses(s).length < chars) s = plain(++pad);
      while (withPluses(s).length > chars) s = plain(--pad);
      return withPluses(s);
    };
    const exact = offer(BOLT12_MAX_LENGTH);
    // Lengths step by 8 characters per 5 bytes: reach the exact length with spaces after a "+" (allowed there; leading/trailing ones are trimmed).
    const at = (s: string, n: number) => s.replace('+', '+' + ' '.repeat(n - s.length));
    expect(at(exact, BOLT12_MAX_LENGTH).length).toBe(BOLT12_MAX_LENGTH);
    expect(decodeBolt12(at(exact, BOLT12_MAX_LENGTH)).kind).toBe('offer');
    refusal(() => decodeBolt12(at(exact, BOLT12_MAX_LENGTH + 1)), 'E_BOLT12_TOO_LONG', 3);
    // Only ASCII whitespace may follow a "+": a non-breaking space is refused.
    const short = encodeBolt12String('lno', Uint8Array.from([...rec(10, [120]), ...rec(22, [...PUB])]));
    expect(decodeBolt12(`${short.slice(0, 20)}+ \n${short.slice(20)}`).kind).toBe('offer');
    refusal(() => decodeBolt12(`${short.slice(0, 20)}+\u00a0${short.slice(20)}`), 'E_BOLT12_STRING', 3);
  });

  it('an invoice for an offer with offer_paths (no issuer id) signed by the final blinded_node_id of one of them is valid; by another path\'s hop, refused', () => {
    const OTHER = Uint8Array.from(Buffer.alloc(32, 0x42));
    const other = [...secp256k1.getPublicKey(OTHER, true)];
    // Two offer paths: the first ends at `other`, the second passes `other` then ends at PUB (KEY).
    const paths = [...other, ...other, 1, ...other, 0, 0, ...other, ...other, 2, ...other, 0, 0, ...PUB, 0, 0];
    const offer = [...rec(10, [...Buffer.from('coffee')]), ...rec(16, paths)];
    const request = [...rec(82, tu64(5000n)), ...rec(88, other)];
    expect(decodeBolt12(invoice(offer, request, 5000n, KEY)).kind).toBe('invoice'); // the second path's end
    expect(decodeBolt12(invoice(offer, request, 5000n, OTHER)).kind).toBe('invoice'); // the first path's end
    const MALLORY = Uint8Array.from(Buffer.alloc(32, 0x4d));
    refusal(() => decodeBolt12(invoice(offer, request, 5000n, MALLORY)), 'E_BOLT12_NODE_ID', 4);
    // `other` is an intermediate hop of the second path, but the end of the first: a middle hop alone is not enough.
    const onlySecond = [...rec(10, [...Buffer.from('coffee')]), ...rec(16, paths.slice(33 + 33 + 1 + 33 + 2))];
    refusal(() => decodeBolt12(invoice(onlySecond, request, 5000n, OTHER)), 'E_BOLT12_NODE_ID', 4);
  });

  it('without invreq_amount an invoice must ask offer_amount x quantity (msat): exactly that is valid, one msat more or less is E_BOLT12_AMOUNT', () => {
    const offer = [...rec(8, tu64(1000n)), ...rec(10, [...Buffer.from('coffee')]), ...rec(20, tu64(10n)), ...rec(22, [...PUB])];
    const request = [...rec(86, tu64(3n)), ...rec(88, [...PUB])];
    expect(decodeBolt12(invoice(offer, request, 3000n)).fields.invoice_amount).toBe(3000n);
    refusal(() => decodeBolt12(invoice(offer, request, 3001n)), 'E_BOLT12_AMOUNT', 4);
    refusal(() => decodeBolt12(invoice(offer, request, 2999n)), 'E_BOLT12_AMOUNT', 4);
    // An amount in a currency is not compared with msat (the payer converts it; payer_checks says so).
    const inUsd = [...rec(6, [...Buffer.from('USD')]), ...offer];
    expect(decodeBolt12(invoice(inUsd, request, 123_456n)).kind).toBe('invoice');
  });

  it('an invoice for an offer with offer_issuer_id must be signed by that key: invoice_node_id another key is E_BOLT12_NODE_ID, even with a valid signature by it', () => {
    const offer = [...rec(10, [...Buffer.from('coffee')]), ...rec(22, [...PUB])];
    const request = [...rec(82, tu64(5000n)), ...rec(88, [...PUB])];
    expect(decodeBolt12(invoice(offer, request, 5000n, KEY)).kind).toBe('invoice');
    const MALLORY = Uint8Array.from(Buffer.alloc(32, 0x4d));
    // Mallory names herself as invoice_node_id and signs correctly: only the issuer check stands in her way.
    refusal(() => decodeBolt12(invoice(offer, request, 5000n, MALLORY)), 'E_BOLT12_NODE_ID', 4);
  });

  it('an invoice naming the issuer as invoice_node_id but signed by another key, or with one signature bit flipped, is E_BOLT12_SIGNATURE — no node needed', () => {
    const offer = [...rec(10, [...Buffer.from('coffee')]), ...rec(22, [...PUB])];
    const request = [...rec(82, tu64(5000n)), ...rec(88, [...PUB])];
    const body = [
      ...rec(0, [1, 2, 3, 4]),
      ...offer,
      ...request,
      ...rec(160, PATH),
      ...rec(162, PAYINFO),
      ...rec(164, tu64(BigInt(T0))),
      ...rec(168, new Array(32).fill(7)),
      ...rec(170, tu64(5000n)),
      ...rec(176, [...PUB]),
    ];
    expect(decodeBolt12(signed12('lni', 'invoice', body, KEY)).kind).toBe('invoice');
    const MALLORY = Uint8Array.from(Buffer.alloc(32, 0x4d));
    refusal(() => decodeBolt12(signed12('lni', 'invoice', body, MALLORY)), 'E_BOLT12_SIGNATURE', 4);
    const { hrp, bytes } = decodeBolt12String(signed12('lni', 'invoice', body, KEY));
    const flipped = Uint8Array.from(bytes, (b, i) => (i === bytes.length - 1 ? b ^ 1 : b)); // the signature's last byte
    refusal(() => decodeBolt12(encodeBolt12String(hrp, flipped)), 'E_BOLT12_SIGNATURE', 4);
  });

  it('an invoice must ask exactly the request\'s invreq_amount: one msat more or less is E_BOLT12_AMOUNT', () => {
    const offer = [...rec(10, [...Buffer.from('tip jar')]), ...rec(22, [...PUB])]; // no offer_amount: only invreq_amount binds the invoice
    const request = [...rec(82, tu64(5000n)), ...rec(88, [...PUB])];
    expect(decodeBolt12(invoice(offer, request, 5000n)).fields.invoice_amount).toBe(5000n);
    refusal(() => decodeBolt12(invoice(offer, request, 5001n)), 'E_BOLT12_AMOUNT', 4);
    refusal(() => decodeBolt12(invoice(offer, request, 4999n)), 'E_BOLT12_AMOUNT', 4);
  });

  it('the request terms an invoice copies are checked too: a quantity beyond offer_quantity_max is E_BOLT12_QUANTITY, a request amount below the offer\'s E_BOLT12_AMOUNT', () => {
    const offer = [...rec(8, tu64(1000n)), ...rec(10, [...Buffer.from('coffee')]), ...rec(20, tu64(2n)), ...rec(22, [...PUB])];
    refusal(() => decodeBolt12(invoice(offer, [...rec(86, tu64(3n)), ...rec(88, [...PUB])], 3000n)), 'E_BOLT12_QUANTITY', 4);
    refusal(() => decodeBolt12(invoice(offer, [...rec(82, tu64(1999n)), ...rec(86, tu64(2n)), ...rec(88, [...PUB])], 1999n)), 'E_BOLT12_AMOUNT', 4);
    expect(decodeBolt12(invoice(offer, [...rec(82, tu64(2000n)), ...rec(86, tu64(2n)), ...rec(88, [...PUB])], 2000n)).kind).toBe('invoice');
  });
});

describe('property: a character outside ASCII is refused with the string\'s code, wherever it stands', () => {
  const nonAscii = fc.oneof(fc.constantFrom('\u212A', '\u017F', '\u0131', '\u0130'), fc.integer({ min: 0x80, max: 0xffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCharCode(c))); // first: letters that case-fold into ASCII
  const inv11 = bolt11('lnbcrt10u', [P, S, D]);
  const offer = encodeBolt12String('lno', Uint8Array.from([...rec(10, [...Buffer.from('coffee')]), ...rec(22, [...PUB])]));
  it('BOLT 11 (either case): E_INVOICE_BECH32; BOLT 12: E_BOLT12_STRING — replacing or inserting', () => {
    fc.assert(
      fc.property(nonAscii, fc.nat(), fc.boolean(), fc.boolean(), (ch, at, upper, insert) => {
        for (const [text, code] of [[inv11, 'E_INVOICE_BECH32'], [offer, 'E_BOLT12_STRING']] as const) {
          const t = upper ? text.toUpperCase() : text;
          const i = 1 + (at % (t.length - 2)); // not at either end (trimmed whitespace would be another case)
          const bad = t.slice(0, i) + ch + t.slice(insert ? i : i + 1);
          refusal(() => (code === 'E_INVOICE_BECH32' ? decodeBolt11(bad) : decodeBolt12(bad)), code, 3);
        }
      }),
      { numRuns: 300 },
    );
  });
});
