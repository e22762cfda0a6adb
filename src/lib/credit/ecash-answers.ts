/**
 * The ecash mint's answers the credit mint reads (NUT-02 GET /v1/keysets, NUT-01 GET
 * /v1/keys): its keysets with unit, active flag, fee and final expiry, and their keys,
 * each read strictly. Reading only: what the credit mint does with them is
 * ecash-reproduce.ts (the invariants: ecash-keysets.ts).
 */
import { MalformedInputError } from '../errors.ts';
import { parseKeys } from '../ecash/nut01.ts';
import type { KeysetKeys } from '../ecash/nut02.ts';

/** One keyset as GET /v1/keysets lists it. */
export type LiveKeyset = { id: string; unit: string; active: boolean; input_fee_ppk: number; final_expiry: number | null };

/** What the ecash mint answered: its keysets, and the keys of those the answers carry. */
export type LiveMint = { source: string; keysets: LiveKeyset[]; keys: Map<string, KeysetKeys> };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const optionalInt = (v: unknown, what: string): number | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new MalformedInputError('E_BAD_KEYSET', `${what} is not a whole number ≥ 0`);
  return v;
};

/** GET /v1/keysets (NUT-02): every keyset, its unit, whether active, its fee and final expiry. Ids of unknown versions are kept (never matched). */
export function readKeysetsAnswer(json: unknown, source: string): LiveKeyset[] {
  if (!isObject(json) || !Array.isArray(json['keysets'])) throw new MalformedInputError('E_BAD_KEYSET', `${source}: not a /v1/keysets answer ({"keysets": [...]})`);
  return json['keysets'].map((k, i) => {
    if (!isObject(k) || typeof k['id'] !== 'string' || typeof k['unit'] !== 'string') throw new MalformedInputError('E_BAD_KEYSET', `${source}: keysets[${i}] has no id or unit`);
    if (k['active'] !== undefined && typeof k['active'] !== 'boolean') throw new MalformedInputError('E_BAD_KEYSET', `${source}: keysets[${i}].active is not a boolean`);
    return {
      id: k['id'], unit: k['unit'], active: k['active'] !== false,
      input_fee_ppk: optionalInt(k['input_fee_ppk'], `${source}: keysets[${i}].input_fee_ppk`) ?? 0,
      final_expiry: optionalInt(k['final_expiry'], `${source}: keysets[${i}].final_expiry`),
    };
  });
}

/** GET /v1/keys or /v1/keys/{id} (NUT-01): id → keys, each keys object read strictly. */
export function readKeysAnswer(json: unknown, source: string): Map<string, KeysetKeys> {
  if (!isObject(json) || !Array.isArray(json['keysets'])) throw new MalformedInputError('E_BAD_KEYSET', `${source}: not a /v1/keys answer ({"keysets": [{"id", "keys"}, ...]})`);
  const out = new Map<string, KeysetKeys>();
  for (const [i, k] of json['keysets'].entries()) {
    if (!isObject(k) || typeof k['id'] !== 'string') throw new MalformedInputError('E_BAD_KEYSET', `${source}: keysets[${i}] has no id`);
    out.set(k['id'], parseKeys(k['keys']).keys);
  }
  return out;
}

// ——— derivation, cheaply: the key of amount 1 tells a seed and path apart ———
