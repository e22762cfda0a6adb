/**
 * Every refusal of issue 13 item 7, at the library: a dishonest sender, operator or
 * receiver (or an operator colluding with the sender, signing what it should not) changes
 * one thing, and the step refuses with its own code and exit class. Library steps are pure
 * (the caller writes their returned record), so "nothing written" is shown here as: no
 * record returned and the owner's nonce still unused where one is at stake; the CLI tests
 * (test/e2e/statechain-refusals.test.ts) compare the state directories byte for byte.
 *
 * To reach the deep checks, a tampered statement is re-signed with the operator's key and
 * a tampered backup re-signed with the coin's key (both secrets are in the test's hands):
 * the receiver must still refuse what the template or the count does not allow.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as coin from '../../../src/lib/statechain/coin.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import { signBody, seal, sealJson, unseal } from '../../../src/lib/statechain/seal.ts';
import { aggregate, nonceGen, partialSign } from '../../../src/lib/statechain/signer.ts';
import { signStatement } from '../../../src/lib/statechain/statement.ts';
import type { PackageInner, Statement } from '../../../src/lib/statechain/schemas.ts';
import { verifyTransfer, type Expected } from '../../../src/lib/statechain/verify.ts';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { chainStub, cleanup, deposit, party, towards, fundingTxid } from './harness.ts';

afterAll(cleanup);

const N = secp256k1.Point.Fn.ORDER;
const hex32 = (n: bigint) => n.toString(16).padStart(64, '0');
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A coin deposited by Alice, handed by Alice towards Bob up to the sealed package. */
async function scenario() {
  const { chain, d, receiver: bob, req, signReq, cosigned, pkg, inner } = await towards('bob');
  const expect_: Expected = {
    coinId: d.ownerRecord.coin_id, transferId: (pkg.message as { transfer_id: string }).transfer_id, receiverShare: req.pending.share, receiverAuth: req.pending.auth, operatorAuth: d.operator.auth.publicKey,
  };
  const facts = () => ({ tipHeight: chain.height, deposit: chain.deposit ?? null });
  return { chain, d, bob, req, signReq, cosigned, pkg, inner, expect: expect_, facts };
}
type Scenario = Awaited<ReturnType<typeof scenario>>;

/** The coin's own key-path signature on `tx` (test holds o and s). */
function coinSign(s: Scenario, tx: Transaction): string {
  const st = s.cosigned.record.statement;
  const shares = [fromHex(st.owner_share), fromHex(st.operator_share)];
  const n1 = nonceGen(new Uint8Array(64).fill(1));
  const n2 = nonceGen(new Uint8Array(64).fill(2));
  const input = { shares, pubnonces: [n1.pubnonce, n2.pubnonce], msg: coin.coinSighash(tx) };
  const sig = aggregate(input, [
    partialSign(input, 0, n1.secnonce, fromHex(s.d.ownerRecord.share_secret)),
    partialSign(input, 1, n2.secnonce, fromHex(s.d.opRecord.share_secret)),
  ]);
  return coin.finishSpend(tx, sig).hex;
}

/** Re-sign a changed statement as the operator would. */
function resign(s: Scenario, st: Statement): Statement {
  const { operator_sig: _, ...body } = st;
  return signStatement(body, s.d.operator.auth, s.d.operator.random);
}

/** Replace backup `i` with `tx` signed by the coin, and the operator's record of it (re-signed). */
function swapBackup(s: Scenario, inner: PackageInner, i: number, tx: Transaction, locktime = tx.lockTime): PackageInner {
  const next = clone(inner);
  next.backups[i] = coinSign(s, tx);
  next.statement.backups[i] = { ...next.statement.backups[i]!, txid: tx.id, locktime };
  next.statement = resign(s, next.statement);
  return next;
}

const verify = (s: Scenario, inner: PackageInner) => () => verifyTransfer(inner, s.expect, s.facts());

