/**
 * What a nonce ledger's transaction does, op by op (nonce-ledger.ts keeps the entries and
 * the journal), and the check a settle makes before any of it is written: pure, no I/O.
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

/**
 * Of a transaction's ops, in order, the first that opens a nonce it may not: neither live (nor
 * opened here before) as the ops before it leave the entries, nor opened for this very session
 * — a racing command of this host got there first, or a retry. Each op's change is kept over
 * the entries as read, not over copies of them: a settle costs its batch's ops, not every live
 * nonce and session.
 */
export function firstUnopenable(ops: readonly Op[], live: ReadonlySet<string>, sessions: ReadonlyMap<string, string>, openedHere: { has(id: string): boolean }): Op | undefined {
  const liveNow = new Map<string, boolean>();
  const openedNow = new Map<string, string | undefined>();
  const isLive = (id: string) => liveNow.get(id) ?? live.has(id);
  const openedFor = (id: string) => (openedNow.has(id) ? openedNow.get(id) : sessions.get(id));
  for (const op of ops) {
    if (op.kind === 'open' || op.kind === 'reopen') {
      const same = op.session !== undefined && openedFor(op.id) === op.session;
      if ((!isLive(op.id) || openedHere.has(op.id)) && !same) return op;
      openedNow.set(op.id, op.session);
    }
    liveNow.set(op.id, op.kind === 'issue');
    if (op.kind === 'burn') openedNow.set(op.id, undefined);
  }
  return undefined;
}
