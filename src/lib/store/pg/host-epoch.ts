/**
 * HOST EPOCHS — the nonce key of a host's one-shot mint commands on PostgreSQL.
 *
 * A one-shot mint command (every gateway step, `sign-update` without --stream, `credit
 * abandon --role mint`, …) issues the nonce the contract's next step takes, and exits. A
 * key kept in one process's memory (a process epoch, mint-store.ts) dies with it, so the
 * next step could never take that nonce. The host's one-shot commands therefore share one
 * epoch, kept under --state-dir (`credit-mint-pg/`, one per store):
 *
 * - `epoch-<store id>.json` (0600): the epoch id and its 32-byte sealing key. Nonces in the
 *   database are sealed under it; only commands with this --state-dir can open them.
 * - `seen-<epoch>.json`: the host's rollback witness — the highest value of the epoch's
 *   counter that this host has written. It only rises (under the directory lock).
 *
 * THE RESTORE RULE for a host epoch. Every transaction that issues, takes or burns one of
 * the epoch's nonces first makes its entries final in THE LEDGER (below: fsynced, before
 * anything else of it), then increments the epoch's counter in the database just before
 * its COMMIT, holding the counter's row lock to the COMMIT, and checks the counter it found
 * against the witness (THE WITNESS IS EXACT, BUT ONE); it then raises the witness to the
 * new value — durably, on local disk — and only then COMMITs (pg/mint-transactions.ts
 * `commit`, `tick`). Nothing derived from a nonce (a partial signature, a pubnonce) leaves
 * any process before that COMMIT: this one returns its result after it, another answers a
 * replay only from what it committed. So when anything of a transaction has left, the
 * witness holds at least its counter value and the ledger records every nonce it opened. A
 * restore (backup, lagging standby, point-in-time recovery) that undoes transactions which
 * took the epoch's nonces undoes their counter increments too: the counter is then below
 * the witness. Two or more below, the host's next nonce transaction — or the next command
 * opening the store — sees it before opening anything: the key is retired (its file
 * overwritten and replaced by a fresh epoch). Nonces sealed under a retired key can be
 * burned (`credit abandon`) but never signed with: nobody holds the key.
 *
 * THE WITNESS IS EXACT, BUT ONE. With one witness per key, the witness is at least the
 * counter (it is raised before each COMMIT, under the counter's row lock), and equal to it
 * except after a step that died between the two (kill -9, or a COMMIT lost on the wire that
 * did not happen): then it is exactly one above. A tick therefore passes when the counter it
 * found is the witness (the new value witness + 1, raised to) or one below it (the new value
 * the witness itself, which stays: equality is restored). Nothing can tell that one-below
 * from a restore that undid exactly the last committed tick, so that restore passes too —
 * and is THE LEDGER's to catch: every nonce that tick opened or burned is out of the ledger
 * (settled before its witness and COMMIT), so its row revived is refused E_NONCE_REOPENED
 * before its secret is touched, or signed again for the very session it signed (the same
 * partial signature: nothing new); what it issued died with the database's rows (the sealed
 * secret was only there). Anything further is retired: a counter two or more below the
 * witness (a restore of two ticks, or of one after a killed step: the witness only rises,
 * and a passing tick leaves the counter equal to it, so one-belows never add up), and a
 * counter ABOVE the witness — a tick this witness never saw: the key is held elsewhere with
 * another witness (the --state-dir was copied to a second host, or restored from an older
 * copy while the database was not), or the witness was lost. That other holder's openings
 * are in neither this witness nor this ledger, so a later restore that revives one of them
 * would be invisible here. (That catches a copy the first time either host runs a nonce
 * step after the other did; a file-level copy is caught at its first command, below.) A
 * lost COMMIT's outcome is asked of the server (`resolveCommit`: the counter past it may be
 * another command's tick that passed one below).
 *
 * THE KEY FILE IS ONE FILE. The witness also names the key file it was written beside
 * (its inode and birth time: the file is written once, never replaced). A --state-dir
 * copied to another host, or restored from a file-level backup, carries the witness but
 * not the file: its first command finds the witness naming another file and retires the
 * key — before the copy can open anything, so even a restore of the database that comes
 * before the copy's first use finds nothing to revive for it. (A block-level clone of the
 * disk keeps both: that copy is beyond any local check.)
 *
 * A step killed between its witness and its COMMIT costs no retirement: the next tick
 * passes one below. It did settle its ledger entries: the nonce it opened (one per step, one
 * contract's) stays opened in the ledger though its row is unused — the same request again
 * (a --peer retry sends the same bytes) is signed again identically and goes through; any
 * other request on it is refused E_NONCE_USED and its user abandons once. The nonce it
 * issued stays live in the ledger with no row (its sealed secret was only in the rows that
 * were never committed, so nothing can offer it: one dead entry per killed step).
 *
 * THE LEDGER (nonce-ledger.ts) is the host's record of the nonces its epoch may still open,
 * a journal in `ledger-<epoch>/` beside the key: the witness catches a database gone back
 * by two ticks or more, the ledger a single row put back and a database gone back by one
 * tick (a nonce offered again after it was opened is refused, E_NONCE_REOPENED). The witness
 * reads a counter anyone who writes the database can set: against that writer (rows put back
 * any number of ticks, the counter set to the witness or one below it by hand) it sees
 * nothing, and the ledger alone — which never asks the counter — refuses every nonce this
 * host opened (test/pg/witness-review.test.ts). The witness is for honest restores, and for
 * a second holder of the key (above), whose openings no ledger here knows. An epoch
 * whose counter moved without a ledger beside it (one used by an older toolkit, or whose
 * ledger was lost) cannot tell which of its nonces were opened: it is retired, as after a
 * restore. What neither catches: the ledger and the witness lost or put back together with
 * the database (below), and a copy of this directory serving while the database is
 * restored before the copies' ticks cross (above).
 *
 * What it cannot see: a --state-dir rolled back with the database by a block-level
 * snapshot (a VM or filesystem snapshot keeps the key file's identity), or a block-level
 * clone of it. Keep --state-dir out of the database's backups and never run two machines on
 * copies of one (docs/deployment.md). A fresh --state-dir is safe: it draws a new epoch and
 * cannot open the old one's nonces.
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { MalformedInputError, OffchainError } from '../../errors.ts';
import { readJsonFile, writeJsonAtomic } from '../atomic.ts';
import { shredFile } from '../sync-fs.ts';
import { errnoCode } from '../write-errors.ts';
import { withLock } from '../lock.ts';
import { NonceLedger } from '../nonce-ledger.ts';
import { StateStore } from '../state-store.ts';

/**
 * A host epoch found outlived by a restore and replaced when the store was opened
 * (`noLedger`: used, but without the nonce ledger beside its key — an older toolkit's, or
 * the ledger lost).
 */
