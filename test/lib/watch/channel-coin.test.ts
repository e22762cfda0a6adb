/**
 * A channel on a statechain coin is linked to the coin's outpoint by the state directory's coin records
 * (src/topics/watch/channel-coin.ts): a link the watcher takes only from a signed backup whose bytes hash to the
 * statement's txid and spend that outpoint — a writer of the database who points the record's plain JSON at another
 * outpoint (one spent elsewhere) would have the channel called lost and no longer watched. A real pair's record.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { Documents } from '../../../src/lib/store/sqlite/records.ts';
import { coinOutpoints } from '../../../src/topics/watch/channel-coin.ts';
import { fundingSpend } from '../../../src/topics/watch/channel-spend.ts';
import type { ChannelRecord } from '../../../src/lib/bolt3/party.ts';
import { parseTx } from '../../independent/tx.ts';
import { tempDir } from '../../helpers.ts';
import { cleanup, pairOwned } from '../statechain/harness.ts';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => {
  cleanup();
  for (const d of dirs) d.cleanup();
});

const opener = (dir: string) => async (create: boolean) => StateDb.open(dir, { create });

async function linked(edit: (rec: Record<string, unknown> & { statement: { outpoint: string; backups: { txid: string }[] } }) => void) {
  const p = await pairOwned();
  const rec = structuredClone(p.recA) as unknown as Record<string, unknown> & { statement: { outpoint: string; backups: { txid: string }[] }; backups: string[] };
  const own = rec.statement.backups.at(-1)!.txid;
  const spent = parseTx(rec.backups.at(-1)!).inputs[0]!;
  edit(rec);
  const t = tempDir('channel-coin-');
  dirs.push(t);
  const dir = t.path;
  await new Documents(opener(dir), 'statechain', dir).write(`joint-${p.coinId}`, rec);
  return { links: await coinOutpoints(opener(dir), dir), own, outpoint: `${spent.txid}:${spent.vout}` };
}

describe('the coin a channel\'s funding backup spends', () => {
  it('as the pair stored it: the pair\'s backup linked to the outpoint its signed bytes spend', async () => {
    const { links, own, outpoint } = await linked(() => {});
    expect(links.get(own)).toBe(outpoint);
  });

  it('the statement\'s outpoint edited to another: no link (the node\'s word alone), never a coin the backup does not spend', async () => {
    const other = `${'ee'.repeat(32)}:0`;
    const { links, own } = await linked((rec) => { rec.statement.outpoint = other; });
    expect(links.get(own)).toBeUndefined();
    expect([...links.values()]).not.toContain(other);
  });

  it('a statement txid the record holds no bytes of: no link', async () => {
    const { links } = await linked((rec) => { rec.statement.backups.push({ txid: 'ab'.repeat(32) }); });
    expect(links.has('ab'.repeat(32))).toBe(false);
  });
});

describe('a channel\'s coin spent in a block deeper than a walk reads', () => {
  const FUNDING = 'f0'.repeat(32);
  const COIN = 'c0'.repeat(32);
  const TIP = 900_000;
  const rec = { channel: { funding_txid: FUNDING, funding_vout: 0 }, funding_locktime: 850_000 } as unknown as ChannelRecord;
  async function spend(coinConfirmations: number, tipNow = TIP) {
    let walked = 0;
    const chain = {
      mempoolSpender: async () => undefined,
      utxo: async () => null,
      txConfirmations: async (txid: string) => (txid === COIN ? coinConfirmations : null),
      blockSpender: async () => { walked++; return undefined; },
      blockHeader: async (hash: string) => ({ prev: `${hash}'` }),
      tip: async () => ({ height: tipNow }),
    };
    const { spend: s } = await fundingSpend({ tip: TIP, block: 'top', chain: chain as never }, rec, { sent: {} } as never, `${COIN}:1`);
    return { s: s as Extract<typeof s, { kind: 'not-mined' }>, walked };
  }

  it('the coin 5,000 blocks deep, its spender in none of the 2,017 blocks read: lost at least 2,016 deep (final: the channel is done, not walked again every round)', async () => {
    const { s, walked } = await spend(5_000);
    expect(walked).toBe(2_017);
    expect(s.lost).toEqual({ coin: `${COIN}:1`, confirmations: 2_016 });
  });

  it('a block arrived while it walked (the spender may be there): not final', async () => {
    const { s } = await spend(5_000, TIP + 1);
    expect(s.lost!.confirmations).toBeLessThan(6);
  });

  it('the coin itself within the walk and no spender found (the node moved on): not final', async () => {
    const { s } = await spend(100);
    expect(s.lost!.confirmations).toBeLessThan(6);
  });
});
