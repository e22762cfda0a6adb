/**
 * psbtBytesFromBase64 decodes canonical base64 with Node's native decoder and leaves
 * everything else to @scure/base (src/lib/psbt/base64-field.ts): it must accept exactly what
 * `base64.decode` accepts, with the same bytes, and refuse the rest with @scure/base's reason.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base64 } from '@scure/base';
import { toHex } from '../../../src/lib/bytes.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { psbtBytesFromBase64 } from '../../../src/lib/psbt/base64-field.ts';

/** What @scure/base says, in the field's words: the bytes, or the refusal's message. */
function reference(s: string): string {
  try {
    return toHex(base64.decode(s));
  } catch (e) {
    return `E_MALFORMED_PSBT: psbt is not valid base64: ${(e as Error).message}`;
  }
}

function ours(s: string): string {
  try {
    const bytes = psbtBytesFromBase64(s, 'psbt');
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype); // not a Buffer: slice() copies
    return toHex(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedInputError);
    return `${(e as MalformedInputError).code}: ${(e as Error).message}`;
  }
}

// Letters that matter: each low-bit pattern of the last letter, the padding, and non-letters.
const letter = fc.constantFrom(...'AQgwBCDE+/9z=-_ \n.é'.split(''));

describe('psbtBytesFromBase64 agrees with @scure/base', () => {
  it('on short strings of interesting letters (every length mod 4, every tail)', () => {
    fc.assert(fc.property(fc.array(letter, { maxLength: 14 }).map((a) => a.join('')), (s) => {
      expect(ours(s)).toBe(reference(s));
    }), { numRuns: 20000 });
  });

  it('on the base64 of random bytes, and on one-letter edits of it', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(), letter, fc.boolean(), (bytes, at, l, edit) => {
      let s = base64.encode(bytes);
      if (edit && s.length) {
        const i = at % s.length;
        s = s.slice(0, i) + l + s.slice(i + 1);
      }
      expect(ours(s)).toBe(reference(s));
    }), { numRuns: 5000 });
  });

  it('on a long PSBT-sized string and on what is not a string', () => {
    const long = base64.encode(new Uint8Array(3000).map((_, i) => i * 7));
    expect(ours(long)).toBe(reference(long));
    for (const v of [undefined, 42, null]) {
      expect(() => psbtBytesFromBase64(v as never, 'psbt')).toThrow(MalformedInputError);
    }
  });
});
