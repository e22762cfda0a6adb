/**
 * The operator keeps a finished transfer as a receipt, not its statement (operator.ts, "a finished transfer is
 * kept as a receipt"): its record grows by a constant per transfer, where keeping every transfer-done statement
 * whole made it grow with the square of its transfers (about 1.1 MB at 100, past V8's longest string near
 * 2,000). What must not change for anyone: every receiver asking its finished transfer again, however long
 * after, gets its first answer byte for byte, and the operator signs nothing, draws nothing and writes nothing
 * to give it; a record written before receipts (its finished transfers' whole statements) is answered the same
 * and compacted at the coin's next step. The receipts expected here are written out in test code from the
 * statements the operator's answers carried; signatures are checked by test/independent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringifyLine } from '../../../src/lib/json.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';
import { bytesOf } from '../../independent/tx.ts';
import { bip340Verify, taggedHash } from '../../independent/secp256k1.ts';
import { refusal } from '../../setup/refusal.ts';
import { signBody } from '../../../src/lib/statechain/seal.ts';
import { record as storedRecord } from '../../state.ts';
import { TERMS, chainStub, cleanup, confirmedCoin, fixtureState, transfer, type Party } from './harness.ts';

afterAll(cleanup);

type Msg = Record<string, any>;
const ROOT = join(import.meta.dirname, '..', '..', '..');
/** Terms a coin can move under a hundred times and more: 1,000 blocks of backup lock, 6 between owners. */
const LONG = { ...TERMS, interval: 6, initial_lock: 1_000 };
const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);

/** The receipt a finished transfer's statement stands as, written out from the statement (ports.ts TransferReceipt). */
function receiptFrom(transferId: string, s: Msg): Msg {
  return {
    transfer_id: transferId, count: s.count, owner_auth: s.owner_auth, ...(s.owner_auth_b === undefined ? {} : { owner_auth_b: s.owner_auth_b }),
    operator_share: s.operator_share, operator_sig: s.operator_sig,
  };
}

/** The operator's signature on a statement, checked in test code: BIP-340 over the tagged digest of its canonical line (docs/statechain.md). */
function operatorSigned(s: Msg): boolean {
  const { operator_sig, ...body } = s;
  const digest = taggedHash('offchain/statechain/statement', new TextEncoder().encode(stringifyLine(body)));
  return bip340Verify(bytesOf(operator_sig), digest, bytesOf(s.operator_auth).subarray(1));
}

/** A coin moved `n` times: each receiver's acceptance and the answer it got, and the operator's record after each transfer. */
async function moved(n: number) {
  const c = await confirmedCoin(LONG);
  let s = { opRecord: c.d.opRecord, opCtx: c.d.opCtx, sender: c.d.owner, senderRecord: c.d.ownerRecord };
  const finished: { accept: Msg; answer: Msg; receiver: Party }[] = [];
  const records: OperatorRecord[] = [];
  for (let i = 0; i < n; i++) {
    const t = await transfer(c.chain, s, `receipt-${i}`);
    finished.push({ accept: t.steps.accepted.message as Msg, answer: t.steps.done.message as Msg, receiver: t.receiver });
    records.push(t.opRecord);
    s = { opRecord: t.opRecord, opCtx: s.opCtx, sender: t.receiver, senderRecord: t.receiverRecord };
  }
  return { c, finished, records, last: s };
}

/** The step again on `record`, with the operator's randomness watched: what it answered and how many draws it made. */
function replay(record: OperatorRecord, accept: Msg, ctx: op.OperatorContext) {
  let draws = 0;
  const random = { ...ctx.random, bytes: (len: number, label: string) => (draws++, ctx.random.bytes(len, label)) };
  const out = op.completeTransfer(record, accept as never, { ...ctx, random });
  return { out, draws };
}

