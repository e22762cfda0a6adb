/**
 * THE OLD LAYOUT IS IMPORTED ONCE (src/lib/store/sqlite/migrate-v0.ts), on the real directories
 * offchain c2eaab3 left (test/fixtures/state-v0, README there): every record, nonce and mint row
 * goes into state.sqlite in one transaction, keyed as state.sqlite keys them, unused nonces
 * unused and consumed ones consumed (whatever id scheme the old file used), the counters kept;
 * then every old file is zeroed and removed — and never a file outside the state directory.
 * Refused with nothing created or changed: an older offchain's unfinished step
 * (E_STEP_INTERRUPTED), a mint directory from before its SQLite store (E_STATE_OLD_LAYOUT), old
 * files beside a database that never imported them (E_STATE_HALF_MIGRATED), a damaged file
 * (E_STATE_CORRUPT, naming it). A crash after the import's COMMIT leaves files the next command
 * only removes: nothing is imported twice.
 *
 * The CLI's next steps on these directories, byte for byte: test/e2e/state-v0-migrates.test.ts.
 */
import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { chmodSync, cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { SqliteOperatorStore } from '../../../src/lib/store/sqlite/operator.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { VersionWitness } from '../../../src/lib/store/pg/witness.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { fileSnapshot, ROOT, tempDir } from '../../helpers.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'state-v0');
const FOLDERS = ['credit-user', 'credit-mint', 'nonces', 'statechain', 'bolt3', 'statechain-witness', 'credit-mint-pg'];
const ROLES = ['credit-mint', 'credit-user', 'credit-ecash-mint', 'credit-ecash-user', 'device', 'gateway', 'commitment-a', 'commitment-b', 'musig', 'ptlc', 'ptlc-payer', 'statechain-operator', 'statechain-owner', 'statechain-receiver'];
const key = (name: string) => fromHex(readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim());

const tmp = tempDir('offchain-v0-');
afterAll(() => tmp.cleanup());
let n = 0;

/** A copy of a role's fixture as a git checkout leaves it (directories 0755, files 0644): its network directory. */
function copy(role: string): string {
  const root = join(tmp.path, `c-${++n}`, role);
  cpSync(join(FIXTURES, role), root, { recursive: true });
  const loosen = (p: string) => {
    chmodSync(p, statSync(p).isDirectory() ? 0o755 : 0o644);
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) loosen(join(p, f));
  };
  loosen(root);
  return join(root, 'regtest');
}

/** The nonce id state.sqlite keys by: SHA-256 of the public nonce's hex text, 16 bytes. */
const textId = (pubHex: string) => createHash('sha256').update(pubHex).digest('hex').slice(0, 32);
/** The old NonceStore's file name id: SHA-256 of the public nonce's 66 bytes, 16 bytes. */
const bytesId = (pubHex: string) => createHash('sha256').update(Buffer.from(pubHex, 'hex')).digest('hex').slice(0, 32);

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

type Expected = { records: Map<string, unknown>; unused: Map<string, { context: string; pubnonce: string; secret: string }>; consumed: Set<string>; counter: number; mintRows: { contracts: unknown[]; funding: unknown[]; blind: unknown[]; meta: Record<string, string> } | undefined };

/** What the old files say, read here from the files themselves (not by the importer). */
function expectedOf(dir: string): Expected {
  const records = new Map<string, unknown>();
  for (const f of files(join(dir, 'credit-user', 'contracts'))) records.set(`credit-user/${f.slice(0, -5)}`, json(join(dir, 'credit-user', 'contracts', f)));
  for (const f of files(join(dir, 'bolt3'))) records.set(`bolt3/${f.replace('-', ':')}`, json(join(dir, 'bolt3', f, 'channel.json')));
  for (const f of files(join(dir, 'statechain'))) {
    const doc = f.slice(0, -5);
    const body = json(join(dir, 'statechain', f));
    if (doc.startsWith('op-')) records.set(`statechain-operator/${doc.slice(3)}`, body);
    else if (doc.startsWith('offer-')) records.set(`statechain-offer/${doc.slice(6)}`, body);
    else records.set(`statechain/${doc}`, body);
  }
  const unused = new Map<string, { context: string; pubnonce: string; secret: string }>();
  const consumed = new Set<string>();
  let counter = 0;
  for (const f of files(join(dir, 'nonces', 'unused'))) {
    const r = json(join(dir, 'nonces', 'unused', f)) as { context: string; pubnonce: string; secnonce: string; counter: number };
    unused.set(textId(r.pubnonce), { context: r.context, pubnonce: r.pubnonce, secret: `00${r.secnonce}` });
    counter = Math.max(counter, r.counter);
  }
  for (const f of files(join(dir, 'nonces', 'consumed'))) {
    const r = json(join(dir, 'nonces', 'consumed', f)) as { pubnonce: string; counter: number };
    consumed.add(textId(r.pubnonce));
    counter = Math.max(counter, r.counter);
  }
  if (existsSync(join(dir, 'nonces', 'counter.json'))) counter = Math.max(counter, (json(join(dir, 'nonces', 'counter.json')) as { counter: number }).counter);
  let mintRows: Expected['mintRows'];
  const mint = join(dir, 'credit-mint', 'mint.sqlite');
  if (existsSync(mint)) {
    const old = new Database(mint, { readonly: true });
    for (const r of old.prepare<[], { id: string; context: string | null; pubnonce: string | null; secnonce: string | null; consumed: number }>('SELECT * FROM nonces').all()) {
      if (r.consumed) consumed.add(r.id);
      else unused.set(r.id, { context: r.context!, pubnonce: r.pubnonce!, secret: `00${r.secnonce}` });
    }
    const meta = Object.fromEntries(old.prepare<[], { key: string; value: string }>('SELECT key, value FROM meta').all().map((m) => [m.key, m.value]));
    counter = Math.max(counter, Number(meta['counter'] ?? 0));
    mintRows = {
      contracts: old.prepare('SELECT contract_id, record, unfunded_since FROM contracts ORDER BY contract_id').all(),
      funding: old.prepare('SELECT * FROM funding ORDER BY outpoint').all(),
      blind: old.prepare('SELECT * FROM blind_signatures ORDER BY B_').all(),
      meta: Object.fromEntries(Object.entries(meta).filter(([k]) => k.startsWith('doc:'))),
    };
    old.close();
  }
  return { records, unused, consumed, counter, mintRows };
}

