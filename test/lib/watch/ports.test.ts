/**
 * Which contracts a watcher's round reads (src/lib/watch/ports.ts): its INVARIANTS as properties
 * over any record the stores may hold, checked against the decision tables themselves — a record
 * the rule leaves unread at a tip, given to the round anyway (credit list's row, decideMint; the
 * user's round, decideUser), decides `none` or `done` whatever the node says, and the user's asks
 * the node nothing. A rule that forgot the mint's exit in flight, a gateway's payment, a device
 * channel or the safety margin would leave out a contract that must act: these fail.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { contractsMessage } from '../../../src/lib/credit/operator.ts';
import type { MintContractRecord, MintPolicy, UserContractRecord } from '../../../src/lib/credit/ports.ts';
import type { ChainSource } from '../../../src/lib/chain/types.ts';
import { decideMint, type MintRow } from '../../../src/lib/watch/credit.ts';
import { auditEvery, auditSlice, auditSlices, missedByIndex, mintDueUpTo, mintWatchHeight, userDueUpTo, userWatchHeight } from '../../../src/lib/watch/ports.ts';
import { userRound, type Round } from '../../../src/topics/watch/credit.ts';
import { gatewayKeeps } from '../../../src/topics/watch/device.ts';

const POLICY = { safety_margin_blocks: 144, min_confirmations: 1 } as MintPolicy;
const txid = (n: number) => n.toString(16).padStart(64, '0');

/** Any mint record: open, closing or rolling over; paid or not; exiting or not; a close or rollover signed or not; a gateway's channel in any state. */
const mintRecord = fc.record({
  status: fc.constantFrom('open', 'closing', 'rolling-over'),
  expiry: fc.integer({ min: 0, max: 3_000 }),
  latest: fc.boolean(),
  exiting: fc.boolean(),
  settlement: fc.constantFrom(undefined, 'close', 'rollover'),
  gateway: fc.constantFrom('none', 'idle', 'pending', 'preimage', 'failed', 'preimage-no-htlc'),
}).map(({ status, expiry, latest, exiting, settlement, gateway }): MintContractRecord => {
  const htlc = { payment_hash: 'aa'.repeat(32), amount_sat: 500, expiry_height: expiry - 50 };
  const inFlight = { payment_hash: 'aa'.repeat(32), state: 3, amount_sat: 500, fee_sat: 1, invoice_amount_msat: '499000' };
  const g = gateway === 'none' ? {} : {
    gateway: {
      network: 'regtest', contract_id: 'c', next_state: 4, settled_sat: 0,
      ...(gateway === 'idle' ? {} : { latest: { state: 3, settled_sat: 0, txid: txid(7), hex: '00', ...(gateway === 'preimage-no-htlc' ? {} : { htlc }) } }),
      ...(gateway === 'idle' ? {} : { in_flight: { ...inFlight, ...(gateway.startsWith('preimage') ? { preimage: 'bb'.repeat(32) } : gateway === 'failed' ? { failed: true } : {}) } }),
    },
  };
  return {
    contract_id: 'c'.repeat(64), network: 'regtest', contract: { expiry_height: expiry, capacity_sat: 100_000 }, status, next_state: 2, open_accept: {},
    ...(latest ? { latest: { state: 1, cumulative_sat: 1_000, txid: txid(1), hex: '00', receipt: {} } } : {}),
    ...(exiting ? { exiting: { state: 1, txid: txid(1) } } : {}),
    ...(settlement ? { settlement: { kind: settlement, state: 1, txid: txid(2), response: {} } } : {}),
    ...g,
  } as unknown as MintContractRecord;
});

/** A node that answers every settlement's and exit's confirmations from `known` (null: unknown to it). */
const node = (known: (number | null)[]): ChainSource => ({
  kind: 'rpc',
  tip: async () => ({ height: 0, medianTimePast: 0 }),
  txConfirmations: async (t: string) => known[parseInt(t.slice(-2), 16) % known.length] ?? null,
} as unknown as ChainSource);

