/**
 * ADVERSARIAL (library level, deterministic): one process, one SQLite connection per file
 * (StateDb keeps one per path), shared by every store the process opens on it. A long-running
 * mint (serve mint / serve gateway / sign-update --stream) keeps a group-commit batch open on
 * that connection between its requests (MintBatch + SqliteMintStore: BEGIN … SAVEPOINT per
 * request … one COMMIT). Any other SqliteMintStore opened on the same path in that process —
 * `CreditCommand.withMintView`, which `serve gateway --lightning-rpc` runs for every
 * /v1/gateway/pay (device/command.ts gatewayInFlight) — ends with `store.abandon()`, i.e.
 * `db.rollback()` on the SHARED connection: it rolls back the batch of the service.
 *
 * `StateDb.commit()` then returns without error (`if (!this.batch) return`), so the batcher
 * releases every answer of the batch as committed. What it signed is not in the database: the
 * nonce it took is unused again, and the next request signs with it a second time.
 *
 * The e2e version (the built CLI, serve gateway with a scripted Lightning socket):
 * test/adversarial/serve-gateway-view-rollback.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { StateDb } from '../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../src/lib/store/sqlite/mint.ts';
import { Sealer } from '../../src/lib/store/seal.ts';

const KEY = Uint8Array.from(Buffer.alloc(32, 7));
const gen = (i: number) => () => ({ secnonce: Uint8Array.from(Buffer.alloc(97, i)), pubnonce: Uint8Array.from(Buffer.alloc(66, i)) });

describe('a view opened on the service\'s own connection rolls back the service\'s open batch', () => {
  it('the batch\'s take is undone, its commit "succeeds", and the same nonce is taken (opened) a second time', async () => {
    const root = tempDir('offchain-adv-shared-');
    try {
      const dir = join(root.path, 'regtest');
      // The service's store (serve gateway's withMintStore: its connection for the process's life).
      const db = StateDb.open(dir, { create: true })!;
      const service = new SqliteMintStore<{ contract_id: string }>(db, { sealer: Sealer.fromSecret(KEY) });
      const { pubnonce } = await service.step(() => service.issue('ctx-state-5', gen(1)));
      await service.commit();

      // A request of the batch: the nonce taken in its savepoint, its answer waiting for the batch's COMMIT.
      const first = await service.step(() => service.take(pubnonce, 'ctx-state-5'));
      expect(service.dirty).toBe(true);

      // Meanwhile, in the same process, gatewayInFlight's withMintView: another store on the same path
      // (StateDb.open hands back the shared connection), abandoned in its `finally`.
      const shared = StateDb.open(dir, { create: false })!;
      expect(shared).toBe(db);
      const view = new SqliteMintStore<{ contract_id: string }>(shared, {});
      view.abandon();
      shared.close();

      // The batcher's flush: commit() throws nothing — every answer of the batch is released as committed.
      await expect(service.commit()).resolves.toBeUndefined();
      expect(service.broken).toBeUndefined();

      // But the take never reached the file: the nonce is unused, and it opens again.
      expect(await service.status(pubnonce)).toBe('unused');
      const second = await service.step(() => service.take(pubnonce, 'ctx-state-5'));
      await service.commit();
      expect(Buffer.from(second)).toEqual(Buffer.from(first));
      db.close();
    } finally {
      rmSync(root.path, { recursive: true, force: true });
    }
  });
});
