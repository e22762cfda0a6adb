/**
 * ACTS FOLLOW THEIR COMMIT (src/lib/store/sqlite/database.ts COMMIT BEFORE THE ACT): an act the
 * world sees — a message to a peer, a broadcast, a payment — refuses to run inside an open step
 * (`refuseInsideStep`, E_INTERNAL), in a step of any database and at any depth, so a step that
 * forgot to end before its act fails in every test that reaches it; once the step has ended
 * (committed or rolled back) the act runs, also from a callback the step left behind.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callPeer } from '../../../src/lib/cli/peer.ts';
import { insideStep, refuseInsideStep, StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { tempDir } from '../../helpers.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-acts-');
afterAll(() => tmp.cleanup());
let n = 0;
const open = () => StateDb.open(join(tmp.path, `s-${++n}`, 'regtest'), { create: true })!;
const refused = new Error('refused');

describe('refuseInsideStep', () => {
  it('outside any step: the act runs', () => {
    expect(insideStep()).toBe(false);
    expect(() => refuseInsideStep('a broadcast')).not.toThrow();
  });

  it('inside a step, a nested step, and a step of another database: E_INTERNAL naming the act', async () => {
    const a = open();
    const b = open();
    await a.step(async () => {
      expect(insideStep()).toBe(true);
      const e = refusal(() => refuseInsideStep('a broadcast'), 'E_INTERNAL', 1);
      expect(e.message).toBe('a broadcast inside an open state step: a step commits before its act (src/lib/store/sqlite/database.ts)');
      await a.step(async () => {
        refusal(() => refuseInsideStep('a message to a peer'), 'E_INTERNAL', 1);
        // After an await inside the nested step: still inside.
        await new Promise((r) => setTimeout(r, 1));
        refusal(() => refuseInsideStep('a message to a peer'), 'E_INTERNAL', 1);
      });
      // Back in the enclosing step, still open.
      refusal(() => refuseInsideStep('a Lightning payment'), 'E_INTERNAL', 1);
    });
    await b.step(() => refusal(() => refuseInsideStep('a broadcast'), 'E_INTERNAL', 1));
    a.close();
    b.close();
  });

  it('inside a step of the mint\'s batch (a savepoint of its open transaction): refused', async () => {
    const db = open();
    const batch = db.begin();
    await db.step(() => refusal(() => refuseInsideStep('an answer'), 'E_INTERNAL', 1));
    db.commit(batch);
    db.close();
  });

  it('after the step committed, and after one rolled back: the act runs', async () => {
    const db = open();
    await db.step(() => undefined);
    expect(() => refuseInsideStep('a broadcast')).not.toThrow();
    await expect(db.step(() => Promise.reject(refused))).rejects.toBe(refused);
    expect(() => refuseInsideStep('a broadcast')).not.toThrow();
    db.close();
  });

  it('not fooled by a callback that outlives its step: a timer or a promise continuation made inside runs after the COMMIT, and may act', async () => {
    const db = open();
    const seen: string[] = [];
    let later!: Promise<void>;
    let resolveInside!: () => void;
    const inside = new Promise<void>((r) => (resolveInside = r));
    await db.step(() => {
      later = new Promise<void>((done) =>
        setTimeout(() => {
          seen.push(insideStep() ? 'timer inside' : 'timer after');
          refuseInsideStep('a broadcast');
          done();
        }, 20),
      );
      void inside.then(() => {
        seen.push(insideStep() ? 'continuation inside' : 'continuation after');
        refuseInsideStep('a message to a peer');
      });
    });
    resolveInside();
    await later;
    await inside;
    expect(seen.sort()).toEqual(['continuation after', 'timer after']);
    db.close();
  });

  it('a step whose database was closed under it (a crash\'s close) no longer counts as open', async () => {
    const db = open();
    await db
      .step(async () => {
        db.closeNow();
        expect(insideStep()).toBe(false);
        expect(() => refuseInsideStep('a broadcast')).not.toThrow();
      })
      .catch(() => undefined);
  });
});

describe('the acts themselves refuse inside a step', () => {
  let server: Server;
  let url: URL;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    url = new URL(`http://127.0.0.1:${port}`);
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a message to a peer (callPeer): refused inside a step before any byte is sent; after the COMMIT it goes', async () => {
    const db = open();
    await db.step(async () => {
      const e = await refusalAsync(callPeer(url, '/v1/x', { body: '{}', attempts: 1 }), 'E_INTERNAL', 1);
      expect(e.message).toContain('a message to a peer inside an open state step');
    });
    expect(requests).toBe(0);
    expect((await callPeer(url, '/v1/x', { body: '{}', attempts: 1 })).value).toEqual({ ok: true });
    expect(requests).toBe(1);
    db.close();
  });
});
