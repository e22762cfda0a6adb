/**
 * When a channel party's watcher goes on chain (src/lib/watch/channel-onchain.ts, its invariants):
 * one narrated case, then adversarial property tests — never without an HTLC, never before its
 * time, never a revoked commitment, never silent.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideChannel, type ChannelFacts } from '../../../src/lib/watch/channel.ts';
import type { OpenChannel, OpenHtlc } from '../../../src/lib/watch/channel-onchain.ts';

const base = (tip: number, open: OpenChannel): ChannelFacts => ({
  channel: 'aa'.repeat(32) + ':0', tip, toSelfDelay: 144, spend: { kind: 'unspent' }, open,
  startRate: 1000, incrementalRate: 1000, limits: { maxFeeRate: 20, maxFeeShare: 0.5 }, dustSat: 330,
});
const keyed = (htlcs: OpenHtlc[], o: Partial<OpenChannel> = {}): OpenChannel => ({ latest: 5, revokedThrough: 4, htlcs, missing: [], ...o });

describe('Alice received an HTLC expiring at 800,040 and holds its preimage; Bob is silent', () => {
  const open = keyed([{ direction: 'received', cltvExpiry: 800_040, preimage: true, trimmed: false }]);
  it('waits until the tip is cltv_expiry − 10 (LND\'s incoming broadcast delta), then broadcasts her latest commitment', () => {
    expect(decideChannel(base(800_029, open))).toMatchObject({ action: 'none', deadline: 800_040 });
    expect(decideChannel(base(800_030, open))).toMatchObject({ action: 'exit', close: { commitment: 5 }, deadline: 800_040, blocks_left: 10 });
  });
  it('without the preimage: never (nothing to gain on chain)', () => {
    const none = keyed([{ direction: 'received', cltvExpiry: 800_040, preimage: false, trimmed: false }]);
    expect(decideChannel(base(800_039, none))).toMatchObject({ action: 'none' });
    expect(decideChannel(base(800_039, none)).close).toBeUndefined();
  });
  it('without her funding key and seed: held, naming them (E_NO_KEY), nothing sent — and said before it is due', () => {
    const m = keyed(open.htlcs, { missing: ['--funding-key-env (or --funding-key-file)', '--seed-file'] });
    expect(decideChannel(base(800_020, m)).reason).toContain('--seed-file');
    const d = decideChannel(base(800_030, m));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d.error).toMatch(/^E_NO_KEY: .*--funding-key-env/);
    expect(d.close).toBeUndefined();
  });
  it('her latest commitment revoked (a broken record): held, E_REVOKED_COMMITMENT, nothing sent', () => {
    const d = decideChannel(base(800_035, keyed(open.htlcs, { revokedThrough: 5 })));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d.error).toMatch(/^E_REVOKED_COMMITMENT: /);
    expect(d.close).toBeUndefined();
  });
  it('an HTLC she offered: from cltv_expiry + 3 (LDK\'s grace), its HTLC-timeout final from cltv_expiry + 1', () => {
    const offered = keyed([{ direction: 'offered', cltvExpiry: 800_040, preimage: false, trimmed: false }]);
    expect(decideChannel(base(800_042, offered)).action).toBe('none');
    expect(decideChannel(base(800_043, offered))).toMatchObject({ action: 'exit', close: { commitment: 5 } });
  });
  it('a trimmed HTLC (dust: no output of its own), either way: never — nothing to claim or time out on chain, only a close to pay for', () => {
    const dust = keyed([{ direction: 'received', cltvExpiry: 800_040, preimage: true, trimmed: true }, { direction: 'offered', cltvExpiry: 800_020, preimage: false, trimmed: true }]);
    const d = decideChannel(base(800_100, dust));
    expect(d.action).toBe('none');
    expect(d.close).toBeUndefined();
  });
  it('a zero-fee (TRUC) commitment, due: held, E_NO_CHILD — it relays only with a child the watcher does not make, so nothing is recorded or sent', () => {
    const feeless = keyed([{ direction: 'offered', cltvExpiry: 800_040, preimage: false, trimmed: false }], { feeless: true });
    const d = decideChannel(base(800_043, feeless));
    expect([d.action, d.close, d.error]).toEqual(['hold', undefined, expect.stringMatching(/^E_NO_CHILD: .*package child/)]);
    expect(decideChannel(base(800_000, keyed([], { broadcast: 5, feeless: true }))).close).toBeUndefined();
  });
  it('once recorded as completed for broadcast, the funding still unspent: sent again', () => {
    expect(decideChannel(base(800_000, keyed([], { broadcast: 5 })))).toMatchObject({ action: 'rebroadcast', close: { commitment: 5 } });
    expect(decideChannel(base(800_000, keyed([], { broadcast: 4 }))).action).toBe('hold');
    const unkeyed = decideChannel(base(800_000, keyed([], { broadcast: 5, missing: ['--seed-file'] })));
    expect([unkeyed.action, unkeyed.close, unkeyed.error]).toEqual(['hold', undefined, expect.stringMatching(/^E_NO_KEY: .*--seed-file/)]);
  });
});

const htlcArb: fc.Arbitrary<OpenHtlc> = fc.record({ direction: fc.constantFrom('offered' as const, 'received' as const), cltvExpiry: fc.integer({ min: 1, max: 900_000 }), preimage: fc.boolean(), trimmed: fc.boolean() });
const openArb: fc.Arbitrary<OpenChannel> = fc.record({
  latest: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: null }),
  revokedThrough: fc.integer({ min: -1, max: 1_000 }),
  broadcast: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
  htlcs: fc.array(htlcArb, { maxLength: 6 }),
  missing: fc.boolean().map((m) => (m ? ['--seed-file'] : [])),
  feeless: fc.boolean(),
}).map((o) => {
  const { broadcast, feeless, ...rest } = o;
  return { ...rest, ...(broadcast === undefined ? {} : { broadcast }), ...(feeless ? { feeless } : {}) };
});
/** A tip anywhere, or near an HTLC's cltv_expiry (where the rule's edges are): the index of the HTLC and the offset. */
const tipArb = fc.oneof(fc.integer({ min: 1, max: 900_100 }).map((t) => ({ t, near: undefined })), fc.record({ t: fc.constant(0), near: fc.record({ i: fc.nat(), offset: fc.integer({ min: -15, max: 15 }) }) }));
const tipOf = (x: { t: number; near: { i: number; offset: number } | undefined }, open: OpenChannel) =>
  (x.near && open.htlcs.length > 0 ? Math.max(1, open.htlcs[x.near.i % open.htlcs.length]!.cltvExpiry + x.near.offset) : Math.max(1, x.t));
