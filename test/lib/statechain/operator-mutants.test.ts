/**
 * The statechain operator's steps (src/lib/statechain/operator.ts) at every check, written
 * from docs/statechain.md ("Invariants", "Each role's state machine: Operator") for the
 * mutation run (issue 42): each refusal by code, exit class and whole message, with the
 * record it was given unchanged and no record returned (a refused step changes no state);
 * each bound at its edge (backup 1's locktime ±6, the transfer's locktime, the margin, the
 * confirmations); each accepted step's whole record and answer — the share rotated so that
 * s₂·G + O₂ = P with the old share kept nowhere, one backup per transfer, nothing signed
 * after a withdrawal, every owner nonce signed against once, the operator's own nonce never
 * drawn twice for one coin. Every signature the operator takes part in is completed and
 * checked by test/independent (BIP-340, BIP-341 sighash, the P2TR key of O + S summed in
 * test code). Library steps only; the coins are built once (the steps are pure).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Address, OutScript, Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { stringifyLine } from '../../../src/lib/json.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import * as coin from '../../../src/lib/statechain/coin.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import * as send from '../../../src/lib/statechain/joint-send.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';
import { seal, signBody, unsealJson } from '../../../src/lib/statechain/seal.ts';
import { nonceGen, provePossession } from '../../../src/lib/statechain/signer.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import { VERIFIER, verifyKeyPathSpend } from '../../independent/verify.ts';
import { taprootOutput } from '../../independent/keys.ts';
import { bytesOf, hexOf, parseTx } from '../../independent/tx.ts';
import { N, bip340Verify, bytes32, decodeCompressed, encodeCompressed, int, pointAdd, publicKeyOf, taggedHash } from '../../independent/secp256k1.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { TERMS, chainStub, cleanup, confirmedCoin, depositRequested, fundingTxid, pairOwned, party } from './harness.ts';

afterAll(cleanup);

type Msg = Record<string, any>;
type Ctx = op.OperatorContext;
const clone = <T>(v: T): T => structuredClone(v);
const DEST = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(9)]);
const OTHER_COIN = 'ab'.repeat(16);
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
/** The record's nonce tag as ports.ts defines it: sha256(owner pubnonce)[0..16], in test code. */
const tagOf = (pubnonce: string) => createHash('sha256').update(bytesOf(pubnonce)).digest('hex').slice(0, 32);
/** sha256 of the request's canonical line (docs/statechain.md: the answer is kept under a digest of its request). */
const digestOf = (req: unknown) => createHash('sha256').update(stringifyLine(req)).digest('hex');
const sumHex = (a: string, b: string) => hexOf(encodeCompressed(pointAdd(decodeCompressed(bytesOf(a)), decodeCompressed(bytesOf(b)))));
const pubOf = (secretHex: string) => hexOf(publicKeyOf(bytesOf(secretHex)));
/** A message re-signed after a change, by whoever holds `secret` (the test holds every party's key). */
function resigned(m: Msg, changes: Msg, field: string, secret: Uint8Array): Msg {
  const { [field]: _sig, ...body } = { ...m, ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete body[k];
  return { ...body, [field]: signBody(String(m.type), body, secret, new Uint8Array(32)) };
}
/** The step refused: its code, class and whole message, and the record it was given unchanged. */
async function refused(record: OperatorRecord, step: (r: OperatorRecord) => unknown, code: string, exit: number, message: string) {
  const before = clone(record);
  const e = await refusalAsync(Promise.resolve().then(() => step(record)), code, exit);
  expect(e.message).toBe(message);
  expect(record).toEqual(before);
}

let base: Awaited<ReturnType<typeof confirmedCoin>>;
/** A context at `height` whose chain shows the deposit with `confirmations` (null: spent). */
function ctxAt(height = 200, confirmations: number | null = 3): Ctx {
  const chain = chainStub(height);
  chain.deposit = confirmations === null ? null : { ...base.chain.deposit!, confirmations };
  return { ...base.d.opCtx, chain };
}
let bob: ReturnType<typeof party>;
let req: ReturnType<typeof tr.startReceive>;
let signReq: Awaited<ReturnType<typeof tr.transferSign>>;
let cos: Awaited<ReturnType<typeof op.cosignTransfer>>;
let pkg: Awaited<ReturnType<typeof tr.transferPackage>>;
let acc: ReturnType<typeof tr.acceptPackage>;
let done: ReturnType<typeof op.completeTransfer>;

/**
 * Built on first use inside a test, not in a hook: a step that throws while it is built fails
 * the tests that need it (the mutation run counts a failed hook as no test run at all).
 */
const once = <T>(f: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
};
const world = once(async () => {
  base = await confirmedCoin();
  bob = party('op-mut-bob');
  req = tr.startReceive(base.d.ownerRecord.coin_id, base.d.operator.auth.publicKey, bob);
  signReq = await tr.transferSign(base.d.ownerRecord, req.message as never, 200, base.d.owner);
  cos = await op.cosignTransfer(base.d.opRecord, signReq.message as never, ctxAt());
  pkg = await tr.transferPackage(signReq.record, cos.message as never, base.d.owner);
  acc = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: 200, deposit: base.chain.deposit! }, bob);
  done = op.completeTransfer(cos.record, acc.message as never, ctxAt());
});

