/**
 * Read-only views of ecash: a keyset from any document that carries one, and a token
 * decoded and checked proof by proof (NUT-12 DLEQ, with the r the token carries).
 */
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { compressed, pointFromBytes, type Point } from '../ecash/curve.ts';
import { secretPoint } from '../ecash/nut00.ts';
import { parseKeys } from '../ecash/nut01.ts';
import { keysetIdMatches, namesKeyset } from '../ecash/nut02.ts';
import { verifyProofDleq } from '../ecash/nut12.ts';
import type { Token } from '../ecash/token.ts';

/** A keyset's id and keys, its unit, and — from a credit/offer — the mint URL its tokens must name. */
export type KeysetView = { id: string; unit: string; mintUrl?: string; points: Map<bigint, Point> };

/** credit/keyset or a /v1/keys answer ({keysets: [{id, keys}]}), or a credit/offer's ecash ({keyset_id, keys}); the id is recomputed. */
export function keysetFromDocument(doc: unknown): KeysetView {
  const d = doc as { keysets?: { id?: unknown; unit?: unknown; keys?: unknown; input_fee_ppk?: unknown; final_expiry?: unknown }[]; ecash?: { keyset_id?: unknown; unit?: unknown; mint_url?: unknown; keys?: unknown; input_fee_ppk?: unknown; final_expiry?: unknown } };
  const claimed = d?.keysets?.[0]?.id ?? d?.ecash?.keyset_id;
  const keys = d?.keysets?.[0]?.keys ?? d?.ecash?.keys;
  // NUT-01 names each keyset's unit; a credit/keyset and an offer's keyset are sat.
  const unit = d?.keysets?.[0] ? d.keysets[0].unit ?? 'sat' : d?.ecash?.unit ?? 'sat';
  const mintUrl = d?.keysets?.[0] ? undefined : d?.ecash?.mint_url;
  if (typeof unit !== 'string') throw new MalformedInputError('E_BAD_KEYSET', 'the keyset\'s unit is not a string');
  if (mintUrl !== undefined && typeof mintUrl !== 'string') throw new MalformedInputError('E_BAD_KEYSET', 'the offer\'s mint_url is not a string');
  if (typeof claimed !== 'string' || keys === undefined) throw new MalformedInputError('E_BAD_KEYSET', '--keyset holds no keyset (credit/keyset, a /v1/keys answer, or a credit/offer with ecash)');
  const parsed = parseKeys(keys);
  // NUT-02 v00 commits to the keys; v01 also to the unit, fee and final expiry the document gives.
  const meta = d?.keysets?.[0] ?? d?.ecash;
  const fee = typeof meta?.input_fee_ppk === 'number' ? meta.input_fee_ppk : 0;
  const expiry = typeof meta?.final_expiry === 'number' ? meta.final_expiry : null;
  if (!keysetIdMatches(claimed, parsed.keys, { unit, input_fee_ppk: fee, final_expiry: expiry })) {
    throw new RefusedError('E_BAD_KEYSET', `the keyset's keys (unit ${unit}, fee ${fee}) do not hash to the ${claimed} it names`);
  }
  const id = claimed;
  return { id, unit, ...(mintUrl !== undefined ? { mintUrl } : {}), points: parsed.points };
}

/**
 * A token checked against a keyset: every proof's DLEQ, and the token's unit (and, with
 * an offer, its mint URL) the keyset's — valid proofs in a token naming another mint
 * would be handed to that mint by the receiver's wallet (E_TOKEN_MISMATCH, exit 4).
 */
export function tokenMessage(network: string, text: string, t: Token, ks: KeysetView): Record<string, unknown> {
  if (t.unit !== ks.unit) throw new RefusedError('E_TOKEN_MISMATCH', `the token is in ${JSON.stringify(t.unit)}; keyset ${ks.id} signs ${JSON.stringify(ks.unit)}`);
  if (ks.mintUrl !== undefined && t.mint !== ks.mintUrl) {
    throw new RefusedError('E_TOKEN_MISMATCH', `the token names the mint ${t.mint}, not the offer's ${ks.mintUrl}: a wallet would hand its proofs to that server`);
  }
  let amount = 0n;
  const proofs = t.proofs.map((p, i) => {
    amount += p.amount;
    const ours = namesKeyset(p.id, ks.id); // a wallet may write a v01 id short (NUT-00)
    const A = ours ? ks.points.get(p.amount) : undefined;
    const C = pointFromBytes(p.C, 'C');
    const dleq = !ours ? 'other keyset' : !p.dleq?.r || !A ? 'absent' : verifyProofDleq({ e: p.dleq.e, s: p.dleq.s, r: p.dleq.r }, A, p.secret, C) ? 'valid' : 'invalid';
    if (dleq !== 'valid') throw new RefusedError('E_BAD_DLEQ', `proof ${i} (${p.amount} ${t.unit}, keyset ${p.id}): DLEQ ${dleq} against keyset ${ks.id}`);
    return { id: p.id, amount: Number(p.amount), Y: toHex(compressed(secretPoint(p.secret))), C: toHex(p.C), dleq };
  });
  return {
    type: 'credit/token', version: 1, network, version_prefix: text.startsWith('cashuA') ? 'cashuA' : 'cashuB', mint: t.mint, unit: t.unit,
    ...(t.memo !== undefined ? { memo: t.memo } : {}), amount_sat: Number(amount), keyset_id: ks.id, proofs, all_valid: true,
  };
}
