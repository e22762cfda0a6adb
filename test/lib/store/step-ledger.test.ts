/**
 * The nonce ledger's journal and a command's step (store/state-step.ts withStateStep): a step
 * that fails puts back the files it replaced — but never the ledger's record of nonces
 * opened, nor (after a COMMIT that touched nonces) the files that go with the database (a
 * host epoch's witness, its key): the store keeps that COMMIT whatever the step does next,
 * and a replay answers from it. Found by the review of the step rollback (disk41).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NonceLedger } from '../../../src/lib/store/nonce-ledger.ts';
import { ensureDir, writeJsonAtomic } from '../../../src/lib/store/atomic.ts';
import { sealStateStepUntil, stepHome, withStateStep } from '../../../src/lib/store/state-step.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';

const tmp = tempDir('offchain-step-ledger-');
afterAll(() => tmp.cleanup());
let dirs = 0;
const freshDir = () => join(tmp.path, `d-${++dirs}`);
const id = (n: number) => n.toString(16).padStart(32, '0');
const opts = (alarms: string[] = []) => ({ who: 'this test', where: 'nowhere', alarm: (m: string) => alarms.push(m) });
const refusal = new Error('refused after the writes');

async function commit(l: NonceLedger): Promise<void> {
  await l.settle();
  await l.committed();
}

describe('a failed step and the nonce ledger', () => {
  it('the journal rewritten from memory after the ALARM (it was removed) stays when the step then fails: a restored store offering an opened nonce is still refused', async () => {
    const dir = freshDir();
    const alarms: string[] = [];
    const a = NonceLedger.onDisk(dir, 'e1', opts(alarms));
    for (const i of [id(1), id(2)]) a.issued(i);
    await commit(a);
    await a.claim(id(1), 'n1', 'aa'.repeat(32));
    await commit(a); // id(1) opened and committed: its signature may be answered from the store
    rmSync(join(dir, 'journal'));
    await expect(
      withStateStep(async () => {
        await a.claim(id(2), 'n2');
        await a.settle(); // ALARM: the journal is written again from memory, then this claim appended
        throw refusal; // its COMMIT fails (or a refusal follows): the step is rolled back
      }),
    ).rejects.toBe(refusal);
    expect(alarms.join('\n')).toMatch(/ALARM: the nonce ledger .* was removed while it ran/);
    expect(existsSync(join(dir, 'journal'))).toBe(true);
    // The database restored: it offers id(1) as unused again. The host's ledger must refuse it.
    const b = NonceLedger.onDisk(dir, 'e1', opts(), async () => [id(1), id(2)]);
    await refusalAsync(b.claim(id(1), 'n1', 'bb'.repeat(32)), 'E_NONCE_REOPENED', 1);
  });

  it('after a COMMIT that touched nonces, a failure later in the step keeps the files written with it (a host epoch\'s witness)', async () => {
    const dir = freshDir();
    const witnessDir = freshDir();
    await ensureDir(witnessDir);
    const witness = join(witnessDir, 'seen.json');
    await writeJsonAtomic(witness, { version: 4 });
    const l = NonceLedger.onDisk(dir, 'e1', opts());
    await expect(
      withStateStep(async () => {
        l.issued(id(1));
        await l.settle();
        await writeJsonAtomic(witness, { version: 5 }); // HostEpoch.advance, just before COMMIT
        await l.committed(); // the COMMIT happened
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    // Put back to 4, the database's counter (5) would be above the witness: the next command retires the host's key.
    expect(JSON.parse(readFileSync(witness, 'utf8'))).toEqual({ version: 5 });
  });
});

describe('a failed step and a rollback witness (store/pg/witness.ts, host-epoch.ts)', () => {
  it('the version a statechain operator read under the lock is kept by its witness when the step then fails (PgOperatorStore.step): a store gone below it later is refused', async () => {
    const { VersionWitness } = await import('../../../src/lib/store/pg/witness.ts');
    const witness = new VersionWitness(freshDir());
    await witness.advance('coin', 3, 'f3');
    await expect(
      withStateStep(async () => {
        // Another host committed version 4; this step read it, then refused: "the witness keeps it even when this step failed".
        await witness.advance('coin', 4, 'f4');
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    await refusalAsync(witness.check('coin', 3, 'the store', 'f3'), 'E_STORE_ROLLED_BACK', 1);
  });
});

describe('a COMMIT and the step record on disk (store/state-step.ts STEP RECORD)', () => {
  const records = (home: string) => readdirSync(home).filter((n) => n.startsWith('.step.')).map((n) => n.replace(/[0-9a-f]{16}/, 'ID'));

  it('the mint\'s COMMIT that touched nonces is sent with the step already sealed on disk: a crash just after it keeps the files that go with it', async () => {
    const { MintStore } = await import('../../../src/lib/store/mint-store.ts');
    const home = freshDir();
    await ensureDir(home);
    const store = await MintStore.open(join(home, 'credit-mint'));
    const seen: string[][] = [];
    const db = (store as unknown as { db: { exec: (sql: string) => unknown } }).db;
    const exec = db.exec.bind(db);
    db.exec = (sql: string) => {
      if (sql === 'COMMIT') seen.push(records(home));
      return exec(sql);
    };
    await withStateStep(async () => {
      stepHome(home);
      await writeJsonAtomic(join(home, 'policy.json'), { v: 1 }); // a file of the step: the record exists
      await store.issue('ctx', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: new Uint8Array(66).fill(2) }));
      await store.commit();
    });
    await store.close();
    expect(seen).toEqual([['.step.ID.sealed']]);
    expect(records(home)).toEqual([]);
  });

  it('a COMMIT the disk refused (SQLITE_FULL: no commit record, it did not happen) takes the seal back: the step\'s files are put back', async () => {
    const { MintStore } = await import('../../../src/lib/store/mint-store.ts');
    const home = freshDir();
    await ensureDir(home);
    await writeJsonAtomic(join(home, 'policy.json'), { v: 1 });
    const store = await MintStore.open(join(home, 'credit-mint'));
    const db = (store as unknown as { db: { exec: (sql: string) => unknown } }).db;
    const exec = db.exec.bind(db);
    db.exec = (sql: string) => {
      if (sql === 'COMMIT') throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      return exec(sql);
    };
    await expect(
      withStateStep(async () => {
        stepHome(home);
        await writeJsonAtomic(join(home, 'policy.json'), { v: 2 });
        await store.issue('ctx', () => ({ secnonce: new Uint8Array(97).fill(1), pubnonce: new Uint8Array(66).fill(3) }));
        await store.commit();
      }),
    ).rejects.toMatchObject({ code: 'E_STORE_FULL' });
    expect(JSON.parse(readFileSync(join(home, 'policy.json'), 'utf8'))).toEqual({ v: 1 });
    expect(records(home)).toEqual([]);
  });

  it('a seal taken back (the act did not happen) leaves the step undoable; not once something irreversible was written since', async () => {
    const home = freshDir();
    await ensureDir(home);
    await writeJsonAtomic(join(home, 'a.json'), { v: 1 });
    await expect(
      withStateStep(async () => {
        stepHome(home);
        await writeJsonAtomic(join(home, 'a.json'), { v: 2 });
        const reopen = sealStateStepUntil();
        expect(records(home)).toEqual(['.step.ID.sealed']);
        reopen();
        expect(records(home)).toEqual(['.step.ID.open']);
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(JSON.parse(readFileSync(join(home, 'a.json'), 'utf8'))).toEqual({ v: 1 });
    await expect(
      withStateStep(async () => {
        await writeJsonAtomic(join(home, 'a.json'), { v: 2 });
        const reopen = sealStateStepUntil();
        await writeJsonAtomic(join(home, 'b.json'), { v: 1 }); // not kept as undoable: the seal stays
        reopen();
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(JSON.parse(readFileSync(join(home, 'a.json'), 'utf8'))).toEqual({ v: 2 });
    expect(records(home)).toEqual([]);
  });
});