/** What the database holds, read with SQLite's own driver (a writable connection: its close leaves no WAL behind). */
function holds(dir: string) {
  const db = new Database(join(dir, STATE_DB_FILE), { fileMustExist: true });
  try {
    const records = new Map(db.prepare<[], { kind: string; id: string; body: string }>('SELECT kind, id, body FROM records').all().map((r) => [`${r.kind}/${r.id}`, JSON.parse(r.body) as unknown]));
    const nonces = db.prepare<[], { id: string; context: string | null; pubnonce: string | null; sealed: Buffer | null; consumed: number }>('SELECT * FROM nonces').all();
    const meta = Object.fromEntries(db.prepare<[], { key: string; value: string }>('SELECT key, value FROM meta').all().map((m) => [m.key, m.value]));
    const contracts = db.prepare('SELECT contract_id, record, unfunded_since FROM contracts ORDER BY contract_id').all();
    const funding = db.prepare('SELECT * FROM funding ORDER BY outpoint').all();
    const blind = db.prepare('SELECT * FROM blind_signatures ORDER BY B_').all();
    return { records, nonces, meta, contracts, funding, blind };
  } finally {
    db.close();
  }
}

/** Every row, for "nothing changed". */
const rowsOf = (dir: string) => JSON.stringify(holds(dir), (_, v: unknown) => (v instanceof Map ? [...v] : v));

/** The mint's state seal before seal.ts (HKDF salt offchain/credit/v1/state-seal; iv ‖ AES-256-GCM ciphertext ‖ tag), opened. */
function legacyOpen(secret: Uint8Array, contractId: string, path: string, state: number, txid: string, sealedHex: string): string {
  const enc = Buffer.from(hkdfSync('sha256', secret, Buffer.from('offchain/credit/v1/state-seal'), Buffer.from('enc'), 32));
  const bytes = Buffer.from(sealedHex, 'hex');
  const d = createDecipheriv('aes-256-gcm', enc, bytes.subarray(0, 12));
  d.setAAD(Buffer.from(`offchain/credit/v1/sealed-state\n${contractId}\n${path}\n${state}\n${txid}`));
  d.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([d.update(bytes.subarray(12, bytes.length - 16)), d.final()]).toString('hex');
}

function importNow(dir: string): void {
  const db = openState(dir, { create: false });
  expect(db).toBeDefined();
  db!.close();
}

describe('each role\'s directory, imported', () => {
  it.each(ROLES)('%s: every record, nonce and mint row, keyed as state.sqlite keys them; the counter kept; the old folders gone; 0700 and 0600', (role) => {
    const dir = copy(role);
    const expected = expectedOf(dir);
    const legacy = FOLDERS.filter((f) => existsSync(join(dir, f)));
    expect(legacy.length).toBeGreaterThan(0);
    importNow(dir);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, STATE_DB_FILE)).mode & 0o777).toBe(0o600);
    const got = holds(dir);
    expect(got.records).toEqual(expected.records);
    expect(new Set(got.nonces.filter((r) => r.consumed).map((r) => r.id))).toEqual(expected.consumed);
    expect(got.nonces.filter((r) => r.consumed).every((r) => r.sealed === null && r.context === null && r.pubnonce === null)).toBe(true);
    const unused = got.nonces.filter((r) => !r.consumed);
    expect(new Map(unused.map((r) => [r.id, { context: r.context, pubnonce: r.pubnonce, secret: r.sealed!.toString('hex') }]))).toEqual(expected.unused);
    expect(got.meta['nonce_counter']).toBe(expected.counter > 0 ? String(expected.counter) : undefined);
    const mark = JSON.parse(got.meta['imported_files']!) as { records: number; nonces: number; mint_contracts: number };
    expect(mark.records).toBe(expected.records.size);
    expect(mark.nonces).toBe(expected.unused.size + expected.consumed.size);
    if (expected.mintRows) {
      expect(got.contracts).toEqual(expected.mintRows.contracts);
      expect(mark.mint_contracts).toBe(expected.mintRows.contracts.length);
      expect(got.funding).toEqual(expected.mintRows.funding);
      expect(got.blind).toEqual(expected.mintRows.blind);
      for (const [k, v] of Object.entries(expected.mintRows.meta)) expect(got.meta[k]).toBe(v);
      expect(got.meta['mint_states_v1']).toBe('1');
    } else expect(got.meta['mint_states_v1']).toBeUndefined();
    expect(got.meta['statechain_shares_clear']).toBe(role === 'statechain-operator' ? '1' : undefined);
    // Opened again: nothing imported twice, nothing changed.
    const once = rowsOf(dir);
    importNow(dir);
    expect(rowsOf(dir)).toBe(once);
  });

  it('the roles hold what their README says: unused and consumed nonces to test against', () => {
    const count = (role: string) => {
      const e = expectedOf(copy(role));
      return [e.unused.size, e.consumed.size];
    };
    expect(count('credit-mint')).toEqual([3, 5]);
    expect(count('credit-user')).toEqual([1, 2]);
    expect(count('musig')).toEqual([1, 1]);
    expect(count('ptlc')).toEqual([1, 1]);
    expect(count('statechain-owner')).toEqual([1, 7]);
    expect(count('gateway')).toEqual([1, 3]);
  });
});

