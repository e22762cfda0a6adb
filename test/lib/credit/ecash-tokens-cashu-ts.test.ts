/**
 * Every token a credit payment gives is checked by cashu-ts, in process: twenty payments
 * of the amounts the end-to-end flow used to pay through the CLI (test/e2e/credit-ecash.test.ts
 * keeps the first three through real processes and pipes), each token decoded by cashu-ts,
 * each proof's DLEQ verified by cashu-ts against the NUT-01 keys answer `credit keyset`
 * prints (keysAnswer), and each proof accepted by the test-code Nutshell mint
 * (test/independent/cashu.ts, same seed). Nothing here decides validity with src/.
 */
import { seeded } from '../../helpers.ts';
import { getDecodedToken, hasValidDleq } from '@cashu/cashu-ts';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../../src/lib/bytes.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import { openFinish, openRequest } from '../../../src/lib/credit/user-open.ts';
import { applyReceipt, updateRequest } from '../../../src/lib/credit/user-update.ts';
import { ecashOffer } from '../../../src/lib/credit/ecash.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import { deriveMintKeyset, keysAnswer } from '../../../src/lib/ecash/nut01.ts';
import { EcashSigner } from '../../../src/lib/credit/ecash-signer.ts';
import { nutshellAccepts, nutshellKeyset } from '../../independent/cashu.ts';
import { CHANGE, POLICY, REFUND, fundingPsbt, world } from './world.ts';

const SEED = 'TEST_PRIVATE_KEY';
const KS = deriveMintKeyset(SEED);
const NUTSHELL = nutshellKeyset(SEED);
const URL = 'http://127.0.0.1:3338';

describe('twenty ecash payments, every token verified by cashu-ts', () => {
  const w = world();
  w.mint.policy = { ...POLICY, ecash: ecashOffer(KS, URL) };
  w.mint.ecash = { keyset: KS, signer: EcashSigner.fixed(KS), signatures: w.mintBook };
  w.user.walletSeed = fromHex('a7'.repeat(64));
  afterAll(() => w.dir.cleanup());

  it('each token is its amount: cashu-ts decodes it and verifies every DLEQ against the keys answer, the Nutshell-derived keyset accepts every proof; issued = cumulative', async () => {
    const keyset = keysAnswer(KS).keysets[0]!;
    // what a fresh Nutshell 0.20.3 announces for this seed (test/vectors/nutshell/default)
    expect(keyset.id).toBe('01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe');
    expect(keyset.id).toBe(NUTSHELL.id);
    const offer = { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...w.mint.policy };
    const req = await openRequest(w.user, {
      offer: offer as never, fundingPsbt: fundingPsbt(1_000_000n, 'c7'), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2,
    });
    await openFinish(w.user, (await mint.acceptOpen(w.mint, req as never)) as never);
    const c = termsFromJson((req as { contract: never }).contract, 'regtest');
    w.chain.confirm(c.funding.txid, c.funding.vout, c.capacity, c.script, 3);

    const random = seeded(0xeca5);
    let cumulative = 0;
    for (let i = 0; i < 20; i++) {
      const amount = i === 0 ? 1000 : 1 + Math.floor(random() * 6000);
      const receipt = await mint.acceptUpdate(w.mint, (await updateRequest(w.user, c.id, BigInt(amount))) as never);
      let token = '';
      await applyReceipt(w.user, receipt as never, { path: 'memory', write: async (t) => void (token = t) });
      expect(token.startsWith('cashuB'), `payment ${i}`).toBe(true);
      const t = getDecodedToken(token.trim(), [keyset.id]);
      expect(t.mint).toBe(URL);
      expect(t.unit).toBe('sat');
      let sum = 0;
      for (const p of t.proofs) {
        expect(hasValidDleq(p, keyset as never), `DLEQ of a ${p.amount} proof, payment ${i}`).toBe(true);
        expect(nutshellAccepts(NUTSHELL, { id: p.id, amount: BigInt(p.amount.toString()), secret: p.secret, C: p.C })).toBe(true);
        sum += Number(p.amount.toString());
      }
      expect(sum, `payment ${i}`).toBe(amount);
      cumulative += amount;
    }
    const m = (await w.mintBook.get(c.id))!;
    expect(Number(m.ecash_issued_sat)).toBe(cumulative);
    expect(Number(m.latest!.cumulative_sat)).toBe(cumulative);
    expect(Number((await w.userBook.get(c.id))!.ecash!.issued_sat)).toBe(cumulative);
    expect(await w.mintBook.ecashIssuance()).toEqual([{ keyset_id: keyset.id, issued_sat: cumulative, signatures: expect.any(Number) }]);
  });
});
