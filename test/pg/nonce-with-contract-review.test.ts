/**
 * Review of bdaddf8a (a payment's mint nonce read and locked with its contract in one
 * statement: pg/mint-store.ts CONTRACT_AND_NONCE_LOCKED, mint.ts acceptUpdate reading the PSBT
 * before the contract), by a helper that did not write it, as the user, a relay and the DBA.
 * Each `it` names what it shows: FINDING — failed against that commit (the nonce row was locked,
 * and waited for, before the request was shown to be the user's; mended with SKIP LOCKED), the
 * rule it broke; PROPERTY — held, and pins down what was probed. Skips visibly without a server.
 */
import { randomBytes } from 'node:crypto';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { expect, it } from 'vitest';
import type pg from 'pg';
import * as mint from '../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../src/lib/credit/user-open.ts';
import { updateRequest } from '../../src/lib/credit/user-update.ts';
import { termsFromJson, type CreditTermsJson } from '../../src/lib/credit/codec.ts';
import type { MintContext, MintContractRecord, NextNonceJson, UserContractRecord } from '../../src/lib/credit/ports.ts';
import { OffchainError } from '../../src/lib/errors.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import type { PgTarget } from '../../src/lib/store/pg/connect.ts';
import { nonceId } from '../../src/lib/store/sqlite/nonces.ts';
import { CHANGE, MINT, REFUND, fundingPsbt, offer, world } from '../lib/credit/world.ts';
import { describePostgres, rawClient, storeTarget } from './fixture.ts';
import { gate, gen, nonce } from './nonce-helpers.ts';

type Rec = { contract_id: string; status: string; n?: number };
type Request = Record<string, unknown>;