describe('the nonces, after the import', () => {
  it('an unused one is taken once under its signer\'s key, with the secret its old file held; a consumed one is E_NONCE_USED', async () => {
    const dir = copy('musig');
    const unusedFile = files(join(dir, 'nonces', 'unused'))[0]!;
    const u = json(join(dir, 'nonces', 'unused', unusedFile)) as { context: string; pubnonce: string; secnonce: string };
    const c = json(join(dir, 'nonces', 'consumed', files(join(dir, 'nonces', 'consumed'))[0]!)) as { context: string; pubnonce: string };
    importNow(dir);
    const db = StateDb.open(dir, { create: false })!;
    const alice = new SqliteNonces(db, Sealer.fromSecret(key('alice')));
    await refusalAsync(alice.take(fromHex(c.pubnonce), c.context), 'E_NONCE_USED', 5);
    await refusalAsync(alice.take(fromHex(u.pubnonce), 'another context'), 'E_NONCE_MISBOUND', 4);
    expect(toHex(await alice.take(fromHex(u.pubnonce), u.context))).toBe(u.secnonce);
    await refusalAsync(alice.take(fromHex(u.pubnonce), u.context), 'E_NONCE_USED', 5);
    db.close();
  });

  it("the unused ones, in the clear as their files kept them, are sealed under their signer's key at its first use — tried again after a first use whose step was rolled back, until one commits", async () => {
    const dir = copy('musig');
    const u = json(join(dir, 'nonces', 'unused', files(join(dir, 'nonces', 'unused'))[0]!)) as { context: string; pubnonce: string; secnonce: string };
    importNow(dir);
    const db = StateDb.open(dir, { create: false })!;
    const clear = () => db.sql.prepare<[], { n: number }>("SELECT count(*) AS n FROM nonces WHERE consumed = 0 AND substr(sealed, 1, 1) = x'00'").get()!.n;
    const mark = () => db.sql.prepare("SELECT value FROM meta WHERE key = 'clear_nonces'").get();
    expect(clear()).toBeGreaterThan(0);
    expect(mark()).toBeDefined();
    // The signer's first use is a request refused inside a batch (a served process): its sealing is undone with it.
    const signer = fromHex(u.secnonce).subarray(64);
    const alice = new SqliteNonces(db, Sealer.fromSecret(key('alice')), 'nonce', signer);
    const batch = db.begin();
    await refusalAsync(db.step(() => alice.take(new Uint8Array(66).fill(1), u.context)), 'E_NONCE_UNKNOWN', 5);
    db.rollback(batch);
    expect(clear()).toBeGreaterThan(0);
    // The next use, in the same process and the same store, seals them (and the mark goes).
    await refusalAsync(alice.take(new Uint8Array(66).fill(1), u.context), 'E_NONCE_UNKNOWN', 5);
    expect(clear()).toBe(0);
    expect(mark()).toBeUndefined();
    // Each sealed under the signer's key, labelled by its row: the old secret, taken once.
    expect(toHex(await alice.take(fromHex(u.pubnonce), u.context))).toBe(u.secnonce);
    db.close();
  });

  it("the mint's store seals its imported nonces at its open, in a transaction of its own, before its first batch", async () => {
    const dir = copy('credit-mint');
    importNow(dir);
    const db = StateDb.open(dir, { create: false })!;
    const clear = () => db.sql.prepare<[], { n: number }>("SELECT count(*) AS n FROM nonces WHERE consumed = 0 AND substr(sealed, 1, 1) = x'00'").get()!.n;
    expect(clear()).toBeGreaterThan(0);
    const mintKey = key('mint');
    const first = db.sql.prepare<[], { sealed: Buffer }>("SELECT sealed FROM nonces WHERE consumed = 0 AND substr(sealed, 1, 1) = x'00' LIMIT 1").get()!.sealed;
    const store = new SqliteMintStore<{ contract_id: string }>(db, { sealer: Sealer.fromSecret(mintKey), signer: first.subarray(65) });
    await store.sealImported();
    expect(db.sql.inTransaction).toBe(false);
    expect(clear()).toBe(0);
    db.close();
  });

  it('the copy that says consumed wins: an unused file beside a tombstone or a taking/ file of the same nonce — readable or not, named in the old id scheme — is imported consumed', async () => {
    const dir = copy('musig');
    const unusedFile = files(join(dir, 'nonces', 'unused'))[0]!;
    const u = json(join(dir, 'nonces', 'unused', unusedFile)) as { context: string; pubnonce: string };
    expect(unusedFile).toBe(`${bytesId(u.pubnonce)}.json`);
    const cases: [string, (d: string) => void][] = [
      ['a tombstone recovery wrote without its public nonce', (d) => writeFileSync(join(d, 'nonces', 'consumed', unusedFile), JSON.stringify({ id: bytesId(u.pubnonce), context: null, pubnonce: null, counter: null, created: null, recovered: true }))],
      ['a torn taking/ file of a take that crashed', (d) => (mkdirSync(join(d, 'nonces', 'taking'), { recursive: true }), writeFileSync(join(d, 'nonces', 'taking', `${bytesId(u.pubnonce)}.0badc0de.1.x.0.0.json`), '{ half-writ'))],
      ['a whole taking/ file (a take crashed after its rename, the unused copy restored)', (d) => (mkdirSync(join(d, 'nonces', 'taking'), { recursive: true }), cpSync(join(d, 'nonces', 'unused', unusedFile), join(d, 'nonces', 'taking', `${bytesId(u.pubnonce)}.0badc0de.1.x.0.0.json`)))],
    ];
    for (const [what, plant] of cases) {
      const d = copy('musig');
      plant(d);
      importNow(d);
      const db = StateDb.open(d, { create: false })!;
      const alice = new SqliteNonces(db, Sealer.fromSecret(key('alice')));
      expect(await alice.status(fromHex(u.pubnonce)), what).toBe('consumed');
      await refusalAsync(alice.take(fromHex(u.pubnonce), u.context), 'E_NONCE_USED', 5);
      db.close();
    }
    // Not that nonce's: a taking/ temp file of it, a file whose name only contains its id, a note in consumed/.
    for (const [what, plant] of [
      ['a taking/ temp file', (d: string) => (mkdirSync(join(d, 'nonces', 'taking'), { recursive: true }), writeFileSync(join(d, 'nonces', 'taking', `${bytesId(u.pubnonce)}.0badc0de.1.x.0.0.tmp`), 'x'))],
      ['a taking/ file whose name only contains its id', (d: string) => (mkdirSync(join(d, 'nonces', 'taking'), { recursive: true }), writeFileSync(join(d, 'nonces', 'taking', `zz${bytesId(u.pubnonce)}.0badc0de.1.x.0.0.json`), '{}'))],
      ['a hidden tombstone-like file', (d: string) => writeFileSync(join(d, 'nonces', 'consumed', `.${bytesId(u.pubnonce)}.json`), '{}')],
      ['a note in consumed/', (d: string) => writeFileSync(join(d, 'nonces', 'consumed', 'notes.json'), '{"note":1}')],
    ] as const) {
      const d = copy('musig');
      plant(d);
      importNow(d);
      const db = StateDb.open(d, { create: false })!;
      expect(await new SqliteNonces(db, undefined).status(fromHex(u.pubnonce)), what).toBe('unused');
      db.close();
    }
    // And without any of them, the same nonce is unused (the cases above are not vacuous).
    importNow(dir);
    const db = StateDb.open(dir, { create: false })!;
    expect(await new SqliteNonces(db, undefined).status(fromHex(u.pubnonce))).toBe('unused');
    db.close();
  });

  it('every old file is zeroed before it goes: a second name kept for a nonce file (a hard link) reads zeros after the import', () => {
    const dir = copy('statechain-owner');
    const unusedFile = join(dir, 'nonces', 'unused', files(join(dir, 'nonces', 'unused'))[0]!);
    const share = join(dir, 'statechain', files(join(dir, 'statechain')).find((f) => f.startsWith('receive-'))!);
    const held = [unusedFile, share].map((p, i) => {
      const link = join(dir, '..', `held-${i}`);
      linkSync(p, link);
      return { link, size: statSync(p).size };
    });
    importNow(dir);
    for (const { link, size } of held) {
      const bytes = readFileSync(link);
      expect(bytes.length).toBe(size);
      expect(bytes.every((b) => b === 0)).toBe(true);
    }
  });

  it('a symlink in the old layout is removed, never followed: the file it points to (outside the state directory) is neither zeroed nor removed', () => {
    const dir = copy('statechain-owner');
    const outside = join(dir, '..', '..', 'elsewhere');
    mkdirSync(outside);
    writeFileSync(join(outside, 'key'), 'secret key bytes\n');
    mkdirSync(join(outside, 'folder'));
    writeFileSync(join(outside, 'folder', 'kept.json'), '{"kept":true}\n');
    symlinkSync(join(outside, 'key'), join(dir, 'statechain', 'link-to-key'));
    symlinkSync(join(outside, 'folder'), join(dir, 'nonces', 'unused', 'folder'));
    importNow(dir);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    expect(readFileSync(join(outside, 'key'), 'utf8')).toBe('secret key bytes\n');
    expect(readFileSync(join(outside, 'folder', 'kept.json'), 'utf8')).toBe('{"kept":true}\n');
  });
});

