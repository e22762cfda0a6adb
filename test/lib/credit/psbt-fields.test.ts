/**
 * A `*_psbt` field whose base64 has valid characters but an impossible length is
 * malformed input (E_MALFORMED_PSBT, exit 3), like any other bad PSBT — not an internal
 * error (exit 1), as it was — and nothing is written.
 */
import { describe, it, expect } from 'vitest';
import * as mint from '../../../src/lib/credit/mint.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { CHANGE, REFUND, USER, fundingPsbt, offer, world } from './world.ts';
import { signRequest } from '../../../src/lib/credit/request-signature.ts';
import { openContract, pay, userRecord, snapshot } from './tamper.ts';
import { openRequest } from '../../../src/lib/credit/user-open.ts';
import { rolloverRequest } from '../../../src/lib/credit/user-rollover.ts';
import { updateRequest } from '../../../src/lib/credit/user-update.ts';

const BAD_LENGTH = 'cHNidP8BAA'; // base64 alphabet, 10 characters: no byte string has this encoding

describe('PSBT fields with bad base64', () => {
  it('open (funding_psbt, refund_psbt), update (psbt), rollover (rollover_psbt, refund_psbt): E_MALFORMED_PSBT, exit 3, nothing written', async () => {
    const w = world();
    try {
      const A = await openContract(w);
      await pay(w, A.id, 1000n);
      // A fresh open-request (never sent), so the mint gets as far as its PSBTs.
      const open = await openRequest(w.user, { offer: offer(), fundingPsbt: fundingPsbt(100_000n, 'f2'), expiryHeight: w.chain.height + 4320, refundAddress: REFUND, changeAddress: CHANGE, feeRate: 2 });
      const update = await updateRequest(w.user, A.id, 500n);
      const B = await openContract(w, { input: 'f1' });
      await pay(w, B.id, 1000n);
      const rollover = await rolloverRequest(w.user, B.id, { expiryHeight: w.chain.height + 4320, feeRate: 2 });
      const cases: [string, () => Promise<unknown>][] = [
        ['open refund_psbt', () => mint.acceptOpen(w.mint, { ...open, refund_psbt: BAD_LENGTH } as never)],
        ['funding_psbt', () => mint.acceptOpen(w.mint, { ...open, funding_psbt: BAD_LENGTH } as never)],
        ['update psbt', () => mint.acceptUpdate(w.mint, { ...update, psbt: BAD_LENGTH } as never)],
        // Round 1 is the user's by its signature (request-signature.ts): signed as the user made it, bad field and all.
        ['rollover_psbt', () => mint.proposeRollover(w.mint, signRequest({ ...rollover, rollover_psbt: BAD_LENGTH }, USER) as never)],
        ['rollover refund_psbt', () => mint.proposeRollover(w.mint, signRequest({ ...rollover, refund_psbt: BAD_LENGTH }, USER) as never)],
      ];
      expect((await userRecord(w, A.id)).pending?.kind).toBe('update');
      expect((await userRecord(w, B.id)).pending?.kind).toBe('rollover');
      for (const [name, step] of cases) {
        const before = snapshot(w.dir.path);
        const err = await step().then(() => undefined, (e: unknown) => e);
        expect(err, name).toBeInstanceOf(MalformedInputError);
        expect(err, name).toMatchObject({ code: 'E_MALFORMED_PSBT', exitCode: 3 });
        expect((err as Error).message, name).toMatch(/is not valid base64/);
        expect(snapshot(w.dir.path), name).toEqual(before);
      }
    } finally {
      w.dir.cleanup();
    }
  });
});
