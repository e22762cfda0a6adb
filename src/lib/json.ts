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

/**
 * Where the walk is: the keys and indices from the root, pushed and popped as it goes. The
 * path an error names ("$.a[2].b") is written from it only when there is an error: building
 * it for every value was a string per node of every message written.
 */
type Path = (string | number)[];

function pathText(at: Path): string {
  let text = '$';
  for (const step of at) text += typeof step === 'number' ? `[${step}]` : `.${step}`;
  return text;
}

/** A value that is not an object or array, as JSON takes it (bigint as a number, bytes as hex), or OBJECT. */
const OBJECT = Symbol('object');
function scalar(value: unknown, at: Path): null | boolean | number | string | typeof OBJECT {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${pathText(at)}: non-finite number`);
      return value;
    case 'bigint':
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new TypeError(`${pathText(at)}: bigint ${value} exceeds 2^53; encode it as a decimal string`);
      }
      return Number(value);
    case 'object':
      return value instanceof Uint8Array ? toHex(value) : OBJECT;
    default:
      throw new TypeError(`${pathText(at)}: cannot serialise ${typeof value}`);
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

/**
 * JSON text of a value in canonical order, written as it is walked (no tree of entries in
 * between): compact, or pretty with `indent` per level (as JSON.stringify).
 */
function write(value: unknown, at: Path, numeric: boolean, indent: string, depth: number): string {
  const s = scalar(value, at);
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
      if (i in value) {
        at.push(i);
        out += write(value[i], at, numeric, indent, depth + 1);
        at.pop();
      }
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
      at.push(k);
      out += JSON.stringify(k) + colon + write(obj[k], at, numeric, indent, depth + 1);
      at.pop();
    }
  }
  return indent ? out + '\n' + indent.repeat(depth) + close : out + close;
}

/**
 * The value as plain JavaScript whose own JSON.stringify is the canonical text, so the text
 * itself is written by V8's native serialiser, several times faster than concatenating it
 * here. What JSON.stringify already writes canonically is returned as it is, not copied: a
 * plain object whose keys are already in canonical order (as every object parsed from a
 * canonical line or message is, and every backup record of a statechain statement) and whose
 * members need nothing converted, an array of such values. Anything else is rebuilt, its keys
 * inserted in canonical order, bigint and bytes converted — a copy begun only where the first
 * member differs. The walk and so the first error met are write()'s. Where a rebuilt object
 * would not keep the insertion order — a key that starts with a digit (integer-like keys come
 * first, numerically) — or a key "__proto__" (an assignment sets the prototype), or an array
 * with a hole (JSON.stringify writes null, write() nothing), it throws UNORDERED and write()
 * does the whole value.
 */
const UNORDERED = Symbol('unordered');
function ordered(value: unknown, at: Path, numeric: boolean): unknown {
  const s = scalar(value, at);
  if (s !== OBJECT) return s;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined = asIs(value, Array.prototype) ? undefined : [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw UNORDERED;
      at.push(i);
      const v = ordered(value[i], at, numeric);
      at.pop();
      if (out === undefined && v !== value[i]) {
        // The first element that changes: the array is copied from here.
        out = [];
        for (let j = 0; j < i; j++) out.push(value[j]);
      }
      if (out !== undefined) out.push(v);
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (!asIs(obj, Object.prototype) || !inOrder(obj, keys, numeric)) return rebuilt(obj, orderedKeys(obj, numeric), at, numeric, 0);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const member = obj[k];
    // A string, boolean, null or finite number is written as it is (most members: no call, no step on the path).
    const t = typeof member;
    if (member === undefined || t === 'string' || t === 'boolean' || member === null || (t === 'number' && Number.isFinite(member))) continue;
    at.push(k);
    const v = ordered(member, at, numeric);
    at.pop();
    // The first member that changes: the object is rebuilt from here (its keys are in order).
    if (v !== member) return rebuilt(obj, keys, at, numeric, i + 1, v);
  }
  return obj;
}

/** Whether JSON.stringify writes this object or array from its own members alone: its prototype the plain one (or none), no toJSON. */
function asIs(value: object, proto: object): boolean {
  const p = Object.getPrototypeOf(value);
  return (p === proto || p === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Whether an object's defined keys are already in canonical order: header keys first in their
 * order, the rest strictly by code point. A printed message's digit-led key (an amount map's,
 * perhaps) always has the object rebuilt.
 */
function inOrder(obj: Record<string, unknown>, keys: readonly string[], numeric: boolean): boolean {
  let header = 0;
  let prev: string | undefined;
  for (const k of keys) {
    if (obj[k] === undefined) continue;
    const place = k === 'type' ? 1 : k === 'version' ? 2 : k === 'network' ? 3 : 4;
    if (place < 4) {
      if (place <= header) return false;
      header = place;
      continue;
    }
    header = 4;
    if (numeric) {
      const first = k.charCodeAt(0);
      if (first >= 0x30 && first <= 0x39) return false;
    }
    if (prev !== undefined && byCodePoint(prev, k) >= 0) return false;
    prev = k;
  }
  return true;
}

/**
 * A copy of `obj` with `keys` (its defined keys in canonical order) inserted in that order:
 * the first `walked` of them already walked — as they are, but the last, which became `last`
 * — the rest walked here.
 */
function rebuilt(obj: Record<string, unknown>, keys: readonly string[], at: Path, numeric: boolean, walked: number, last?: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const member = obj[k];
    if (member === undefined) continue;
    const c = k.charCodeAt(0);
    if ((c >= 0x30 && c <= 0x39) || k === '__proto__') throw UNORDERED;
    if (i < walked - 1) out[k] = member;
    else if (i === walked - 1) out[k] = last;
    else {
      at.push(k);
      out[k] = ordered(member, at, numeric);
      at.pop();
    }
  }
  return out;
}

function text(value: unknown, numeric: boolean, indent: string): string {
  let plain: unknown;
  try {
    plain = ordered(value, [], numeric);
  } catch (e) {
    if (e !== UNORDERED) throw e;
    return write(value, [], numeric, indent, 0);
  }
  return JSON.stringify(plain, null, indent);
}

/** Pretty (2-space) canonical JSON with a trailing newline: one message on stdout. */
export function stringifyMessage(value: unknown): string {
  return text(value, true, '  ') + '\n';
}

/** Compact canonical JSON on one line: one item of a JSON Lines stream. */
export function stringifyLine(value: unknown): string {
  return text(value, false, '') + '\n';
}

/** Our library values as plain JSON values: the canonical line read back (object key order as JavaScript keeps it). */
export function toJsonValue(value: unknown): JsonValue {
  return JSON.parse(stringifyLine(value)) as JsonValue;
}

/** Equal as canonical JSON (key order, bigint and bytes as the writer puts them); undefined equals only undefined. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return stringifyLine(a) === stringifyLine(b);
}
