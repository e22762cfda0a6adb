/**
 * A `credit store migrate` that dies mid-migration, for the crash tests: run as its own
 * process (`node --import tsx migrate-child.ts <credit-mint dir> <url> <phase>`, the
 * password in OFFCHAIN_STORE_PASSWORD). It calls the library the command calls, with the
 * one thing the command never passes — a hook between the phases — and SIGKILLs itself
 * after phase <phase> (1: the source marked and the target claimed; 2: the copy
 * committed): no exception, no finally, no cleanup runs, as when the machine loses power
 * or an operator kills it. The rerun is then the real command.
 */
import { migrateMintStore } from '../../src/lib/store/migrate.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';

const [dir, url, phaseText] = process.argv.slice(2);
const killAfter = Number(phaseText);
if (!dir || !url || (killAfter !== 1 && killAfter !== 2)) {
  process.stderr.write('usage: migrate-child.ts <credit-mint dir> <postgres url> <1|2>\n');
  process.exit(2);
}
const target = resolvePgTarget({ store: url }, process.env)!;
await migrateMintStore(dir, target, 'regtest', {
  afterPhase: (phase) => {
    if (phase === killAfter) {
      process.stderr.write(`killed after phase ${phase}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  },
});
// Reached only if the hook was not called: the test sees exit 0 instead of SIGKILL and fails.
process.stdout.write('finished without being killed\n');
