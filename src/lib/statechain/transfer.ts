/**
 * A statechain transfer, sender's and receiver's steps (BRIEF §3.2, issue 13 item 3):
 *
 *   receiver  startReceive    → transfer-request  (O₂ with its proof of possession, A₂)
 *   sender    transferSign    → transfer-sign     (the receiver's backup, our nonce)
 *   operator  cosignTransfer  → transfer-cosigned (its partial signature, x₁ sealed to us)
 *   sender    transferPackage → transfer-package  (t₁ = o₁ + x₁, the chain, the binding; sealed to A₂)
 *   receiver  acceptPackage   → transfer-accept   (verified; t₂ = t₁ − o₂ sealed to the operator)
 *   operator  completeTransfer→ transfer-done     (s₂ = s₁ + t₂ − x₁)
 *   receiver  finishReceive   → statechain/coin
 *
 * Invariants: the receiver's backup is fully signed before any share moves; the operator
 * never sees t₁ (sealed to the receiver) and the sender never sees t₂ (sealed to the
 * operator); t₁ = o₁ + x₁ with x₁ unknown to the receiver and t₂ = t₁ − o₂ with o₂
 * unknown to the operator, so no message gives any party another's share; the receiver
 * writes the coin (o₂ and the chain) before it sends t₂.
 *
 * Retries (issue 22): each party keeps the answer it produced until the next step is
 * confirmed — the sender its transfer-sign (the same receiver's request prints it again;
 * another receiver's waits, E_TRANSFER_PENDING, since the operator may have counted the
 * first backup) and its package; the receiver its transfer-accept (the same package prints
 * it again). The sender takes the operator's answer only if its statement keeps the coin's
 * amount, outpoint, terms, keys and earlier records as the sender holds them; the receiver
 * takes transfer-done only if it keeps the coin, terms and backup records it verified, binds
 * a pair as the transfer named, and S₂ + O₂ = P. The sender's step 2 again from 'sent' with
 * the same receiver's request prints the stored transfer-sign (never a second transfer).
 */
import type { Transaction } from '@scure/btc-signer';
import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parsePublicKey } from '../keys/keys.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { stringifyLine } from '../json.ts';
import { MalformedInputError, RefusedError, StateConflictError } from '../errors.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';
import { backupTransaction, coinKey, finishSpend, parseOutpointText, termsFromJson, transfersRemaining, type Backup } from './coin.ts';
import { finishSignature, issueOwnerNonce, newShare, nonceContext, sign, signingTx, type OwnerContext, type OwnerRecord } from './owner.ts';
import { PackageInnerSchema, type PackageInner, type Statement, type TransferCosignedSchema, type TransferDoneSchema, type TransferPackageSchema, type TransferRequestSchema } from './schemas.ts';
import { seal, sealJson, signBody, unsealJson, verifyBody } from './seal.ts';
import { provePossession, publicShare, sumIs } from './signer.ts';
import { FIXED_FIELDS, checkStatement, requireUnchanged } from './statement.ts';
import { checkReceiverPossession } from './joint-share.ts';
import { bindingBody, verifyTransfer, type ChainFacts, type Expected, type Verified } from './verify.ts';
import type { Floor } from './floor.ts';

type Msg<S extends TObject> = Static<S>;

/** What a receiver keeps between asking for a coin and being handed it. */
export type PendingReceive = { coin_id: string; network: OwnerRecord['network']; share_secret: string; share: string; auth: string; operator_auth: string; backup_script?: string };

const withoutField = (m: Record<string, unknown>, field: string) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== field));

/** `m` carries `who`'s signature under `field` by `key`, over the message without that field. */
export function requireSig(m: Record<string, unknown>, field: string, key: string, who: string): void {
  if (!verifyBody(String(m.type), withoutField(m, field), String(m[field]), parsePublicKey(key, 'key'))) {
    throw new RefusedError('E_BAD_REQUEST_SIG', `${who}'s signature on this ${String(m.type)} does not verify`);
  }
}

