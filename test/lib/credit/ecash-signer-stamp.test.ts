/**
 * The keysets document of a running SQLite mint is not read again while nothing was written to
 * the store (src/lib/credit/ecash-signer.ts `stamp`, SqliteMintStore.docStamp: SQLite's
 * data_version with the connection's own document writes). Read as the operator's database
 * administrator: every write behind the service's back — another connection (the sqlite3
 * shell, another process), or a document written through the service's own connection — is
 * seen at the next request, and a document changed without the seed is refused there
 * (E_STATE_CORRUPT) as before. The signer is wired as `serve mint` wires it
 * (src/topics/credit/ecash.ts ecashSigner).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ecashSigner } from '../../../src/topics/credit/ecash.ts';
import { publishedKeysets } from '../../../src/lib/credit/ecash-reproduce.ts';
import { ECASH_KEYSETS_DOC, type EcashKeysetsDoc } from '../../../src/lib/credit/ecash-keysets.ts';
import { deriveMintKeyset } from '../../../src/lib/ecash/nut01.ts';
import { openState } from '../../../src/lib/store/sqlite/open.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import type { MintContractRecord } from '../../../src/lib/credit/ports.ts';
import { tempDir } from '../../helpers.ts';
import { rawDb } from '../../state.ts';
import { refusalAsync } from '../../setup/refusal.ts';

const SEED = 'TEST_PRIVATE_KEY';
const KS = deriveMintKeyset(SEED, { amounts: 8 });
const SEALED = publishedKeysets(SEED, KS, undefined).doc;
/** The sealed document with its fee changed, its MAC kept: what a writer without the seed can write. */
const FORGED: EcashKeysetsDoc = { ...SEALED, keysets: [{ ...SEALED.keysets[0]!, input_fee_ppk: SEALED.keysets[0]!.input_fee_ppk + 1 }] };
const KEY = `doc:${ECASH_KEYSETS_DOC}`;

const dirs: { cleanup(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0).reverse()) d.cleanup();
});

/** A mint's store holding the sealed document, and its signer as `serve mint` makes it, with its reads counted. */
async function mintWithKeysets() {
  const dir = tempDir('offchain-ecash-stamp-');
  dirs.push(dir);
  const db = openState(dir.path, { create: true })!;
  dirs.push({ cleanup: () => db.close() });
  const store = new SqliteMintStore<MintContractRecord>(db, {});
  await store.writeDoc(ECASH_KEYSETS_DOC, SEALED);
  const reads = vi.spyOn(store, 'readDoc');
  const signer = await ecashSigner({} as never, store, {} as never, SEED);
  reads.mockClear();
  return { dir: dir.path, store, signer, reads };
}

/** The operator's database administrator: SQL through a connection of its own. */
function administrator(dir: string, sql: string, ...params: unknown[]): void {
  const db = rawDb(dir);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

describe('the keysets document while nothing is written to the store', () => {
  it('is read once for many requests, and answers as read', async () => {
    const { signer, reads } = await mintWithKeysets();
    for (let i = 0; i < 5; i++) {
      const { doc, active } = await signer.refresh();
      expect(active.id).toBe(KS.id);
      expect(doc).toEqual(SEALED);
      expect((await signer.forRequest(undefined, [{ id: KS.id }])).keyset.id).toBe(KS.id);
    }
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('given out frozen: a caller changing it changes nothing the next request reads', async () => {
    const { signer } = await mintWithKeysets();
    await signer.refresh();
    const { doc } = await signer.refresh();
    expect(() => {
      doc.keysets[0]!.input_fee_ppk = 7;
    }).toThrow(TypeError);
    expect(() => {
      doc.keysets[0]!.keys['1'] = doc.keysets[0]!.keys['2']!;
    }).toThrow(TypeError);
    expect((await signer.refresh()).doc).toEqual(SEALED);
  });

  it('read as the operator\'s follow reads it (unsealed) every time', async () => {
    const { signer, reads } = await mintWithKeysets();
    await signer.refresh();
    await signer.refresh(false);
    await signer.refresh(false);
    expect(reads).toHaveBeenCalledTimes(3);
  });
});

describe('as the mint\'s database administrator: a write behind the service\'s back', () => {
  it('the document forged through another connection (the fee, the MAC kept) after it was checked: the next request refuses it (E_STATE_CORRUPT), and every one after', async () => {
    expect(FORGED).not.toEqual(SEALED);
    const { dir, signer } = await mintWithKeysets();
    expect((await signer.refresh()).active.id).toBe(KS.id);
    administrator(dir, 'UPDATE meta SET value = ? WHERE key = ?', JSON.stringify(FORGED), KEY);
    await refusalAsync(signer.refresh(), 'E_STATE_CORRUPT', 3);
    await refusalAsync(signer.forRequest(undefined, [{ id: KS.id }]), 'E_STATE_CORRUPT', 3);
    await refusalAsync(signer.refresh(), 'E_STATE_CORRUPT', 3);
  });

  it('the document forged through the service\'s own connection (its data_version does not move): refused at the next request', async () => {
    const { store, signer } = await mintWithKeysets();
    expect((await signer.refresh()).active.id).toBe(KS.id);
    await store.writeDoc(ECASH_KEYSETS_DOC, FORGED);
    await refusalAsync(signer.refresh(), 'E_STATE_CORRUPT', 3);
  });

  it('the document forged, then put back as it was: refused while forged, served again once it is back', async () => {
    const { dir, signer } = await mintWithKeysets();
    await signer.refresh();
    administrator(dir, 'UPDATE meta SET value = ? WHERE key = ?', JSON.stringify(FORGED), KEY);
    await refusalAsync(signer.refresh(), 'E_STATE_CORRUPT', 3);
    administrator(dir, 'UPDATE meta SET value = ? WHERE key = ?', JSON.stringify(SEALED), KEY);
    expect((await signer.refresh()).active.id).toBe(KS.id);
  });

  it('any other write by another connection: the document is read again (and, unchanged, served)', async () => {
    const { dir, signer, reads } = await mintWithKeysets();
    await signer.refresh();
    administrator(dir, 'INSERT INTO meta (key, value) VALUES (?, ?)', 'administrator-was-here', '1');
    expect((await signer.refresh()).active.id).toBe(KS.id);
    expect(reads).toHaveBeenCalledTimes(2);
  });
});
