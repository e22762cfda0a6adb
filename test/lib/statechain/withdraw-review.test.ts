/**
 * Issue 37, the review of findings 5 and 6's fixes, attacked as each party:
 *
 * - a refused withdrawal is no dead end: the owner (or either part of a pair) whose request
 *   the operator refused — or whose partner refused to forward it — asks for another, while
 *   every request it sent stays answerable (the operator may have co-signed one and lost the
 *   answer: the same request again gets its stored answer, and it still finishes);
 * - a part's consent binds its round: B's consent to a withdrawal, given while the pair held
 *   the coin once, does not close the coin once the pair holds it again (the transaction's
 *   bytes are the same in every round: same outpoint, destination and rate);
 * - the operator's bumpable rule is Core's: nothing non-final, under 65 non-witness bytes,
 *   or paying a script Core does not relay is co-signed (each would close the coin with a
 *   transaction no node takes, alone or in a package);
 * - a withdrawal never pays the coin to a pay-to-anchor: anyone could take it.
 *
 * Signatures are checked by test/independent/; nonce sums are computed by test code.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { OffchainError } from '../../../src/lib/errors.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import type { SendingRecord } from '../../../src/lib/statechain/joint-send.ts';
import { bytesOf, hexOf, parseTx } from '../../independent/tx.ts';
import { decodeCompressed, encodeCompressed, pointAdd, publicKeyOf } from '../../independent/secp256k1.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { chainStub, cleanup, confirmedCoin, deposit, pairOwned, party } from './harness.ts';

afterAll(cleanup);

const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(4)]);
const P2A = Uint8Array.from([0x51, 0x02, 0x4e, 0x73]);
const node = (minRelay: number) => async () => ({ minRelayFeeRate: minRelay, mempoolMinFeeRate: minRelay });

/** R₁ ‖ R₂ of each nonce added pointwise, in test code. */
function nonceSum(...nonces: string[]): string {
  const half = (at: number) => encodeCompressed(nonces.map((n) => decodeCompressed(bytesOf(n).subarray(at, at + 33))).reduce((a, b) => pointAdd(a, b)));
  return hexOf(Uint8Array.from([...half(0), ...half(33)]));
}
/** A public nonce of the attacker's own (test code: two points from small scalars). */
const attackerNonce = (seed: number) => hexOf(Uint8Array.from([...publicKeyOf(bytesOf((seed * 2 + 1).toString(16).padStart(64, '0'))), ...publicKeyOf(bytesOf((seed * 2 + 2).toString(16).padStart(64, '0')))]));

/**
 * The withdrawal an offchain before issue 37 built and asked for (version 2, one output), in
 * test code: the request an owner's state directory may still hold after an upgrade.
 */
async function oldClientRequest(record: own.OwnerRecord, destination: Uint8Array, feeRate: number, ctx: own.OwnerContext) {
  const st = record.statement;
  const [txid, vout] = st.outpoint!.split(':');
  const amount = BigInt(st.amount_sat!);
  const fee = BigInt(Math.ceil(Math.ceil((4 * (60 + destination.length) + 68) / 4) * feeRate));
  const tx = new Transaction({ version: 2, allowUnknownOutputs: true });
  tx.addInput({ txid: txid!, index: Number(vout), sequence: 0xffff_fffd });
  tx.addOutput({ script: destination, amount: amount - fee });
  const pubnonce = await own.issueOwnerNonce(ctx, own.nonceContext(record.coin_id, 'withdraw', tx.id));
  const body = { type: 'statechain/withdraw-request', version: 1, network: ctx.network, coin_id: record.coin_id, tx: toHex(tx.unsignedTx), owner_pubnonce: pubnonce };
  const message = own.sign(body.type, body, 'owner_sig', ctx);
  return { record: { ...record, status: 'withdrawing' as const, signing: { purpose: 'withdraw' as const, tx: toHex(tx.unsignedTx), pubnonce }, request: message }, message };
}

