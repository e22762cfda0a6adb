/**
 * An in-process statechain for library tests: an operator, owners with their own nonce
 * stores (the real state database's nonces, src/lib/store/sqlite/nonces.ts, each party's
 * in a temp dir of its own), a chain stub whose tip and deposit state the
 * test sets, and a funding transaction built by test code (never signed: the coin's txid
 * is fixed by its non-witness bytes).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { taprootOutput } from '../../independent/keys.ts';
import { parseTx } from '../../independent/tx.ts';
import type { ChainSource, UtxoInfo } from '../../../src/lib/chain/types.ts';
import { keyPair, type KeyPair } from '../../../src/lib/keys/keys.ts';
import { deterministicRandom, type RandomSource } from '../../../src/lib/random.ts';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import * as op from '../../../src/lib/statechain/operator.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';
import * as own from '../../../src/lib/statechain/owner.ts';
import * as dep from '../../../src/lib/statechain/deposit.ts';
import * as tr from '../../../src/lib/statechain/transfer.ts';
import * as joint from '../../../src/lib/statechain/joint.ts';
import { DEFAULT_FLOOR } from '../../../src/lib/statechain/floor.ts';
import type { SendingRecord } from '../../../src/lib/statechain/joint-send.ts';

export const TERMS = { interval: 10, initial_lock: 100, confirmations: 2, backup_fee_sat: 400, margin: 6 };
/** Anchored terms (zero-fee v3 backups with a P2A anchor): the only terms a pair takes without --allow-unanchored. */
export const ANCHORED_TERMS = { ...TERMS, backup_fee_sat: 0, anchor: true as const };

export type ChainStub = ChainSource & { height: number; deposit: UtxoInfo | null | undefined };

/** The funding transaction's id (the deposit's outpoint is `<it>:1`), for the chain stub. */
export function fundingTxid(fundingHex: string): string {
  return Transaction.fromRaw(fromHex(fundingHex), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true }).id;
}

export function chainStub(height: number): ChainStub {
  const stub = {
    kind: 'offline' as const,
    height,
    deposit: undefined as UtxoInfo | null | undefined,
    async tip() {
      return { height: stub.height, medianTimePast: 0 };
    },
    /** The deposit's state for its own outpoint only; any other outpoint never existed. */
    async utxo(txid: string, vout: number) {
      if (stub.deposit === undefined) throw new Error('test: deposit state not set');
      if (stub.deposit === null) return null;
      return txid === stub.deposit.txid && vout === stub.deposit.vout ? stub.deposit : null;
    },
    async rawTransaction(): Promise<Uint8Array> {
      throw new Error('not in tests');
    },
    async testMempoolAccept(): Promise<never> {
      throw new Error('not in tests');
    },
    async broadcast(): Promise<string> {
      throw new Error('not in tests');
    },
  };
  return stub;
}

/** `dir`: the party's network state directory (its `state.sqlite`, made by its first nonce). */
export type Party = { auth: KeyPair; random: RandomSource; nonces: SqliteNonces; network: 'regtest'; dir: string };

const dirs: string[] = [];
const opened: StateDb[] = [];
export function cleanup(): void {
  for (const db of opened.splice(0)) db.closeNow();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A copy of a fixture party's network state directory (fixtures/statechain/state/<name>/regtest: its
 * state.sqlite alone), to read or run on: opening the fixture itself would leave -wal/-shm files beside it.
 */
