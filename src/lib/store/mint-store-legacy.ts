/**
 * The mint's store before SQLite (snapshot.json + journal-N.jsonl in the mint directory),
 * imported once into mint.sqlite (mint-store.ts), in one transaction, and its files
 * shredded. Its states come in the clear: they are sealed by the first open with the mint's
 * key. Not here: anything after the import.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { FundingBinding } from '../credit/ports.ts';
import { MalformedInputError } from '../errors.ts';
import { shredFile } from './state-step.ts';
import { STATES_SEALED_KEY, unfundedSince, type MintStatements } from './mint-database.ts';

/** What the import needs of the store it fills: its directory, database, statements and transaction. */
export interface LegacyImportTarget {
  dir: string;
  db: BetterSqlite3.Database;
  q: MintStatements;
  begin(): void;
  commit(): Promise<void>;
}

/** Import snapshot.json + journal-N.jsonl (a torn last line never committed), then shred them. */
export async function importLegacy<R extends { contract_id: string }>(store: LegacyImportTarget): Promise<void> {
  const legacy = async () => (await readdir(store.dir)).filter((f) => f === 'snapshot.json' || /^journal-\d+\.jsonl$/.test(f));
  let files = await legacy();
  if (files.length === 0) return;
  // One importer at a time (BEGIN IMMEDIATE), and only once: a process that finds the
  // files still there after another imported them only shreds them.
  store.begin();
  files = await legacy();
  if (store.q.getMeta.get('legacy_imported')) {
    await store.commit();
    for (const f of files) await shredFile(join(store.dir, f));
    return;
  }
  type Legacy = { generation: number; counter: number; records: Record<string, R>; nonces: Record<string, { context: string; pubnonce: string; secnonce: string }>; consumed: string[]; docs: Record<string, unknown> };
  const text = await readFile(join(store.dir, 'snapshot.json'), 'utf8').catch(() => undefined);
  const snap: Legacy = text ? (JSON.parse(text) as Legacy) : { generation: 0, counter: 0, records: {}, nonces: {}, consumed: [], docs: {} };
  const consumed = new Set(snap.consumed);
  const journal = await readFile(join(store.dir, `journal-${snap.generation}.jsonl`), 'utf8').catch(() => '');
  const lines = journal.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]) continue;
    let batch: { op: string; record?: R; id?: string; context?: string; pubnonce?: string; secnonce?: string; counter?: number }[];
    try {
      batch = JSON.parse(lines[i]!);
    } catch {
      if (i >= lines.length - 2) break;
      throw new MalformedInputError('E_STATE_CORRUPT', `journal line ${i + 1} in ${store.dir} is damaged`);
    }
    for (const op of batch) {
      if (op.op === 'put') snap.records[op.record!.contract_id] = op.record!;
      if (op.op === 'issue' && !consumed.has(op.id!)) snap.nonces[op.id!] = { context: op.context!, pubnonce: op.pubnonce!, secnonce: op.secnonce! };
      if (op.op === 'issue') snap.counter = Math.max(snap.counter, op.counter!);
      if (op.op === 'take') {
        delete snap.nonces[op.id!];
        consumed.add(op.id!);
      }
    }
  }
  store.q.putMeta.run('legacy_imported', '1');
  // Its states come in the clear: sealed by the first open with the mint's key (`prepare`).
  store.db.prepare('DELETE FROM meta WHERE key = ?').run(STATES_SEALED_KEY);
  store.q.putMeta.run('counter', String(snap.counter));
  for (const [name, value] of Object.entries(snap.docs)) store.q.putMeta.run(`doc:${name}`, JSON.stringify(value));
  for (const r of Object.values(snap.records)) {
    store.q.putContract.run(r.contract_id, JSON.stringify(r), unfundedSince(r));
    // The funding index did not exist then: build it from the records (first come, first bound).
    const rec = r as unknown as { contract?: { funding?: { txid: string; vout: number } }; proposed_rollover?: { new_contract_id: string; new_contract: { funding: { txid: string; vout: number } } } };
    const bind = (f: { txid: string; vout: number }, binding: FundingBinding) => {
      if (!store.q.getFunding.get(`${f.txid}:${f.vout}`)) store.q.putFunding.run(`${f.txid}:${f.vout}`, binding.contract_id, binding.kind, binding.from_contract_id ?? null);
    };
    if (rec.contract?.funding) bind(rec.contract.funding, { contract_id: r.contract_id, kind: 'open' });
    const p = rec.proposed_rollover;
    if (p) bind(p.new_contract.funding, { contract_id: p.new_contract_id, kind: 'rollover', from_contract_id: r.contract_id });
  }
  for (const [id, n] of Object.entries(snap.nonces)) store.q.issueNonce.run(id, n.context, n.pubnonce, n.secnonce);
  for (const id of consumed) store.db.prepare('INSERT OR REPLACE INTO nonces (id, consumed) VALUES (?, 1)').run(id);
  await store.commit();
  for (const f of files) await shredFile(join(store.dir, f));
}
