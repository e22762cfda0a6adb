/**
 * A coin owned by two parties at once — the channel parties of a Lightning channel on a
 * statechain coin (BRIEF §3.2, issue 13 item 6). The joint owner's share is O = A + B,
 * so the operator's code is unchanged: a joint owner signs as one owner.
 *
 * - Proofs of possession: one per part, each naming the coin; the joint share is their sum.
 * - Signing: the owner's public nonce is the component-wise sum of A's and B's; each part
 *   signs in the three-party session [A, B, S] (A carries the taproot tweak), and
 *   sA + sB is the owner's partial signature in the operator's two-party session [A + B, S]:
 *   both sessions have the same P, R₁, R₂, b and e, so the sum verifies as one owner's.
 * - Receiving: the package (t₁ = o₁ + x₁) is sealed to A, the pair's representative; A
 *   checks the whole chain and hands B u = t₁ − a (sealed to B); B checks the chain too,
 *   with u·G = O₁ + X₁ − A, and gives t₂ = u − b sealed to the operator; A signs the
 *   acceptance. Then s₂·G + A + B = P. A learns nothing of b, B nothing of a or x₁.
 *
 * Through pipes (statechain-transfer): B `--joint-part` → statechain/joint-part; A `--start
 * --joint-with` → transfer-request; sender and operator as for any receiver; A reads the
 * package → statechain/joint-handoff; B → statechain/joint-t2; A → transfer-accept; both
 * read transfer-done. Each keeps `joint-<coin>` (its part secret and the chain) before its
 * step's answer leaves — A before the handoff, B before t₂.
 *
 * The joint share's arithmetic (O = Σ parts, proofs, the joint nonce): ./joint-share.ts.
 * A pair sending its coin (the next transfer, the virtual close) or withdrawing it:
 * ./joint-send.ts.
 */
import { fromHex, toHex, utf8 } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import { parsePublicKey } from '../keys/keys.ts';
import type { RandomSource } from '../random.ts';
import { N, bytes32, int, mod } from '../musig/engine/scalar.ts';
import type { Static } from '@sinclair/typebox';
import type { OwnerContext, OwnerRecord } from './owner.ts';
import { newShare, sign } from './owner.ts';
import type { JointHandoffSchema, JointPartSchema, JointT2Schema, PackageInner, TransferPackageSchema } from './schemas.ts';
import { openPackage, packageInner, requireSig } from './transfer.ts';
import { jointShare, type JointPart } from './joint-share.ts';
import { seal, sealJson, signBody, unsealJson } from './seal.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { stringifyLine } from '../json.ts';
import { provePossession } from './signer.ts';
import { verifyTransfer, type ChainFacts, type Expected, type Verified } from './verify.ts';
import type { Floor } from './floor.ts';

export function jointPart(coinId: string, auth: Uint8Array, random: RandomSource): { secret: Uint8Array; part: JointPart } {
  const { secret, share } = newShare(random, 'statechain/joint-part');
  const pop = provePossession(secret, fromHex(coinId, 'coin id', 16), random.bytes(32, 'statechain/pop-aux'));
  return { secret, part: { share: toHex(share), pop: toHex(pop), auth: toHex(auth) } };
}

/**
 * Signing for a jointly owned coin: each part signs with `partialSign(session, i, …)` in
 * the session [parts…, operator share] with the parts' own nonces and the operator's, and
 * `aggregate(session, psigs)` checks every partial signature there — the operator's
 * included, made in its two-party session [Σ parts, S] — and sums them (signer.ts).
 */
export { aggregate as jointAggregate, partialSign as jointPartialSign } from './signer.ts';

/** A, step 1: the request for a coin the pair will own; A signs it, B's part rides along. */
export function jointRequest(coinId: string, operatorAuth: Uint8Array, a: { secret: Uint8Array; part: JointPart }, b: JointPart, ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>, backupScript?: Uint8Array) {
  const share = jointShare(coinId, [a.part, b]);
  const body = {
    type: 'statechain/transfer-request', version: 1, network: ctx.network, coin_id: coinId, receiver_auth: a.part.auth, receiver_share: share,
    receiver_parts: [a.part, b], ...(backupScript === undefined ? {} : { backup_script: toHex(backupScript) }),
  };
  const pending = { coin_id: coinId, network: ctx.network, share, part_secret: toHex(a.secret), parts: [a.part, b], operator_auth: toHex(operatorAuth), backup_script: body.backup_script };
  return { pending, message: sign(body.type, body, 'receiver_sig', ctx) };
}

