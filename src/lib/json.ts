/**
 * Canonical JSON for every message we print: a stable key order (so `diff` and CI
 * snapshots work), `bigint` written as an exact integer, bytes written as lower-case
 * hex. The order is: `type`, `version`, `network` first (every message leads with
 * them), then all other keys sorted by code point, recursively.
 *
 * A printed message (stringifyMessage) lists an object whose keys are ALL decimal integers
 * — an ecash keyset's amount → key map — in numeric order, as NUT-01 and Nutshell print
 * it ("1", "2", "4", … "1024", not "1", "1024", "1048576", …). The line form keeps code-point
 * order: signatures and MACs already made hash it (credit/ecash-announce.ts, ecash-keysets.ts).
 *
 * Amounts: satoshis leave as JSON integers; a bigint beyond 2^53 cannot be a satoshi
 * amount and is refused here so that millisatoshi values are explicitly written as
 * decimal strings by their encoder (the brief: never a lossy number).
 */
import { toHex } from './bytes.ts';


export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A JSON value with its object keys in canonical order, kept as an entry list: a plain
 * JavaScript object would put integer-like keys ("2", "10") first whatever the order
 * they were inserted in.
 */
type Canonical = null | boolean | number | string | Canonical[] | { entries: [string, Canonical][] };

/**
 * Compare by Unicode code point (not UTF-16 code unit, which puts U+1F600 before U+FF00).
 * Code units decide wherever the first difference is between two units below the
 * surrogates (every key we write): there the code point orders agree.
 */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const u = a.charCodeAt(i);
    const v = b.charCodeAt(i);
    if (u === v) continue;
    if (u < 0xd800 && v < 0xd800) return u - v;
    return byCodePoints(a, b);
  }
  return a.length - b.length;
}

function byCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** An amount map: every key a decimal integer, compared as numbers. */
function numericKeys(keys: readonly string[]): boolean {
  return keys.length > 1 && keys.every((k) => DECIMAL.test(k));
}

/** A value that is not an object or array, as JSON takes it (bigint as a number, bytes as hex), or OBJECT. */
const OBJECT = Symbol('object');
function scalar(value: unknown, path: string): null | boolean | number | string | typeof OBJECT {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: non-finite number`);
      return value;
    case 'bigint':
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new TypeError(`${path}: bigint ${value} exceeds 2^53; encode it as a decimal string`);
      }
      return Number(value);
    case 'object':
      return value instanceof Uint8Array ? toHex(value) : OBJECT;
    default:
      throw new TypeError(`${path}: cannot serialise ${typeof value}`);
  }
}

/** An object's defined keys in canonical order: the header keys, then the rest by code point (an amount map numerically, when `numeric`). */
function orderedKeys(obj: Record<string, unknown>, numeric: boolean): string[] {
  // One pass (every message is written through here): the header keys noted, the rest collected.
  let type = false;
  let version = false;
  let network = false;
  const rest: string[] = [];
  for (const k of Object.keys(obj)) {
    if (obj[k] === undefined) continue;
    if (k === 'type') type = true;
    else if (k === 'version') version = true;
    else if (k === 'network') network = true;
    else rest.push(k);
  }
  if (numeric && numericKeys(rest)) rest.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  else rest.sort(byCodePoint);
  if (!type && !version && !network) return rest;
  const keys: string[] = [];
  if (type) keys.push('type');
  if (version) keys.push('version');
  if (network) keys.push('network');
  for (const k of rest) keys.push(k);
  return keys;
}

function canonical(value: unknown, path: string, numeric = false): Canonical {
  const s = scalar(value, path);
  if (s !== OBJECT) return s;
  if (Array.isArray(value)) return value.map((v, i) => canonical(v, `${path}[${i}]`, numeric));
  const obj = value as Record<string, unknown>;
  return { entries: orderedKeys(obj, numeric).map((k) => [k, canonical(obj[k], `${path}.${k}`, numeric)]) };
}

/**
 * JSON text of a value in canonical order, written as it is walked (no tree of entries in
 * between): compact, or pretty with `indent` per level (as JSON.stringify). The walk, and so
 * the first error met, is canonical()'s.
 */
function write(value: unknown, path: string, numeric: boolean, indent: string, depth: number): string {
  const s = scalar(value, path);
  if (s !== OBJECT) return JSON.stringify(s);
  const inner = indent ? '\n' + indent.repeat(depth + 1) : '';
  const comma = ',' + inner;
  let out: string;
  let close: string;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    out = '[' + inner;
    close = ']';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += comma;
      // A hole is skipped, as Array.prototype.map and join leave it (nothing between the commas).
      if (i in value) out += write(value[i], `${path}[${i}]`, numeric, indent, depth + 1);
    }
  } else {
    const obj = value as Record<string, unknown>;
    const keys = orderedKeys(obj, numeric);
    if (keys.length === 0) return '{}';
    out = '{' + inner;
    close = '}';
    const colon = indent ? ': ' : ':';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (i > 0) out += comma;
      out += JSON.stringify(k) + colon + write(obj[k], `${path}.${k}`, numeric, indent, depth + 1);
    }
  }
  return indent ? out + '\n' + indent.repeat(depth) + close : out + close;
}

function plain(c: Canonical): JsonValue {
  if (c === null || typeof c !== 'object') return c;
  if (Array.isArray(c)) return c.map(plain);
  return Object.fromEntries(c.entries.map(([k, v]) => [k, plain(v)]));
}

/** Convert our library values into plain JSON values (object key order as JavaScript keeps it). */
export function toJsonValue(value: unknown, path = '$'): JsonValue {
  return plain(canonical(value, path));
}

/** Pretty (2-space) canonical JSON with a trailing newline: one message on stdout. */
export function stringifyMessage(value: unknown): string {
  return write(value, '$', true, '  ', 0) + '\n';
}

/** Compact canonical JSON on one line: one item of a JSON Lines stream. */
export function stringifyLine(value: unknown): string {
  return write(value, '$', false, '', 0) + '\n';
}

/** Equal as canonical JSON (key order, bigint and bytes as the writer puts them); undefined equals only undefined. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return stringifyLine(a) === stringifyLine(b);
}
