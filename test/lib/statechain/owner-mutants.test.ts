/**
 * The coin owner's checks (src/lib/statechain/owner.ts) where `npm run mutate` planted a
 * change the statechain tests did not see, each written from docs/statechain.md and the
 * module's invariants: the owner's share drawn in [1, n−1]; its nonce bound to (coin,
 * purpose, txid) on disk; the withdrawal's first step (who may ask, the same request again
 * printing the same bytes, another one keeping every earlier one answerable, the fee guard
 * at its edges); the operator's answer checked before anything is signed (its statement
 * closing the coin with our transaction and every key unchanged, our nonce, its partial
 * signature — a bad answer burns nothing); the signed withdrawal kept, printed again, and
 * never replaced; the backup that is ours, and the child only from our own share's output.
 * Library calls only, one deposited coin per test; signatures checked by test/independent/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import type { RandomSource } from '../../../src/lib/random.ts';
import { signStatement } from '../../../src/lib/statechain/statement.ts';
import type { Statement } from '../../../src/lib/statechain/schemas.ts';
import { DEFAULT_FEE_LIMITS } from '../../../src/lib/tx/fee-guard.ts';
import { N, bip340Verify, bytes32, publicKeyOf, taggedHash } from '../../independent/secp256k1.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { hexOf, parseTx } from '../../independent/tx.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import { cleanup, confirmedCoin, party } from './harness.ts';

afterAll(cleanup);

const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(4)]);
type Msg = Record<string, any>;
type Coin = Awaited<ReturnType<typeof confirmedCoin>>;

/** One deposited, confirmed coin for the whole file (each test asks at its own rates, so each has its own nonces): a deposit is most of a test's time. */
let shared: Promise<Coin> | undefined;
const coin = () => (shared ??= confirmedCoin());

/** The honest round: our request at `rate`, the operator's answer to it. */
async function asked(c: Coin, rate: number, record: own.OwnerRecord = c.d.ownerRecord) {
  const req = await own.withdrawRequest(record, DEST, rate, c.d.owner);
  const cos = op.cosignWithdrawal(c.d.opRecord, req.message as never, c.d.opCtx).message as Msg;
  return { req, cos };
}

/** The operator's answer with its statement changed by `patch` and re-signed with the operator's own key (a lying operator signs properly). */
function lie(c: Coin, cos: Msg, patch: (st: Statement) => void): Msg {
  const { operator_sig: _sig, ...body } = structuredClone(cos.statement) as Statement;
  patch(body as Statement);
  return { ...cos, statement: signStatement(body, c.d.operator.auth, c.d.operator.random) };
}

/** A random source that returns `draws` in order (32 bytes each), then fails the test. */
function scripted(draws: bigint[]): RandomSource & { labels: string[] } {
  const labels: string[] = [];
  return {
    deterministic: true,
    labels,
    bytes(length, label) {
      labels.push(label);
      const next = draws.shift();
      if (next === undefined || length !== 32) throw new Error('test: no more scripted draws');
      return bytes32(next);
    },
  };
}

describe('the owner\'s share is a scalar in [1, n−1]', () => {
  it('0 and n and above are drawn again; 1 and n−1 are taken, each with its compressed point (test-code scalar multiplication)', () => {
    const r = scripted([0n, N, N + 1n, 1n]);
    const one = own.newShare(r, 'test/share');
    expect([toHex(one.secret), toHex(one.share)]).toEqual([hexOf(bytes32(1n)), hexOf(publicKeyOf(bytes32(1n)))]);
    expect(r.labels).toEqual(['test/share', 'test/share', 'test/share', 'test/share']);
    const last = own.newShare(scripted([N - 1n]), 'test/share');
    expect(toHex(last.share)).toBe(hexOf(publicKeyOf(bytes32(N - 1n))));
  });
});

