/**
 * BOLT 12's three vector files through our decoder (bolts/bolt12/):
 * - offers-test.json, all 53: the 20 valid offers field by field (type, length, value of
 *   every TLV record) and re-encoded to the input; the 33 invalid ones each refused with
 *   the one code listed in INVALID (with the exit class and, where upstream's bytes are
 *   refused for an earlier reason than the description gives, a note saying which).
 * - format-string-test.json, all 12: `+` continuations, case.
 * - signature-test.json, all 4: every leaf, nonce leaf, leaf branch, inner branch and root,
 *   and for the invoice request its tagged hash and BIP-340 signature — also checked by
 *   the independent reader (test/independent/invoice.ts), and refused with a bit flipped.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/lib/bytes.ts';
import { decodeBolt12, decodeBolt12String, encodeBolt12, encodeBolt12String } from '../../src/lib/invoice/bolt12.ts';
import { decodeInvoiceText } from '../../src/lib/invoice/messages.ts';
import { branch, merkleTree, signatureMessage } from '../../src/lib/invoice/merkle.ts';
import { parseTlvStream } from '../../src/lib/invoice/tlv.ts';
import { loadVector } from '../helpers.ts';
import { bolt12MerkleRoot, bolt12SignatureValid } from '../independent/invoice.ts';
import { refusal } from '../setup/refusal.ts';

type OfferCase = { description: string; valid: boolean; bolt12: string; fields?: { type: number; length: number; hex: string }[] };
const OFFERS = loadVector<OfferCase[]>('bolts/bolt12/offers-test.json');
const FORMAT = loadVector<{ comment: string; valid: boolean; string: string }[]>('bolts/bolt12/format-string-test.json');
const SIGNATURE = loadVector<Record<string, any>[]>('bolts/bolt12/signature-test.json');

/**
 * Each invalid offer's refusal. Where upstream's bytes fail before the described flaw
 * (the vector's TLV lengths do not cover the field it means to break), the note says so:
 * such an offer is still refused, for the earlier reason.
 */
const INVALID: Record<string, [string, number, string?]> = {
  'Malformed: fields out of order': ['E_BOLT12_TLV', 3],
  'Malformed: unknown even TLV type 78': ['E_BOLT12_UNKNOWN_FIELD', 4, 'the bytes carry type 72 (even, unknown), not 78'],
  'Malformed: empty': ['E_BOLT12_TLV', 3],
  'Malformed: truncated at type': ['E_BOLT12_TLV', 3],
  'Malformed: truncated in length': ['E_BOLT12_TLV', 3],
  'Malformed: truncated after length': ['E_BOLT12_TLV', 3],
  'Malformed: truncated in description': ['E_BOLT12_TLV', 3],
  'Malformed: invalid offer_chains length': ['E_BOLT12_FIELD', 3],
  'Malformed: truncated currency UTF-8': ['E_BOLT12_FIELD', 3],
  'Malformed: invalid currency UTF-8': ['E_BOLT12_FIELD', 3],
  'Malformed: truncated description UTF-8': ['E_BOLT12_FIELD', 3],
  'Malformed: invalid description UTF-8': ['E_BOLT12_FIELD', 3],
  'Malformed: truncated offer_paths': ['E_BOLT12_FIELD', 3],
  'Malformed: zero num_hops in blinded_path': ['E_BOLT12_TLV', 3, 'offer_paths is 2 bytes long, so the path is cut and type 2 follows type 16'],
  'Malformed: truncated onionmsg_hop in blinded_path': ['E_BOLT12_TLV', 3, 'as above: offer_paths is 2 bytes long'],
  'Malformed: bad first_node_id in blinded_path': ['E_BOLT12_TLV', 3, 'as above: offer_paths is 3 bytes long'],
  'Malformed: bad path_key in blinded_path': ['E_BOLT12_TLV', 3, 'as above'],
  'Malformed: bad blinded_node_id in onionmsg_hop': ['E_BOLT12_TLV', 3, 'as above'],
  'Malformed: truncated issuer UTF-8': ['E_BOLT12_FIELD', 3],
  'Malformed: invalid issuer UTF-8': ['E_BOLT12_FIELD', 3],
  'Malformed: invalid offer_issuer_id': ['E_BOLT12_FIELD', 3],
  'Contains type >= 80': ['E_BOLT12_FORBIDDEN_FIELD', 4],
  'Contains type > 1999999999': ['E_BOLT12_TLV', 3, 'the type is written fd7735 (a 3-byte BigSize, 30517), so its length overruns'],
  'Contains unknown even type (1000000002)': ['E_BOLT12_TLV', 3, 'the type is written fd3b9a (30618 is not 1000000002), so its length overruns'],
  'Contains unknown feature 122': ['E_BOLT12_UNKNOWN_FEATURE', 4],
  'Missing offer_description, but has offer_amount': ['E_BOLT12_AMOUNT', 4],
  'Missing offer_amount with offer_currency': ['E_BOLT12_AMOUNT', 4],
  'Invalid: zero offer_amount': ['E_BOLT12_AMOUNT', 4],
  'Invalid: zero offer_amount with currency': ['E_BOLT12_AMOUNT', 4],
  'Missing offer_issuer_id and no offer_path': ['E_BOLT12_NO_ROUTE', 4],
  'Second offer_path is empty': ['E_BOLT12_EMPTY_PATH', 4],
  'offer_chains with zero entries': ['E_BOLT12_CHAIN', 4],
  'Bech32 padding exceeds 4-bit limit': ['E_BOLT12_STRING', 3],
};

