/**
 * Issue 22, deliver 3: a seeded property over random losses, replays, crashes and
 * abandoned transfers across sender, receiver, operator and a pair (the coin handed to a
 * channel's two parties and out again, every step's answer possibly lost).
 *
 * Each party's state is what it persisted (a map standing for its state directory); a step
 * reads it, runs the library step, persists the record, and only then "prints" its answer
 * — which may be lost (a lost message, or a crash after the write): the step is then run
 * again with the same input on the persisted state and must print the same bytes. A
 * delivered message may also be delivered twice (a replay): the reader answers the same
 * or refuses with a code, its state unchanged. A receiver may vanish after the package
 * (never accepting) or after accepting (its acceptance never arrives): the sender then
 * hands the coin to someone else, and the vanished receiver's acceptance, replayed late,
 * is refused.
 *
 * After every completed transfer and at the end:
 * - exactly one party can spend the coin cooperatively: its share o with the operator's
 *   share s gives o + s = P (every other share anyone holds does not), and it is the owner
 *   the operator's statement names;
 * - by backup too: of every fully signed backup any party holds, the one final first pays
 *   that owner;
 * - nobody signs two different things under one nonce: every owner nonce taken from the
 *   store is taken once, for one transaction, and every operator nonce in any answer
 *   (reruns included) signs one transaction.
 * At the end the owner withdraws (its answer lost, then printed again) and the withdrawal
 * is checked by the independent verifier.
 *
 * FC_SEED replays a run (test/setup/fast-check.ts); STATECHAIN_PROPERTY_RUNS raises the count.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { OffchainError } from '../../../src/lib/errors.ts';
import { stringifyLine } from '../../../src/lib/json.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import { hexOf, parseTx } from '../../independent/tx.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import { ANCHORED_TERMS, chainStub, cleanup, deposit, party, type Party, fundingTxid } from './harness.ts';

afterAll(cleanup);

const RUNS = Number(process.env.STATECHAIN_PROPERTY_RUNS ?? 8);
const G = secp256k1.Point.BASE;
const N = secp256k1.Point.Fn.ORDER;
const int = (hex: string) => BigInt(`0x${hex}`);
const same = (a: unknown, b: unknown) => stringifyLine(a) === stringifyLine(b);

/** One transfer attempt's faults: which steps lose their answer, which deliveries are replayed, where the receiver vanishes. */
const attempt = fc.record({
  lost: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
  replay: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
  vanish: fc.constantFrom(null, null, 'after-package', 'after-accept'),
});
type Attempt = { lost: boolean[]; replay: boolean[]; vanish: null | 'after-package' | 'after-accept' };

type World = Awaited<ReturnType<typeof world>>;

async function world() {
  const chain = chainStub(200);
  // Anchored terms: a pair receives here, and a pair takes only anchored coins (floor.ts).
  const d = await deposit(chain, 100_000n, ANCHORED_TERMS);
  const out = parseTx(d.funding).outputs[1]!;
  chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount, scriptPubKey: out.script, confirmations: 3 };
  const nonceLog: { who: string; pubnonce: string; context: string }[] = [];
  const operatorNonces = new Map<string, Set<string>>();
  const watch = (who: string, p: Party) => {
    const take = p.nonces.take.bind(p.nonces);
    p.nonces.take = async (pubnonce: Uint8Array, context: string) => {
      nonceLog.push({ who, pubnonce: hexOf(pubnonce), context });
      return take(pubnonce, context);
    };
    return p;
  };
  const parties = new Map<string, { p: Party; coin?: own.OwnerRecord; pending?: tr.PendingReceive }>();
  parties.set('alice', { p: watch('alice', d.owner), coin: d.ownerRecord });
  return { chain, d, opRecord: d.opRecord, parties, nonceLog, operatorNonces, watch, prevout: { amount: out.amount, script: out.script }, owner: 'alice', n: 0 };
}

