/**
 * Record texts as a writer of a mint's database may leave them, and JSON.stringify never writes
 * them: a key the watch rule reads (src/lib/watch/ports.ts) written twice or more, a key spelt with
 * \u escapes, a number written otherwise (5320.0, 5.32e3, -0, past 2^53), whitespace — each a
 * valid JSON text. For the stores' heights against the rule (SQLite's JSON reads a key's first
 * value, PostgreSQL's jsonb and JSON.parse its last).
 */
import fc from 'fast-check';

const escaped = (key: string) => fc.integer({ min: 0, max: key.length - 1 }).map((i) => `${key.slice(0, i)}\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}${key.slice(i + 1)}`);
const keyText = (key: string) => fc.oneof({ weight: 3, arbitrary: fc.constant(key) }, escaped(key)).map((k) => `"${k}"`);
const valueText = fc.constantFrom('null', 'true', '"x"', '[]', '{}', '1', '"in_flight"', '["in_flight"]');
const numberText = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -10, max: 10_000_000 }).map(String) },
  fc.integer({ min: 0, max: 10_000 }).chain((n) => fc.constantFrom(`${n}.0`, `${n}e0`, `${n / 1000}e3`, `${n}E+0`)),
  fc.constantFrom('-0', '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740992', '1e21', '0.5', '99999999999999999999'),
  valueText,
);
const object = (entries: fc.Arbitrary<string>) => fc.tuple(fc.array(entries, { maxLength: 4 }), fc.constantFrom('', ' ', '\n')).map(([es, ws]) => `{${ws}${es.join(`,${ws}`)}${ws}}`);
const entry = (key: string, value: fc.Arbitrary<string>) => fc.tuple(keyText(key), value).map(([k, v]) => `${k}:${v}`);
const contractText = fc.oneof({ weight: 4, arbitrary: object(fc.oneof({ weight: 3, arbitrary: entry('expiry_height', numberText) }, entry('capacity_sat', numberText))) }, valueText);
const gatewayText = fc.oneof({ weight: 3, arbitrary: object(fc.oneof(entry('in_flight', valueText), entry('state', valueText))) }, valueText);

/** A record's text: up to six top-level entries of the keys the rule reads (and `status`), any of them repeated. */
export function recordText(): fc.Arbitrary<string> {
  return fc.tuple(
    fc.array(fc.oneof(
      { weight: 4, arbitrary: entry('contract', contractText) },
      { weight: 2, arbitrary: entry('gateway', gatewayText) },
      entry('exiting', valueText), entry('device', valueText), entry('status', valueText),
    ), { maxLength: 6 }),
    fc.constantFrom('', ' ', '\n'),
  ).map(([es, ws]) => `{${es.join(`,${ws}`)}}`);
}
