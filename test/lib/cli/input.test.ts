import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { base64, hex } from '@scure/base';
import { detectFormat, readToEnd, PSBT_MAGIC, jsonLines } from '../../../src/lib/cli/input.ts';
import { MalformedInputError, OffchainError } from '../../../src/lib/errors.ts';

const psbt = new Uint8Array([...PSBT_MAGIC, 1, 0, 0xff]);
const enc = (s: string) => new TextEncoder().encode(s);

describe('input format detection', () => {
  it('recognises binary, base64 and hex PSBTs by content', () => {
    expect(detectFormat(psbt)).toEqual({ format: 'psbt', encoding: 'binary', psbt });
    expect(detectFormat(enc(base64.encode(psbt) + '\n'))).toEqual({ format: 'psbt', encoding: 'base64', psbt });
    expect(detectFormat(enc(hex.encode(psbt).toUpperCase()))).toEqual({ format: 'psbt', encoding: 'hex', psbt });
  });

  it('recognises one JSON message (even pretty-printed) and JSON Lines', () => {
    expect(detectFormat(enc('{\n  "type": "a",\n  "n": 1\n}\n'))).toEqual({ format: 'json', value: { type: 'a', n: 1 } });
    expect(detectFormat(enc('{"a":1}\n\n{"a":2}\n'))).toEqual({ format: 'jsonl', values: [{ a: 1 }, { a: 2 }] });
  });

  it('names the bad line of JSON Lines', () => {
    const e = catchErr(() => detectFormat(enc('{"a":1}\n{"a":\n')));
    expect(e).toBeInstanceOf(MalformedInputError);
    expect((e as Error).message).toMatch(/line 2/);
  });

  it('refuses empty and unknown input with exit-3 errors', () => {
    expect((catchErr(() => detectFormat(enc('  \n'))) as OffchainError).code).toBe('E_EMPTY_INPUT');
    expect((catchErr(() => detectFormat(enc('hello'))) as OffchainError).exitCode).toBe(3);
  });

  it('never throws anything but our errors on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string().map(enc), fc.uint8Array().map((b) => enc('cHNidP8' + base64.encode(b)))), (bytes) => {
        try {
          detectFormat(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(OffchainError);
          expect((e as OffchainError).exitCode).toBe(3);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('reading input', () => {
  it('reads a slow stream to the end without losing data', async () => {
    const parts = ['{"type":', '"slow",', '"n":', '42}'];
    const slow = new Readable({
      read() {},
    });
    parts.forEach((p, i) => setTimeout(() => slow.push(p), 30 * (i + 1)));
    setTimeout(() => slow.push(null), 30 * (parts.length + 1));
    const bytes = await readToEnd(slow);
    expect(detectFormat(bytes)).toEqual({ format: 'json', value: { type: 'slow', n: 42 } });
  });

  it('streams JSON Lines item by item', async () => {
    const stdin = Readable.from(['{"i":1}\n{"i"', ':2}\n\n{"i":3}\n']);
    const seen: unknown[] = [];
    for await (const item of jsonLines({ path: undefined, stdin })) seen.push(item);
    expect(seen).toEqual([{ value: { i: 1 }, line: 1 }, { value: { i: 2 }, line: 2 }, { value: { i: 3 }, line: 4 }]);
  });
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
