/**
 * THE FILE LAYOUT BEFORE state.sqlite, imported once, on first use. Until then each role
 * kept its own files under `<state-dir>/<network>`:
 *
 *   credit-user/contracts/<id>.json   the credit user's (and device's) records      → records `credit-user`
 *   credit-mint/mint.sqlite           the mint's (and gateway's) own SQLite store   → contracts, funding, blind_signatures,
 *                                     (and nonce-ledger/, its journal: dropped)       nonces, meta (offer, keysets, counter)
 *   nonces/{unused,taking,consumed}/  every other signer's single-use nonces        → nonces (unused ones with their secret
 *                                     (counter.json)                                   in the clear form, read once when taken;
 *                                                                                      one also in consumed/ or taking/ — by its
 *                                                                                      content or its file's name — consumed)
 *   statechain/<name>.json            the owner's documents (coin-, joint-, …)       → records `statechain`
 *                                     the operator's op-<coin>, offer-<digest>       → records `statechain-operator`, `-offer`
 *   bolt3/<txid>-<vout>/channel.json  a channel party's records                     → records `bolt3` (`<txid>:<vout>`)
 *   statechain-witness/seen-<coin>    a PostgreSQL operator host's rollback witness → records `statechain-witness`
 *   credit-mint-pg/                   a PostgreSQL mint host's nonce key, witness   → nothing: host epochs are gone (the
 *                                     and journal (one-shot mint commands)            nonces that key sealed are dead; their
 *                                                                                      users abandon once), the key zeroed
 *
 * All of it goes into the database in ONE transaction, with a mark (meta `imported_files`);
 * only after its COMMIT are the old files removed (each overwritten with zeros first; a
 * symlink is removed, never followed). A crash before the COMMIT imported nothing (the files
 * are all still there: the next command imports them); one after it left files the mark says
 * were imported — it lists them — and the next command only removes them. Refused, with
 * nothing created or written:
 *
 * - E_STATE_HALF_MIGRATED: files of the old layout beside a database that never imported
 *   them (copied in, or restored over a newer directory; written by an older offchain run
 *   after the import): which one is the truth cannot be told; the operator moves one of them
 *   aside;
 * - E_STEP_INTERRUPTED: an older offchain's step left unfinished (`.step.*` files): that
 *   version finishes it when it runs once on the directory (its crash recovery is not part
 *   of this one);
 * - E_STATE_OLD_LAYOUT: a mint directory from before its SQLite store (snapshot.json),
 *   which an older offchain imports first;
 * - E_LOCK_HELD: the old mint database open in another process (an older offchain's mint
 *   still running, which could sign with nonces the import copies): stop it first.
 *
 * Secrets that arrive in the clear (an unused nonce's, an operator's share) stay so until
 * their owner's key opens the store: the operator's store seals its shares then, and each
 * signer its own nonces (a BIP-327 secret nonce ends with its signer's public key: nonces.ts
 * `sealImported`). The mint's states sealed by the older scheme are sealed again by the
 * first mint command that holds the key (mint.ts `resealLegacy`).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MalformedInputError, StateConflictError } from '../../errors.ts';
import { errnoCode } from '../write-errors.ts';
import { syncDirSync, unlinkIfPresent, writeAll } from '../sync-fs.ts';
import { STATE_DB_FILE, type StateDb } from './database.ts';
import { aloneOnFile, openSqlite, sqliteError } from './driver.ts';
import { CLEAR_NONCES_KEY, CLEAR_SECRET, nonceId } from './nonces.ts';

/** The folders the file layout kept under `<state-dir>/<network>`. */
export const LEGACY_FOLDERS = ['credit-user', 'credit-mint', 'nonces', 'statechain', 'bolt3', 'statechain-witness', 'credit-mint-pg'] as const;

/** The meta key the import leaves: what was imported, when. */
export const IMPORTED_KEY = 'imported_files';

/** The meta key telling the mint's store that its records hold states sealed by the older scheme (mint.ts reseals them). */
export const LEGACY_STATES_KEY = 'mint_states_v1';

/** The meta key telling the operator's store that its records hold shares in the clear (operator.ts seals them). */
export const CLEAR_SHARES_KEY = 'statechain_shares_clear';

