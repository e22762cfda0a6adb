/**
 * Rollback detection for a store on a database server: each host keeps, outside the
 * database, the highest version of each coin it has committed or read (a small JSON
 * document per coin under its --state-dir). A database cannot notice that it was
 * restored, promoted from a lagging standby or recovered to an earlier point in time —
 * every row is consistent with every other — but a version below what this host has seen
 * can only mean the store went back. The step is then refused (E_STORE_ROLLED_BACK,
 * exit 1, as the mint's) before anything is signed or written.
 *
 * With the version it keeps a fingerprint of the row it saw at that version (the store's
 * digest of the record and sealed share, which differ for every write): the store at the
 * same version with another fingerprint has forked — it went back and was written forward
 * again by a host that did not have this witness — and is refused the same way.
 *
 * What it cannot see: a host that never saw the newer version (a new machine, a wiped
 * --state-dir) accepts the older one; nor can a host tell a fork once the store is past
 * the version it saw (that needs the store's history, not kept). docs/deployment.md says what an operator does.
 * The witness only rises: `advance` keeps the larger of what is stored and what is given,
 * under the directory lock, so racing processes on one host never lower it.
 */
import { OffchainError } from '../../errors.ts';
import { StateStore } from '../state-store.ts';

type Seen = { version: number; fingerprint?: string };

export class VersionWitness {
  private readonly docs: StateStore;

  constructor(dir: string) {
    this.docs = new StateStore(dir);
  }

  get dir(): string {
    return this.docs.dir;
  }

  /** E_STORE_ROLLED_BACK when `version` is below the highest this host has seen for `id`. */
  async check(id: string, version: number, where: string, fingerprint?: string): Promise<void> {
    const seen = await this.docs.read<Seen>(`seen-${id}`);
    if (seen !== undefined && version === seen.version && fingerprint !== undefined && seen.fingerprint !== undefined && fingerprint !== seen.fingerprint) {
      throw new OffchainError(
        'E_STORE_ROLLED_BACK',
        `the store ${where} holds another version ${version} of ${id} than the one this host saw: the database went back (a restore, a lagging standby, a point-in-time recovery) and was written forward again by a host without this witness, and an old share could sign again; nothing was signed — see docs/deployment.md, "Backups, and what a restore means"`,
        1,
        { id, version, seen: seen.version, witness: this.docs.dir },
      );
    }
    if (seen !== undefined && version < seen.version) {
      throw new OffchainError(
        'E_STORE_ROLLED_BACK',
        `the store ${where} holds version ${version} of ${id}, but this host committed version ${seen.version}: the database was restored, failed over to a lagging standby or recovered to an earlier point, and an old share could sign again; nothing was signed — see docs/deployment.md, "Backups, and what a restore means"`,
        1,
        { id, version, seen: seen.version, witness: this.docs.dir },
      );
    }
  }

  async advance(id: string, version: number, fingerprint?: string): Promise<void> {
    const next: Seen = fingerprint === undefined ? { version } : { version, fingerprint };
    await this.docs.update<Seen>(`seen-${id}`, (seen) => {
      if (seen === undefined || seen.version < version) return next;
      // The same version seen again: a fingerprint learned now is kept; one seen already is never replaced.
      if (seen.version === version && seen.fingerprint === undefined && fingerprint !== undefined) return next;
      return seen;
      // Kept whatever the step does next (state-step.ts withStateStep): a version committed or read
      // is in the store; put back, a restore below it would pass (test/lib/store/step-ledger.test.ts).
    }, { keep: true });
  }
}