describe('the mint\'s contracts a round leaves unread need nothing at its tip', () => {
  it('property: not due at a tip (height above tip + margin) → credit list\'s row there is neither must_exit nor exiting, and decideMint says none or done, whatever the node says of its settlement and exit', async () => {
    await fc.assert(fc.asyncProperty(
      // The tip drawn around the record's expiry: before, at and after its margin.
      mintRecord, fc.integer({ min: -50, max: 400 }), fc.integer({ min: 1, max: 300 }), fc.array(fc.option(fc.integer({ min: 0, max: 10 })), { minLength: 1, maxLength: 4 }),
      async (record, before, margin, known) => {
        const tip = Math.max(0, record.contract.expiry_height - before);
        if (mintWatchHeight(record) <= mintDueUpTo(tip, margin)) return;
        expect(gatewayKeeps(record)).toBe(false);
        const policy = { ...POLICY, safety_margin_blocks: margin };
        const row = (await contractsMessage([record], tip, policy, 'regtest', node(known))).contracts[0] as MintRow;
        expect(row.must_exit).toBe(false);
        expect(row.status).not.toBe('exiting');
        expect(['none', 'done']).toContain(decideMint(row, { tip, startRate: 0, budgetRate: 10_000, incrementalRate: 0 }).action);
      },
    ), { numRuns: 600 });
  });

  it('property (attack review of issue 71): records as older toolkits or a hand may have left them — any status string, `exiting` or a gateway\'s `in_flight` null or empty, a settlement of another kind, a gateway state holding an HTLC with no payment in flight — not due → none or done, never kept by the gateway', async () => {
    const odd = fc.record({
      status: fc.constantFrom('open', 'closing', 'rolling-over', 'closed', 'rolled-over', 'frozen', ''),
      expiry: fc.integer({ min: 0, max: 3_000 }),
      latest: fc.boolean(),
      exiting: fc.constantFrom(undefined, null, {}, { state: 1, txid: txid(1) }, { state: 1, txid: txid(1), attempt: 'a' }),
      settlement: fc.constantFrom(undefined, { kind: 'close', state: 1, txid: txid(2), response: {} }, { kind: 'rollover', state: 1, txid: txid(2), response: {} }, { kind: 'swap', state: 1, txid: txid(2), response: {} }),
      gateway: fc.constantFrom(undefined, null, {}, { in_flight: null }, { in_flight: {} }, { latest: { state: 3, settled_sat: 0, txid: txid(7), hex: '00', htlc: { payment_hash: 'aa'.repeat(32), amount_sat: 500, expiry_height: 10 } }, decided: { payment_hash: 'aa'.repeat(32), answer: {} } }),
    }).map(({ status, expiry, latest, exiting, settlement, gateway }) => ({
      contract_id: 'c'.repeat(64), network: 'regtest', contract: { expiry_height: expiry, capacity_sat: 100_000 }, status, next_state: 2, open_accept: {},
      ...(latest ? { latest: { state: 1, cumulative_sat: 1_000, txid: txid(1), hex: '00', receipt: {} } } : {}),
      ...(exiting !== undefined ? { exiting } : {}), ...(settlement ? { settlement } : {}), ...(gateway !== undefined ? { gateway } : {}),
    }) as unknown as MintContractRecord);
    await fc.assert(fc.asyncProperty(odd, fc.integer({ min: -50, max: 400 }), fc.integer({ min: 1, max: 300 }), fc.array(fc.option(fc.integer({ min: 0, max: 10 })), { minLength: 1, maxLength: 4 }), async (record, before, margin, known) => {
      const tip = Math.max(0, record.contract.expiry_height - before);
      if (mintWatchHeight(record) <= mintDueUpTo(tip, margin)) return;
      expect(gatewayKeeps(record)).toBe(false);
      const row = (await contractsMessage([record], tip, { ...POLICY, safety_margin_blocks: margin }, 'regtest', node(known))).contracts[0] as MintRow;
      expect(row.must_exit).toBe(false);
      expect(row.status).not.toBe('exiting');
      expect(['none', 'done']).toContain(decideMint(row, { tip, startRate: 0, budgetRate: 10_000, incrementalRate: 0 }).action);
    }), { numRuns: 600 });
  });

  it('property: a record the gateway keeps (a payment in flight whose preimage it holds), or that the mint is exiting, is due at every tip', () => {
    fc.assert(fc.property(mintRecord, (record) => {
      if (gatewayKeeps(record) || record.exiting) expect(mintWatchHeight(record)).toBe(0);
    }), { numRuns: 300 });
  });

  it('within the margin at tip T exactly: due at T, not at T − 1 (expiry 1,144, margin 144 → from tip 1,000)', () => {
    const record = { contract: { expiry_height: 1_144 } };
    expect(mintWatchHeight(record)).toBe(1_144);
    expect(mintDueUpTo(1_000, 144)).toBe(1_144);
    expect(mintDueUpTo(999, 144)).toBe(1_143);
    // A margin below 0 (no offer says one) counts as 0: the refund is final at expiry.
    expect(mintDueUpTo(1_000, -5)).toBe(1_000);
  });

  it('a record the rule cannot read — no expiry, or one that is not a safe integer — is due at every tip (0)', () => {
    for (const contract of [undefined, null, {}, { expiry_height: '5000' }, { expiry_height: 1.5 }, { expiry_height: 2 ** 60 }, { expiry_height: null }]) {
      expect(mintWatchHeight({ contract } as object)).toBe(0);
      expect(userWatchHeight({ contract } as object)).toBe(0);
    }
    expect(mintWatchHeight({ contract: { expiry_height: 5_000 }, exiting: null })).toBe(0);
    expect(mintWatchHeight({ contract: { expiry_height: 5_000 }, gateway: { in_flight: { failed: true } } })).toBe(0);
    expect(mintWatchHeight({ contract: { expiry_height: 5_000 }, gateway: { decided: {} } })).toBe(5_000);
  });
});

