/**
 * Invariant: one funding outpoint carries one contract. The mint co-signs a refund for
 * an outpoint at most once — whether the outpoint comes from an open or from a
 * rollover's new output — because two contracts on one output would each hold a
 * co-signed refund and a payment history while only one can ever be paid out (the
 * audit's attack: open twice on one funding PSBT with expiries +432 and +4320, be
 * credited twice, and refund the short one while still paying on the long one).
 *
 * Each refusal: its one code, exit 4, nothing written (store rows and files), and the
 * mint's outstanding nonce still unused.
 */
import { describe, it, expect } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-open.ts';
import { termsFromJson } from '../../../src/lib/credit/codec.ts';
import type { NextNonceJson } from '../../../src/lib/credit/ports.ts';
import { buildRollover } from '../../../src/lib/credit/transactions.ts';
import { fromHex } from '../../../src/lib/bytes.ts';
import { RefusedError } from '../../../src/lib/errors.ts';
import { MINT, USER, CHANGE, REFUND, fundingPsbt, offer, world } from './world.ts';
import { expectRefused, openContract, pay, psbtBase64, psbtOf, rolloverMessage, specOf, userRecord, type Expected, type World } from './tamper.ts';

const PARTICIPANTS = [USER.publicKey, MINT.publicKey];

async function refusedKeepingNonce(w: World, step: () => Promise<unknown>, e: Expected, nonce?: NextNonceJson) {
  const err = await expectRefused(w.dir.path, step, e);
  expect(err).toBeInstanceOf(RefusedError);
  if (nonce) expect(await w.mint.nonces.status(fromHex(nonce.pubnonce))).toBe('unused');
}

/** An open-request for the given funding PSBT and expiry, as the user library makes it. */
const openRequestFor = (w: World, funding: Uint8Array, expiryHeight: number) =>
  user.openRequest(w.user, { offer: offer(), fundingPsbt: funding, expiryHeight, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });

