/**
 * Rollback detection for a store on a database server: each host keeps, outside the
 * database, the highest version of each coin it has committed or read — in its own
 * state.sqlite under --state-dir (records of kind `statechain-witness`, by coin). A
 * database cannot notice that it was restored, promoted from a lagging standby or recovered
 * to an earlier point in time — every row is consistent with every other — but a version
 * below what this host has seen can only mean the store went back. The step is then refused
 * (E_STORE_ROLLED_BACK, exit 1, as the mint's) before anything is signed or written.
 *
 * With the version it keeps a fingerprint of the row it saw at that version (the store's
 * digest of the record and sealed share, which differ for every write): the store at the
 * same version with another fingerprint has forked — it went back and was written forward
 * again by a host that did not have this witness — and is refused the same way.
 *
 * What it cannot see: a host that never saw the newer version (a new machine, a wiped
 * --state-dir) accepts the older one; nor can a host tell a fork once the store is past
 * the version it saw (that needs the store's history, not kept). docs/deployment.md says what
 * an operator does. The witness only rises: `advance` keeps the larger of what is stored and
 * what is given, in one transaction of the host's database, so racing processes on one host
 * never lower it.
 */
import { OffchainError } from '../../errors.ts';
import type { StateDb } from '../sqlite/database.ts';
import { Records } from '../sqlite/records.ts';

type Seen = { version: number; fingerprint?: string };

export class VersionWitness {
  private opened: Records<Seen> | undefined;

  /** `open(create)`: the host's state database for this network, made by the first version it keeps. */
  constructor(
    private readonly open: (create: boolean) => Promise<StateDb | undefined>,
    /** Where it lives, for messages. */
    readonly dir: string,
  ) {}

  private async seen(create: boolean): Promise<Records<Seen> | undefined> {
    if (this.opened === undefined) {
      const db = await this.open(create);
      if (db !== undefined) this.opened = new Records<Seen>(db, 'statechain-witness');
    }
    return this.opened;
  }

  /** E_STORE_ROLLED_BACK when `version` is below the highest this host has seen for `id`. */
  async check(id: string, version: number, where: string, fingerprint?: string): Promise<void> {
    const seen = (await this.seen(false))?.get(id);
    if (seen !== undefined && version === seen.version && fingerprint !== undefined && seen.fingerprint !== undefined && fingerprint !== seen.fingerprint) {
      throw new OffchainError(
        'E_STORE_ROLLED_BACK',
        `the store ${where} holds another version ${version} of ${id} than the one this host saw: the database went back (a restore, a lagging standby, a point-in-time recovery) and was written forward again by a host without this witness, and an old share could sign again; nothing was signed — see docs/deployment.md, "Backups, and what a restore means"`,
        1,
        { id, version, seen: seen.version, witness: this.dir },
      );
    }
    if (seen !== undefined && version < seen.version) {
      throw new OffchainError(
        'E_STORE_ROLLED_BACK',
        `the store ${where} holds version ${version} of ${id}, but this host committed version ${seen.version}: the database was restored, failed over to a lagging standby or recovered to an earlier point, and an old share could sign again; nothing was signed — see docs/deployment.md, "Backups, and what a restore means"`,
        1,
        { id, version, seen: seen.version, witness: this.dir },
      );
    }
  }

  async advance(id: string, version: number, fingerprint?: string): Promise<void> {
    const next: Seen = fingerprint === undefined ? { version } : { version, fingerprint };
    const records = (await this.seen(true))!;
    await records.db.step(() => {
      const seen = records.get(id);
      if (seen === undefined || seen.version < version) records.put(id, next);
      // The same version seen again: a fingerprint learned now is kept; one seen already is never replaced.
      else if (seen.version === version && seen.fingerprint === undefined && fingerprint !== undefined) records.put(id, next);
    });
  }
}