/** Any credit user's record: any status, with or without its signed refund, with or without a device channel. */
const userRecord = fc.record({
  status: fc.constantFrom('opening', 'open', 'closing', 'closed', 'rolling-over', 'rolled-over'),
  expiry: fc.integer({ min: 0, max: 3_000 }),
  refund: fc.boolean(),
  device: fc.boolean(),
}).map(({ status, expiry, refund, device }) => ({
  contract_id: 'd'.repeat(64), network: 'regtest', status, funding_psbt: '', confirmed: { state: 0, cumulative_sat: 0 },
  contract: { expiry_height: expiry, funding: { txid: txid(3), vout: 0 } },
  ...(refund ? { refund: { txid: txid(4), hex: '00' } } : {}),
  ...(device ? { device: { network: 'regtest', contract_id: 'd'.repeat(64), next_state: 1, settled_sat: 0 } } : {}),
}) as unknown as UserContractRecord);

describe('the user\'s contracts a round leaves unread need nothing at its tip', () => {
  it('property: not due (its expiry above the tip, no device channel) → the user\'s round decides none or done and asks the node nothing', async () => {
    await fc.assert(fc.asyncProperty(userRecord, fc.integer({ min: -20, max: 20 }), async (record, before) => {
      const tip = Math.max(0, record.contract.expiry_height - before);
      if (userWatchHeight(record) <= userDueUpTo(tip)) return;
      const asked: string[] = [];
      const chain = new Proxy({ kind: 'rpc' }, { get: (t, k) => (k === 'kind' ? t.kind : k === 'then' ? undefined : () => { asked.push(String(k)); throw new Error(`asked ${String(k)}`); }) });
      const r = { tip, block: '', dryRun: true, offline: false, chain, records: undefined } as unknown as Round;
      const [d] = await userRound({ contracts: async () => ({ records: [record], others: 0 }), refund: async () => { throw new Error('no refund'); } }, r);
      expect(asked).toEqual([]);
      expect(['none', 'done']).toContain(d!.action);
      expect(d!.error).toBeUndefined();
    }), { numRuns: 400 });
  });

  it('a device channel makes the record due at every tip; otherwise from its expiry on', () => {
    expect(userWatchHeight({ contract: { expiry_height: 900 }, device: {} })).toBe(0);
    expect(userWatchHeight({ contract: { expiry_height: 900 } })).toBe(900);
    expect(userDueUpTo(899)).toBeLessThan(900);
    expect(userDueUpTo(900)).toBe(900);
  });
});

