/**
 * Review of issue 36 as the mint's database writer: whoever can write the mint's
 * state.sqlite (or its PostgreSQL tables) but holds neither the mint's key nor the ecash seed.
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
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import { readRestoreRequest, restoreSignatures } from '../../../src/lib/credit/ecash-restore.ts';
import { ECASH_KEYSETS_DOC, type EcashKeysetsDoc } from '../../../src/lib/credit/ecash-keysets.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { followKeysets, publishedKeysets, settleKeyset } from '../../../src/lib/credit/ecash-reproduce.ts';
import { readKeysAnswer, readKeysetsAnswer, type LiveMint } from '../../../src/lib/credit/ecash-answers.ts';
import { ecashOffer, makeOutputs } from '../../../src/lib/credit/ecash.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import { loadVector } from '../../helpers.ts';
import { KS, MINT_URL, SEED, ecashWorld, memorySink, open, type UpdateRequest, type W } from './ecash-world.ts';
import { MINT_SEALER, POLICY, liveStores, world } from './world.ts';
import { dbFile, rawDb } from '../../state.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import type { MintContractRecord } from '../../../src/lib/credit/ports.ts';

async function pay(w: W, id: string, amount: bigint) {
  const request = await user.updateRequest(w.user, id, amount) as UpdateRequest;
  const receipt = await w.mintBook.step(() => mint.acceptUpdate(w.mint, request as never));
  await user.applyReceipt(w.user, receipt as never, memorySink());
  return { request, receipt };
}

/** The writer: its own connection to the mint's state.sqlite (the mint's open batch committed first). */
async function writer(w: W): Promise<BetterSqlite3.Database> {
  await w.mintBook.commit();
  return rawDb(join(w.dir.path, 'mint'));
}

/**
 * The mint's database turned back into the layout before state.sqlite (migrate-v0.ts): its own
 * `credit-mint/mint.sqlite`, from before its rows kept their C_ (the column dropped), its unused
 * nonces' secrets in the clear as that store kept them. The world's connection is closed first.
 */
async function asLayoutBefore(w: W): Promise<void> {
  await w.mintBook.commit();
  liveStores.delete(w.mintBook);
  w.mintBook.db.closeNow();
  const dir = join(w.dir.path, 'mint');
  const db = rawDb(dir);
  try {
    db.exec('ALTER TABLE blind_signatures DROP COLUMN C_; CREATE TABLE old_nonces (id TEXT PRIMARY KEY, context TEXT, pubnonce TEXT, secnonce TEXT, consumed INTEGER NOT NULL)');
    const put = db.prepare('INSERT INTO old_nonces (id, context, pubnonce, secnonce, consumed) VALUES (?, ?, ?, ?, ?)');
    for (const n of db.prepare('SELECT id, context, pubnonce, sealed, consumed FROM nonces').all() as { id: string; context: string | null; pubnonce: string | null; sealed: Buffer | null; consumed: number }[]) {
      put.run(n.id, n.context, n.pubnonce, n.consumed ? null : MINT_SEALER.open('nonce', [n.id, n.context!], n.sealed!)!.toString('hex'), n.consumed);
    }
    db.exec("DROP TRIGGER nonce_consumed_once; DROP TRIGGER nonce_never_deleted; DROP TABLE nonces; ALTER TABLE old_nonces RENAME TO nonces; UPDATE meta SET key = 'counter' WHERE key = 'nonce_counter'");
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
  mkdirSync(join(dir, 'credit-mint'));
  renameSync(dbFile(dir), join(dir, 'credit-mint', 'mint.sqlite'));
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

  it('a store from before rows kept their C_ (the layout before state.sqlite, the column absent): imported with C_ NULL; its old rows are refused, rows written now restore', async () => {
    const id = await open(w);
    const before = await pay(w, id, 1000n);
    await asLayoutBefore(w);
    const mintDir = join(w.dir.path, 'mint');
    const again = new SqliteMintStore<MintContractRecord>(openState(mintDir, { create: false })!, { sealer: MINT_SEALER });
    expect(existsSync(join(mintDir, 'credit-mint'))).toBe(false); // imported, the old folder gone
    Object.assign(w, { mintBook: again });
    Object.assign(w.mint, { records: again, funding: again, nonces: again });
    w.mint.ecash!.signatures = again;
    liveStores.add(again);
    const rows = await again.signedBlindedMessages(before.request.outputs.map((o) => o.B_));
    expect(rows.map((r) => r.C_)).toEqual(before.request.outputs.map(() => null));
    await refusalAsync(restoreSignatures(again, [KS], ask(before.request.outputs)), 'E_STATE_CORRUPT', 3);
    const after = await pay(w, id, 1000n);
    const answer = await restoreSignatures(again, [KS], ask(after.request.outputs));
    expect(JSON.stringify(answer.signatures)).toBe(JSON.stringify(after.receipt.signatures));
  });
});

