/**
 * Every refusal rule of the invoice decoders, one test each, named after the rule: the
 * one code and its exit class (3 malformed, 4 refused by the spec's rules). BOLT 11
 * invoices are written here by test code — fields chosen by the test, signed with a
 * test key (noble, as a writer would; the verifying side is what is under test) — so
 * each breaks exactly one rule and is otherwise valid (a control case per rule decodes).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { type Bolt11Field, bolt11SigningHash, decodeBolt11, encodeBolt11 } from '../../../src/lib/invoice/bolt11.ts';
import { decodeBolt12, decodeBolt12String, encodeBolt12String } from '../../../src/lib/invoice/bolt12.ts';
import { decodeInvoiceText, invoiceTerms } from '../../../src/lib/invoice/messages.ts';
import { encodeBigSize } from '../../../src/lib/bigsize.ts';
import { bolt11Payee } from '../../independent/invoice.ts';
import { refusal } from '../../setup/refusal.ts';

const KEY = Uint8Array.from(Buffer.from('e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734', 'hex'));
const PAYEE = toHex(secp256k1.getPublicKey(KEY, true));
const words = (hex: string) => {
  const bytes = Buffer.from(hex, 'hex');
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
};
const P: Bolt11Field = { tag: 1, name: 'payment_hash', bytes: Uint8Array.from(Buffer.alloc(32, 1)) };
const S: Bolt11Field = { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x11)) };
const D: Bolt11Field = { tag: 13, name: 'description', text: 'test' };

/** A BOLT 11 invoice of these fields, signed by KEY (high-S when asked). */
function invoice(hrp: string, fields: Bolt11Field[], opts: { highS?: boolean; timestamp?: number } = {}): string {
  const timestamp = opts.timestamp ?? 1_700_000_000;
  const hash = bolt11SigningHash(hrp, timestamp, fields);
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(hash, KEY, { prehash: false, format: 'recovered' }), 'recovered');
  const s = opts.highS ? secp256k1.Point.CURVE().n - sig.s : sig.s;
  const rec = opts.highS ? sig.recovery! ^ 1 : sig.recovery!;
  const rs = Uint8Array.from(Buffer.from(sig.r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0'), 'hex'));
  return encodeBolt11({ hrp, timestamp, fields, signature: rs, recoveryId: rec });
}

describe('BOLT 11 refusals', () => {
  it('control: a regtest invoice of p, s, d and features decodes, signed by the test key (checked independently)', () => {
    const text = invoice('lnbcrt10u', [P, S, D]);
    const inv = decodeBolt11(text);
    expect(toHex(inv.payee)).toBe(PAYEE);
    expect(bolt11Payee(text)).toBe(PAYEE);
    expect(inv.amountMsat).toBe(1_000_000n);
  });

  it('a bad checksum is E_INVOICE_CHECKSUM (3)', () => {
    const text = invoice('lnbcrt10u', [P, S, D]);
    refusal(() => decodeBolt11(text.slice(0, -1) + (text.endsWith('q') ? 'p' : 'q')), 'E_INVOICE_CHECKSUM', 3);
  });

  it('the wrong network for --network is E_NETWORK_MISMATCH (4); testnet4 takes lntb', () => {
    refusal(() => decodeInvoiceText(invoice('lnbcrt10u', [P, S, D]), { network: 'mainnet', now: 0 }), 'E_NETWORK_MISMATCH', 4);
    refusal(() => decodeInvoiceText(invoice('lnbc10u', [P, S, D]), { network: 'regtest', now: 0 }), 'E_NETWORK_MISMATCH', 4);
    expect(decodeInvoiceText(invoice('lntb10u', [P, S, D]), { network: 'testnet4', now: 0 }).network).toBe('testnet4');
    expect(decodeInvoiceText(invoice('lntb10u', [P, S, D]), { now: 0 }).network).toBe('testnet');
  });

  it('an unknown even feature is E_INVOICE_UNKNOWN_FEATURE (4); an unknown odd one is ignored', () => {
    // bit 100 (even) / 101 (odd), plus 8 and 14: 21 words, the top one holding bits 100-104.
    const featureWords = (bit: number) => {
      const w = new Array<number>(21).fill(0);
      for (const b of [8, 14, bit]) w[20 - Math.floor(b / 5)]! |= 1 << b % 5;
      return w;
    };
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 5, name: 'features', words: featureWords(100) }])), 'E_INVOICE_UNKNOWN_FEATURE', 4);
    expect(decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 5, name: 'features', words: featureWords(101) }])).features).toEqual([8, 14, 101]);
  });

  it('a known feature without the one it depends on is E_INVOICE_FEATURE_DEPENDENCY (4)', () => {
    // basic_mpp (17) with payment_secret but without var_onion_optin: bit 14 alone needs 8.
    const w = [0, 0, 0, 0];
    w[3 - Math.floor(14 / 5)]! |= 1 << 14 % 5;
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 5, name: 'features', words: w.slice(1) }])), 'E_INVOICE_FEATURE_DEPENDENCY', 4);
  });

  it('a signature that does not verify: E_INVOICE_SIGNATURE (4) against n; another payee without n', () => {
    const N: Bolt11Field = { tag: 19, name: 'payee', bytes: secp256k1.getPublicKey(KEY, true) };
    const text = invoice('lnbcrt10u', [P, S, D, N]);
    expect(decodeBolt11(text).payeeFrom).toBe('n');
    const inv = decodeBolt11(text);
    const flipped = encodeBolt11({ ...inv, signature: Uint8Array.from(inv.signature, (b, i) => (i === 63 ? b ^ 1 : b)) });
    refusal(() => decodeBolt11(flipped), 'E_INVOICE_SIGNATURE', 4);
    expect(() => bolt11Payee(flipped)).toThrow(/does not verify/);
    // n names a key that did not sign
    const other: Bolt11Field = { tag: 19, name: 'payee', bytes: secp256k1.getPublicKey(Uint8Array.from(Buffer.alloc(32, 7)), true) };
    const forged = invoice('lnbcrt10u', [P, S, D, other]);
    refusal(() => decodeBolt11(forged), 'E_INVOICE_SIGNATURE', 4);
  });

  it('a high-S signature is refused with n (E_INVOICE_SIGNATURE) and recovers the payee without n', () => {
    const N: Bolt11Field = { tag: 19, name: 'payee', bytes: secp256k1.getPublicKey(KEY, true) };
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, N], { highS: true })), 'E_INVOICE_SIGNATURE', 4);
    expect(toHex(decodeBolt11(invoice('lnbcrt10u', [P, S, D], { highS: true })).payee)).toBe(PAYEE);
  });

  it('an amount out of range: above 21 million BTC or below a millisatoshi is E_INVOICE_AMOUNT_RANGE (4); a malformed one E_INVOICE_AMOUNT (3)', () => {
    refusal(() => decodeBolt11(invoice('lnbcrt21000001', [P, S, D])), 'E_INVOICE_AMOUNT_RANGE', 4);
    expect(decodeBolt11(invoice('lnbcrt21000000', [P, S, D])).amountMsat).toBe(2_100_000_000_000_000_000n);
    refusal(() => decodeBolt11(invoice('lnbcrt15p', [P, S, D])), 'E_INVOICE_AMOUNT_RANGE', 4);
    refusal(() => decodeBolt11(invoice('lnbcrt010u', [P, S, D])), 'E_INVOICE_AMOUNT', 3);
    refusal(() => decodeBolt11(invoice('lnbcrt1.5m', [P, S, D])), 'E_INVOICE_AMOUNT', 3);
    refusal(() => decodeBolt11(invoice('lnbcrtm', [P, S, D])), 'E_INVOICE_PREFIX', 3); // a multiplier with no amount reads as an unknown currency
  });

  it('missing p, missing s, neither or both of d and h: E_INVOICE_MISSING_FIELD (4)', () => {
    const H: Bolt11Field = { tag: 23, name: 'description_hash', bytes: Uint8Array.from(Buffer.alloc(32, 2)) };
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [S, D])), 'E_INVOICE_MISSING_FIELD', 4);
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, D])), 'E_INVOICE_MISSING_FIELD', 4);
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S])), 'E_INVOICE_MISSING_FIELD', 4);
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, H])), 'E_INVOICE_MISSING_FIELD', 4);
    expect(decodeBolt11(invoice('lnbcrt10u', [P, S, H])).descriptionHash).toEqual(H.bytes);
  });

  it('a non-minimal x or c (leading 0 word) is E_INVOICE_NON_MINIMAL (4)', () => {
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 6, name: 'unknown', words: [0, 1, 28] }])), 'E_INVOICE_NON_MINIMAL', 4);
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 24, name: 'unknown', words: [0, 18] }])), 'E_INVOICE_NON_MINIMAL', 4);
    expect(decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 24, name: 'unknown', words: [18] }])).minFinalCltvExpiryDelta).toBe(18);
  });

  it('a description that is not UTF-8, or a route hint that is not whole 51-byte hops: E_INVOICE_FIELD (3)', () => {
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, { tag: 13, name: 'unknown', words: words('ff') }])), 'E_INVOICE_FIELD', 3);
    refusal(() => decodeBolt11(invoice('lnbcrt10u', [P, S, D, { tag: 3, name: 'unknown', words: words('00'.repeat(50)) }])), 'E_INVOICE_FIELD', 3);
  });

  it('an expired invoice is decoded with expired: true, and refused for payment with E_INVOICE_EXPIRED (4)', () => {
    const text = invoice('lnbcrt10u', [P, S, D, { tag: 6, name: 'expiry', value: 60 }], { timestamp: 1_700_000_000 });
    expect(decodeInvoiceText(text, { now: 1_700_000_060 }).message).toMatchObject({ expired: false, valid: true, expires_at: 1_700_000_060 });
    expect(decodeInvoiceText(text, { now: 1_700_000_061 }).message).toMatchObject({ expired: true, valid: false });
    refusal(() => invoiceTerms(text, { now: 1_700_000_061 }), 'E_INVOICE_EXPIRED', 4);
    expect(toHex(invoiceTerms(text, { now: 1_700_000_000 }).paymentHash)).toBe('01'.repeat(32));
  });
});