function templateOf(s: Scenario, n: number, patch: { version?: number; sequence?: number; lockTime?: number; amount?: bigint; outpoint?: { txid: string; vout: number }; script?: Uint8Array; anchor?: boolean }) {
  const st = s.inner.statement;
  const key = coin.coinKey(fromHex(st.owner_share), fromHex(st.operator_share));
  const rec = st.backups[n]!;
  const outpoint = patch.outpoint ?? coin.parseOutpointText(st.outpoint!);
  const tx = new Transaction({ version: patch.version ?? 3, lockTime: patch.lockTime ?? rec.locktime, allowUnknownOutputs: true });
  tx.addInput({ txid: outpoint.txid, index: outpoint.vout, sequence: patch.sequence ?? 0xfffffffe, witnessUtxo: { script: key.script, amount: BigInt(st.amount_sat!) } });
  tx.addOutput({ script: patch.script ?? coin.ownerScript(fromHex(rec.owner_share)), amount: patch.amount ?? BigInt(st.amount_sat!) - 400n });
  if (patch.anchor) tx.addOutput({ script: coin.P2A_SCRIPT, amount: 0n });
  return tx;
}

describe('the receiver refuses a bad transfer package', () => {
  // One scenario for the receiver's checks: verifyTransfer and openPackage only read it, and
  // every changed package below is a copy. The tests that move the chain (its tip, the
  // deposit's facts) get it back as it was before the next test.
  let s: Scenario;
  let chainAsBuilt: { height: number; deposit: Scenario['chain']['deposit'] };
  let messagesAsBuilt: string;
  const messages = () => JSON.stringify([s.inner, s.pkg, s.req, s.expect]);
  beforeAll(async () => {
    s = await scenario();
    chainAsBuilt = { height: s.chain.height, deposit: s.chain.deposit && { ...s.chain.deposit } };
    messagesAsBuilt = messages();
  });
  beforeEach(() => {
    // Sharing is sound only if no test (nor the code under test) changed what the next one reads.
    expect(messages(), 'a test changed the shared scenario').toBe(messagesAsBuilt);
    s.chain.height = chainAsBuilt.height;
    s.chain.deposit = chainAsBuilt.deposit && { ...chainAsBuilt.deposit };
  });

  it('accepts the honest package (the baseline every case below changes one thing of)', () => {
    expect(verify(s, s.inner)().backups).toBe(2);
  });

  it('a wrong t₁ (E_BAD_T1)', () => {
    refusal(verify(s, { ...s.inner, t1: hex32((BigInt('0x' + s.inner.t1) + 1n) % N) }), 'E_BAD_T1', 4);
    refusal(verify(s, { ...s.inner, t1: hex32(0n) }), 'E_BAD_T1', 4);
  });

  it('a bad or misdirected binding signature (E_BAD_BINDING)', () => {
    const other = signBody('binding', { coin_id: s.expect.coinId, outpoint: s.inner.statement.outpoint, receiver_share: toHex(secp256k1.getPublicKey(new Uint8Array(32).fill(9), true)), transfer_id: s.expect.transferId }, s.d.owner.auth.secretKey, new Uint8Array(32));
    refusal(verify(s, { ...s.inner, binding_sig: other }), 'E_BAD_BINDING', 4);
    const byStranger = signBody('binding', { coin_id: s.expect.coinId, outpoint: s.inner.statement.outpoint, receiver_share: s.expect.receiverShare, transfer_id: s.expect.transferId }, new Uint8Array(32).fill(5), new Uint8Array(32));
    refusal(verify(s, { ...s.inner, binding_sig: byStranger }), 'E_BAD_BINDING', 4);
  });

  it('a statement not signed by our operator, or changed after signing', () => {
    refusal(verify(s, { ...s.inner, statement: { ...s.inner.statement, count: 1 } }), 'E_BAD_OPERATOR_SIG', 4);
    const rogue = keyPair(new Uint8Array(32).fill(3));
    const { operator_sig: _, ...body } = { ...s.inner.statement, operator_auth: toHex(rogue.publicKey) };
    refusal(verify(s, { ...s.inner, statement: signStatement(body, rogue, s.d.operator.random) }), 'E_WRONG_OPERATOR', 4);
  });

  it('O₁ + S₁ ≠ P (E_KEY_SUM)', () => {
    const st = { ...s.inner.statement, operator_share: toHex(secp256k1.getPublicKey(new Uint8Array(32).fill(4), true)) };
    refusal(verify(s, { ...s.inner, statement: resign(s, st) }), 'E_KEY_SUM', 4);
  });

  it('a package for another coin, transfer or receiver', () => {
    refusal(() => verifyTransfer(s.inner, { ...s.expect, coinId: 'ff'.repeat(16) }, s.facts()), 'E_WRONG_COIN', 4);
    refusal(() => verifyTransfer(s.inner, { ...s.expect, transferId: 'ee'.repeat(16) }, s.facts()), 'E_WRONG_TRANSFER', 4);
    refusal(() => verifyTransfer(s.inner, { ...s.expect, receiverShare: s.inner.statement.owner_share }, s.facts()), 'E_WRONG_RECEIVER', 4);
    refusal(verify(s, { ...s.inner, statement: resign(s, { ...s.inner.statement, status: 'withdrawn' }) }), 'E_NOT_TRANSFERRING', 4);
  });

  it('a backup count that differs from the operator\'s: missing, extra, or one signed but not shown (E_BACKUP_COUNT)', () => {
    refusal(verify(s, { ...s.inner, backups: s.inner.backups.slice(1) }), 'E_BACKUP_COUNT', 4);
    refusal(verify(s, { ...s.inner, backups: [...s.inner.backups, s.inner.backups[0]!] }), 'E_BACKUP_COUNT', 4);
    const hidden = clone(s.inner.statement);
    hidden.count += 1;
    hidden.backups.push({ ...hidden.backups[1]!, n: 3, locktime: hidden.backups[1]!.locktime - 10 });
    refusal(verify(s, { ...s.inner, statement: resign(s, hidden) }), 'E_BACKUP_COUNT', 4);
  });

  it('backups out of order or not the recorded ones (E_BACKUP_RECORD, E_BACKUP_NUMBERS)', () => {
    refusal(verify(s, { ...s.inner, backups: [...s.inner.backups].reverse() }), 'E_BACKUP_RECORD', 4);
    const renumbered = clone(s.inner.statement);
    renumbered.backups[1]!.n = 3;
    refusal(verify(s, { ...s.inner, statement: resign(s, renumbered) }), 'E_BACKUP_NUMBERS', 4);
  });

  it('a backup off the template, even signed by the coin and recorded by the operator (E_BACKUP_TEMPLATE)', () => {
    const other = { txid: 'aa'.repeat(32), vout: 0 };
    for (const patch of [{ version: 2 }, { sequence: 0xffffffff }, { amount: 90_000n }, { outpoint: other }, { script: coin.ownerScript(fromHex(s.inner.statement.owner_share)) }]) {
      refusal(verify(s, swapBackup(s, s.inner, 1, templateOf(s, 1, patch))), 'E_BACKUP_TEMPLATE', 4);
    }
  });

  it('anchors (issue 24): a P2A added to a backup under terms without anchor, terms flipped to anchor over old backups (E_BACKUP_TEMPLATE), anchor with a fee (E_BAD_TERMS)', () => {
    refusal(verify(s, swapBackup(s, s.inner, 1, templateOf(s, 1, { anchor: true }))), 'E_BACKUP_TEMPLATE', 4);
    refusal(verify(s, swapBackup(s, s.inner, 1, templateOf(s, 1, { anchor: true, amount: BigInt(s.inner.statement.amount_sat!) }))), 'E_BACKUP_TEMPLATE', 4);
    const flipped = clone(s.inner.statement);
    flipped.terms = { ...flipped.terms, backup_fee_sat: 0, anchor: true };
    refusal(verify(s, { ...s.inner, statement: resign(s, flipped) }), 'E_BACKUP_TEMPLATE', 4);
    const feeAndAnchor = clone(s.inner.statement);
    feeAndAnchor.terms = { ...feeAndAnchor.terms, anchor: true };
    refusal(verify(s, { ...s.inner, statement: resign(s, feeAndAnchor) }), 'E_BAD_TERMS', 4);
  });

  it('terms the coin module refuses, whoever passes them (E_BAD_TERMS, exit 4 at every site: a block count out of range, a negative fee)', () => {
    const t = coin.termsFromJson(s.inner.statement.terms);
    coin.checkTerms(t);
    refusal(() => coin.checkTerms({ ...t, interval: 0 }), 'E_BAD_TERMS', 4);
    refusal(() => coin.checkTerms({ ...t, margin: 100_001 }), 'E_BAD_TERMS', 4);
    refusal(() => coin.checkTerms({ ...t, interval: 1 }), 'E_BAD_TERMS', 4);
    expect(refusal(() => coin.checkTerms({ ...t, backupFeeSat: -1n }), 'E_BAD_TERMS', 4).message).toBe('backup fee must not be negative');
  });

  it('a locktime of the wrong kind or off the interval (E_BACKUP_INTERVAL, E_BACKUP_TEMPLATE)', () => {
    const h1 = s.inner.statement.backups[1]!.locktime;
    refusal(verify(s, swapBackup(s, s.inner, 1, templateOf(s, 1, { lockTime: h1 + 1 }))), 'E_BACKUP_INTERVAL', 4);
    // A time-based nLockTime recorded as the right height: the template (a height) differs.
    const timeLocked = swapBackup(s, s.inner, 1, templateOf(s, 1, { lockTime: 1_700_000_000 }));
    timeLocked.statement.backups[1]!.locktime = h1;
    refusal(verify(s, { ...timeLocked, statement: resign(s, timeLocked.statement) }), 'E_BACKUP_TEMPLATE', 4);
  });

  it('a backup without a valid key-path signature (E_BACKUP_SIGNATURE)', () => {
    // The witness is the transaction's tail before nLockTime: flip the signature's last byte.
    const hex = s.inner.backups[0]!;
    const at = hex.length - 8 - 2;
    const flipped = hex.slice(0, at) + (parseInt(hex.slice(at, at + 2), 16) ^ 1).toString(16).padStart(2, '0') + hex.slice(at + 2);
    refusal(verify(s, { ...s.inner, backups: [flipped, s.inner.backups[1]!] }), 'E_BACKUP_SIGNATURE', 4);
  });

  it('the newest backup paying someone else (E_BACKUP_NOT_MINE)', () => {
    const alice = s.inner.statement.owner_share;
    const patched = swapBackup(s, s.inner, 1, templateOf(s, 1, { script: coin.ownerScript(fromHex(alice)) }));
    patched.statement.backups[1]!.owner_share = alice;
    refusal(verify(s, { ...patched, statement: resign(s, patched.statement) }), 'E_BACKUP_NOT_MINE', 4);
  });

  it('a backup that does not pay the script the receiver asked for (E_BACKUP_NOT_MINE)', () => {
    refusal(() => verifyTransfer(s.inner, { ...s.expect, backupScript: '0020' + '44'.repeat(32) }, s.facts()), 'E_BACKUP_NOT_MINE', 4);
  });

  it('a latest locktime inside the margin (E_LOCKTIME_MARGIN)', () => {
    s.chain.height = s.inner.statement.backups[1]!.locktime - 6;
    refusal(verify(s, s.inner), 'E_LOCKTIME_MARGIN', 4);
  });

  it('an unconfirmed (mempool-only), spent, mismatched or non-P2TR deposit', () => {
    s.chain.deposit = { ...s.chain.deposit!, confirmations: 0 };
    refusal(verify(s, s.inner), 'E_DEPOSIT_UNCONFIRMED', 4);
    s.chain.deposit = null;
    refusal(verify(s, s.inner), 'E_DEPOSIT_SPENT', 4);
    refusal(verify(s, { ...s.inner, funding_tx: s.inner.funding_tx.slice(0, -2) + '01' }), 'E_DEPOSIT_MISMATCH', 4);
    // A funding whose output at the outpoint is not the coin, with the statement pointing at it.
    const f = coin.parseTransaction(s.inner.funding_tx, 'f');
    const bad = new Transaction({ version: 2, allowUnknownOutputs: true });
    bad.addInput({ txid: f.getInput(0).txid!, index: 0 });
    bad.addOutput({ script: fromHex('0014' + '11'.repeat(20)), amount: 1000n });
    bad.addOutput({ script: fromHex('0014' + '22'.repeat(20)), amount: BigInt(s.inner.statement.amount_sat!) });
    // The sender and the operator collude: statement and binding name the other outpoint.
    const st = resign(s, { ...s.inner.statement, outpoint: `${bad.id}:1` });
    const binding = signBody('binding', { coin_id: s.expect.coinId, outpoint: `${bad.id}:1`, receiver_share: s.expect.receiverShare, transfer_id: s.expect.transferId }, s.d.owner.auth.secretKey, new Uint8Array(32));
    refusal(verify(s, { ...s.inner, funding_tx: toHex(bad.unsignedTx), statement: st, binding_sig: binding }), 'E_DEPOSIT_NOT_P2TR', 4);
  });

  it('an undecryptable or malformed package (refused, never a crash)', () => {
    const pkg = s.pkg.message as { sealed: string; coin_id: string; transfer_id: string; receiver_auth: string };
    const flip = pkg.sealed.slice(0, 80) + (pkg.sealed[80] === '0' ? '1' : '0') + pkg.sealed.slice(81);
    refusal(() => tr.openPackage({ ...pkg, sealed: flip } as never, s.req.pending, s.bob.auth.secretKey), 'E_UNDECRYPTABLE', 4);
    refusal(() => tr.openPackage({ ...pkg, sealed: pkg.sealed.slice(0, 40) } as never, s.req.pending, s.bob.auth.secretKey), 'E_UNDECRYPTABLE', 4);
    refusal(() => tr.openPackage({ ...pkg, transfer_id: 'dd'.repeat(16) } as never, s.req.pending, s.bob.auth.secretKey), 'E_UNDECRYPTABLE', 4);
    refusal(() => tr.openPackage(pkg as never, s.req.pending, s.d.owner.auth.secretKey), 'E_UNDECRYPTABLE', 4);
    const aad = `${pkg.coin_id}/${pkg.transfer_id}/package`;
    const eph = new Uint8Array(32).fill(8);
    refusal(() => tr.openPackage({ ...pkg, sealed: seal(s.bob.auth.publicKey, new TextEncoder().encode('not json'), aad, eph) } as never, s.req.pending, s.bob.auth.secretKey), 'E_MALFORMED_MESSAGE', 3);
    refusal(() => tr.openPackage({ ...pkg, sealed: sealJson(s.bob.auth.publicKey, { t1: 5 }, aad, eph) } as never, s.req.pending, s.bob.auth.secretKey), 'E_MALFORMED_MESSAGE', 3);
    refusal(() => tr.openPackage({ ...pkg, coin_id: 'ab'.repeat(16) } as never, s.req.pending, s.bob.auth.secretKey), 'E_WRONG_COIN', 4);
    // bytes that are not hex are malformed (E_BAD_HEX, exit 3), not a ciphertext that does not open
    expect(refusal(() => unseal(s.bob.auth.secretKey, `zz${pkg.sealed.slice(2)}`, aad, 'sealed'), 'E_BAD_HEX', 3).message).toBe('sealed is not hex');
  });
});

