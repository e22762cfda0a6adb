/**
 * Read-only views of ecash: a keyset from any document that carries one, and a token
 * decoded and checked proof by proof (NUT-12 DLEQ, with the r the token carries).
 */
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { compressed, pointFromBytes, type Point } from '../ecash/curve.ts';
import { secretPoint } from '../ecash/nut00.ts';
import { parseKeys } from '../ecash/nut01.ts';
import { keysetIdV00 } from '../ecash/nut02.ts';
import { verifyProofDleq } from '../ecash/nut12.ts';
import type { Token } from '../ecash/token.ts';

export type KeysetView = { id: string; points: Map<bigint, Point> };

/** credit/keyset or a /v1/keys answer ({keysets: [{id, keys}]}), or a credit/offer's ecash ({keyset_id, keys}); the id is recomputed. */
export function keysetFromDocument(doc: unknown): KeysetView {
  const d = doc as { keysets?: { id?: unknown; keys?: unknown }[]; ecash?: { keyset_id?: unknown; keys?: unknown } };
  const claimed = d?.keysets?.[0]?.id ?? d?.ecash?.keyset_id;
  const keys = d?.keysets?.[0]?.keys ?? d?.ecash?.keys;
  if (typeof claimed !== 'string' || keys === undefined) throw new MalformedInputError('E_BAD_KEYSET', '--keyset holds no keyset (credit/keyset, a /v1/keys answer, or a credit/offer with ecash)');
  const parsed = parseKeys(keys);
  const id = keysetIdV00(parsed.keys);
  if (id !== claimed) throw new RefusedError('E_BAD_KEYSET', `the keyset's keys hash to ${id}, not the ${claimed} it names`);
  return { id, points: parsed.points };
}

export function tokenMessage(network: string, text: string, t: Token, ks: KeysetView): Record<string, unknown> {
  let amount = 0n;
  const proofs = t.proofs.map((p, i) => {
    amount += p.amount;
    const A = p.id === ks.id ? ks.points.get(p.amount) : undefined;
    const C = pointFromBytes(p.C, 'C');
    const dleq = p.id !== ks.id ? 'other keyset' : !p.dleq?.r || !A ? 'absent' : verifyProofDleq({ e: p.dleq.e, s: p.dleq.s, r: p.dleq.r }, A, p.secret, C) ? 'valid' : 'invalid';
    if (dleq !== 'valid') throw new RefusedError('E_BAD_DLEQ', `proof ${i} (${p.amount} ${t.unit}, keyset ${p.id}): DLEQ ${dleq} against keyset ${ks.id}`);
    return { id: p.id, amount: Number(p.amount), Y: toHex(compressed(secretPoint(p.secret))), C: toHex(p.C), dleq };
  });
  return {
    type: 'credit/token', version: 1, network, version_prefix: text.startsWith('cashuA') ? 'cashuA' : 'cashuB', mint: t.mint, unit: t.unit,
    ...(t.memo !== undefined ? { memo: t.memo } : {}), amount_sat: Number(amount), keyset_id: ks.id, proofs, all_valid: true,
  };
}
