/**
 * One round over several kinds (src/topics/watch/rounds.ts): a kind whose round fails as a whole
 * is that kind's failure in the report — the others still decide and act — and it counts as an
 * error (the loop takes the round again 10 s later). Offline host, kinds as fakes: what is tested
 * is the round's isolation, not any kind's table.
 */
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { watchRound, type WatchHost } from '../../../src/topics/watch/rounds.ts';
import { countIdle } from '../../../src/topics/watch/credit.ts';
import { WatchReportSchema } from '../../../src/lib/watch/schemas.ts';
import { RefusedError } from '../../../src/lib/errors.ts';
import type { Decision } from '../../../src/lib/watch/decision.ts';

const C = 'ab'.repeat(32);
const decided: Decision = { kind: 'credit-user', contract: C, action: 'none', deadline: 900, blocks_left: 100, reason: 'not final yet' };

function host(kinds: WatchHost['kinds']): WatchHost {
  return { network: 'regtest', chain: { kind: 'offline', tip: async () => ({ height: 800 }) } as never, db: async () => undefined, kinds };
}

describe('a round over several kinds', () => {
  it('a kind that throws is reported as that kind\'s failure; the kinds after it still decide', async () => {
    const ran: string[] = [];
    const report = await watchRound(host([
      { kind: 'mint', round: async () => { ran.push('mint'); throw new RefusedError('E_WRONG_KEY', 'this key is not the mint key'); } },
      { kind: 'credit-user', round: async () => { ran.push('credit-user'); return [decided]; } },
      { kind: 'statechain-owner', round: async () => { ran.push('statechain-owner'); throw new Error('a bug'); } },
    ]), true);
    expect(ran).toEqual(['mint', 'credit-user', 'statechain-owner']);
    expect(report.decisions).toEqual([decided]);
    expect(report.failures).toEqual([
      { kind: 'mint', error: 'E_WRONG_KEY: this key is not the mint key' },
      { kind: 'statechain-owner', error: 'E_INTERNAL: a bug' },
    ]);
    expect(report.summary).toMatchObject({ contracts: 1, errors: 2 });
    expect(Value.Check(WatchReportSchema, report), JSON.stringify([...Value.Errors(WatchReportSchema, report)])).toBe(true);
  });

  it('no failure: no failures field, no error counted', async () => {
    const report = await watchRound(host([{ kind: 'credit-user', round: async () => [decided] }]), true);
    expect(report.failures).toBeUndefined();
    expect(report.summary.errors).toBe(0);
    expect(Value.Check(WatchReportSchema, report)).toBe(true);
  });
});

describe('the contracts a round did not read (src/lib/watch/ports.ts)', () => {
  it('are counted in summary.idle, and the nearest of their expiries is the nearest deadline when no contract read is nearer', async () => {
    const report = await watchRound(host([
      { kind: 'mint', round: async (r) => { countIdle(r, { others: 3, next: 1_200 }); return []; } },
      { kind: 'credit-user', round: async (r) => { countIdle(r, { others: 2, next: 950 }); return [decided]; } },
    ]), true);
    // Tip 800: the idle's nearest expiry 950 is 150 blocks away; the one read, 100.
    expect(report.summary).toMatchObject({ contracts: 1, idle: 5, nearest_deadline: 100 });
    const farRead = await watchRound(host([{ kind: 'credit-user', round: async (r) => { countIdle(r, { others: 1, next: 850 }); return [decided]; } }]), true);
    expect(farRead.summary).toMatchObject({ idle: 1, nearest_deadline: 50 });
    const none = await watchRound(host([{ kind: 'credit-user', round: async () => [decided] }]), true);
    expect(none.summary.idle).toBeUndefined();
    expect(Value.Check(WatchReportSchema, report)).toBe(true);
  });
});