/** The operator's answers: every operator nonce signs one transaction. */
function noteOperatorNonce(w: World, message: Record<string, unknown>): void {
  const nonce = message.operator_pubnonce as string | undefined;
  if (nonce === undefined) return;
  const signed = String(message.backup_txid ?? message.txid);
  const set = w.operatorNonces.get(nonce) ?? new Set<string>();
  set.add(signed);
  w.operatorNonces.set(nonce, set);
}

/**
 * Run a step on persisted state: `run` returns the next persisted state's writer and the
 * answer. With `lost`, the answer vanishes and the step is run again with the same input:
 * the same bytes must come out. Returns the answer.
 */
async function step<M>(lost: boolean, run: () => Promise<{ persist: () => void; message: M }>): Promise<M> {
  const first = await run();
  first.persist();
  if (!lost) return first.message;
  const again = await run();
  again.persist();
  expect(same(again.message, first.message), 'a rerun prints the stored answer').toBe(true);
  return again.message;
}

/** A replayed delivery: the same answer, or a coded refusal with the state unchanged. */
async function replayed(fn: () => Promise<unknown>, before: () => string, answer: unknown): Promise<void> {
  const state = before();
  try {
    const again = await fn();
    expect(same(again, answer), 'a replayed message gets the same answer').toBe(true);
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(OffchainError);
    expect(before()).toBe(state);
  }
}

/** One transfer from the current owner to `name`; returns whether it completed. */
async function transfer(w: World, name: string, a: Attempt): Promise<boolean> {
  const sender = w.parties.get(w.owner)!;
  const receiver = { p: w.watch(name, party(`prop-${name}-${w.n++}`)) } as { p: Party; coin?: own.OwnerRecord; pending?: tr.PendingReceive };
  w.parties.set(name, receiver);
  const opCtx = w.d.opCtx;
  const facts = () => ({ tipHeight: w.chain.height, deposit: w.chain.deposit! });

  const req = tr.startReceive(sender.coin!.coin_id, w.d.operator.auth.publicKey, receiver.p);
  receiver.pending = req.pending;
  const sign = await step(a.lost[1]!, async () => {
    const out = await tr.transferSign(sender.coin!, req.message as never, w.chain.height, sender.p);
    return { persist: () => void (sender.coin = out.record), message: out.message };
  });
  if (a.replay[1]) await replayed(async () => (await tr.transferSign(sender.coin!, req.message as never, w.chain.height, sender.p)).message, () => stringifyLine(sender.coin), sign);
  const cos = await step(a.lost[2]!, async () => {
    const out = await op.cosignTransfer(w.opRecord, sign as never, opCtx);
    noteOperatorNonce(w, out.message);
    return { persist: () => void (w.opRecord = out.record), message: out.message };
  });
  if (a.replay[2]) await replayed(async () => (await op.cosignTransfer(w.opRecord, sign as never, opCtx)).message, () => stringifyLine(w.opRecord), cos);
  const pkg = await step(a.lost[3]!, async () => {
    const out = await tr.transferPackage(sender.coin!, cos as never, sender.p);
    return { persist: () => void (sender.coin = out.record), message: out.message };
  });
  if (a.replay[3]) await replayed(async () => (await tr.transferPackage(sender.coin!, cos as never, sender.p)).message, () => stringifyLine(sender.coin), pkg);
  if (a.vanish === 'after-package') return false;
  // The receiver's accepting step, as the command runs it: its stored acceptance first.
  const acceptStep = async () => {
    const before = tr.acceptedBefore(receiver.coin, pkg as never);
    if (before !== undefined) return { persist: () => void (receiver.pending = undefined), message: before };
    if (receiver.pending === undefined) throw new OffchainError('E_NOT_RECEIVING', 'no pending receive');
    const out = tr.acceptPackage(pkg as never, receiver.pending, facts(), receiver.p);
    return { persist: () => ((receiver.coin = out.record), (receiver.pending = undefined)), message: out.message };
  };
  const acc = await step(a.lost[4]!, acceptStep);
  if (a.replay[4]) await replayed(async () => (await acceptStep()).message, () => stringifyLine(receiver.coin), acc);
  if (a.vanish === 'after-accept') {
    w.parties.set(`${name}-late`, { p: receiver.p, coin: receiver.coin! });
    (w as { lateAccept?: unknown }).lateAccept = acc;
    return false;
  }
  const done = await step(a.lost[5]!, async () => {
    const out = op.completeTransfer(w.opRecord, acc as never, opCtx);
    return { persist: () => void (w.opRecord = out.record), message: out.message };
  });
  if (a.replay[5]) await replayed(async () => op.completeTransfer(w.opRecord, acc as never, opCtx).message, () => stringifyLine(w.opRecord), done);
  await step(a.lost[6]!, async () => {
    const next = tr.finishReceive(receiver.coin!, done as never);
    return { persist: () => void (receiver.coin = next), message: next };
  });
  w.owner = name;
  return true;
}

