/**
 * Issue 38, Found 1, at library level, to show what the count in nonce-rewind.test.ts
 * guards: a mint on PostgreSQL (the credit protocol's acceptUpdate on a PgMintStore, a
 * process epoch), the database's superuser putting a nonce's row and the contract's row
 * back after each payment, a colluding user signing a different state 1 each time.
 *
 * - With the ledger (the code as shipped): one state signed; the two replays refused
 *   E_NONCE_REOPENED (exit 1), nothing written; the key cannot be solved.
 * - With the ledger's check removed — `claim` accepting any id, which is what the mint did
 *   before the fix — three states are signed under the one nonce and test code
 *   (./musig-nonce-reuse.ts, nothing of the signing path) solves the mint's secret key
 *   from them. So a count of one signature per nonce is what stands between a database
 *   writer and the key.
 */
import { base64 } from '@scure/base';
import { expect, it } from 'vitest';
import * as mint from '../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../src/lib/credit/user-open.ts';
import { updateRequest } from '../../src/lib/credit/user-update.ts';
import { termsFromJson } from '../../src/lib/credit/codec.ts';
import type { CreditTermsJson } from '../../src/lib/credit/codec.ts';
import type { MintContext, MintContractRecord, NextNonceJson } from '../../src/lib/credit/ports.ts';
import { PgMintStore } from '../../src/lib/store/pg/mint-store.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { int } from '../independent/secp256k1.ts';
import { bytesOf } from '../independent/tx.ts';
import { CHANGE, MINT, REFUND, fundingPsbt, offer, world } from '../lib/credit/world.ts';
import { refusal } from '../setup/refusal.ts';
import { describePostgres } from './fixture.ts';
import { storeTarget } from './process-stores.ts';
import { solveMintKey, type Session } from './musig-nonce-reuse.ts';
import { dba, rewind, rows, save } from './rewind.ts';

/** world.ts's keys, read by test code. */
const MINT_SECRET = 'a1'.repeat(32);
const USER_PUB = publicKeyOf(bytesOf('b2'.repeat(32)));
const MINT_PUB = publicKeyOf(bytesOf(MINT_SECRET));
const CONTRACT = musigTaprootOutput([USER_PUB, MINT_PUB]);
const CAPACITY = 100_000n;

describePostgres('three signatures under one rewound nonce solve the mint\'s key; the ledger gives one', (fx) => {
  /** Open a contract, then pay 1000, 2000, 3000 as state 1, the rows put back before each replay. */
  async function attack(name: string, removeCheck: boolean) {
    const { t, url } = await storeTarget(fx.server, name);
    const w = world();
    const store = await PgMintStore.open<MintContractRecord>(t, 'regtest', { key: MINT.secretKey });
    const db = await dba(fx.server, url);
    try {
      if (removeCheck) (store as unknown as { ledger: { claim: () => Promise<void> } }).ledger.claim = async () => undefined;
      const ctx: MintContext = { ...w.mint, records: store, funding: store, nonces: store };
      const req = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(CAPACITY), expiryHeight: 5320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      const accept = await store.step(() => mint.acceptOpen(ctx, req as never));
      await openFinish(w.user, accept as never);
      const c = termsFromJson(req.contract as CreditTermsJson, 'regtest');
      w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);
      const id = req.contract_id as string;
      const nonce = (accept as { next_nonce: NextNonceJson }).next_nonce.pubnonce;
      const saved = await save(db, id, nonce);
      const userBefore = (await w.userBook.get(id))!;
      const sessions: Session[] = [];
      const refused: unknown[] = [];
      for (const [round, amount] of [1000, 2000, 3000].entries()) {
        if (round > 0) {
          await rewind(db, id, saved);
          await w.userBook.put(userBefore);
        }
        const request = await updateRequest(w.user, id, BigInt(amount));
        expect((request.psbt as string).length).toBeGreaterThan(0);
        const before = await rows(db);
        try {
          await store.step(() => mint.acceptUpdate(ctx, request as never));
        } catch (e) {
          refused.push(e);
          expect(await rows(db), 'a refused request writes nothing').toBe(before);
          continue;
        }
        const latest = (await store.get(id))!.latest!;
        expect(latest.state).toBe(1);
        sessions.push({ psbt: base64.decode(request.psbt as string), signedTx: latest.hex, prevout: { amount: CAPACITY, script: CONTRACT.script } });
      }
      return { sessions, refused };
    } finally {
      await store.close();
      await db.end();
      w.dir.cleanup();
    }
  }

  it('with the ledger: one state signed under the nonce, both replays refused E_NONCE_REOPENED writing nothing; nothing to solve', async () => {
    const { sessions, refused } = await attack('key_ledger', false);
    expect(sessions).toHaveLength(1);
    expect(refused).toHaveLength(2);
    for (const e of refused) refusal(() => { throw e; }, 'E_NONCE_REOPENED', 1);
    expect(solveMintKey(sessions, USER_PUB, MINT_PUB)).toBeUndefined();
  }, 120_000);

  it('with the ledger\'s check removed (the mint before the fix): three states signed under the one nonce, and test code solves the mint\'s secret key from them', async () => {
    const { sessions, refused } = await attack('key_no_ledger', true);
    expect(refused).toEqual([]);
    expect(sessions).toHaveLength(3);
    expect(new Set(sessions.map((s) => s.signedTx)).size).toBe(3);
    const x = solveMintKey(sessions, USER_PUB, MINT_PUB);
    expect(x).toBe(int(bytesOf(MINT_SECRET)));
    // Two are not enough: the algebra needs the third equation.
    expect(solveMintKey(sessions.slice(0, 2), USER_PUB, MINT_PUB)).toBeUndefined();
  }, 120_000);
}, { prefix: 'offchain-pg-rewind-key-' });