export type JointPending = ReturnType<typeof jointRequest>['pending'];

function expectOf(p: JointPending, transferId: string, t1Minus?: string, floor?: Floor): Expected {
  return {
    coinId: p.coin_id, transferId, receiverShare: p.share, receiverAuth: p.parts[0]!.auth, receiverAuthB: p.parts[1]!.auth, operatorAuth: parsePublicKey(p.operator_auth, 'operator_auth'),
    backupScript: p.backup_script, t1Minus, floor,
  };
}

/** A, step 2: verify the package as any receiver, then hand B u = t₁ − a with the chain. */
export function jointOpen(inner: PackageInner, transferId: string, pending: JointPending, chain: ChainFacts, random: RandomSource, floor?: Floor): { verified: Verified; handoff: string } {
  const verified = verifyTransfer(inner, expectOf(pending, transferId, undefined, floor), chain);
  const u = mod(int(fromHex(inner.t1, 't1', 32)) - int(fromHex(pending.part_secret, 'part', 32)));
  const handoff = sealJson(parsePublicKey(pending.parts[1]!.auth, 'part 1 auth'), { ...inner, t1: toHex(bytes32(u)) }, `${pending.coin_id}/${transferId}/joint`, newShare(random, 'statechain/seal').secret);
  return { verified, handoff };
}

/** The package A handed B (t₁ replaced by u), unsealed and checked against its schema. */
export function openHandoff(handoff: string, coinId: string, transferId: string, authSecret: Uint8Array): PackageInner {
  return packageInner(unsealJson(authSecret, handoff, `${coinId}/${transferId}/joint`, 'the handoff'), 'the handoff');
}

/** B, step 3: verify the chain (u·G = O₁ + X₁ − A), and seal t₂ = u − b to the operator. */
export function jointFinish(inner: PackageInner, transferId: string, pending: JointPending, bSecret: Uint8Array, chain: ChainFacts, random: RandomSource, floor?: Floor) {
  const verified = verifyTransfer(inner, expectOf(pending, transferId, pending.parts[0]!.share, floor), chain);
  const t2 = mod(int(fromHex(inner.t1, 'u', 32)) - int(bSecret));
  if (t2 === 0n || t2 >= N) throw new RefusedError('E_BAD_T1', 'a degenerate t₂');
  const t2Sealed = seal(parsePublicKey(pending.operator_auth, 'operator_auth'), bytes32(t2), `${pending.coin_id}/${transferId}/t2`, newShare(random, 'statechain/seal').secret);
  return { verified, t2Sealed };
}

/** A, step 4: the acceptance the operator completes the transfer with. */
export function jointAccept(pending: Pick<JointPending, 'coin_id' | 'share' | 'parts'>, transferId: string, t2Sealed: string, ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>) {
  const body = {
    type: 'statechain/transfer-accept', version: 1, network: ctx.network, coin_id: pending.coin_id, transfer_id: transferId,
    receiver_auth: pending.parts[0]!.auth, receiver_share: pending.share, t2_sealed: t2Sealed,
  };
  // A keeps nothing at this step, so its answer must come out the same when B's t₂ is read
  // again (its acceptance lost): the signature's auxiliary bytes are derived from the body
  // (BIP-340 allows it; the nonce still depends on A's secret key), not drawn afresh.
  return { ...body, receiver_sig: signBody(body.type, body, ctx.auth.secretKey, sha256(utf8(stringifyLine(body)))) };
}

// ---- the steps as the commands run them ---------------------------------------------

/** A part's context; `floor`: its own safety floor for the chain it verifies (DEFAULT_FLOOR when absent). */
type Ctx = Pick<OwnerContext, 'auth' | 'random' | 'network'> & { floor?: Floor };

/** B before the transfer: its part, kept until A's handoff (B trusts its own operator key and backup script, never A's word for them). */
export type PendingPart = { coin_id: string; network: OwnerRecord['network']; part_secret: string; part: JointPart; operator_auth: string; backup_script?: string };

/** A jointly owned coin as one part keeps it: `share_secret` is this part's secret only, `share` the pair's O = A + B. */
export type JointRecord = OwnerRecord & { joint: { index: 0 | 1; parts: JointPart[] } };

