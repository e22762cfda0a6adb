/**
 * The owner's side of a deposit (issue 13 item 1): refund before funding — backup 1 is
 * fully signed before the owner signs the funding. Steps 1, 3 and 5; the operator's steps
 * 2 and 4 are in ./operator.ts. The owner's invariants (the pinned operator, the statement
 * saying exactly what was asked, the floor, the unmalleable funding) head ./owner.ts.
 * Not here: reading the funding (./funding.ts), persistence (the command's store).
 */
import type { Static, TObject } from '@sinclair/typebox';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError, UsageError } from '../errors.ts';
import { scriptAddress } from '../address.ts';
import { stringifyLine } from '../json.ts';
import { parsePublicKey, validatePublicKey } from '../keys/keys.ts';
import { checkFloor, checkInitialLock, type Floor } from './floor.ts';
import { backupTransaction, checkTerms, coinKey, finishSpend, parseTransaction, termsFromJson } from './coin.ts';
import type { DepositCosignedSchema, DepositOfferSchema } from './schemas.ts';
import { provePossession, verifyPossession } from './signer.ts';
import { checkStatement } from './statement.ts';
import { findDeposit } from './funding.ts';
import { finishSignature, issueOwnerNonce, newShare, nonceContext, sign, signingTx, type OwnerContext, type OwnerRecord, type PendingDeposit } from './owner.ts';

type Msg<S extends TObject> = Static<S>;

/** Step 1: a fresh share and the request the operator answers with a coin; the operator's key is pinned here. */
export function startDeposit(ctx: Pick<OwnerContext, 'auth' | 'random' | 'network'>, operatorAuth: Uint8Array) {
  const { secret, share } = newShare(ctx.random, 'statechain/owner-share');
  const pending: PendingDeposit = { network: ctx.network, share_secret: toHex(secret), share: toHex(share), auth: toHex(ctx.auth.publicKey), operator_auth: toHex(validatePublicKey(operatorAuth, 'operator key')) };
  secret.fill(0);
  const body = { type: 'statechain/deposit-request', version: 1, network: ctx.network, owner_auth: pending.auth, owner_share: pending.share };
  return { pending, message: sign(body.type, body, 'owner_sig', ctx) };
}

/**
 * Step 3: check the operator's offer — from the operator pinned at step 1, for our share,
 * with terms above our own floor — build backup 1 on the (unsigned) funding, issue our nonce.
 */
export async function depositBackup(pending: PendingDeposit, offer: Msg<typeof DepositOfferSchema>, fundingHex: string, tipHeight: number, floor: Floor, ctx: OwnerContext) {
  if (pending.operator_auth === undefined) throw new UsageError('E_USAGE', 'this deposit names no operator: give --operator-key KEY (the operator whose offer you take)');
  const operatorAuth = parsePublicKey(offer.statement.operator_auth, 'operator_auth');
  if (!equalBytes(parsePublicKey(pending.operator_auth, 'operator_auth'), operatorAuth)) throw new RefusedError('E_WRONG_OPERATOR', `this offer is from operator ${toHex(operatorAuth)}, not the one you named`);
  const st = checkStatement(offer.statement, operatorAuth, offer.coin_id);
  if (st.owner_share !== pending.share || st.owner_auth !== pending.auth) throw new RefusedError('E_WRONG_COIN', 'this offer is for another owner\'s request');
  // checkStatement already holds a 'deposit' statement to no count, backup, outpoint or amount.
  if (st.status !== 'deposit' || st.transfer !== null || st.network !== ctx.network) {
    throw new RefusedError('E_BAD_STATEMENT', 'a deposit offer names a new coin on this network with no deposit and no backup yet');
  }
  // A deposit is one owner's: a second part the depositor never named would have to consent to every transfer and withdrawal.
  if (st.owner_auth_b !== undefined) throw new RefusedError('E_BAD_STATEMENT', 'the offer binds the coin to a second part (owner_auth_b) you never named; do not fund this coin');
  const coinId = fromHex(offer.coin_id, 'coin_id', 16);
  if (!verifyPossession(parsePublicKey(st.operator_share, 'operator_share'), coinId, fromHex(offer.operator_pop, 'operator_pop', 64))) {
    throw new RefusedError('E_BAD_POSSESSION', 'the operator\'s proof of possession of its share does not verify for this coin');
  }
  const key = coinKey(parsePublicKey(pending.share, 'share'), parsePublicKey(st.operator_share, 'operator_share'));
  if (!equalBytes(key.aggregate, parsePublicKey(st.aggregate, 'aggregate'))) throw new RefusedError('E_KEY_SUM', 'the offer\'s P is not O + S');
  if (scriptAddress(key.script, ctx.network) !== st.address) throw new RefusedError('E_BAD_STATEMENT', 'the offer\'s address is not the P2TR of P = O + S');
  const { outpoint, amountSat, unsignedHex } = findDeposit(fundingHex, key.script);
  const terms = termsFromJson(st.terms);
  checkTerms(terms);
  checkFloor(terms, amountSat, floor);
  checkInitialLock(terms, floor);
  const locktime = tipHeight + terms.initialLock;
  const backup = backupTransaction(key, { outpoint, amountSat, locktime, ownerShare: parsePublicKey(pending.share, 'share'), feeSat: terms.backupFeeSat, anchor: terms.anchor });
  const secret = fromHex(pending.share_secret, 'share', 32);
  const pop = provePossession(secret, coinId, ctx.random.bytes(32, 'statechain/pop-aux'));
  secret.fill(0);
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(offer.coin_id, 'backup', backup.id));
  const record: OwnerRecord = {
    coin_id: offer.coin_id, network: ctx.network, status: 'depositing', share_secret: pending.share_secret, share: pending.share, auth: pending.auth,
    operator_auth: st.operator_auth, statement: offer.statement, funding_tx: unsignedHex, backups: [],
    signing: { purpose: 'backup', tx: toHex(backup.unsignedTx), pubnonce }, transfer: null,
  };
  const body = {
    type: 'statechain/deposit-backup', version: 1, network: ctx.network, coin_id: offer.coin_id, owner_pop: toHex(pop), funding_tx: unsignedHex,
    outpoint: `${outpoint.txid}:${outpoint.vout}`, amount_sat: Number(amountSat), backup_tx: toHex(backup.unsignedTx), owner_pubnonce: pubnonce,
  };
  const message = sign(body.type, body, 'owner_sig', ctx);
  // Kept: the same offer and funding again (this answer lost) print the same request.
  return { record: { ...record, request: message }, message };
}