describe('offerDeposit', () => {
  it('a new coin: its own id, a share s with S = s·G, the address of O + S, the terms; a proof of possession and a statement, both the operator\'s', () => {
    const operator = party('op-mut-offer');
    const owner = party('op-mut-offer-owner');
    const ctx: Ctx = { operator: operator.auth, random: operator.random, chain: chainStub(200), network: 'regtest' };
    const m = dep.startDeposit(owner, operator.auth.publicKey).message as Msg;
    const { record: r, message } = op.offerDeposit(m as never, TERMS, ctx);
    expect(r.coin_id).toMatch(/^[0-9a-f]{32}$/);
    const S = pubOf(r.share_secret);
    const P = sumHex(m.owner_share, S);
    const out = taprootOutput(bytesOf(P).subarray(1));
    expect(hexOf(OutScript.encode(Address(REGTEST).decode(r.statement.address)))).toBe(hexOf(out.script));
    const statement = {
      coin_id: r.coin_id, network: 'regtest', status: 'deposit', operator_auth: toHex(operator.auth.publicKey), operator_share: S,
      owner_auth: m.owner_auth, owner_share: m.owner_share, aggregate: P, address: r.statement.address, terms: TERMS,
      outpoint: null, amount_sat: null, count: 0, backups: [], transfer: null,
    };
    expect(r).toStrictEqual({ coin_id: r.coin_id, network: 'regtest', share_secret: r.share_secret, statement, funding_tx: null, x1: null, seen_nonces: [], done: [] });
    expect(Object.keys(message)).toEqual(['type', 'version', 'network', 'coin_id', 'operator_pop', 'statement']);
    expect(message).toMatchObject({ type: 'statechain/deposit-offer', version: 1, network: 'regtest', coin_id: r.coin_id });
    // The proof of possession: BIP-340 by S over the tagged hash of coin id ‖ S (docs: shares are used only after one).
    const pop = bytesOf(message.operator_pop as string);
    expect(bip340Verify(pop, taggedHash('offchain/statechain/possession', bytesOf(r.coin_id), bytesOf(S)), bytesOf(S).subarray(1))).toBe(true);
    const { operator_sig, ...body } = message.statement as Msg;
    expect(body).toStrictEqual(statement);
    expect(VERIFIER.verify(bytesOf(operator_sig), taggedHash('offchain/statechain/statement', new TextEncoder().encode(stringifyLine(body))), operator.auth.publicKey.subarray(1))).toBe(true);
  });

  it('a request not signed by the owner it names (E_BAD_REQUEST_SIG), or the operator\'s own key as owner in any case of hex (E_KEY_MISMATCH)', () => {
    const operator = party('op-mut-self');
    const ctx: Ctx = { operator: operator.auth, random: operator.random, chain: chainStub(200), network: 'regtest' };
    const m = dep.startDeposit(party('op-mut-self-owner'), operator.auth.publicKey).message as Msg;
    const e = refusal(() => op.offerDeposit({ ...m, owner_share: toHex(operator.auth.publicKey) } as never, TERMS, ctx), 'E_BAD_REQUEST_SIG', 4);
    expect(e.message).toBe('the owner\'s signature on this statechain/deposit-request does not verify');
    const mine = dep.startDeposit(operator, operator.auth.publicKey).message as Msg;
    const msg = 'this key is the depositor\'s own (owner_auth of the request): a statechain/deposit-request is for the operator, who runs statechain-deposit on it with the operator\'s key and state';
    expect(refusal(() => op.offerDeposit(mine as never, TERMS, ctx), 'E_KEY_MISMATCH', 4).message).toBe(msg);
    const upper = resigned(mine, { owner_auth: (mine.owner_auth as string).toUpperCase() }, 'owner_sig', operator.auth.secretKey);
    expect(refusal(() => op.offerDeposit(upper as never, TERMS, ctx), 'E_KEY_MISMATCH', 4).message).toBe(msg);
  });
});

describe('a malformed field of a request is named in its refusal (exit 3)', () => {
  it('offerDeposit: an owner_auth or owner_share that is no key', () => {
    const operator = party('op-mut-malformed');
    const owner = party('op-mut-malformed-owner');
    const ctx: Ctx = { operator: operator.auth, random: operator.random, chain: chainStub(200), network: 'regtest' };
    const m = dep.startDeposit(owner, operator.auth.publicKey).message as Msg;
    const noPoint = '02' + 'ff'.repeat(32);
    expect(refusal(() => op.offerDeposit({ ...m, owner_auth: noPoint } as never, TERMS, ctx), 'E_BAD_PUBKEY', 3).message).toBe('key is not a point on secp256k1');
    const share = resigned(m, { owner_share: noPoint }, 'owner_sig', owner.auth.secretKey);
    expect(refusal(() => op.offerDeposit(share as never, TERMS, ctx), 'E_BAD_PUBKEY', 3).message).toBe('owner_share is not a point on secp256k1');
  });
});