/** Receiver, step 1: a new share for this coin and the request the sender answers. */
export function startReceive(coinId: string, operatorAuth: Uint8Array, ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>, backupScript?: Uint8Array) {
  const { secret, share } = newShare(ctx.random, 'statechain/receiver-share');
  const pop = provePossession(secret, fromHex(coinId, 'coin id', 16), ctx.random.bytes(32, 'statechain/pop-aux'));
  const pending: PendingReceive = {
    coin_id: coinId, network: ctx.network, share_secret: toHex(secret), share: toHex(share), auth: toHex(ctx.auth.publicKey), operator_auth: toHex(operatorAuth),
    ...(backupScript === undefined ? {} : { backup_script: toHex(backupScript) }),
  };
  secret.fill(0);
  const body = {
    type: 'statechain/transfer-request', version: 1, network: ctx.network, coin_id: coinId, receiver_auth: pending.auth, receiver_share: pending.share, receiver_pop: toHex(pop),
    ...(pending.backup_script === undefined ? {} : { backup_script: pending.backup_script }),
  };
  return { pending, message: sign(body.type, body, 'receiver_sig', ctx) };
}

/** A receiver's request as its sender checks it: this coin, signed by the receiver, its new share proven (per part for a pair), not the sender's own. */
export function checkTransferRequest(record: Pick<OwnerRecord, 'coin_id' | 'share'>, req: Msg<typeof TransferRequestSchema>): void {
  if (req.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this request is for coin ${req.coin_id}`);
  requireSig(req, 'receiver_sig', req.receiver_auth, 'the receiver');
  checkReceiverPossession(record.coin_id, req);
  if (req.receiver_share === record.share) throw new RefusedError('E_BAD_POSSESSION', 'the receiver\'s share is ours');
}

/** The receiver's backup: one interval below the newest, paying its share's P2TR (or the script it asked for); refused within the margin of the tip. */
export function nextBackup(record: Pick<OwnerRecord, 'statement'>, req: Pick<Msg<typeof TransferRequestSchema>, 'receiver_share' | 'backup_script'>, tipHeight: number) {
  const st = record.statement;
  const terms = termsFromJson(st.terms);
  const last = st.backups[st.backups.length - 1]!;
  const locktime = last.locktime - terms.interval;
  if (locktime <= tipHeight + terms.margin) throw new RefusedError('E_TRANSFERS_EXHAUSTED', `the next backup's locktime ${locktime} would be within ${terms.margin} blocks of the tip ${tipHeight}: withdraw the coin instead`);
  const key = coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share'));
  const backup = backupTransaction(key, {
    outpoint: parseOutpointText(st.outpoint!), amountSat: BigInt(st.amount_sat!), locktime, ownerShare: parsePublicKey(req.receiver_share, 'receiver_share'), feeSat: terms.backupFeeSat, anchor: terms.anchor,
    payTo: req.backup_script === undefined ? undefined : fromHex(req.backup_script, 'backup_script'),
  });
  return { locktime, backup };
}

/**
 * Sender, step 2: the receiver's backup (one interval below ours) and our nonce for it.
 * While our request waits for the operator's answer ('sending'), the same receiver's
 * request prints the same transfer-sign again (the operator answers a repeated request
 * with its stored answer), and another receiver's is refused: the operator may have signed
 * and counted the first backup, so a second would be one interval too low for it
 * (E_BACKUP_LOCKTIME forever). Once the answer is in ('sent'), a restart is open.
 */
export async function transferSign(record: OwnerRecord, req: Msg<typeof TransferRequestSchema>, tipHeight: number, ctx: OwnerContext) {
  if (record.status !== 'active' && record.status !== 'sending' && record.status !== 'sent') throw new StateConflictError('E_NOT_OWNER', `this coin is ${record.status}: only its current owner transfers it`);
  checkTransferRequest(record, req);
  const digest = requestDigest(req);
  // Once the package left ('sent'), the same receiver's request again (the pipeline rerun from step 2) prints the
  // transfer-sign already answered — the operator replays its answer — never a second transfer that would strand
  // the receiver's acceptance of the first. Another receiver's request starts a new transfer (the first receiver
  // never completed; the sender may still re-send or withdraw).
  if (record.status === 'sent' && record.transfer?.request !== undefined && record.transfer.receiver_request === digest) return { record, message: record.transfer.request };
  if (record.status === 'sending' && record.transfer?.request !== undefined) {
    if (record.transfer.receiver_request === digest) return { record, message: record.transfer.request };
    throw new StateConflictError(
      'E_TRANSFER_PENDING',
      `transfer ${record.transfer.transfer_id} waits for the operator's answer: give the operator that transfer-sign again (rerun this step with the same receiver's request to print it) and finish it before starting another`,
    );
  }
  const { locktime, backup } = nextBackup(record, req, tipHeight);
  const transferId = toHex(ctx.random.bytes(16, 'statechain/transfer-id'));
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(record.coin_id, 'transfer', backup.id));
  const message = transferSignMessage(record.coin_id, req, { transferId, locktime, backup, ownerPubnonce: pubnonce }, ctx);
  const next: OwnerRecord = {
    ...record, status: 'sending',
    signing: { purpose: 'transfer', tx: toHex(backup.unsignedTx), pubnonce },
    transfer: { transfer_id: transferId, receiver_auth: req.receiver_auth, receiver_share: req.receiver_share, request: message, receiver_request: digest },
  };
  return { record: next, message };
}

