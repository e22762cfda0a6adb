/**
 * Adversarial review of the operator's finished-transfer receipts (commit 4f4be64d: ports.ts
 * TransferReceipt, statement.ts statementOfReceipt, operator.ts finishedStatement / compacted,
 * a replay that writes nothing), as the other party and as whoever can edit the operator's
 * record (its row in state.sqlite, or PostgreSQL's `record` column — not the sealed share).
 *
 * What each test holds, whatever the record says:
 * - a repeated transfer-accept gets the very statement its first answer carried (byte for byte
 *   as printed), or a coded refusal — never a statement this operator did not sign for this coin,
 *   never a new signature (no random draw at all: every signature the operator makes draws its
 *   BIP-340 aux or nonce), never a TypeError, and the record it was given back unchanged;
 * - a party that is not the receiver the transfer finished for gets a refusal;
 * - an older record's whole statements are answered as they were, compacted to receipts by the
 *   next real step only when the receipt gives back exactly the same statement.
 * Every operator signature a test relies on is checked by test/independent's BIP-340.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringifyLine, stringifyMessage } from '../../../src/lib/json.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { deterministicRandom, type RandomSource } from '../../../src/lib/random.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';
import { signBody } from '../../../src/lib/statechain/seal.ts';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { OPERATOR_SECRETS, SqliteOperatorStore } from '../../../src/lib/store/sqlite/operator.ts';
import { Records } from '../../../src/lib/store/sqlite/records.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { dbFile, record } from '../../state.ts';
import { bip340Verify, taggedHash } from '../../independent/secp256k1.ts';
import { bytesOf, hexOf } from '../../independent/tx.ts';
import { refusal } from '../../setup/refusal.ts';
import { ANCHORED_TERMS, TERMS, chainStub, cleanup, confirmedCoin, fixtureState, party, partyNonces, type Party } from './harness.ts';

afterAll(cleanup);

type Msg = Record<string, any>;
const clone = <T>(v: T): T => structuredClone(v);
const TO = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);
const SCRIPT = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(5)]);
const ROOT = join(__dirname, '..', '..', '..');

/** The operator's signature on a statement, checked in test code (BIP-340 over the tagged hash of its canonical line). */
function operatorSigned(st: Msg, operatorPub: Uint8Array): boolean {
  const { operator_sig, ...body } = st;
  if (typeof operator_sig !== 'string' || !/^[0-9a-f]{128}$/.test(operator_sig)) return false;
  return bip340Verify(bytesOf(operator_sig), taggedHash('offchain/statechain/statement', new TextEncoder().encode(stringifyLine(body))), operatorPub.subarray(1));
}

/** The context with its randomness counted: a step that signs anything draws (an aux, a nonce, a scalar). */
function counted(ctx: op.OperatorContext): { ctx: op.OperatorContext; draws: () => number } {
  let n = 0;
  const random: RandomSource = {
    deterministic: ctx.random.deterministic,
    bytes: (length, label) => {
      n++;
      return ctx.random.bytes(length, label);
    },
  };
  return { ctx: { ...ctx, random }, draws: () => n };
}

/** A message re-signed after changes, by `secret`. */
function resigned(m: Msg, changes: Msg, field: string, secret: Uint8Array): Msg {
  const { [field]: _sig, ...body } = { ...m, ...changes };
  return { ...body, [field]: signBody(String(m.type), body, secret, new Uint8Array(32)) };
}

/**
 * The step on `record` refused with `code` (exit class `exit`), not a TypeError: nothing drawn (nothing signed), the
 * record it was given unchanged.
 */
function refusedReplay(record: OperatorRecord, accept: Msg, ctx: op.OperatorContext, code: string, exit: number): OffchainError {
  const before = clone(record);
  const c = counted(ctx);
  const e = refusal(() => op.completeTransfer(record, accept as never, c.ctx), code, exit);
  expect(c.draws()).toBe(0);
  expect(record).toEqual(before);
  return e;
}

/** The replay answered: exactly `first` as printed, nothing drawn, the very record given back. */
function sameAnswer(record: OperatorRecord, accept: Msg, ctx: op.OperatorContext, first: Msg): void {
  const before = clone(record);
  const c = counted(ctx);
  const again = op.completeTransfer(record, accept as never, c.ctx);
  expect(stringifyMessage(again.message)).toBe(stringifyMessage(first));
  expect(again.record).toBe(record);
  expect(record).toEqual(before);
  expect(c.draws()).toBe(0);
}

type Hop = { receiver: Party; pending: tr.PendingReceive; accept: Msg; done: Msg; receiverRecord: own.OwnerRecord; acceptedRecord: own.OwnerRecord };

/**
 * A coin through: Alice deposits; Alice → Bob; Bob → Carol (her backup pays a script); Carol → a ghost (co-signed,
 * never finished) replaced by Carol → Dave; Dave → Bob again (the same key receives twice); Bob withdraws.
 */