describe('the operator refuses', () => {
  let s: Scenario;
  beforeEach(async () => {
    s = await scenario();
  });
  const accept = (sc: Scenario) => tr.acceptPackage(sc.pkg.message as never, sc.req.pending, sc.facts(), sc.bob).message as Record<string, unknown>;
  const resignAccept = (m: Record<string, unknown>, secret: Uint8Array) => {
    const { receiver_sig: _, ...body } = m;
    return { ...body, receiver_sig: signBody(String(m.type), body, secret, new Uint8Array(32)) };
  };

  it('a wrong t₂, leaving its share as it was (E_BAD_T2)', () => {
    const m = accept(s);
    const wrong = resignAccept({ ...m, t2_sealed: seal(s.d.operator.auth.publicKey, fromHex(hex32(12345n)), `${s.expect.coinId}/${s.expect.transferId}/t2`, new Uint8Array(32).fill(6)) }, s.bob.auth.secretKey);
    const before = clone(s.cosigned.record);
    refusal(() => op.completeTransfer(s.cosigned.record, wrong as never, s.d.opCtx), 'E_BAD_T2', 4);
    // a t₂ of 31 bytes, or not below the group order: refused alike (exit 4 at every site)
    const t2 = (b: Uint8Array) => resignAccept({ ...m, t2_sealed: seal(s.d.operator.auth.publicKey, b, `${s.expect.coinId}/${s.expect.transferId}/t2`, new Uint8Array(32).fill(6)) }, s.bob.auth.secretKey);
    expect(refusal(() => op.completeTransfer(s.cosigned.record, t2(fromHex(hex32(12345n)).subarray(1)) as never, s.d.opCtx), 'E_BAD_T2', 4).message).toBe('t₂ must be a 32-byte scalar');
    expect(refusal(() => op.completeTransfer(s.cosigned.record, t2(fromHex(hex32(N))) as never, s.d.opCtx), 'E_BAD_T2', 4).message).toBe('t₂ is not a scalar below the group order');
    expect(s.cosigned.record).toEqual(before);
  });

  it('a t₂ not signed for this coin and transfer, or not from the named receiver', () => {
    const m = accept(s);
    refusal(() => op.completeTransfer(s.cosigned.record, resignAccept(m, new Uint8Array(32).fill(7)) as never, s.d.opCtx), 'E_BAD_REQUEST_SIG', 4);
    refusal(() => op.completeTransfer(s.cosigned.record, { ...m, transfer_id: 'cc'.repeat(16) } as never, s.d.opCtx), 'E_STALE_TRANSFER', 5);
    const sealedElsewhere = resignAccept({ ...m, t2_sealed: seal(s.d.operator.auth.publicKey, fromHex(hex32(1n)), `${s.expect.coinId}/other/t2`, new Uint8Array(32).fill(6)) }, s.bob.auth.secretKey);
    refusal(() => op.completeTransfer(s.cosigned.record, sealedElsewhere as never, s.d.opCtx), 'E_UNDECRYPTABLE', 4);
    const stranger = party('stranger');
    refusal(() => op.completeTransfer(s.cosigned.record, resignAccept({ ...m, receiver_auth: toHex(stranger.auth.publicKey) }, stranger.auth.secretKey) as never, s.d.opCtx), 'E_WRONG_RECEIVER', 4);
  });

  it('a stale x₁ after a restarted transfer (E_STALE_TRANSFER), and the restarted chain still verifies', async () => {
    const first = accept(s);
    // Alice restarts towards Carol: Bob's backup stays in the chain, counted.
    const carol = party('carol');
    const req2 = tr.startReceive(s.expect.coinId, s.d.operator.auth.publicKey, carol);
    const sign2 = await tr.transferSign(s.pkg.record, req2.message as never, s.chain.height, s.d.owner);
    const cos2 = await op.cosignTransfer(s.cosigned.record, sign2.message as never, s.d.opCtx);
    refusal(() => op.completeTransfer(cos2.record, first as never, s.d.opCtx), 'E_STALE_TRANSFER', 5);
    const pkg2 = await tr.transferPackage(sign2.record, cos2.message as never, s.d.owner);
    const acc2 = tr.acceptPackage(pkg2.message as never, req2.pending, s.facts(), carol);
    expect(acc2.verified.backups).toBe(3);
    const done = op.completeTransfer(cos2.record, acc2.message as never, s.d.opCtx);
    expect(done.record.statement.owner_share).toBe(req2.pending.share);
    // The final step repeated answers the same and changes nothing.
    const again = op.completeTransfer(done.record, acc2.message as never, s.d.opCtx);
    expect(again.message).toEqual(done.message);
    expect(again.record).toBe(done.record);
  });

  const resignedAs = (m: Record<string, unknown>, field: string, secret: Uint8Array) => {
    const { [field]: _, ...body } = m;
    return { ...body, [field]: signBody(String(m.type), body, secret, new Uint8Array(32)) };
  };

  it('the same request again gets the same answer: no second signature, no state change', async () => {
    const again = await op.cosignTransfer(s.cosigned.record, s.signReq.message as never, s.d.opCtx);
    expect(again.message).toEqual(s.cosigned.message);
    expect(again.record).toBe(s.cosigned.record);
    const dep = await op.cosignDepositBackup(s.d.opRecord, s.d.backupMessage as never, s.d.opCtx);
    expect(dep.record).toBe(s.d.opRecord);
  });

  it('a second backup for one transfer, or an owner nonce signed against before', async () => {
    // Another request (a fresh nonce) for the transfer that already has its backup.
    const fresh = nonceGen(new Uint8Array(64).fill(9)).pubnonce;
    const second = resignedAs({ ...(s.signReq.message as Record<string, unknown>), owner_pubnonce: toHex(fresh) }, 'owner_sig', s.d.owner.auth.secretKey);
    await refusalAsync(op.cosignTransfer(s.cosigned.record, second as never, s.d.opCtx), 'E_TRANSFER_REPEATED', 5);
    const w = await own.withdrawRequest(s.d.ownerRecord, fromHex('0014' + '33'.repeat(20)), 2, s.d.owner);
    const reused: Record<string, unknown> = { ...(w.message as Record<string, unknown>), owner_pubnonce: (s.signReq.message as { owner_pubnonce: string }).owner_pubnonce };
    const { owner_sig: _, ...body } = reused;
    const signed = { ...body, owner_sig: signBody('statechain/withdraw-request', body, s.d.owner.auth.secretKey, new Uint8Array(32)) };
    refusal(() => op.cosignWithdrawal(s.cosigned.record, signed as never, s.d.opCtx), 'E_NONCE_REPLAY', 5);
    const otherBackup = resignedAs({ ...(s.d.backupMessage as Record<string, unknown>), owner_pubnonce: toHex(fresh) }, 'owner_sig', s.d.owner.auth.secretKey);
    await refusalAsync(op.cosignDepositBackup(s.d.opRecord, otherBackup as never, s.d.opCtx), 'E_ALREADY_SIGNED', 5);
  });

  it('a request not signed by the current owner, or changed after signing (E_BAD_REQUEST_SIG)', async () => {
    const m = s.signReq.message as Record<string, unknown>;
    await refusalAsync(op.cosignTransfer(s.d.opRecord, { ...m, locktime: (m.locktime as number) - 1 } as never, s.d.opCtx), 'E_BAD_REQUEST_SIG', 4);
    const { owner_sig: _, ...body } = m;
    const byBob = { ...body, owner_sig: signBody('statechain/transfer-sign', body, s.bob.auth.secretKey, new Uint8Array(32)) };
    await refusalAsync(op.cosignTransfer(s.d.opRecord, byBob as never, s.d.opCtx), 'E_BAD_REQUEST_SIG', 4);
  });

  it('a receiver share without a proof of possession for this coin (E_BAD_POSSESSION)', async () => {
    const bob = party('bob2');
    const rogue = tr.startReceive('00'.repeat(16), s.d.operator.auth.publicKey, bob); // proof for another coin
    const req: Record<string, unknown> = { ...(rogue.message as Record<string, unknown>), coin_id: s.expect.coinId };
    const { receiver_sig: _, ...body } = req;
    const signed = { ...body, receiver_sig: signBody('statechain/transfer-request', body, bob.auth.secretKey, new Uint8Array(32)) };
    await refusalAsync(tr.transferSign(s.d.ownerRecord, signed as never, s.chain.height, s.d.owner), 'E_BAD_POSSESSION', 4);
  });

  it('an exhausted transfer budget, an unconfirmed deposit, a withdrawn coin', async () => {
    const m = s.signReq.message as never;
    s.chain.height = 290 - 6;
    await refusalAsync(op.cosignTransfer(s.d.opRecord, m, s.d.opCtx), 'E_TRANSFERS_EXHAUSTED', 4);
    await refusalAsync(tr.transferSign(s.d.ownerRecord, s.req.message as never, s.chain.height, s.d.owner), 'E_TRANSFERS_EXHAUSTED', 4);
    s.chain.height = 200;
    s.chain.deposit = { ...s.chain.deposit!, confirmations: 1 };
    await refusalAsync(op.cosignTransfer(s.d.opRecord, m, s.d.opCtx), 'E_DEPOSIT_UNCONFIRMED', 4);
    const withdrawn = { ...s.d.opRecord, statement: { ...s.d.opRecord.statement, status: 'withdrawn' as const } };
    await refusalAsync(op.cosignTransfer(withdrawn, m, s.d.opCtx), 'E_COIN_WITHDRAWN', 4);
  });
});