/** A digest of a receiver's request as received (its JSON, canonical). */
function requestDigest(req: unknown): string {
  return toHex(sha256(utf8(stringifyLine(req))));
}

/** The sender's request to the operator: co-sign the receiver's backup with the owner's nonce; signed by the owner's auth key. */
export function transferSignMessage(
  coinId: string, req: Msg<typeof TransferRequestSchema>, s: { transferId: string; locktime: number; backup: Backup; ownerPubnonce: string; aPubnonce?: string; partB?: Record<string, unknown> },
  ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>,
) {
  const body = {
    type: 'statechain/transfer-sign', version: 1, network: ctx.network, coin_id: coinId, transfer_id: s.transferId,
    receiver_auth: req.receiver_auth, receiver_share: req.receiver_share,
    ...(req.receiver_pop === undefined ? {} : { receiver_pop: req.receiver_pop }), ...(req.receiver_parts === undefined ? {} : { receiver_parts: req.receiver_parts }), locktime: s.locktime,
    backup_tx: toHex(s.backup.unsignedTx), ...(req.backup_script === undefined ? {} : { backup_script: req.backup_script }), owner_pubnonce: s.ownerPubnonce,
    ...(s.aPubnonce === undefined ? {} : { a_pubnonce: s.aPubnonce }), ...(s.partB === undefined ? {} : { part_b: s.partB }),
  };
  return sign(body.type, body, 'owner_sig', ctx);
}