describe('the owner\'s nonce is bound on disk to (coin, purpose, txid)', () => {
  it('a withdrawal\'s nonce opens only for statechain/<coin>/withdraw/<txid> (the context a stored nonce of an older run names)', async () => {
    const c = await coin();
    expect(own.nonceContext('ab', 'withdraw', 'cd')).toBe('statechain/ab/withdraw/cd');
    const { req } = await asked(c, 2);
    const pubnonce = fromHex((req.message as Msg).owner_pubnonce);
    const txid = parseTx((req.message as Msg).tx).txid;
    const coinId = c.d.ownerRecord.coin_id;
    for (const context of [`statechain/${coinId}/backup/${txid}`, `statechain/${coinId}/withdraw/${'00'.repeat(32)}`, `statechain/${'12'.repeat(16)}/withdraw/${txid}`]) {
      await refusalAsync(c.d.owner.nonces.take(pubnonce, context), 'E_NONCE_MISBOUND', 4);
    }
    expect(await c.d.owner.nonces.status(pubnonce)).toBe('unused');
    await c.d.owner.nonces.take(pubnonce, `statechain/${coinId}/withdraw/${txid}`);
    expect(await c.d.owner.nonces.status(pubnonce)).toBe('consumed');
  });
});

describe('withdrawal step 1: who asks, the same request again, another one beside it', () => {
  it('a withdrawal request is the owner\'s BIP-340 signature over the request (test-code verification), for our coin, network and transaction', async () => {
    const c = await coin();
    const { req } = await asked(c, 2);
    const m = req.message as Msg;
    const { owner_sig, ...body } = m;
    expect(Object.keys(body).sort()).toEqual(['coin_id', 'network', 'owner_pubnonce', 'tx', 'type', 'version']);
    expect([m.type, m.version, m.network, m.coin_id]).toEqual(['statechain/withdraw-request', 1, 'regtest', c.d.ownerRecord.coin_id]);
    // Canonical JSON (docs/cli.md): type, version, network first, the rest in key order, one line.
    const canonical = JSON.stringify({ type: m.type, version: m.version, network: m.network, coin_id: m.coin_id, owner_pubnonce: m.owner_pubnonce, tx: m.tx }) + '\n';
    const digest = taggedHash('offchain/statechain/statechain/withdraw-request', new TextEncoder().encode(canonical));
    expect(bip340Verify(fromHex(owner_sig), digest, c.d.owner.auth.publicKey.subarray(1))).toBe(true);
    expect(req.record).toMatchObject({ status: 'withdrawing', signing: { purpose: 'withdraw', tx: m.tx, pubnonce: m.owner_pubnonce }, request: m });
    expect(req.record.earlier_withdrawals ?? []).toEqual([]);
  });

  it('only the coin\'s current owner asks: depositing, receiving or withdrawn (no signed withdrawal) is E_NOT_OWNER (5), naming the status; active, sending, sent, withdrawing ask', async () => {
    const c = await coin();
    for (const status of ['depositing', 'receiving', 'withdrawn'] as const) {
      const e = await refusalAsync(own.withdrawRequest({ ...c.d.ownerRecord, status }, DEST, 2, c.d.owner), 'E_NOT_OWNER', 5);
      expect(e.message).toBe(`this coin is ${status}: only its current owner withdraws it`);
    }
    for (const [i, status] of (['active', 'sending', 'sent', 'withdrawing'] as const).entries()) {
      const r = await own.withdrawRequest({ ...c.d.ownerRecord, status }, DEST, 2 + i, c.d.owner);
      expect(r.record.status).toBe('withdrawing');
    }
  });

  it('asked again for the same transaction, the same request (same bytes, no new nonce); another rate is a new request and every earlier one stays, oldest first', async () => {
    const c = await coin();
    const first = await own.withdrawRequest(c.d.ownerRecord, DEST, 2, c.d.owner);
    const again = await own.withdrawRequest(first.record, DEST, 2, c.d.owner);
    expect(again.message).toBe(first.message);
    expect(again.record).toBe(first.record);
    const second = await own.withdrawRequest(first.record, DEST, 3, c.d.owner);
    expect((second.message as Msg).owner_pubnonce).not.toBe((first.message as Msg).owner_pubnonce);
    expect(second.record.earlier_withdrawals).toEqual([{ tx: (first.message as Msg).tx, pubnonce: (first.message as Msg).owner_pubnonce, request: first.message }]);
    expect(second.record.request).toBe(second.message);
    const third = await own.withdrawRequest(second.record, DEST, 4, c.d.owner);
    expect(third.record.earlier_withdrawals!.map((w) => w.request)).toEqual([first.message, second.message]);
    // The first rate again, from the earlier list: its request as sent.
    expect((await own.withdrawRequest(third.record, DEST, 2, c.d.owner)).message).toBe(first.message);
    expect((await own.withdrawRequest(third.record, DEST, 3, c.d.owner)).message).toBe(second.message);
    // A coin no longer withdrawing has no earlier requests to answer again: a new one, with its own nonce.
    const fresh = await own.withdrawRequest({ ...third.record, status: 'active' }, DEST, 2, c.d.owner);
    expect((fresh.message as Msg).owner_pubnonce).not.toBe((first.message as Msg).owner_pubnonce);
    // A stored request whose signing is not a withdrawal's is not one of ours to print again.
    const other = await own.withdrawRequest({ ...first.record, signing: { ...first.record.signing!, purpose: 'backup' } }, DEST, 2, c.d.owner);
    expect((other.message as Msg).owner_pubnonce).not.toBe((first.message as Msg).owner_pubnonce);
    expect(other.record.earlier_withdrawals ?? []).toEqual([]);
  });

  it('the fee guard at its edges, before any nonce: the fee is the coin less every output; at --max-fee-rate or --max-fee-share exactly it asks, a step above is E_FEE_TOO_HIGH (4)', async () => {
    const c = await coin();
    // 112 vB (withdraw-floor.test.ts, measured by test code) at 100 sat/vB: 11,200 sat of the 100,000 sat coin, 0.112 of it.
    const ok = await own.withdrawRequest(c.d.ownerRecord, DEST, 100, c.d.owner, undefined, { maxFeeRate: 100, maxFeeShare: 0.112 });
    const tx = parseTx((ok.message as Msg).tx);
    expect(100_000n - tx.outputs.reduce((s, o) => s + o.amount, 0n)).toBe(11_200n);
    // The refusal names what pays, the fee, its rate on the withdrawal's size and its share of the coin, and the limit to raise.
    const rate = await refusalAsync(own.withdrawRequest(c.d.ownerRecord, DEST, 100, c.d.owner, undefined, { maxFeeRate: 99.99, maxFeeShare: 0.5 }), 'E_FEE_TOO_HIGH', 4);
    expect(rate.message).toMatch(/^the withdrawal pays 11200 sat in fees \(100\.00 sat\/vB; 11200 sat = 11\.2% of the 100000 sat it moves\), .*raise --max-fee-rate to pay it on purpose$/);
    const share = await refusalAsync(own.withdrawRequest(c.d.ownerRecord, DEST, 100, c.d.owner, undefined, { maxFeeRate: 1000, maxFeeShare: 0.1119 }), 'E_FEE_TOO_HIGH', 4);
    expect(share.message).toMatch(/^the withdrawal pays 11200 sat in fees .*raise --max-fee-share to pay it on purpose$/);
    // The node's floor is asked only once the guard passed, and only when a node is named.
    let asks = 0;
    const relay = async () => (asks++, { minRelayFeeRate: 1000, mempoolMinFeeRate: 1000 });
    await refusalAsync(own.withdrawRequest(c.d.ownerRecord, DEST, 50, c.d.owner, relay, { maxFeeRate: 40, maxFeeShare: 0.5 }), 'E_FEE_TOO_HIGH', 4);
    expect(asks).toBe(0);
    await own.withdrawRequest(c.d.ownerRecord, DEST, 5, c.d.owner, relay);
    expect(asks).toBe(1);
  });

  it('a signed withdrawal is never asked again: E_ALREADY_WITHDRAWN (5) naming its txid and how to print, send and bump it', async () => {
    const c = await coin();
    const { req, cos } = await asked(c, 2);
    const fin = await own.withdrawFinish(req.record, cos as never, c.d.owner);
    const e = await refusalAsync(own.withdrawRequest(fin.record, DEST, 3, c.d.owner), 'E_ALREADY_WITHDRAWN', 5);
    expect(e.message).toBe(`this coin's withdrawal ${fin.signed.txid} is signed: run statechain-withdraw --coin ${c.d.ownerRecord.coin_id} (no --to) to print it again, with --broadcast to send it; if it pays too little, bump it through its anchor (package child --parent that statechain/spend)`);
  });
});

