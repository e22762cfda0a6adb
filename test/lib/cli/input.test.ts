import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { base64, hex } from '@scure/base';
import { detectFormat, readFlagFile, readToEnd, jsonLines } from '../../../src/lib/cli/input.ts';
import { duplicateName, jsonErrorOffset } from '../../../src/lib/cli/json-position.ts';
import { PSBT_MAGIC } from '../../../src/lib/constants.ts';
import { tempDir } from '../../helpers.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { refusal } from '../../setup/refusal.ts';

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
    expect(refusal(() => detectFormat(enc('{"a":1}\n{"a":\n')), 'E_MALFORMED_JSON', 3).message).toMatch(/^line 2 is not valid JSON at column 6: /);
  });

  it('an error in a pretty-printed message is reported at its line and column of the whole document, not as JSON Lines', () => {
    // The missing comma is before "x", which starts at line 4, column 3 (counted by hand).
    const doc = '{\n  "type": "credit/offer",\n  "version": 1\n  "x": 2\n}\n';
    const e = refusal(() => detectFormat(enc(doc)), 'E_MALFORMED_JSON', 3);
    expect(e.message).toBe("the input is not valid JSON at line 4, column 3: Expected ',' or '}' after property value");
    expect(e.detail).toEqual({ line: 4, column: 3 });
  });

  it('lines before the document count (the position is in the input as given), and the caller names the input', () => {
    const e = refusal(() => detectFormat(enc('\n\n{\n  "a": 1,\n  "b": nope\n}\n'), '--offer offer.json'), 'E_MALFORMED_JSON', 3);
    expect(e.message).toMatch(/^--offer offer\.json is not valid JSON at line 5, column 8: /);
  });

  it('a document cut short is reported at its end', () => {
    const e = refusal(() => detectFormat(enc('{\n  "a": [1, 2,')), 'E_MALFORMED_JSON', 3);
    expect(e.detail).toEqual({ line: 2, column: 14 }); // one past the 13 characters of line 2
  });

  it('refuses empty and unknown input with exit-3 errors', () => {
    refusal(() => detectFormat(enc('  \n')), 'E_EMPTY_INPUT', 3);
    refusal(() => detectFormat(enc('hello')), 'E_UNKNOWN_FORMAT', 3);
  });

  /**
   * What the input contract says arbitrary bytes are, written from its rules (README:
   * input formats) rather than read from detectFormat: binary PSBT by its magic; else the
   * trimmed UTF-8 text is JSON if it opens with { or [, base64 PSBT if it opens with the
   * base64 of the magic — "cHNidP" and one of 8, 9, +, / (the top bits of the next byte:
   * a first key of 64 bytes or more, such as a global xpub, gives 9) — in the base64 alphabet, hex PSBT if it is "70736274ff…" in hex digits; else unknown.
   */
  function classify(bytes: Uint8Array): 'binary' | 'empty' | 'json' | 'base64' | 'hex' | 'unknown' {
    if (bytes.length >= 5 && hex.encode(bytes.subarray(0, 5)) === '70736274ff') return 'binary';
    const text = new TextDecoder().decode(bytes).trim();
    if (text === '') return 'empty';
    if (text[0] === '{' || text[0] === '[') return 'json';
    if (/^cHNidP[89+/]/.test(text) && /^[A-Za-z0-9+/=\s]*$/.test(text)) return 'base64';
    if (text.toLowerCase().startsWith('70736274ff') && /^[0-9a-fA-F\s]*$/.test(text)) return 'hex';
    return 'unknown';
  }
  const REFUSAL: Record<ReturnType<typeof classify>, string> = {
    binary: 'none', empty: 'E_EMPTY_INPUT', json: 'E_MALFORMED_JSON', base64: 'E_MALFORMED_PSBT', hex: 'E_MALFORMED_PSBT', unknown: 'E_UNKNOWN_FORMAT',
  };

  it('arbitrary bytes: what is read is the input, what is refused gets the code of its kind (fuzz)', () => {
    const counts: Record<string, number> = {};
    const psbtText = fc.uint8Array({ maxLength: 120 }).chain((b) => fc.constantFrom(base64.encode(Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff, ...b)), hex.encode(Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff, ...b))));
    const mangled = psbtText.chain((t) => fc.tuple(fc.nat(t.length), fc.constantFrom('', ' ', '\n', '!', 'x', '=', 'a')).map(([at, c]) => t.slice(0, at) + c + t.slice(at)));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 60 }).map((b) => Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff, ...b)),
          fc.string().map(enc),
          fc.array(fc.json(), { minLength: 1, maxLength: 3 }).map((lines) => enc(lines.join('\n'))),
          psbtText.map(enc),
          mangled.map(enc),
          fc.uint8Array().map((b) => enc('cHNidP8' + base64.encode(b))),
        ),
        (bytes) => {
          const kind = classify(bytes);
          const text = new TextDecoder().decode(bytes).trim().replace(/\s+/g, '');
          let doc: ReturnType<typeof detectFormat>;
          try {
            doc = detectFormat(bytes);
          } catch {
            counts[`${kind} refused`] = (counts[`${kind} refused`] ?? 0) + 1;
            refusal(() => detectFormat(bytes), REFUSAL[kind], 3);
            return;
          }
          counts[`${kind} read`] = (counts[`${kind} read`] ?? 0) + 1;
          if (kind === 'binary') expect(doc).toEqual({ format: 'psbt', encoding: 'binary', psbt: bytes });
          else if (kind === 'base64') expect(doc.format === 'psbt' && doc.encoding === 'base64' && base64.encode(doc.psbt)).toBe(text);
          else if (kind === 'hex') expect(doc.format === 'psbt' && doc.encoding === 'hex' && hex.encode(doc.psbt)).toBe(text.toLowerCase());
          else if (kind === 'json') expect(['json', 'jsonl']).toContain(doc.format);
          else throw new Error(`read ${kind} input ${JSON.stringify(new TextDecoder().decode(bytes))} as ${doc.format}`);
        },
      ),
      { numRuns: 5000 },
    );
    // Every kind was met, both read and refused where both are possible.
    for (const outcome of ['binary read', 'empty refused', 'json read', 'json refused', 'base64 read', 'base64 refused', 'hex read', 'hex refused', 'unknown refused']) {
      expect(counts[outcome] ?? 0, `${outcome}: ${JSON.stringify(counts)}`).toBeGreaterThan(0);
    }
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

