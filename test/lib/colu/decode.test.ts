/**
 * Colu "CC" decoding against the vectors of the reference npm packages
 * (test/vectors/colu/, provenance in test/vectors/README.md): SFFC amounts, payments,
 * and whole OP_RETURN payloads (issuance / transfer / burn). Every row that has an
 * encoding is decoded and compared whole (toEqual). Rows without one record an ENCODER's
 * refusal (sffc-encoder's "Number is out of bounds", cc-payment-encoder's "Output value is
 * out of bounds", cc-transfer-encoder's "Needs output value"): the project has no Colu
 * encoder, so those rows have nothing to run and are counted, by name, below.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fromHex } from '../../../src/lib/bytes.ts';
import { decodeColuPayload, readPayment, readSffc } from '../../../src/lib/colu/decode.ts';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../../vectors/colu/${name}`, import.meta.url), 'utf8'));
/** The fields of `got` that `like` has (the rest is checked by name where it is allowed). */
const pick = (got: Record<string, unknown>, like: Record<string, unknown>) => Object.fromEntries(Object.keys(like).filter((k) => k in got).map((k) => [k, got[k]]));
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)));

describe('SFFC (sffc_number_vectors.json)', () => {
  const all = load('sffc_number_vectors.json').vectors as any[];
  const vs = all.filter((v) => v.encoded || v.encoded_input);
  it('runs 111 of the 114 rows: the other 3 are encoder refusals (no encoding to decode)', () => {
    expect([vs.length, all.length]).toEqual([111, 114]);
    expect(all.filter((v) => !vs.includes(v)).map((v) => v.encode_error)).toEqual(Array(3).fill('Number is out of bounds'));
  });
  for (const v of vs) {
    const hex = v.encoded ?? v.encoded_input;
    it(`${hex} = ${v.decoded}`, () => {
      const r = readSffc(fromHex(hex), 0);
      expect(r.value).toBe(BigInt(v.decoded));
      expect(r.next).toBe(hex.length / 2);
    });
  }
});

describe('payments (payment_vectors.json)', () => {
  const all = load('payment_vectors.json').vectors as any[];
  const single = all.filter((v) => v.encoded && v.fn !== 'encodeBulk');
  const bulk = all.filter((v) => v.encoded && v.fn === 'encodeBulk');
  it('runs 52 single rows and 1 bulk row of the 67: the other 14 are encoder refusals (no encoding to decode)', () => {
    expect([single.length, bulk.length, all.length]).toEqual([52, 1, 67]);
    expect(all.filter((v) => !v.encoded).every((v) => typeof v.error === 'string' && v.input !== undefined)).toBe(true);
  });
  for (const v of single) {
    it(`#${all.indexOf(v)} ${v.fn} ${v.encoded}`, () => {
      const r = readPayment(fromHex(v.encoded), 0, v.fn === 'burn.encode');
      expect(r.next).toBe(v.encoded.length / 2);
      // A burn has no range bit: the product says range: false, the reference leaves the field out.
      expect(plain(r.payment)).toEqual(v.decoded.burn ? { range: false, ...v.decoded } : v.decoded);
    });
  }
  it('the bulk row: payments read one after another, each whole, to the last byte', () => {
    const [v] = bulk;
    const bytes = fromHex(v.encoded);
    const got: unknown[] = [];
    for (let pos = 0; pos < bytes.length; ) {
      const r = readPayment(bytes, pos, false);
      got.push(plain(r.payment));
      pos = r.next;
    }
    expect(got).toEqual(v.decoded);
  });
});

describe('OP_RETURN payloads (op_return_vectors.json)', () => {
  const all = load('op_return_vectors.json').vectors as any[];
  const vs = all.filter((v) => v.op_return_data && v.decoded);
  it('runs 29 of the 30 rows: the other is an encoder refusal (no encoding to decode)', () => {
    expect([vs.length, all.length]).toEqual([29, 30]);
    expect(all.filter((v) => !vs.includes(v)).map((v) => [v.encoder, v.error])).toEqual([['cc-transfer-encoder', 'Needs output value']]);
  });
  const noRulesByOpcode = new Map(vs.filter((v) => 'noRules' in v.decoded).map((v) => [parseInt(v.op_return_data.slice(6, 8), 16), v.decoded.noRules as boolean]));
  for (const v of vs) {
    it(`#${all.indexOf(v)} ${v.encoder} ${v.op_return_data.slice(0, 12)}`, () => {
      const got = plain(decodeColuPayload(fromHex(v.op_return_data))) as any;
      // Every field the reference decoder gives, at every level, equal.
      const { payments: wantPayments, ...want } = v.decoded;
      expect({ ...pick(got, want), payments: got.payments.map((p: any, k: number) => pick(p, wantPayments[k] ?? {})) }).toEqual(v.decoded);
      // And only these fields beyond them: the type and opcode (from the 4th byte: 0x01–0x06 issuance, 0x1_
      // transfer, 0x2_ burn) and, per payment, skip / range (a burn has no range bit: false) and the input it
      // draws from (one more after each skip) — each checked where the vector lets test code derive it.
      const opcode = parseInt(v.op_return_data.slice(6, 8), 16);
      const extras = Object.keys(got).filter((k) => !(k in want) && k !== 'payments').sort();
      expect(extras).toEqual(['noRules', 'opcode', 'type'].filter((k) => !(k in want) && (k !== 'noRules' || extras.includes(k))));
      // noRules where a row leaves it out (cc-transaction's): what the file's other rows with this opcode say.
      if (extras.includes('noRules')) expect(got.noRules).toBe(noRulesByOpcode.get(opcode));
      expect([got.opcode, got.type]).toEqual([opcode, opcode < 0x10 ? 'issuance' : opcode < 0x20 ? 'transfer' : 'burn']);
      let input = 0;
      got.payments.forEach((p: any, k: number) => {
        expect(Object.keys(p).filter((f) => !(f in wantPayments[k])).every((f) => ['input', 'skip', 'range'].includes(f)), JSON.stringify(p)).toBe(true);
        if (p.burn) expect(p.range).toBe(false);
        if ('skip' in wantPayments[k]) expect(p.input).toBe(p.skip ? input++ : input);
      });
    });
  }
});