describe('the operator\'s answer to a withdrawal is checked before anything is signed', () => {
  it('a statement not closing the coin, or for another transaction, is E_BAD_STATEMENT (4); each key or fixed field changed is refused; our nonce stays unused and the honest answer finishes', async () => {
    const c = await coin();
    const { req, cos } = await asked(c, 2);
    const pubnonce = fromHex(cos.owner_pubnonce);
    const notClosed = lie(c, cos, (st) => void (st.status = 'active'));
    expect((await refusalAsync(own.withdrawFinish(req.record, notClosed as never, c.d.owner), 'E_BAD_STATEMENT', 4)).message).toBe('the operator\'s answer is not the withdrawal we asked for');
    const otherTx = (await asked(c, 3)).cos;
    // Our nonce on the other transaction's answer: the txid is what differs.
    expect((await refusalAsync(own.withdrawFinish(req.record, { ...otherTx, owner_pubnonce: cos.owner_pubnonce } as never, c.d.owner), 'E_BAD_STATEMENT', 4)).message).toBe('the operator\'s answer is not the withdrawal we asked for');
    const key = (n: number) => toHex(secp256k1.getPublicKey(bytes32(BigInt(n)), true));
    const changes: [string, (st: Statement) => void][] = [
      ['owner_auth', (st) => void (st.owner_auth = key(3))],
      ['owner_share', (st) => void (st.owner_share = key(5))],
      ['operator_share', (st) => void (st.operator_share = key(7))],
      ['owner_auth_b', (st) => void ((st as Msg).owner_auth_b = key(9))],
      ['amount_sat', (st) => void (st.amount_sat = 99_999)],
      ['outpoint', (st) => void (st.outpoint = `${st.outpoint!.split(':')[0]}:0`)],
      ['terms', (st) => void (st.terms = { ...st.terms, interval: st.terms.interval + 1 })],
      ['address', (st) => void (st.address = `${st.address.slice(0, -1)}${st.address.endsWith('q') ? 'p' : 'q'}`)],
      ['aggregate', (st) => void (st.aggregate = key(11))],
    ];
    for (const [field, patch] of changes) {
      const e = await refusalAsync(own.withdrawFinish(req.record, lie(c, cos, patch) as never, c.d.owner), 'E_BAD_STATEMENT', 4);
      expect(e.message, field).toContain(`the operator's statement changed the coin's ${field} (`);
    }
    expect(await c.d.owner.nonces.status(pubnonce)).toBe('unused');
    const fin = await own.withdrawFinish(req.record, cos as never, c.d.owner);
    verifyKeyPathSpend(fin.signed.hex, [c.prevout], c.coinOutputKey);
  });

  it('an answer for another nonce of ours is E_NONCE_MISMATCH (4); a partial signature that does not verify is E_BAD_PARTIAL_SIG (4); neither burns our nonce', async () => {
    const c = await coin();
    const { req, cos } = await asked(c, 2);
    const pubnonce = fromHex(cos.owner_pubnonce);
    const stranger = toHex(Uint8Array.from([...publicKeyOf(bytes32(21n)), ...publicKeyOf(bytes32(22n))]));
    const e = await refusalAsync(own.withdrawFinish(req.record, { ...cos, owner_pubnonce: stranger } as never, c.d.owner), 'E_NONCE_MISMATCH', 4);
    expect(e.message).toBe('this answer is for another nonce of ours');
    const psig = hexOf(bytes32((BigInt(`0x${cos.operator_psig}`) + 1n) % N));
    const bad = await refusalAsync(own.withdrawFinish(req.record, { ...cos, operator_psig: psig } as never, c.d.owner), 'E_BAD_PARTIAL_SIG', 4);
    expect(bad.message).toBe('the operator\'s partial signature does not verify for this transaction');
    expect(await c.d.owner.nonces.status(pubnonce)).toBe('unused');
    await own.withdrawFinish(req.record, cos as never, c.d.owner);
    expect(await c.d.owner.nonces.status(pubnonce)).toBe('consumed');
  });

  it('with no withdrawal under way: E_NOT_SIGNING (5) naming the coin\'s status; a stored signature of another purpose, or a statement without amount, is not signed for', async () => {
    const c = await coin();
    const { req, cos } = await asked(c, 2);
    const e = await refusalAsync(own.withdrawFinish(c.d.ownerRecord, cos as never, c.d.owner), 'E_NOT_SIGNING', 5);
    expect(e.message).toBe('this coin is active: no withdrawal of ours is waiting for the operator');
    const none = await refusalAsync(own.withdrawFinish({ ...req.record, signing: null }, cos as never, c.d.owner), 'E_NOT_SIGNING', 5);
    expect(none.message).toBe('this coin is withdrawing: no withdrawal of ours is waiting for the operator');
    const backup = { ...req.record, signing: { ...req.record.signing!, purpose: 'backup' as const } };
    expect(refusal(() => own.checkWithdrawCosigned(backup, cos as never, cos.owner_pubnonce), 'E_NOT_SIGNING', 5).message).toBe('no withdraw signature is under way for this coin');
    expect(refusal(() => own.checkWithdrawCosigned({ ...req.record, signing: null }, cos as never, cos.owner_pubnonce), 'E_NOT_SIGNING', 5).message).toBe('no withdraw signature is under way for this coin');
    // A withdrawal stored under way on a coin no longer withdrawing (it was sent on) is not finished on the operator's word.
    const sent = await refusalAsync(own.withdrawFinish({ ...req.record, status: 'sent' }, cos as never, c.d.owner), 'E_NOT_SIGNING', 5);
    expect(sent.message).toBe('this coin is sent: no withdrawal of ours is waiting for the operator');
    const noAmount = { ...req.record, statement: { ...req.record.statement, amount_sat: null } };
    expect(refusal(() => own.signingTx(noAmount, 'withdraw'), 'E_BAD_STATEMENT', 4).message).toBe('the operator\'s statement names no deposit amount');
  });
});