/**
 * Exactly one owner can spend: cooperatively (its share with the operator's gives P; for a
 * pair, a + b + s = P and neither part alone with s) — the owner the statement names — and
 * by the backup final first, which pays that owner's share.
 */
function oneOwner(w: World): void {
  const st = w.opRecord.statement;
  const aggregate = secp256k1.Point.fromHex(st.aggregate);
  const s = int(w.opRecord.share_secret);
  const spenders = [...w.parties.entries()].filter(([, v]) => v.coin !== undefined && G.multiply((int(v.coin.share_secret) + s) % N).equals(aggregate)).map(([k]) => k);
  const pair = w.owner === 'pair';
  expect(spenders).toEqual(pair ? [] : [w.owner]);
  const ownerShare = pair ? w.parties.get('pair-a')!.coin!.share : w.parties.get(w.owner)!.coin!.share;
  if (pair) {
    const [a, b] = [int(w.parties.get('pair-a')!.coin!.share_secret), int(w.parties.get('pair-b')!.coin!.share_secret)];
    expect(G.multiply((a + b + s) % N).equals(aggregate)).toBe(true);
    expect(w.parties.get('pair-b')!.coin!.share).toBe(ownerShare);
  }
  expect(ownerShare).toBe(st.owner_share);
  // Every fully signed backup anyone holds; the one final first pays the owner's share.
  const all = new Map<string, { lockTime: number; script: string }>();
  for (const v of w.parties.values()) {
    for (const hex of v.coin?.backups ?? []) {
      const tx = parseTx(hex);
      all.set(tx.txid, { lockTime: tx.lockTime, script: hexOf(tx.outputs[0]!.script) });
    }
  }
  const first = [...all.values()].sort((x, y) => x.lockTime - y.lockTime)[0]!;
  const ownerX = secp256k1.Point.fromHex(ownerShare).toBytes(true).subarray(1);
  expect(first.script).toBe(hexOf(taprootOutput(ownerX).script));
  expect([...all.values()].filter((b) => b.lockTime === first.lockTime)).toHaveLength(1);
}

