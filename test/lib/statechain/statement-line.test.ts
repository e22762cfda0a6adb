import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { stringifyLine } from '../../../src/lib/json.ts';
import { statementLine, type UnsignedStatement } from '../../../src/lib/statechain/statement.ts';

/** Whatever stringifyLine does with a value — its text, or the error it throws — to compare two writers by. */
function outcome(write: () => string): string {
  try {
    return write();
  } catch (e) {
    return `threw ${(e as Error).name}: ${(e as Error).message}`;
  }
}

const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const record = (n: number) => fc.record({ locktime: fc.integer({ min: 1, max: 500_000_000 }), n: fc.constant(n), owner_share: hex(33), txid: hex(32) }, { requiredKeys: ['locktime', 'n', 'owner_share', 'txid'] });
// What a record may hold instead: members JSON writes otherwise or refuses, keys out of order, a digit key, no prototype.
const odd = fc.oneof(
  fc.constant({ n: 1, txid: 'ab', locktime: 7, owner_share: '02' }),
  fc.constant({ locktime: 1, n: 2n, owner_share: '02', txid: 'cd' }),
  fc.constant({ locktime: 1, n: 3, owner_share: Uint8Array.of(2, 3), txid: 'ef' }),
  fc.constant({ locktime: 1, n: 4, owner_share: '02', txid: 'ab', script: undefined }),
  fc.constant({ locktime: 1, n: 5, owner_share: '02', txid: 'ab', '7': 'x' }),
  fc.constant({ locktime: Number.NaN, n: 6, owner_share: '02', txid: 'ab' }),
  fc.constant({ locktime: 1, n: 7, owner_share: '02', txid: 'ab', nested: { b: 1, a: [2n] } }),
  fc.constant(Object.assign(Object.create(null) as object, { locktime: 1, n: 8, owner_share: '02', txid: 'ab' })),
  fc.constant(JSON.parse('{"__proto__":1,"locktime":1}') as object),
  fc.constant([1, 2]),
  fc.constant(Uint8Array.of(1, 2)),
  fc.constant(null),
);

const statement = (coin: string, backups: unknown[]): UnsignedStatement => ({
  coin_id: coin, network: 'regtest', status: 'active', operator_auth: '02aa', operator_share: '03bb', owner_auth: '02cc', owner_share: '02dd',
  aggregate: '02ee', address: 'bcrt1p', terms: { interval: 2, initial_lock: 400, confirmations: 1, backup_fee_sat: 400, margin: 1 },
  outpoint: `${'f'.repeat(64)}:0`, amount_sat: 1000, count: backups.length, backups: backups as UnsignedStatement['backups'], transfer: null,
});

describe('a statement\'s canonical line, its records kept per coin', () => {
  it('is stringifyLine\'s, text or error, over any sequence of statements of a few coins — records appended, changed in place, replaced by equal copies, dropped, odd ones (property)', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('append' as const), coin: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ op: fc.constant('mutate' as const), coin: fc.integer({ min: 0, max: 2 }), at: fc.nat(), field: fc.constantFrom('locktime', 'n', 'owner_share', 'txid', 'script'), value: fc.oneof(fc.integer(), hex(2), fc.constant(undefined)) }),
      fc.record({ op: fc.constant('reread' as const), coin: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ op: fc.constant('drop' as const), coin: fc.integer({ min: 0, max: 2 }), keep: fc.nat() }),
      fc.record({ op: fc.constant('odd' as const), coin: fc.integer({ min: 0, max: 2 }), at: fc.nat(), value: odd }),
      fc.record({ op: fc.constant('hole' as const), coin: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ op: fc.constant('top' as const), coin: fc.integer({ min: 0, max: 2 }), key: fc.constantFrom('amount_sat', 'address', 'type', 'zz', 'owner_auth_b', '1', 'backupz', 'backupt', 'backup'), value: fc.oneof(fc.integer(), hex(2), fc.constant(undefined), fc.constant(Number.NaN)) }),
    );
    fc.assert(fc.property(fc.array(fc.tuple(step, record(1)), { minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 4 }), (steps, salt) => {
      // Coins of their own per run (the kept records outlive it), three statements at a time.
      const coins = [0, 1, 2].map((i) => `${salt}-${i}-${Math.random()}`);
      const state = coins.map((c) => statement(c, []) as unknown as Record<string, unknown>);
      for (const [s, fresh] of steps) {
        const st = state[s.coin]!;
        const backups = st.backups as unknown[];
        if (s.op === 'append') st.backups = [...backups, { ...fresh, n: backups.length + 1 }];
        else if (s.op === 'mutate' && backups.length > 0) {
          const r = backups[s.at % backups.length];
          if (r !== null && typeof r === 'object') (r as Record<string, unknown>)[s.field] = s.value;
        } else if (s.op === 'reread') {
          // Read back as the store would (a hole's line, "[,]", is not JSON: nothing read).
          try {
            st.backups = JSON.parse(stringifyLine(backups)) as unknown[];
          } catch {
            st.backups = [];
          }
        }
        else if (s.op === 'drop') st.backups = backups.slice(0, s.keep % (backups.length + 1));
        else if (s.op === 'odd' && backups.length > 0) st.backups = backups.map((r, i) => (i === s.at % backups.length ? s.value : r));
        else if (s.op === 'hole') {
          const holed = backups.slice();
          holed.length += 1;
          st.backups = holed;
        }
        else if (s.op === 'top') st[s.key] = s.value;
        const body = st as unknown as UnsignedStatement;
        expect(outcome(() => statementLine(body))).toBe(outcome(() => stringifyLine(body)));
      }
    }), { numRuns: 400 });
  });

  it('a statement read back from its own line is written the same, and a record changed after it was written is written as it is now', () => {
    const records = Array.from({ length: 5 }, (_, i) => ({ locktime: 500 - i, n: i + 1, owner_share: `02${i}`, txid: `${i}`.repeat(64) }));
    const body = statement('coin-a', records);
    const line = statementLine(body);
    expect(line).toBe(stringifyLine(body));
    expect(statementLine(JSON.parse(line) as UnsignedStatement)).toBe(line);
    records[2]!.locktime = 1;
    expect(statementLine(body)).toBe(stringifyLine(body));
    expect(statementLine(body)).not.toBe(line);
    // The same records under another coin id, and a statement with none.
    expect(statementLine({ ...body, coin_id: 'coin-b' })).toBe(stringifyLine({ ...body, coin_id: 'coin-b' }));
    expect(statementLine(statement('coin-a', []))).toBe(stringifyLine(statement('coin-a', [])));
  });
});