describe('a refused withdrawal is no dead end, and no request ever sent is lost', () => {
  it('single owner: the operator refuses its stored request (an older client\'s version-2 withdrawal: E_WITHDRAWAL_UNBUMPABLE); it asks for another, which is co-signed, finished and verifies', async () => {
    const { d, prevout, coinOutputKey } = await confirmedCoin();
    const old = await oldClientRequest(d.ownerRecord, DEST, 2, d.owner);
    refusal(() => op.cosignWithdrawal(d.opRecord, old.message as never, d.opCtx), 'E_WITHDRAWAL_UNBUMPABLE', 4);
    // Before: any other --to/--fee-rate was E_WITHDRAWAL_PENDING, and the stored request is refused forever: the coin waited for backup 1.
    const next = await own.withdrawRequest(old.record, DEST, 3, d.owner);
    const cos = op.cosignWithdrawal(d.opRecord, next.message as never, d.opCtx);
    const fin = await own.withdrawFinish(next.record, cos.message as never, d.owner);
    const tx = verifyKeyPathSpend(fin.signed.hex, [prevout], coinOutputKey);
    expect([tx.version, hexOf(tx.outputs[1]!.script)]).toEqual([3, hexOf(P2A)]);
  });

  it('single owner: a request co-signed whose answer was lost still finishes after the owner asked for another (the operator answers the first again; the second is E_COIN_WITHDRAWN)', async () => {
    const { d, prevout, coinOutputKey } = await confirmedCoin();
    const first = await own.withdrawRequest(d.ownerRecord, DEST, 2, d.owner);
    const cos = op.cosignWithdrawal(d.opRecord, first.message as never, d.opCtx); // co-signed; the answer never arrives
    const second = await own.withdrawRequest(first.record, DEST, 5, d.owner);
    expect(second.message).not.toEqual(first.message);
    refusal(() => op.cosignWithdrawal(cos.record, second.message as never, d.opCtx), 'E_COIN_WITHDRAWN', 4);
    // The first --to/--fee-rate again prints the first request, byte for byte; the operator answers it again.
    const again = await own.withdrawRequest(second.record, DEST, 2, d.owner);
    expect(again.message).toEqual(first.message);
    expect(again.record).toBe(second.record);
    const answer = op.cosignWithdrawal(cos.record, again.message as never, d.opCtx);
    expect(answer.message).toEqual(cos.message);
    const fin = await own.withdrawFinish(second.record, answer.message as never, d.owner);
    const tx = verifyKeyPathSpend(fin.signed.hex, [prevout], coinOutputKey);
    expect(tx.txid).toBe(parseTx((first.message as { tx: string }).tx).txid);
    // Finished: nothing else is asked or signed for the coin.
    await refusalAsync(own.withdrawRequest(fin.record, DEST, 7, d.owner), 'E_ALREADY_WITHDRAWN', 5);
  });

  it('a pair: B consented offline at 0.5 sat/vB, A (its node at 1 sat/vB) refuses to ask for it (E_FEE_TOO_LOW); B consents again at 2, A asks, the pair withdraws and it verifies', async () => {
    const p = await pairOwned();
    const low = await send.jointWithdrawNonce(p.recB, DEST, 0.5, p.bob);
    await refusalAsync(send.jointWithdrawRequest(p.recA, low.message as never, DEST, 0.5, p.alice, node(1000)), 'E_FEE_TOO_LOW', 4);
    // Before: B's record held the 0.5 consent, and any other rate was E_WITHDRAWAL_PENDING — the pair could only ask for 0.5.
    const b = await send.jointWithdrawNonce(low.record, DEST, 2, p.bob);
    const a = await send.jointWithdrawRequest(p.recA, b.message as never, DEST, 2, p.alice, node(1000));
    const cos = op.cosignWithdrawal(p.opRecord, a.message as never, p.d.opCtx);
    const signA = await send.jointWithdrawSignA(a.record, cos.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(b.record, signA.message as never, p.bob);
    const out = parseTx(p.d.funding).outputs[1]!;
    verifyKeyPathSpend(fin.signed.hex, [{ amount: out.amount, script: out.script }], taprootOutput(bytesOf(p.opRecord.statement.aggregate).subarray(1)).outputKey);
  });

  it('a pair: the operator co-signed the first withdrawal, its answer lost; both parts moved on to another; the first still completes (A and B each finish it from their records)', async () => {
    const p = await pairOwned();
    const b1 = await send.jointWithdrawNonce(p.recB, DEST, 2, p.bob);
    const a1 = await send.jointWithdrawRequest(p.recA, b1.message as never, DEST, 2, p.alice);
    const cos1 = op.cosignWithdrawal(p.opRecord, a1.message as never, p.d.opCtx); // lost
    const b2 = await send.jointWithdrawNonce(b1.record, DEST, 4, p.bob);
    const a2 = await send.jointWithdrawRequest(a1.record, b2.message as never, DEST, 4, p.alice);
    refusal(() => op.cosignWithdrawal(cos1.record, a2.message as never, p.d.opCtx), 'E_COIN_WITHDRAWN', 4);
    // A given B's first nonce again prints its first request; the operator answers it again.
    const again = await send.jointWithdrawRequest(a2.record, b1.message as never, DEST, 2, p.alice);
    expect(again.message).toEqual(a1.message);
    const answer = op.cosignWithdrawal(cos1.record, again.message as never, p.d.opCtx);
    const signA = await send.jointWithdrawSignA(a2.record, answer.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(b2.record, signA.message as never, p.bob);
    const out = parseTx(p.d.funding).outputs[1]!;
    const tx = verifyKeyPathSpend(fin.signed.hex, [{ amount: out.amount, script: out.script }], taprootOutput(bytesOf(p.opRecord.statement.aggregate).subarray(1)).outputKey);
    expect(tx.txid).toBe(parseTx((b1.message as { tx: string }).tx).txid);
    expect(send.storedJointWithdrawal(fin.record)).toEqual(fin.signed);
  });
});

describe('property: many requests, one withdrawal', () => {
  it('whatever the owner asks (any rates, again and again), whichever requests reach the operator in whatever order and whichever answers are lost, the operator co-signs one transaction and the owner finishes exactly it, once', async () => {
    const seen = { finished: 0, refusedAtOperator: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(
          fc.record({ ask: fc.constantFrom(1, 2, 3) }),
          fc.record({ deliver: fc.nat(5), lost: fc.boolean() }),
          fc.record({ finish: fc.nat(5) }),
        ), { minLength: 1, maxLength: 7 }),
        async (actions) => {
          const { d, prevout, coinOutputKey } = await confirmedCoin();
          let owner = d.ownerRecord;
          let operator = d.opRecord;
          const sent: Record<string, unknown>[] = [];
          const answers: Record<string, unknown>[] = [];
          const ok = ['E_COIN_WITHDRAWN', 'E_ALREADY_WITHDRAWN', 'E_NOT_SIGNING', 'E_BAD_STATEMENT'];
          const attempt = async <T>(f: () => Promise<T> | T): Promise<T | undefined> => {
            try {
              return await f();
            } catch (e) {
              expect(ok, String(e)).toContain((e as OffchainError).code);
              return undefined;
            }
          };
          const finish = async (answer: Record<string, unknown>) => {
            const fin = await attempt(() => own.withdrawFinish(owner, answer as never, d.owner));
            if (fin) owner = fin.record;
          };
          for (const a of actions) {
            if ('ask' in a) {
              const r = await attempt(() => own.withdrawRequest(owner, DEST, a.ask, d.owner));
              if (r) {
                owner = r.record;
                sent.push(r.message);
              }
            } else if ('deliver' in a && sent.length > 0) {
              const cos = await attempt(() => op.cosignWithdrawal(operator, sent[a.deliver % sent.length] as never, d.opCtx));
              if (cos === undefined) seen.refusedAtOperator++;
              else {
                operator = cos.record;
                if (!a.lost) answers.push(cos.message);
              }
            } else if ('finish' in a && answers.length > 0) {
              await finish(answers[a.finish % answers.length]!);
            }
          }
          // Then everything the owner ever sent reaches the operator, and every answer the owner.
          for (const r of sent) {
            const cos = await attempt(() => op.cosignWithdrawal(operator, r as never, d.opCtx));
            if (cos) (operator = cos.record), answers.push(cos.message);
          }
          if (sent.length === 0) return;
          // The operator co-signed one transaction: every answer it gave names it.
          const txids = new Set(answers.map((m) => (m as { txid: string }).txid));
          expect(txids.size).toBe(1);
          for (const m of answers) await finish(m);
          // The owner finished exactly it, and finishing again prints the same bytes (nothing signed twice).
          expect(owner.status).toBe('withdrawn');
          const tx = verifyKeyPathSpend(owner.withdrawal!.hex, [prevout], coinOutputKey);
          expect(tx.txid).toBe([...txids][0]);
          expect((await own.withdrawFinish(owner, answers[0] as never, d.owner)).signed.hex).toBe(owner.withdrawal!.hex);
          seen.finished++;
        },
      ),
      { numRuns: 12 },
    );
    expect(seen.finished).toBeGreaterThan(0);
    expect(seen.refusedAtOperator).toBeGreaterThan(0);
  });
});