/** The coin to a pair (A, B) from the current single owner, each step's answer possibly lost (the command's rerun semantics). */
async function toPair(w: World, lost: boolean[]): Promise<void> {
  const sender = w.parties.get(w.owner)!;
  const A = w.watch('pair-a', party(`prop-pair-a-${w.n++}`));
  const B = w.watch('pair-b', party(`prop-pair-b-${w.n++}`));
  const a = { p: A } as { p: Party; coin?: own.OwnerRecord };
  const b = { p: B } as { p: Party; coin?: own.OwnerRecord };
  w.parties.set('pair-a', a);
  w.parties.set('pair-b', b);
  const facts = { tipHeight: w.chain.height, deposit: w.chain.deposit! };
  const coinId = sender.coin!.coin_id;
  const partB = joint.startPart(coinId, w.d.operator.auth.publicKey, B);
  const reqA = joint.startJointReceive(coinId, w.d.operator.auth.publicKey, partB.message as never, A);
  const sign = await step(lost[0]!, async () => {
    const out = await tr.transferSign(sender.coin!, reqA.message as never, w.chain.height, sender.p);
    return { persist: () => void (sender.coin = out.record), message: out.message };
  });
  const cos = await step(lost[1]!, async () => {
    const out = await op.cosignTransfer(w.opRecord, sign as never, w.d.opCtx);
    noteOperatorNonce(w, out.message);
    return { persist: () => void (w.opRecord = out.record), message: out.message };
  });
  const pkg = await step(lost[2]!, async () => {
    const out = await tr.transferPackage(sender.coin!, cos as never, sender.p);
    return { persist: () => void (sender.coin = out.record), message: out.message };
  });
  const transferId = (pkg as { transfer_id: string }).transfer_id;
  const handoff = await step(lost[3]!, async () => {
    const again = joint.answeredBefore(a.coin as joint.JointRecord | undefined, transferId, 0);
    if (again) return { persist: () => undefined, message: again };
    const out = joint.jointTakePackage(pkg as never, reqA.pending, facts, A);
    return { persist: () => void (a.coin = out.record), message: out.message };
  });
  const t2 = await step(lost[4]!, async () => {
    const again = joint.answeredBefore(b.coin as joint.JointRecord | undefined, transferId, 1);
    if (again) return { persist: () => undefined, message: again };
    const out = joint.jointTakeHandoff(handoff as never, partB.pending, facts, B);
    return { persist: () => void (b.coin = out.record), message: out.message };
  });
  const acc = await step(lost[5]!, async () => ({ persist: () => undefined, message: joint.jointAcceptFrom(t2 as never, a.coin as joint.JointRecord, A) }));
  const done = await step(lost[6]!, async () => {
    const out = op.completeTransfer(w.opRecord, acc as never, w.d.opCtx);
    return { persist: () => void (w.opRecord = out.record), message: out.message };
  });
  for (const part of [a, b]) part.coin = { ...part.coin!, ...tr.finishReceive(part.coin!, done as never) };
  w.owner = 'pair';
}

/** The pair sends the coin to `name`, each step's answer possibly lost. */
async function fromPair(w: World, name: string, lost: boolean[]): Promise<void> {
  const a = w.parties.get('pair-a')!;
  const b = w.parties.get('pair-b')!;
  const r = { p: w.watch(name, party(`prop-${name}-${w.n++}`)) } as { p: Party; coin?: own.OwnerRecord };
  w.parties.set(name, r);
  const req = tr.startReceive(a.coin!.coin_id, w.d.operator.auth.publicKey, r.p);
  const nonce = await step(lost[0]!, async () => {
    const out = await send.jointNonce(b.coin as send.SendingRecord, req.message as never, w.chain.height, b.p);
    return { persist: () => void (b.coin = out.record), message: out.message };
  });
  const sign = await step(lost[1]!, async () => {
    const out = await send.jointTransferSign(a.coin as send.SendingRecord, nonce as never, w.chain.height, a.p);
    return { persist: () => void (a.coin = out.record), message: out.message };
  });
  const cos = await step(lost[2]!, async () => {
    const out = await op.cosignTransfer(w.opRecord, sign as never, w.d.opCtx);
    noteOperatorNonce(w, out.message);
    return { persist: () => void (w.opRecord = out.record), message: out.message };
  });
  const signA = await step(lost[3]!, async () => {
    const out = await send.jointSignA(a.coin as send.SendingRecord, cos as never, a.p);
    return { persist: () => void (a.coin = out.record), message: out.message };
  });
  const pkg = await step(lost[4]!, async () => {
    const out = await send.jointPackage(b.coin as send.SendingRecord, signA as never, b.p);
    return { persist: () => void (b.coin = out.record), message: out.message };
  });
  const acc = await step(lost[5]!, async () => {
    const before = tr.acceptedBefore(r.coin, pkg as never);
    if (before !== undefined) return { persist: () => undefined, message: before };
    const out = tr.acceptPackage(pkg as never, req.pending, { tipHeight: w.chain.height, deposit: w.chain.deposit! }, r.p);
    return { persist: () => void (r.coin = out.record), message: out.message };
  });
  const done = await step(lost[6]!, async () => {
    const out = op.completeTransfer(w.opRecord, acc as never, w.d.opCtx);
    return { persist: () => void (w.opRecord = out.record), message: out.message };
  });
  r.coin = tr.finishReceive(r.coin!, done as never);
  w.owner = name;
}