/** Sender, step 4: finish the receiver's backup, compute t₁, and seal the package to the receiver. */
export async function transferPackage(record: OwnerRecord, cosigned: Msg<typeof TransferCosignedSchema>, ctx: OwnerContext) {
  const pending = record.transfer;
  if (record.status === 'sent' && pending?.transfer_id === cosigned.transfer_id && pending.package !== undefined) return { record, message: pending.package };
  if (record.status !== 'sending' || pending === null) throw new StateConflictError('E_NOT_SIGNING', `this coin is ${record.status}, not being sent`);
  if (cosigned.transfer_id !== pending.transfer_id) throw new StateConflictError('E_STALE_TRANSFER', `this answer is for transfer ${cosigned.transfer_id}, ours is ${pending.transfer_id}`);
  const { st, tx } = checkTransferCosigned(record, cosigned, pending, record.signing!.pubnonce);
  const x1 = openX1(record.coin_id, cosigned, st, ctx.auth.secretKey);
  const sig = await finishSignature(record, st.operator_share, tx, 'transfer', { owner: cosigned.owner_pubnonce, operator: cosigned.operator_pubnonce, operatorPsig: cosigned.operator_psig }, ctx);
  const signed = finishSpend(tx, sig);
  const t1 = mod(int(fromHex(record.share_secret, 'share', 32)) + x1);
  const inner = {
    statement: cosigned.statement, funding_tx: record.funding_tx, backups: [...record.backups, signed.hex], t1: toHex(bytes32(t1)),
    binding_sig: signBody('binding', bindingBody(record.coin_id, st.outpoint!, pending.receiver_share, pending.transfer_id), ctx.auth.secretKey, ctx.random.bytes(32, 'statechain/binding-aux')),
  };
  const sealed = sealJson(parsePublicKey(pending.receiver_auth, 'receiver_auth'), inner, `${record.coin_id}/${pending.transfer_id}/package`, newShare(ctx.random, 'statechain/seal').secret);
  const message = { type: 'statechain/transfer-package', version: 1, network: ctx.network, coin_id: record.coin_id, transfer_id: pending.transfer_id, receiver_auth: pending.receiver_auth, sealed };
  // The package is kept so a lost output can be printed again (our nonce is spent).
  const next: OwnerRecord = { ...record, status: 'sent', statement: cosigned.statement, backups: [...record.backups, signed.hex], signing: null, transfer: { ...pending, package: message } };
  return { record: next, message };
}

/**
 * The operator's answer to a transfer as its sender checks it: signed by the operator,
 * describing this transfer to this receiver, counting our chain plus the backup we asked
 * for, the coin's shares unchanged, for our (owner) nonce.
 */
export function checkTransferCosigned(
  record: Pick<OwnerRecord, 'coin_id' | 'operator_auth' | 'backups' | 'share' | 'statement' | 'signing'>, cosigned: Msg<typeof TransferCosignedSchema>,
  expected: { transfer_id: string; receiver_share: string; receiver_auth: string }, ownerPubnonce: string,
) {
  const st = checkStatement(cosigned.statement, parsePublicKey(record.operator_auth, 'operator_auth'), record.coin_id);
  const tx = signingTx(record as OwnerRecord, 'transfer');
  const t = st.transfer;
  if (st.status !== 'transferring' || t === null || t.transfer_id !== expected.transfer_id || t.receiver_share !== expected.receiver_share || t.receiver_auth !== expected.receiver_auth) {
    throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement does not describe our transfer');
  }
  // One more than the chain as we hold it in our checked statement (equal to our signed backups for a single owner;
  // a pair's A, re-sending from 'sent', never held the abandoned backup signed, but its statement counts it).
  if (st.count !== record.statement.count + 1 || st.backups[st.count - 1]?.txid !== tx.id || cosigned.backup_txid !== tx.id) {
    throw new RefusedError('E_BACKUP_COUNT', `the operator counts ${st.count} backups; we hold ${record.statement.count} and asked for one more`);
  }
  if (st.owner_share !== record.share || st.operator_share !== record.statement.operator_share) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement changed the coin\'s shares');
  // Everything else as we hold it: the amount, outpoint, terms, keys, and every earlier backup record.
  requireUnchanged(record.statement, st, [...FIXED_FIELDS, 'owner_auth', 'owner_auth_b']);
  if (stringifyLine(st.backups.slice(0, -1)) !== stringifyLine(record.statement.backups)) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement changed an earlier backup\'s record');
  if (cosigned.owner_pubnonce !== ownerPubnonce) throw new RefusedError('E_NONCE_MISMATCH', 'this answer is for another nonce of ours');
  return { st, tx };
}

/** x₁ as the operator sealed it to the sender, checked against X₁ in its statement. */
export function openX1(coinId: string, cosigned: Msg<typeof TransferCosignedSchema>, st: Pick<Statement, 'transfer'>, authSecret: Uint8Array): bigint {
  const x1Msg = unsealJson(authSecret, cosigned.x1_sealed, `${coinId}/${cosigned.transfer_id}/x1`, 'x1_sealed') as { x1?: unknown };
  const x1 = typeof x1Msg.x1 === 'string' ? int(fromHex(x1Msg.x1, 'x1', 32)) : -1n;
  if (x1 <= 0n || x1 >= N || toHex(publicShare(x1)) !== st.transfer?.x1_point) throw new RefusedError('E_BAD_X1', 'the sealed x₁ is not the X₁ in the operator\'s statement');
  return x1;
}

