/**
 * Issue 37, finding 6: a pair's consent binds its signing round, not only its transaction.
 *
 * Before: the operator checked that part B's signed consent (its joint-withdraw-nonce, its
 * joint-nonce) named the withdrawal's (the backup's) bytes, never that the request's owner
 * nonce contained B's nonce. A, holding B's genuine consent to withdraw to T, asked for T
 * under a nonce that left B's out: the operator co-signed and closed the coin with a
 * signature the pair can never complete (B's partial signature counts only with its nonce
 * in the aggregate), and the pair's own withdrawal was then E_COIN_WITHDRAWN.
 *
 * Now a pair's request names A's nonce (`a_pubnonce`) and the operator co-signs only under
 * owner_pubnonce = A's + B's, B's taken from B's signed consent (E_PAIR_CONSENT otherwise,
 * nothing signed). The sums below are computed by test code (test/independent/secp256k1.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OffchainError } from '../../../src/lib/errors.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { bytesOf, hexOf, parseTx } from '../../independent/tx.ts';
import { decodeCompressed, encodeCompressed, pointAdd, publicKeyOf } from '../../independent/secp256k1.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { refusal } from '../../setup/refusal.ts';
import { cleanup, pairOwned, party } from './harness.ts';

afterAll(cleanup);

const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(4)]);

/** R₁ ‖ R₂ of each nonce added pointwise, in test code. */
function nonceSum(...nonces: string[]): string {
  const half = (at: number) => encodeCompressed(nonces.map((n) => decodeCompressed(bytesOf(n).subarray(at, at + 33))).reduce((a, b) => pointAdd(a, b)));
  return hexOf(Uint8Array.from([...half(0), ...half(33)]));
}
/** A public nonce nobody in the pair holds (test code: two points from small scalars). */
const strangerNonce = (seed: number) => hexOf(Uint8Array.from([...publicKeyOf(bytesOf((seed * 2 + 1).toString(16).padStart(64, '0'))), ...publicKeyOf(bytesOf((seed * 2 + 2).toString(16).padStart(64, '0')))]));

/** A's request rewritten by A itself (A holds its auth key): `fields` replace, `undefined` removes. */
function forged(honest: Record<string, unknown>, fields: Record<string, string | undefined>, a: { auth: { secretKey: Uint8Array }; random: never }) {
  const { owner_sig: _sig, ...body } = honest;
  const next: Record<string, unknown> = { ...body };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) delete next[k];
    else next[k] = v;
  }
  return own.sign(String(next.type), next, 'owner_sig', a as never);
}

