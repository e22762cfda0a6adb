/**
 * Canonical JSON for every message we print: a stable key order (so `diff` and CI
 * snapshots work), `bigint` written as an exact integer, bytes written as lower-case
 * hex. The order is: `type`, `version`, `network` first (every message leads with
 * them), then all other keys sorted by code point, recursively.
 *
 * Amounts: satoshis leave as JSON integers; a bigint beyond 2^53 cannot be a satoshi
 * amount and is refused here so that millisatoshi values are explicitly written as
 * decimal strings by their encoder (the brief: never a lossy number).
 */
import { toHex } from './bytes.ts';

const HEADER_KEYS = ['type', 'version', 'network'] as const;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Convert our library values into plain JSON values, with the canonical key order. */
export function toJsonValue(value: unknown, path = '$'): JsonValue {
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
      break;
    default:
      throw new TypeError(`${path}: cannot serialise ${typeof value}`);
  }
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map((v, i) => toJsonValue(v, `${path}[${i}]`));
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  const header = HEADER_KEYS.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !(HEADER_KEYS as readonly string[]).includes(k)).sort();
  const out: { [key: string]: JsonValue } = {};
  for (const k of [...header, ...rest]) out[k] = toJsonValue(obj[k], `${path}.${k}`);
  return out;
}

/** Pretty (2-space) canonical JSON with a trailing newline: one message on stdout. */
export function stringifyMessage(value: unknown): string {
  return JSON.stringify(toJsonValue(value), null, 2) + '\n';
}

/** Compact canonical JSON on one line: one item of a JSON Lines stream. */
export function stringifyLine(value: unknown): string {
  return JSON.stringify(toJsonValue(value)) + '\n';
}