async function history() {
  const { chain, d } = await confirmedCoin();
  const facts = { tipHeight: chain.height, deposit: chain.deposit! };
  const coinId = d.ownerRecord.coin_id;
  const opPub = d.operator.auth.publicKey;
  let opRecord = d.opRecord;
  const records: OperatorRecord[] = [opRecord];
  const hop = async (sender: Party, senderRecord: own.OwnerRecord, receiver: Party, backupScript?: Uint8Array, detour?: Party): Promise<Hop> => {
    let from = senderRecord;
    if (detour !== undefined) {
      // Co-signed towards `detour`, never finished: its backup stays counted, its transfer replaced below.
      const ghost = tr.startReceive(coinId, opPub, detour);
      const s = await tr.transferSign(from, ghost.message as never, chain.height, sender);
      const c = await op.cosignTransfer(opRecord, s.message as never, d.opCtx);
      opRecord = c.record;
      records.push(opRecord);
      from = (await tr.transferPackage(s.record, c.message as never, sender)).record;
    }
    const req = tr.startReceive(coinId, opPub, receiver, backupScript);
    const s = await tr.transferSign(from, req.message as never, chain.height, sender);
    const c = await op.cosignTransfer(opRecord, s.message as never, d.opCtx);
    records.push(c.record);
    const pkg = await tr.transferPackage(s.record, c.message as never, sender);
    const acc = tr.acceptPackage(pkg.message as never, req.pending, facts, receiver);
    const done = op.completeTransfer(c.record, acc.message as never, d.opCtx);
    opRecord = done.record;
    records.push(opRecord);
    return { receiver, pending: req.pending, accept: acc.message as Msg, done: done.message as Msg, receiverRecord: tr.finishReceive(acc.record, done.message as never), acceptedRecord: acc.record };
  };
  const bob = party('rcpt-bob');
  const carol = party('rcpt-carol');
  const dave = party('rcpt-dave');
  const h1 = await hop(d.owner, d.ownerRecord, bob);
  const h2 = await hop(bob, h1.receiverRecord, carol, SCRIPT);
  const h3 = await hop(carol, h2.receiverRecord, dave, undefined, party('rcpt-ghost'));
  const h4 = await hop(dave, h3.receiverRecord, bob);
  const active = opRecord;
  const w = await own.withdrawRequest(h4.receiverRecord, TO, 2, bob);
  const closing = op.cosignWithdrawal(active, w.message as never, d.opCtx);
  const withdrawn = closing.record;
  return { chain, d, coinId, opPub, hops: [h1, h2, h3, h4], active, withdrawn, records, bob, carol, dave, closing: closing.message as Msg };
}

/** A confirmed coin of `operator` (harness.ts confirmedCoin, with an operator given). */
async function coinOf(operator: Party) {
  const { chain, d } = await confirmedCoin(TERMS, operator);
  return { chain, owner: d.owner, opCtx: d.opCtx, opRecord: d.opRecord, ownerRecord: d.ownerRecord, coinId: d.ownerRecord.coin_id };
}

let built: Promise<Awaited<ReturnType<typeof history>>> | undefined;
const world = () => (built ??= history());

/** A coin the pair Alice+Bob received (as harness.ts pairOwned), keeping the pair's acceptance. */
async function pairCoin() {
  const { chain, d } = await confirmedCoin(ANCHORED_TERMS);
  const facts = { tipHeight: 200, deposit: chain.deposit! };
  const coinId = d.ownerRecord.coin_id;
  const alice = party('rcpt-pair-a');
  const bob = party('rcpt-pair-b');
  const b = joint.startPart(coinId, d.operator.auth.publicKey, bob, SCRIPT);
  const a = joint.startJointReceive(coinId, d.operator.auth.publicKey, b.message as never, alice, SCRIPT);
  const sign = await tr.transferSign(d.ownerRecord, a.message as never, 200, d.owner);
  const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
  const pkg = await tr.transferPackage(sign.record, cos.message as never, d.owner);
  const taken = joint.jointTakePackage(pkg.message as never, a.pending, facts, alice);
  const t2 = joint.jointTakeHandoff(taken.message as never, b.pending, facts, bob);
  const accept = joint.jointAcceptFrom(t2.message as never, taken.record, alice) as Msg;
  const done = op.completeTransfer(cos.record, accept as never, d.opCtx);
  return { d, alice, bob, accept, done: done.message as Msg, opRecord: done.record };
}