describe('cosignDepositBackup', () => {
  let d: Awaited<ReturnType<typeof depositRequested>>;
  let backup: Msg;
  let backupRecord: Awaited<ReturnType<typeof dep.depositBackup>>['record'];
  let ctx: Ctx;
  const depWorld = once(async () => {
    const chain = chainStub(200);
    d = await depositRequested(chain);
    const b = await dep.depositBackup(d.start.pending, d.offer.message as never, d.funding, 200, DEFAULT_FLOOR, d.owner);
    backup = b.message as Msg;
    backupRecord = b.record;
    ctx = d.opCtx;
  });
  /** Backup 1 rebuilt by test-side choices (another locktime or fee), the request re-signed by the owner. */
  const withBackup = (locktime: number, feeSat = 400n) => {
    const st = d.offer.record.statement;
    const tx = coin.backupTransaction(d.key, { outpoint: coin.parseOutpointText(backup.outpoint), amountSat: 100_000n, locktime, ownerShare: fromHex(st.owner_share), feeSat, anchor: false });
    return resigned(backup, { backup_tx: toHex(tx.unsignedTx) }, 'owner_sig', d.owner.auth.secretKey);
  };

  it('co-signs backup 1 once: the coin active, count 1, the backup recorded, the nonce counted, the answer kept; the backup verifies', async () => {
    await depWorld();
    const out = await op.cosignDepositBackup(d.offer.record, backup as never, ctx);
    const tx = parseTx(backup.backup_tx);
    expect(tx.lockTime).toBe(300);
    const statement = {
      ...d.offer.record.statement, status: 'active', outpoint: backup.outpoint, amount_sat: 100_000, count: 1,
      backups: [{ n: 1, txid: tx.txid, locktime: 300, owner_share: d.offer.record.statement.owner_share }],
    };
    expect(out.message).toStrictEqual({
      type: 'statechain/deposit-cosigned', version: 1, network: 'regtest', coin_id: d.offer.record.coin_id, backup_txid: tx.txid,
      owner_pubnonce: backup.owner_pubnonce, operator_pubnonce: out.message.operator_pubnonce, operator_psig: out.message.operator_psig,
      statement: { ...statement, operator_sig: (out.message.statement as Msg).operator_sig },
    });
    expect(out.record).toStrictEqual({
      ...d.offer.record, statement, funding_tx: backup.funding_tx, seen_nonces: [tagOf(backup.owner_pubnonce)],
      last_answer: { request: digestOf(backup), message: out.message },
    });
    expect(op.requestDigest(backup)).toBe(digestOf(backup));
    // The same request again: the same answer, the same record (nothing signed twice).
    const again = await op.cosignDepositBackup(out.record, backup as never, ctx);
    expect(again.record).toBe(out.record);
    expect(again.message).toBe(out.message);
    // Another request for a signed deposit: E_ALREADY_SIGNED, exit 5.
    const other = resigned(backup, { owner_pubnonce: toHex(nonceGen(new Uint8Array(64).fill(3)).pubnonce) }, 'owner_sig', d.owner.auth.secretKey);
    await refused(out.record, (r) => op.cosignDepositBackup(r, other as never, ctx), 'E_ALREADY_SIGNED', 5, 'this coin\'s first backup is already signed: a deposit has one first backup');
    // The owner finishes it: the backup spends the coin under the P2TR key of O + S (test code).
    const rec = await dep.depositFinish(backupRecord, out.message as never, d.owner);
    const fund = parseTx(d.funding).outputs[1]!;
    verifyKeyPathSpend(rec.backups[0]!, [{ ...fund, txid: fundingTxid(d.funding), vout: 1 }], taprootOutput(bytesOf(d.offer.record.statement.aggregate).subarray(1)).outputKey);
  });

  it('backup 1\'s locktime is the tip plus the initial lock within 6 blocks: 294 and 306 signed, 293 and 307 refused (E_BACKUP_LOCKTIME)', async () => {
    await depWorld();
    for (const h of [294, 306]) {
      const out = await op.cosignDepositBackup(d.offer.record, withBackup(h) as never, ctx);
      expect(out.record.statement.backups).toEqual([{ n: 1, txid: parseTx(withBackup(h).backup_tx).txid, locktime: h, owner_share: d.offer.record.statement.owner_share }]);
    }
    for (const h of [293, 307]) {
      await refused(d.offer.record, (r) => op.cosignDepositBackup(r, withBackup(h) as never, ctx), 'E_BACKUP_LOCKTIME', 4, `backup 1's locktime ${h} is not the tip (200) plus the initial lock (100), within 6 blocks`);
    }
  });

  it('refuses another coin, a bad signature, another share\'s proof, a backup off the template, an owner nonce signed against before', async () => {
    await depWorld();
    const r = d.offer.record;
    await refused(r, (x) => op.cosignDepositBackup(x, { ...backup, coin_id: OTHER_COIN } as never, ctx), 'E_WRONG_COIN', 4, `this request is for coin ${OTHER_COIN}, not ${r.coin_id}`);
    await refused(r, (x) => op.cosignDepositBackup(x, { ...backup, amount_sat: 99_999 } as never, ctx), 'E_BAD_REQUEST_SIG', 4, 'the owner\'s signature on this statechain/deposit-backup does not verify');
    const popOfS = resigned(backup, { owner_pop: d.offer.message.operator_pop }, 'owner_sig', d.owner.auth.secretKey);
    await refused(r, (x) => op.cosignDepositBackup(x, popOfS as never, ctx), 'E_BAD_POSSESSION', 4, 'the owner\'s proof of possession of its share does not verify for this coin');
    await refused(r, (x) => op.cosignDepositBackup(x, withBackup(300, 401n) as never, ctx), 'E_BACKUP_TEMPLATE', 4, 'backup_tx is not the backup this coin\'s template gives (version, input, sequence, locktime or output differ)');
    const sign = (changes: Msg) => resigned(backup, changes, 'owner_sig', d.owner.auth.secretKey);
    const e1 = await refusalAsync(op.cosignDepositBackup(r, sign({ owner_pop: (backup.owner_pop as string).slice(2) }) as never, ctx), 'E_BAD_LENGTH', 3);
    expect(e1.message).toBe('owner_pop must be 64 bytes, got 63');
    const e2 = await refusalAsync(op.cosignDepositBackup(r, sign({ backup_tx: '00' }) as never, ctx), 'E_BAD_TRANSACTION', 3);
    expect(e2.message).toMatch(/^backup_tx is not a transaction: /);
    const e3 = await refusalAsync(op.cosignDepositBackup(r, sign({ owner_pubnonce: (backup.owner_pubnonce as string).slice(2) }) as never, ctx), 'E_BAD_LENGTH', 3);
    expect(e3.message).toBe('pubnonce must be 66 bytes, got 65');
    const seen = { ...r, seen_nonces: [tagOf(backup.owner_pubnonce)] };
    await refused(seen, (x) => op.cosignDepositBackup(x, backup as never, ctx), 'E_NONCE_REPLAY', 5, 'this owner nonce was already signed against for this coin: start the step again for a fresh one');
  });
});