describe('refused, with nothing created or changed', () => {
  it.each([
    ['in the network directory', ''],
    ['in an old folder', 'statechain'],
  ])('an older offchain\'s unfinished step (.step.<id>.open %s): E_STEP_INTERRUPTED (exit 5), no database made', (_, where) => {
    const dir = copy('statechain-owner');
    writeFileSync(join(dir, where, '.step.00112233445566aa.open'), '{"pid":1}\n');
    const before = fileSnapshot(dir);
    const e = refusal(() => openState(dir, { create: false }), 'E_STEP_INTERRUPTED', 5);
    expect(e.message).toBe(`${dir} holds a step an older offchain did not finish (${join(dir, where, '.step.00112233445566aa.open')}): run that version once on this --state-dir (any command that names it finishes the step), then this one imports the directory; nothing was read or written`);
    expect(e.detail).toEqual({ path: join(dir, where, '.step.00112233445566aa.open') });
    refusal(() => openState(dir, { create: true }), 'E_STEP_INTERRUPTED', 5);
    expect(fileSnapshot(dir)).toEqual(before);
    expect(existsSync(join(dir, STATE_DB_FILE))).toBe(false);
  });

  it('a mint directory from before its SQLite store (snapshot.json): E_STATE_OLD_LAYOUT (exit 5), no database made', () => {
    const dir = copy('credit-mint');
    writeFileSync(join(dir, 'credit-mint', 'snapshot.json'), '{"generation":1}');
    const before = fileSnapshot(dir);
    const e = refusal(() => openState(dir, { create: false }), 'E_STATE_OLD_LAYOUT', 5);
    expect(e.message).toBe(`${join(dir, 'credit-mint')} is a mint directory from before its SQLite store (snapshot.json): open it once with an offchain of 2026 (any mint command imports it), then this one; nothing was read or written`);
    expect(e.detail).toEqual({ path: dir });
    expect(fileSnapshot(dir)).toEqual(before);
  });

  it('a file only named like a step record (another prefix, another ending) is not one: the directory imports', () => {
    const dir = copy('musig');
    writeFileSync(join(dir, 'x.step.00112233445566aa.open'), '');
    writeFileSync(join(dir, 'nonces', '.step.00112233445566aa.open.bak'), '');
    importNow(dir);
    expect(readdirSync(dir).sort()).toEqual([STATE_DB_FILE, 'x.step.00112233445566aa.open']);
  });

  it('old folders beside a database that never imported them (copied in): E_STATE_HALF_MIGRATED (exit 5), the database and the files byte for byte as they were', async () => {
    const dir = copy('musig');
    const db = StateDb.open(dir, { create: true })!;
    await new SqliteNonces(db, Sealer.fromSecret(key('alice'))).issue('ctx', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: new Uint8Array(66).fill(2) }));
    db.close();
    const before = fileSnapshot(dir);
    const e = refusal(() => openState(dir, { create: false }), 'E_STATE_HALF_MIGRATED', 5);
    expect(e.message).toBe(`${dir} holds both ${join(dir, STATE_DB_FILE)} and files of the older layout (nonces) it never imported: which is the state cannot be told — move one of them aside (never run both)`);
    expect(e.detail).toEqual({ path: dir });
    expect(fileSnapshot(dir)).toEqual(before);
    // Every old folder named.
    const two = copy('statechain-owner');
    const db2 = StateDb.open(two, { create: true })!;
    await db2.step(() => db2.sql.prepare("INSERT INTO meta (key, value) VALUES ('k', 'v')").run());
    db2.close();
    expect(refusal(() => openState(two, { create: false }), 'E_STATE_HALF_MIGRATED', 5).message).toContain('files of the older layout (nonces, statechain) it never imported');
  });

  it('a damaged file (an unused nonce, a record): E_STATE_CORRUPT (exit 3) naming it; nothing imported, the old files as they were', () => {
    for (const [role, damage] of [
      ['musig', (d: string) => join(d, 'nonces', 'unused', files(join(d, 'nonces', 'unused'))[0]!)],
      ['statechain-owner', (d: string) => join(d, 'statechain', files(join(d, 'statechain'))[0]!)],
      ['credit-user', (d: string) => join(d, 'credit-user', 'contracts', files(join(d, 'credit-user', 'contracts'))[0]!)],
    ] as const) {
      const dir = copy(role);
      const path = damage(dir);
      writeFileSync(path, '{ "id": 1');
      const old = Object.fromEntries(Object.entries(fileSnapshot(dir)).filter(([k]) => !k.includes(STATE_DB_FILE)));
      const e = refusal(() => openState(dir, { create: false }), 'E_STATE_CORRUPT', 3);
      expect(e.message).toContain(path);
      expect(Object.fromEntries(Object.entries(fileSnapshot(dir)).filter(([k]) => !k.includes(STATE_DB_FILE)))).toEqual(old);
      // Nothing imported: no database left, or one that holds nothing.
      if (existsSync(join(dir, STATE_DB_FILE))) {
        const got = holds(dir);
        expect([got.records.size, got.nonces.length, got.meta['imported_files']]).toEqual([0, 0, undefined]);
      }
    }
  });
});