describe('a file named by a flag: one error, E_INPUT_FILE (exit 2), naming the flag', () => {
  const dir = tempDir('offchain-flag-file-');

  it('a missing file names the flag and says it does not exist', () => {
    const e = refusal(() => readFlagFile('--offer', join(dir.path, 'nope.json')), 'E_INPUT_FILE', 2);
    expect(e.message).toBe(`cannot read --offer ${join(dir.path, 'nope.json')}: no such file (ENOENT)`);
  });

  it('a directory says so', () => {
    const e = refusal(() => readFlagFile('--child', dir.path), 'E_INPUT_FILE', 2);
    expect(e.message).toBe(`cannot read --child ${dir.path}: it is a directory, not a file`);
  });

  it('a readable file gives its bytes', () => {
    writeFileSync(join(dir.path, 'f'), 'abc');
    expect(readFlagFile('--lock', join(dir.path, 'f'))).toEqual(enc('abc'));
    dir.cleanup();
  });
});

describe('jsonErrorOffset agrees with JSON.parse on what is JSON', () => {
  const parses = (t: string) => {
    try {
      JSON.parse(t);
      return true;
    } catch {
      return false;
    }
  };

  it('valid documents (fast-check JSON, pretty-printed) have no error offset', () => {
    fc.assert(fc.property(fc.json(), fc.boolean(), (text, pretty) => {
      const doc = pretty ? JSON.stringify(JSON.parse(text), null, 2) : text;
      expect(jsonErrorOffset(doc)).toBeUndefined();
    }), { numRuns: 300 });
  });

  it('a document with one character deleted, replaced or inserted: an offset exactly when JSON.parse refuses it, within the text', () => {
    fc.assert(fc.property(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', 'x', '1', ' ', '\\'), (text, at, ch) => {
      const i = at % (text.length + 1);
      for (const mutated of [text.slice(0, i) + ch + text.slice(i + 1), text.slice(0, i) + ch + text.slice(i)]) {
        const offset = jsonErrorOffset(mutated);
        expect(offset === undefined, mutated).toBe(parses(mutated));
        if (offset !== undefined) expect(offset).toBeLessThanOrEqual(mutated.length);
      }
    }), { numRuns: 500 });
  });
});

describe('a name twice in one object is refused: a reader that takes the first and one that takes the last would see two messages', () => {
  /** Every character of `name` as a \\uXXXX escape: the same name to JSON.parse, other bytes to a filter. */
  const escaped = (name: string) => `"${[...name].map((c) => [...c].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"`;
  // fc.json(): texts JSON.stringify wrote, so no object in them names anything twice.
  it('finds none in what JSON.stringify writes, pretty-printed or not', () => {
    fc.assert(fc.property(fc.json(), fc.boolean(), (text, pretty) => {
      expect(duplicateName(pretty ? JSON.stringify(JSON.parse(text), null, 2) : text)).toBeUndefined();
    }), { numRuns: 300 });
  });

  it('finds a name written again in an object at any depth, escaped or not, at its second appearance', () => {
    const entries = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 5 });
    fc.assert(fc.property(entries, fc.nat(), fc.jsonValue({ maxDepth: 1 }), fc.boolean(), fc.nat({ max: 3 }), (object, pick, value, escape, depth) => {
      const names = Object.keys(object);
      const name = names[pick % names.length]!;
      const again = `${escape ? escaped(name) : JSON.stringify(name)}:${JSON.stringify(value)}`;
      const inner = `${JSON.stringify(object).slice(0, -1)},${again}}`;
      let text = inner;
      for (let d = 0; d < depth; d++) text = d % 2 === 0 ? `[1,${text}]` : `{"outer":${text}}`;
      expect(() => JSON.parse(text)).not.toThrow();
      const found = duplicateName(text);
      expect(found).toEqual({ name, offset: text.lastIndexOf(again) });
    }), { numRuns: 300 });
  });

  it('detectFormat and JSON Lines refuse it E_MALFORMED_JSON (exit 3), saying where; the same name in two objects is no duplicate', async () => {
    const e = refusal(() => detectFormat(enc('{"type":"credit/abandon",\n  "type":"credit/update-request"}')), 'E_MALFORMED_JSON', 3);
    expect(e.message).toBe('the input names "type" twice in one object, at line 2, column 3: readers disagree on which one counts, so neither does');
    expect(detectFormat(enc('{"a":{"x":1},"b":{"x":2}}'))).toEqual({ format: 'json', value: { a: { x: 1 }, b: { x: 2 } } });
    const seen: unknown[] = [];
    for await (const item of jsonLines({ path: undefined, stdin: Readable.from(['{"i":1}\n{"i":2,"i":3}\n']) })) seen.push(item);
    expect(seen[0]).toEqual({ value: { i: 1 }, line: 1 });
    const { code, message } = (seen[1] as { error: { code: string; message: string } }).error;
    expect({ code, message }).toEqual({ code: 'E_MALFORMED_JSON', message: 'line 2 names "i" twice in one object, at column 8: readers disagree on which one counts, so neither does' });
  });
});
