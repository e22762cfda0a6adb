/**
 * decodeMessage checks a schema it has decoded COMPILE_AFTER times with TypeBox's compiled
 * check instead of Value.Check: the two must agree on every value. Property test over every
 * fixture message, mutated (keys dropped or added, leaves retyped, strings cut, lengthened or
 * given a foreign character, numbers out of range); it goes red on a planted divergence.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ROOT } from '../helpers.ts';
import { MESSAGE_SCHEMAS } from '../../src/lib/schemas.ts';
import { COMPILE_AFTER, compiledCheck, decodeMessage } from '../../src/lib/message.ts';
import { UpdateRequestSchema } from '../../src/lib/credit/schemas.ts';

const DIRS = ['fixtures/messages', 'fixtures/psbt', 'fixtures/credit', 'fixtures/htlc', 'fixtures/ptlc', 'fixtures/route', 'fixtures/bolt3', 'fixtures/openassets', 'fixtures/onion', 'fixtures/statechain', 'fixtures/truc', 'fixtures/invoice', 'fixtures/device'];

function fixtures(): { schema: TObject; message: Record<string, unknown> }[] {
  const out = [];
  for (const d of DIRS) {
    for (const f of readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.json'))) {
      const message = JSON.parse(readFileSync(join(ROOT, d, f), 'utf8'));
      const schema = MESSAGE_SCHEMAS.find((s) => s.$id === message.type);
      if (schema) out.push({ schema, message });
    }
  }
  return out;
}

/** xorshift32: the same mutations on every run. */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}
type Rng = ReturnType<typeof prng>;

/** Every path to a value inside `v` (objects and arrays), the root included. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

const LEAVES: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, 2_100_000_000_000_001, '', 'x', '00', 'regtest', [], {}, [1], { a: 1 }];
/** A fresh copy: a leaf put into a message may be mutated there later. */
const leaf = (r: Rng) => structuredClone(r.pick(LEAVES));

function mutateString(s: string, r: Rng): string {
  switch (r.int(5)) {
    case 0: return s.slice(0, r.int(s.length + 1));
    case 1: return s + r.pick(['0', 'a', 'A', '=', 'G', '-', ' ']);
    case 2: {
      const i = r.int(Math.max(1, s.length));
      return s.slice(0, i) + r.pick(['G', 'z', 'Z', '+', '/', '=', '.', ' ', 'é', '0']) + s.slice(i + 1);
    }
    case 3: return s.toUpperCase();
    default: return s.repeat(2);
  }
}

function mutate(message: unknown, r: Rng): unknown {
  const v = structuredClone(message);
  for (let n = 1 + r.int(2); n > 0; n--) {
    const all = paths(v);
    const path = r.pick(all);
    if (path.length === 0) {
      (v as Record<string, unknown>)[r.pick(['extra', 'type', 'version', 'network', 'psbt'])] = leaf(r);
      continue;
    }
    let parent = v as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    const old = parent[key];
    const what = r.int(6);
    if (what === 0 && !Array.isArray(parent)) delete parent[key];
    else if (what === 1 && typeof old === 'string') parent[key] = mutateString(old, r);
    else if (what === 2 && typeof old === 'number') parent[key] = r.pick([old + 1, old - 1, -old, old + 0.5, old * 1e6, 0]);
    else if (what === 3 && old !== null && typeof old === 'object' && !Array.isArray(old)) (old as Record<string, unknown>)[r.pick(['extra', 'amount', 'id'])] = leaf(r);
    else if (what === 4 && Array.isArray(old)) old.push(structuredClone(old[0] ?? 1));
    else parent[key] = leaf(r);
  }
  return v;
}

/** Values where `check` and Value.Check disagree, over `rounds` mutations of each fixture. */
function disagreements(rounds: number, check: (schema: TObject) => (v: unknown) => boolean, only?: TObject) {
  const r = prng(0x5eed40);
  const found: string[] = [];
  let valid = 0;
  let invalid = 0;
  for (const { schema, message } of fixtures()) {
    if (only && schema !== only) continue;
    const fast = check(schema);
    for (let i = 0; i < rounds; i++) {
      const v = i === 0 ? message : mutate(message, r);
      const reference = Value.Check(schema, v);
      if (reference) valid++;
      else invalid++;
      if (fast(v) !== reference) found.push(`${schema.$id}: ${JSON.stringify(v).slice(0, 200)}`);
    }
  }
  return { found, valid, invalid };
}

describe('decodeMessage: the compiled check agrees with Value.Check', () => {
  it('on every fixture message and on mutations of it', () => {
    const { found, valid, invalid } = disagreements(60, (s) => (v) => compiledCheck(s).Check(v));
    expect(found).toEqual([]);
    // Both verdicts are exercised, not one.
    expect(valid).toBeGreaterThan(500);
    expect(invalid).toBeGreaterThan(2000);
  });

  it('goes red on a planted divergence (a compiled check that lost the PSBT pattern)', () => {
    const planted = Type.Object({ ...UpdateRequestSchema.properties, psbt: Type.String() }, { additionalProperties: false });
    const wrong = TypeCompiler.Compile(planted);
    const { found } = disagreements(200, () => (v) => wrong.Check(v), UpdateRequestSchema);
    expect(found.length).toBeGreaterThan(0);
  });

  it('refuses the same input with the same message before and after the schema is compiled', () => {
    const message = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/update-request.json'), 'utf8'));
    const r = prng(7);
    const bad = Array.from({ length: 40 }, () => mutate(message, r));
    const outcome = (v: unknown) => {
      try {
        decodeMessage(UpdateRequestSchema, v);
        return 'ok';
      } catch (e) {
        return `${(e as { code: string }).code}: ${(e as Error).message}`;
      }
    };
    // Run the list past COMPILE_AFTER decodes: the verdicts and messages do not change.
    const first = bad.map(outcome);
    expect(bad.length).toBeGreaterThan(COMPILE_AFTER);
    expect(bad.map(outcome)).toEqual(first);
    expect(first.filter((o) => o !== 'ok').length).toBeGreaterThan(20);
  });
});