/**
 * Whether `dir` holds state of the file layout. One that holds no database yet is checked here,
 * before one is made for it: a directory this toolkit refuses to import (an unfinished step, a
 * mint from before its SQLite store) is refused with nothing created.
 */
export function legacyLayout(dir: string): boolean {
  const legacy = LEGACY_FOLDERS.some((f) => existsSync(join(dir, f)));
  if (legacy && !existsSync(join(dir, STATE_DB_FILE))) refuseUnfinished(dir);
  return legacy;
}

type Counts = { records: number; nonces: number; mint_contracts: number };

/** Import the file layout of `db.dir` (the caller saw `legacyLayout`), or finish removing what an import left. */
export function importFileLayout(db: StateDb): void {
  const dir = db.dir;
  const imported = db.meta(IMPORTED_KEY);
  if (imported === undefined) {
    refuseUnfinished(dir);
    const empty = db.sql.prepare('SELECT 1 FROM records UNION ALL SELECT 1 FROM nonces UNION ALL SELECT 1 FROM contracts UNION ALL SELECT 1 FROM meta LIMIT 1').get() === undefined;
    if (!empty) {
      throw new StateConflictError('E_STATE_HALF_MIGRATED', `${dir} holds both ${join(dir, STATE_DB_FILE)} and files of the older layout (${LEGACY_FOLDERS.filter((f) => existsSync(join(dir, f))).join(', ')}) it never imported: which is the state cannot be told — move one of them aside (never run both)`, { path: dir });
    }
    // The mint's own database is attached before the transaction and detached after it:
    // SQLite detaches no database a transaction has read ("database old is locked").
    const mintDb = join(dir, 'credit-mint', 'mint.sqlite');
    const attached = existsSync(mintDb);
    if (attached) refuseOpenElsewhere(mintDb);
    if (attached) db.sql.prepare('ATTACH DATABASE ? AS old').run(mintDb);
    try {
      // EXCLUSIVE: the old mint database (in rollback mode since the check) locked against
      // every other process — an older offchain started meanwhile — until the import commits.
      db.sql.exec('BEGIN EXCLUSIVE');
      try {
        const files = oldFiles(dir);
        const counts = importAll(db, attached);
        db.sql.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(IMPORTED_KEY, JSON.stringify({ at: new Date().toISOString(), ...counts, files }));
        db.sql.exec('COMMIT');
      } catch (e) {
        if (db.sql.inTransaction) db.sql.exec('ROLLBACK');
        throw e;
      }
    } catch (e) {
      throw sqliteError(e, attached ? mintDb : dir);
    } finally {
      if (attached) db.sql.exec('DETACH DATABASE old');
    }
  } else {
    // Imported before: what is left must be what that import took (a crash before their
    // removal ended, some perhaps gone already). A file it never took was written since by an
    // older offchain run on this directory, or copied in: removing it would lose it unread.
    const mark = JSON.parse(imported) as { at?: string; files?: string[] };
    const took = new Set(mark.files ?? []);
    const strangers = mark.files === undefined ? [] : oldFiles(dir).filter((f) => !took.has(f) && !SQLITE_COMPANION.test(f));
    if (strangers.length > 0) {
      throw new StateConflictError('E_STATE_HALF_MIGRATED', `${dir} holds ${join(dir, STATE_DB_FILE)}, which imported this directory's older files at ${mark.at}, and files of the older layout that import never took (${join(dir, strangers[0]!)}${strangers.length > 1 ? ` and ${strangers.length - 1} more` : ''}): written since by an older offchain, or copied in — which is the state cannot be told; move them aside (never run both)`, { path: dir });
    }
  }
  removeOldFiles(dir);
}

/**
 * E_LOCK_HELD when another process — an older offchain's streaming mint, still running — has
 * the old mint database open: it could go on signing with nonces the import copies as unused.
 * SQLite lets a WAL database leave WAL mode only when no other connection has it open, so the
 * switch is the test (the file is about to be imported and removed: its mode no longer matters).
 */
function refuseOpenElsewhere(path: string): void {
  const old = openSqlite(path);
  try {
    if (!aloneOnFile(old)) {
      throw new StateConflictError('E_LOCK_HELD', `${path} is open in another process (an older offchain's mint, still running?): stop it, then run this command again — its nonces cannot be imported while it may sign with them; nothing was read or written`, { path });
    }
  } finally {
    old.close();
  }
}

