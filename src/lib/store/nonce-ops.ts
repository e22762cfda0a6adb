/**
 * What a nonce ledger's transaction does, op by op (nonce-ledger.ts keeps the entries): pure, no I/O.
 */

/**
 * `open` and `reopen` carry the session digest they open the nonce for (hex; none: never
 * opened again). `reopen`: an id opened before for that same digest.
 */
export type Op = { kind: 'issue' | 'burn'; id: string } | { kind: 'open' | 'reopen'; id: string; session: string | undefined };

/** The session digest an op opens its nonce for; none for an issue, a burn, or an opening without one. */
export function sessionOf(op: Op): string | undefined {
  return op.kind === 'open' || op.kind === 'reopen' ? op.session : undefined;
}