export type RetiredEpoch = { epoch: string; counter: number | undefined; seen: number; noLedger?: true };

type KeyDoc = { epoch: string; key: string };

/** The witness document (`seen-<epoch>.json`): VersionWitness's, plus the key file it was written beside. */
type WitnessDoc = { version: number; file?: string };

/**
 * What a copy of the key file cannot keep: its inode number and birth time (the file is
 * written once and never replaced, so both are fixed for its life). A copy — cp, rsync, a
 * file-level backup restored — is a new file.
 */
async function keyFileIdentity(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return `${st.ino}:${st.birthtimeNs}`;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function fresh(): KeyDoc {
  return { epoch: randomBytes(16).toString('hex'), key: randomBytes(32).toString('hex') };
}

function checked(doc: KeyDoc, path: string): KeyDoc {
  if (typeof doc?.epoch !== 'string' || !/^[0-9a-f]{32}$/.test(doc.epoch) || typeof doc.key !== 'string' || !/^[0-9a-f]{64}$/.test(doc.key)) {
    throw new MalformedInputError('E_STATE_CORRUPT', `the host's nonce key ${path} is not an epoch and a 32-byte key; move it aside (the nonces it sealed are then lost: users abandon once)`, { path });
  }
  return doc;
}

export class HostEpoch {
  retired: RetiredEpoch | undefined;

  /** The last witness read named another key file (`seen`): for the refusal's wording. */
  foreignWitness = false;

  private constructor(
    private readonly docs: StateStore,
    private readonly name: string,
    readonly epoch: string,
    readonly key: Buffer,
    /** The key file's identity (`keyFileIdentity`), recorded in the witness. */
    private readonly file: string | undefined,
  ) {}

  /** Where this epoch's nonce ledger is kept (nonce-ledger.ts). */
  get ledgerDir(): string {
    return join(this.docs.dir, `ledger-${this.epoch}`);
  }

  /**
   * The host's epoch for the store `storeId`, checked against the witness under the
   * counter's row lock (a step of another command of this host in flight finishes first).
   * A counter other than the witness, or a row gone that the witness knew: the epoch is retired
   * and a fresh one drawn (`retired` says so, for the command to warn).
   */
  static async join(client: pg.Client, dir: string, storeId: string): Promise<HostEpoch> {
    const docs = new StateStore(dir);
    const name = `epoch-${storeId}`;
    const path = join(docs.dir, `${name}.json`);
    let retired: RetiredEpoch | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const doc = await loadKey(docs.dir, path);
      const file = await keyFileIdentity(path);
      await client.query('BEGIN');
      try {
        const row = (await client.query<{ counter: string }>('SELECT counter FROM epochs WHERE epoch = $1 FOR UPDATE', [doc.epoch])).rows[0];
        const counter = row ? Number(row.counter) : undefined;
        const w = await docs.read<WitnessDoc>(`seen-${doc.epoch}`);
        // A witness written beside another key file: this directory is a copy (see THE KEY FILE IS ONE FILE).
        const seen = w?.file !== undefined && w.file !== file ? -1 : (w?.version ?? 0);
        if (counter === undefined && seen === 0) {
          await client.query('INSERT INTO epochs (epoch, counter, pid, host) VALUES ($1, 0, NULL, $2) ON CONFLICT (epoch) DO NOTHING', [doc.epoch, hostname()]);
        }
        // The witness, or one below it (a step killed between its witness and its COMMIT, or
        // a restore of exactly one tick: THE LEDGER refuses what that tick opened). Two or more
        // below, the database went back further; above it, someone holding this key without
        // this witness wrote the counter (a --state-dir copied to another host, a witness lost
        // or restored older), and a restore under that other history would be invisible here —
        // retired either way (see "THE WITNESS IS EXACT, BUT ONE" above). And a used epoch
        // keeps its ledger (THE LEDGER above).
        const noLedger = counter !== undefined && counter > 0 && !(await NonceLedger.journalExists(join(docs.dir, `ledger-${doc.epoch}`)));
        if (!noLedger && ((counter === undefined && seen === 0) || (counter !== undefined && seen >= 0 && (counter === seen || counter === seen - 1)))) {
          await client.query('COMMIT');
          const epoch = new HostEpoch(docs, name, doc.epoch, Buffer.from(doc.key, 'hex'), file);
          epoch.retired = retired;
          return epoch;
        }
        await client.query('ROLLBACK');
        retired = { epoch: doc.epoch, counter, seen, ...(noLedger ? { noLedger: true as const } : {}) };
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      await retireKey(dir, path, doc.epoch);
    }
    throw new OffchainError('E_STORE_ROLLED_BACK', `the host's nonce key under ${dir} keeps being retired (the store went back in time again and again): stop and look at the database`, 1);
  }

  /** The witness: the highest counter this host has written for the epoch (0 before any); -1 when it was written beside another key file. */
  async seen(): Promise<number> {
    const w = await this.docs.read<WitnessDoc>(`seen-${this.epoch}`);
    this.foreignWitness = w?.file !== undefined && w.file !== this.file;
    return this.foreignWitness ? -1 : (w?.version ?? 0);
  }

  /** Raise the witness to `counter` (never lowers it), durably, before the transaction's COMMIT; it names this key file. */
  async advance(counter: number): Promise<void> {
    // Kept whatever the step does next (state-step.ts withStateStep): the witness only rises, and one
    // above a COMMIT that did not happen is what THE WITNESS IS EXACT, BUT ONE allows for.
    await this.docs.update<WitnessDoc>(`seen-${this.epoch}`, (cur) => (cur !== undefined && cur.version >= counter ? cur : { version: counter, ...(this.file ? { file: this.file } : {}) }), { keep: true });
  }

  /** The database went back in time: overwrite the key file (if it still holds this epoch). */
  async retire(epoch: string): Promise<void> {
    this.key.fill(0);
    await retireKey(this.docs.dir, join(this.docs.dir, `${this.name}.json`), epoch);
  }
}

/** The key file's bytes; undefined when there is none, or only zeros (a retirement killed between its overwrite and its unlink). */
async function keyBytes(path: string): Promise<string | undefined> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  return raw.every((b) => b === 0) ? undefined : raw.toString('utf8');
}