/** The files SQLite keeps beside the mint's old database while it is open: made by the import itself. */
const SQLITE_COMPANION = /^credit-mint\/mint\.sqlite-(wal|shm|journal)$/;

/** Every file (and link) under the old folders, relative to `dir`, sorted: what an import takes, and what its removal may find. */
function oldFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const st = lstatSync(join(dir, rel), { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isDirectory()) for (const name of entries(join(dir, rel))) walk(join(rel, name));
    else out.push(rel);
  };
  for (const folder of LEGACY_FOLDERS) walk(folder);
  return out.sort();
}

/** `.step.*` files of an older offchain's step that did not finish: its own recovery must run first. */
function refuseUnfinished(dir: string): void {
  const unfinished: string[] = [];
  const look = (d: string) => {
    for (const name of entries(d)) if (/^\.step\.[0-9a-f]+\.(open|sealed|tmp)$/.test(name)) unfinished.push(join(d, name));
  };
  look(dir);
  for (const f of LEGACY_FOLDERS) look(join(dir, f));
  if (unfinished.length > 0) {
    throw new StateConflictError('E_STEP_INTERRUPTED', `${dir} holds a step an older offchain did not finish (${unfinished[0]}): run that version once on this --state-dir (any command that names it finishes the step), then this one imports the directory; nothing was read or written`, { path: unfinished[0] });
  }
  if (existsSync(join(dir, 'credit-mint', 'snapshot.json'))) {
    throw new StateConflictError('E_STATE_OLD_LAYOUT', `${join(dir, 'credit-mint')} is a mint directory from before its SQLite store (snapshot.json): open it once with an offchain of 2026 (any mint command imports it), then this one; nothing was read or written`, { path: dir });
  }
}