describe('a crash after the import\'s COMMIT, before the old files were removed', () => {
  it('the next command only removes them: nothing imported twice — a nonce consumed since stays consumed, a record changed since keeps its change', async () => {
    const dir = copy('musig');
    const u = json(join(dir, 'nonces', 'unused', files(join(dir, 'nonces', 'unused'))[0]!)) as { context: string; pubnonce: string; secnonce: string };
    importNow(dir);
    const db = StateDb.open(dir, { create: false })!;
    expect(toHex(await new SqliteNonces(db, Sealer.fromSecret(key('alice'))).take(fromHex(u.pubnonce), u.context))).toBe(u.secnonce);
    db.close();
    const after = rowsOf(dir);
    // The old folders as the crash left them (all there, or some files already zeroed and gone).
    cpSync(join(FIXTURES, 'musig', 'regtest', 'nonces'), join(dir, 'nonces'), { recursive: true });
    rmSync(join(dir, 'nonces', 'counter.json'));
    importNow(dir);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    expect(rowsOf(dir)).toBe(after);
    const again = StateDb.open(dir, { create: false })!;
    await refusalAsync(new SqliteNonces(again, Sealer.fromSecret(key('alice'))).take(fromHex(u.pubnonce), u.context), 'E_NONCE_USED', 5);
    again.close();
  });
});

describe('old files the import never took, beside a database that imported others', () => {
  it.each([
    ['a database copied in from a directory it imported (its mark says imported)', (dir: string) => {
      const other = copy('ptlc');
      importNow(other);
      cpSync(join(other, STATE_DB_FILE), join(dir, STATE_DB_FILE));
    }],
    ['a nonce an older offchain issued after the import', (dir: string) => {
      const fresh = copy('musig');
      importNow(dir);
      mkdirSync(join(dir, 'nonces', 'unused'), { recursive: true });
      const name = files(join(fresh, 'nonces', 'unused'))[0]!;
      writeFileSync(join(dir, 'nonces', 'unused', `${'0'.repeat(31)}1.json`), readFileSync(join(fresh, 'nonces', 'unused', name)));
    }],
  ] as const)('%s: E_STATE_HALF_MIGRATED (exit 5), nothing removed or imported', (_, make) => {
    const dir = copy('musig');
    make(dir);
    const before = fileSnapshot(dir);
    const rows = rowsOf(dir);
    const e = refusal(() => openState(dir, { create: false }), 'E_STATE_HALF_MIGRATED', 5);
    expect(e.message).toMatch(new RegExp(`^${dir} holds ${join(dir, STATE_DB_FILE)}, which imported this directory's older files at \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z, and files of the older layout that import never took \\(${dir}/nonces/(unused|consumed)/[0-9a-f]{32}\\.json( and (1|2) more)?\\): written since by an older offchain, or copied in — which is the state cannot be told; move them aside \\(never run both\\)$`));
    expect(e.detail).toEqual({ path: dir });
    expect(fileSnapshot(dir)).toEqual(before);
    expect(rowsOf(dir)).toBe(rows);
  });
});