/** The request this depositor already sent for `offer` with this funding (its answer lost), or undefined. */
export function depositRequestedBefore(record: OwnerRecord | undefined, offer: Msg<typeof DepositOfferSchema>, fundingHex: string): Record<string, unknown> | undefined {
  if (record === undefined || record.status !== 'depositing' || !record.request || record.statement.operator_sig !== offer.statement.operator_sig) return undefined;
  return (record.request as { funding_tx?: unknown }).funding_tx === toHex(parseTransaction(fundingHex, 'the funding transaction').unsignedTx) ? record.request : undefined;
}

/**
 * What the depositor asked for, from its own bytes (never from the operator's statement):
 * the funding's outpoint and amount, backup 1's txid and locktime.
 */
function ownDeposit(record: OwnerRecord) {
  const backup = parseTransaction(record.signing!.tx, 'the stored backup 1');
  const input = backup.getInput(0);
  const outpoint = `${toHex(input.txid!)}:${input.index!}`;
  const funding = parseTransaction(record.funding_tx, 'the stored funding');
  const amount = funding.getOutput(input.index!).amount!;
  return { outpoint, amount, backup };
}

/**
 * Step 5: backup 1 finished; the coin can now be funded. The operator's signed statement
 * must say exactly what we asked for — the amount, outpoint, backup 1 (txid, locktime, our
 * share), the offer's terms, shares, keys and address — or backup 1 could be signed for
 * another amount (its signature would not verify on chain: the coin hostage) or the coin
 * recorded as another; nothing is signed, no nonce is spent, until it does.
 */
export async function depositFinish(record: OwnerRecord, cosigned: Msg<typeof DepositCosignedSchema>, ctx: OwnerContext): Promise<OwnerRecord> {
  // The same answer again (our coin view lost): the coin as it is, nothing signed or written.
  if (record.backups.length > 0 && record.statement.count === 1 && cosigned.statement.operator_sig === record.statement.operator_sig) return record;
  if (record.status !== 'depositing' || record.signing === null) throw new StateConflictError('E_NOT_SIGNING', `this coin is ${record.status}, not waiting for its first backup`);
  const st = checkStatement(cosigned.statement, parsePublicKey(record.operator_auth, 'operator_auth'), record.coin_id);
  const own = ownDeposit(record);
  const offered = record.statement;
  const differs = (what: string, mine: unknown, theirs: unknown) => {
    const [a, b] = [stringifyLine(mine).trim(), stringifyLine(theirs).trim()];
    if (a !== b) throw new RefusedError('E_BAD_STATEMENT', `the operator's statement does not say what we asked for: ${what} is ${b}, not ${a}; do not fund this coin`);
  };
  differs('the amount', Number(own.amount), st.amount_sat);
  differs('the outpoint', own.outpoint, st.outpoint);
  differs('the status', 'active', st.status);
  differs('the count', 1, st.count);
  differs('backup 1', [{ n: 1, txid: own.backup.id, locktime: own.backup.lockTime, owner_share: record.share }], st.backups);
  differs('the backup txid', own.backup.id, cosigned.backup_txid);
  differs('the terms', offered.terms, st.terms);
  for (const field of ['network', 'operator_auth', 'operator_share', 'owner_auth', 'owner_share', 'aggregate', 'address', 'transfer'] as const) differs(field, offered[field], st[field]);
  if (st.owner_auth_b !== undefined) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement binds the coin to a second part (owner_auth_b) you never named; do not fund this coin');
  if (cosigned.owner_pubnonce !== record.signing.pubnonce) throw new RefusedError('E_NONCE_MISMATCH', 'this answer is for another nonce of ours');
  const tx = signingTx({ ...record, statement: cosigned.statement }, 'backup');
  const sig = await finishSignature(record, st.operator_share, tx, 'backup', { owner: cosigned.owner_pubnonce, operator: cosigned.operator_pubnonce, operatorPsig: cosigned.operator_psig }, ctx);
  const signed = finishSpend(tx, sig);
  return { ...record, status: 'active', statement: cosigned.statement, backups: [signed.hex], signing: null };
}
