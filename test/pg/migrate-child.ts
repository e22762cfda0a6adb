/**
 * A `credit store migrate` that dies mid-migration, for the crash tests: run as its own
 * process (`node --import tsx migrate-child.ts <network state dir> <url> <1|2|mark>`, the
 * password in OFFCHAIN_STORE_PASSWORD). It calls the library the command calls, with the
 * one thing the command never passes — hooks between the phases — and SIGKILLs itself
 * after phase 1 (the source marked and the target claimed), 2 (the copy committed) or
 * `mark` (inside phase 1: the source's mark committed, the target's claim not yet): no
 * exception, no finally, no cleanup runs, as when the machine loses power or an operator
 * kills it. The rerun is then the real command.
 */
import { migrateMintStore } from '../../src/lib/store/migrate.ts';
import { resolvePgTarget } from '../../src/lib/store/pg/connect.ts';

const [dir, url, where] = process.argv.slice(2);
if (!dir || !url || !['1', '2', 'mark'].includes(where ?? '')) {
  process.stderr.write('usage: migrate-child.ts <network state dir (holding state.sqlite)> <url> <1|2|mark>\n');
  process.exit(2);
}
const die = (what: string) => {
  process.stderr.write(`killed after ${what}\n`);
  process.kill(process.pid, 'SIGKILL');
};
const target = resolvePgTarget({ store: url }, process.env)!;
await migrateMintStore(dir, target, 'regtest', {
  afterPhase: (phase) => {
    if (String(phase) === where) die(`phase ${phase}`);
  },
  afterMark: () => {
    if (where === 'mark') die('the mark');
  },
});
// Reached only if no hook killed it: the test sees exit 0 instead of SIGKILL and fails.
process.stdout.write('finished without being killed\n');