/** Open and decode a transfer package sealed to `auth`. */
export function openPackage(pkg: Msg<typeof TransferPackageSchema>, pending: Pick<PendingReceive, 'coin_id' | 'auth'>, authSecret: Uint8Array) {
  if (pkg.coin_id !== pending.coin_id) throw new RefusedError('E_WRONG_COIN', `this package is for coin ${pkg.coin_id}, not ${pending.coin_id}`);
  if (pkg.receiver_auth !== pending.auth) throw new RefusedError('E_WRONG_RECEIVER', 'this package is sealed to another receiver');
  return packageInner(unsealJson(authSecret, pkg.sealed, `${pkg.coin_id}/${pkg.transfer_id}/package`, 'the package'), 'the package');
}

/** Unsealed package contents (a package, or a pair's handoff of one), checked against their schema. */
export function packageInner(inner: unknown, what: string): PackageInner {
  if (!Value.Check(PackageInnerSchema, inner)) {
    const first = Value.Errors(PackageInnerSchema, inner).First();
    throw new MalformedInputError('E_MALFORMED_MESSAGE', `${what}'s contents: ${first?.path || '(root)'}: ${first?.message ?? 'invalid'}`);
  }
  return inner;
}

function receiverExpects(pkg: Msg<typeof TransferPackageSchema>, pending: PendingReceive, floor: Floor | undefined): Expected {
  return { coinId: pending.coin_id, transferId: pkg.transfer_id, receiverShare: pending.share, receiverAuth: pending.auth, operatorAuth: parsePublicKey(pending.operator_auth, 'operator_auth'), backupScript: pending.backup_script, floor };
}

export function verifyPackage(pkg: Msg<typeof TransferPackageSchema>, pending: PendingReceive, authSecret: Uint8Array, chain: ChainFacts, floor?: Floor): Verified {
  return verifyTransfer(openPackage(pkg, pending, authSecret), receiverExpects(pkg, pending, floor), chain);
}

/** Receiver, step 5: verify everything, keep the coin, then give the operator t₂ = t₁ − o₂. */
export function acceptPackage(pkg: Msg<typeof TransferPackageSchema>, pending: PendingReceive, chain: ChainFacts, ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>, floor?: Floor) {
  const inner = openPackage(pkg, pending, ctx.auth.secretKey);
  const verified = verifyTransfer(inner, receiverExpects(pkg, pending, floor), chain);
  const t2 = mod(int(fromHex(inner.t1, 't1', 32)) - int(fromHex(pending.share_secret, 'share', 32)));
  if (t2 === 0n) throw new RefusedError('E_BAD_T1', 't₁ equals our share: refusing a degenerate t₂');
  const t2Sealed = sealT2(t2, pending, pkg.transfer_id, ctx);
  const body = {
    type: 'statechain/transfer-accept', version: 1, network: ctx.network, coin_id: pending.coin_id, transfer_id: pkg.transfer_id,
    receiver_auth: pending.auth, receiver_share: pending.share, t2_sealed: t2Sealed,
  };
  const message = sign(body.type, body, 'receiver_sig', ctx);
  // The acceptance is kept with the coin: if it is lost, a rerun prints these bytes again (one t₂, one seal).
  const record: OwnerRecord = {
    coin_id: pending.coin_id, network: pending.network, status: 'receiving', share_secret: pending.share_secret, share: pending.share, auth: pending.auth,
    operator_auth: pending.operator_auth, statement: inner.statement, funding_tx: inner.funding_tx, backups: inner.backups, signing: null,
    transfer: { transfer_id: pkg.transfer_id, receiver_auth: pending.auth, receiver_share: pending.share, accept: message },
  };
  return { record, verified, message };
}