describe('a part\'s consent binds its round', () => {
  it('B\'s consent to withdraw, given while the pair held the coin before, does not let A alone close it once the pair holds it again (E_PAIR_CONSENT)', async () => {
    const p = await pairOwned();
    const opPub = p.d.operator.auth.publicKey;
    // Round 1: the pair sends the coin to Carol; while Carol has not completed ('sent'), B consents to withdraw to DEST.
    const carol = party('review-carol');
    const req = tr.startReceive(p.coinId, opPub, carol);
    const nonce = await send.jointNonce(p.recB, req.message as never, 200, p.bob);
    const signReq = await send.jointTransferSign(p.recA, nonce.message as never, 200, p.alice);
    const cos = await op.cosignTransfer(p.opRecord, signReq.message as never, p.d.opCtx);
    const signA = await send.jointSignA(signReq.record, cos.message as never, p.alice);
    const pkg = await send.jointPackage(nonce.record, signA.message as never, p.bob);
    const consent = (await send.jointWithdrawNonce(pkg.record, DEST, 2, p.bob)).message as Record<string, unknown>;
    const acc = tr.acceptPackage(pkg.message as never, req.pending, p.facts, carol);
    const done = op.completeTransfer(cos.record, acc.message as never, p.d.opCtx);
    const carolRecord = tr.finishReceive(acc.record, done.message as never);
    // Round 2: Carol sends the coin back to the pair (the same two parties, new shares).
    const b = joint.startPart(p.coinId, opPub, p.bob);
    const a = joint.startJointReceive(p.coinId, opPub, b.message as never, p.alice);
    const sign2 = await tr.transferSign(carolRecord, a.message as never, 200, carol);
    const cos2 = await op.cosignTransfer(done.record, sign2.message as never, p.d.opCtx);
    const pkg2 = await tr.transferPackage(sign2.record, cos2.message as never, carol);
    const taken = joint.jointTakePackage(pkg2.message as never, a.pending, p.facts, p.alice);
    const t2 = joint.jointTakeHandoff(taken.message as never, b.pending, p.facts, p.bob);
    const done2 = op.completeTransfer(cos2.record, joint.jointAcceptFrom(t2.message as never, taken.record, p.alice) as never, p.d.opCtx);
    expect([done2.record.statement.owner_auth, done2.record.statement.owner_auth_b]).toEqual([toHex(p.alice.auth.publicKey), toHex(p.bob.auth.publicKey)]);
    // The withdrawal's bytes are the same as in round 1 (outpoint, destination, rate): B's old consent names them.
    const recA = { ...taken.record, ...tr.finishReceive(taken.record, done2.message as never) } as SendingRecord;
    expect(toHex(own.withdrawalTransaction(recA, DEST, 2).unsignedTx)).toBe(consent.tx);
    // A alone, with B's round-1 consent and a nonce of A's own: before, co-signed and the coin closed; B cannot sign it (its record is round 2's).
    const mine = attackerNonce(5);
    const body = { type: 'statechain/withdraw-request', version: 1, network: 'regtest', coin_id: p.coinId, tx: consent.tx, owner_pubnonce: nonceSum(mine, String(consent.pubnonce)), a_pubnonce: mine, part_b: consent };
    refusal(() => op.cosignWithdrawal(done2.record, own.sign(body.type, body, 'owner_sig', p.alice) as never, p.d.opCtx), 'E_PAIR_CONSENT', 4);
    // The pair's own withdrawal in round 2 is co-signed.
    const recB = { ...t2.record, ...tr.finishReceive(t2.record, done2.message as never) } as SendingRecord;
    const bNow = await send.jointWithdrawNonce(recB, DEST, 2, p.bob);
    const aNow = await send.jointWithdrawRequest(recA, bNow.message as never, DEST, 2, p.alice);
    expect(op.cosignWithdrawal(done2.record, aNow.message as never, p.d.opCtx).record.statement.status).toBe('withdrawn');
  });
});