describe('a malformed answer or a damaged record is refused naming the field, never signed for', () => {
  const BAD_KEY = '02ab';
  const keyMessage = (field: string) => `${field} must be a 33-byte compressed public key (02/03 prefix)`;

  it('finishSignature: each of our share, the operator\'s share, both nonces, the operator\'s partial signature and our share\'s secret, malformed, is named', async () => {
    const c = await coin();
    const { req, cos } = await asked(c, 6);
    const tx = () => own.signingTx(req.record, 'withdraw');
    const nonces = { owner: cos.owner_pubnonce, operator: cos.operator_pubnonce, operatorPsig: cos.operator_psig };
    const st = c.d.ownerRecord.statement;
    const cases: [Parameters<typeof own.finishSignature>, string, string][] = [
      [[{ ...req.record, share: BAD_KEY }, st.operator_share, tx(), 'withdraw', nonces, c.d.owner], 'E_BAD_PUBKEY', keyMessage('share')],
      [[req.record, BAD_KEY, tx(), 'withdraw', nonces, c.d.owner], 'E_BAD_PUBKEY', keyMessage('operator_share')],
      [[req.record, st.operator_share, tx(), 'withdraw', { ...nonces, owner: 'ab' }, c.d.owner], 'E_BAD_LENGTH', 'owner_pubnonce must be 66 bytes, got 1'],
      [[req.record, st.operator_share, tx(), 'withdraw', { ...nonces, operator: 'ab' }, c.d.owner], 'E_BAD_LENGTH', 'operator_pubnonce must be 66 bytes, got 1'],
      [[req.record, st.operator_share, tx(), 'withdraw', { ...nonces, operatorPsig: 'ab' }, c.d.owner], 'E_BAD_LENGTH', 'operator_psig must be 32 bytes, got 1'],
      // Read only once our nonce is taken (the last case: it burns this request's nonce); the secret is never in the message.
      [[{ ...req.record, share_secret: 'ab' }, st.operator_share, tx(), 'withdraw', nonces, c.d.owner], 'E_BAD_LENGTH', 'share must be 32 bytes, got 1'],
    ];
    for (const [args, code, message] of cases) expect((await refusalAsync(own.finishSignature(...args), code, 3)).message).toBe(message);
  });

  it('a damaged record (its stored transaction, statement keys, operator key, an earlier request, backup, share or secret) is refused naming what is damaged', async () => {
    const c = await coin();
    const { req, cos } = await asked(c, 7);
    const r = req.record;
    const st = r.statement;
    const child = { destination: DEST, feeRate: 5, feeLimits: DEFAULT_FEE_LIMITS };
    const cases: [() => unknown, string, string | RegExp][] = [
      [() => own.signingTx({ ...r, signing: { ...r.signing!, tx: 'zz' } }, 'withdraw'), 'E_BAD_TRANSACTION', /^the stored transaction is not a transaction: /],
      [() => own.signingTx({ ...r, statement: { ...st, owner_share: BAD_KEY } }, 'withdraw'), 'E_BAD_PUBKEY', keyMessage('owner_share')],
      [() => own.signingTx({ ...r, statement: { ...st, operator_share: BAD_KEY } }, 'withdraw'), 'E_BAD_PUBKEY', keyMessage('operator_share')],
      [() => own.withdrawalTransaction({ statement: { ...st, owner_share: BAD_KEY } }, DEST, 2), 'E_BAD_PUBKEY', keyMessage('owner_share')],
      [() => own.withdrawalTransaction({ statement: { ...st, operator_share: BAD_KEY } }, DEST, 2), 'E_BAD_PUBKEY', keyMessage('operator_share')],
      [() => own.checkWithdrawCosigned({ ...r, operator_auth: BAD_KEY }, cos as never, cos.owner_pubnonce), 'E_BAD_PUBKEY', keyMessage('operator_auth')],
      [() => own.backupWithChild({ ...c.d.ownerRecord, share: BAD_KEY }, undefined, new Uint8Array(32)), 'E_BAD_PUBKEY', keyMessage('share')],
      [() => own.backupWithChild({ ...c.d.ownerRecord, backups: ['zz'] }, undefined, new Uint8Array(32)), 'E_BAD_TRANSACTION', /^the stored backup is not a transaction: /],
      [() => own.backupWithChild({ ...c.d.ownerRecord, statement: { ...st, owner_share: BAD_KEY } }, child, new Uint8Array(32)), 'E_BAD_PUBKEY', keyMessage('owner_share')],
      [() => own.backupWithChild({ ...c.d.ownerRecord, statement: { ...st, operator_share: BAD_KEY } }, child, new Uint8Array(32)), 'E_BAD_PUBKEY', keyMessage('operator_share')],
      [() => own.backupWithChild({ ...c.d.ownerRecord, share_secret: 'ab' }, child, new Uint8Array(32)), 'E_BAD_LENGTH', 'share must be 32 bytes, got 1'],
    ];
    for (const [fn, code, message] of cases) {
      const e = refusal(fn, code, 3);
      if (typeof message === 'string') expect(e.message).toBe(message);
      else expect(e.message).toMatch(message);
    }
    // An earlier request whose stored transaction is damaged.
    const second = await own.withdrawRequest(r, DEST, 8, c.d.owner);
    const damaged = { ...second.record, earlier_withdrawals: [{ ...second.record.earlier_withdrawals![0]!, tx: 'zz' }] };
    const e = await refusalAsync(own.withdrawFinish(damaged, cos as never, c.d.owner), 'E_BAD_TRANSACTION', 3);
    expect(e.message).toMatch(/^the stored transaction is not a transaction: /);
  });
});

