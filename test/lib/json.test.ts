import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { stringifyMessage, stringifyLine, toJsonValue } from '../../src/lib/json.ts';

describe('canonical JSON', () => {
  it('puts type, version, network first and sorts the rest, recursively', () => {
    const out = stringifyLine({ zeta: 1, network: 'regtest', alpha: { b: 2, a: 1 }, version: 1, type: 't/x' });
    expect(out).toBe('{"type":"t/x","version":1,"network":"regtest","alpha":{"a":1,"b":2},"zeta":1}\n');
  });

  it('orders integer-like keys and keys beyond the BMP by their code points too (JavaScript objects do not)', () => {
    expect(stringifyLine({ '10': 1, '2': 2, a: 3, type: 't' })).toBe('{"type":"t","10":1,"2":2,"a":3}\n');
    expect(stringifyLine({ '\u{1f600}': 2, '\uff00': 1 })).toBe('{"\uff00":1,"\u{1f600}":2}\n');
    expect(stringifyMessage({ '10': [1, { '2': {}, '1': [] }] })).toBe('{\n  "10": [\n    1,\n    {\n      "1": [],\n      "2": {}\n    }\n  ]\n}\n');
  });

  it('a printed message lists an object whose keys are all decimal integers (a NUT-01 keyset\'s amounts) in numeric order, as NUT-01 and Nutshell do; the line form, which signatures and MACs hash, keeps code-point order', () => {
    const amounts = Array.from({ length: 64 }, (_, i) => (1n << BigInt(i)).toString());
    const keys = Object.fromEntries([...amounts].reverse().map((a) => [a, `K${a}`]));
    const printed = stringifyMessage({ type: 't', keysets: [{ id: '00', keys }] });
    expect([...printed.matchAll(/^ {8}"([0-9]+)":/gm)].map((m) => m[1])).toEqual(amounts);
    expect(printed.indexOf('"id"')).toBeLessThan(printed.indexOf('"keys"'));
    // Mixed keys (an integer beside a name) are not an amount map: code-point order.
    expect(stringifyMessage({ '10': 1, '9': 2, a: 3 })).toBe('{\n  "10": 1,\n  "9": 2,\n  "a": 3\n}\n');
    expect(stringifyLine({ '1024': 'b', '2': 'a', '1': 'c' })).toBe('{"1":"c","1024":"b","2":"a"}\n');
  });

  it('pretty output is JSON.stringify(…, null, 2) of the compact line, at any depth (property)', () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(tie('tree'), { maxLength: 3 }), fc.dictionary(key, tie('tree'), { maxKeys: 3 })),
    }));
    fc.assert(fc.property(tree, (v) => {
      expect(stringifyMessage(v)).toBe(JSON.stringify(JSON.parse(stringifyLine(v)), null, 2) + '\n');
    }), { numRuns: 1000 });
  });

  it('the line of any nested value — arrays, objects, bytes, bigints, undefined members — is the rule written out here (property)', () => {
    // The rule, spelled out independently: header keys first, the rest by code point (the keys here are ASCII), bytes as hex, bigint as a number, undefined members dropped.
    const rule = (v: unknown): string => {
      if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('hex'));
      if (typeof v === 'bigint') return String(v);
      if (Array.isArray(v)) return `[${v.map(rule).join(',')}]`;
      if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const defined = Object.keys(o).filter((k) => o[k] !== undefined);
        const header = ['type', 'version', 'network'].filter((k) => defined.includes(k));
        const rest = defined.filter((k) => !header.includes(k)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${[...header, ...rest].map((k) => `${JSON.stringify(k)}:${rule(o[k])}`).join(',')}}`;
      }
      return JSON.stringify(v);
    };
    const key = fc.oneof(fc.constantFrom('type', 'version', 'network'), fc.stringMatching(/^[a-z_0-9]{0,6}$/));
    const leaf = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 4 }), fc.bigInt({ min: -(2n ** 53n) + 1n, max: 2n ** 53n - 1n }));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key, fc.option(tie('tree'), { nil: undefined }), { maxKeys: 5 })),
    }));
    fc.assert(fc.property(tree, (v) => {
      const line = stringifyLine(v);
      expect(line).toBe(rule(v) + '\n');
    }), { numRuns: 2000 });
  });

  it('a value whose objects are already in canonical order (as JSON read back has them) is written the same as any other order of it, with bigints, bytes and undefined members anywhere in it (property)', () => {
    // The rule's order, applied to a copy: every object's keys re-inserted header first, then by code point (ASCII keys here).
    const header = ['type', 'version', 'network'];
    const inCanonicalOrder = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(inCanonicalOrder);
      if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      const rest = keys.filter((k) => !header.includes(k)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries([...header.filter((k) => keys.includes(k)), ...rest].map((k) => [k, inCanonicalOrder(o[k])]));
    };
    const key = fc.oneof(fc.constantFrom('type', 'version', 'network'), fc.stringMatching(/^[a-z_][a-z_0-9]{0,5}$/));
    const leaf = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 4 }), fc.bigInt({ min: -(2n ** 53n) + 1n, max: 2n ** 53n - 1n }));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key, fc.option(tie('tree'), { nil: undefined }), { maxKeys: 5 })),
    }));
    fc.assert(fc.property(tree, (v) => {
      const line = stringifyLine(v);
      const message = stringifyMessage(v);
      const canonical = inCanonicalOrder(v);
      expect(stringifyLine(canonical)).toBe(line);
      expect(stringifyMessage(canonical)).toBe(message);
      // Read back: plain values only, every object in canonical order — written as it is.
      const back = JSON.parse(line) as unknown;
      expect(stringifyLine(back)).toBe(line);
      expect(stringifyMessage(back)).toBe(JSON.stringify(back, null, 2) + '\n');
      // The value is left as it was (a member converted deep inside is converted in a copy).
      expect(stringifyLine(v)).toBe(line);
    }), { numRuns: 2000 });
  });

  it('writes only own plain members, whatever JSON.stringify would call, even where the keys are in canonical order', () => {
    // A Date, a boxed string, a class instance with toJSON: their own enumerable members (none, the characters), as it always has.
    class WithToJson {
      a = 1;
      toJSON() {
        return 'not this';
      }
    }
    expect(stringifyLine({ a: new Date(0), b: new WithToJson() })).toBe('{"a":{},"b":{"a":1}}\n');
    // eslint-disable-next-line no-new-wrappers
    expect(stringifyLine({ a: new String('xy') })).toBe('{"a":{"0":"x","1":"y"}}\n');
    const hidden = { a: 1 };
    Object.defineProperty(hidden, 'toJSON', { value: () => 'not this', enumerable: false });
    expect(stringifyLine({ h: hidden })).toBe('{"h":{"a":1}}\n');
    const list = [1, 2] as unknown as { toJSON: () => string };
    Object.defineProperty(list, 'toJSON', { value: () => 'not this', enumerable: false });
    expect(stringifyLine({ l: list })).toBe('{"l":[1,2]}\n');
    // No prototype at all: a plain map of members.
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [2n] });
    expect(stringifyLine({ bare })).toBe('{"bare":{"a":1,"b":[2]}}\n');
    // Bytes in a Buffer (which has a toJSON) and a bigint, deep in objects already in order: hex and a number.
    expect(stringifyLine({ a: [{ b: Buffer.from([1, 255]) }], c: { d: 5n, e: 'x' } })).toBe('{"a":[{"b":"01ff"}],"c":{"d":5,"e":"x"}}\n');
    // Integer-like keys already in code-point order: the line as they stand; a printed amount map in numeric order.
    expect(stringifyLine({ '1': 'a', '10': 'b', '2': 'c' })).toBe('{"1":"a","10":"b","2":"c"}\n');
    expect(stringifyMessage({ type: 't', keys: JSON.parse('{"1":"a","2":"c","10":"b"}') as unknown })).toBe('{\n  "type": "t",\n  "keys": {\n    "1": "a",\n    "2": "c",\n    "10": "b"\n  }\n}\n');
    // Header keys out of their order are put in it.
    expect(stringifyLine(JSON.parse('{"network":"n","type":"t","a":1}') as unknown)).toBe('{"type":"t","network":"n","a":1}\n');
  });

  it('names the path of a value it cannot write at any depth, on the native-serialiser path and on the one for integer-like keys alike', () => {
    expect(() => stringifyLine({ a: [1, { b: Number.NaN }] })).toThrow(new TypeError('$.a[1].b: non-finite number'));
    expect(() => stringifyMessage({ a: [1, { b: 2n ** 60n }] })).toThrow(new TypeError('$.a[1].b: bigint 1152921504606846976 exceeds 2^53; encode it as a decimal string'));
    // A digit key sends the whole value to the concatenating writer: the same walk, the same first error.
    expect(() => stringifyLine({ '1': 0, a: [1, { b: Number.POSITIVE_INFINITY }] })).toThrow(new TypeError('$.a[1].b: non-finite number'));
    expect(() => stringifyLine({ a: [{ c: () => 0 }], '7': Number.NaN })).toThrow(new TypeError('$.7: non-finite number'));
    expect(() => stringifyLine([{ ok: 1 }, [undefined]])).toThrow(new TypeError('$[1][0]: cannot serialise undefined'));
    // After an error the next message is written whole (no path left over from the one that failed).
    expect(stringifyLine({ b: [1], a: 'x' })).toBe('{"a":"x","b":[1]}\n');
  });

  it('keeps a "__proto__" key as an own member in its code-point place, and an array hole as nothing between commas, as it always has', () => {
    const parsed = JSON.parse('{"z":1,"__proto__":{"x":2},"a":3}') as Record<string, unknown>;
    expect(stringifyLine(parsed)).toBe('{"__proto__":{"x":2},"a":3,"z":1}\n');
    expect(stringifyMessage(parsed)).toBe('{\n  "__proto__": {\n    "x": 2\n  },\n  "a": 3,\n  "z": 1\n}\n');
    // eslint-disable-next-line no-sparse-arrays
    expect(stringifyLine({ h: [1, , 2] })).toBe('{"h":[1,,2]}\n');
  });

  it('writes bigint as an exact integer and bytes as lower-case hex; drops undefined', () => {
    expect(stringifyLine({ a: 2_100_000_000_000_000n, b: Uint8Array.of(0xab, 0x01), c: undefined })).toBe('{"a":2100000000000000,"b":"ab01"}\n');
  });

  it('refuses a bigint beyond 2^53 (millisatoshis must be strings) and non-finite numbers', () => {
    // A programming error, not a refusal of input: a TypeError naming the path.
    expect(() => toJsonValue({ msat: 2n ** 60n })).toThrow(new TypeError('$.msat: bigint 1152921504606846976 exceeds 2^53; encode it as a decimal string'));
    expect(() => toJsonValue({ x: Number.NaN })).toThrow(new TypeError('$.x: non-finite number'));
    expect(toJsonValue({ max: 2n ** 53n - 1n })).toEqual({ max: 9007199254740991 });
  });

  // Keys as messages spell them (snake_case identifiers), plus the three header keys.
  const messageKey = fc.oneof(fc.constantFrom('type', 'version', 'network'), fc.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/));
  const scalar = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null));
  /** The canonical text, built here from the rule: header keys in their order, the rest by code point. */
  const expectedLine = (obj: Record<string, unknown>): string => {
    const header = ['type', 'version', 'network'].filter((k) => k in obj);
    const rest = Object.keys(obj).filter((k) => !header.includes(k)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return '{' + [...header, ...rest].map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(',') + '}\n';
  };

  it('writes the header keys, then the others in code-point order, whatever the insertion order (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(messageKey, scalar), fc.func(fc.integer()), (obj, shuffle) => {
        const line = stringifyLine(obj);
        expect(line).toBe(expectedLine(obj));
        const reordered = Object.fromEntries(Object.entries(obj).sort(([a], [b]) => shuffle(a) - shuffle(b)));
        expect(stringifyLine(reordered)).toBe(line);
        expect(stringifyMessage(reordered)).toBe(JSON.stringify(JSON.parse(line), null, 2) + '\n');
        expect(JSON.parse(line)).toEqual(obj);
      }),
      { numRuns: 2000 },
    );
  });

  it('orders any keys by code point — astral characters, lone surrogates, U+E000 and above, shared prefixes (property)', () => {
    // The rule spelled out here: compare the code point sequences (a lone surrogate is its own code point), then the lengths.
    const byCodePoint = (a: string, b: string): number => {
      const [x, y] = [Array.from(a, (c) => c.codePointAt(0)!), Array.from(b, (c) => c.codePointAt(0)!)];
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    const unit = fc.oneof(
      fc.constantFrom('a', 'b', '\u00e9', '\uff00', '\ue000', '\ud7ff', '\ud800', '\udbff', '\udc00', '\udfff', '\u{1f600}', '\u{10000}', '\u{10ffff}'),
      fc.string({ unit: 'binary', maxLength: 2 }),
    );
    const key = fc.array(unit, { maxLength: 4 }).map((u) => u.join('')).filter((k) => !['type', 'version', 'network'].includes(k));
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 8 }), (keys) => {
        const obj = Object.fromEntries(keys.map((k, i) => [k, i]));
        const expected = '{' + [...keys].sort(byCodePoint).map((k) => `${JSON.stringify(k)}:${obj[k]}`).join(',') + '}\n';
        expect(stringifyLine(obj)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
