/**
 * The mint's COMMIT that touched nonces and the step's seal (store/atomic.ts STEP RECORD,
 * pg/mint-transactions.ts, review 41): the step is sealed before COMMIT is sent and the seal
 * taken back only when the COMMIT provably did not happen — PostgreSQL ANSWERING it with an
 * error. An error the client makes up itself is no such answer: here the server commits and
 * its CommandComplete reaches the client with a type byte no server sends (wire-proxy.ts
 * `garbleReplyTo`): node-postgres rejects the query with a DatabaseError that has no SQLSTATE.
 * The COMMIT happened, so the step's files stay.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { stepHome, withStateStep, writeJsonAtomic } from '../../src/lib/store/atomic.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { describePostgres } from './fixture.ts';
import { WireProxy } from './wire-proxy.ts';

describePostgres('a COMMIT whose answer the client could not read', (fx) => {
  it('committed on the server, answered with garbage: the step stays sealed, its files kept', async () => {
    const url = await fx.server.createDatabase('commit_garbled');
    const proxy = new WireProxy(fx.server.port);
    await proxy.start();
    const t = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url.replace(`:${fx.server.port}/`, `:${proxy.port}/`), OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    const store = await PgMintStore.open<{ contract_id: string }>(t, 'regtest');
    const home = join(fx.root, 'garbled', 'regtest');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const policy = join(home, 'policy.json');
    await writeJsonAtomic(policy, { v: 1 });
    proxy.garbleReplyTo = 'COMMIT';
    const outcome = await withStateStep(async () => {
      stepHome(home);
      await writeJsonAtomic(policy, { v: 2 }); // a file of the step
      await store.issue('ctx', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: new Uint8Array(66).fill(2) }));
      await store.commit();
    }).then(() => 'kept', (e: unknown) => e);
    expect(outcome).not.toBe('kept'); // the client did see an error
    await store.close().catch(() => undefined);
    await proxy.stop();
    // The server's word: the COMMIT happened (the issued nonce is stored).
    const direct = resolvePgTarget({}, { OFFCHAIN_STORE_URL: url, OFFCHAIN_STORE_PASSWORD: fx.server.password })!;
    const again = await PgMintStore.open<{ contract_id: string }>(direct, 'regtest');
    expect((await again.counts()).unusedNonces).toBe(1);
    await again.close();
    expect(JSON.parse(readFileSync(policy, 'utf8'))).toEqual({ v: 2 });
  });
});