describe('what an older toolkit left', () => {
  it('a mint store from before the unfunded_since column: the column filled from each record (an open contract never paid nor seen funded: its opened_at_height)', () => {
    const dir = copy('credit-mint');
    const mint = join(dir, 'credit-mint', 'mint.sqlite');
    const old = new Database(mint);
    const before = old.prepare<[], { contract_id: string; unfunded_since: number | null }>('SELECT contract_id, unfunded_since FROM contracts ORDER BY contract_id').all();
    old.exec('DROP INDEX IF EXISTS unfunded_since; ALTER TABLE contracts DROP COLUMN unfunded_since');
    old.close();
    expect(before.filter((r) => r.unfunded_since !== null).length).toBeGreaterThan(0);
    importNow(dir);
    expect(holds(dir).contracts.map((r) => ({ contract_id: (r as { contract_id: string }).contract_id, unfunded_since: (r as { unfunded_since: number | null }).unfunded_since }))).toEqual(before);
  });

  it('a mint store whose last commit is still in its WAL (the old mint was killed): that commit is imported', () => {
    const src = copy('credit-mint');
    const old = new Database(join(src, 'credit-mint', 'mint.sqlite'));
    old.pragma('journal_mode = WAL');
    old.pragma('wal_autocheckpoint = 0');
    old.prepare("INSERT INTO meta (key, value) VALUES ('doc:written-last', '{\"in\":\"the WAL\"}')").run();
    // The files as a kill leaves them: the database, its WAL holding that commit, its -shm.
    const dir = copy('credit-mint');
    rmSync(join(dir, 'credit-mint'), { recursive: true });
    cpSync(join(src, 'credit-mint'), join(dir, 'credit-mint'), { recursive: true });
    old.close();
    expect(readdirSync(join(dir, 'credit-mint')).sort()).toEqual(['mint.sqlite', 'mint.sqlite-shm', 'mint.sqlite-wal', 'nonce-ledger']);
    importNow(dir);
    expect(holds(dir).meta['doc:written-last']).toBe('{"in":"the WAL"}');
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
  });

  it('a PostgreSQL operator host\'s rollback witness (statechain-witness/seen-<coin>.json): kept, so the database going back below it is still refused', async () => {
    const dir = join(tmp.path, `c-${++n}`, 'regtest');
    mkdirSync(join(dir, 'statechain-witness'), { recursive: true });
    const coin = '8c348b433f6d884c09f2bdd4bd632fc9';
    writeFileSync(join(dir, 'statechain-witness', `seen-${coin}.json`), `${JSON.stringify({ version: 5, fingerprint: '5d602418b6aa2311f48ad77505b9abee' }, null, 2)}\n`);
    importNow(dir);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    const witness = new VersionWitness(async (create) => StateDb.open(dir, { create }), dir);
    await refusalAsync(witness.check(coin, 4, 'the store'), 'E_STORE_ROLLED_BACK', 1);
    await refusalAsync(witness.check(coin, 5, 'the store', 'ffffffffffffffffffffffffffffffff'), 'E_STORE_ROLLED_BACK', 1);
    await witness.check(coin, 5, 'the store', '5d602418b6aa2311f48ad77505b9abee');
  });

  it('a PostgreSQL mint host\'s nonce key, witness and journal (credit-mint-pg/, host epochs: gone): nothing imported, every byte of them zeroed and removed — the key opens no nonce any more', () => {
    const dir = join(tmp.path, `c-${++n}`, 'regtest');
    const host = join(dir, 'credit-mint-pg');
    mkdirSync(join(host, 'ledger-11'), { recursive: true });
    const secret = 'ab'.repeat(32);
    writeFileSync(join(host, 'epoch-22.json'), `${JSON.stringify({ epoch: '11'.repeat(16), key: secret })}\n`);
    writeFileSync(join(host, 'seen-11.json'), `${JSON.stringify({ version: 7 })}\n`);
    writeFileSync(join(host, 'ledger-11', 'journal'), 'offchain nonce ledger v1 11\n');
    // A second name for the key file: what the import zeroes is the file, whatever its names.
    linkSync(join(host, 'epoch-22.json'), join(tmp.path, `key-link-${n}`));
    importNow(dir);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    const left = readFileSync(join(tmp.path, `key-link-${n}`));
    expect(left.every((b) => b === 0) && left.length > 0, 'the key file zeroed before it went').toBe(true);
    const db = new Database(join(dir, STATE_DB_FILE), { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM records').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM nonces').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('the operator\'s shares, in the clear in its old files, are sealed under its key at its first keyed use; a view leaves them as they are', async () => {
    const dir = copy('statechain-operator');
    importNow(dir);
    const clear = holds(dir);
    expect(clear.meta['statechain_shares_clear']).toBe('1');
    const ops = [...clear.records].filter(([k]) => k.startsWith('statechain-operator/'));
    expect(ops.length).toBe(5);
    for (const [, body] of ops) expect(typeof (body as { share_secret?: unknown }).share_secret).toBe('string');
    // A view (no key): a listing reads no share, and seals nothing.
    const view = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), undefined, dir);
    expect(JSON.stringify(await view.coins())).not.toMatch(/share/);
    expect(rowsOf(dir)).toBe(JSON.stringify(clear, (_, v: unknown) => (v instanceof Map ? [...v] : v)));
    // The operator with its key: every share sealed, the mark gone; each opens back to what the file held.
    const store = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), Sealer.fromSecret(key('mint')), dir);
    expect((await store.coins()).length).toBe(5);
    const sealed = holds(dir);
    expect(sealed.meta['statechain_shares_clear']).toBeUndefined();
    for (const [k, body] of ops) {
      const now = sealed.records.get(k) as Record<string, unknown>;
      expect(now).not.toHaveProperty('share_secret');
      expect(typeof now['share_secret_sealed']).toBe('string');
      const coin = k.split('/')[1]!;
      expect(await store.step(coin, (r) => ({ record: r, message: r.share_secret }))).toBe((body as { share_secret: string }).share_secret);
    }
  });

  it('the mint\'s states sealed by the scheme before seal.ts are sealed again under its key at its first keyed use, and open to the same transactions', async () => {
    const dir = copy('credit-mint');
    importNow(dir);
    const before = holds(dir);
    expect(before.meta['mint_states_v1']).toBe('1');
    const db = StateDb.open(dir, { create: false })!;
    const store = new SqliteMintStore<{ contract_id: string; latest?: { hex?: string; hex_sealed?: string } | null }>(db, { sealer: Sealer.fromSecret(key('mint')) });
    await store.resealLegacy(key('mint'));
    const after = holds(dir);
    expect(after.meta['mint_states_v1']).toBeUndefined();
    const paid = (await store.list()).filter((r) => r.latest);
    expect(paid.length).toBe(2);
    for (const r of paid) {
      const was = JSON.parse((before.contracts.find((c) => (c as { contract_id: string }).contract_id === r.contract_id) as { record: string }).record) as { latest: { state: number; txid: string; hex_sealed: string } };
      const now = JSON.parse((after.contracts.find((c) => (c as { contract_id: string }).contract_id === r.contract_id) as { record: string }).record) as { latest: { hex_sealed: string } };
      // The transaction the old seal held (opened here by that scheme's documented construction) is the one the store now opens.
      expect(r.latest!.hex).toBe(legacyOpen(key('mint'), r.contract_id, 'latest', was.latest.state, was.latest.txid, was.latest.hex_sealed));
      expect(now.latest.hex_sealed.startsWith('02')).toBe(true);
      expect(now.latest.hex_sealed).not.toBe(was.latest.hex_sealed);
    }
    store.abandon();
    db.close();
  });
});

