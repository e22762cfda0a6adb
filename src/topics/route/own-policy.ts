/**
 * `route check --node-id --policy`: the checking node's own channel_update terms, given as
 * `fee_base_msat=N,fee_proportional_millionths=N,cltv_expiry_delta=N` or a file holding that
 * text or a JSON object with those fields; each bounded by its BOLT 7 field width.
 */
import { readFileSync } from 'node:fs';
import { flagValue } from '../../lib/cli/flags.ts';
import { UsageError } from '../../lib/errors.ts';

/** A file holding a channel_update's three terms: the same `name=value,…` text, or a JSON object with those fields. */
function policyFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new UsageError('E_USAGE', `--policy ${path}: not name=value terms, nor a readable file (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!text.startsWith('{')) return text.split(',');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError('E_USAGE', `--policy ${path} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('E_USAGE', `--policy ${path} must hold one JSON object`);
  return Object.entries(value).map(([k, v]) => `${k}=${typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : JSON.stringify(v)}`);
}

export async function ownPolicy(nodeIdHex: string, text: string) {
  const { parsePublicKey } = await import('../../lib/keys/keys.ts');
  const nodeId = flagValue(() => parsePublicKey(nodeIdHex, '--node-id'));
  const limits = { fee_base_msat: 0xffff_ffff, fee_proportional_millionths: 0xffff_ffff, cltv_expiry_delta: 0xffff } as const;
  const values: Partial<Record<keyof typeof limits, number>> = {};
  const parts = text.includes('=') ? text.split(',') : policyFile(text);
  for (const part of parts) {
    const m = /^\s*([a-z_]+)=(\d{1,10})\s*$/.exec(part);
    const name = m?.[1] as keyof typeof limits | undefined;
    if (!m || !name || !(name in limits) || values[name] !== undefined) {
      throw new UsageError('E_USAGE', `--policy takes fee_base_msat=N,fee_proportional_millionths=N,cltv_expiry_delta=N (non-negative integers), got "${part}"`);
    }
    const n = Number(m[2]);
    if (n > limits[name]) throw new UsageError('E_USAGE', `--policy ${name} must be at most ${limits[name]}, got ${m[2]}`);
    values[name] = n;
  }
  const missing = Object.keys(limits).filter((k) => values[k as keyof typeof limits] === undefined);
  if (missing.length) throw new UsageError('E_USAGE', `--policy is missing ${missing.join(', ')}`);
  return {
    nodeId,
    policy: { feeBaseMsat: BigInt(values.fee_base_msat!), feeProportionalMillionths: BigInt(values.fee_proportional_millionths!), cltvExpiryDelta: values.cltv_expiry_delta! },
  };
}