/** The acceptance this receiver already gave for `pkg`'s transfer (its answer lost): the same bytes, or undefined. */
export function acceptedBefore(record: OwnerRecord | undefined, pkg: Pick<Msg<typeof TransferPackageSchema>, 'coin_id' | 'transfer_id'>): Record<string, unknown> | undefined {
  if (record === undefined || record.coin_id !== pkg.coin_id || record.status !== 'receiving') return undefined;
  return record.transfer?.transfer_id === pkg.transfer_id ? record.transfer.accept : undefined;
}

function sealT2(t2: bigint, pending: PendingReceive, transferId: string, ctx: Pick<OwnerContext, 'random'>): string {
  const raw = bytes32(t2);
  const { secret } = newShare(ctx.random, 'statechain/seal');
  const out = seal(parsePublicKey(pending.operator_auth, 'operator_auth'), raw, `${pending.coin_id}/${transferId}/t2`, secret);
  raw.fill(0);
  return out;
}

/** Receiver, step 7: the operator rotated; the coin is ours. */
export function finishReceive(record: OwnerRecord, done: Msg<typeof TransferDoneSchema>): OwnerRecord {
  if (record.status === 'active' && record.statement.owner_share === record.share && done.statement.operator_sig === record.statement.operator_sig) return record;
  if (record.status !== 'receiving' || record.transfer?.transfer_id !== done.transfer_id) throw new StateConflictError('E_NOT_RECEIVING', 'no acceptance of this transfer is waiting for the operator');
  const st = checkStatement(done.statement, parsePublicKey(record.operator_auth, 'operator_auth'), record.coin_id);
  if (st.status !== 'active' || st.owner_share !== record.share || st.owner_auth !== record.auth || st.count !== record.backups.length) {
    throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement does not make us the owner of the chain we hold');
  }
  // The completion changes only the owner and the operator's share: the coin, its terms and the backup records
  // (ours last) are the ones we verified in the package; a pair keeps both parts bound (owner_auth_b as the transfer named).
  const before = record.statement;
  requireUnchanged(before, st, [...FIXED_FIELDS, 'backups', 'count']);
  if ((st.owner_auth_b ?? null) !== (before.transfer?.receiver_auth_b ?? null)) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement binds the coin to another second part than the transfer named');
  const ours = st.backups[st.backups.length - 1];
  if (ours === undefined || ours.owner_share !== record.share) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement does not list our backup last');
  // S₂ + O₂ = P: with our share, the operator's new share spends the coin we verified.
  if (!sumIs([parsePublicKey(st.operator_share, 'operator_share'), parsePublicKey(record.share, 'share')], parsePublicKey(before.aggregate, 'aggregate'))) {
    throw new RefusedError('E_KEY_SUM', 'S₂ + O₂ ≠ P: the operator\'s new share and ours do not make the coin\'s key');
  }
  return { ...record, status: 'active', statement: done.statement, transfer: null };
}

export function coinView(record: OwnerRecord, tipHeight?: number) {
  const st = record.statement;
  const latest = st.backups[st.backups.length - 1]!;
  const remaining = tipHeight === undefined ? undefined : transfersRemaining(latest.locktime, termsFromJson(st.terms), tipHeight);
  return {
    type: 'statechain/coin', version: 1, network: record.network, coin_id: record.coin_id, address: st.address, outpoint: st.outpoint!, amount_sat: st.amount_sat!,
    owner_share: record.share, statement: st, backups: record.backups, latest_locktime: latest.locktime,
    next: 'joint' in record && record.status === 'active'
      ? `the coin is owned jointly (we are part ${(record as { joint: { index: number } }).joint.index + 1} of 2): our part alone signs nothing; the pair transfers it together (the request goes to B first)`
      : record.status === 'active'
      ? (remaining === undefined ? 'the coin is yours: transfer, withdraw, or broadcast the backup once final' : `the coin is yours; ${remaining} more transfer(s) fit before the margin`)
      : `the coin is ${record.status}`,
  };
}
