/**
 * `invoice decode --human` (and on a terminal): the decoded invoice or offer for a person —
 * what it asks, of whom, until when, whether it verified — then every other field by its
 * name, and what a payer must still check. Input: the invoice/* message; nothing is decoded
 * here.
 */
import { msatText, rows } from '../../lib/cli/human.ts';

const TITLES: Record<string, string> = {
  'invoice/bolt11': 'BOLT 11 invoice',
  'invoice/offer': 'BOLT 12 offer',
  'invoice/request': 'BOLT 12 invoice request',
  'invoice/bolt12': 'BOLT 12 invoice',
};
/** The string itself and bookkeeping a person does not read here. */
const SKIP = new Set(['type', 'version', 'network', 'invoice', 'offer', 'invoice_request', 'payer_checks', 'valid', 'expired', 'now', 'expires_at', 'unknown_fields', 'signature', 'recovery_id', 'feature_bits']);
const MSAT = /(^|_)amount(_msat)?$/;

const when = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

function valueText(key: string, v: unknown, m: Record<string, unknown>): string {
  if (typeof v === 'string' && MSAT.test(key) && /^[0-9]+$/.test(v) && !(key === 'offer_amount' && m.offer_currency !== undefined)) return `${msatText(v)} (${v} msat)`;
  if (typeof v === 'number' && /(^|_)created_at$|absolute_expiry$/.test(key)) return `${when(v)} (${v})`;
  if (Array.isArray(v)) return v.length === 0 ? 'none' : `${v.length}: ${JSON.stringify(v)}`;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function invoiceHumanText(m: Record<string, unknown>): string {
  const title = TITLES[String(m.type)] ?? String(m.type);
  const expires = typeof m.expires_at === 'number' ? `, ${m.expired ? 'EXPIRED at' : 'expires'} ${when(m.expires_at)}` : m.expired ? ', EXPIRED' : '';
  const out = [`${title} (${String(m.network)}): ${m.valid ? 'signature valid' : 'NOT VALID'}${expires}`];
  const fields = Object.keys(m).filter((k) => !SKIP.has(k) && m[k] !== undefined).sort();
  out.push(rows(fields.map((k) => [k, valueText(k, m[k], m)] as const)));
  const unknown = m.unknown_fields as unknown[] | undefined;
  if (unknown?.length) out.push(`  unknown fields (skipped): ${JSON.stringify(unknown)}`);
  const checks = (m.payer_checks as string[] | undefined) ?? [];
  if (checks.length) out.push('', 'before paying, check:', ...checks.map((c) => `  - ${c}`));
  return out.join('\n') + '\n';
}