/** Everything of the file layout into `db`, in the caller's transaction; `mintAttached`: the mint's mint.sqlite is attached as `old`. */
function importAll(db: StateDb, mintAttached: boolean): Counts {
  const dir = db.dir;
  const counts: Counts = { records: 0, nonces: 0, mint_contracts: 0 };
  const putRecord = db.sql.prepare<[string, string, string]>('INSERT INTO records (kind, id, body) VALUES (?, ?, ?)');
  const putMeta = db.sql.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const record = (kind: string, id: string, path: string) => {
    putRecord.run(kind, id, JSON.stringify(readJson(path)));
    counts.records++;
  };
  let counter = 0;

  // The credit user's contracts.
  const contracts = join(dir, 'credit-user', 'contracts');
  for (const name of entries(contracts)) {
    const m = /^([0-9a-f]{64})\.json$/.exec(name);
    if (m) record('credit-user', m[1]!, join(contracts, name));
  }

  // A channel party's channels.
  const bolt3 = join(dir, 'bolt3');
  for (const name of entries(bolt3)) {
    const m = /^([0-9a-f]{64})-(\d+)$/.exec(name);
    const path = join(bolt3, name, 'channel.json');
    if (m && existsSync(path)) record('bolt3', `${m[1]}:${m[2]}`, path);
  }

  // The statechain owner's documents and the operator's coins and offers.
  const statechain = join(dir, 'statechain');
  let clearShares = false;
  for (const name of entries(statechain)) {
    const m = /^([a-z0-9][a-z0-9._-]{0,199})\.json$/.exec(name);
    if (!m) continue;
    const doc = m[1]!;
    const path = join(statechain, name);
    if (doc === 'operator-migrated') putMeta.run('statechain_operator_migrated', JSON.stringify(readJson(path)));
    else if (/^op-[0-9a-f]{32}$/.test(doc)) {
      record('statechain-operator', doc.slice(3), path);
      clearShares = true;
    } else if (/^offer-[0-9a-f]{64}$/.test(doc)) record('statechain-offer', doc.slice(6), path);
    else record('statechain', doc, path);
  }
  if (clearShares) putMeta.run(CLEAR_SHARES_KEY, '1');

  // A PostgreSQL operator host's rollback witness (pg/witness.ts): the highest version of each
  // coin it saw, which it now keeps in this database — dropped, a store gone back would pass.
  const witness = join(dir, 'statechain-witness');
  for (const name of entries(witness)) {
    const m = /^seen-([a-z0-9][a-z0-9._-]{0,194})\.json$/.exec(name);
    if (m) record('statechain-witness', m[1]!, join(witness, name));
  }

  // Every signer's nonces but the mint's.
  const insertNonce = db.sql.prepare<[string, string, string, Buffer]>('INSERT INTO nonces (id, context, pubnonce, sealed) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
  const consumedNonce = db.sql.prepare<[string]>('INSERT INTO nonces (id, consumed) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET consumed = 1, sealed = NULL, context = NULL, pubnonce = NULL');
  const nonces = join(dir, 'nonces');
  const stored = readJson(join(nonces, 'counter.json'), true) as { counter?: unknown } | undefined;
  if (typeof stored?.counter === 'number') counter = Math.max(counter, stored.counter);
  // Consumed first: a nonce found both consumed and unused (a take that crashed, a restored
  // unused/ copy) is consumed. A tombstone recovery wrote, or a torn taking/ file, may not say
  // its public nonce: its name does, in the file layout's own id scheme (SHA-256 of the 66
  // bytes, where state.sqlite hashes the hex text), and the unused copy of that name is consumed.
  const consumedNames = new Set<string>();
  for (const sub of ['consumed', 'taking']) {
    for (const name of entries(join(nonces, sub))) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const named = /^([0-9a-f]{32})\./.exec(name);
      if (named) consumedNames.add(named[1]!);
      const r = readJson(join(nonces, sub, name), true, true) as { pubnonce?: unknown; counter?: unknown } | undefined;
      if (typeof r?.counter === 'number') counter = Math.max(counter, r.counter);
      if (typeof r?.pubnonce === 'string' && /^[0-9a-f]{132}$/.test(r.pubnonce)) consumedNonce.run(nonceId(r.pubnonce));
    }
  }
  for (const name of entries(join(nonces, 'unused'))) {
    if (!/^[0-9a-f]{32}\.json$/.test(name)) continue;
    const path = join(nonces, 'unused', name);
    const r = readJson(path) as { context?: unknown; pubnonce?: unknown; secnonce?: unknown; counter?: unknown };
    if (typeof r.context !== 'string' || typeof r.pubnonce !== 'string' || !/^[0-9a-f]{132}$/.test(r.pubnonce) || typeof r.secnonce !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(r.secnonce)) {
      throw new MalformedInputError('E_STATE_CORRUPT', `nonce file ${path} is damaged: it cannot be imported (move it aside: the nonce is lost, never reused)`, { path });
    }
    if (typeof r.counter === 'number') counter = Math.max(counter, r.counter);
    if (consumedNames.has(name.slice(0, 32)) || consumedNames.has(fileNonceId(r.pubnonce))) consumedNonce.run(nonceId(r.pubnonce));
    else insertNonce.run(nonceId(r.pubnonce), r.context, r.pubnonce, Buffer.concat([Buffer.of(CLEAR_SECRET), Buffer.from(r.secnonce, 'hex')]));
  }

  // The mint's own SQLite store, copied table by table (its nonce ledger is the database's word now).
  if (mintAttached) {
    const has = (table: string) => db.sql.prepare("SELECT 1 FROM old.sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    const column = (table: string, col: string) => db.sql.prepare(`SELECT 1 FROM pragma_table_info('${table}', 'old') WHERE name = ?`).get(col) !== undefined;
    if (has('contracts')) {
      counts.mint_contracts = db.sql.prepare(`INSERT INTO contracts (contract_id, record, unfunded_since) SELECT contract_id, record, ${column('contracts', 'unfunded_since') ? 'unfunded_since' : 'NULL'} FROM old.contracts`).run().changes;
      // Older rows without the column: filled from their records (mint.ts unfundedSince).
      if (!column('contracts', 'unfunded_since')) {
        const fill = db.sql.prepare<[number, string]>('UPDATE contracts SET unfunded_since = ? WHERE contract_id = ?');
        for (const r of db.sql.prepare<[], { contract_id: string; record: string }>('SELECT contract_id, record FROM contracts').all()) {
          const rec = JSON.parse(r.record) as { status?: unknown; latest?: unknown; funding_seen?: unknown; opened_at_height?: unknown };
          if (rec.status === 'open' && rec.latest == null && rec.funding_seen == null && typeof rec.opened_at_height === 'number') fill.run(rec.opened_at_height, r.contract_id);
        }
      }
    }
    if (has('funding')) db.sql.exec('INSERT INTO funding (outpoint, contract_id, kind, from_contract_id) SELECT outpoint, contract_id, kind, from_contract_id FROM old.funding');
    if (has('blind_signatures')) db.sql.exec(`INSERT INTO blind_signatures (B_, contract_id, state, keyset_id, amount, C_) SELECT B_, contract_id, state, keyset_id, amount, ${column('blind_signatures', 'C_') ? 'C_' : 'NULL'} FROM old.blind_signatures`);
    if (has('nonces')) {
      for (const n of db.sql.prepare<[], { id: string; context: string | null; pubnonce: string | null; secnonce: string | null; consumed: number }>('SELECT id, context, pubnonce, secnonce, consumed FROM old.nonces').all()) {
        if (n.consumed || n.secnonce === null || n.context === null || n.pubnonce === null) consumedNonce.run(n.id);
        else insertNonce.run(n.id, n.context, n.pubnonce, Buffer.concat([Buffer.of(CLEAR_SECRET), Buffer.from(n.secnonce, 'hex')]));
      }
    }
    if (has('meta')) {
      for (const m of db.sql.prepare<[], { key: string; value: string }>('SELECT key, value FROM old.meta').all()) {
        if (m.key === 'counter') counter = Math.max(counter, Number(m.value) || 0);
        else if (m.key.startsWith('doc:') || m.key === 'migration') putMeta.run(m.key, m.value);
      }
      // Its states were sealed by the scheme before seal.ts (or, in a store never opened with its key, are in the clear).
      putMeta.run(LEGACY_STATES_KEY, '1');
    }
  }
  if (counter > 0) putMeta.run('nonce_counter', String(counter));
  counts.nonces = db.sql.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM nonces').get()!.n;
  // Unused nonces arrive with their secrets in the clear: each signer seals its own at its first use (nonces.ts).
  if (db.sql.prepare("SELECT 1 FROM nonces WHERE consumed = 0 AND substr(sealed, 1, 1) = x'00' LIMIT 1").get() !== undefined) putMeta.run(CLEAR_NONCES_KEY, '1');
  return counts;
}

/** The old folders removed, every file in them overwritten with zeros first (secrets: nonces, shares), directories synced. */
function removeOldFiles(dir: string): void {
  for (const folder of LEGACY_FOLDERS) {
    const path = join(dir, folder);
    if (!existsSync(path)) continue;
    zeroTree(path);
    rmSync(path, { recursive: true, force: true });
  }
  syncDirSync(dir);
}

function zeroTree(path: string): void {
  let st;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return;
  }
  if (st === undefined) return;
  // A symlink is removed, never followed: what it points to lies outside the old layout (a key
  // file, another directory), and is not the import's to zero.
  if (st.isSymbolicLink()) {
    unlinkIfPresent(path);
    return;
  }
  if (st.isDirectory()) {
    for (const name of entries(path)) zeroTree(join(path, name));
    return;
  }
  if (!st.isFile()) return;
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
    const size = fstatSync(fd).size;
    if (size > 0) writeAll(fd, new Uint8Array(size), 0);
    fsyncSync(fd);
  } catch {
    // best effort: the file goes anyway
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  unlinkIfPresent(path);
}

/** A nonce's id in the file layout (its file's name): SHA-256 of the public nonce's 66 bytes, 16 bytes, hex. */
function fileNonceId(pubnonceHex: string): string {
  return createHash('sha256').update(Buffer.from(pubnonceHex, 'hex')).digest('hex').slice(0, 32);
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
    throw e;
  }
}

/** A JSON file of the old layout: E_STATE_CORRUPT (naming it) when it does not parse; `optional`: a missing one is undefined; `lenient`: an unreadable one too. */
function readJson(path: string, optional = false, lenient = false): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (optional && errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    if (lenient) return undefined;
    throw new MalformedInputError('E_STATE_CORRUPT', `state file ${path} is not valid JSON: it cannot be imported; restore it or move it aside`, { path });
  }
}