// ——— the `ecash-keysets` document ———

const OLD = '01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe'; // a fresh 0.20.3's keyset (index 0, fee 100)
const liveMint = (folder: string): LiveMint => ({
  source: folder,
  keysets: readKeysetsAnswer(loadVector(`nutshell/${folder}/keysets.json`), folder),
  keys: readKeysAnswer(loadVector(`nutshell/${folder}/keys.json`), folder),
});
/** NUT-02 version 00 by test code: the first 7 bytes of SHA-256 over the keys' bytes, by amount. */
const v00Id = (keys: Record<string, string>) =>
  '00' + createHash('sha256').update(Buffer.concat(Object.entries(keys).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1)).map(([, k]) => Buffer.from(k, 'hex')))).digest('hex').slice(0, 14);

/** A world whose credit mint keeps its keysets in its store as the CLI does (--publish against a fresh 0.20.3), its signer reading them at each request. */
async function storedKeysetsWorld(wallet: string) {
  const w = world();
  const { doc } = publishedKeysets(SEED, settleKeyset(SEED, {}, liveMint('default')), undefined, liveMint('default'));
  await w.mintBook.writeDoc(ECASH_KEYSETS_DOC, doc);
  w.mint.policy = { ...POLICY, ecash: ecashOffer(doc.keysets[0]!, MINT_URL) };
  w.mint.ecash = { keyset: KS, signer: new EcashSigner(SEED, async () => (await w.mintBook.readDoc<EcashKeysetsDoc>(ECASH_KEYSETS_DOC))!), signatures: w.mintBook };
  w.user.walletSeed = fromHex(wallet.repeat(64));
  return w;
}