describe('the owner refuses a bad answer without spending its nonce', () => {
  it('a bad operator partial signature (E_BAD_PARTIAL_SIG) or a wrong x₁ (E_BAD_X1)', async () => {
    const s = await scenario();
    // A fresh signing round (the scenario's nonce is spent by its package).
    const sign = await tr.transferSign(s.d.ownerRecord, s.req.message as never, s.chain.height, s.d.owner);
    const cosigned = await op.cosignTransfer(s.d.opRecord, sign.message as never, s.d.opCtx);
    const pubnonce = fromHex((sign.message as { owner_pubnonce: string }).owner_pubnonce);
    const transferId = (sign.message as { transfer_id: string }).transfer_id;
    const cos = cosigned.message as unknown as Record<string, string>;
    const bad = { ...cos, operator_psig: hex32((BigInt('0x' + cos.operator_psig) + 1n) % N) };
    await refusalAsync(tr.transferPackage(sign.record, bad as never, s.d.owner), 'E_BAD_PARTIAL_SIG', 4);
    expect(await s.d.owner.nonces.status(pubnonce)).toBe('unused');
    const wrongX1 = { ...cos, x1_sealed: sealJson(s.d.owner.auth.publicKey, { x1: hex32(777n) }, `${s.expect.coinId}/${transferId}/x1`, new Uint8Array(32).fill(2)) };
    await refusalAsync(tr.transferPackage(sign.record, wrongX1 as never, s.d.owner), 'E_BAD_X1', 4);
    expect(await s.d.owner.nonces.status(pubnonce)).toBe('unused');
    // The honest answer still completes with the nonce kept for it.
    await tr.transferPackage(sign.record, cosigned.message as never, s.d.owner);
    expect(await s.d.owner.nonces.status(pubnonce)).toBe('consumed');
  });

  it('the sender refuses a transfer request for another coin (E_WRONG_COIN)', async () => {
    const s = await scenario();
    const other = tr.startReceive('12'.repeat(16), s.d.operator.auth.publicKey, party('x'));
    await refusalAsync(tr.transferSign(s.d.ownerRecord, other.message as never, 200, s.d.owner), 'E_WRONG_COIN', 4);
  });

  it('its own record naming no backup for its share: E_NOT_OWNER, exit 5 (the stored state, as at its other sites)', async () => {
    const r = (await deposit(chainStub(200))).ownerRecord;
    expect(own.backupWithChild(r, undefined, new Uint8Array(32)).hex).toBe(r.backups[0]);
    const none = { ...r, statement: { ...r.statement, backups: r.statement.backups.map((b) => ({ ...b, owner_share: `02${'11'.repeat(32)}` })) } };
    expect(refusal(() => own.backupWithChild(none, undefined, new Uint8Array(32)), 'E_NOT_OWNER', 5).message).toBe(
      `no backup of this coin is ours: the operator's statement names ${none.statement.backups.length} backup(s), none for our share — finish the receive under way (statechain-transfer with the operator's answer) or restore this state directory from a copy`,
    );
  });
});