describe('cosignTransfer', () => {
  it('co-signs the receiver\'s backup one interval below the last: count + 1, the backup recorded, x₁ sealed to the sender, the nonce counted, the answer kept', async () => {
    await world();
    // The step itself, here (the world's copy was made before this test ran).
    const c = await op.cosignTransfer(base.d.opRecord, signReq.message as never, ctxAt());
    const r = base.d.opRecord;
    const m = signReq.message as Msg;
    const x1 = c.record.x1!;
    expect(int(bytesOf(x1)) > 0n && int(bytesOf(x1)) < N).toBe(true);
    const txid = parseTx(m.backup_tx).txid;
    expect(parseTx(m.backup_tx).lockTime).toBe(290);
    const transfer = { transfer_id: m.transfer_id, receiver_auth: m.receiver_auth, receiver_share: m.receiver_share, x1_point: pubOf(x1) };
    const statement = { ...r.statement, status: 'transferring', count: 2, backups: [...r.statement.backups, { n: 2, txid, locktime: 290, owner_share: m.receiver_share }], transfer };
    const msg = c.message as Msg;
    expect(msg).toStrictEqual({
      type: 'statechain/transfer-cosigned', version: 1, network: 'regtest', coin_id: r.coin_id, transfer_id: m.transfer_id, backup_txid: txid,
      owner_pubnonce: m.owner_pubnonce, operator_pubnonce: msg.operator_pubnonce, operator_psig: msg.operator_psig, x1_sealed: msg.x1_sealed,
      statement: { ...statement, operator_sig: msg.statement.operator_sig },
    });
    expect(c.record).toStrictEqual({ ...r, statement, x1, seen_nonces: [...r.seen_nonces, tagOf(m.owner_pubnonce)], last_answer: { request: digestOf(m), message: msg } });
    expect(unsealJson(base.d.owner.auth.secretKey, msg.x1_sealed, `${r.coin_id}/${m.transfer_id}/x1`, 'x1')).toEqual({ x1 });
  });

  it('the same request again gets the same answer; another for the same transfer, or a finished one, is E_TRANSFER_REPEATED', async () => {
    await world();
    const again = await op.cosignTransfer(cos.record, signReq.message as never, ctxAt());
    expect(again.record).toBe(cos.record);
    expect(again.message).toBe(cos.message);
    const second = resigned(signReq.message as Msg, { owner_pubnonce: toHex(nonceGen(new Uint8Array(64).fill(4)).pubnonce) }, 'owner_sig', base.d.owner.auth.secretKey);
    await refused(cos.record, (x) => op.cosignTransfer(x, second as never, ctxAt()), 'E_TRANSFER_REPEATED', 5, 'this transfer already has its backup: one backup per transfer');
    const byBob = resigned(second, {}, 'owner_sig', bob.auth.secretKey); // bob owns the coin now
    await refused(done.record, (x) => op.cosignTransfer(x, byBob as never, ctxAt()), 'E_TRANSFER_REPEATED', 5, 'this transfer is finished');
  });

  it('refuses a coin not active, another coin, a request not the current owner\'s, a receiver without proof or key', async () => {
    await world();
    const r = base.d.opRecord;
    const m = signReq.message as Msg;
    const withdrawn = { ...r, statement: { ...r.statement, status: 'withdrawn' as const } };
    await refused(withdrawn, (x) => op.cosignTransfer(x, m as never, ctxAt()), 'E_COIN_WITHDRAWN', 4, 'this coin was withdrawn: the operator signs nothing more for it');
    const depositing = { ...r, statement: { ...r.statement, status: 'deposit' as const } };
    await refused(depositing, (x) => op.cosignTransfer(x, m as never, ctxAt()), 'E_NOT_ACTIVE', 4, 'this coin\'s first backup is not signed yet: finish the deposit first');
    await refused(r, (x) => op.cosignTransfer(x, { ...m, coin_id: OTHER_COIN } as never, ctxAt()), 'E_WRONG_COIN', 4, `this request is for coin ${OTHER_COIN}, not ${r.coin_id}`);
    await refused(r, (x) => op.cosignTransfer(x, resigned(m, {}, 'owner_sig', bob.auth.secretKey) as never, ctxAt()), 'E_BAD_REQUEST_SIG', 4, 'the current owner\'s signature on this statechain/transfer-sign does not verify');
    // The receiver's proof, made for another coin.
    const noPop = resigned(m, { receiver_pop: toHex(provePossession(fromHex(req.pending.share_secret), fromHex(OTHER_COIN), new Uint8Array(32))) }, 'owner_sig', base.d.owner.auth.secretKey);
    await refused(r, (x) => op.cosignTransfer(x, noPop as never, ctxAt()), 'E_BAD_POSSESSION', 4, 'the receiver\'s proof of possession of its new share does not verify for this coin');
    const badScript = resigned(m, { backup_script: 'zz' }, 'owner_sig', base.d.owner.auth.secretKey);
    expect((await refusalAsync(op.cosignTransfer(r, badScript as never, ctxAt()), 'E_BAD_HEX', 3)).message).toBe('backup_script is not valid hex');
    const notKey = resigned(m, { receiver_auth: '02' + 'ff'.repeat(32) }, 'owner_sig', base.d.owner.auth.secretKey);
    const e = await refusalAsync(op.cosignTransfer(r, notKey as never, ctxAt()), 'E_BAD_PUBKEY', 3);
    expect(e.message).toContain('receiver_auth');
  });

  it('the locktime is exactly one interval below the last (290), above tip + margin (E_TRANSFERS_EXHAUSTED at tip 284, signed at 283)', async () => {
    await world();
    const r = base.d.opRecord;
    const m = signReq.message as Msg;
    for (const l of [289, 291]) {
      const off = resigned(m, { locktime: l }, 'owner_sig', base.d.owner.auth.secretKey);
      await refused(r, (x) => op.cosignTransfer(x, off as never, ctxAt()), 'E_BACKUP_LOCKTIME', 4, `the receiver's backup must have locktime 290 (the last signed, 300, minus the interval 10), not ${l}`);
    }
    await refused(r, (x) => op.cosignTransfer(x, m as never, ctxAt(284)), 'E_TRANSFERS_EXHAUSTED', 4, 'the next backup\'s locktime 290 would be within 6 blocks of the tip 284: this coin cannot move again; withdraw it');
    expect((await op.cosignTransfer(r, m as never, ctxAt(283))).record.statement.count).toBe(2);
  });

  it('the deposit must be unspent and have the terms\' confirmations (2): 1 refused, 2 signed; a record without a deposit is not active', async () => {
    await world();
    const r = base.d.opRecord;
    const m = signReq.message as Msg;
    await refused(r, (x) => op.cosignTransfer(x, m as never, ctxAt(200, null)), 'E_DEPOSIT_SPENT', 4, `the coin's output ${r.statement.outpoint} is spent or not on chain`);
    await refused(r, (x) => op.cosignTransfer(x, m as never, ctxAt(200, 1)), 'E_DEPOSIT_UNCONFIRMED', 4, 'the deposit has 1 confirmation(s) (a mempool-only deposit has 0); the coin moves after 2');
    expect((await op.cosignTransfer(r, m as never, ctxAt(200, 2))).record.statement.status).toBe('transferring');
    for (const gone of [{ outpoint: null }, { amount_sat: null }]) {
      const none = { ...r, statement: { ...r.statement, ...gone } };
      await refused(none, (x) => op.cosignTransfer(x, m as never, ctxAt()), 'E_NOT_ACTIVE', 4, 'this coin has no deposit yet');
    }
  });

  it('a backup off the template (E_BACKUP_TEMPLATE) and an owner nonce signed against before (E_NONCE_REPLAY) are refused', async () => {
    await world();
    const r = base.d.opRecord;
    const m = signReq.message as Msg;
    const tx = Transaction.fromRaw(bytesOf(m.backup_tx), { allowUnknownOutputs: true, disableScriptCheck: true });
    tx.updateOutput(0, { amount: tx.getOutput(0).amount! - 1n });
    const off = resigned(m, { backup_tx: toHex(tx.unsignedTx) }, 'owner_sig', base.d.owner.auth.secretKey);
    await refused(r, (x) => op.cosignTransfer(x, off as never, ctxAt()), 'E_BACKUP_TEMPLATE', 4, 'backup_tx is not the backup this coin\'s template gives (version, input, sequence, locktime or output differ)');
    const used = resigned(m, { owner_pubnonce: (base.d.backupMessage as Msg).owner_pubnonce }, 'owner_sig', base.d.owner.auth.secretKey);
    await refused(r, (x) => op.cosignTransfer(x, used as never, ctxAt()), 'E_NONCE_REPLAY', 5, 'this owner nonce was already signed against for this coin: start the step again for a fresh one');
  });

  it('a receiver\'s backup script is recorded with its backup; a pair receiving is bound to its part B (receiver_auth_b); a single receiver to no B', async () => {
    await world();
    const script = Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(5)]);
    const carol = party('op-mut-carol');
    const rq = tr.startReceive(base.d.ownerRecord.coin_id, base.d.operator.auth.publicKey, carol, script);
    const sg = await tr.transferSign(base.d.ownerRecord, rq.message as never, 200, base.d.owner);
    const c = await op.cosignTransfer(base.d.opRecord, sg.message as never, ctxAt());
    expect(c.record.statement.backups.at(-1)).toStrictEqual({ n: 2, txid: parseTx((sg.message as Msg).backup_tx).txid, locktime: 290, owner_share: rq.pending.share, script: hexOf(script) });
    // No script, no receiver_auth_b member at all for a single receiver paying itself (the keys in canonical order: operator.ts).
    expect(Object.keys(cos.record.statement.backups.at(-1)!)).toEqual(['locktime', 'n', 'owner_share', 'txid']);
    expect(Object.keys(cos.record.statement.transfer!)).toEqual(['receiver_auth', 'receiver_share', 'transfer_id', 'x1_point']);
    const b = party('op-mut-b');
    const part = joint.startPart(base.d.ownerRecord.coin_id, base.d.operator.auth.publicKey, b);
    const a = joint.startJointReceive(base.d.ownerRecord.coin_id, base.d.operator.auth.publicKey, part.message as never, party('op-mut-a'));
    const js = await tr.transferSign(base.d.ownerRecord, a.message as never, 200, base.d.owner);
    const jc = await op.cosignTransfer(base.d.opRecord, js.message as never, ctxAt());
    expect(jc.record.statement.transfer!.receiver_auth_b).toBe(toHex(b.auth.publicKey));
  });

  it('finding G: two co-signings of one coin never draw the same operator nonce, even with the randomness restarted from one seed', async () => {
    await world();
    const m = signReq.message as Msg;
    const other = resigned(m, { owner_pubnonce: toHex(nonceGen(new Uint8Array(64).fill(8)).pubnonce) }, 'owner_sig', base.d.owner.auth.secretKey);
    const at = (x: Msg) => op.cosignTransfer(base.d.opRecord, x as never, { ...ctxAt(), random: deterministicRandom('op-mut-restart') });
    const [one, two] = [(await at(m)).message as Msg, (await at(other)).message as Msg];
    expect(one.operator_pubnonce).not.toBe(two.operator_pubnonce);
    expect(one.operator_pubnonce.slice(0, 66)).not.toBe(two.operator_pubnonce.slice(0, 66));
  });
});