describe('what the layout never named, and what it named', () => {
  const hex = (n: number, c = 'a') => c.repeat(n);

  it('files whose names the old stores never wrote (notes, temp files, other cases) are not imported — and go with their folders; a document named like op-/offer- but not one is the owner\'s', () => {
    const dir = copy('statechain-owner');
    const before = expectedOf(dir);
    const put = (rel: string, text = '{"stray":true}') => {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), text);
    };
    for (const rel of [
      'credit-user/contracts/notes.txt', `credit-user/contracts/x${hex(64)}.json`, `credit-user/contracts/${hex(64)}.json.bak`, `credit-user/contracts/${hex(64, 'A')}.json`,
      'bolt3/junk-0/channel.json', `bolt3/${hex(64)}-0x/channel.json`, `bolt3/x${hex(64)}-0/channel.json`, `bolt3/${hex(64)}-0/other.json`,
      'statechain/.coin-x.json.0123.tmp', 'statechain/Coin-x.json', 'statechain/coin-y.json.bak', 'statechain/-coin.json',
      'statechain-witness/seen-x.json.bak', 'statechain-witness/xseen-y.json', 'statechain-witness/Seen-z.json',
      'nonces/consumed/.hidden.json', 'nonces/consumed/x.tmp', 'nonces/taking/y.json.tmp',
      'nonces/unused/notes.json', `nonces/unused/${hex(32)}.json.tmp`, `nonces/unused/x${hex(32)}.json`, `nonces/unused/${hex(31)}.json`,
    ]) put(rel, rel.startsWith('nonces/unused') || rel.startsWith('nonces/taking') ? '{ not json' : undefined);
    // Named as the owner's documents are (the op-/offer- forms need their exact ids).
    for (const doc of [`op-${hex(32, '1')}x`, `xop-${hex(32, '1')}`, `offer-${hex(64, '2')}x`, `xoffer-${hex(64, '2')}`, `op-${hex(31, '1')}`]) put(`statechain/${doc}.json`, `{"doc":"${doc}"}`);
    importNow(dir);
    expect(readdirSync(dir)).toEqual([STATE_DB_FILE]);
    const got = holds(dir);
    const owners = [`op-${hex(32, '1')}x`, `xop-${hex(32, '1')}`, `offer-${hex(64, '2')}x`, `xoffer-${hex(64, '2')}`, `op-${hex(31, '1')}`];
    expect(got.records).toEqual(new Map([...before.records, ...owners.map((d) => [`statechain/${d}`, { doc: d }] as const)]));
    expect(got.nonces.length).toBe(before.unused.size + before.consumed.size);
    expect(got.meta['statechain_shares_clear']).toBeUndefined();
  });

  it('the operator\'s op-<coin> and offer-<digest>, a witness\'s seen-<coin>, a channel\'s <txid>-<vout>/channel.json: each under its kind and id', () => {
    const dir = join(tmp.path, `c-${++n}`, 'regtest');
    const put = (rel: string, body: unknown) => {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), JSON.stringify(body));
    };
    put(`statechain/op-${hex(32, '1')}.json`, { coin_id: hex(32, '1'), share_secret: hex(64, '3') });
    put(`statechain/offer-${hex(64, '2')}.json`, { coin_id: hex(32, '1'), offer: {} });
    put('statechain/operator-migrated.json', { to: 'postgres://u@h/db', at: '2026-01-01T00:00:00.000Z' });
    put(`statechain-witness/seen-${hex(32, '4')}.json`, { version: 3 });
    put(`bolt3/${hex(64, 'b')}-12/channel.json`, { format: 'legacy' });
    put(`credit-user/contracts/${hex(64, 'c')}.json`, { contract_id: hex(64, 'c') });
    importNow(dir);
    const got = holds(dir);
    expect(got.records).toEqual(new Map<string, unknown>([
      [`statechain-operator/${hex(32, '1')}`, { coin_id: hex(32, '1'), share_secret: hex(64, '3') }],
      [`statechain-offer/${hex(64, '2')}`, { coin_id: hex(32, '1'), offer: {} }],
      [`statechain-witness/${hex(32, '4')}`, { version: 3 }],
      [`bolt3/${hex(64, 'b')}:12`, { format: 'legacy' }],
      [`credit-user/${hex(64, 'c')}`, { contract_id: hex(64, 'c') }],
    ]));
    expect(got.meta['statechain_operator_migrated']).toBe(JSON.stringify({ to: 'postgres://u@h/db', at: '2026-01-01T00:00:00.000Z' }));
    expect(got.meta['statechain_shares_clear']).toBe('1');
  });

  it('the nonce counter kept is the highest any old file says: counter.json, an unused, a consumed or a taking/ nonce\'s', () => {
    const cases: [string, (d: string) => void, number][] = [
      ['counter.json above every nonce', (d) => writeFileSync(join(d, 'nonces', 'counter.json'), '{"counter":40}'), 40],
      ['an unused nonce above counter.json', (d) => {
        const f = join(d, 'nonces', 'unused', files(join(d, 'nonces', 'unused'))[0]!);
        writeFileSync(f, JSON.stringify({ ...json(f), counter: 41 }));
      }, 41],
      ['a consumed nonce above the rest', (d) => {
        const f = join(d, 'nonces', 'consumed', files(join(d, 'nonces', 'consumed'))[0]!);
        writeFileSync(f, JSON.stringify({ ...json(f), counter: 42 }));
      }, 42],
      ['a taking/ file above the rest', (d) => {
        mkdirSync(join(d, 'nonces', 'taking'), { recursive: true });
        const f = join(d, 'nonces', 'consumed', files(join(d, 'nonces', 'consumed'))[0]!);
        writeFileSync(join(d, 'nonces', 'taking', `${files(join(d, 'nonces', 'consumed'))[0]!.slice(0, 32)}.0badc0de.1.x.0.0.json`), JSON.stringify({ ...json(f), counter: 43 }));
      }, 43],
      ['no counter.json', (d) => rmSync(join(d, 'nonces', 'counter.json')), 2],
      ['an unused nonce without a counter', (d) => {
        const f = join(d, 'nonces', 'unused', files(join(d, 'nonces', 'unused'))[0]!);
        const { counter: _, ...rest } = json(f);
        writeFileSync(f, JSON.stringify(rest));
      }, 2],
    ];
    for (const [what, change, counter] of cases) {
      const dir = copy('musig');
      change(dir);
      importNow(dir);
      expect(holds(dir).meta['nonce_counter'], what).toBe(String(counter));
    }
  });

  it.each([
    ['no context', (r: Record<string, unknown>) => ({ ...r, context: undefined })],
    ['a context that is not text', (r: Record<string, unknown>) => ({ ...r, context: 7 })],
    ['no public nonce', (r: Record<string, unknown>) => ({ ...r, pubnonce: undefined })],
    ['a public nonce one digit short', (r: Record<string, unknown>) => ({ ...r, pubnonce: String(r.pubnonce).slice(1) })],
    ['a public nonce with more after it', (r: Record<string, unknown>) => ({ ...r, pubnonce: `${String(r.pubnonce)}00` })],
    ['a public nonce with more before it', (r: Record<string, unknown>) => ({ ...r, pubnonce: `zz${String(r.pubnonce)}` })],
    ['a public nonce in capitals', (r: Record<string, unknown>) => ({ ...r, pubnonce: String(r.pubnonce).toUpperCase() })],
    ['no secret', (r: Record<string, unknown>) => ({ ...r, secnonce: undefined })],
    ['an empty secret', (r: Record<string, unknown>) => ({ ...r, secnonce: '' })],
    ['a secret of an odd number of digits', (r: Record<string, unknown>) => ({ ...r, secnonce: `${String(r.secnonce)}a` })],
    ['a secret with more before it', (r: Record<string, unknown>) => ({ ...r, secnonce: `zz${String(r.secnonce)}` })],
    ['a secret with more after it', (r: Record<string, unknown>) => ({ ...r, secnonce: `${String(r.secnonce)}zz` })],
  ])('an unused nonce file with %s: E_STATE_CORRUPT (exit 3) naming it, nothing imported', (_, change) => {
    const dir = copy('musig');
    const path = join(dir, 'nonces', 'unused', files(join(dir, 'nonces', 'unused'))[0]!);
    writeFileSync(path, JSON.stringify(change(json(path))));
    const e = refusal(() => openState(dir, { create: false }), 'E_STATE_CORRUPT', 3);
    expect(e.message).toBe(`nonce file ${path} is damaged: it cannot be imported (move it aside: the nonce is lost, never reused)`);
    expect(e.detail).toEqual({ path });
    expect(existsSync(path)).toBe(true);
  });

  it('a tombstone or taking/ file whose public nonce is not one (damaged, or more around it): no row made from it', () => {
    const dir = copy('musig');
    const before = expectedOf(dir);
    const c = json(join(dir, 'nonces', 'consumed', files(join(dir, 'nonces', 'consumed'))[0]!)) as { pubnonce: string };
    mkdirSync(join(dir, 'nonces', 'taking'), { recursive: true });
    writeFileSync(join(dir, 'nonces', 'consumed', `${hex(32, 'd')}.json`), JSON.stringify({ pubnonce: `zz${c.pubnonce}` }));
    writeFileSync(join(dir, 'nonces', 'consumed', `${hex(32, 'e')}.json`), JSON.stringify({ pubnonce: `${c.pubnonce}zz` }));
    writeFileSync(join(dir, 'nonces', 'taking', `${hex(32, 'f')}.0badc0de.1.x.0.0.json`), JSON.stringify({ pubnonce: 7 }));
    importNow(dir);
    expect(new Set(holds(dir).nonces.map((r) => r.id))).toEqual(new Set([...before.unused.keys(), ...before.consumed]));
  });
});

