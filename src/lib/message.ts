/**
 * The one way to decode a message: check the envelope first (envelope.ts, so a wrong
 * message gets a clear "expected X, got Y"), then validate the whole value against the
 * message's JSON Schema. The schemas are TypeBox
 * values, i.e. plain JSON Schema: `npm run schemas` writes the very same objects to
 * schemas/*.json for the docs, and a test keeps those files in step.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MalformedInputError } from './errors.ts';
import { MESSAGE_VERSION, readEnvelope } from './envelope.ts';
import { NETWORKS } from './network.ts';
import { article, nextStepHint } from './message-steps.ts';


export const NetworkSchema = Type.Union(
  NETWORKS.map((n) => Type.Literal(n)),
  { description: 'Bitcoin network the message belongs to' },
);

/** A JSON integer of satoshis (at most 21 million BTC, so always exact in JSON). */
export const Sats = (description: string) => Type.Integer({ minimum: 0, maximum: 2_100_000_000_000_000, description });
export const Hex = (description: string, bytes?: number) =>
  Type.String(
    bytes === undefined
      ? { pattern: '^([0-9a-f]{2})*$', description }
      : { pattern: `^[0-9a-f]{${bytes * 2}}$`, description },
  );
export const Base64Psbt = Type.String({ pattern: '^cHNidP[89+/][A-Za-z0-9+/]*={0,2}$', description: 'PSBT (BIP-174), base64' });
export const Txid = Hex('transaction id (display byte order)', 32);

/** Define a message schema: the envelope plus the message's own fields. */
export function messageSchema<T extends TProperties>(type: string, description: string, fields: T) {
  return Type.Object(
    {
      type: Type.Literal(type),
      version: Type.Literal(MESSAGE_VERSION),
      network: NetworkSchema,
      ...fields,
    },
    { $id: type, title: type, description, additionalProperties: false },
  );
}

/**
 * An array longer than its schema's maxItems, found before anything else is checked: a
 * 30 MB message of 150,000 route hops is refused at once for its length, not after
 * validating every element. Follows object properties only (not array elements).
 */
export function tooLongArray(schema: unknown, value: unknown, path: string): { path: string; max: number; length: number } | undefined {
  const s = schema as { type?: string; maxItems?: number; properties?: Record<string, unknown> };
  if (s.type === 'array' && Array.isArray(value) && s.maxItems !== undefined && value.length > s.maxItems) {
    return { path: path || '(message)', max: s.maxItems, length: value.length };
  }
  if (s.type === 'object' && s.properties && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, sub] of Object.entries(s.properties)) {
      if (!Object.hasOwn(value, key)) continue;
      const found = tooLongArray(sub, (value as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return undefined;
}

/** Decode `value` as a message of `schema`, or throw one clear MalformedInputError. */
export function decodeMessage<S extends TObject>(schema: S, value: unknown): Static<S> {
  const env = readEnvelope(value);
  const expected = schema.properties.type?.const as string;
  if (env.type !== expected) {
    throw new MalformedInputError('E_WRONG_MESSAGE', `expected ${article(expected)} ${expected} message, got ${env.type}${nextStepHint(env.type)}`);
  }
  const long = tooLongArray(schema, value, '');
  if (long) throw new MalformedInputError('E_MALFORMED_MESSAGE', `${expected}: ${long.path}: at most ${long.max} items, got ${long.length}`);
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    const where = first?.path ? first.path.slice(1).replace(/\//g, '.') : '(message)';
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${expected}: ${where}: ${first?.message ?? 'invalid'}`);
  }
  return value as Static<S>;
}
