/**
 * A state's terms compared (bolt3/party.ts's checks): the same state from the other side, the
 * first field two states differ in, and a state's fingerprint. HTLCs compare as a set; `id` is
 * bookkeeping and never compared. Pure.
 */
import { toHex } from '../bytes.ts';
import { RefusedError } from '../errors.ts';
import { sha256 } from '../hash.ts';
import type { ChannelState, StateTerms } from './party.ts';

export const termsOf = (s: ChannelState | StateTerms): StateTerms => ({
  commitment_number: s.commitment_number, to_local_msat: s.to_local_msat, to_remote_msat: s.to_remote_msat, feerate_per_kw: s.feerate_per_kw,
  htlcs: s.htlcs.map((h) => ({ direction: h.direction, amount_msat: h.amount_msat, payment_hash: h.payment_hash, cltv_expiry: h.cltv_expiry, ...(h.id === undefined ? {} : { id: h.id }) })),
});

/** The same state from the other side: balances swapped, every HTLC's direction flipped. */
export function flipTerms(t: StateTerms): StateTerms {
  return {
    ...termsOf(t),
    to_local_msat: t.to_remote_msat,
    to_remote_msat: t.to_local_msat,
    htlcs: t.htlcs.map((h) => ({ ...h, direction: h.direction === 'offered' ? 'received' : 'offered' })),
  };
}

type HtlcTerms = StateTerms['htlcs'][number];
const htlcKey = (h: HtlcTerms) => `${h.direction}:${h.payment_hash}:${h.amount_msat.padStart(22, '0')}:${String(h.cltv_expiry).padStart(9, '0')}`;

/** The first field in which two states differ (HTLCs compared as a set; `id` is bookkeeping), or undefined. */
export function differingField(mine: StateTerms, theirs: StateTerms): string | undefined {
  for (const f of ['commitment_number', 'to_local_msat', 'to_remote_msat', 'feerate_per_kw'] as const) {
    if (mine[f] !== theirs[f]) return f;
  }
  if (mine.htlcs.length !== theirs.htlcs.length) return 'htlcs (count)';
  const a = [...mine.htlcs].sort((x, y) => htlcKey(x).localeCompare(htlcKey(y)));
  const b = [...theirs.htlcs].sort((x, y) => htlcKey(x).localeCompare(htlcKey(y)));
  for (let i = 0; i < a.length; i++) {
    for (const f of ['direction', 'payment_hash', 'amount_msat', 'cltv_expiry'] as const) {
      if (a[i]![f] !== b[i]![f]) return `htlcs[${i}].${f}`;
    }
  }
  return undefined;
}

export function mismatch(field: string, what: string): never {
  throw new RefusedError('E_TERMS_MISMATCH', `${what}: ${field} differs from the state you agreed to`, { field });
}

/** A state's fingerprint: its terms in a canonical order (HTLCs sorted, `id` left out). */
export function termsHash(t: StateTerms): string {
  const htlcs = t.htlcs.map((h) => htlcKey(h)).sort();
  return toHex(sha256(new TextEncoder().encode(JSON.stringify([t.commitment_number, t.to_local_msat, t.to_remote_msat, t.feerate_per_kw, htlcs]))));
}