describe('as the mint\'s database writer: the ecash-keysets document', () => {
  it('rewritten to issue under the version-00 id of the same keys (one a fresh 0.20.3 mint does not know): the mint signs nothing (E_STATE_CORRUPT), the nonce unused; was: the receipt announced that id and the user adopted it', async () => {
    const w = await storedKeysetsWorld('5a');
    try {
      const id = await open(w);
      await w.mintBook.commit();
      const doc = (await w.mintBook.readDoc<EcashKeysetsDoc>(ECASH_KEYSETS_DOC))!;
      expect(doc.active).toBe(OLD);
      const old = doc.keysets.find((k) => k.id === OLD)!;
      const alias = v00Id(old.keys);
      expect(liveMint('default').keysets.map((k) => k.id)).not.toContain(alias);
      // the writer: no seed, only the public keys and NUT-02 — the same keys, the same path, under the v00 id
      const forged = { ...doc, active: alias, keysets: [{ ...old, id: alias, id_version: '00' }, ...doc.keysets.map((k) => ({ ...k, active: false }))] };
      const db = await writer(w);
      expect(db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(JSON.stringify(forged), `doc:${ECASH_KEYSETS_DOC}`).changes).toBe(1);
      db.close();
      const request = await user.updateRequest(w.user, id, 1000n) as UpdateRequest;
      expect(request.outputs.every((o) => o.id === OLD)).toBe(true);
      const e = await refusalAsync(w.mintBook.step(() => mint.acceptUpdate(w.mint, request as never)), 'E_STATE_CORRUPT', 3);
      expect(e.message).toMatch(/ecash-keysets/);
      expect(await w.mint.nonces.status(fromHex((await w.userBook.get(id))!.mint_nonce!.pubnonce))).toBe('unused');
      // and restore, which reads the same document, answers nothing either
      await refusalAsync((async () => restoreSignatures(w.mintBook, await w.mint.ecash!.signer.kept(), ask(request.outputs)))(), 'E_STATE_CORRUPT', 3);
    } finally {
      w.dir.cleanup();
    }
  });

  it('credit ecash follow (followKeysets against the mint\'s answers) rebuilds it: the forged keyset unlisted, the mint\'s own active again, payments signed under it', async () => {
    const w = await storedKeysetsWorld('5b');
    try {
      const id = await open(w);
      await w.mintBook.commit();
      const doc = (await w.mintBook.readDoc<EcashKeysetsDoc>(ECASH_KEYSETS_DOC))!;
      const old = doc.keysets.find((k) => k.id === OLD)!;
      const alias = v00Id(old.keys);
      const forged = { ...doc, active: alias, keysets: [{ ...old, id: alias, id_version: '00' }, ...doc.keysets.map((k) => ({ ...k, active: false }))] };
      const rebuilt = followKeysets(SEED, forged as EcashKeysetsDoc, liveMint('default')).doc;
      expect(rebuilt.active).toBe(OLD);
      expect(rebuilt.keysets.find((k) => k.id === alias)).toMatchObject({ active: false, listed: false });
      await w.mintBook.writeDoc(ECASH_KEYSETS_DOC, rebuilt);
      const request = await user.updateRequest(w.user, id, 1000n) as UpdateRequest;
      const receipt = await w.mintBook.step(() => mint.acceptUpdate(w.mint, request as never));
      expect(receipt.signatures!.map((s) => s.id)).toEqual(request.outputs.map(() => OLD));
      expect(receipt.next_keyset).toBeUndefined();
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('a keysets document whose active id names no record (a writer\'s edit follow cannot repair)', () => {
  it('credit ecash follow refuses it coded (E_STATE_CORRUPT, exit 3) instead of crashing on the missing record', async () => {
    const w = await storedKeysetsWorld('5c');
    try {
      await open(w);
      await w.mintBook.commit();
      const doc = (await w.mintBook.readDoc<EcashKeysetsDoc>(ECASH_KEYSETS_DOC))!;
      const orphan = { ...doc, active: '01' + 'ab'.repeat(32) };
      let thrown: unknown;
      try {
        followKeysets(SEED, orphan, liveMint('default'));
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: 'E_STATE_CORRUPT', exitCode: 3 });
      expect(String((thrown as Error).message)).toMatch(/holds no record of it/);
    } finally {
      w.dir.cleanup();
    }
  });
});

describe('the user\'s side of the same attack: an announced keyset with the keys it already uses under another id', () => {
  // Defence in depth for the finding above: a rotation derives new keys (the next index); the same keys under another id
  // are never one — they are what a writer of the mint's database (or a dishonest mint) can announce without any seed.
  it('refused (E_BAD_NEXT_KEYSET) although signed by the mint: the same keys under their v00 id, or under a v01 id with another fee; a real rotation is adopted', async () => {
    const { MINT } = await import('./world.ts');
    const { adoptKeyset } = await import('../../../src/lib/credit/ecash.ts');
    const { announce, recordOf } = await import('../../../src/lib/credit/ecash-keysets.ts');
    const { signAnnouncement } = await import('../../../src/lib/credit/ecash-announce.ts');
    const fresh = settleKeyset(SEED, {}, liveMint('default'));
    const e = { ...ecashOffer(fresh, MINT_URL), counter: 3, issued_sat: 0 };
    const CONTRACT = 'c5'.repeat(32);
    const from = { contractId: CONTRACT, state: 2, mintPubkey: MINT.publicKey };
    const signed = (a: ReturnType<typeof announce>) => signAnnouncement(a, CONTRACT, 2, MINT.secretKey, new Uint8Array(32).fill(7));
    const same = announce(recordOf(fresh));
    const asV00 = { ...same, id: v00Id(same.keys) };
    const feeZero = recordOf(settleKeyset(SEED, { input_fee_ppk: 0 })); // the same keys, a v01 id committing to fee 0
    expect(feeZero.id).not.toBe(fresh.id);
    expect(feeZero.keys).toEqual(same.keys);
    for (const alias of [asV00, announce(feeZero)]) {
      expect(refusal(() => adoptKeyset(e, signed(alias), from), 'E_BAD_NEXT_KEYSET', 4).message).toMatch(/the keys this contract already issues under/);
    }
    const index1 = recordOf(settleKeyset(SEED, { path: "m/0'/0'/1'" }, liveMint('default-rotated-once')));
    expect(adoptKeyset(e, signed(announce(index1)), from).keyset_id).toBe(index1.id);
  });
});