/** Nobody signed two different things under one nonce. */
function oneThingPerNonce(w: World): void {
  const byNonce = new Map<string, Set<string>>();
  for (const t of w.nonceLog) byNonce.set(t.pubnonce, (byNonce.get(t.pubnonce) ?? new Set()).add(t.context));
  for (const [nonce, contexts] of byNonce) expect([...contexts], `owner nonce ${nonce}`).toHaveLength(1);
  for (const [nonce, signed] of w.operatorNonces) expect([...signed], `operator nonce ${nonce}`).toHaveLength(1);
}

describe('random losses, replays, crashes and vanished receivers', () => {
  it('the coin always has exactly one owner who can spend it, cooperatively and by backup; no nonce signs two things', async () => {
    let pairRuns = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.option(fc.tuple(fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }), fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }))), async (attempts, lostWithdrawal, viaPair) => {
        const w = await world();
        oneOwner(w);
        for (const [i, a] of attempts.entries()) {
          const completed = await transfer(w, `r${i}`, a);
          if (completed) oneOwner(w);
          const late = (w as { lateAccept?: unknown }).lateAccept;
          if (late !== undefined && completed) {
            // The vanished receiver's acceptance arrives after the coin moved on: refused, nothing changed.
            const before = stringifyLine(w.opRecord);
            expect(() => op.completeTransfer(w.opRecord, late as never, w.d.opCtx)).toThrow(OffchainError);
            expect(stringifyLine(w.opRecord)).toBe(before);
            (w as { lateAccept?: unknown }).lateAccept = undefined;
          }
        }
        // Through a pair (a channel's two parties) and out again, answers lost at random.
        if (viaPair !== null) {
          pairRuns++;
          await toPair(w, viaPair[0]);
          oneOwner(w);
          await fromPair(w, 'from-pair', viaPair[1]);
          oneOwner(w);
        }
        // A last transfer without faults, so the run ends with a completed transfer.
        const none = { lost: Array(7).fill(false), replay: Array(7).fill(false), vanish: null };
        expect(await transfer(w, 'last', none)).toBe(true);
        oneOwner(w);
        // The owner withdraws; its final answer lost, then printed again: the same bytes.
        const holder = w.parties.get(w.owner)!;
        const dest = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(6)]);
        const wr = await own.withdrawRequest(holder.coin!, dest, 2, holder.p);
        holder.coin = wr.record;
        const wc = op.cosignWithdrawal(w.opRecord, wr.message as never, w.d.opCtx);
        noteOperatorNonce(w, wc.message);
        w.opRecord = wc.record;
        const fin = await own.withdrawFinish(holder.coin, wc.message as never, holder.p);
        holder.coin = fin.record;
        if (lostWithdrawal) expect((await own.withdrawFinish(holder.coin, wc.message as never, holder.p)).signed.hex).toBe(fin.signed.hex);
        const P = secp256k1.Point.fromHex(w.opRecord.statement.aggregate).toBytes(true).subarray(1);
        verifyKeyPathSpend(fin.signed.hex, [w.prevout], taprootOutput(P).outputKey);
        oneThingPerNonce(w);
      }),
      { numRuns: RUNS },
    );
    expect(pairRuns, 'some runs went through a pair').toBeGreaterThan(0);
  }, 120_000);
});
