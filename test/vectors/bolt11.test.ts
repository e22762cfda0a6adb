/**
 * BOLT 11's "Examples" (16 valid invoices) and "Examples of Invalid Invoices" (10), read
 * out of the copied spec text (bolts/bolt11/11-payment-encoding.md), through our decoder.
 *
 * The decoded fields each example states in its title and breakdown are transcribed
 * below (EXPECTED, in the spec's order); values the breakdowns print in a regular form
 * are also read out of the Markdown by this test: the timestamp, the signature's r||s and
 * recovery flag, and the SHA-256 of the signed data (itself checked against the printed
 * "data for signing"). Every valid invoice's payee is also recovered by the independent
 * verifier (test/independent/invoice.ts), and a flipped signature bit changes it or is
 * refused. Each invalid one is refused with one code (INVALID, with the spec's reason).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.ts';
import { decodeBolt11, encodeBolt11 } from '../../src/lib/invoice/bolt11.ts';
import { decodeInvoiceText } from '../../src/lib/invoice/messages.ts';
import { readVectorText } from '../helpers.ts';
import { bolt11Payee } from '../independent/invoice.ts';
import { refusal } from '../setup/refusal.ts';

type Example = { title: string; invoice: string; breakdown: string; valid: boolean };

function examples(): Example[] {
  const md = readVectorText('bolts/bolt11/11-payment-encoding.md');
  const body = md.slice(md.indexOf('\n# Examples\n'), md.indexOf('\n# Authors'));
  const invalidFrom = body.indexOf('\n# Examples of Invalid Invoices');
  const out: Example[] = [];
  const lines = body.split('\n');
  let offset = 0;
  let current: Example | undefined;
  for (const line of lines) {
    const heading = /^> #+ (.*)$/.exec(line);
    const invoice = /^(?:> )?((?:ln|LN|pvj)[0-9A-Za-z]{50,})$/.exec(line.trim());
    if (heading) {
      current = { title: heading[1]!, invoice: '', breakdown: '', valid: offset < invalidFrom };
      out.push(current);
    } else if (invoice && current && current.invoice === '') current.invoice = invoice[1]!;
    else if (current) current.breakdown += line + '\n';
    offset += line.length + 1;
  }
  return out;
}

const ALL = examples();
const VALID = ALL.filter((e) => e.valid);
const INVALID = ALL.filter((e) => !e.valid);

const PAYEE = '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad';
const HASH = '0001020304050607080900010203040506070809000102030405060708090102';
const SECRET = '11'.repeat(32);
const CAKE = '3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1';
const DONATION = 'Please consider supporting this project';

type Expected = {
  amount_msat?: string;
  timestamp?: number;
  description?: string;
  description_hash?: string;
  expiry?: number;
  min_final_cltv_expiry_delta?: number;
  feature_bits: number[];
  fallbacks?: { version: number; address: string }[];
  route_hints?: { pubkey: string; short_channel_id: string; fee_base_msat: number; fee_proportional_millionths: number; cltv_expiry_delta: number }[][];
  payment_metadata?: string;
  payment_hash?: string;
  network?: 'mainnet' | 'testnet';
  unknown_tags?: number[];
};

/** Transcribed from each example's title and breakdown (amounts: the hrp's amount × its multiplier, as the breakdown states). */
const EXPECTED: Expected[] = [
  { description: DONATION, feature_bits: [8, 14] },
  { amount_msat: '250000000', description: '1 cup coffee', expiry: 60, feature_bits: [8, 14] },
  { amount_msat: '250000000', description: 'ナンセンス 1杯', expiry: 60, feature_bits: [8, 14] },
  { amount_msat: '2000000000', description_hash: CAKE, feature_bits: [8, 14] },
  { amount_msat: '2000000000', description_hash: CAKE, feature_bits: [8, 14], network: 'testnet', fallbacks: [{ version: 17, address: 'mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP' }] },
  {
    amount_msat: '2000000000',
    description_hash: CAKE,
    feature_bits: [8, 14],
    fallbacks: [{ version: 17, address: '1RustyRX2oai4EYYDpQGWvEL62BBGqN9T' }],
    route_hints: [
      [
        { pubkey: '029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255', short_channel_id: '66051x263430x1800', fee_base_msat: 1, fee_proportional_millionths: 20, cltv_expiry_delta: 3 },
        { pubkey: '039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255', short_channel_id: '197637x395016x2314', fee_base_msat: 2, fee_proportional_millionths: 30, cltv_expiry_delta: 4 },
      ],
    ],
  },
  { amount_msat: '2000000000', description_hash: CAKE, feature_bits: [8, 14], fallbacks: [{ version: 18, address: '3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX' }] },
  { amount_msat: '2000000000', description_hash: CAKE, feature_bits: [8, 14], fallbacks: [{ version: 0, address: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4' }] },
  { amount_msat: '2000000000', description_hash: CAKE, feature_bits: [8, 14], fallbacks: [{ version: 0, address: 'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3' }] },
  { amount_msat: '2000000000', description_hash: CAKE, feature_bits: [8, 14], fallbacks: [{ version: 1, address: 'bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm' }] },
  {
    amount_msat: '967878534',
    timestamp: 1572468703,
    payment_hash: '462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f',
    description: 'Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, "Back In My Day" Sticker x 2, "I Got Lightning Working" Sticker x 2 and 1 more items',
    expiry: 604800,
    min_final_cltv_expiry_delta: 10,
    feature_bits: [8, 14],
    route_hints: [[{ pubkey: '03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7', short_channel_id: '589390x3312x1', fee_base_msat: 1000, fee_proportional_millionths: 2500, cltv_expiry_delta: 40 }]],
  },
  { amount_msat: '2500000000', description: 'coffee beans', feature_bits: [8, 14, 99] },
  { amount_msat: '2500000000', description: 'coffee beans', feature_bits: [8, 14, 99] },
  // The breakdown: a `2` field, an `f` of type 19, and p/h/s/n fields of wrong lengths, all ignored.
  { amount_msat: '2500000000', description: 'coffee beans', feature_bits: [8, 14, 99], unknown_tags: [10, 9, 1, 1, 23, 23, 16, 16, 19, 19] },
  { amount_msat: '1000000000', description: 'payment metadata inside', payment_metadata: '01fafaf0', feature_bits: [8, 14, 48] },
  { description: DONATION, feature_bits: [8, 14] },
];

/** Each invalid example's refusal: the code and exit class, with the spec's reason as its title. */
const INVALID_CODES: Record<string, [string, number]> = {
  'Same, but adding invalid unknown feature 100': ['E_INVOICE_UNKNOWN_FEATURE', 4],
  'Bech32 checksum is invalid.': ['E_INVOICE_CHECKSUM', 3],
  'Malformed bech32 string (no 1)': ['E_INVOICE_BECH32', 3],
  'Malformed bech32 string (mixed case)': ['E_INVOICE_BECH32', 3],
  'Signature is not recoverable.': ['E_INVOICE_SIGNATURE', 4],
  'String is too short.': ['E_INVOICE_TRUNCATED', 3],
  'Invalid multiplier': ['E_INVOICE_AMOUNT', 3],
  'Invalid sub-millisatoshi precision.': ['E_INVOICE_AMOUNT_RANGE', 4],
  'Missing required `s` field.': ['E_INVOICE_MISSING_FIELD', 4],
  "Non canonical signature (high-S) with 'n' field defined": ['E_INVOICE_SIGNATURE', 4],
};

const sha256hex = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');

describe('BOLT 11 examples through invoice decode', () => {
  it('reads 16 valid and 10 invalid examples out of the spec text, each with its invoice', () => {
    expect(VALID.length).toBe(16);
    expect(INVALID.length).toBe(10);
    expect(EXPECTED.length).toBe(VALID.length);
    for (const e of ALL) expect(e.invoice, e.title).not.toBe('');
  });

  it('narrated: the donation invoice (any amount) decodes to the spec\'s fields, signed by the example key', () => {
    const inv = decodeBolt11(VALID[0]!.invoice);
    expect(inv.hrp).toBe('lnbc');
    expect(inv.amountMsat).toBeUndefined();
    expect(inv.timestamp).toBe(1496314658);
    expect(toHex(inv.paymentHash)).toBe(HASH);
    expect(toHex(inv.paymentSecret)).toBe(SECRET);
    expect(inv.description).toBe(DONATION);
    expect(toHex(inv.payee)).toBe(PAYEE);
    expect(inv.payeeFrom).toBe('recovered');
    // "hex of SHA256 of the preimage", and r||s with recovery flag 1
    expect(toHex(inv.signedHash)).toBe('6daf4d488be41ce7cbb487cab1ef2975e5efcea879b20d421f0ef86b07cbb987');
    expect(toHex(inv.signature)).toBe('8d3ce9e28357337f62da0162d9454df827f83cfe499aeb1c1db349d4d81127425e434ca29929406c23bba1ae8ac6ca32880b38d4bf6ff874024cac34ba9625f1');
    expect(inv.recoveryId).toBe(1);
  });

  it('every valid example: the stated fields, the payee (independently recovered too), and a re-encoding equal to the input', () => {
    let signatures = 0;
    let hashes = 0;
    let timestamps = 0;
    VALID.forEach((e, i) => {
      const x = EXPECTED[i]!;
      const network = x.network ?? 'mainnet';
      const now = 1496314658;
      const { message: m } = decodeInvoiceText(e.invoice, { network, now });
      expect(m.created_at, e.title).toBe(x.timestamp ?? 1496314658);
      const fromBreakdown = /`p[0-9a-z]{6}`: timestamp \((\d+)\)/.exec(e.breakdown);
      if (fromBreakdown) {
        timestamps++;
        expect(m.created_at, e.title).toBe(Number(fromBreakdown[1]));
      }
      const independentPayee = bolt11Payee(e.invoice);
      // Every example is signed with the spec's priv_key, except the high-S one, whose
      // signature recovers another key (the independent recovery agrees: noted in the report).
      expect(independentPayee, e.title).toBe(e.title === 'Public-key recovery with high-S signature' ? '02d0139ce7427d6dfffd26a326c18be754ef1e64672b42694ba5b23ef6e6e7803d' : PAYEE);
      expect(m.payee, e.title).toBe(independentPayee);
      expect(
        {
          network: m.network,
          amount_msat: m.amount_msat,
          payment_hash: m.payment_hash,
          payment_secret: m.payment_secret,
          description: m.description,
          description_hash: m.description_hash,
          expiry: m.expiry,
          min_final_cltv_expiry_delta: m.min_final_cltv_expiry_delta,
          feature_bits: m.feature_bits,
          fallbacks: (m.fallbacks as { version: number; address: string }[]).map((f) => ({ version: f.version, address: f.address })),
          route_hints: m.route_hints,
          payment_metadata: m.payment_metadata,
          unknown_tags: (m.unknown_fields as { tag: number }[]).map((f) => f.tag),
        },
        e.title,
      ).toEqual({
        network,
        amount_msat: x.amount_msat,
        payment_hash: x.payment_hash ?? HASH,
        payment_secret: SECRET,
        description: x.description,
        description_hash: x.description_hash,
        expiry: x.expiry ?? 3600,
        min_final_cltv_expiry_delta: x.min_final_cltv_expiry_delta ?? 18,
        feature_bits: x.feature_bits,
        fallbacks: x.fallbacks ?? [],
        route_hints: x.route_hints ?? [],
        payment_metadata: x.payment_metadata,
        unknown_tags: x.unknown_tags ?? [],
      });
      const inv = decodeBolt11(e.invoice);
      // The breakdown's signature data, recovery flag and preimage hash, where it prints them.
      const sig = /`([0-9a-f]{128})` hex of signature data/.exec(e.breakdown);
      if (sig) {
        signatures++;
        expect(toHex(inv.signature), e.title).toBe(sig[1]);
      }
      const flag = /`(\d)` \(int\) recovery flag/.exec(e.breakdown);
      if (flag) expect(inv.recoveryId, e.title).toBe(Number(flag[1]));
      const preimage = /`([0-9a-f]+)` hex of data for signing/.exec(e.breakdown);
      const hash = /`([0-9a-f]{64})` hex of SHA256 of the preimage/.exec(e.breakdown);
      if (preimage && hash) {
        hashes++;
        expect(sha256hex(preimage[1]!), e.title).toBe(hash[1]);
        expect(toHex(inv.signedHash), e.title).toBe(hash[1]);
      }
      expect(encodeBolt11(inv), e.title).toBe(e.invoice.toLowerCase());
    });
    // How many breakdowns print each value (a regex that stopped matching would drop checks silently).
    expect({ signatures, hashes, timestamps }).toEqual({ signatures: 11, hashes: 11, timestamps: 15 }); // grep -c of each phrase in the section
  });

  it('every invalid example is refused with its one code', () => {
    expect(Object.keys(INVALID_CODES).sort()).toEqual(INVALID.map((e) => e.title).sort());
    for (const e of INVALID) {
      const [code, exit] = INVALID_CODES[e.title]!;
      refusal(() => decodeInvoiceText(e.invoice, { now: 0 }), code, exit);
    }
  });

  it('a flipped signature bit: the n-less examples recover another payee (or are refused), and the independent verifier sees the same', () => {
    let changed = 0;
    for (const e of VALID) {
      const inv = decodeBolt11(e.invoice);
      const flipped = encodeBolt11({ ...inv, signature: Uint8Array.from(inv.signature, (b, i) => (i === 40 ? b ^ 1 : b)) });
      let payee: string | undefined;
      try {
        payee = toHex(decodeBolt11(flipped).payee);
      } catch (err) {
        expect((err as { code: string }).code).toBe('E_INVOICE_SIGNATURE');
      }
      let independent: string | undefined;
      try {
        independent = bolt11Payee(flipped);
      } catch {
        independent = undefined;
      }
      expect(payee, e.title).toBe(independent);
      expect(payee, e.title).not.toBe(toHex(inv.payee));
      changed++;
    }
    expect(changed).toBe(16);
  });
});
