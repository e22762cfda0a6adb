/**
 * A `statechain store migrate` that dies mid-migration, for the crash test: run as its own
 * process (`node --import tsx statechain-migrate-child.ts <state dir> <url>`, the operator's
 * key in OPERATOR_KEY, the password in OFFCHAIN_STORE_PASSWORD). It does what the command
 * does — the same state.sqlite, store, key, seal and witness — with the one thing the command
 * never passes: a hook that SIGKILLs the process after the first coin's rows committed and
 * before its row in state.sqlite is deleted. The rerun is then the real command.
 */
import { join } from 'node:path';
import { loadKeyPair } from '../../src/lib/cli/secrets.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';
import { migrateOperatorState } from '../../src/lib/store/pg/operator-migrate.ts';
import { PgOperatorStore } from '../../src/lib/store/pg/operator-store.ts';
import { VersionWitness } from '../../src/lib/store/pg/witness.ts';
import { Sealer } from '../../src/lib/store/seal.ts';
import { StateDb } from '../../src/lib/store/sqlite/database.ts';

const [stateDir, url] = process.argv.slice(2);
if (!stateDir || !url) {
  process.stderr.write('usage: statechain-migrate-child.ts <state dir> <postgres url>\n');
  process.exit(2);
}
const network = 'regtest';
const dir = join(stateDir, network);
const key = await loadKeyPair({ keyFile: undefined, keyEnv: 'OPERATOR_KEY', env: process.env, interactive: false, network, prompt: async () => '' });
const db = StateDb.open(dir, { create: false });
if (!db) {
  process.stderr.write(`no state.sqlite in ${dir}\n`);
  process.exit(2);
}
const witness = new VersionWitness(async (create) => StateDb.open(dir, { create }), dir);
const store = new PgOperatorStore(resolvePgTarget({ store: url }, process.env)!, { network, operatorSecret: key.secretKey, witness });
await migrateOperatorState(db, Sealer.fromSecret(key.secretKey), store, {
  afterImport: (coinId: string) => {
    process.stderr.write(`killed after importing ${coinId}\n`);
    process.kill(process.pid, 'SIGKILL');
  },
});
// Reached only if the hook was not called: the test sees exit 0 instead of SIGKILL and fails.
process.stdout.write('finished without being killed\n');