/** The key document in `text`, or E_STATE_CORRUPT. */
function parsed(text: string, path: string): KeyDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  return checked(doc as KeyDoc, path);
}

/**
 * The host's key. Written once, by the command that finds none (under the directory lock):
 * rewriting it at every command would leave a copy of the secret on disk each time, and a
 * retirement shreds only the last. Read without the lock (the file is renamed into place
 * whole); a file being shredded reads as zeros or half a document, and is read again under
 * the lock, where the shred has finished.
 */
async function loadKey(dir: string, path: string): Promise<KeyDoc> {
  const quick = await keyBytes(path).catch(() => undefined);
  if (quick !== undefined) {
    try {
      return parsed(quick, path);
    } catch {
      // below, under the lock
    }
  }
  return withLock(dir, async () => {
    const text = await keyBytes(path);
    if (text !== undefined) return parsed(text, path);
    const doc = fresh();
    await writeJsonAtomic(path, doc);
    return doc;
  });
}

/** Shred the key file if it still holds `epoch` (another command may have retired it and drawn a new one already). */
async function retireKey(dir: string, path: string, epoch: string): Promise<void> {
  await withLock(dir, async () => {
    const cur = await readJsonFile<KeyDoc>(path).catch(() => undefined);
    if (cur?.epoch === epoch) await shredFile(path);
  });
}