const canonical = (s: string) => s.replace(/\+\s*/g, '').toLowerCase();

describe('BOLT 12 offers-test.json', () => {
  it('has 53 cases: 20 valid, 33 invalid, each invalid one listed once', () => {
    expect(OFFERS.length).toBe(53);
    expect(OFFERS.filter((c) => c.valid).length).toBe(20);
    expect(OFFERS.filter((c) => !c.valid).map((c) => c.description).sort()).toEqual(Object.keys(INVALID).sort());
  });

  it('narrated: the minimal offer is one field, offer_issuer_id, for bitcoin', () => {
    const { message } = decodeInvoiceText(OFFERS[0]!.bolt12, { now: 0 });
    expect(message).toMatchObject({ type: 'invoice/offer', network: 'mainnet', offer_issuer_id: '02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619', valid: true });
  });

  it('every valid offer: every record (type, length, value) as the vector lists it, and the re-encoding is the input', () => {
    const valid = OFFERS.filter((c) => c.valid);
    let fields = 0;
    for (const c of valid) {
      const b = decodeBolt12(c.bolt12);
      expect(b.kind).toBe('offer');
      expect(b.records.map((r) => ({ type: Number(r.type), length: r.value.length, hex: toHex(r.value) })), c.description).toEqual(c.fields);
      fields += c.fields!.length;
      expect(encodeBolt12(b), c.description).toBe(canonical(c.bolt12));
      // The message decodes too, on a network the offer names (liquid-only chains have none here).
      const chains = b.fields.offer_chains?.map(toHex) ?? [];
      const network = chains.includes('43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000') ? 'testnet' : 'mainnet';
      expect(decodeInvoiceText(c.bolt12, { network, now: 0 }).message.valid, c.description).toBe(true);
    }
    expect(fields).toBe(valid.reduce((n, c) => n + c.fields!.length, 0));
    expect(fields).toBeGreaterThan(40);
  });

  it('every valid offer\'s "field info" read back under the spec\'s names (18 of 20 carry one)', () => {
    const by = (d: string) => {
      const c = OFFERS.find((x) => x.description === d)!;
      expect(c['field info' as keyof OfferCase], d).toBeDefined();
      return decodeInvoiceText(c.bolt12, { network: d === 'for testnet' ? 'testnet' : 'mainnet', now: 0 }).message;
    };
    const TESTNET = '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000';
    const BITCOIN = '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000';
    const LIQUID = '1466275836220db2944ca059a3a10ef6fd2ea684b0688d2c379296888a206003';
    const hops = (enc: string) => [
      { blinded_node_id: '02020202020202020202020202020202020202020202020202020202020202020202'.slice(0, 66), encrypted_recipient_data: '00'.repeat(16) },
      { blinded_node_id: '02020202020202020202020202020202020202020202020202020202020202020202'.slice(0, 66), encrypted_recipient_data: enc },
    ];
    const checks: [string, Record<string, unknown>][] = [
      ['with description (but no amount)', { offer_description: 'Test vectors' }],
      ['for testnet', { offer_chains: [TESTNET] }],
      ['for bitcoin (redundant)', { offer_chains: [BITCOIN] }],
      ['for bitcoin or liquidv1', { offer_chains: [LIQUID, BITCOIN] }],
      ['with metadata', { offer_metadata: '00'.repeat(16) }],
      ['with amount', { offer_amount: '10000' }],
      ['with currency', { offer_currency: 'USD', offer_amount: '10000' }],
      ['with issuer', { offer_issuer: 'https://bolt12.org BOLT12 industries' }],
      ['with quantity', { offer_quantity_max: '5' }],
      ['with unlimited (or unknown) quantity', { offer_quantity_max: '0' }],
      ['with single quantity (weird but valid)', { offer_quantity_max: '1' }],
      ['with feature', { offer_features: '08' + '00'.repeat(12) }],
      ['same, with blinded path first_node_id using sciddir', { offer_paths: [{ first_scid: '0x0x42', first_scid_dir: 0, path_key: '02'.repeat(33), path: hops('11'.repeat(8)) }] }],
      ['unknown odd field', { unknown_fields: [{ type: '33', value: Buffer.from('helloworld').toString('hex') }] }],
      ['unknown odd experimental field', { unknown_fields: [{ type: '1000000033', value: Buffer.from('helloworld').toString('hex') }] }],
    ];
    for (const [d, want] of checks) expect(by(d), d).toMatchObject(want);
    // "expiry is 2035-01-01": the value is midnight at UTC+10:30 (2034-12-31T13:30Z), the vector author's local date.
    const expiry = by('with expiry').offer_absolute_expiry as number;
    expect(new Date((expiry + 10.5 * 3600) * 1000).toISOString()).toBe('2035-01-01T00:00:00.000Z');
    const bob = by('with blinded path via Bob (0x424242...), path_key 020202...').offer_paths as Record<string, unknown>[];
    expect(bob).toEqual([{ first_node_id: bob[0]!.first_node_id, path_key: '02'.repeat(33), path: hops('11'.repeat(8)) }]);
    const two = by('... and with second blinded path via 1x2x3 (direction 1), path_key 020202...').offer_paths as Record<string, unknown>[];
    expect(two[1]).toEqual({ first_scid: '1x2x3', first_scid_dir: 1, path_key: '02'.repeat(33), path: hops('22'.repeat(8)) });
    expect(by('with no issuer_id and blinded path via Bob (0x424242...), path_key 020202...').offer_issuer_id).toBeUndefined();
    expect(checks.length + 4).toBe(OFFERS.filter((c) => c.valid && 'field info' in c).length);
  });

  it('every invalid offer is refused with its one code', () => {
    for (const c of OFFERS.filter((x) => !x.valid)) {
      const [code, exit] = INVALID[c.description]!;
      refusal(() => decodeInvoiceText(c.bolt12, { now: 0 }), code, exit);
    }
  });
});