describe('a finished transfer is a receipt', () => {
  let world: Awaited<ReturnType<typeof moved>> | undefined;
  const twelve = async () => (world ??= await moved(12));

  it('each completion appends its receipt, written out from the statement it answered with; the record keeps no finished statement', async () => {
    const { finished, records } = await twelve();
    for (const [i, r] of records.entries()) {
      expect(r.done).toStrictEqual(finished.slice(0, i + 1).map((f) => receiptFrom(f.accept.transfer_id, f.answer.statement)));
      // Each backup's txid in the record: once in its statement and once in the last co-signing answer's (whose
      // backup_txid names the newest once more), not once per finished transfer.
      const text = JSON.stringify(r);
      for (const b of r.statement.backups) expect(text.split(b.txid).length - 1, `backup ${b.n}`).toBe(b.n === r.statement.count ? 3 : 2);
    }
  });

  it('every receiver asking again after twelve transfers gets its first answer byte for byte; nothing drawn, signed or changed', async () => {
    const { c, finished, records } = await twelve();
    const record = records.at(-1)!;
    const before = JSON.stringify(record);
    for (const f of finished) {
      const { out, draws } = replay(record, f.accept, c.d.opCtx);
      expect(stringifyLine(out.message)).toBe(stringifyLine(f.answer));
      expect(operatorSigned(out.message.statement as Msg)).toBe(true);
      expect(draws).toBe(0);
      expect(out.record).toBe(record);
    }
    expect(JSON.stringify(record)).toBe(before);
  });

  it('a receiver asking again after the coin was withdrawn gets its answer too (the withdrawal changes no receipt)', async () => {
    const { c, finished, records, last } = await twelve();
    const w = await own.withdrawRequest(last.senderRecord, DEST, 2, last.sender);
    const closed = await op.cosignWithdrawal(records.at(-1)!, w.message as never, c.d.opCtx);
    expect(closed.record.statement.status).toBe('withdrawn');
    expect(closed.record.done).toStrictEqual(records.at(-1)!.done);
    for (const f of [finished[0]!, finished.at(-1)!]) expect(stringifyLine(replay(closed.record, f.accept, c.d.opCtx).out.message)).toBe(stringifyLine(f.answer));
  });

  it('the record grows by a constant per transfer, not by the coin\'s backups so far', async () => {
    const { records } = await moved(30);
    const size = (i: number) => JSON.stringify(records[i - 1]).length;
    const early = (size(12) - size(2)) / 10;
    const late = (size(30) - size(20)) / 10;
    // One backup record (twice: the statement and the last answer's), a nonce tag and a receipt: well under 1.5 kB.
    // Whole statements kept added the whole statement each time: ~200 bytes more per transfer with every transfer.
    expect(late).toBeLessThan(1_500);
    expect(late - early).toBeLessThan(50);
  });
});