describe('the operator\'s bumpable rule is Core\'s', () => {
  /** The honest request rewritten and re-signed by its owner: the transaction `edit` makes of the template. */
  async function shaped(edit: (tx: Transaction, payment: bigint) => Transaction) {
    const { d } = await confirmedCoin();
    const honest = await own.withdrawRequest(d.ownerRecord, DEST, 2, d.owner);
    const template = Transaction.fromRaw(fromHex((honest.message as { tx: string }).tx), { allowUnknownOutputs: true });
    const tx = edit(template, template.getOutput(0).amount!);
    const { owner_sig: _sig, ...body } = honest.message as Record<string, unknown>;
    return { d, request: own.sign('statechain/withdraw-request', { ...body, tx: toHex(tx.unsignedTx) }, 'owner_sig', d.owner) };
  }
  const rebuilt = (template: Transaction, o: { lockTime?: number; sequence?: number; outputs: [Uint8Array, bigint][] }) => {
    const tx = new Transaction({ version: 3, lockTime: o.lockTime ?? 0, allowUnknownOutputs: true });
    tx.addInput({ ...template.getInput(0), sequence: o.sequence ?? 0xffff_fffd });
    for (const [script, amount] of o.outputs) tx.addOutput({ script, amount });
    return tx;
  };

  it('each shape Core will not relay, alone or in a package, is refused E_WITHDRAWAL_UNBUMPABLE with nothing signed', async () => {
    const cases: [string, (t: Transaction, pay: bigint) => Transaction, string][] = [
      // Core: "non-final" until the tip reaches the locktime — the coin closed for a year.
      ['a locktime', (t, pay) => rebuilt(t, { lockTime: 1_000_000, outputs: [[DEST, pay], [P2A, 240n]] }), 'locktime'],
      // BIP-68: a relative lock of 65,535 blocks ("non-BIP68-final").
      ['a relative lock', (t, pay) => rebuilt(t, { sequence: 0x0000_ffff, outputs: [[DEST, pay], [P2A, 240n]] }), 'sequence'],
      // MIN_STANDARD_TX_NONWITNESS_SIZE: the coin as fee, a P2A its only output — 64 non-witness bytes ("tx-size-small").
      ['64 bytes', (t) => rebuilt(t, { outputs: [[P2A, 240n]] }), '65'],
      // Solver: a version-0 witness program of 3 bytes is NONSTANDARD ("scriptpubkey").
      ['a v0 program of 3 bytes', (t, pay) => rebuilt(t, { outputs: [[Uint8Array.from([0x00, 0x03, 1, 2, 3]), pay], [P2A, 240n]] }), 'output 0'],
      // Solver: OP_RETURN followed by a non-push opcode is NONSTANDARD ("scriptpubkey").
      ['OP_RETURN OP_NOP', (t, pay) => rebuilt(t, { outputs: [[DEST, pay], [P2A, 240n], [Uint8Array.from([0x6a, 0x61]), 0n]] }), 'output 2'],
    ];
    for (const [name, edit, why] of cases) {
      const { d, request } = await shaped(edit);
      const e = refusal(() => op.cosignWithdrawal(d.opRecord, request as never, d.opCtx), 'E_WITHDRAWAL_UNBUMPABLE', 4);
      expect(e.message, name).toContain(why);
    }
    // What Core does relay is still co-signed: a data carrier beside the payment, a future witness version.
    const fine: [(t: Transaction, pay: bigint) => Transaction][] = [
      [(t, pay) => rebuilt(t, { outputs: [[DEST, pay], [P2A, 240n], [Uint8Array.from([0x6a, 0x02, 0xab, 0xcd]), 0n]] })],
      [(t, pay) => rebuilt(t, { outputs: [[Uint8Array.from([0x52, 0x02, 0xab, 0xcd]), pay], [P2A, 240n]] })],
    ];
    for (const [edit] of fine) {
      const { d, request } = await shaped(edit);
      expect(op.cosignWithdrawal(d.opRecord, request as never, d.opCtx).record.statement.status).toBe('withdrawn');
    }
  });
});

