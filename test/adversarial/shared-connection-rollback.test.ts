/**
 * REGRESSION (library level, deterministic) — found by the adversarial review of the one store:
 * one process, one SQLite connection per file (StateDb keeps one per path), shared by every store
 * the process opens on it. A long-running mint (serve mint / serve gateway / sign-update --stream)
 * keeps a group-commit batch open on that connection between its requests (BEGIN … SAVEPOINT per
 * request … one COMMIT). Another SqliteMintStore opened on the same path in that process — a
 * read-only view — used to end with `abandon()`, i.e. a ROLLBACK on the SHARED connection: the
 * service's batch was rolled back, its COMMIT then "succeeded" on nothing, its answers left as
 * committed, and the nonce they were signed with was unused again (signed twice with the next
 * request).
 *
 * Now a batch belongs to the store that began it (StateDb.begin returns it; commit/rollback take
 * it): a view that began none drops nothing; a batch rolled back under its owner (a view that
 * joined it and abandoned) makes the owner's COMMIT fail E_STATE_WRITE, releasing nothing.
 *
 * The e2e version (the built CLI, serve gateway with a scripted Lightning socket):
 * test/adversarial/serve-gateway-view-rollback.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers.ts';
import { StateDb } from '../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../src/lib/store/sqlite/mint.ts';
import { Sealer } from '../../src/lib/store/seal.ts';

const KEY = Uint8Array.from(Buffer.alloc(32, 7));
const gen = (i: number) => () => ({ secnonce: Uint8Array.from(Buffer.alloc(97, i)), pubnonce: Uint8Array.from(Buffer.alloc(66, i)) });
type R = { contract_id: string };

async function withService(run: (dir: string, db: StateDb, service: SqliteMintStore<R>, pubnonce: Uint8Array) => Promise<void>): Promise<void> {
  const root = tempDir('offchain-adv-shared-');
  try {
    const dir = join(root.path, 'regtest');
    // The service's store (serve gateway's withMintStore: its connection for the process's life).
    const db = StateDb.open(dir, { create: true })!;
    const service = new SqliteMintStore<R>(db, { sealer: Sealer.fromSecret(KEY) });
    const { pubnonce } = await service.step(() => service.issue('ctx-state-5', gen(1)));
    await service.commit();
    try {
      await run(dir, db, service, pubnonce);
    } finally {
      db.close();
    }
  } finally {
    rmSync(root.path, { recursive: true, force: true });
  }
}

describe("a view opened on the service's own connection cannot undo the service's open batch", () => {
  it("a view that began nothing drops nothing: the batch's take is committed, and the nonce is refused a second time", async () => {
    await withService(async (dir, db, service, pubnonce) => {
      // A request of the batch: the nonce taken in its savepoint, its answer waiting for the batch's COMMIT.
      await service.step(() => service.take(pubnonce, 'ctx-state-5'));
      expect(service.dirty).toBe(true);

      // Meanwhile, in the same process, a view on the same path (the shared connection), abandoned.
      const shared = StateDb.open(dir, { create: false })!;
      expect(shared).toBe(db);
      new SqliteMintStore<R>(shared, {}).abandon();
      shared.close();

      expect(service.dirty).toBe(true);
      await service.commit();
      expect(await service.status(pubnonce)).toBe('consumed');
      await expect(service.step(() => service.take(pubnonce, 'ctx-state-5'))).rejects.toMatchObject({ code: 'E_NONCE_USED' });
      service.abandon();
    });
  });

  it("a view that joined the batch and abandoned it: the owner's COMMIT fails E_STATE_WRITE (nothing released), and the take never happened on disk", async () => {
    await withService(async (dir, db, service, pubnonce) => {
      await service.step(() => service.take(pubnonce, 'ctx-state-5'));
      const shared = StateDb.open(dir, { create: false })!;
      const view = new SqliteMintStore<R>(shared, {});
      // The view's own step joins the open batch (one batch per connection) …
      await view.step(async () => view.status(pubnonce));
      // … and its abandon rolls it back: what the service's requests wrote is gone.
      view.abandon();
      shared.close();

      await expect(service.commit()).rejects.toMatchObject({ code: 'E_STATE_WRITE' });
      // The store is broken: the process exits, answering nothing more.
      expect(service.broken).toBeDefined();
      await expect(service.step(() => service.take(pubnonce, 'ctx-state-5'))).rejects.toMatchObject({ code: 'E_STATE_WRITE' });
      // On disk (read by a connection of its own) the nonce is unused — and no signature with it
      // left, so the restarted process may sign with it once.
      const reader = new Database(join(dir, 'state.sqlite'), { readonly: true });
      try {
        expect(reader.prepare('SELECT consumed FROM nonces').all()).toEqual([{ consumed: 0 }]);
      } finally {
        reader.close();
      }
    });
  });
});
