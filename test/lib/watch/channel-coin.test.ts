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