describe('completeTransfer', () => {
  const accMsg = () => acc.message as Msg;
  /** t₂ = t₁ − o₂ = o₁ + x₁ − o₂, computed in test code from the shares the test holds. */
  const t2Honest = () => ((int(bytesOf(base.d.ownerRecord.share_secret)) + int(bytesOf(cos.record.x1!)) - int(bytesOf(req.pending.share_secret))) % N + N) % N;
  const withT2 = (t2: Uint8Array) => resigned(accMsg(), { t2_sealed: seal(base.d.operator.auth.publicKey, t2, `${cos.record.coin_id}/${accMsg().transfer_id}/t2`, new Uint8Array(32).fill(6)) }, 'receiver_sig', bob.auth.secretKey);

  it('s₂ = s₁ + t₂ − x₁ replaces s₁: s₂·G + O₂ = P, x₁ and the old share gone, the receiver the owner, the finished transfer kept as a receipt; again: the same answer', async () => {
    await world();
    const dn = op.completeTransfer(cos.record, acc.message as never, ctxAt());
    const r = cos.record;
    const s1 = int(bytesOf(r.share_secret));
    const s2 = hexOf(bytes32(((s1 + int(bytesOf(base.d.ownerRecord.share_secret)) - int(bytesOf(req.pending.share_secret))) % N + N) % N));
    expect(dn.record.share_secret).toBe(s2);
    expect(sumHex(pubOf(s2), req.pending.share)).toBe(r.statement.aggregate);
    const statement = { ...r.statement, status: 'active', owner_auth: req.pending.auth, owner_share: req.pending.share, operator_share: pubOf(s2), transfer: null };
    const signed = { ...statement, operator_sig: (dn.message as Msg).statement.operator_sig };
    expect(dn.message).toStrictEqual({ type: 'statechain/transfer-done', version: 1, network: 'regtest', coin_id: r.coin_id, transfer_id: accMsg().transfer_id, statement: signed });
    // The finished transfer kept as a receipt: what its statement had beyond the coin's fixed fields and backups.
    const receipt = { transfer_id: accMsg().transfer_id, count: r.statement.count, owner_auth: req.pending.auth, operator_share: pubOf(s2), operator_sig: signed.operator_sig };
    expect(dn.record).toStrictEqual({ ...r, share_secret: s2, statement, x1: null, done: [receipt] });
    expect(JSON.stringify(dn.record)).not.toContain(r.share_secret);
    expect(JSON.stringify(dn.record)).not.toContain(r.x1!);
    const again = op.completeTransfer(dn.record, accMsg() as never, ctxAt());
    expect(again.record).toBe(dn.record);
    expect(again.message).toStrictEqual(dn.message);
    // The receiver's backup and the previous one verify (the operator's half completed by the owners, checked in test code).
    const rec = tr.finishReceive(acc.record, dn.message as never);
    for (const b of rec.backups) verifyKeyPathSpend(b, [base.prevout], base.coinOutputKey);
    expect(rec.backups).toHaveLength(2);
  });

  it('a second transfer of the coin completes as its own, not as the finished one: the next receiver owns it, two transfers kept', async () => {
    await world();
    const bobRecord = tr.finishReceive(acc.record, done.message as never);
    const carol = party('op-mut-carol2');
    const rq = tr.startReceive(bobRecord.coin_id, base.d.operator.auth.publicKey, carol);
    const sg = await tr.transferSign(bobRecord, rq.message as never, 200, bob);
    const c2 = await op.cosignTransfer(done.record, sg.message as never, ctxAt());
    const pk = await tr.transferPackage(sg.record, c2.message as never, bob);
    const ac = tr.acceptPackage(pk.message as never, rq.pending, { tipHeight: 200, deposit: base.chain.deposit! }, carol);
    const d2 = op.completeTransfer(c2.record, ac.message as never, ctxAt());
    expect((d2.message as Msg).transfer_id).toBe((ac.message as Msg).transfer_id);
    expect(d2.record.statement.owner_auth).toBe(rq.pending.auth);
    expect(d2.record.done.map((x) => x.transfer_id)).toEqual([accMsg().transfer_id, (ac.message as Msg).transfer_id]);
    expect(sumHex(pubOf(d2.record.share_secret), rq.pending.share)).toBe(base.d.opRecord.statement.aggregate);
  });

  it('a finished transfer asked again by another receiver (E_WRONG_RECEIVER) or without the receiver\'s signature (E_BAD_REQUEST_SIG)', async () => {
    await world();
    const stranger = party('op-mut-stranger');
    const other = resigned(accMsg(), { receiver_auth: toHex(stranger.auth.publicKey) }, 'receiver_sig', stranger.auth.secretKey);
    await refused(done.record, (x) => op.completeTransfer(x, other as never, ctxAt()), 'E_WRONG_RECEIVER', 4, 'this transfer was finished for another receiver');
    await refused(done.record, (x) => op.completeTransfer(x, { ...accMsg(), t2_sealed: '00' } as never, ctxAt()), 'E_BAD_REQUEST_SIG', 4, 'the receiver\'s signature on this statechain/transfer-accept does not verify');
  });

  it('refuses another coin, a coin not active, no transfer or no x₁ pending, a replaced transfer, another receiver or share, an unsigned acceptance', async () => {
    await world();
    const r = cos.record;
    const m = accMsg();
    const step = (x: OperatorRecord, a: Msg) => op.completeTransfer(x, a as never, ctxAt());
    await refused(r, (x) => step(x, { ...m, coin_id: OTHER_COIN }), 'E_WRONG_COIN', 4, `this request is for coin ${OTHER_COIN}, not ${r.coin_id}`);
    await refused({ ...r, statement: { ...r.statement, status: 'withdrawn' } }, (x) => step(x, m), 'E_COIN_WITHDRAWN', 4, 'this coin was withdrawn: the operator signs nothing more for it');
    await refused({ ...r, statement: { ...r.statement, status: 'deposit' } }, (x) => step(x, m), 'E_NOT_ACTIVE', 4, 'this coin\'s first backup is not signed yet: finish the deposit first');
    await refused(base.d.opRecord, (x) => step(x, m), 'E_NO_TRANSFER', 5, 'no transfer of this coin is pending at the operator');
    await refused({ ...r, x1: null }, (x) => step(x, m), 'E_NO_TRANSFER', 5, 'no transfer of this coin is pending at the operator');
    await refused({ ...base.d.opRecord, x1: r.x1 }, (x) => step(x, m), 'E_NO_TRANSFER', 5, 'no transfer of this coin is pending at the operator');
    const replaced = { ...r, statement: { ...r.statement, transfer: { ...r.statement.transfer!, transfer_id: 'cd'.repeat(16) } } };
    await refused(replaced, (x) => step(x, m), 'E_STALE_TRANSFER', 5, `transfer ${m.transfer_id} was replaced by ${'cd'.repeat(16)}: its x₁ is gone`);
    const stranger = party('op-mut-stranger2');
    const otherAuth = resigned(m, { receiver_auth: toHex(stranger.auth.publicKey) }, 'receiver_sig', stranger.auth.secretKey);
    await refused(r, (x) => step(x, otherAuth), 'E_WRONG_RECEIVER', 4, 'this acceptance is not from the receiver the transfer names');
    const otherShare = resigned(m, { receiver_share: toHex(stranger.auth.publicKey) }, 'receiver_sig', bob.auth.secretKey);
    await refused(r, (x) => step(x, otherShare), 'E_WRONG_RECEIVER', 4, 'this acceptance is not from the receiver the transfer names');
    await refused(r, (x) => step(x, resigned(m, {}, 'receiver_sig', stranger.auth.secretKey)), 'E_BAD_REQUEST_SIG', 4, 'the receiver\'s signature on this statechain/transfer-accept does not verify');
  });

  it('t₂ of 31 or 33 bytes, of n, giving a zero share, or not completing P is E_BAD_T2 with the share unchanged; the honest t₂ (test code) completes it', async () => {
    await world();
    const r = cos.record;
    const step = (a: Msg) => (x: OperatorRecord) => op.completeTransfer(x, a as never, ctxAt());
    const t2 = bytes32(t2Honest());
    for (const b of [t2.subarray(1), Uint8Array.from([...t2, 0])]) await refused(r, step(withT2(b)), 'E_BAD_T2', 4, 't₂ must be a 32-byte scalar');
    await refused(r, step(withT2(bytes32(N))), 'E_BAD_T2', 4, 't₂ is not a scalar below the group order');
    const elsewhere = resigned(accMsg(), { t2_sealed: seal(base.d.operator.auth.publicKey, t2, `${cos.record.coin_id}/${accMsg().transfer_id}/x1`, new Uint8Array(32).fill(6)) }, 'receiver_sig', bob.auth.secretKey);
    await refused(r, step(elsewhere), 'E_UNDECRYPTABLE', 4, 't2_sealed does not open with this key (sealed to another party, or for another coin or step)');
    // x₁ − s₁: s₂ would be 0.
    const zero = ((int(bytesOf(r.x1!)) - int(bytesOf(r.share_secret))) % N + N) % N;
    await refused(r, step(withT2(bytes32(zero))), 'E_BAD_T2', 4, 't₂ gives a zero share');
    const wrong = 's₂·G + O₂ ≠ P: t₂ does not complete this transfer (wrong t₁ from the sender, or a wrong t₂); nothing changed';
    await refused(r, step(withT2(bytes32((t2Honest() + 1n) % N))), 'E_BAD_T2', 4, wrong);
    await refused(r, step(withT2(bytes32(N - 1n))), 'E_BAD_T2', 4, wrong);
    expect(op.completeTransfer(r, withT2(t2) as never, ctxAt()).record.share_secret).toBe(done.record.share_secret);
  });

  it('the new owner\'s part B replaces the old one\'s: a pair\'s coin handed to one receiver is bound to no B, to a pair to the new B', async () => {
    await world();
    const pairHeld = { ...cos.record, statement: { ...cos.record.statement, owner_auth_b: '03' + '11'.repeat(32) } };
    const single = op.completeTransfer(pairHeld, accMsg() as never, ctxAt());
    expect('owner_auth_b' in single.record.statement).toBe(false);
    expect('owner_auth_b' in (single.message as Msg).statement).toBe(false);
    const toPair = { ...cos.record, statement: { ...cos.record.statement, transfer: { ...cos.record.statement.transfer!, receiver_auth_b: '03' + '22'.repeat(32) } } };
    const paired = op.completeTransfer(toPair, accMsg() as never, ctxAt());
    expect(paired.record.statement.owner_auth_b).toBe('03' + '22'.repeat(32));
    expect(paired.record.statement.transfer).toBe(null);
  });
});