const closes = (tip: number, open: OpenChannel) => decideChannel(base(tip, open)).close !== undefined;


describe('invariants (property tests)', () => {
  it('never a revoked commitment: what goes out is the latest held, above local_revoked_through (and never a zero-fee one)', () => {
    fc.assert(fc.property(tipArb, openArb, (x, open) => {
      const tip = tipOf(x, open);
      const d = decideChannel(base(tip, open));
      if (!d.close) return;
      expect(open.feeless).toBeUndefined();
      expect(open.latest).not.toBeNull();
      expect(d.close.commitment).toBe(open.latest);
      expect(d.close.commitment).toBeGreaterThan(open.revokedThrough);
    }), { numRuns: 2_000 });
  });
  it('never without an HTLC (nor one received without its preimage, nor a trimmed one), unless the record says it was completed for broadcast', () => {
    fc.assert(fc.property(tipArb, openArb, (x, open) => {
      const tip = tipOf(x, open);
      const useful = open.htlcs.filter((h) => !h.trimmed && (h.direction === 'offered' || h.preimage));
      if (useful.length === 0 && open.broadcast === undefined) expect(closes(tip, open)).toBe(false);
    }), { numRuns: 2_000 });
  });
  it('never before its time: no HTLC due (received with preimage: tip ≥ cltv_expiry − 10; offered: tip ≥ cltv_expiry + 3) sends nothing', () => {
    fc.assert(fc.property(tipArb, openArb, (x, open) => {
      const tip = tipOf(x, open);
      if (open.broadcast !== undefined) return;
      const due = open.htlcs.some((h) => !h.trimmed && (h.direction === 'received' ? h.preimage && tip >= h.cltvExpiry - 10 : tip >= h.cltvExpiry + 3));
      const d = decideChannel(base(tip, open));
      if (!due) expect(d.close).toBeUndefined();
      // Due, keyed and unrevoked: it goes (never left waiting); unkeyed: held with the flags it needs.
      if (due && open.latest !== null && open.latest > open.revokedThrough) {
        if (open.missing.length === 0 && !open.feeless) expect(d.action).toBe('exit');
        else expect([d.action, /^E_NO_(KEY|CHILD): /.test(d.error ?? '')]).toEqual(['hold', true]);
      }
    }), { numRuns: 2_000 });
  });
  it('a funding that is not unspent never closes through this decision', () => {
    fc.assert(fc.property(tipArb, openArb, fc.constantFrom({ kind: 'not-mined' as const, known: true }, { kind: 'unknown-offline' as const }, { kind: 'not-found' as const }), (x, open, spend) => {
      expect(decideChannel({ ...base(tipOf(x, open), open), spend }).close).toBeUndefined();
    }), { numRuns: 500 });
  });
});