describePostgres('PostgreSQL mint store: the request\'s nonce read with its contract, reviewed', (fx) => {
  let db = 0;
  const target = (): Promise<PgTarget> => storeTarget(fx.server, `nwcr_${++db}`);
  /** Until some backend of the database waits on a lock (a row's or a transaction's). */
  const someoneWaits = async (c: pg.Client, ms = 10_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const n = Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0]!.n);
      if (n > 0) return;
      if (Date.now() > end) throw new Error('nobody waits on a lock');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** The code a promise is refused with, or 'waiting' when it has not settled within `ms`. */
  const within = async (p: Promise<unknown>, ms: number): Promise<string> => {
    const t = new Promise<string>((r) => setTimeout(() => r('waiting'), ms));
    return Promise.race([p.then(() => 'answered', (e: unknown) => (e instanceof OffchainError ? e.code : `thrown ${(e as Error).message}`)), t]);
  };
  const codeOf = (p: Promise<unknown>) => p.then(() => 'answered', (e: unknown) => (e instanceof OffchainError ? e.code : `thrown ${(e as Error).message}`));

  /** A mint on PostgreSQL with one contract opened and confirmed (as test/pg/ledger-session.test.ts). */
  async function credit(name: string) {
    const pt = await storeTarget(fx.server, name);
    const store = await PgMintStore.open<MintContractRecord>(pt, 'regtest', { key: MINT.secretKey });
    const w = world();
    const ctx: MintContext = { ...w.mint, records: store, funding: store, nonces: store };
    const req = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
    const accept = await store.step(() => mint.acceptOpen(ctx, req as never));
    await openFinish(w.user, accept as never);
    const c = termsFromJson(req.contract as CreditTermsJson, 'regtest');
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
    const id = req.contract_id as string;
    const pubnonce = (accept as { next_nonce: NextNonceJson }).next_nonce.pubnonce;
    const userBefore = (await w.userBook.get(id))!;
    const request = async (amount: number): Promise<Request> => {
      await w.userBook.put(userBefore as UserContractRecord);
      return updateRequest(w.user, id, BigInt(amount));
    };
    const done = async () => {
      await store.close();
      await w.close();
      w.dir.cleanup();
    };
    return { pt, store, ctx, id, pubnonce, request, done };
  }

  /** `req` with its PSBT changed by `edit`. */
  const editPsbt = (req: Request, edit: (tx: Transaction) => void): Request => {
    const tx = Transaction.fromPSBT(base64.decode(req.psbt as string));
    edit(tx);
    return { ...req, psbt: base64.encode(tx.toPSBT()) };
  };
  /** No partial signature of the user's: what a stranger who saw the mint's nonce can send. */
  const unsigned = (req: Request) => editPsbt(req, (tx) => tx.updateInput(0, { musig2PartialSig: undefined }, true));

  const strangers: [string, string, (m: Awaited<ReturnType<typeof credit>>) => Promise<Request>, string][] = [
    ['a request that is not the user\'s is refused before the nonce it names is touched — with that nonce row locked elsewhere, E_MISSING_PARTIAL_SIGS comes at once, as before the change (mint.ts: "only the contract\'s existence, network and terms are read before")',
      'E_MISSING_PARTIAL_SIGS', async (m) => unsigned(await m.request(1000)), 'a stranger\'s request waits on the nonce row a payment holds (it reads and locks the nonce before checkUserSigned)'],
    ['a request for another network is refused E_NETWORK_MISMATCH at once, whoever holds the nonce it names',
      'E_NETWORK_MISMATCH', async (m) => ({ ...(await m.request(1000)), network: 'signet' }), 'a request for another network waits on the nonce row it names before it is refused'],
  ];
  for (const [name, code, make, why] of strangers) {
    it(`FINDING: ${name}`, async () => {
      const m = await credit(`nwcr_${code.toLowerCase()}`);
      const holder = await rawClient(m.pt);
      try {
        const req = await make(m);
        // Without the lock: the refusal the rule gives.
        expect(await codeOf(m.store.step(() => mint.acceptUpdate(m.ctx, req as never)))).toBe(code);
        // Another process's step holds the nonce row (a payment in flight on it, or a DBA).
        await holder.query('BEGIN');
        expect((await holder.query('SELECT 1 FROM nonces WHERE pubnonce = $1 FOR UPDATE', [m.pubnonce])).rowCount).toBe(1);
        const refused = m.store.step(() => mint.acceptUpdate(m.ctx, req as never));
        const seen = await within(refused, 1500);
        await holder.query('COMMIT');
        expect(await codeOf(refused), 'the code itself is kept').toBe(code);
        expect(seen, why).toBe(code);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
        await m.done();
      }
    }, 60_000);
  }

  it('FINDING: with the DBA\'s lock_timeout on the mint\'s database, a stranger\'s request naming a nonce row held elsewhere is refused E_MISSING_PARTIAL_SIGS, not with a lock timeout', async () => {
    const m = await credit('nwcr_timeout');
    const holder = await rawClient(m.pt);
    await holder.query(`ALTER DATABASE ${holder.escapeIdentifier(m.pt.database)} SET lock_timeout = '300ms'`);
    const later = await PgMintStore.open<MintContractRecord>(m.pt, 'regtest', { key: MINT.secretKey });
    try {
      const ctx: MintContext = { ...m.ctx, records: later, funding: later, nonces: later };
      const stranger = unsigned(await m.request(1000));
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM nonces WHERE pubnonce = $1 FOR UPDATE', [m.pubnonce]);
      const code = await codeOf(later.step(() => mint.acceptUpdate(ctx, stranger as never)));
      await holder.query('COMMIT');
      expect(code).toBe('E_MISSING_PARTIAL_SIGS');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await later.close();
      await m.done();
    }
  }, 60_000);

  it('PROPERTY: the refusals of malformed and edited updates keep their codes with the hint as without it (a store that ignores it), nothing written by any; the request itself signed once, its replay answered again, a twin E_NONCE_USED', async () => {
    const m = await credit('nwcr_codes');
    const admin = await rawClient(m.pt);
    try {
      // The same store, the hint dropped: the order acceptUpdate had before the change.
      const plain = new Proxy(m.store, {
        get(target, p) {
          if (p === 'get') return (id: string) => target.get(id);
          const v = Reflect.get(target, p, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const plainCtx: MintContext = { ...m.ctx, records: plain as never };
      const rows = async () => JSON.stringify((await admin.query('SELECT * FROM contracts ORDER BY 1')).rows) + JSON.stringify((await admin.query('SELECT id, consumed, context FROM nonces ORDER BY 1')).rows);
      const a = await m.request(1000);
      const twin = await m.request(2000);
      const foreign = Uint8Array.from([0x02, ...randomBytes(32), 0x03, ...randomBytes(32)]);
      const cases: [string, Request][] = [
        ['unknown contract, garbage PSBT', { ...a, contract_id: 'ab'.repeat(32), psbt: 'bm90IGEgcHNidA==' }],
        ['unknown contract, good PSBT', { ...a, contract_id: 'ab'.repeat(32) }],
        ['other network, garbage PSBT', { ...a, network: 'signet', psbt: 'bm90IGEgcHNidA==' }],
        ['garbage PSBT', { ...a, psbt: 'bm90IGEgcHNidA==' }],
        ['not base64', { ...a, psbt: '%%%' }],
        ['no partial signature', unsigned(a)],
        ['no MuSig2 fields', editPsbt(a, (tx) => tx.updateInput(0, { musig2PartialSig: undefined, musig2PubNonce: undefined, musig2ParticipantPubkeys: undefined }, true))],
        ['the mint nonce swapped for one never issued', editPsbt(a, (tx) => {
          const fields = tx.getInput(0).musig2PubNonce!;
          tx.updateInput(0, { musig2PubNonce: undefined }, true);
          tx.updateInput(0, { musig2PubNonce: fields.map(([k, v], i) => [k, i === fields.length - 1 ? foreign : v] as typeof fields[number]) }, true);
        })],
        ['state edited', { ...a, state: (a.state as number) + 1 }],
        ['amount edited', { ...a, amount_sat: 999, cumulative_sat: 999 }],
      ];
      const before = await rows();
      for (const [what, r] of cases) {
        const hinted = await codeOf(m.store.step(() => mint.acceptUpdate(m.ctx, r as never)));
        const unhinted = await codeOf(m.store.step(() => mint.acceptUpdate(plainCtx, r as never)));
        expect(hinted, what).toBe(unhinted);
        expect(hinted, what).not.toBe('answered');
        expect(await rows(), `${what}: nothing written`).toBe(before);
      }
      expect(await codeOf(m.store.step(() => mint.acceptUpdate(m.ctx, a as never)))).toBe('answered');
      expect(await codeOf(m.store.step(() => mint.acceptUpdate(m.ctx, a as never))), 'the replay').toBe('answered');
      expect(await codeOf(m.store.step(() => mint.acceptUpdate(m.ctx, twin as never)))).toBe('E_NONCE_USED');
      expect(await codeOf(m.store.step(() => mint.acceptUpdate(plainCtx, twin as never)))).toBe('E_NONCE_USED');
    } finally {
      await admin.end();
      await m.done();
    }
  }, 60_000);

  type Nonce = ReturnType<typeof nonce>;
  /**
   * Process a holds contract c's row (a step in flight that writes it); b's step, hinted with
   * b's nonce n for c/1, waits on it; `during` runs while b waits (a DBA, another process);
   * then a commits and b's step goes on with `after`.
   */
  const whileWaiting = async <T>(during: (dba: pg.Client, n: Nonce, t: PgTarget) => Promise<void>, after: (b: PgMintStore<Rec>, n: Nonce, dba: pg.Client) => Promise<T>, aWrites: 'put' | 'remove' = 'put') => {
    const t = await target();
    const a = await PgMintStore.open<Rec>(t, 'regtest');
    const b = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await b.step(async () => {
      await b.issue('c/1', gen(n));
      await b.put({ contract_id: 'c', status: 'open', n: 0 });
    });
    const dba = await rawClient(t);
    const aHolds = gate();
    const aMayCommit = gate();
    const served = a.step(async () => {
      await a.get('c');
      if (aWrites === 'put') await a.put({ contract_id: 'c', status: 'open', n: 1 });
      else await a.remove('c');
      aHolds.open();
      await aMayCommit.opened;
    });
    await aHolds.opened;
    let got: Rec | undefined | 'waiting' = 'waiting';
    const result = b.step(async () => {
      got = await b.get('c', n.pub);
      return after(b, n, dba);
    }).then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e: e instanceof OffchainError ? e.code : String(e) }));
    await someoneWaits(dba);
    expect(got, 'b waits on the contract').toBe('waiting');
    await during(dba, n, t);
    aMayCommit.open();
    await served;
    const r = await result;
    await dba.end();
    await a.close();
    await b.close();
    return { got: got as Rec | undefined | 'waiting', r };
  };
  /** The superuser's statements in one transaction, past the single-use trigger (session_replication_role = replica). */
  const pastTrigger = async (dba: pg.Client, ...sql: [string, unknown[]][]) => {
    await dba.query('BEGIN');
    await dba.query('SET LOCAL session_replication_role = replica');
    for (const [text, params] of sql) expect((await dba.query(text, params)).rowCount, text).toBe(1);
    await dba.query('COMMIT');
  };
  const nowait = async (c: pg.Client, sql: string, params: unknown[]) => {
    await c.query('BEGIN');
    try {
      await c.query(sql, params);
      return 'free';
    } catch (e) {
      return (e as { code?: string }).code === '55P03' ? 'locked' : `error ${(e as Error).message}`;
    } finally {
      await c.query('ROLLBACK');
    }
  };

  it('PROPERTY: the nonce row deleted by a DBA (past the trigger) while the step waited on the contract: status unknown, take E_NONCE_UNKNOWN — nothing kept of the statement\'s snapshot', async () => {
    const { got, r } = await whileWaiting(
      (dba, n) => pastTrigger(dba, ['DELETE FROM nonces WHERE id = $1', [nonceId(n.pub)]]),
      async (b, n) => [await b.status(n.pub, 'c/1'), await codeOf(b.take(n.pub, 'c/1'))],
    );
    expect(got).toEqual({ contract_id: 'c', status: 'open', n: 1 });
    expect(r).toEqual({ ok: true, v: ['unknown', 'E_NONCE_UNKNOWN'] });
  }, 60_000);

  it('PROPERTY: the nonce row deleted and inserted again (another context) while the step waited: the new row is what status and take see (misbound), not the snapshot\'s', async () => {
    const { r } = await whileWaiting(
      async (dba, n) => {
        const row = (await dba.query('SELECT * FROM nonces WHERE id = $1', [nonceId(n.pub)])).rows[0] as Record<string, unknown>;
        await pastTrigger(dba, ['DELETE FROM nonces WHERE id = $1', [row['id']]],
          ['INSERT INTO nonces (id, context, pubnonce, epoch, sealed) VALUES ($1, $2, $3, $4, $5)', [row['id'], 'd/1', row['pubnonce'], row['epoch'], row['sealed']]]);
      },
      async (b, n) => [await b.status(n.pub, 'c/1'), await b.status(n.pub, 'd/1'), await codeOf(b.take(n.pub, 'c/1'))],
    );
    expect(r).toEqual({ ok: true, v: ['misbound', 'unused', 'E_NONCE_MISBOUND'] });
  }, 60_000);

  it('PROPERTY: the nonce row relabelled by a DBA (an UPDATE the trigger lets through) while the step waited: its latest version is read — misbound, E_NONCE_MISBOUND, nothing opened', async () => {
    const { r } = await whileWaiting(
      (dba, n) => pastTrigger(dba, ["UPDATE nonces SET context = 'd/1' WHERE id = $1", [nonceId(n.pub)]]),
      async (b, n) => [await b.status(n.pub, 'c/1'), await codeOf(b.take(n.pub, 'c/1'))],
    );
    expect(r).toEqual({ ok: true, v: ['misbound', 'E_NONCE_MISBOUND'] });
  }, 60_000);

  it('PROPERTY: the contract removed by the step b waited on: no record, and the nonce row is not left locked (nothing read with a contract that is gone); the nonce answers as on its own', async () => {
    const { got, r } = await whileWaiting(
      async () => undefined,
      async (b, n, dba) => [await nowait(dba, 'SELECT 1 FROM nonces WHERE id = $1 FOR UPDATE NOWAIT', [nonceId(n.pub)]), await b.status(n.pub, 'c/1')],
      'remove',
    );
    expect(got).toBeUndefined();
    expect(r).toEqual({ ok: true, v: ['free', 'unused'] });
  }, 60_000);

  it('PROPERTY: the contract updated by the step b waited on: its latest version is read, and the nonce row is locked by b with it', async () => {
    const { got, r } = await whileWaiting(
      async () => undefined,
      async (b, n, dba) => [await nowait(dba, 'SELECT 1 FROM nonces WHERE id = $1 FOR UPDATE NOWAIT', [nonceId(n.pub)]), await nowait(dba, "SELECT 1 FROM contracts WHERE contract_id = 'c' FOR UPDATE NOWAIT", []), await b.status(n.pub, 'c/1')],
    );
    expect(got).toEqual({ contract_id: 'c', status: 'open', n: 1 });
    expect(r).toEqual({ ok: true, v: ['locked', 'locked', 'unused'] });
  }, 60_000);

  it('PROPERTY: a step run again after a real deadlock reads the nonce again — the row another transaction consumed between the attempts is consumed, not the first attempt\'s unused', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(async () => {
      await s.issue('c/1', gen(n));
      await s.put({ contract_id: 'c', status: 'open' });
      await s.put({ contract_id: 'd', status: 'open' });
    });
    const r = await rawClient(t);
    // r is never the deadlock's victim: s checks first (deadlock_timeout 1 s by default).
    await r.query("SET deadlock_timeout = '20s'");
    await r.query('BEGIN');
    await r.query("SELECT 1 FROM contracts WHERE contract_id = 'd' FOR UPDATE");
    const seen: string[] = [];
    let attempts = 0;
    const step = s.step(async () => {
      attempts++;
      await s.get('c', n.pub);
      seen.push(await s.status(n.pub, 'c/1'));
      if (attempts === 1) await s.get('d'); // waits on r, which then waits on c: a deadlock, s its victim
      return seen;
    });
    const prober = await rawClient(t);
    await someoneWaits(prober);
    const rGetsC = r.query("SELECT 1 FROM contracts WHERE contract_id = 'c' FOR UPDATE");
    await rGetsC;
    // s rolled back (its locks gone) and runs again, waiting on c; r consumes the nonce meanwhile.
    expect((await r.query('UPDATE nonces SET consumed = true, sealed = NULL, context = NULL, pubnonce = NULL WHERE id = $1 AND NOT consumed', [nonceId(n.pub)])).rowCount).toBe(1);
    await r.query('COMMIT');
    expect(await step).toEqual(['unused', 'consumed']);
    expect(attempts).toBe(2);
    await expect(s.step(() => s.take(n.pub, 'c/1'))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
    await prober.end();
    await r.end();
    await s.close();
  }, 60_000);

  it('PROPERTY: a nested step (savepoint) that read the nonce with its contract and failed lets both go, and what it read is not kept: consumed by another process since, the outer step sees it consumed', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const o = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(async () => {
      await s.issue('c/1', gen(n));
      await s.put({ contract_id: 'c', status: 'open' });
    });
    const prober = await rawClient(t);
    const out = await s.step(async () => {
      await s.put({ contract_id: 'x', status: 'open' }); // the outer step has begun on the server
      await expect(s.step(async () => {
        await s.get('c', n.pub);
        expect(await s.status(n.pub, 'c/1')).toBe('unused');
        throw new Error('inner refused');
      })).rejects.toThrow('inner refused');
      const free = [
        await nowait(prober, "SELECT 1 FROM contracts WHERE contract_id = 'c' FOR UPDATE NOWAIT", []),
        await nowait(prober, 'SELECT 1 FROM nonces WHERE id = $1 FOR UPDATE NOWAIT', [nonceId(n.pub)]),
      ];
      await o.step(() => o.burn(n.pub, 'c/1'));
      return [...free, await s.status(n.pub, 'c/1'), await codeOf(s.take(n.pub, 'c/1'))];
    }).catch((e: unknown) => (e instanceof OffchainError ? e.code : String(e)));
    expect(out).toEqual(['free', 'free', 'consumed', 'E_NONCE_USED']);
    await prober.end();
    await o.close();
    await s.close();
  }, 60_000);

  it('PROPERTY: a get naming a nonce outside a step, or in a view, is a plain read — nothing locked, nothing kept for a later step', async () => {
    const t = await target();
    const s = await PgMintStore.open<Rec>(t, 'regtest');
    const n = nonce();
    await s.step(async () => {
      await s.issue('c/1', gen(n));
      await s.put({ contract_id: 'c', status: 'open' });
    });
    const view = await PgMintStore.open<Rec>(t, 'regtest', { view: true });
    const prober = await rawClient(t);
    expect(await s.get('c', n.pub)).toEqual({ contract_id: 'c', status: 'open' });
    expect(await view.get('c', n.pub)).toEqual({ contract_id: 'c', status: 'open' });
    expect(await nowait(prober, 'SELECT 1 FROM nonces WHERE id = $1 FOR UPDATE NOWAIT', [nonceId(n.pub)])).toBe('free');
    expect(await nowait(prober, "SELECT 1 FROM contracts WHERE contract_id = 'c' FOR UPDATE NOWAIT", [])).toBe('free');
    const o = await PgMintStore.open<Rec>(t, 'regtest');
    await o.step(() => o.burn(n.pub, 'c/1'));
    expect(await s.step(async () => {
      await s.get('c', n.pub);
      return s.status(n.pub, 'c/1');
    })).toBe('consumed');
    expect(await view.status(n.pub)).toBe('consumed');
    await prober.end();
    await Promise.all([o.close(), view.close(), s.close()]);
  }, 60_000);
});