describe('cosignWithdrawal', () => {
  it('co-signs one withdrawal and closes the coin: nothing pending, the nonce counted, the answer kept; it verifies; nothing more is signed', async () => {
    await world();
    const w = await own.withdrawRequest(base.d.ownerRecord, DEST, 2, base.d.owner);
    const m = w.message as Msg;
    const r = base.d.opRecord;
    const out = op.cosignWithdrawal(r, m as never, ctxAt());
    const txid = parseTx(m.tx).txid;
    const statement = { ...r.statement, status: 'withdrawn', transfer: null };
    const msg = out.message as Msg;
    expect(msg).toStrictEqual({
      type: 'statechain/withdraw-cosigned', version: 1, network: 'regtest', coin_id: r.coin_id, txid, owner_pubnonce: m.owner_pubnonce,
      operator_pubnonce: msg.operator_pubnonce, operator_psig: msg.operator_psig, statement: { ...statement, operator_sig: msg.statement.operator_sig },
    });
    expect(out.record).toStrictEqual({ ...r, statement, x1: null, seen_nonces: [...r.seen_nonces, tagOf(m.owner_pubnonce)], last_answer: { request: digestOf(m), message: msg } });
    const fin = await own.withdrawFinish(w.record, msg as never, base.d.owner);
    verifyKeyPathSpend(fin.signed.hex, [base.prevout], base.coinOutputKey);
    const again = op.cosignWithdrawal(out.record, m as never, ctxAt());
    expect(again.record).toBe(out.record);
    expect(again.message).toBe(out.message);
    const other = await own.withdrawRequest(base.d.ownerRecord, DEST, 3, base.d.owner);
    await refused(out.record, (x) => op.cosignWithdrawal(x, other.message as never, ctxAt()), 'E_COIN_WITHDRAWN', 4, 'this coin was withdrawn: the operator signs nothing more for it');
    await refused(out.record, (x) => op.cosignTransfer(x, signReq.message as never, ctxAt()), 'E_COIN_WITHDRAWN', 4, 'this coin was withdrawn: the operator signs nothing more for it');
    // A withdrawal while a transfer is pending ends it: no x₁ kept, no transfer.
    const mid = op.cosignWithdrawal(cos.record, m as never, ctxAt());
    expect({ x1: mid.record.x1, transfer: mid.record.statement.transfer, status: mid.record.statement.status }).toEqual({ x1: null, transfer: null, status: 'withdrawn' });
  });

  it('refuses another coin, a coin not active, a bad signature, another outpoint, an unbumpable transaction, a nonce signed against before', async () => {
    await world();
    const w = await own.withdrawRequest(base.d.ownerRecord, DEST, 4, base.d.owner);
    const m = w.message as Msg;
    const r = base.d.opRecord;
    const step = (a: Msg) => (x: OperatorRecord) => op.cosignWithdrawal(x, a as never, ctxAt());
    await refused(r, step({ ...m, coin_id: OTHER_COIN }), 'E_WRONG_COIN', 4, `this request is for coin ${OTHER_COIN}, not ${r.coin_id}`);
    await refused({ ...r, statement: { ...r.statement, status: 'deposit' } }, step(m), 'E_NOT_ACTIVE', 4, 'this coin\'s first backup is not signed yet: finish the deposit first');
    await refused(r, step(resigned(m, {}, 'owner_sig', bob.auth.secretKey)), 'E_BAD_REQUEST_SIG', 4, 'the owner\'s signature on this statechain/withdraw-request does not verify');
    const tx = Transaction.fromRaw(bytesOf(m.tx), { allowUnknownOutputs: true, disableScriptCheck: true });
    const elsewhere = new Transaction({ version: 3, allowUnknownOutputs: true });
    elsewhere.addInput({ txid: new Uint8Array(32).fill(1), index: 1 });
    for (let i = 0; i < tx.outputsLength; i++) elsewhere.addOutput(tx.getOutput(i) as never);
    await refused(r, step(resigned(m, { tx: toHex(elsewhere.unsignedTx) }, 'owner_sig', base.d.owner.auth.secretKey)), 'E_NOT_THE_COIN', 4, `a withdrawal spends exactly the coin (${r.statement.outpoint}) as its only input`);
    const v2 = new Transaction({ version: 2, allowUnknownOutputs: true });
    v2.addInput(tx.getInput(0) as never);
    for (let i = 0; i < tx.outputsLength; i++) v2.addOutput(tx.getOutput(i) as never);
    await refusalAsync(Promise.resolve().then(() => op.cosignWithdrawal(r, resigned(m, { tx: toHex(v2.unsignedTx) }, 'owner_sig', base.d.owner.auth.secretKey) as never, ctxAt())), 'E_WITHDRAWAL_UNBUMPABLE', 4);
    const used = resigned(m, { owner_pubnonce: (base.d.backupMessage as Msg).owner_pubnonce }, 'owner_sig', base.d.owner.auth.secretKey);
    await refused(r, step(used), 'E_NONCE_REPLAY', 5, 'this owner nonce was already signed against for this coin: start the step again for a fresh one');
    // A witness on the request's transaction is not signed (BIP-341: the sighash leaves witnesses out): the same transaction is co-signed.
    const carrying = Transaction.fromRaw(bytesOf(m.tx), { allowUnknownOutputs: true, disableScriptCheck: true });
    carrying.updateInput(0, { finalScriptWitness: [new Uint8Array(64).fill(1)] }, true);
    const withWitness = resigned(m, { tx: carrying.hex }, 'owner_sig', base.d.owner.auth.secretKey);
    expect(withWitness.tx).not.toBe(m.tx);
    const plain = op.cosignWithdrawal(r, m as never, ctxAt());
    const witnessed = op.cosignWithdrawal(r, withWitness as never, { ...ctxAt(), random: deterministicRandom('op-mut-w') });
    expect((witnessed.message as Msg).txid).toBe((plain.message as Msg).txid);
    const notTx = resigned(m, { tx: '00' }, 'owner_sig', base.d.owner.auth.secretKey);
    expect((await refusalAsync(Promise.resolve().then(() => op.cosignWithdrawal(r, notTx as never, ctxAt())), 'E_BAD_TRANSACTION', 3)).message).toMatch(/^tx is not a transaction: /);
  });
});

