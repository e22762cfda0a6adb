/**
 * Rollback detection for a store on a database server: each host keeps, outside the
 * database, the highest version of each coin it has committed or read (a small JSON
 * document per coin under its --state-dir). A database cannot notice that it was
 * restored, promoted from a lagging standby or recovered to an earlier point in time —
 * every row is consistent with every other — but a version below what this host has seen
 * can only mean the store went back. The step is then refused (E_STORE_ROLLED_BACK,
 * exit 1, as the mint's) before anything is signed or written.
 *
 * What it cannot see: a host that never saw the newer version (a new machine, a wiped
 * --state-dir) accepts the older one. docs/deployment.md says what an operator does.
 * The witness only rises: `advance` keeps the larger of what is stored and what is given,
 * under the directory lock, so racing processes on one host never lower it.
 */
import { OffchainError } from '../../errors.ts';
import { StateStore } from '../state-store.ts';

type Seen = { version: number };

export class VersionWitness {
  private readonly docs: StateStore;

  constructor(dir: string) {
    this.docs = new StateStore(dir);
  }

  get dir(): string {
    return this.docs.dir;
  }

  /** E_STORE_ROLLED_BACK when `version` is below the highest this host has seen for `id`. */
  async check(id: string, version: number, where: string): Promise<void> {
    const seen = await this.docs.read<Seen>(`seen-${id}`);
    if (seen !== undefined && version < seen.version) {
      throw new OffchainError(
        'E_STORE_ROLLED_BACK',
        `the store ${where} holds version ${version} of ${id}, but this host committed version ${seen.version}: the database was restored, failed over to a lagging standby or recovered to an earlier point, and an old share could sign again; nothing was signed — see docs/deployment.md, "Backups, and what a restore means"`,
        1,
        { id, version, seen: seen.version, witness: this.docs.dir },
      );
    }
  }

  /** The highest version of `id` this host has seen, or undefined before any. */
  async seen(id: string): Promise<number | undefined> {
    return (await this.docs.read<Seen>(`seen-${id}`))?.version;
  }

  async advance(id: string, version: number): Promise<void> {
    await this.docs.update<Seen>(`seen-${id}`, (seen) => (seen !== undefined && seen.version >= version ? seen : { version }));
  }
}