describe('the other party: a repeated transfer-accept', () => {
  it('every finished transfer of a long history (a backup script, a replaced transfer, one key receiving twice) gets its first answer again, before and after the withdrawal, signing nothing', async () => {
    const w = await world();
    for (const h of w.hops) {
      // The first answer is the operator's signature over the statement that makes this receiver the owner.
      expect(operatorSigned(h.done.statement, w.opPub)).toBe(true);
      expect(h.done.statement).toMatchObject({ coin_id: w.coinId, status: 'active', owner_auth: h.pending.auth, owner_share: h.pending.share, transfer: null });
      sameAnswer(w.active, h.accept, w.d.opCtx, h.done);
      sameAnswer(w.withdrawn, h.accept, w.d.opCtx, h.done);
      // At every later point of the coin's life too (each version of the record after its completion).
      for (const r of w.records.filter((x) => x.done.some((f) => f.transfer_id === h.accept.transfer_id))) sameAnswer(r, h.accept, w.d.opCtx, h.done);
      // The receiver that lost its answer finishes with the replayed one exactly as with the first.
      const again = op.completeTransfer(w.withdrawn, h.accept as never, w.d.opCtx);
      expect(tr.finishReceive(h.acceptedRecord, again.message as never)).toEqual(h.receiverRecord);
    }
    // The record keeps a receipt per finished transfer, not a statement (the point of the change).
    expect(w.withdrawn.done.map((f) => Object.keys(f).sort())).toEqual(w.hops.map(() => ['count', 'operator_share', 'operator_sig', 'owner_auth', 'transfer_id']));
    expect(w.withdrawn.done.map((f) => (f as { count: number }).count)).toEqual([2, 3, 5, 6]);
  });

  it('a receiver re-signing its acceptance with another t₂ or share gets the same answer, never a new signature; the sender relaying the receiver\'s message gets it too', async () => {
    const w = await world();
    const h = w.hops[1]!;
    const other = resigned(h.accept, { t2_sealed: w.hops[0]!.accept.t2_sealed, receiver_share: w.hops[0]!.pending.share }, 'receiver_sig', h.receiver.auth.secretKey);
    sameAnswer(w.withdrawn, other, w.d.opCtx, h.done);
    sameAnswer(w.active, h.accept, w.d.opCtx, h.done);
  });

  it('a stranger, the sender or another past owner: E_WRONG_RECEIVER under its own key, E_BAD_REQUEST_SIG under the receiver\'s without its signature', async () => {
    const w = await world();
    const h = w.hops[1]!; // Bob → Carol
    const mallory = party('rcpt-mallory');
    for (const who of [mallory, w.bob, w.dave]) {
      const m = resigned(h.accept, { receiver_auth: hexOf(who.auth.publicKey) }, 'receiver_sig', who.auth.secretKey);
      refusedReplay(w.active, m, w.d.opCtx, 'E_WRONG_RECEIVER', 4);
      refusedReplay(w.withdrawn, m, w.d.opCtx, 'E_WRONG_RECEIVER', 4);
    }
    // Carol's key named, someone else's signature (or Carol's signature over another transfer's acceptance).
    refusedReplay(w.withdrawn, resigned(h.accept, {}, 'receiver_sig', mallory.auth.secretKey), w.d.opCtx, 'E_BAD_REQUEST_SIG', 4);
    refusedReplay(w.withdrawn, { ...h.accept, receiver_sig: w.hops[0]!.accept.receiver_sig }, w.d.opCtx, 'E_BAD_REQUEST_SIG', 4);
    // Bob received twice: his acceptance of the first transfer, its id swapped for the second's, does not verify.
    refusedReplay(w.withdrawn, { ...w.hops[0]!.accept, transfer_id: w.hops[3]!.accept.transfer_id }, w.d.opCtx, 'E_BAD_REQUEST_SIG', 4);
    // The replaced transfer's id was never finished: nothing to answer (the coin is withdrawn, or no transfer pends).
    const ghostId = w.records[5]!.statement.transfer!.transfer_id;
    expect(w.withdrawn.done.some((f) => f.transfer_id === ghostId)).toBe(false);
    refusedReplay(w.withdrawn, { ...h.accept, transfer_id: ghostId }, w.d.opCtx, 'E_COIN_WITHDRAWN', 4);
    refusedReplay(w.active, { ...h.accept, transfer_id: ghostId }, w.d.opCtx, 'E_NO_TRANSFER', 5);
  });

  it('a pair\'s acceptance (owner_auth_b, a backup script) gets its first answer again; B under its own key is E_WRONG_RECEIVER', async () => {
    const p = await pairCoin();
    expect(operatorSigned(p.done.statement, p.d.operator.auth.publicKey)).toBe(true);
    expect(p.done.statement.owner_auth_b).toBe(hexOf(p.bob.auth.publicKey));
    expect(p.opRecord.done).toEqual([{ transfer_id: p.accept.transfer_id, count: 2, owner_auth: hexOf(p.alice.auth.publicKey), owner_auth_b: hexOf(p.bob.auth.publicKey), operator_share: p.done.statement.operator_share, operator_sig: p.done.statement.operator_sig }]);
    sameAnswer(p.opRecord, p.accept, p.d.opCtx, p.done);
    refusedReplay(p.opRecord, resigned(p.accept, { receiver_auth: hexOf(p.bob.auth.publicKey) }, 'receiver_sig', p.bob.auth.secretKey), p.d.opCtx, 'E_WRONG_RECEIVER', 4);
    // A writer who drops owner_auth_b (or names another B) gets nothing sent.
    const [rc] = p.opRecord.done as Msg[];
    const { owner_auth_b: _b, ...noB } = rc!;
    refusedReplay({ ...p.opRecord, done: [noB as never] }, p.accept, p.d.opCtx, 'E_STATE_CORRUPT', 3);
    refusedReplay({ ...p.opRecord, done: [{ ...rc, owner_auth_b: hexOf(p.alice.auth.publicKey) } as never] }, p.accept, p.d.opCtx, 'E_STATE_CORRUPT', 3);
  });
});

