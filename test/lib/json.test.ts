import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { stringifyMessage, stringifyLine, toJsonValue } from '../../src/lib/json.ts';

describe('canonical JSON', () => {
  it('puts type, version, network first and sorts the rest, recursively', () => {
    const out = stringifyLine({ zeta: 1, network: 'regtest', alpha: { b: 2, a: 1 }, version: 1, type: 't/x' });
    expect(out).toBe('{"type":"t/x","version":1,"network":"regtest","alpha":{"a":1,"b":2},"zeta":1}\n');
  });

  it('writes bigint as an exact integer and bytes as lower-case hex; drops undefined', () => {
    expect(stringifyLine({ a: 2_100_000_000_000_000n, b: Uint8Array.of(0xab, 0x01), c: undefined })).toBe('{"a":2100000000000000,"b":"ab01"}\n');
  });

  it('refuses a bigint beyond 2^53 (millisatoshis must be strings) and non-finite numbers', () => {
    expect(() => toJsonValue({ msat: 2n ** 60n })).toThrow(/decimal string/);
    expect(() => toJsonValue({ x: Number.NaN })).toThrow(/non-finite/);
  });

  it('is independent of key insertion order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string(), fc.boolean())), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(stringifyMessage(reversed)).toBe(stringifyMessage(obj));
      }),
    );
  });
});