describe('a withdrawal never pays the coin to anyone', () => {
  it('--to a pay-to-anchor address (OP_1 <4e73>, anyone can spend it) is refused before anything is issued: single owner, B, A', async () => {
    const { d } = await confirmedCoin();
    await refusalAsync(own.withdrawRequest(d.ownerRecord, P2A, 2, d.owner), 'E_BAD_ADDRESS', 2);
    const p = await pairOwned();
    await refusalAsync(send.jointWithdrawNonce(p.recB, P2A, 2, p.bob), 'E_BAD_ADDRESS', 2);
    const b = await send.jointWithdrawNonce(p.recB, DEST, 2, p.bob);
    await refusalAsync(send.jointWithdrawRequest(p.recA, b.message as never, P2A, 2, p.alice), 'E_BAD_ADDRESS', 2);
  });
});

describe('the fee guard: no withdrawal the node refuses for its fee', () => {
  it('a rate above Core\'s maxfeerate (10,000 sat/vB: sendrawtransaction and submitpackage refuse it, so no bump helps), or a fee above half the coin, is refused before anything is issued (E_FEE_TOO_HIGH, 4): single owner, B, A; raised on purpose, it is asked', async () => {
    const chain = chainStub(200);
    const d = await deposit(chain, 1_000_000_000n);
    // 10 BTC at 20,000 sat/vB: 2,240,000 sat of fee on 112 vB — well inside the coin, closed at the operator before, and no node would send it.
    await refusalAsync(own.withdrawRequest(d.ownerRecord, DEST, 20_000, d.owner), 'E_FEE_TOO_HIGH', 4);
    // 100,000 sat at 500 sat/vB: 56,000 sat, more than half the coin.
    const { d: small } = await confirmedCoin();
    await refusalAsync(own.withdrawRequest(small.ownerRecord, DEST, 500, small.owner), 'E_FEE_TOO_HIGH', 4);
    const onPurpose = await own.withdrawRequest(small.ownerRecord, DEST, 500, small.owner, undefined, { maxFeeRate: 10_000, maxFeeShare: 0.6 });
    expect(parseTx((onPurpose.message as { tx: string }).tx).outputs[0]!.amount).toBe(100_000n - 56_000n - 240n);
    const p = await pairOwned();
    await refusalAsync(send.jointWithdrawNonce(p.recB, DEST, 500, p.bob), 'E_FEE_TOO_HIGH', 4);
    const b = await send.jointWithdrawNonce(p.recB, DEST, 500, p.bob, undefined, { maxFeeRate: 10_000, maxFeeShare: 0.6 });
    await refusalAsync(send.jointWithdrawRequest(p.recA, b.message as never, DEST, 500, p.alice), 'E_FEE_TOO_HIGH', 4);
  });
});