describe('withdrawal step 3: the signed withdrawal is kept, printed again, never replaced', () => {
  it('the answer to an earlier request finishes the coin: its transaction signed (independent verification), every request forgotten, the statement the operator\'s', async () => {
    const c = await coin();
    const first = await own.withdrawRequest(c.d.ownerRecord, DEST, 2, c.d.owner);
    const second = await own.withdrawRequest(first.record, DEST, 3, c.d.owner);
    const cos = op.cosignWithdrawal(c.d.opRecord, first.message as never, c.d.opCtx).message as Msg;
    // The first request's txid with the second's nonce matches no request: it is checked against the one under way.
    await refusalAsync(own.withdrawFinish(second.record, { ...cos, owner_pubnonce: (second.message as Msg).owner_pubnonce } as never, c.d.owner), 'E_BAD_STATEMENT', 4);
    // The request under way's transaction with the earlier request's nonce: an answer for another nonce of ours.
    const current = op.cosignWithdrawal(c.d.opRecord, second.message as never, c.d.opCtx).message as Msg;
    const mixed = await refusalAsync(own.withdrawFinish(second.record, { ...current, owner_pubnonce: (first.message as Msg).owner_pubnonce } as never, c.d.owner), 'E_NONCE_MISMATCH', 4);
    expect(mixed.message).toBe('this answer is for another nonce of ours');
    const fin = await own.withdrawFinish(second.record, cos as never, c.d.owner);
    const tx = verifyKeyPathSpend(fin.signed.hex, [c.prevout], c.coinOutputKey);
    expect(tx.txid).toBe(parseTx((first.message as Msg).tx).txid);
    expect(fin.signed.txid).toBe(tx.txid);
    expect(fin.record).toMatchObject({ status: 'withdrawn', statement: cos.statement, signing: null, request: null, withdrawal: { txid: tx.txid, hex: fin.signed.hex, broadcast: false } });
    expect('earlier_withdrawals' in fin.record).toBe(false);
    expect(own.storedWithdrawal(fin.record)).toEqual({ txid: tx.txid, hex: fin.signed.hex });

    // The same answer again: the same bytes, nothing changed.
    const again = await own.withdrawFinish(fin.record, cos as never, c.d.owner);
    expect(again.record).toBe(fin.record);
    expect([again.signed.txid, again.signed.hex]).toEqual([fin.signed.txid, fin.signed.hex]);
    // Another transaction's answer, or this one for another coin: E_ALREADY_WITHDRAWN (5).
    const e = await refusalAsync(own.withdrawFinish(fin.record, current as never, c.d.owner), 'E_ALREADY_WITHDRAWN', 5);
    expect(e.message).toBe(`this coin's withdrawal ${tx.txid} is signed already`);
    await refusalAsync(own.withdrawFinish(fin.record, { ...cos, coin_id: '12'.repeat(16) } as never, c.d.owner), 'E_ALREADY_WITHDRAWN', 5);
  });

  it('nothing signed yet: E_NOT_SIGNED (5) naming the coin, its status and how to start one', async () => {
    const c = await coin();
    const e = refusal(() => own.storedWithdrawal(c.d.ownerRecord), 'E_NOT_SIGNED', 5);
    expect(e.message).toBe(`coin ${c.d.ownerRecord.coin_id} has no signed withdrawal here (it is active): start one with --to and --fee-rate`);
  });
});