describe('BOLT 12 format-string-test.json', () => {
  it('all 12: the valid strings decode to the same offer, the invalid ones are E_BOLT12_STRING', () => {
    expect(FORMAT.length).toBe(12);
    expect(FORMAT.filter((c) => c.valid).length).toBe(6);
    const reference = encodeBolt12(decodeBolt12(FORMAT[0]!.string));
    for (const c of FORMAT) {
      if (c.valid) expect(encodeBolt12(decodeBolt12(c.string)), c.comment).toBe(reference);
      else refusal(() => decodeBolt12(c.string), 'E_BOLT12_STRING', 3);
    }
  });
});

describe('BOLT 12 signature-test.json', () => {
  it('all 4: every leaf, nonce leaf and leaf branch, every inner branch, and the root', () => {
    expect(SIGNATURE.length).toBe(4);
    let leaves = 0;
    let branches = 0;
    for (const c of SIGNATURE) {
      const raws = c.leaves.map((l: Record<string, string>) => /^H\(`LnLeaf`,([0-9a-f]+)\)$/.exec(Object.keys(l)[0]!)![1]!);
      expect(raws[0], c.comment).toBe(c['first-tlv']);
      const stream = Uint8Array.from(Buffer.from(raws.join(''), 'hex'));
      const tree = merkleTree(c.bolt12 ? decodeBolt12(c.bolt12).records : parseTlvStream(stream));
      if (c.bolt12) expect(toHex(decodeBolt12String(c.bolt12).bytes).startsWith(raws.join('').slice(0, 20))).toBe(true);
      c.leaves.forEach((l: Record<string, string>, i: number) => {
        const [leaf, nonce, node] = Object.values(l);
        expect([toHex(tree.leaves[i]!.leaf), toHex(tree.leaves[i]!.nonce), toHex(tree.leaves[i]!.node)], `${c.comment} leaf ${i}`).toEqual([leaf, nonce, node]);
        leaves++;
      });
      expect(tree.leaves.length).toBe(c.leaves.length);
      for (const br of c.branches as Record<string, string>[]) {
        const [key, value] = Object.entries(br).find(([k]) => k.startsWith('H('))!;
        const pair = /^H\(`LnBranch`,([0-9a-f]{64})([0-9a-f]{64})\)$/.exec(key)!;
        expect(toHex(branch(Buffer.from(pair[1]!, 'hex'), Buffer.from(pair[2]!, 'hex'))), br.desc).toBe(value);
        branches++;
      }
      expect(toHex(tree.root), c.comment).toBe(c.merkle);
      expect(toHex(bolt12MerkleRoot(c.bolt12 ? decodeBolt12String(c.bolt12).bytes : stream)), `${c.comment} (independent)`).toBe(c.merkle);
    }
    expect({ leaves, branches }).toEqual({
      leaves: SIGNATURE.reduce((n, c) => n + c.leaves.length, 0),
      branches: SIGNATURE.reduce((n, c) => n + c.branches.length, 0),
    });
  });

  it('the invoice request: tagged hash and signature verified by our decoder and the independent reader; a flipped bit is refused', () => {
    const c = SIGNATURE.find((x) => x.bolt12)!;
    expect(c.signature_tag).toBe('lightninginvoice_requestsignature');
    const b = decodeBolt12(c.bolt12);
    expect(toHex(signatureMessage('invoice_request', 'signature', merkleTree(b.records).root))).toBe(c['H(signature_tag,merkle)']);
    expect(toHex(b.fields.signature!)).toBe(c.signature);
    expect(bolt12SignatureValid(c.bolt12)).toBe(true);
    const { hrp, bytes } = decodeBolt12String(c.bolt12);
    const flipped = encodeBolt12String(hrp, Uint8Array.from(bytes, (x, i) => (i === bytes.length - 5 ? x ^ 1 : x)));
    refusal(() => decodeBolt12(flipped), 'E_BOLT12_SIGNATURE', 4);
    expect(bolt12SignatureValid(flipped)).toBe(false);
    const { message } = decodeInvoiceText(c.bolt12, { now: 0 });
    expect(message).toMatchObject({ type: 'invoice/request', offer_description: 'A Mathematical Treatise', offer_currency: 'USD', offer_amount: '100', invreq_metadata: '0000000000000000' });
  });
});
