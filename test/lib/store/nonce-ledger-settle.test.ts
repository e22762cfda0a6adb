/**
 * The nonce ledger's settle check (src/lib/store/nonce-ops.ts `firstUnopenable`): a
 * transaction's ops checked in order over the entries as read, each op's change kept aside —
 * against the check as it was written first, over copies of every live nonce and session, on
 * random op sequences over a few ids (so ids are issued, opened, reopened and burned again).
 * THE LEDGER RULE's refusal must be the same op, or none, either way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstUnopenable, type Op } from '../../../src/lib/store/nonce-ops.ts';

/** The reference: the entries copied whole, then changed op by op. */
function firstUnopenableByCopies(ops: readonly Op[], live: ReadonlySet<string>, sessions: ReadonlyMap<string, string>, openedHere: ReadonlySet<string>): Op | undefined {
  const view = new Set(live);
  const opened = new Map(sessions);
  for (const op of ops) {
    if (op.kind === 'open' || op.kind === 'reopen') {
      const same = op.session !== undefined && opened.get(op.id) === op.session;
      if ((!view.has(op.id) || openedHere.has(op.id)) && !same) return op;
      if (op.session !== undefined) opened.set(op.id, op.session);
      else opened.delete(op.id);
    }
    if (op.kind === 'issue') view.add(op.id);
    else view.delete(op.id);
    if (op.kind === 'burn') opened.delete(op.id);
  }
  return undefined;
}

const ids = ['a', 'b', 'c', 'd'].map((c) => c.repeat(32));
const sessionsOf = ['1', '2'].map((c) => c.repeat(64));
const id = fc.constantFrom(...ids);
const session = fc.option(fc.constantFrom(...sessionsOf), { nil: undefined });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('issue' as const, 'burn' as const), id }),
  fc.record({ kind: fc.constantFrom('open' as const, 'reopen' as const), id, session }),
);

describe('nonce ledger settle', () => {
  it('refuses the same op as the check over copies of the entries, or none, on random transactions', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 24 }),
        fc.subarray(ids),
        fc.array(fc.tuple(id, fc.constantFrom(...sessionsOf)), { maxLength: 4 }),
        fc.subarray(ids),
        (ops, live, sessions, openedHere) => {
          const liveSet = new Set(live);
          const sessionMap = new Map(sessions);
          const here = new Set(openedHere);
          expect(firstUnopenable(ops, liveSet, sessionMap, here)).toBe(firstUnopenableByCopies(ops, liveSet, sessionMap, here));
          // The entries as read are not changed by the check.
          expect([...liveSet]).toEqual(live);
          expect([...sessionMap]).toEqual([...new Map(sessions)]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('an id opened, burned or opened for another session earlier in the same transaction is refused', () => {
    const [a] = ids as [string];
    const [s1, s2] = sessionsOf as [string, string];
    const live = new Set([a]);
    const none = new Map<string, string>();
    const twice: Op[] = [{ kind: 'open', id: a, session: s1 }, { kind: 'open', id: a, session: s2 }];
    expect(firstUnopenable(twice, live, none, new Set())).toBe(twice[1]);
    const same: Op[] = [{ kind: 'open', id: a, session: s1 }, { kind: 'reopen', id: a, session: s1 }];
    expect(firstUnopenable(same, live, none, new Set())).toBeUndefined();
    const burned: Op[] = [{ kind: 'burn', id: a }, { kind: 'open', id: a, session: s1 }];
    expect(firstUnopenable(burned, live, none, new Set())).toBe(burned[1]);
    const issued: Op[] = [{ kind: 'issue', id: a }, { kind: 'open', id: a, session: undefined }];
    expect(firstUnopenable(issued, new Set(), none, new Set())).toBeUndefined();
    expect(firstUnopenable(issued, new Set(), none, new Set([a]))).toBe(issued[1]);
  });
});