describe('the store writer: an edited receipt or coin gets E_STATE_CORRUPT, nothing signed, nothing answered', () => {
  /** Transfer 2 (Bob → Carol, a backup script) on the withdrawn record, with its receipt replaced by `edit(receipt)`. */
  const withReceipt = (w: Awaited<ReturnType<typeof history>>, edit: (r: Msg) => unknown): OperatorRecord => {
    const r = clone(w.withdrawn);
    (r.done as unknown[])[1] = edit(clone(r.done[1]) as Msg);
    return r;
  };

  it('each receipt member edited: count (0, -1, 1.5, "2", null, a neighbour\'s, past the backups, huge), the operator share, the signature (a bit, its length, its type), owner_auth_b added', async () => {
    const w = await world();
    const h = w.hops[1]!;
    const n = w.withdrawn.statement.backups.length;
    const counts: unknown[] = [0, -1, 1.5, '3', null, true, [3], { n: 3 }, 2, 4, n, n + 1, 1e300, Number.MAX_SAFE_INTEGER];
    for (const count of counts) refusedReplay(withReceipt(w, (r) => ({ ...r, count })), h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    const sig = (w.withdrawn.done[1] as Msg).operator_sig as string;
    const flipped = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
    for (const operator_sig of [flipped, sig.slice(2), sig + '00', '', null, 7, { sig }, (w.withdrawn.done[0] as Msg).operator_sig]) {
      refusedReplay(withReceipt(w, (r) => ({ ...r, operator_sig })), h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    }
    for (const operator_share of [(w.withdrawn.done[0] as Msg).operator_share, w.withdrawn.statement.operator_share, null, '']) {
      refusedReplay(withReceipt(w, (r) => ({ ...r, operator_share })), h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    }
    for (const owner_auth_b of [hexOf(w.bob.auth.publicKey), null, '']) {
      refusedReplay(withReceipt(w, (r) => ({ ...r, owner_auth_b })), h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    }
    // Members the rebuild does not read change nothing it sends: the same answer.
    sameAnswer(withReceipt(w, (r) => ({ ...r, status: 'withdrawn', backups: [], owner_share: '02'.padEnd(66, '1'), coin_id: 'ab'.repeat(16) })), h.accept, w.d.opCtx, h.done);
  });

  it('the receipt\'s owner_auth set to the writer\'s own key: the writer\'s signed acceptance gets E_STATE_CORRUPT, never the statement', async () => {
    const w = await world();
    const h = w.hops[1]!;
    const mallory = party('rcpt-writer');
    const mine = hexOf(mallory.auth.publicKey);
    const m = resigned(h.accept, { receiver_auth: mine }, 'receiver_sig', mallory.auth.secretKey);
    refusedReplay(withReceipt(w, (r) => ({ ...r, owner_auth: mine })), m, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    // As a whole statement (an older record's entry) with its owner changed: the same.
    const planted = { transfer_id: h.accept.transfer_id, statement: { ...h.done.statement, owner_auth: mine } };
    refusedReplay(withReceipt(w, () => planted), m, w.d.opCtx, 'E_STATE_CORRUPT', 3);
  });

  it('a receipt of another coin of this operator under this transfer\'s id, or this coin\'s record spliced whole into another coin\'s: E_STATE_CORRUPT', async () => {
    const w = await world();
    const h = w.hops[1]!;
    // Another coin of the same operator, one transfer to Carol's key: its receipt is this operator's too.
    const other = await coinOf(w.d.operator);
    const req = tr.startReceive(other.coinId, w.opPub, w.carol);
    const sgn = await tr.transferSign(other.ownerRecord, req.message as never, 200, other.owner);
    const c = await op.cosignTransfer(other.opRecord, sgn.message as never, other.opCtx);
    const pkg = await tr.transferPackage(sgn.record, c.message as never, other.owner);
    const acc = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: 200, deposit: other.chain.deposit! }, w.carol);
    const other2 = op.completeTransfer(c.record, acc.message as never, other.opCtx).record;
    expect(operatorSigned(op.completeTransfer(other2, acc.message as never, other.opCtx).message.statement, w.opPub)).toBe(true);
    const foreign = other2.done[0]!;
    refusedReplay(withReceipt(w, () => ({ ...foreign, transfer_id: h.accept.transfer_id })), h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    // The other coin's statement and receipts under this coin's id (the request names this coin; the record's coin_id is this one).
    // The rebuilt statement is this operator's, signature and all — about the other coin: the coin check refuses it.
    const spliced: OperatorRecord = { ...clone(other2), coin_id: w.coinId, done: [{ ...foreign, transfer_id: h.accept.transfer_id }] };
    refusedReplay(spliced, h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
  });

  it('the coin\'s own statement edited (terms, address, amount, outpoint, network, operator key, a backup before or at the count): every receipt that rests on it is E_STATE_CORRUPT', async () => {
    const w = await world();
    const h = w.hops[1]!; // count 3
    const edits: ((s: Msg) => void)[] = [
      (s) => (s.terms = { ...s.terms, interval: 11 }),
      (s) => (s.terms = { ...s.terms, anchor: true }),
      (s) => (s.address = w.records[0]!.statement.address.replace(/.$/, (c) => (c === 'q' ? 'p' : 'q'))),
      (s) => (s.amount_sat = s.amount_sat + 1),
      (s) => (s.outpoint = s.outpoint.replace(/:1$/, ':2')),
      (s) => (s.network = 'testnet'),
      (s) => (s.operator_auth = hexOf(w.bob.auth.publicKey)),
      (s) => (s.coin_id = 'ab'.repeat(16)),
      (s) => (s.backups[0].txid = s.backups[1].txid),
      (s) => (s.backups[2].owner_share = s.backups[1].owner_share),
      (s) => (s.backups[2].locktime += 1),
      (s) => (s.backups[1].n = 3),
      (s) => delete s.backups[2].script,
      (s) => (s.backups[2].script = `0014${'06'.repeat(20)}`),
      (s) => (s.backups[0].script = hexOf(SCRIPT)),
      (s) => s.backups.splice(1, 1),
      (s) => s.backups.reverse(),
    ];
    for (const edit of edits) {
      const r = clone(w.withdrawn);
      edit(r.statement as Msg);
      refusedReplay(r, h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    }
    // Edits past the receipt's count or of members it does not rest on: the same answer.
    for (const edit of [(s: Msg) => (s.backups[5].txid = s.backups[4].txid), (s: Msg) => (s.status = 'deposit'), (s: Msg) => (s.owner_auth = hexOf(w.dave.auth.publicKey))]) {
      const r = clone(w.withdrawn);
      edit(r.statement as Msg);
      sameAnswer(r, h.accept, w.d.opCtx, h.done);
    }
  });

  it('a receipt of another transfer of this coin under this id (the key that received twice), or a planted statement this operator signed for another step: whatever is answered, the receiver refuses it', async () => {
    const w = await world();
    const [first, , , second] = w.hops;
    // Bob received transfers 1 and 4: transfer 4's receipt replaced by transfer 1's, under transfer 4's id.
    const planted: OperatorRecord[] = [
      { ...clone(w.withdrawn), done: w.withdrawn.done.map((f, i) => (i === 3 ? { ...clone(w.withdrawn.done[0]!), transfer_id: second!.accept.transfer_id } : f)) },
      // Transfer 1's whole first answer planted as an older record's entry under transfer 4's id.
      { ...clone(w.withdrawn), done: w.withdrawn.done.map((f, i) => (i === 3 ? { transfer_id: second!.accept.transfer_id, statement: first!.done.statement } : f)) } as OperatorRecord,
      // The withdrawal's statement (status withdrawn, Bob its owner), this operator's, planted as transfer 4's.
      { ...clone(w.withdrawn), done: w.withdrawn.done.map((f, i) => (i === 3 ? { transfer_id: second!.accept.transfer_id, statement: w.closing.statement } : f)) } as OperatorRecord,
    ];
    expect(operatorSigned(w.closing.statement, w.opPub)).toBe(true);
    for (const r of planted) {
      let answer: Msg | undefined;
      try {
        answer = op.completeTransfer(r, second!.accept as never, w.d.opCtx).message as Msg;
      } catch (e) {
        expect(e).toBeInstanceOf(OffchainError);
        continue;
      }
      // Nothing but a statement this operator signed for this coin ever leaves…
      expect(operatorSigned(answer.statement, w.opPub)).toBe(true);
      expect(answer.statement.coin_id).toBe(w.coinId);
      // …and Bob, who lost transfer 4's answer, refuses one that is not his transfer's: he is not made owner of another chain.
      refusal(() => tr.finishReceive(second!.acceptedRecord, answer as never), 'E_BAD_STATEMENT', 4);
    }
  });

  it('an older record\'s whole statement, planted or mangled: garbage, extra or __proto__ members, another coin\'s, a bad signature, a co-signing statement — a refusal, never a TypeError; a genuine one is answered', async () => {
    const w = await world();
    const h = w.hops[1]!;
    const st = h.done.statement as Msg;
    const legacy = (statement: unknown) => ({ transfer_id: h.accept.transfer_id, statement });
    // No receiver named at all: not an entry this operator wrote. Another receiver named: refused as such.
    for (const s of ['x', 7, null, [], {}, { owner_auth: 7 }]) refusedReplay({ ...clone(w.withdrawn), done: [legacy(s) as never] }, h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    refusedReplay({ ...clone(w.withdrawn), done: [legacy({ ...st, owner_auth: hexOf(w.bob.auth.publicKey) }) as never] }, h.accept, w.d.opCtx, 'E_WRONG_RECEIVER', 4);
    const proto = JSON.parse(`{"__proto__":{"status":"withdrawn"},${stringifyLine(st).slice(1)}`) as Msg;
    expect(Object.keys(proto)).toContain('__proto__');
    const { operator_sig: _sig, ...unsigned } = st;
    const bad: unknown[] = [
      { owner_auth: st.owner_auth },
      unsigned,
      { ...st, operator_sig: null },
      { ...st, operator_sig: 'zz' },
      { ...st, extra: 1 },
      { ...st, count: String(st.count) },
      { ...st, backups: st.backups.slice(0, -1) },
      { ...st, coin_id: 'ab'.repeat(16) },
      proto,
      { ...st, operator_sig: (w.hops[0]!.done.statement as Msg).operator_sig },
    ];
    for (const s of bad) refusedReplay({ ...clone(w.withdrawn), done: [legacy(s) as never] }, h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    // The genuine statement, kept whole, is sent as it is — with members in another order, or its records' too.
    sameAnswer({ ...clone(w.withdrawn), done: [legacy(clone(st)) as never] }, h.accept, w.d.opCtx, h.done);
    const reordered = Object.fromEntries(Object.entries(clone(st)).reverse());
    reordered.backups = (reordered.backups as Msg[]).map((b) => Object.fromEntries(Object.entries(b).reverse()));
    sameAnswer({ ...clone(w.withdrawn), done: [legacy(reordered) as never] }, h.accept, w.d.opCtx, h.done);
  });

  it('finished transfers reordered, or others dropped: each left still answers the same; a dropped one is no longer finished', async () => {
    const w = await world();
    const r = { ...clone(w.active), done: [...clone(w.active.done)].reverse() };
    for (const h of w.hops) sameAnswer(r, h.accept, w.d.opCtx, h.done);
    const dropped = { ...clone(w.active), done: clone(w.active.done).filter((_, i) => i !== 1) };
    sameAnswer(dropped, w.hops[2]!.accept, w.d.opCtx, w.hops[2]!.done);
    refusedReplay(dropped, w.hops[1]!.accept, w.d.opCtx, 'E_NO_TRANSFER', 5);
  });
});

describe('an older record (whole statements): answered as kept, compacted only when the receipt gives back the same', () => {
  const fixture = (name: string) => readFileSync(join(ROOT, 'fixtures', 'statechain', name), 'utf8');
  // The fixture operator's record as the toolkit wrote it before receipts (whole statements in `done`), kept
  // here since the fixtures were made again (an imported file layout still brings such records: migrate-v0.ts).
  const legacyRecord = () => JSON.parse(readFileSync(join(__dirname, 'older', 'op-3a95fbf6f491e385593b652bb35c5934.json'), 'utf8')) as OperatorRecord;
  const key = (name: string) => keyPair(bytesOf(readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim()));
  const operatorCtx = (): op.OperatorContext => ({ operator: key('mint'), random: deterministicRandom('rcpt-legacy-operator'), chain: chainStub(200), network: 'regtest' });
  const bobCtx = (): Party => {
    const dir = mkdtempSync(join(tmpdir(), 'rcpt-legacy-bob-'));
    return { auth: key('bob'), random: deterministicRandom(`rcpt-legacy-bob-${dir}`), nonces: partyNonces(dir, key('bob').secretKey), network: 'regtest', dir };
  };
  const accept = () => JSON.parse(fixture('transfer-accept.json')) as Msg;
  const doneFixture = () => JSON.parse(fixture('transfer-done.json')) as Msg;
  /** A real step on the coin: Bob, its owner, withdraws (fixtures/statechain/state/bob). */
  const withdrawn = async (r: OperatorRecord) => {
    const bobRecord = record<own.OwnerRecord>(fixtureState('bob'), 'statechain', 'coin-3a95fbf6f491e385593b652bb35c5934')!;
    const w = await own.withdrawRequest(bobRecord, TO, 2, bobCtx());
    return op.cosignWithdrawal(r, w.message as never, operatorCtx()).record;
  };

  it('the fixture\'s repeated acceptance gets fixtures/statechain/transfer-done.json, before and after its next step compacts it to a receipt', async () => {
    const r = legacyRecord();
    const expected = doneFixture();
    expect(operatorSigned(expected.statement, bytesOf(readFileSync(join(ROOT, 'fixtures', 'statechain', 'operator.pub'), 'utf8').trim()))).toBe(true);
    sameAnswer(r, accept(), operatorCtx(), expected);
    const next = await withdrawn(r);
    // The receipt: the statement's members beyond the coin's own, as test code reads them off the fixture's answer.
    const s = expected.statement;
    expect(next.done).toEqual([{ transfer_id: expected.transfer_id, count: s.count, owner_auth: s.owner_auth, operator_share: s.operator_share, operator_sig: s.operator_sig }]);
    sameAnswer(next, accept(), operatorCtx(), expected);
  });

  it('a planted entry the receipt cannot give back exactly stays whole and refused; a garbage one stays as it was and blocks no step; a good one beside them is compacted', async () => {
    const r = legacyRecord();
    const good = r.done[0]! as Msg;
    const s = good.statement as Msg;
    const flipped = s.operator_sig.slice(0, 5) + (s.operator_sig[5] === '0' ? '1' : '0') + s.operator_sig.slice(6);
    const entries: Msg[] = [
      { transfer_id: 'aa'.repeat(16), statement: { ...s, operator_sig: flipped } }, // the same line, a bad signature: refused before and after
      { transfer_id: 'bb'.repeat(16), statement: { ...s, coin_id: 'ab'.repeat(16) } }, // another coin's: not rebuilt, kept whole
      { transfer_id: 'cc'.repeat(16), statement: { ...s, extra: true } },
      { transfer_id: 'dd'.repeat(16), statement: 'garbage' },
      { transfer_id: 'ee'.repeat(16), statement: { owner_auth: s.owner_auth } },
      { transfer_id: 'ff'.repeat(16), statement: { ...s, backups: 'x' } },
      { transfer_id: '11'.repeat(16), statement: { ...s, count: 99 } },
    ];
    const planted = { ...r, done: [...entries, good] } as OperatorRecord;
    const replayOf = (id: string) => ({ ...accept(), transfer_id: id });
    // A replay of a planted id: a refusal (the receiver's signature is over the fixture's id: E_BAD_REQUEST_SIG at best;
    // an entry naming no receiver at all is not one this operator wrote).
    for (const e of entries) {
      const named = typeof e.statement !== 'string';
      refusal(() => op.completeTransfer(planted, replayOf(e.transfer_id) as never, operatorCtx()), named ? 'E_BAD_REQUEST_SIG' : 'E_STATE_CORRUPT', named ? 4 : 3);
    }
    const next = await withdrawn(planted);
    expect(next.done.length).toBe(entries.length + 1);
    // The bad-signature entry's line is the receipt's: compacted, and still refused (rebuilt, then checked) — never sent.
    const [badSig, ...rest] = next.done as Msg[];
    expect(badSig).toEqual({ transfer_id: 'aa'.repeat(16), count: s.count, owner_auth: s.owner_auth, operator_share: s.operator_share, operator_sig: flipped });
    // Every other planted entry kept exactly as it was; the good one compacted.
    expect(rest.slice(0, -1)).toEqual(entries.slice(1));
    expect(rest.at(-1)).toEqual({ transfer_id: good.transfer_id, count: s.count, owner_auth: s.owner_auth, operator_share: s.operator_share, operator_sig: s.operator_sig });
    sameAnswer(next, accept(), operatorCtx(), doneFixture());
    // The bad-signature receipt, asked for by a receiver that signs for its id (the writer's own key as owner): refused, nothing sent.
    const writer = party('rcpt-legacy-writer');
    const asked = resigned({ ...accept(), transfer_id: 'aa'.repeat(16) }, { receiver_auth: hexOf(writer.auth.publicKey) }, 'receiver_sig', writer.auth.secretKey);
    const owned = { ...next, done: next.done.map((f) => (f.transfer_id === 'aa'.repeat(16) ? { ...f, owner_auth: hexOf(writer.auth.publicKey) } : f)) } as OperatorRecord;
    refusedReplay(owned, asked, operatorCtx(), 'E_STATE_CORRUPT', 3);
  });
});

describe('the operator\'s store (state.sqlite): a replay writes nothing', () => {
  it('a repeated acceptance, answered or refused as corrupt, leaves the coin\'s row and the database\'s files byte for byte as they were; the next real step writes', async () => {
    const w = await world();
    const dir = mkdtempSync(join(tmpdir(), 'rcpt-store-'));
    const sealer = Sealer.fromSecret(w.d.opCtx.operator.secretKey);
    const db = StateDb.open(dir, { create: true })!;
    try {
      const store = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), sealer, dir);
      const coins = new Records<OperatorRecord>(db, 'statechain-operator', { fields: OPERATOR_SECRETS, sealer });
      /** The record as its writer would put it (its share sealed), in one step. */
      const put = (r: OperatorRecord) => db.step(() => coins.put(w.coinId, r));
      const row = () => db.sql.prepare<[string], { body: string }>("SELECT body FROM records WHERE kind = 'statechain-operator' AND id = ?").get(w.coinId)!.body;
      const bytes = () => [dbFile(dir), `${dbFile(dir)}-wal`].map((f) => (existsSync(f) ? readFileSync(f).toString('hex') : null));
      await put(w.active);
      let before = { body: row(), files: bytes() };
      const still = () => {
        expect(row()).toBe(before.body);
        expect(bytes()).toEqual(before.files);
        expect(coins.ids()).toEqual([w.coinId]);
      };
      const c = counted(w.d.opCtx);
      for (const h of w.hops) {
        const answer = await store.step(w.coinId, async (r) => op.completeTransfer(r, h.accept as never, c.ctx));
        expect(stringifyMessage(answer)).toBe(stringifyMessage(h.done));
      }
      expect(c.draws()).toBe(0);
      still();
      // The same row with a receipt edited: refused, still nothing written.
      const edited = clone(w.active);
      (edited.done[1] as Msg).count = 2;
      await put(edited);
      before = { body: row(), files: bytes() };
      let caught: unknown;
      await store.step(w.coinId, async (r) => op.completeTransfer(r, w.hops[1]!.accept as never, c.ctx)).catch((e: unknown) => (caught = e));
      expect(caught).toBeInstanceOf(OffchainError);
      expect((caught as OffchainError).code).toBe('E_STATE_CORRUPT');
      expect(c.draws()).toBe(0);
      still();
      // A real step (the owner withdraws) writes a new version.
      await put(w.active);
      const body = row();
      const wr = await own.withdrawRequest({ ...w.hops[3]!.receiverRecord }, TO, 3, w.bob);
      await store.step(w.coinId, async (r) => op.cosignWithdrawal(r, wr.message as never, w.d.opCtx));
      expect(row()).not.toBe(body);
      expect((JSON.parse(row()) as OperatorRecord).statement.status).toBe('withdrawn');
    } finally {
      db.closeNow();
    }
  });
});

describe('the store writer: what the review found (a crash instead of a code, a signature sent in another case, another step\'s statement)', () => {
  it('a stray value in done (a number, a string, true, null) blocks no step: transfer-sign, a replay and the withdrawal still run', async () => {
    const w = await world();
    const h = w.hops[3]!;
    for (const stray of [5, 'x', true, null]) {
      const r = { ...clone(w.active), done: [...clone(w.active.done), stray as never] };
      sameAnswer(r, h.accept, w.d.opCtx, h.done);
      const wr = await own.withdrawRequest(h.receiverRecord, TO, 2, w.bob);
      const closed = op.cosignWithdrawal(r, wr.message as never, w.d.opCtx);
      expect(closed.record.statement.status).toBe('withdrawn');
      expect(closed.record.done.at(-1)).toBe(stray);
    }
  });

  it('a damaged coin statement or a whole entry with no statement: a repeated acceptance is E_STATE_CORRUPT, never a TypeError', async () => {
    const w = await world();
    const h = w.hops[0]!;
    const edits: ((r: any) => void)[] = [
      (r) => (r.done[0] = { transfer_id: r.done[0].transfer_id, statement: null }),
      (r) => (r.statement.backups = null),
      (r) => (r.statement.backups = { length: 3 }),
      (r) => (r.statement.backups[0] = null),
      (r) => (r.statement = null),
    ];
    for (const edit of edits) {
      const r = clone(w.active);
      edit(r);
      refusedReplay(r, h.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
    }
  });

  it('a receipt\'s signature in upper case (the same signature to a lenient hex reader) is E_STATE_CORRUPT, not sent in bytes the first answer did not have', async () => {
    const w = await world();
    const r = clone(w.active);
    (r.done[0] as Msg).operator_sig = String((r.done[0] as Msg).operator_sig).toUpperCase();
    refusedReplay(r, w.hops[0]!.accept, w.d.opCtx, 'E_STATE_CORRUPT', 3);
  });

  it('the withdrawal\'s statement (this operator\'s, status withdrawn) planted as a finished transfer under a new id: E_STATE_CORRUPT', async () => {
    const w = await world();
    const id = 'ee'.repeat(16);
    const r = { ...clone(w.withdrawn), done: [...clone(w.withdrawn.done), { transfer_id: id, statement: clone(w.closing.statement) } as never] };
    const h = w.hops[3]!;
    const ask = resigned(h.accept, { transfer_id: id }, 'receiver_sig', w.bob.auth.secretKey);
    expect(operatorSigned(w.closing.statement, w.opPub)).toBe(true);
    refusedReplay(r, ask, w.d.opCtx, 'E_STATE_CORRUPT', 3);
  });
});