describe('one funding outpoint, one contract', () => {
  it('a second open on the same funding output with another expiry: E_FUNDING_IN_USE, and no second refund is signed', async () => {
    const w = world();
    try {
      const funding = fundingPsbt(1_000_000n);
      const short = await openRequestFor(w, funding, w.chain.height + 432);
      await mint.acceptOpen(w.mint, short as never);
      const long = await openRequestFor(w, funding, w.chain.height + 4320);
      expect((long as { contract_id: string }).contract_id).not.toBe((short as { contract_id: string }).contract_id);
      await refusedKeepingNonce(w, () => mint.acceptOpen(w.mint, long as never), {
        code: 'E_FUNDING_IN_USE', exitCode: 4, message: new RegExp(`funding outpoint [0-9a-f]{64}:0 already funds contract ${(short as { contract_id: string }).contract_id}`),
      });
      expect((await w.mintBook.list()).map((r) => r.contract_id)).toEqual([(short as { contract_id: string }).contract_id]);
    } finally {
      w.dir.cleanup();
    }
  });

  it('the same open-request retried still gets the stored accept (the index does not block a retry)', async () => {
    const w = world();
    try {
      const req = await openRequestFor(w, fundingPsbt(100_000n), w.chain.height + 4320);
      const first = await mint.acceptOpen(w.mint, req as never);
      expect(await mint.acceptOpen(w.mint, req as never)).toEqual(first);
    } finally {
      w.dir.cleanup();
    }
  });

  describe('rollovers', () => {
    async function openedWithPayment() {
      const w = world();
      const A = await openContract(w);
      await pay(w, A.id, 5000n);
      const nonce = (await userRecord(w, A.id)).mint_nonce!;
      const { tx } = buildRollover(A.c, 5000n, A.c.script, 2);
      const spec = specOf(tx, PARTICIPANTS);
      const proposal = (expiry: number) => rolloverMessage(A.c, 2, 5000n, 2, spec, USER, MINT.publicKey, nonce, expiry);
      return { w, A, nonce, tx, proposal };
    }

    it('a second round-1 proposal with another expiry: E_ROLLOVER_PROPOSED; the first stays the only one', async () => {
      const { w, A, nonce, proposal } = await openedWithPayment();
      try {
        const first = proposal(w.chain.height + 4320);
        const answer = await mint.proposeRollover(w.mint, first.message as never);
        const second = proposal(w.chain.height + 432);
        expect(second.next.id).not.toBe(first.next.id);
        expect(second.next.funding).toEqual(first.next.funding); // same rollover tx, same new output
        await refusedKeepingNonce(w, () => mint.proposeRollover(w.mint, second.message as never), {
          code: 'E_ROLLOVER_PROPOSED', exitCode: 4, message: new RegExp(`already co-signed the new refund of a rollover of contract ${A.id} into ${first.next.id} at state 2`),
        }, nonce);
        // The first proposal, retried, is answered as before.
        expect(await mint.proposeRollover(w.mint, first.message as never)).toEqual(answer);
        expect((await w.mintBook.get(A.id))!.proposed_rollover!.new_contract_id).toBe(first.next.id);
      } finally {
        w.dir.cleanup();
      }
    });

    it('opening a contract on the output of a proposed rollover: E_FUNDING_IN_USE', async () => {
      const { w, A, nonce, tx, proposal } = await openedWithPayment();
      try {
        const first = proposal(w.chain.height + 4320);
        await mint.proposeRollover(w.mint, first.message as never);
        // The unsigned rollover PSBT passed off as a wallet's funding, for a contract with another expiry.
        const disguised = await openRequestFor(w, psbtOf(psbtBase64(tx)).toPSBT(), w.chain.height + 500);
        await refusedKeepingNonce(w, () => mint.acceptOpen(w.mint, disguised as never), {
          code: 'E_FUNDING_IN_USE', exitCode: 4, message: new RegExp(`is the output of a rollover of contract ${A.id} into contract ${first.next.id}`),
        }, nonce);
      } finally {
        w.dir.cleanup();
      }
    });

    it('opening a contract whose funding spends a contract output (a rollover in disguise): E_FUNDING_SPENDS_CONTRACT', async () => {
      const { w, A, nonce, tx } = await openedWithPayment();
      try {
        const disguised = await openRequestFor(w, psbtOf(psbtBase64(tx)).toPSBT(), w.chain.height + 500);
        await refusedKeepingNonce(w, () => mint.acceptOpen(w.mint, disguised as never), {
          code: 'E_FUNDING_SPENDS_CONTRACT', exitCode: 4, message: new RegExp(`funding input 0 spends ${A.c.funding.txid}:0, the funding of contract ${A.id}`),
        }, nonce);
      } finally {
        w.dir.cleanup();
      }
    });

    it('once the proposal is dead (a payment moved the state on), a new rollover may be proposed', async () => {
      const { w, A, proposal } = await openedWithPayment();
      try {
        await mint.proposeRollover(w.mint, proposal(w.chain.height + 4320).message as never);
        await pay(w, A.id, 1000n);
        const nonce = (await userRecord(w, A.id)).mint_nonce!;
        const { tx } = buildRollover(A.c, 6000n, A.c.script, 2);
        const again = rolloverMessage(A.c, 3, 6000n, 2, specOf(tx, PARTICIPANTS), USER, MINT.publicKey, nonce, w.chain.height + 432);
        const answer = (await mint.proposeRollover(w.mint, again.message as never)) as { new_contract_id: string };
        expect(answer.new_contract_id).toBe(again.next.id);
        expect(await w.mintBook.fundingOwner(`${again.next.funding.txid}:${again.next.funding.vout}`)).toEqual({ contract_id: again.next.id, kind: 'rollover', from_contract_id: A.id });
      } finally {
        w.dir.cleanup();
      }
    });
  });

  it('the index holds each opened contract under its funding outpoint', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      const B = await openContract(w, { input: 'f1' });
      expect(await w.mintBook.fundingOwner(`${A.c.funding.txid}:0`)).toEqual({ contract_id: A.id, kind: 'open' });
      expect(await w.mintBook.fundingOwner(`${B.c.funding.txid}:0`)).toEqual({ contract_id: B.id, kind: 'open' });
      expect(termsFromJson((A.request as { contract: never }).contract, 'regtest').id).toBe(A.id);
      // A funding tx is not a contract: unrelated outpoints are unbound.
      expect(await w.mintBook.fundingOwner(`${new Transaction().id}:0`)).toBeUndefined();
    } finally {
      w.dir.cleanup();
    }
  });
});