describe('after any sequence of transfers, restarts and refused steps, O + S = P', () => {
  type Action = 'transfer' | 'restart' | 'bad-t2';
  it('a random sequence keeps s·G + O = P at the operator, one pending x₁ at most, and every handed chain verifying', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Action>('transfer', 'restart', 'bad-t2'), { minLength: 1, maxLength: 4 }), async (actions) => {
        const chain = chainStub(200);
        const d = await deposit(chain);
        const out = coin.parseTransaction(d.funding, 'funding').getOutput(1);
        chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount!, scriptPubKey: out.script!, confirmations: 3 };
        let opRecord = d.opRecord;
        let owner = { party: d.owner, record: d.ownerRecord };
        const P = d.opRecord.statement.aggregate;
        const holds = () => {
          const sum = secp256k1.Point.fromHex(opRecord.statement.owner_share).add(secp256k1.Point.BASE.multiply(BigInt('0x' + opRecord.share_secret)));
          expect(sum.toHex(true)).toBe(P);
          expect(opRecord.x1 === null).toBe(opRecord.statement.transfer === null);
        };
        for (const [i, action] of actions.entries()) {
          const receiver = party(`p${i}`);
          const req = tr.startReceive(owner.record.coin_id, d.operator.auth.publicKey, receiver);
          const sign = await tr.transferSign(owner.record, req.message as never, chain.height, owner.party);
          const cos = await op.cosignTransfer(opRecord, sign.message as never, d.opCtx);
          opRecord = cos.record;
          const pkg = await tr.transferPackage(sign.record, cos.message as never, owner.party);
          holds();
          if (action === 'restart') {
            owner = { ...owner, record: pkg.record }; // the receiver never answers; the sender starts over
            continue;
          }
          const acc = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: chain.height, deposit: chain.deposit }, receiver);
          if (action === 'bad-t2') {
            const m = acc.message as Record<string, unknown>;
            const bad: Record<string, unknown> = { ...m, t2_sealed: seal(d.operator.auth.publicKey, fromHex(hex32(99n)), `${owner.record.coin_id}/${String(m.transfer_id)}/t2`, new Uint8Array(32).fill(1)) };
            const { receiver_sig: _, ...body } = bad;
            const signed = { ...body, receiver_sig: signBody(String(m.type), body, receiver.auth.secretKey, new Uint8Array(32)) };
            refusal(() => op.completeTransfer(opRecord, signed as never, d.opCtx), 'E_BAD_T2', 4);
          }
          const done = op.completeTransfer(opRecord, acc.message as never, d.opCtx);
          opRecord = done.record;
          holds();
          owner = { party: receiver, record: tr.finishReceive(acc.record, done.message as never) };
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