const samePart = (a: JointPart, b: JointPart) => a.share === b.share && a.pop === b.pop && a.auth === b.auth;

/** B, step 0: a part for the coin the pair will receive. */
export function startPart(coinId: string, operatorAuth: Uint8Array, ctx: Ctx, backupScript?: Uint8Array) {
  const { secret, part } = jointPart(coinId, ctx.auth.publicKey, ctx.random);
  const pending: PendingPart = {
    coin_id: coinId, network: ctx.network, part_secret: toHex(secret), part, operator_auth: toHex(operatorAuth),
    ...(backupScript === undefined ? {} : { backup_script: toHex(backupScript) }),
  };
  secret.fill(0);
  const body = { type: 'statechain/joint-part', version: 1, network: ctx.network, coin_id: coinId, ...part };
  return { pending, message: sign(body.type, body, 'part_sig', ctx) };
}

/** A, step 1: its own part, B's (signed by B, proven for this coin), and the request for the sender. */
export function startJointReceive(coinId: string, operatorAuth: Uint8Array, b: Static<typeof JointPartSchema>, ctx: Ctx, backupScript?: Uint8Array) {
  if (b.coin_id !== coinId) throw new RefusedError('E_WRONG_COIN', `B's part is for coin ${b.coin_id}, not ${coinId}`);
  requireSig(b, 'part_sig', b.auth, 'B');
  if (b.auth === toHex(ctx.auth.publicKey)) throw new RefusedError('E_BAD_POSSESSION', 'B\'s part carries our own authentication key: a pair is two parties');
  const a = jointPart(coinId, ctx.auth.publicKey, ctx.random);
  const { pending, message } = jointRequest(coinId, operatorAuth, a, { share: b.share, pop: b.pop, auth: b.auth }, ctx, backupScript);
  a.secret.fill(0);
  return { pending, message };
}

function jointRecord(p: { coin_id: string; network: OwnerRecord['network']; share: string; part_secret: string; operator_auth: string; parts: JointPart[] }, inner: PackageInner, transferId: string, index: 0 | 1): JointRecord {
  return {
    coin_id: p.coin_id, network: p.network, status: 'receiving', share_secret: p.part_secret, share: p.share, auth: p.parts[0]!.auth, operator_auth: p.operator_auth,
    statement: inner.statement, funding_tx: inner.funding_tx, backups: inner.backups, signing: null,
    transfer: { transfer_id: transferId, receiver_auth: p.parts[0]!.auth, receiver_share: p.share }, joint: { index, parts: p.parts },
  };
}

/** The package sealed to A, the pair's representative (its caller reads the chain facts for its statement first). */
export function openJointPackage(pkg: Static<typeof TransferPackageSchema>, pending: JointPending, authSecret: Uint8Array): PackageInner {
  return openPackage(pkg, { coin_id: pending.coin_id, auth: pending.parts[0]!.auth }, authSecret);
}

/** A, before accepting (statechain-verify): the package checked exactly as step 5 checks it, the pair's floor included; nothing kept. */
export function jointVerify(pkg: Static<typeof TransferPackageSchema>, pending: JointPending, inner: PackageInner, chain: ChainFacts, floor?: Floor): Verified {
  return verifyTransfer(inner, expectOf(pending, pkg.transfer_id, undefined, floor), chain);
}

/** A, step 5: the package verified as any receiver's; B gets u = t₁ − a with the chain. */
export function jointTakePackage(
  pkg: Static<typeof TransferPackageSchema>, pending: JointPending, chain: ChainFacts, ctx: Ctx,
  inner: PackageInner = openJointPackage(pkg, pending, ctx.auth.secretKey),
) {
  const { verified, handoff } = jointOpen(inner, pkg.transfer_id, pending, chain, ctx.random, ctx.floor);
  const record = jointRecord(pending, inner, pkg.transfer_id, 0);
  const body = {
    type: 'statechain/joint-handoff', version: 1, network: ctx.network, coin_id: pending.coin_id, transfer_id: pkg.transfer_id, receiver_share: pending.share,
    parts: pending.parts, ...(pending.backup_script === undefined ? {} : { backup_script: pending.backup_script }), handoff,
  };
  const message = sign(body.type, body, 'part_sig', ctx);
  // Kept, so a handoff lost after the pending request is gone can be printed again (the same u).
  return { verified, record: { ...record, transfer: { ...record.transfer!, package: message } }, message };
}

