/**
 * A coin owned by two parties (the channel of issue 13 item 6), in the library: Alice
 * hands her coin to the pair Alice+Bob (O₂ = A + B, a proof per part; the package sealed
 * to Alice, u = t₁ − a handed to Bob, t₂ = u − b to the operator), then the pair signs
 * with the operator in the three-party session [A, B, S] — the operator's code unchanged,
 * its partial signature made in its own two-party session — for a "virtual close" that
 * hands the coin to Bob alone. Checked by test code: s·G + O = P after each rotation
 * (point sums), and every signature by the independent key-path verifier.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as coin from '../../../src/lib/statechain/coin.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import { jointPubnonce } from '../../../src/lib/statechain/joint-share.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import { sealJson, signBody, unsealJson } from '../../../src/lib/statechain/seal.ts';
import { nonceGen } from '../../../src/lib/statechain/signer.ts';
import { bindingBody, verifyTransfer } from '../../../src/lib/statechain/verify.ts';
import type { PackageInner } from '../../../src/lib/statechain/schemas.ts';
import { verifyKeyPathSpend } from '../../independent/verify.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { decodeCompressed, encodeCompressed, pointAdd } from '../../independent/secp256k1.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import { ANCHORED_TERMS, chainStub, cleanup, deposit, pairOwned, party, fundingTxid } from './harness.ts';

afterAll(cleanup);

const G = secp256k1.Point.BASE;
const N = secp256k1.Point.Fn.ORDER;
const pt = (hex: string) => secp256k1.Point.fromHex(hex);
const scalar = (hex: string) => BigInt('0x' + hex);
const hex32 = (n: bigint) => n.toString(16).padStart(64, '0');

describe('a coin owned by two parties', () => {
  it('Alice → Alice+Bob (two-step t₂), then a three-party signature hands it to Bob alone; P constant', async () => {
    const chain = chainStub(200);
    // Old (unanchored) terms, taken by the pair only with its opt-in (--allow-unanchored): the opt-in path end to end in the library.
    const d = await deposit(chain);
    const optIn = { ...DEFAULT_FLOOR, allowUnanchored: true };
    const out = coin.parseTransaction(d.funding, 'funding').getOutput(1);
    chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount!, scriptPubKey: out.script!, confirmations: 3 };
    const facts = { tipHeight: 200, deposit: chain.deposit };
    const P = d.opRecord.statement.aggregate;
    const outputKey = taprootOutput(fromHex(P).subarray(1)).outputKey;
    const prevout = [{ amount: out.amount!, script: out.script! }];
    const coinId = d.ownerRecord.coin_id;
    const alice = d.owner;
    const bob = party('joint-bob');

    // The pair asks for the coin: a part each, both proven; Alice signs the request.
    const a = joint.jointPart(coinId, alice.auth.publicKey, alice.random);
    const b = joint.jointPart(coinId, bob.auth.publicKey, bob.random);
    const channelFunding = fromHex('0020' + 'cd'.repeat(32));
    const req = joint.jointRequest(coinId, d.operator.auth.publicKey, a, b.part, alice, channelFunding);
    expect(req.pending.share).toBe(pt(a.part.share).add(pt(b.part.share)).toHex(true));

    // A part whose proof is for another coin is refused by the sender and the operator.
    const rogue = joint.jointPart('00'.repeat(16), bob.auth.publicKey, bob.random);
    refusal(() => joint.jointRequest(coinId, d.operator.auth.publicKey, a, rogue.part, alice), 'E_BAD_POSSESSION', 4);

    const sign = await tr.transferSign(d.ownerRecord, req.message as never, 200, alice);
    const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
    const pkg = await tr.transferPackage(sign.record, cos.message as never, alice);
    const transferId = (pkg.message as { transfer_id: string }).transfer_id;
    const inner = tr.openPackage(pkg.message as never, { coin_id: coinId, auth: a.part.auth }, alice.auth.secretKey);
    refusal(() => joint.jointOpen(inner, transferId, req.pending, facts, alice.random), 'E_BACKUP_UNBUMPABLE', 4);
    const opened = joint.jointOpen(inner, transferId, req.pending, facts, alice.random, optIn);
    expect(opened.verified.backups).toBe(2);
    refusal(() => joint.jointFinish(joint.openHandoff(opened.handoff, coinId, transferId, bob.auth.secretKey), transferId, req.pending, b.secret, facts, bob.random), 'E_BACKUP_UNBUMPABLE', 4);
    const finished = joint.jointFinish(joint.openHandoff(opened.handoff, coinId, transferId, bob.auth.secretKey), transferId, req.pending, b.secret, facts, bob.random, optIn);
    // Bob's view of t₁ is u = t₁ − a: he checks it against O₁ + X₁ − A, never learning t₁ or a.
    const handed = unsealJson(bob.auth.secretKey, opened.handoff, `${coinId}/${transferId}/joint`, 'h') as PackageInner;
    expect(handed.t1).not.toBe(inner.t1);
    const accept = joint.jointAccept(req.pending, transferId, finished.t2Sealed, alice);
    const done = op.completeTransfer(cos.record, accept as never, d.opCtx);
    const s2 = scalar(done.record.share_secret);
    expect(G.multiply(s2).add(pt(a.part.share)).add(pt(b.part.share)).toHex(true)).toBe(P);
    expect(done.record.statement.backups.at(-1)!.script).toBe(toHex(channelFunding));

    // Virtual close: the pair hands the whole coin to Bob (a new share b′), signing three-party.
    const bobAgain = tr.startReceive(coinId, d.operator.auth.publicKey, bob);
    const st = done.record.statement;
    const key = coin.coinKey(fromHex(st.owner_share), fromHex(st.operator_share));
    const locktime = st.backups.at(-1)!.locktime - st.terms.interval;
    const backup = coin.backupTransaction(key, {
      outpoint: coin.parseOutpointText(st.outpoint!), amountSat: BigInt(st.amount_sat!), locktime, ownerShare: fromHex(bobAgain.pending.share), feeSat: BigInt(st.terms.backup_fee_sat),
    });
    const nA = nonceGen(alice.random.bytes(64, 'test-nonce-a'));
    const nB = nonceGen(bob.random.bytes(64, 'test-nonce-b'));
    // B's consent to exactly this transfer (its joint-nonce, signed by B): the operator binds the pair's coin to both parts.
    const consent = { type: 'statechain/joint-nonce', version: 1, network: 'regtest', coin_id: coinId, request: bobAgain.message, backup_txid: backup.id, pubnonce: toHex(nB.pubnonce) };
    const body = {
      type: 'statechain/transfer-sign', version: 1, network: 'regtest', coin_id: coinId, transfer_id: 'ab'.repeat(16),
      receiver_auth: bobAgain.pending.auth, receiver_share: bobAgain.pending.share, receiver_pop: (bobAgain.message as { receiver_pop: string }).receiver_pop,
      locktime, backup_tx: toHex(backup.unsignedTx), owner_pubnonce: toHex(jointPubnonce([nA.pubnonce, nB.pubnonce])), a_pubnonce: toHex(nA.pubnonce),
      part_b: { ...consent, part_sig: signBody(consent.type, consent, bob.auth.secretKey, new Uint8Array(32)) },
    };
    const request = { ...body, owner_sig: signBody(body.type, body, alice.auth.secretKey, new Uint8Array(32)) };
    const cos2 = await op.cosignTransfer(done.record, request as never, d.opCtx);
    const m = cos2.message as { operator_pubnonce: string; operator_psig: string; x1_sealed: string; statement: PackageInner['statement'] };
    const session = { shares: [fromHex(a.part.share), fromHex(b.part.share), fromHex(st.operator_share)], pubnonces: [nA.pubnonce, nB.pubnonce, fromHex(m.operator_pubnonce)], msg: backup.sighash() };
    const sig = joint.jointAggregate(session, [
      joint.jointPartialSign(session, 0, nA.secnonce, a.secret),
      joint.jointPartialSign(session, 1, nB.secnonce, b.secret),
      fromHex(m.operator_psig),
    ]);
    const signedBackup = toHex(backup.signed(sig));
    verifyKeyPathSpend(signedBackup, prevout, outputKey);

    // t₁ = a + b + x₁ without anyone learning another's part: x₁ is sealed to Alice (the
    // owner's key), Alice gives Bob a + x₁, Bob adds b.
    const x1 = scalar((unsealJson(alice.auth.secretKey, m.x1_sealed, `${coinId}/${'ab'.repeat(16)}/x1`, 'x1') as { x1: string }).x1);
    const aPlusX1 = sealJson(bob.auth.publicKey, { v: hex32((scalar(toHex(a.secret)) + x1) % N) }, 'test', new Uint8Array(32).fill(5));
    const t1 = (scalar((unsealJson(bob.auth.secretKey, aPlusX1, 'test', 'v') as { v: string }).v) + scalar(toHex(b.secret))) % N;
    const inner2: PackageInner = {
      statement: m.statement, funding_tx: inner.funding_tx, backups: [...inner.backups, signedBackup], t1: hex32(t1),
      binding_sig: signBody('binding', bindingBody(coinId, st.outpoint!, bobAgain.pending.share, 'ab'.repeat(16)), alice.auth.secretKey, new Uint8Array(32)),
    };
    // Bob verifies the chain like any receiver (the channel's funding backup is in it, paying its script).
    expect(verifyTransfer(inner2, { coinId, transferId: 'ab'.repeat(16), receiverShare: bobAgain.pending.share, receiverAuth: bobAgain.pending.auth, operatorAuth: d.operator.auth.publicKey }, facts).backups).toBe(3);
    const acc2 = tr.acceptPackage(
      { type: 'statechain/transfer-package', version: 1, network: 'regtest', coin_id: coinId, transfer_id: 'ab'.repeat(16), receiver_auth: bobAgain.pending.auth, sealed: sealJson(bob.auth.publicKey, inner2, `${coinId}/${'ab'.repeat(16)}/package`, new Uint8Array(32).fill(6)) } as never,
      bobAgain.pending, facts, bob,
    );
    const done2 = op.completeTransfer(cos2.record, acc2.message as never, d.opCtx);
    expect(G.multiply(scalar(done2.record.share_secret)).add(pt(bobAgain.pending.share)).toHex(true)).toBe(P);
    expect(done2.record.statement.owner_share).toBe(bobAgain.pending.share);
  });
});

describe('a pair receiving through the steps the commands run', () => {
  it('B refuses a handoff for another coin, another part, a forged signature or another backup script than it asked for; then takes the right one', async () => {
    const chain = chainStub(200);
    const d = await deposit(chain, 100_000n, ANCHORED_TERMS);
    const out = coin.parseTransaction(d.funding, 'funding').getOutput(1);
    chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount!, scriptPubKey: out.script!, confirmations: 3 };
    const facts = { tipHeight: 200, deposit: chain.deposit };
    const coinId = d.ownerRecord.coin_id;
    const alice = d.owner;
    const bob = party('pair-bob');
    const channel = fromHex('0020' + 'cd'.repeat(32));
    const b = joint.startPart(coinId, d.operator.auth.publicKey, bob, channel);
    // B's part message must be B's: a forged part_sig is refused by A.
    refusal(() => joint.startJointReceive(coinId, d.operator.auth.publicKey, { ...b.message, part_sig: '00'.repeat(64) } as never, alice, channel), 'E_BAD_REQUEST_SIG', 4);
    const a = joint.startJointReceive(coinId, d.operator.auth.publicKey, b.message as never, alice); // A forgets the channel's script
    const sign = await tr.transferSign(d.ownerRecord, a.message as never, 200, alice);
    const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
    const pkg = await tr.transferPackage(sign.record, cos.message as never, alice);
    const taken = joint.jointTakePackage(pkg.message as never, a.pending, facts, alice);
    expect(taken.record.joint.index).toBe(0);
    const handoff = taken.message as never as Parameters<typeof joint.jointTakeHandoff>[0];

    refusal(() => joint.jointTakeHandoff(handoff, b.pending, facts, bob), 'E_WRONG_BACKUP', 4);
    refusal(() => joint.jointTakeHandoff({ ...handoff, coin_id: '00'.repeat(16) }, b.pending, facts, bob), 'E_WRONG_COIN', 4);
    refusal(() => joint.jointTakeHandoff({ ...handoff, part_sig: '00'.repeat(64) }, { ...b.pending, backup_script: undefined }, facts, bob), 'E_BAD_REQUEST_SIG', 4);
    const other = joint.startPart(coinId, d.operator.auth.publicKey, party('pair-other'));
    refusal(() => joint.jointTakeHandoff(handoff, other.pending, facts, bob), 'E_WRONG_RECEIVER', 4);

    const { backup_script: _, ...asked } = b.pending;
    const t2 = joint.jointTakeHandoff(handoff, asked, facts, bob);
    expect(t2.record.joint.index).toBe(1);
    // A refuses a t₂ not signed by B, then sends the pair's acceptance; the operator rotates to A + B.
    refusal(() => joint.jointAcceptFrom({ ...(t2.message as never as Parameters<typeof joint.jointAcceptFrom>[0]), part_sig: '00'.repeat(64) }, taken.record, alice), 'E_BAD_REQUEST_SIG', 4);
    const accept = joint.jointAcceptFrom(t2.message as never, taken.record, alice);
    const done = op.completeTransfer(cos.record, accept as never, d.opCtx);
    expect(G.multiply(scalar(done.record.share_secret)).add(pt(a.pending.parts[0]!.share)).add(pt(a.pending.parts[1]!.share)).toHex(true)).toBe(d.opRecord.statement.aggregate);
    // Each part holds only its own secret: a·G = A, b·G = B.
    expect(G.multiply(scalar(taken.record.share_secret)).toHex(true)).toBe(a.pending.parts[0]!.share);
    expect(G.multiply(scalar(t2.record.share_secret)).toHex(true)).toBe(a.pending.parts[1]!.share);
  });
});

describe('a pair sends its coin: three-party signing [A, B, S] through the commands\' steps', () => {
  it('a bad partial signature, a wrong a + x₁, a backup B did not build are refused; the nonce is taken once; the backup verifies', async () => {
    const p = await pairOwned();
    const carol = party('send-carol');
    const req = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, carol);
    await refusalAsync(send.jointNonce(p.recA, req.message as never, 200, p.alice), 'E_WRONG_PART', 5);
    const nonce = await send.jointNonce(p.recB, req.message as never, 200, p.bob);
    // A builds the backup itself: a nonce message naming another backup is refused.
    const other: Record<string, unknown> = { ...(nonce.message as Record<string, unknown>), backup_txid: '00'.repeat(32) };
    const { part_sig: _, ...otherBody } = other;
    await refusalAsync(send.jointTransferSign(p.recA, { ...otherBody, part_sig: signBody('statechain/joint-nonce', otherBody, p.bob.auth.secretKey, new Uint8Array(32)) } as never, 200, p.alice), 'E_BACKUP_MISMATCH', 4);
    const signReq = await send.jointTransferSign(p.recA, nonce.message as never, 200, p.alice);
    const cos = await op.cosignTransfer(p.opRecord, signReq.message as never, p.d.opCtx);
    const signA = await send.jointSignA(signReq.record, cos.message as never, p.alice);
    const resignedByA = (m: Record<string, unknown>) => {
      const { part_sig: __, ...body } = m;
      return { ...body, part_sig: signBody(String(m.type), body, p.alice.auth.secretKey, new Uint8Array(32)) };
    };
    const m = signA.message as Record<string, unknown>;
    await refusalAsync(send.jointPackage(nonce.record, resignedByA({ ...m, a_psig: '01'.repeat(32) }) as never, p.bob), 'E_BAD_PARTIAL_SIG', 4);
    const wrongX1 = sealJson(p.bob.auth.publicKey, { ax1: '02'.repeat(32) }, `${p.coinId}/${String(m.transfer_id)}/joint-x1`, new Uint8Array(32).fill(9));
    await refusalAsync(send.jointPackage(nonce.record, resignedByA({ ...m, ax1_sealed: wrongX1 }) as never, p.bob), 'E_BAD_X1', 4);
    // Refusals burned nothing: B's nonce is still there, and taken by the real step, once (a replay
    // against the record as it was before is refused by the nonce store).
    const pkg = await send.jointPackage(nonce.record, m as never, p.bob);
    await refusalAsync(send.jointPackage(nonce.record, m as never, p.bob), 'E_NONCE_USED', 5);
    // The receiver accepts as from any sender; the new backup verifies for the coin's key.
    const acc = tr.acceptPackage(pkg.message as never, req.pending, p.facts, carol);
    const backup = acc.record.backups.at(-1)!;
    // The coin's output key derived in test code: P = O + S (a plain point sum), then BIP-341's tweak — not the product's coinKey.
    const P = encodeCompressed(pointAdd(decodeCompressed(fromHex(p.d.opRecord.statement.owner_share)), decodeCompressed(fromHex(p.d.opRecord.statement.operator_share))));
    const expected = taprootOutput(P.subarray(1));
    const fundingOut = coin.parseTransaction(p.d.funding, 'funding').getOutput(1);
    expect(toHex(fundingOut.script!)).toBe(toHex(expected.script));
    verifyKeyPathSpend(backup, [{ amount: fundingOut.amount!, script: fundingOut.script! }], expected.outputKey);
    const done = op.completeTransfer(cos.record, acc.message as never, p.d.opCtx);
    expect(G.multiply(scalar(done.record.share_secret)).add(pt(req.pending.share)).toHex(true)).toBe(p.d.opRecord.statement.aggregate);
  });
});