export function fixtureState(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sc-fixture-${name}-`));
  dirs.push(dir);
  copyFileSync(join(__dirname, '..', '..', '..', 'fixtures', 'statechain', 'state', name, 'regtest', 'state.sqlite'), join(dir, 'state.sqlite'));
  return dir;
}

/** The signer `secret`'s nonces in the database of `dir`, as a command keeps them (base-command.ts `nonces`): created by the first issue. */
export function partyNonces(dir: string, secret: Uint8Array): SqliteNonces {
  const open = async (create: boolean) => {
    const db = StateDb.open(dir, { create });
    if (db !== undefined) opened.push(db);
    return db;
  };
  return new SqliteNonces(open, Sealer.fromSecret(secret));
}

export function party(name: string): Party {
  const dir = mkdtempSync(join(tmpdir(), `sc-${name}-`));
  dirs.push(dir);
  const random = deterministicRandom(`statechain-${name}-${dir}`);
  const auth = keyPair(random.bytes(32, 'auth'));
  return { auth, random, nonces: partyNonces(dir, auth.secretKey), network: 'regtest', dir };
}

/** A funding transaction paying `amount` to the coin's script (output 1, after a change output). */
export function fundingTx(script: Uint8Array, amount: bigint): string {
  const tx = new Transaction({ version: 2, allowUnknownOutputs: true });
  tx.addInput({ txid: new Uint8Array(32).fill(7), index: 0 });
  tx.addOutput({ script: Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(1)]), amount: 12_345n });
  tx.addOutput({ script, amount });
  return toHex(tx.unsignedTx);
}

/** Operator (a new one unless given) + first owner up to the owner's request for backup 1 (deposit steps 1–3). */
export async function depositRequested(chain: ChainStub, amount = 100_000n, terms = TERMS, operator: Party = party('operator')) {
  const owner = party('owner');
  const opCtx = { operator: operator.auth, random: operator.random, chain, network: 'regtest' as const };
  const start = dep.startDeposit(owner, operator.auth.publicKey);
  const offer = op.offerDeposit(start.message as never, terms, opCtx);
  const { coinKey } = await import('../../../src/lib/statechain/coin.ts');
  const { fromHex } = await import('../../../src/lib/bytes.ts');
  const key = coinKey(fromHex(offer.record.statement.owner_share), fromHex(offer.record.statement.operator_share));
  const funding = fundingTx(key.script, amount);
  return { operator, owner, opCtx, start, offer, key, funding };
}

/** Operator (a new one unless given) + first owner through a whole deposit: returns the operator's record, the owner's, and the parties. */
export async function deposit(chain: ChainStub, amount = 100_000n, terms: typeof TERMS = TERMS, givenOperator?: Party) {
  const { operator, owner, opCtx, start, offer, key, funding } = await depositRequested(chain, amount, terms, givenOperator);
  const backup = await dep.depositBackup(start.pending, offer.message as never, funding, chain.height, DEFAULT_FLOOR, owner);
  const cosigned = await op.cosignDepositBackup(offer.record, backup.message as never, opCtx);
  const ownerRecord = await dep.depositFinish(backup.record, cosigned.message as never, owner);
  return { operator, owner, opCtx, opRecord: cosigned.record, ownerRecord, key, funding, backupMessage: backup.message, offer };
}

/** One whole transfer from `senderRecord` to a new party. */
export async function transfer(chain: ChainStub, s: { opRecord: OperatorRecord; opCtx: op.OperatorContext; sender: Party; senderRecord: own.OwnerRecord }, name: string) {
  const receiver = party(name);
  const req = tr.startReceive(s.senderRecord.coin_id, s.opCtx.operator.publicKey, receiver);
  const signReq = await tr.transferSign(s.senderRecord, req.message as never, chain.height, s.sender);
  const cosigned = await op.cosignTransfer(s.opRecord, signReq.message as never, s.opCtx);
  const pkg = await tr.transferPackage(signReq.record, cosigned.message as never, s.sender);
  const facts = { tipHeight: chain.height, deposit: chain.deposit ?? null };
  const accepted = tr.acceptPackage(pkg.message as never, req.pending, facts, receiver);
  const done = op.completeTransfer(cosigned.record, accepted.message as never, s.opCtx);
  const receiverRecord = tr.finishReceive(accepted.record, done.message as never);
  return { receiver, receiverRecord, opRecord: done.record, senderRecord: pkg.record, steps: { req, signReq, cosigned, pkg, accepted, done } };
}

/** A coin deposited by Alice (confirmed 3 times at tip 200), handed by Alice towards `name` up to the sealed package. */
export async function towards(name: string) {
  const chain = chainStub(200);
  const d = await deposit(chain);
  const out = (await import('../../../src/lib/statechain/coin.ts')).parseTransaction(d.funding, 'funding').getOutput(1);
  chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount!, scriptPubKey: out.script!, confirmations: 3 };
  const receiver = party(name);
  const req = tr.startReceive(d.ownerRecord.coin_id, d.operator.auth.publicKey, receiver);
  const signReq = await tr.transferSign(d.ownerRecord, req.message as never, chain.height, d.owner);
  const cosigned = await op.cosignTransfer(d.opRecord, signReq.message as never, d.opCtx);
  const pkg = await tr.transferPackage(signReq.record, cosigned.message as never, d.owner);
  const inner = tr.openPackage(pkg.message as never, req.pending, receiver.auth.secretKey);
  return { chain, d, receiver, req, signReq, cosigned, pkg, inner };
}

/** A coin owned by the pair Alice+Bob (both parts' records), through the commands' steps; anchored terms, as a pair takes by default. */
export async function pairOwned() {
  const chain = chainStub(200);
  const d = await deposit(chain, 100_000n, ANCHORED_TERMS);
  const out = (await import('../../../src/lib/statechain/coin.ts')).parseTransaction(d.funding, 'funding').getOutput(1);
  chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount!, scriptPubKey: out.script!, confirmations: 3 };
  const facts = { tipHeight: 200, deposit: chain.deposit };
  const coinId = d.ownerRecord.coin_id;
  const alice = d.owner;
  const bob = party('send-bob');
  const b = joint.startPart(coinId, d.operator.auth.publicKey, bob);
  const a = joint.startJointReceive(coinId, d.operator.auth.publicKey, b.message as never, alice);
  const sign = await tr.transferSign(d.ownerRecord, a.message as never, 200, alice);
  const cos = await op.cosignTransfer(d.opRecord, sign.message as never, d.opCtx);
  const pkg = await tr.transferPackage(sign.record, cos.message as never, alice);
  const taken = joint.jointTakePackage(pkg.message as never, a.pending, facts, alice);
  const t2 = joint.jointTakeHandoff(taken.message as never, b.pending, facts, bob);
  const done = op.completeTransfer(cos.record, joint.jointAcceptFrom(t2.message as never, taken.record, alice) as never, d.opCtx);
  const recA = { ...taken.record, ...tr.finishReceive(taken.record, done.message as never) } as SendingRecord;
  const recB = { ...t2.record, ...tr.finishReceive(t2.record, done.message as never) } as SendingRecord;
  return { d, facts, coinId, alice, bob, recA, recB, opRecord: done.record };
}

/** A coin deposited by Alice (with `operator` if given) and confirmed 3 times at tip 200: its prevout and its output key (derived in test code). */
export async function confirmedCoin(terms: typeof TERMS = TERMS, operator?: Party) {
  const chain = chainStub(200);
  const d = await deposit(chain, 100_000n, terms, operator);
  const out = parseTx(d.funding).outputs[1]!;
  chain.deposit = { txid: fundingTxid(d.funding), vout: 1, value: out.amount, scriptPubKey: out.script, confirmations: 3 };
  const coinOutputKey = taprootOutput(secp256k1.Point.fromHex(d.opRecord.statement.aggregate).toBytes(true).subarray(1)).outputKey;
  return { chain, d, prevout: { amount: out.amount, script: out.script }, coinOutputKey };
}