const ISSUER = '02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619';
const tlv = (...records: [number, string][]) => encodeBolt12String('lno', Uint8Array.from(records.flatMap(([t, hex]) => [...encodeBigSize(BigInt(t)), ...encodeBigSize(BigInt(hex.length / 2)), ...Buffer.from(hex, 'hex')])));
const text = (s: string) => Buffer.from(s).toString('hex');

describe('BOLT 12 refusals (offers built by test code)', () => {
  it('control: description + issuer id is a valid offer', () => {
    expect(decodeBolt12(tlv([10, text('x')], [22, ISSUER])).fields.offer_description).toBe('x');
  });
  it('a field the spec forbids in an offer (type 80-159 or 240: request/invoice fields) is E_BOLT12_FORBIDDEN_FIELD (4)', () => {
    refusal(() => decodeBolt12(tlv([10, text('x')], [22, ISSUER], [88, ISSUER])), 'E_BOLT12_FORBIDDEN_FIELD', 4);
    refusal(() => decodeBolt12(tlv([10, text('x')], [22, ISSUER], [240, '00'.repeat(64)])), 'E_BOLT12_FORBIDDEN_FIELD', 4);
    refusal(() => decodeBolt12(tlv([0, '00'], [10, text('x')], [22, ISSUER])), 'E_BOLT12_FORBIDDEN_FIELD', 4);
  });
  it('an unknown even field is E_BOLT12_UNKNOWN_FIELD (4); an unknown odd one is kept', () => {
    refusal(() => decodeBolt12(tlv([10, text('x')], [22, ISSUER], [24, '00'])), 'E_BOLT12_UNKNOWN_FIELD', 4);
    expect(decodeBolt12(tlv([10, text('x')], [22, ISSUER], [25, '00'])).unknown.length).toBe(1);
  });
  it('duplicate types are E_BOLT12_TLV (3)', () => {
    refusal(() => decodeBolt12(tlv([10, text('x')], [10, text('y')], [22, ISSUER])), 'E_BOLT12_TLV', 3);
  });
  it('a non-minimal tu64 amount is E_BOLT12_FIELD (3)', () => {
    refusal(() => decodeBolt12(tlv([8, '0001'], [10, text('x')], [22, ISSUER])), 'E_BOLT12_FIELD', 3);
  });
  it('a request whose signature does not verify is E_BOLT12_SIGNATURE (4); one without its payer id, E_BOLT12_MISSING_FIELD', () => {
    const c = 'lnr1qqyqqqqqqqqqqqqqqcp4256ypqqkgzshgysy6ct5dpjk6ct5d93kzmpq23ex2ct5d9ek293pqthvwfzadd7jejes8q9lhc4rvjxd022zv5l44g6qah82ru5rdpnpjkppqvjx204vgdzgsqpvcp4mldl3plscny0rt707gvpdh6ndydfacz43euzqhrurageg3n7kafgsek6gz3e9w52parv8gs2hlxzk95tzeswywffxlkeyhml0hh46kndmwf4m6xma3tkq2lu04qz3slje2rfthc89vss';
    expect(decodeBolt12(c).kind).toBe('invoice_request');
    const { hrp, bytes } = decodeBolt12String(c);
    refusal(() => decodeBolt12(encodeBolt12String(hrp, Uint8Array.from(bytes, (b, i) => (i === 3 ? b ^ 1 : b)))), 'E_BOLT12_SIGNATURE', 4);
  });
});