describe('records written before receipts', () => {
  /** `record` as an older operator wrote it: each finished transfer's whole statement, as its answer carried it. */
  const legacy = (record: OperatorRecord, finished: { accept: Msg; answer: Msg }[]): OperatorRecord => ({
    ...record, done: finished.map((f) => ({ transfer_id: f.accept.transfer_id, statement: structuredClone(f.answer.statement) })),
  });

  it('their finished statements are answered as they are, then kept as receipts from the coin\'s next step on', async () => {
    const { c, finished, records, last } = await moved(3);
    const old = legacy(records.at(-1)!, finished);
    for (const f of finished) {
      const { out, draws } = replay(old, f.accept, c.d.opCtx);
      expect(stringifyLine(out.message)).toBe(stringifyLine(f.answer));
      expect([draws, out.record === old]).toEqual([0, true]);
    }
    const next = await transfer(c.chain, { ...last, opRecord: old }, 'receipt-after-legacy');
    const all = [...finished, { accept: next.steps.accepted.message as Msg, answer: next.steps.done.message as Msg, receiver: next.receiver }];
    expect(next.opRecord.done).toStrictEqual(all.map((f) => receiptFrom(f.accept.transfer_id, f.answer.statement)));
    for (const f of all) expect(stringifyLine(replay(next.opRecord, f.accept, c.d.opCtx).out.message)).toBe(stringifyLine(f.answer));
  });

  it('a kept statement that is not this coin\'s (a store writer\'s) stays as it is and is never answered: E_STATE_CORRUPT', async () => {
    const a = await moved(1);
    const b = await moved(1);
    // Coin B's genuine finished statement (signed by B's operator, naming B's receiver) planted in coin A's record under a
    // new transfer id, asked for by B's receiver with an acceptance it signs for coin A.
    const [fa, fb] = [a.finished[0]!, b.finished[0]!];
    const id = 'ab'.repeat(16);
    const planted: OperatorRecord = { ...a.records[0]!, done: [...a.records[0]!.done, { transfer_id: id, statement: structuredClone(fb.answer.statement) as never }] };
    const { receiver_sig: _sig, ...body } = { ...fb.accept, coin_id: a.records[0]!.coin_id, transfer_id: id } as Msg;
    const ask = { ...body, receiver_sig: signBody('statechain/transfer-accept', body, fb.receiver.auth.secretKey, new Uint8Array(32)) };
    const e = refusal(() => op.completeTransfer(planted, ask as never, a.c.d.opCtx), 'E_STATE_CORRUPT', 3);
    expect(e.message).toContain(`does not give back a statement this operator signed for coin ${a.records[0]!.coin_id}`);
    // Compaction at A's next step leaves it as it is (it is not this coin's), and keeps A's own as its receipt.
    const w = await own.withdrawRequest(a.last.senderRecord, DEST, 2, a.last.sender);
    const closed = await op.cosignWithdrawal(planted, w.message as never, a.c.d.opCtx);
    expect(closed.record.done).toStrictEqual([receiptFrom(fa.accept.transfer_id, fa.answer.statement), planted.done[1]]);
    refusal(() => op.completeTransfer(closed.record, ask as never, a.c.d.opCtx), 'E_STATE_CORRUPT', 3);
  });

  it('the repository\'s operator fixture as written before receipts answers its acceptance with its transfer-done, byte for byte, and is compacted at its withdrawal; as written now, it holds that receipt', () => {
    const dir = join(ROOT, 'fixtures', 'statechain');
    // The fixture operator's record from before receipts (the fixtures are made again since: older/ keeps it as it was).
    const record = JSON.parse(readFileSync(join(import.meta.dirname, 'older', 'op-3a95fbf6f491e385593b652bb35c5934.json'), 'utf8')) as OperatorRecord;
    const accept = JSON.parse(readFileSync(join(dir, 'transfer-accept.json'), 'utf8')) as Msg;
    const doneMsg = JSON.parse(readFileSync(join(dir, 'transfer-done.json'), 'utf8')) as Msg;
    const operator = keyPair(bytesOf(readFileSync(join(ROOT, 'fixtures', 'keys', 'mint.key'), 'utf8').trim()));
    const ctx: op.OperatorContext = { operator, random: { bytes: () => { throw new Error('test: a replay draws nothing'); } } as never, chain: chainStub(200), network: 'regtest' };
    expect(stringifyLine(op.completeTransfer(record, accept as never, ctx).message)).toBe(stringifyLine(doneMsg));
    const withdraw = JSON.parse(readFileSync(join(dir, 'withdraw-request.json'), 'utf8')) as Msg;
    const closed = op.cosignWithdrawal(record, withdraw as never, { ...ctx, random: { bytes: (n: number) => new Uint8Array(n).fill(5) } as never });
    expect(closed.record.done).toStrictEqual([receiptFrom(accept.transfer_id, doneMsg.statement)]);
    // The fixture as the toolkit writes it now (its state.sqlite, the share sealed under the operator's key): the receipt, the same answer.
    const now = storedRecord<OperatorRecord>(fixtureState('operator'), 'statechain-operator', '3a95fbf6f491e385593b652bb35c5934', operator.secretKey)!;
    expect(now.share_secret).toBe(record.share_secret);
    expect(now.done).toStrictEqual([receiptFrom(accept.transfer_id, doneMsg.statement)]);
    expect(stringifyLine(op.completeTransfer(now, accept as never, ctx).message)).toBe(stringifyLine(doneMsg));
  });
});