describe('the audit: one slice of the store a round, every record within a third of the margin', () => {
  it('a third of the margin, at least 1: 48 at the demo margin 144 (a gateway\'s claim window no longer sets it: ports.ts, THE AUDIT)', () => {
    expect(auditEvery(144)).toBe(48);
    expect(auditEvery(10)).toBe(3);
    expect(auditEvery(2)).toBe(1);
    expect(auditEvery(0)).toBe(1);
  });

  /** The slice an id is in, as a reader of the slices' key ranges finds it (the first whose range holds it). */
  const sliceOf = (id: string, every: number) => Array.from({ length: every }, (_, i) => auditSlice(i, every)).findIndex((r) => id >= r.from && (r.to === undefined || id < r.to));
  const hexId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
  const anyId = fc.oneof({ weight: 4, arbitrary: hexId }, fc.string({ maxLength: 70 }), fc.constantFrom('', '0', 'ffffffff', 'FFFFFFFF', 'g', '~'));

  it('property: every id — a hash or not — is in exactly one slice; a hash in the slice of its first 4 bytes × every / 2^32', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.array(anyId, { maxLength: 20 }), (every, ids) => {
      const ranges = Array.from({ length: every }, (_, i) => auditSlice(i, every));
      for (const id of ids) {
        expect(ranges.filter((r) => id >= r.from && (r.to === undefined || id < r.to)), id).toHaveLength(1);
        if (/^[0-9a-f]{64}$/.test(id)) expect(sliceOf(id, every)).toBe(Math.floor((parseInt(id.slice(0, 8), 16) * every) / 2 ** 32));
      }
    }), { numRuns: 300 });
  });

  it('about 1/every of the store a slice: 100,000 hashes in 48 slices, each within 10% of 2,083', () => {
    const counts = new Array<number>(48).fill(0);
    // Ids as the protocol makes them: hashes (here SHA-256 of a counter).
    for (let i = 0; i < 100_000; i++) counts[sliceOf(createHash('sha256').update(String(i)).digest('hex'), 48)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(0.9 * (100_000 / 48));
    expect(Math.max(...counts)).toBeLessThan(1.1 * (100_000 / 48));
  });

  it('property: --once (nothing remembered) reads every slice in any `every` consecutive tips, one a round', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 300 }), (start, every) => {
      const read = Array.from({ length: every }, (_, k) => auditSlices(start + k, every));
      expect(read.every((s) => s.length === 1)).toBe(true);
      expect(new Set(read.flat()).size).toBe(every);
    }), { numRuns: 300 });
  });

  it('property: a long-running watcher — tips a block at a time, gaps, the same tip again, reorganisations — has read each slice at most every − 1 blocks below the tip once it has watched every blocks, never one twice at a tip, and at most every slices a round', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 60 }), fc.array(fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, fc.integer({ min: -5, max: 200 })), { maxLength: 300 }), (start, every, steps) => {
      const readAt = new Map<number, number>();
      let tip = start;
      let last: number | undefined;
      let low = start;
      for (const step of [0, ...steps]) {
        tip = Math.max(0, tip + step);
        const slices = auditSlices(tip, every, last);
        expect(slices.length).toBeLessThanOrEqual(every);
        expect(new Set(slices).size).toBe(slices.length);
        if (last === tip) expect(slices).toEqual([]);
        for (const s of slices) readAt.set(s, tip);
        last = tip;
        // Blocks this watcher has rounded over without a gap in its memory: a reorganisation below starts it again.
        low = Math.min(low, tip);
        if (tip - low >= every - 1) {
          for (let s = 0; s < every; s++) expect(tip - readAt.get(s)!, `slice ${s} at tip ${tip}`).toBeLessThan(every);
        }
      }
    }), { numRuns: 300 });
  });

  it('missedByIndex: what the rule makes due that the index did not return, nothing else', () => {
    const rec = (id: string, expiry: number, extra = {}) => ({ contract_id: id, contract: { expiry_height: expiry }, ...extra });
    const all = [rec('a', 1_100), rec('b', 1_200), rec('c', 9_000, { exiting: {} }), rec('d', 9_000)];
    expect(missedByIndex(all, new Set(['a']), (r) => r.contract_id, mintWatchHeight, 1_144).map((r) => r.contract_id)).toEqual(['c']);
    expect(missedByIndex(all, new Set(), (r) => r.contract_id, mintWatchHeight, 1_144).map((r) => r.contract_id)).toEqual(['a', 'c']);
  });
});
