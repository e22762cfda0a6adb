/**
 * src/lib/watch/tower-channel.ts, the keyless tower's rung choice, over random ladders, states and
 * tips. Its invariants: only the ladder's own rungs (never above its top); never below a rung sent
 * before, and a rung up for each block that passed without mining the one sent; a replacement pays
 * what it evicts plus the incremental relay fee on its own size, or is not made; the top rung by
 * the last block that can mine it; `done` only when every ladder is settled and the commitment is
 * FINAL_DEPTH deep.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FINAL_DEPTH } from '../../../src/lib/watch/decision.ts';
import { decideTowerChannel, type LadderFacts, type LadderState, type TowerChannelFacts, type TowerRung } from '../../../src/lib/watch/tower-channel.ts';

/** A ladder as the party builds it: fees rising by at least the incremental relay fee (100 sat/kvB) on each rung's size. */
const ladderArb = fc.record({
  vsize: fc.integer({ min: 110, max: 200 }),
  first: fc.integer({ min: 1, max: 20 }),
  steps: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 0, maxLength: 11 }),
}).map(({ vsize, first, steps }): TowerRung[] => {
  const rungs: TowerRung[] = [{ txid: 'aa'.repeat(31) + '00', fee: first * vsize, vsize }];
  steps.forEach((extra, i) => {
    const v = vsize - (i % 2); // a signature a byte shorter now and then
    rungs.push({ txid: `aa${'0'.repeat(60)}${(i + 1).toString(16).padStart(2, '0')}`, fee: rungs.at(-1)!.fee + Math.ceil((100 * v) / 1000) + extra, vsize: v });
  });
  return rungs;
});

const factsArb = fc.record({
  rungs: ladderArb,
  tip: fc.integer({ min: 1000, max: 1200 }),
  toSelfDelay: fc.integer({ min: 2, max: 200 }),
  confirmedAgo: fc.option(fc.integer({ min: 0, max: 250 }), { nil: undefined }),
  startAgo: fc.option(fc.integer({ min: 0, max: 250 }), { nil: undefined }),
  startRate: fc.integer({ min: 100, max: 100_000 }),
  incrementalRate: fc.integer({ min: 100, max: 400 }),
  stateKind: fc.constantFrom('unspent', 'held', 'rival', 'mined', 'lost'),
  pick: fc.nat(),
  rivalFee: fc.integer({ min: 0, max: 20_000 }),
  last: fc.option(fc.record({ pick: fc.nat(), ago: fc.integer({ min: 0, max: 5 }) }), { nil: undefined }),
  confirmations: fc.integer({ min: 1, max: 10 }),
}).map((x) => {
  const top = x.rungs.length - 1;
  const state: LadderState = x.stateKind === 'held' ? { kind: 'held', rung: x.pick % x.rungs.length }
    : x.stateKind === 'rival' ? { kind: 'rival', txid: 'bb'.repeat(32), fee: x.rivalFee }
      : x.stateKind === 'mined' ? { kind: 'mined', rung: x.pick % x.rungs.length, confirmations: x.confirmations }
        : { kind: x.stateKind as 'unspent' | 'lost' };
  // What was sent last: the held rung itself when one is held (the tower's record says so), else any.
  const lastRung = state.kind === 'held' ? state.rung : x.last ? x.last.pick % x.rungs.length : undefined;
  const ladder: LadderFacts = {
    outpoint: `${'cc'.repeat(32)}:0`, rungs: x.rungs, state,
    ...(x.confirmedAgo !== undefined ? { confirmedAt: x.tip - x.confirmedAgo } : {}),
    ...(lastRung !== undefined ? { last: { rung: lastRung, tip: x.tip - (x.last?.ago ?? 0) } } : {}),
  };
  const facts: TowerChannelFacts = {
    commitment: 'dd'.repeat(32), confirmations: x.confirmedAgo === undefined ? 0 : x.confirmedAgo + 1, tip: x.tip, toSelfDelay: x.toSelfDelay,
    ...(x.startAgo !== undefined ? { startTip: x.tip - x.startAgo } : {}), startRate: x.startRate, incrementalRate: x.incrementalRate, ladders: [ladder],
  };
  return { facts, ladder, top };
});

