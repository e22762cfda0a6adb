/**
 * The one way to decode a message: check the envelope first (envelope.ts, so a wrong
 * message gets a clear "expected X, got Y"), then validate the whole value against the
 * message's JSON Schema. The schemas are TypeBox
 * values, i.e. plain JSON Schema: `npm run schemas` writes the very same objects to
 * schemas/*.json for the docs, and a test keeps those files in step.
 */
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
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
 * validating every element. Follows object properties only (not array elements), in their
 * order: the first bounded array too long is the one named. The walk is laid out once per
 * schema (the bounded arrays reachable, with their paths); a schema with none costs nothing
 * per message.
 */
type BoundedArray = { keys: string[]; path: string; max: number };
function boundedArrays(schema: unknown, keys: string[], out: BoundedArray[]): BoundedArray[] {
  const s = schema as { type?: string; maxItems?: number; properties?: Record<string, unknown> };
  if (s.type === 'array' && s.maxItems !== undefined) out.push({ keys, path: keys.join('.') || '(message)', max: s.maxItems });
  if (s.type === 'object' && s.properties) for (const [key, sub] of Object.entries(s.properties)) boundedArrays(sub, [...keys, key], out);
  return out;
}

function tooLongIn(arrays: readonly BoundedArray[], value: unknown): { path: string; max: number; length: number } | undefined {
  next: for (const a of arrays) {
    let v = value;
    for (const key of a.keys) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, key)) continue next;
      v = (v as Record<string, unknown>)[key];
    }
    if (Array.isArray(v) && v.length > a.max) return { path: a.path, max: a.max, length: v.length };
  }
  return undefined;
}

/**
 * Decodes of a schema before its check is compiled (TypeBox's TypeCompiler: the same
 * checks as Value.Check, as one generated function). Compiling costs 2–5 ms; a one-shot
 * command decodes a message or two and never pays it, a stream or a service compiles each
 * schema it serves once.
 */
export const COMPILE_AFTER = 8;

type SchemaUse = { uses: number; arrays: readonly BoundedArray[]; compiled?: TypeCheck<TObject> };
const uses = new WeakMap<TObject, SchemaUse>();

function useOf(schema: TObject): SchemaUse {
  let u = uses.get(schema);
  if (!u) uses.set(schema, (u = { uses: 0, arrays: boundedArrays(schema, [], []) }));
  return u;
}

/** The compiled check decodeMessage uses once a schema has been decoded COMPILE_AFTER times (tests compare it with Value.Check). */
export function compiledCheck(schema: TObject): TypeCheck<TObject> {
  const u = useOf(schema);
  return (u.compiled ??= TypeCompiler.Compile(schema));
}

/** Decode `value` as a message of `schema`, or throw one clear MalformedInputError. */
export function decodeMessage<S extends TObject>(schema: S, value: unknown): Static<S> {
  const env = readEnvelope(value);
  const expected = schema.properties.type?.const as string;
  if (env.type !== expected) {
    throw new MalformedInputError('E_WRONG_MESSAGE', `expected ${article(expected)} ${expected} message, got ${env.type}${nextStepHint(env.type)}`);
  }
  const use = useOf(schema);
  const long = tooLongIn(use.arrays, value);
  if (long) throw new MalformedInputError('E_MALFORMED_MESSAGE', `${expected}: ${long.path}: at most ${long.max} items, got ${long.length}`);
  const valid = use.compiled ? use.compiled.Check(value) : ++use.uses >= COMPILE_AFTER ? compiledCheck(schema).Check(value) : Value.Check(schema, value);
  if (!valid) {
    const first = Value.Errors(schema, value).First();
    const where = first?.path ? first.path.slice(1).replace(/\//g, '.') : '(message)';
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${expected}: ${where}: ${first?.message ?? 'invalid'}`);
  }
  return value as Static<S>;
}