describe('a pair\'s coin moves only with part B\'s consent to exactly this request, under A\'s nonce plus B\'s', () => {
  let p: Awaited<ReturnType<typeof pairOwned>>;
  const pairWorld = once(async () => {
    p = await pairOwned();
  });
  const ctx = () => p.d.opCtx;
  const asA = (m: Msg, changes: Msg) => resigned(m, changes, 'owner_sig', p.alice.auth.secretKey);
  const asB = (m: Msg, changes: Msg) => resigned(m, changes, 'part_sig', p.bob.auth.secretKey);

  it('a transfer: B\'s consent missing, for another coin, not B\'s, to another receiver, share, script or backup, without A\'s nonce, or under another nonce (E_PAIR_CONSENT)', async () => {
    await world();
    await pairWorld();
    const carol = party('op-mut-pair-carol');
    const rq = tr.startReceive(p.coinId, p.d.operator.auth.publicKey, carol);
    const nonce = await send.jointNonce(p.recB, rq.message as never, 200, p.bob);
    const sign = await send.jointTransferSign(p.recA, nonce.message as never, 200, p.alice);
    const m = sign.message as Msg;
    const b = m.part_b as Msg;
    const r = p.opRecord;
    const step = (a: Msg) => (x: OperatorRecord) => op.cosignTransfer(x, a as never, ctx());
    await refused(r, step(asA(m, { part_b: undefined })), 'E_PAIR_CONSENT', 4, 'this coin is held by a pair: its transfer needs part B\'s signed consent (part_b) too');
    await refused(r, step(asA(m, { part_b: { ...b, coin_id: OTHER_COIN } })), 'E_PAIR_CONSENT', 4, `part B's consent is for coin ${OTHER_COIN}`);
    await refused(r, step(asA(m, { part_b: resigned(b, {}, 'part_sig', p.alice.auth.secretKey) })), 'E_BAD_REQUEST_SIG', 4, 'part B\'s signature on this statechain/joint-nonce does not verify');
    const another = 'part B consented to another transfer';
    const stranger = party('op-mut-pair-stranger');
    for (const change of [{ receiver_auth: toHex(stranger.auth.publicKey) }, { receiver_share: toHex(stranger.auth.publicKey) }, { backup_script: hexOf(DEST) }]) {
      await refused(r, step(asA(m, { part_b: asB(b, { request: { ...b.request, ...change } }) })), 'E_PAIR_CONSENT', 4, another);
    }
    await refused(r, step(asA(m, { part_b: asB(b, { backup_txid: '00'.repeat(32) }) })), 'E_PAIR_CONSENT', 4, another);
    // A consent naming no receiver's request at all (a library caller's; the schema asks for one) consents to nothing.
    await refused(r, step(asA(m, { part_b: asB(b, { request: undefined }) })), 'E_PAIR_CONSENT', 4, another);
    await refused(r, step(asA(m, { a_pubnonce: undefined })), 'E_PAIR_CONSENT', 4, 'a pair\'s transfer names part A\'s nonce (a_pubnonce): the owner nonce must be A\'s plus B\'s, or B could not complete the signature');
    const short = (n: string) => n.slice(2);
    expect((await refusalAsync(op.cosignTransfer(r, asA(m, { a_pubnonce: short(m.a_pubnonce) }) as never, ctx()), 'E_BAD_LENGTH', 3)).message).toBe('a_pubnonce must be 66 bytes, got 65');
    const shortB = asA(m, { part_b: asB(b, { pubnonce: short(b.pubnonce) }) });
    expect((await refusalAsync(op.cosignTransfer(r, shortB as never, ctx()), 'E_BAD_LENGTH', 3)).message).toBe('part B\'s pubnonce must be 66 bytes, got 65');
    const aOnly = asA(m, { owner_pubnonce: m.a_pubnonce });
    await refused(r, step(aOnly), 'E_PAIR_CONSENT', 4, 'the owner nonce of this transfer is not part A\'s nonce plus the one part B consented with: B could not complete the signature; nothing signed');
    // The honest request: co-signed, the transfer bound to both parts' consent.
    expect((await op.cosignTransfer(r, m as never, ctx())).record.statement.status).toBe('transferring');
    // Named in capitals, the owner nonce is still A's plus B's.
    expect((await op.cosignTransfer(r, asA(m, { owner_pubnonce: (m.owner_pubnonce as string).toUpperCase() }) as never, ctx())).record.statement.status).toBe('transferring');
  });

  it('a withdrawal: B\'s consent to another transaction, or given while the pair held the coin under another share (E_PAIR_CONSENT); with it, co-signed and verified', async () => {
    await world();
    await pairWorld();
    const bNonce = await send.jointWithdrawNonce(p.recB, DEST, 2, p.bob);
    const wr = await send.jointWithdrawRequest(p.recA, bNonce.message as never, DEST, 2, p.alice);
    const m = wr.message as Msg;
    const b = m.part_b as Msg;
    const r = p.opRecord;
    const step = (a: Msg) => (x: OperatorRecord) => op.cosignWithdrawal(x, a as never, ctx());
    await refused(r, step(asA(m, { part_b: undefined })), 'E_PAIR_CONSENT', 4, 'this coin is held by a pair: its withdrawal needs part B\'s signed consent (part_b) too');
    const other = toHex(own.withdrawalTransaction(p.recA, DEST, 5).unsignedTx);
    await refused(r, step(asA(m, { part_b: asB(b, { tx: other }) })), 'E_PAIR_CONSENT', 4, 'part B consented to another withdrawal');
    await refused(r, step(asA(m, { part_b: asB(b, { owner_share: base.d.ownerRecord.share }) })), 'E_PAIR_CONSENT', 4, 'part B consented to another withdrawal');
    const out = op.cosignWithdrawal(r, m as never, ctx());
    expect(out.record.statement.status).toBe('withdrawn');
    const signA = await send.jointWithdrawSignA(wr.record, out.message as never, p.alice);
    const fin = await send.jointWithdrawFinish(bNonce.record, signA.message as never, p.bob);
    const prevout = parseTx(p.d.funding).outputs[1]!;
    verifyKeyPathSpend(fin.signed.hex, [prevout], taprootOutput(bytesOf(r.statement.aggregate).subarray(1)).outputKey);
  });
});