describe('the mint\'s old store, whatever it held', () => {
  /** A copy of credit-mint whose old mint.sqlite `change` edited first. */
  function mintWith(change: (old: Database.Database) => void): string {
    const dir = copy('credit-mint');
    const old = new Database(join(dir, 'credit-mint', 'mint.sqlite'));
    change(old);
    old.close();
    return dir;
  }

  it('a row neither consumed nor whole (no secret, no context or no public nonce) is imported consumed: nothing in it to sign with', () => {
    const ids = ['1'.repeat(32), '2'.repeat(32), '3'.repeat(32)];
    const dir = mintWith((old) => {
      const put = old.prepare('INSERT INTO nonces (id, context, pubnonce, secnonce, consumed) VALUES (?, ?, ?, ?, 0)');
      put.run(ids[0], 'ctx', '02'.repeat(33), null);
      put.run(ids[1], null, '02'.repeat(33), '11'.repeat(97));
      put.run(ids[2], 'ctx', null, '11'.repeat(97));
    });
    importNow(dir);
    const rows = holds(dir).nonces.filter((r) => ids.includes(r.id));
    expect(rows.map((r) => [r.id, r.consumed, r.sealed])).toEqual(ids.map((id) => [id, 1, null]));
  });

  it('its meta: the documents (doc:…) and a migration mark kept as they were, its counter as the nonce counter, nothing else', () => {
    const dir = mintWith((old) => {
      old.prepare("INSERT INTO meta (key, value) VALUES ('migration', ?), ('other', 'x'), ('doc:z', '{\"z\":1}')").run(JSON.stringify({ state: 'migrated', to: 'postgres://h/db', id: 'i', at: 'a' }));
    });
    importNow(dir);
    const meta = holds(dir).meta;
    expect(meta['migration']).toBe(JSON.stringify({ state: 'migrated', to: 'postgres://h/db', id: 'i', at: 'a' }));
    expect(meta['doc:z']).toBe('{"z":1}');
    expect(meta['other']).toBeUndefined();
    expect(meta['states_sealed']).toBeUndefined();
    expect(meta['counter']).toBeUndefined();
    expect(meta['nonce_counter']).toBe('8');
  });

  it('an older store without some of its tables (no blind signatures, funding, nonces or meta yet): what is there is imported', () => {
    const dir = mintWith((old) => old.exec('DROP TABLE blind_signatures; DROP TABLE funding; DROP TABLE nonces; DROP TABLE meta'));
    importNow(dir);
    const got = holds(dir);
    expect(got.contracts).toHaveLength(3);
    expect([got.funding, got.blind, got.nonces]).toEqual([[], [], []]);
    expect(got.meta['mint_states_v1']).toBeUndefined();
    expect(got.meta['nonce_counter']).toBeUndefined();
    const none = mintWith((old) => old.exec('DROP TABLE contracts'));
    importNow(none);
    expect(holds(none).contracts).toEqual([]);
  });

  it('without the unfunded_since column: only an open contract never paid, never seen funded, with a height, gets one', () => {
    const dir = mintWith((old) => {
      old.exec('DROP INDEX IF EXISTS unfunded_since; ALTER TABLE contracts DROP COLUMN unfunded_since');
      const put = old.prepare('INSERT INTO contracts (contract_id, record) VALUES (?, ?)');
      const rec = (id: string, more: Record<string, unknown>) => put.run(id, JSON.stringify({ contract_id: id, status: 'open', opened_at_height: 7, ...more }));
      rec('u1', {});
      rec('u2', { status: 'closing' });
      rec('u3', { latest: { state: 1 } });
      rec('u4', { funding_seen: true });
      rec('u5', { opened_at_height: '7' });
    });
    importNow(dir);
    const by = new Map(holds(dir).contracts.map((r) => [(r as { contract_id: string }).contract_id, (r as { unfunded_since: number | null }).unfunded_since]));
    expect([by.get('u1'), by.get('u2'), by.get('u3'), by.get('u4'), by.get('u5')]).toEqual([7, null, null, null, null]);
  });
});

describe('the files git does not keep', () => {
  it('a nonce folder without its empty taking/ and unused/ (a checkout) imports', () => {
    const dir = copy('ptlc-payer');
    expect(files(join(dir, 'nonces'))).toEqual(['consumed', 'counter.json']);
    importNow(dir);
    expect(holds(dir).nonces.every((r) => r.consumed === 1)).toBe(true);
    expect(relative(dir, join(dir, STATE_DB_FILE))).toBe(STATE_DB_FILE);
  });
});