/** Whose handoff this is, before anything is unsealed: our coin, our part, A's signature, the backup script we asked for, the parts' sum. */
function checkHandoff(msg: Static<typeof JointHandoffSchema>, pending: PendingPart): void {
  if (msg.coin_id !== pending.coin_id) throw new RefusedError('E_WRONG_COIN', `this handoff is for coin ${msg.coin_id}, not ${pending.coin_id}`);
  if (!samePart(msg.parts[1]!, pending.part)) throw new RefusedError('E_WRONG_RECEIVER', 'this handoff\'s second part is not ours');
  requireSig(msg, 'part_sig', msg.parts[0]!.auth, 'A');
  if ((msg.backup_script ?? null) !== (pending.backup_script ?? null)) {
    throw new RefusedError('E_WRONG_BACKUP', `the pair's backup would pay ${msg.backup_script ?? 'the joint share\'s P2TR'}, not ${pending.backup_script ?? 'the joint share\'s P2TR'} as we asked`);
  }
  if (jointShare(pending.coin_id, msg.parts) !== msg.receiver_share) throw new RefusedError('E_BAD_POSSESSION', 'the parts do not sum to the pair\'s share');
}

/** B, step 5′: the chain verified with u·G = O₁ + X₁ − A; t₂ = u − b sealed to the operator. */
export function jointTakeHandoff(
  msg: Static<typeof JointHandoffSchema>, pending: PendingPart, chain: ChainFacts, ctx: Ctx,
  inner: PackageInner = openHandoffFor(msg, pending, ctx.auth.secretKey),
) {
  const jp: JointPending = {
    coin_id: pending.coin_id, network: pending.network, share: msg.receiver_share, part_secret: pending.part_secret, parts: msg.parts, operator_auth: pending.operator_auth, backup_script: pending.backup_script,
  };
  const bSecret = fromHex(pending.part_secret, 'part', 32);
  const { verified, t2Sealed } = jointFinish(inner, msg.transfer_id, jp, bSecret, chain, ctx.random, ctx.floor);
  bSecret.fill(0);
  const record = jointRecord(jp, inner, msg.transfer_id, 1);
  const body = { type: 'statechain/joint-t2', version: 1, network: ctx.network, coin_id: pending.coin_id, transfer_id: msg.transfer_id, t2_sealed: t2Sealed };
  const message = sign(body.type, body, 'part_sig', ctx);
  return { verified, record: { ...record, transfer: { ...record.transfer!, package: message } }, message };
}

/** A, step 5″: B's t₂ into the pair's acceptance, signed by A for the operator. */
export function jointAcceptFrom(msg: Static<typeof JointT2Schema>, record: JointRecord, ctx: Ctx) {
  if (msg.coin_id !== record.coin_id) throw new RefusedError('E_WRONG_COIN', `this t₂ is for coin ${msg.coin_id}`);
  if (record.joint.index !== 0) throw new StateConflictError('E_NOT_RECEIVING', 'only the pair\'s first part (A) sends the acceptance');
  if (record.status !== 'receiving' || record.transfer?.transfer_id !== msg.transfer_id) throw new StateConflictError('E_NOT_RECEIVING', `no joint receipt of transfer ${msg.transfer_id} is waiting for B`);
  requireSig(msg, 'part_sig', record.joint.parts[1]!.auth, 'B');
  return jointAccept({ coin_id: record.coin_id, share: record.share, parts: record.joint.parts }, msg.transfer_id, msg.t2_sealed, ctx);
}

/** B: a handoff checked as ours (before anything is unsealed), then opened — its statement tells the caller which chain facts to read. */
export function openHandoffFor(msg: Static<typeof JointHandoffSchema>, pending: PendingPart, authSecret: Uint8Array): PackageInner {
  checkHandoff(msg, pending);
  return openHandoff(msg.handoff, msg.coin_id, msg.transfer_id, authSecret);
}

/** A step this part already answered (its record written, its pending document gone): the same answer again. */
export function answeredBefore(record: JointRecord | undefined, transferId: string, index: 0 | 1): Record<string, unknown> | undefined {
  if (record === undefined || record.joint.index !== index || record.status !== 'receiving' || record.transfer?.transfer_id !== transferId) return undefined;
  return record.transfer.package;
}
