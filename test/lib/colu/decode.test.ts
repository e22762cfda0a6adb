/**
 * Colu "CC" decoding against the vectors of the reference npm packages
 * (test/vectors/colu/, provenance in test/vectors/README.md): SFFC amounts, payments,
 * and whole OP_RETURN payloads (issuance / transfer / burn).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fromHex } from '../../../src/lib/bytes.ts';
import { decodeColuPayload, readPayment, readSffc } from '../../../src/lib/colu/decode.ts';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../../vectors/colu/${name}`, import.meta.url), 'utf8'));
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)));

describe('SFFC (sffc_number_vectors.json)', () => {
  const vs = (load('sffc_number_vectors.json').vectors as any[]).filter((v) => v.encoded || v.encoded_input);
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
  for (const [i, v] of (load('payment_vectors.json').vectors as any[]).entries()) {
    if (!v.encoded || v.fn === 'encodeBulk') continue;
    it(`#${i} ${v.fn} ${v.encoded}`, () => {
      const r = readPayment(fromHex(v.encoded), 0, v.fn === 'burn.encode');
      expect(r.next).toBe(v.encoded.length / 2);
      expect(plain(r.payment)).toMatchObject(v.decoded);
    });
  }
});

describe('OP_RETURN payloads (op_return_vectors.json)', () => {
  for (const [i, v] of (load('op_return_vectors.json').vectors as any[]).entries()) {
    if (!v.op_return_data || !v.decoded) continue;
    it(`#${i} ${v.encoder} ${v.op_return_data.slice(0, 12)}`, () => {
      const got = plain(decodeColuPayload(fromHex(v.op_return_data))) as any;
      const { payments, ...rest } = v.decoded;
      expect(got).toMatchObject(rest);
      expect(got.payments.length).toBe(payments.length);
      payments.forEach((p: any, k: number) => expect(got.payments[k]).toMatchObject(p));
    });
  }
});
