/**
 * The stores the benches open directly: the mint's, on a network directory's state.sqlite
 * (src/lib/store/sqlite/), its states sealed under the mint's key as its commands seal them.
 * `close()` commits and closes the database, as the end of a command does.
 */
import { StateDb } from '../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../src/lib/store/sqlite/mint.ts';
import { Sealer } from '../src/lib/store/seal.ts';

export async function openMint<R extends { contract_id: string }>(networkDir: string, mintSecret: Uint8Array): Promise<SqliteMintStore<R>> {
  const db = StateDb.open(networkDir, { create: true })!;
  const store = new SqliteMintStore<R>(db, { sealer: Sealer.fromSecret(mintSecret) });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    db.close();
  };
  return store;
}
