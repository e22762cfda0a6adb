/**
 * An operator route's request body (serve gateway's /v1/operator/settle|fail|claim, serve mint's
 * /v1/operator/exit): a JSON object of the one-shot command's flags, named with underscores —
 * strings, and its switches as booleans. Any other field, or another type, is E_MALFORMED_REQUEST
 * (exit 2, 400): a misspelt "dry_run" must not become a real exit.
 */
import { MalformedInputError } from '../../lib/errors.ts';
import type { RouteRequest } from './service.ts';

/** The body's strings by name, and in `on` the switches that are true. */
export function fields(req: RouteRequest, allowed: readonly string[], switches: readonly string[] = []): Record<string, string | undefined> & { on: Set<string> } {
  const b = req.body;
  const all = [...allowed, ...switches];
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new MalformedInputError('E_MALFORMED_REQUEST', `the request body must be a JSON object with ${all.join(', ')}`);
  const out: Record<string, string | undefined> & { on: Set<string> } = Object.assign(Object.create(null) as Record<string, string | undefined>, { on: new Set<string>() });
  for (const [k, v] of Object.entries(b)) {
    if (!all.includes(k)) throw new MalformedInputError('E_MALFORMED_REQUEST', `unknown field ${JSON.stringify(k)} (takes ${all.join(', ')})`);
    if (switches.includes(k)) {
      if (typeof v !== 'boolean') throw new MalformedInputError('E_MALFORMED_REQUEST', `${k} must be true or false`);
      if (v) out.on.add(k);
      continue;
    }
    if (typeof v !== 'string') throw new MalformedInputError('E_MALFORMED_REQUEST', `${k} must be a string`);
    out[k] = v;
  }
  return out;
}

/** contract_id, when given: 64 lowercase hex digits (the one-shot's --contract). */
export function contractIdOf(f: Record<string, string | undefined>): string | undefined {
  const id = f.contract_id;
  if (id !== undefined && !/^[0-9a-f]{64}$/.test(id)) throw new MalformedInputError('E_MALFORMED_REQUEST', 'contract_id must be 64 lowercase hex digits');
  return id;
}