describe('the backup that is ours, and its child only from our share\'s output', () => {
  /** A channel's funding output (P2WSH), the script a receiver asks its backup to pay. */
  const CHANNEL = Uint8Array.from([0x00, 0x20, ...new Uint8Array(32).fill(5)]);
  let sent: ReturnType<typeof send> | undefined;
  /** The shared coin sent to a receiver whose backup pays CHANNEL: the sender's record and the receiver's. */
  const toChannel = () => (sent ??= send());
  async function send() {
    const c = await coin();
    const receiver = party('channel');
    const req = tr.startReceive(c.d.ownerRecord.coin_id, c.d.operator.auth.publicKey, receiver, CHANNEL);
    const signReq = await tr.transferSign(c.d.ownerRecord, req.message as never, c.chain.height, c.d.owner);
    const cosigned = await op.cosignTransfer(c.d.opRecord, signReq.message as never, c.d.opCtx);
    const pkg = await tr.transferPackage(signReq.record, cosigned.message as never, c.d.owner);
    const accepted = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: c.chain.height, deposit: c.chain.deposit ?? null }, receiver);
    const done = op.completeTransfer(cosigned.record, accepted.message as never, c.d.opCtx);
    return { senderRecord: pkg.record, receiverRecord: tr.finishReceive(accepted.record, done.message as never) };
  }
  const ownScript = (share: string) => hexOf(taprootOutput(fromHex(share).subarray(1)).script);

  it('no backup yet: E_NO_BACKUP (5); a sender\'s record gives its own older backup, the receiver\'s its newest; a chain naming ours past what the record holds is E_NOT_OWNER (5)', async () => {
    const c = await coin();
    expect(refusal(() => own.backupWithChild({ ...c.d.ownerRecord, backups: [] }, undefined, new Uint8Array(32)), 'E_NO_BACKUP', 5).message).toBe('this coin has no signed backup yet');
    const t = await toChannel();
    expect(t.senderRecord.backups).toHaveLength(2);
    const sender = own.backupWithChild(t.senderRecord, undefined, new Uint8Array(32));
    expect(sender.hex).toBe(t.senderRecord.backups[0]);
    expect(hexOf(parseTx(sender.hex).outputs[0]!.script)).toBe(ownScript(c.d.ownerRecord.share));
    const receiver = own.backupWithChild(t.receiverRecord, undefined, new Uint8Array(32));
    expect(receiver.hex).toBe(t.receiverRecord.backups[1]);
    expect(hexOf(parseTx(receiver.hex).outputs[0]!.script)).toBe(hexOf(CHANNEL));
    expect(Object.keys(receiver).sort()).toEqual(['backup', 'hex']);
    const short = refusal(() => own.backupWithChild({ ...t.receiverRecord, backups: t.receiverRecord.backups.slice(0, 1) }, undefined, new Uint8Array(32)), 'E_NOT_OWNER', 5);
    expect(short.message).toBe("no backup of this coin is ours: the operator's statement names 2 backup(s), ours at 2, past the 1 this record holds — finish the receive under way (statechain-transfer with the operator's answer) or restore this state directory from a copy");
  });

  it('a backup paying the script its receiver chose (a channel\'s funding output) gets no child from us: E_NO_CHILD (4), naming where to bump it from', async () => {
    const t = await toChannel();
    const child = { destination: DEST, feeRate: 5, feeLimits: DEFAULT_FEE_LIMITS };
    const e = refusal(() => own.backupWithChild(t.receiverRecord, child, new Uint8Array(32)), 'E_NO_CHILD', 4);
    expect(e.message).toBe('this backup pays the script you chose (e.g. a channel\'s funding output), not your share: bump it from there, or (an anchored backup) with package child from your wallet');
  });

  it('the child spends our backup\'s output with our share\'s key (test-code verification against the backup\'s output), and the package passes the TRUC check', async () => {
    const c = await coin();
    const out = own.backupWithChild(c.d.ownerRecord, { destination: DEST, feeRate: 5, feeLimits: DEFAULT_FEE_LIMITS }, new Uint8Array(32));
    const backup = parseTx(out.hex);
    verifyKeyPathSpend(out.childHex!, [{ amount: backup.outputs[0]!.amount, script: backup.outputs[0]!.script }], taprootOutput(fromHex(c.d.ownerRecord.share).subarray(1)).outputKey);
    expect(out.verdict!.parent.txid).toBe(backup.txid);
    expect(out.verdict!.spent_parent_outputs).toEqual([0]);
    // A rate whose fee leaves less than dust of the backup's 99,600 sat (100,000 less the terms' 400 sat fee) is a fee too high (the fee guard's code), whatever the limits.
    const e = refusal(() => own.backupWithChild(c.d.ownerRecord, { destination: DEST, feeRate: 600, feeLimits: { maxFeeRate: 10_000, maxFeeShare: 1 } }, new Uint8Array(32)), 'E_FEE_TOO_HIGH', 4);
    expect(e.message).toMatch(/^at 600 sat\/vB the child's \d+ sat fee leaves -?\d+ sat of the 99600 sat it spends/);
  });
});