describe('which rung a tower sends', () => {
  it('only the ladder\'s own rungs, never above its top; never below one sent before; a replacement pays what it evicts plus the incremental fee on its size', () => {
    fc.assert(fc.property(factsArb, ({ facts, ladder, top }) => {
      const d = decideTowerChannel(facts);
      expect(d.sends.length).toBeLessThanOrEqual(1);
      const s = d.sends[0];
      if (!s) return;
      expect(s.rung).toBeGreaterThanOrEqual(0);
      expect(s.rung).toBeLessThanOrEqual(top);
      expect(s.txid).toBe(ladder.rungs[s.rung]!.txid);
      expect(['unspent', 'held', 'rival']).toContain(ladder.state.kind);
      if (ladder.last) expect(s.rung).toBeGreaterThanOrEqual(ladder.last.rung);
      const r = ladder.rungs[s.rung]!;
      const evicts = ladder.state.kind === 'held' ? ladder.rungs[ladder.state.rung]!.fee : ladder.state.kind === 'rival' ? ladder.state.fee : undefined;
      if (evicts !== undefined) {
        expect(r.fee).toBeGreaterThanOrEqual(evicts + Math.ceil((facts.incrementalRate * r.vsize) / 1000));
        expect(s.replaces).toBe(ladder.state.kind === 'held' ? ladder.rungs[ladder.state.rung]!.txid : 'bb'.repeat(32));
      }
      if (ladder.state.kind === 'held') expect(s.rung).toBeGreaterThan(ladder.state.rung);
    }), { numRuns: 2000 });
  });

  it('a block that passed without mining the rung sent (its input confirmed): a rung up, or hold at the top / when none up is a valid replacement', () => {
    fc.assert(fc.property(factsArb, ({ facts, ladder, top }) => {
      fc.pre(ladder.state.kind === 'held' && ladder.confirmedAt !== undefined && ladder.last !== undefined && ladder.last.tip < facts.tip);
      const h = (ladder.state as { rung: number }).rung;
      const d = decideTowerChannel(facts);
      const valid = ladder.rungs.some((r, j) => j > h && r.fee >= ladder.rungs[h]!.fee + Math.ceil((facts.incrementalRate * r.vsize) / 1000));
      if (h < top && valid) {
        expect(d.action).toBe('rebid');
        expect(d.sends[0]!.rung).toBeGreaterThan(h);
      } else {
        expect(d.action).toBe('hold');
        expect(d.sends).toEqual([]);
      }
    }), { numRuns: 2000 });
  });

  it('its own rung in the mempool, no block gone by since it was sent (a second round at one tip): it stands unless the schedule asks a higher one', () => {
    fc.assert(fc.property(factsArb, ({ facts, ladder }) => {
      fc.pre(ladder.state.kind === 'held' && ladder.last !== undefined);
      const same = { ...facts, ladders: [{ ...ladder, last: { ...ladder.last!, tip: facts.tip } }] };
      const d = decideTowerChannel(same);
      const h = (ladder.state as { rung: number }).rung;
      const again = decideTowerChannel({ ...same, ladders: [{ ...same.ladders[0]!, state: d.sends[0] ? { kind: 'held', rung: d.sends[0].rung } : ladder.state, last: { rung: d.sends[0]?.rung ?? h, tip: facts.tip } }] });
      // Asked twice at one tip, the tower climbs at most once: the second round holds what the first sent.
      expect(again.sends).toEqual([]);
    }), { numRuns: 2000 });
  });

  it('climbing while unmined: the rung never falls, rises each block until the top, and is the top by the last block that can mine it', () => {
    fc.assert(fc.property(ladderArb, fc.integer({ min: 3, max: 60 }), fc.integer({ min: 100, max: 5000 }), (rungs, delay, startRate) => {
      const H = 1000;
      const deadline = H + delay - 1;
      let last: { rung: number; tip: number } | undefined;
      let previous = -1;
      for (let tip = H; tip < deadline; tip++) {
        const state: LadderState = last ? { kind: 'held', rung: last.rung } : { kind: 'unspent' };
        const d = decideTowerChannel({
          commitment: 'dd'.repeat(32), confirmations: tip - H + 1, tip, toSelfDelay: delay, startTip: H, startRate, incrementalRate: 100,
          ladders: [{ outpoint: `${'cc'.repeat(32)}:0`, rungs, state, confirmedAt: H, ...(last ? { last } : {}) }],
        });
        expect(d.deadline).toBe(deadline);
        const now = d.sends[0]?.rung ?? last!.rung;
        expect(now).toBeGreaterThanOrEqual(previous);
        if (last && last.rung < rungs.length - 1) expect(now).toBeGreaterThan(last.rung);
        if (tip === deadline - 1) expect(now).toBe(rungs.length - 1);
        previous = now;
        last = { rung: now, tip };
      }
    }), { numRuns: 500 });
  });
});

describe('when a breach is settled', () => {
  it('done only when every ladder is settled and the commitment is FINAL_DEPTH deep; wait while a rung mined is shallower', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.constant<LadderState>({ kind: 'lost' }), fc.integer({ min: 1, max: 10 }).map((c): LadderState => ({ kind: 'mined', rung: 0, confirmations: c }))), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 10 }), (states, confirmations) => {
      const rungs = [{ txid: 'ee'.repeat(32), fee: 500, vsize: 150 }];
      const d = decideTowerChannel({
        commitment: 'dd'.repeat(32), confirmations, tip: 2000, toSelfDelay: 30, startRate: 1000, incrementalRate: 100,
        ladders: states.map((state, i) => ({ outpoint: `${'cc'.repeat(32)}:${i}`, rungs, state, confirmedAt: 2000 - confirmations + 1 })),
      });
      const settled = confirmations >= FINAL_DEPTH && states.every((s) => s.kind === 'lost' || (s.kind === 'mined' && s.confirmations >= FINAL_DEPTH));
      expect(d.action).toBe(settled ? 'done' : 'wait');
      expect(d.sends).toEqual([]);
    }));
  });

  it('a commitment the node has nowhere (a reorganisation took it): wait, nothing sent', () => {
    const d = decideTowerChannel({ commitment: 'dd'.repeat(32), confirmations: null, tip: 2000, toSelfDelay: 30, startRate: 1000, incrementalRate: 100, ladders: [] });
    expect([d.action, d.sends]).toEqual(['wait', []]);
  });
});