describe('finding 6: the operator co-signs a pair\'s request only under A\'s nonce plus B\'s', () => {
  it('A, holding B\'s genuine consent to withdraw to T, cannot have T co-signed under a nonce that leaves B\'s out (E_PAIR_CONSENT); the pair\'s own withdrawal then completes and verifies', async () => {
    const p = await pairOwned();
    const bNonce = await send.jointWithdrawNonce(p.recB, DEST, 2, p.bob);
    const b = (bNonce.message as { pubnonce: string }).pubnonce;
    const honest = await send.jointWithdrawRequest(p.recA, bNonce.message as never, DEST, 2, p.alice);
    const a = honest.record.joint_withdraw!.pubnonce; // A's own nonce, as A holds it
    const req = honest.message as Record<string, unknown>;
    expect(req.owner_pubnonce).toBe(nonceSum(a, b));
    const x = strangerNonce(1);
    const attacks: Record<string, string | undefined>[] = [
      { owner_pubnonce: a, a_pubnonce: undefined }, // A's nonce alone, as the request looked before
      { owner_pubnonce: a, a_pubnonce: a }, // A's nonce named, B's left out of the aggregate
      { owner_pubnonce: nonceSum(a, x), a_pubnonce: a }, // another nonce where B's should be
      { owner_pubnonce: nonceSum(a, b), a_pubnonce: x }, // the right aggregate, a wrong claim of A's part
      { owner_pubnonce: nonceSum(a, b, x), a_pubnonce: a }, // B's in it, and a third nobody in the pair signs for
    ];
    for (const fields of attacks) {
      const e = refusal(() => op.cosignWithdrawal(p.opRecord, forged(req, fields, p.alice as never) as never, p.d.opCtx), 'E_PAIR_CONSENT', 4);
      expect(e.message).toContain('nonce');
    }
    // The operator's record is what it was (its steps return a new record; none came back): the pair withdraws.
    const cos = op.cosignWithdrawal(p.opRecord, req as never, p.d.opCtx);
    expect(cos.record.statement.status).toBe('withdrawn');
    const signA = await send.jointWithdrawSignA(honest.record, cos.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(bNonce.record, signA.message as never, p.bob);
    const out = parseTx(p.d.funding).outputs[1]!;
    verifyKeyPathSpend(fin.signed.hex, [{ amount: out.amount, script: out.script }], taprootOutput(bytesOf(p.opRecord.statement.aggregate).subarray(1)).outputKey);
  });

  it('the same for a transfer: A cannot have the operator co-sign the receiver\'s backup under a nonce without B\'s (E_PAIR_CONSENT)', async () => {
    const p = await pairOwned();
    const carol = party('pair-nonce-carol');
    const request = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, carol);
    const bNonce = await send.jointNonce(p.recB, request.message as never, 200, p.bob);
    const honest = await send.jointTransferSign(p.recA, bNonce.message as never, 200, p.alice);
    const a = honest.record.joint_send!.pubnonce;
    const b = (bNonce.message as { pubnonce: string }).pubnonce;
    const req = honest.message as Record<string, unknown>;
    for (const fields of [{ owner_pubnonce: a, a_pubnonce: undefined }, { owner_pubnonce: a, a_pubnonce: a }, { owner_pubnonce: nonceSum(a, strangerNonce(2)), a_pubnonce: a }]) {
      await expect(op.cosignTransfer(p.opRecord, forged(req, fields, p.alice as never) as never, p.d.opCtx)).rejects.toMatchObject({ code: 'E_PAIR_CONSENT', exitCode: 4 });
    }
    expect(req.owner_pubnonce).toBe(nonceSum(a, b));
    expect((await op.cosignTransfer(p.opRecord, req as never, p.d.opCtx)).record.statement.status).toBe('transferring');
  });

  it('property: whatever aggregate and claim A sends with B\'s consent, the operator co-signs exactly when the aggregate is the claimed A nonce plus B\'s', async () => {
    const p = await pairOwned();
    const bNonce = await send.jointWithdrawNonce(p.recB, DEST, 2, p.bob);
    const b = (bNonce.message as { pubnonce: string }).pubnonce;
    const honest = await send.jointWithdrawRequest(p.recA, bNonce.message as never, DEST, 2, p.alice);
    const a = honest.record.joint_withdraw!.pubnonce;
    const req = honest.message as Record<string, unknown>;
    const x = strangerNonce(3);
    const named: Record<string, string> = { a, b, x };
    const seen = { signed: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(['a', 'b', 'x'], { minLength: 1 }),
        fc.constantFrom<string[] | null>(null, ['a'], ['x'], ['a', 'x'], ['b']),
        async (inAggregate, claim) => {
          const aggregate = nonceSum(...inAggregate.map((k) => named[k]!));
          const claimed = claim === null ? undefined : nonceSum(...claim.map((k) => named[k]!));
          // The rule, read independently: B's nonce is in the aggregate exactly once, beside what A claims as its own.
          const expected = claimed !== undefined && aggregate === nonceSum(claimed, b);
          let signed: boolean;
          try {
            op.cosignWithdrawal(p.opRecord, forged(req, { owner_pubnonce: aggregate, a_pubnonce: claimed }, p.alice as never) as never, p.d.opCtx);
            signed = true;
          } catch (e) {
            expect(e).toBeInstanceOf(OffchainError);
            expect((e as OffchainError).code).toBe('E_PAIR_CONSENT');
            signed = false;
          }
          seen[signed ? 'signed' : 'refused']++;
          expect(signed, `aggregate of ${inAggregate.join('+')}, A claims ${claim?.join('+') ?? 'nothing'}`).toBe(expected);
        },
      ),
      { numRuns: 40 },
    );
    expect(seen.signed).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });
});
