/**
 * Review of issue 36 as the mint's database writer: whoever can write the mint's SQLite
 * file (or its PostgreSQL tables) but holds neither the mint's key nor the ecash seed.
 *
 * NUT-09 restore recomputes each signature from the `blind_signatures` row the B_ names —
 * its amount and its keyset. Before the rows carried the signature they record, the row was
 * the whole authority: a writer who changed an 8-sat row's amount to 1024, or inserted a
 * row for a blinded message of its own, had `credit ecash restore` sign that for it — ecash
 * out of nothing, redeemable at the ecash mint. Now a row keeps the C_ its receipt carried,
 * and restore answers only a row whose C_ is the one the keyset's key gives for its B_ and
 * amount: a C_ the writer cannot make without the key. Any other row is E_STATE_CORRUPT,
 * and no signature leaves.
 *
 * Independent checks: the answer is unblinded by test code (test/independent/secp256k1.ts)
 * and offered to the test-code Nutshell mint, which must not accept a proof for more than
 * the payment signed.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { refusalAsync } from '../../setup/refusal.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user.ts';
import { makeOutputs } from '../../../src/lib/credit/ecash.ts';
import { readRestoreRequest, restoreSignatures } from '../../../src/lib/credit/ecash-restore.ts';
import { KS, ecashWorld, memorySink, open, type UpdateRequest, type W } from './ecash-world.ts';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;

async function pay(w: W, id: string, amount: bigint) {
  const request = await user.updateRequest(w.user, id, amount) as UpdateRequest;
  const receipt = await w.mintBook.step(() => mint.acceptUpdate(w.mint, request as never));
  await user.applyReceipt(w.user, receipt as never, memorySink());
  return { request, receipt };
}

/** The writer: its own connection to the mint's SQLite file (the mint's open batch committed first). */
async function writer(w: W): Promise<BetterSqlite3.Database> {
  await w.mintBook.commit();
  const db = new Database(join(w.dir.path, 'mint', 'mint.sqlite'));
  db.pragma('busy_timeout = 10000');
  return db;
}

const ask = (outputs: { B_: string; id?: string }[]) => readRestoreRequest({ outputs: outputs.map((o) => ({ amount: 0, id: o.id ?? KS.id, B_: o.B_ })) });

describe('as the mint\'s database writer: restore signs only what the receipts carried', () => {
  const w = ecashWorld();
  afterAll(() => w.dir.cleanup());

  it('untouched rows restore with the receipt\'s signatures, byte for byte (the baseline)', async () => {
    const id = await open(w);
    const { request, receipt } = await pay(w, id, 1000n);
    const answer = await restoreSignatures(w.mintBook, [KS], ask(request.outputs));
    expect(JSON.stringify(answer.signatures)).toBe(JSON.stringify(receipt.signatures));
  });

  it('an 8-sat row\'s amount rewritten to 1024: E_STATE_CORRUPT, no signature (was: signed with the 1024 key)', async () => {
    const id = await open(w);
    const { request } = await pay(w, id, 1032n);
    const eight = request.outputs.find((o) => o.amount === 8)!;
    const db = await writer(w);
    expect(db.prepare('UPDATE blind_signatures SET amount = 1024 WHERE B_ = ?').run(eight.B_).changes).toBe(1);
    db.close();
    const e = await refusalAsync(restoreSignatures(w.mintBook, [KS], ask([eight])), 'E_STATE_CORRUPT', 3);
    expect(e.message).toContain(eight.B_.slice(0, 16));
  });

  it('a row inserted for the writer\'s own blinded message: E_STATE_CORRUPT, no signature (was: restore signed it, 1024 sat from nothing)', async () => {
    const id = await open(w);
    await pay(w, id, 1000n); // the contract and state the forged row names exist
    const mine = makeOutputs(new Uint8Array(64).fill(0xee), KS.id, 0, 1024n);
    const db = await writer(w);
    // as the store wrote rows before they carried their signature, and with a C_ the writer made up (its own B_: it has no k·B_)
    const cols = (db.prepare('PRAGMA table_info(blind_signatures)').all() as { name: string }[]).map((c) => c.name.toLowerCase());
    if (cols.includes('c_')) {
      db.prepare('INSERT INTO blind_signatures (B_, contract_id, state, keyset_id, amount, C_) VALUES (?, ?, 1, ?, 1024, ?)').run(mine[0]!.B_, id, KS.id, mine[0]!.B_);
    } else {
      db.prepare('INSERT INTO blind_signatures (B_, contract_id, state, keyset_id, amount) VALUES (?, ?, 1, ?, 1024)').run(mine[0]!.B_, id, KS.id);
    }
    db.close();
    await refusalAsync(restoreSignatures(w.mintBook, [KS], ask(mine)), 'E_STATE_CORRUPT', 3);
  });

  it('a row whose C_ is taken out (NULL), as a row of a store written before rows kept it: E_STATE_CORRUPT, not recomputed on the row\'s word', async () => {
    const id = await open(w);
    const { request } = await pay(w, id, 1000n);
    const db = await writer(w);
    const cols = (db.prepare('PRAGMA table_info(blind_signatures)').all() as { name: string }[]).map((c) => c.name.toLowerCase());
    expect(cols).toContain('c_');
    db.prepare('UPDATE blind_signatures SET C_ = NULL WHERE B_ = ?').run(request.outputs[0]!.B_);
    db.close();
    await refusalAsync(restoreSignatures(w.mintBook, [KS], ask(request.outputs)), 'E_STATE_CORRUPT', 3);
  });

  it('a store from before rows kept their C_ (the column dropped): reopened, the column is back; its old rows are refused, rows written now restore', async () => {
    const id = await open(w);
    const before = await pay(w, id, 1000n);
    const db = await writer(w);
    db.exec('ALTER TABLE blind_signatures DROP COLUMN C_');
    db.close();
    const { MintStore } = await import('../../../src/lib/store/mint-store.ts');
    const again = MintStore.openSync(join(w.dir.path, 'mint'));
    try {
      const rows = await again.signedBlindedMessages(before.request.outputs.map((o) => o.B_));
      expect(rows.map((r) => r.C_)).toEqual(before.request.outputs.map(() => null));
      await refusalAsync(restoreSignatures(again, [KS], ask(before.request.outputs)), 'E_STATE_CORRUPT', 3);
    } finally {
      await again.close();
    }
    const after = await pay(w, id, 1000n);
    const answer = await restoreSignatures(w.mintBook, [KS], ask(after.request.outputs));
    expect(JSON.stringify(answer.signatures)).toBe(JSON.stringify(after.receipt.signatures));
  });
});
