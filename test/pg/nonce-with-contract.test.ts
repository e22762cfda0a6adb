/**
 * The nonce a request names, read with its contract (pg/mint-store.ts `get` with a nonce:
 * CONTRACT_AND_NONCE_LOCKED). What the one statement must keep of the two it replaces: it
 * never waits on the nonce (a row held elsewhere is skipped, then read by `status` in a
 * statement of its own, after the request was shown to be the user's), the contract locked; a nonce consumed by the request that held the
 * contract is read as consumed once the lock is had (its latest version, not the statement's
 * snapshot); a nonce inserted while the statement waited, which that snapshot cannot show, is
 * read again and found, not called unknown; a contract with no row goes the advisory lock's
 * way; and the answers are those of a step that names no nonce. Skips visibly without a server.
 */
import { expect, it } from 'vitest';
import { describePostgres, rawClient, storeTarget } from './fixture.ts';
import { gate, gen, nonce } from './nonce-helpers.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { nonceId } from '../../src/lib/store/sqlite/nonces.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';

type Rec = { contract_id: string; status: string; n?: number };

describePostgres('PostgreSQL mint store: the request\'s nonce read with its contract', (fx) => {
  let db = 0;
  const target = (): Promise<PgTarget> => storeTarget(fx.server, `nwc_${++db}`);
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('a nonce row held elsewhere is skipped, not waited for: get answers with its contract locked, and the step waits at status, in a statement of its own', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(async () => {
      await s.issue('c/1', gen(n));
      await s.put({ contract_id: 'c', status: 'open', n: 0 });
    });
    const holder = await rawClient(t);
    const prober = await rawClient(t);
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM nonces WHERE id = $1 FOR UPDATE', [nonceId(n.pub)]);
    const read = gate();
    let status: string | undefined;
    const step = s.step(async () => {
      expect(await s.get('c', n.pub)).toEqual({ contract_id: 'c', status: 'open', n: 0 });
      read.open();
      status = await s.status(n.pub, 'c/1');
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([read.opened, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('get waited on the nonce row held elsewhere')), 3_000)))]);
    clearTimeout(timer);
    await expect(prober.query("SELECT 1 FROM contracts WHERE contract_id = 'c' FOR UPDATE NOWAIT")).rejects.toMatchObject({ code: '55P03' });
    await settle();
    expect(status, 'status waits on the nonce row').toBeUndefined();
    await holder.query('COMMIT');
    await step;
    expect(status).toBe('unused');
    await holder.end();
    await prober.end();
    await s.close();
  });

  it('a nonce inserted by the request that held the contract is read again after the wait, unused; one it consumed is read consumed', async () => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    const nonces = [nonce(), nonce(), nonce()];
    await a.step(async () => {
      await a.issue('c/1', gen(nonces[0]!));
      await a.put({ contract_id: 'c', status: 'open', n: 0 });
    });
    // Round s: process a serves state s of c (takes nonce s−1, issues nonce s) and waits to
    // commit; process b is handed a request naming `named`, its statement (and its snapshot)
    // started before a commits.
    const round = async (state: number, named: number, context: string) => {
      const aHolds = gate();
      const aMayCommit = gate();
      const served = a.step(async () => {
        const r = await a.get('c', nonces[state - 1]!.pub);
        await a.take(nonces[state - 1]!.pub, `c/${state}`);
        await a.issue(`c/${state + 1}`, gen(nonces[state]!));
        await a.put({ contract_id: 'c', status: 'open', n: (r?.n ?? 0) + 1 });
        aHolds.open();
        await aMayCommit.opened;
      });
      await aHolds.opened;
      let status: string | undefined;
      const other = b.step(async () => {
        expect((await b.get('c', nonces[named]!.pub))?.n).toBe(state);
        status = await b.status(nonces[named]!.pub, context);
      });
      await settle();
      expect(status, 'b waits on the contract').toBeUndefined();
      aMayCommit.open();
      await served;
      await other;
      return status;
    };
    expect(await round(1, 1, 'c/2'), 'inserted by a while b waited').toBe('unused');
    expect(await round(2, 1, 'c/2'), 'consumed by a while b waited').toBe('consumed');
    await a.close();
    await b.close();
  });

  it('a contract with no row: nothing read with it, the advisory lock taken, the nonce read on its own; the same answers as without the hint', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(() => s.issue('new/1', gen(n)));
    const answers = async (hint: boolean) => {
      const seen: unknown[] = [];
      await expect(s.step(async () => {
        seen.push(await s.get('new', hint ? n.pub : undefined));
        seen.push(await s.status(n.pub, 'new/1'));
        seen.push(await s.status(n.pub, 'other/1'));
        throw new Error('rolled back');
      })).rejects.toThrow('rolled back');
      return seen;
    };
    expect(await answers(true)).toEqual([undefined, 'unused', 'misbound']);
    expect(await answers(false)).toEqual(await answers(true));
    // A nonce never issued, named with a contract that exists: unknown either way, and nothing kept of it.
    await s.step(() => s.put({ contract_id: 'new', status: 'open' }));
    const stranger = nonce();
    for (const hint of [true, false]) {
      await s.step(async () => {
        expect(await s.get('new', hint ? stranger.pub : undefined)).toEqual({ contract_id: 'new', status: 'open' });
        expect(await s.status(stranger.pub)).toBe('unknown');
        expect(await s.status(n.pub, 'new/1')).toBe('unused');
      });
    }
    await s.close();
  });
});
