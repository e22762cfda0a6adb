/**
 * The coin owner's side (issue 13 items 1 and 5): deposit — refund before funding, so the
 * first backup is fully signed before the owner signs the deposit — cooperative withdrawal,
 * and the newest backup once final, with a CPFP child for a package.
 *
 * Invariants:
 * - the owner's secret nonce is issued into the single-use store bound to (coin, purpose,
 *   txid) and consumed on disk before the owner's partial signature is computed; the
 *   operator's partial signature is checked first, so a bad answer burns nothing;
 * - the owner accepts only statements signed by the operator it pinned at its first step,
 *   naming its own share and key, for the backup it asked for; before it says "fund", the
 *   operator's statement must say exactly its own amount, outpoint, backup 1 (txid,
 *   locktime, share), the offer's terms and keys (E_BAD_STATEMENT), and the terms must be
 *   above its own floor (floor.ts);
 * - the funding cannot be malleated: every input native segwit (a PSBT's witness_utxo, or
 *   a raw transaction's inputs looked up on a node; unchecked raw hex is refused);
 * - a signed withdrawal is kept in the record before it is printed or broadcast; the same
 *   answer again prints the same bytes (retries never lose a signed step);
 * - every withdrawal request sent stays answerable until one is finished: another may be
 *   asked while one waits (a refused one is no dead end), and the operator's answer to any
 *   of them finishes the coin;
 * - the owner's share o is kept in its state (0600) and appears in no message.
 *
 * Here: the owner's record and signing session, the withdrawal and the backup, each with its CPFP child.
 * Not here: the deposit's steps (deposit.ts) and its funding (funding.ts), the transfer
 * (transfer.ts), persistence and locking (the command's store).
 */
import { Transaction } from '@scure/btc-signer';
import type { Static, TObject } from '@sinclair/typebox';
import { scriptAddress } from '../address.ts';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError } from '../errors.ts';
import type { NoncePort } from '../musig/nonce-port.ts';
import { parsePublicKey, type KeyPair } from '../keys/keys.ts';
import type { Network } from '../network.ts';
import type { RandomSource } from '../random.ts';
import { N, int } from '../musig/engine/scalar.ts';
import { keyPathSighash, tweakSecretKey } from '../taproot/taproot.ts';
import { schnorrSign } from '../taproot/schnorr.ts';
import { P2A_SCRIPT, coinKey, coinSighash, finishSpend, ownerScript, parseOutpointText, parseTransaction } from './coin.ts';
import { checkTrucPackage, CORE_POLICY } from '../truc/check.ts';
import { buildChild } from '../truc/child.ts';
import type { Conflict } from '../truc/standing.ts';
import { DEFAULT_FEE_LIMITS, checkFee, type FeeLimits } from '../tx/fee-guard.ts';
import { finalizedRaw } from '../truc/input.ts';
import type { Statement, WithdrawCosignedSchema } from './schemas.ts';
import { signBody } from './seal.ts';
import { WITHDRAWAL_ANCHOR_SAT, checkRelayFloor, feeOf, withdrawalTransaction as buildWithdrawal, withdrawalVsize, type RelayFloorSource } from './withdrawal.ts';
import { aggregate, nonceGen, partialSign, partialVerify, publicShare } from './signer.ts';
import { FIXED_FIELDS, checkStatement, requireUnchanged } from './statement.ts';

type Msg<S extends TObject> = Static<S>;

/** What an owner (or a receiver, once it has accepted) keeps for a coin. */
export type OwnerRecord = {
  coin_id: string;
  network: Network;
  status: 'depositing' | 'active' | 'sending' | 'sent' | 'receiving' | 'withdrawing' | 'withdrawn';
  /** o, this owner's share: the only secret here. */
  share_secret: string;
  share: string;
  auth: string;
  operator_auth: string;
  statement: Statement;
  funding_tx: string;
  /** Signed backups, backup 1 first (the last one is this owner's once it holds the coin). */
  backups: string[];
  /** The unsigned transaction whose signature is under way (a backup or a withdrawal), with its nonce. */
  signing: { purpose: 'backup' | 'transfer' | 'withdraw'; tx: string; pubnonce: string } | null;
  /**
   * The signed withdrawal, kept once signed (never dropped): a rerun of the last step
   * prints these bytes again; `broadcast` is set only once a node accepted them.
   */
  withdrawal?: { txid: string; hex: string; broadcast?: boolean } | null;
  /** The request of the step under way (withdraw-request), so a rerun prints the same bytes. */
  request?: Record<string, unknown> | null;
  /**
   * Withdrawals asked before the one under way (`signing`/`request`) and never answered here:
   * each stays answerable — the operator may have co-signed one and its answer been lost —
   * so asking for another never strands the coin (issue 37 review).
   */
  earlier_withdrawals?: AskedWithdrawal[] | null;
  /** The transfer this owner is sending or receiving. */
  transfer: {
    transfer_id: string; receiver_auth: string; receiver_share: string;
    /** Sender: the package it sealed; receiver: the transfer-accept it signed — printed again on a rerun, until the next step is confirmed. */
    package?: Record<string, unknown>; accept?: Record<string, unknown>;
    /** Sender: the transfer-sign it sent (a rerun for the same receiver prints it again). */
    request?: Record<string, unknown>; receiver_request?: string;
  } | null;
};

/** A withdrawal asked of the operator: its unsigned transaction, our nonce for it, the request as sent. */
export type AskedWithdrawal = { tx: string; pubnonce: string; request: Record<string, unknown> };

/** A deposit before the operator has named the coin. */
export type PendingDeposit = { network: Network; share_secret: string; share: string; auth: string; /** The operator named at --start: only its offer is taken. */ operator_auth?: string };

export type OwnerContext = { auth: KeyPair; random: RandomSource; nonces: NoncePort; network: Network };

export const nonceContext = (coinId: string, purpose: string, txid: string) => `statechain/${coinId}/${purpose}/${txid}`;

export function newShare(random: RandomSource, label: string): { secret: Uint8Array; share: Uint8Array } {
  for (;;) {
    const secret = random.bytes(32, label);
    const k = int(secret);
    if (k > 0n && k < N) return { secret, share: publicShare(k) };
  }
}

export function sign(type: string, body: Record<string, unknown>, field: string, ctx: { auth: KeyPair; random: RandomSource }) {
  return { ...body, [field]: signBody(type, body, ctx.auth.secretKey, ctx.random.bytes(32, 'statechain/request-aux'), ctx.auth.publicKey) };
}

export async function issueOwnerNonce(ctx: OwnerContext, context: string): Promise<string> {
  const issued = await ctx.nonces.issue(context, (counter) => nonceGen(ctx.random.bytes(64, `statechain/owner-nonce/${counter}`)));
  return toHex(issued.pubnonce);
}

/**
 * The coin's signature on `tx`: the operator's partial signature checked, our nonce
 * consumed on disk, our partial signature, the aggregate (a BIP-340 signature for Q).
 */
export async function finishSignature(
  record: Pick<OwnerRecord, 'coin_id' | 'share_secret' | 'share'>, operatorShare: string, tx: Transaction, purpose: string,
  nonces: { owner: string; operator: string; operatorPsig: string }, ctx: OwnerContext,
): Promise<Uint8Array> {
  const input = {
    shares: [parsePublicKey(record.share, 'share'), parsePublicKey(operatorShare, 'operator_share')],
    pubnonces: [fromHex(nonces.owner, 'owner_pubnonce', 66), fromHex(nonces.operator, 'operator_pubnonce', 66)],
    msg: coinSighash(tx),
  };
  const operatorPsig = fromHex(nonces.operatorPsig, 'operator_psig', 32);
  if (!partialVerify(input, 1, operatorPsig)) throw new RefusedError('E_BAD_PARTIAL_SIG', 'the operator\'s partial signature does not verify for this transaction');
  const secnonce = await ctx.nonces.take(input.pubnonces[0]!, nonceContext(record.coin_id, purpose, tx.id));
  const share = fromHex(record.share_secret, 'share', 32);
  const psig = partialSign(input, 0, secnonce, share);
  share.fill(0);
  return aggregate(input, [psig, operatorPsig]);
}

/** The transaction under signature, with the coin's output as its witness UTXO again. */
export function signingTx(record: OwnerRecord, expected: NonNullable<OwnerRecord['signing']>['purpose']): Transaction {
  if (record.signing === null || record.signing.purpose !== expected) throw new StateConflictError('E_NOT_SIGNING', `no ${expected} signature is under way for this coin`);
  const st = record.statement;
  const tx = parseTransaction(record.signing.tx, 'the stored transaction');
  const key = coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share'));
  if (st.amount_sat === null) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s statement names no deposit amount');
  tx.updateInput(0, { witnessUtxo: { script: key.script, amount: BigInt(st.amount_sat) } }, true);
  return tx;
}

/** The withdrawal (./withdrawal.ts): the whole coin, less the fee at `feeRate` and a 240-sat anchor, to `destination`; TRUC, so anyone holding it can bump it. */
export function withdrawalTransaction(record: Pick<OwnerRecord, 'statement'>, destination: Uint8Array, feeRate: number): Transaction {
  const st = record.statement;
  const key = coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share'));
  return buildWithdrawal({ outpoint: parseOutpointText(st.outpoint!), amountSat: BigInt(st.amount_sat!), script: key.script }, destination, feeRate);
}

/**
 * Before any nonce is issued or anything written: the fee guard (E_FEE_TOO_HIGH: above Core's
 * maxfeerate no node sends it — sendrawtransaction and submitpackage refuse it, and no child
 * lowers a parent's own rate — or more than the share of the coin the owner allows), then,
 * with a node named, its relay floor (E_FEE_TOO_LOW).
 */
export async function checkWithdrawalFloor(record: Pick<OwnerRecord, 'statement'>, tx: Transaction, relay: RelayFloorSource | undefined, limits: FeeLimits = DEFAULT_FEE_LIMITS): Promise<void> {
  const amountSat = BigInt(record.statement.amount_sat!);
  checkFee({ what: 'the withdrawal', feeSat: feeOf(tx, amountSat), vsize: withdrawalVsize(tx), amountSat }, limits);
  if (relay !== undefined) checkRelayFloor(tx, amountSat, await relay());
}

/** Every withdrawal this owner asked for and has not finished, oldest first (the one under way last). */
function askedWithdrawals(record: OwnerRecord): AskedWithdrawal[] {
  if (record.status !== 'withdrawing') return [];
  const current = record.signing?.purpose === 'withdraw' && record.request ? [{ tx: record.signing.tx, pubnonce: record.signing.pubnonce, request: record.request }] : [];
  return [...(record.earlier_withdrawals ?? []), ...current];
}

/**
 * Withdrawal step 1: the whole coin, less the fee, to `destination`. Asked again for a
 * transaction already asked for (its answer lost), it prints the same request — the operator
 * answers a repeated request with its stored answer; once signed, it is the stored
 * withdrawal's turn. Another withdrawal while one waits (the operator refused it, or it was
 * asked at a rate a node would not take) is a new request, and every earlier one stays
 * answerable (withdrawFinish): the operator co-signs at most one — the first it sees closes the
 * coin — and whichever it was, its answer finishes the coin here. A refused request is
 * therefore no dead end, and no request we sent is ever forgotten.
 */
export async function withdrawRequest(record: OwnerRecord, destination: Uint8Array, feeRate: number, ctx: OwnerContext, relay?: RelayFloorSource, limits?: FeeLimits) {
  if (record.withdrawal) throw new StateConflictError('E_ALREADY_WITHDRAWN', `this coin's withdrawal ${record.withdrawal.txid} is signed: run statechain-withdraw --coin ${record.coin_id} (no --to) to print it again, with --broadcast to send it; if it pays too little, bump it through its anchor (package child --parent that statechain/spend)`);
  if (!['active', 'sending', 'sent', 'withdrawing'].includes(record.status)) throw new StateConflictError('E_NOT_OWNER', `this coin is ${record.status}: only its current owner withdraws it`);
  const tx = withdrawalTransaction(record, destination, feeRate);
  const asked = askedWithdrawals(record);
  const again = asked.find((w) => w.tx === toHex(tx.unsignedTx));
  if (again) return { record, message: again.request };
  await checkWithdrawalFloor(record, tx, relay, limits);
  const pubnonce = await issueOwnerNonce(ctx, nonceContext(record.coin_id, 'withdraw', tx.id));
  const body = { type: 'statechain/withdraw-request', version: 1, network: ctx.network, coin_id: record.coin_id, tx: toHex(tx.unsignedTx), owner_pubnonce: pubnonce };
  const message = sign(body.type, body, 'owner_sig', ctx);
  const next: OwnerRecord = {
    ...record, status: 'withdrawing', signing: { purpose: 'withdraw', tx: toHex(tx.unsignedTx), pubnonce }, request: message,
    ...(asked.length === 0 ? {} : { earlier_withdrawals: asked }),
  };
  return { record: next, message };
}

/** The operator's answer to a withdrawal as its owner checks it: signed by the operator, the coin closed, our withdrawal, our nonce. */
export function checkWithdrawCosigned(record: OwnerRecord, cosigned: Msg<typeof WithdrawCosignedSchema>, ownerPubnonce: string) {
  const st = checkStatement(cosigned.statement, parsePublicKey(record.operator_auth, 'operator_auth'), record.coin_id);
  const tx = signingTx(record, 'withdraw');
  if (st.status !== 'withdrawn' || cosigned.txid !== tx.id) throw new RefusedError('E_BAD_STATEMENT', 'the operator\'s answer is not the withdrawal we asked for');
  requireUnchanged(record.statement, st, [...FIXED_FIELDS, 'owner_auth', 'owner_share', 'operator_share', 'owner_auth_b']);
  if (cosigned.owner_pubnonce !== ownerPubnonce) throw new RefusedError('E_NONCE_MISMATCH', 'this answer is for another nonce of ours');
  return { st, tx };
}

/**
 * Withdrawal step 3: the signed withdrawal, kept in the record (status `withdrawn`: the
 * operator has closed the coin) before it is printed or broadcast. The same answer again
 * prints the same bytes and changes nothing.
 */
export async function withdrawFinish(record: OwnerRecord, cosigned: Msg<typeof WithdrawCosignedSchema>, ctx: OwnerContext) {
  if (record.withdrawal) {
    if (cosigned.coin_id !== record.coin_id || cosigned.txid !== record.withdrawal.txid) throw new StateConflictError('E_ALREADY_WITHDRAWN', `this coin's withdrawal ${record.withdrawal.txid} is signed already`);
    return { record, signed: { txid: record.withdrawal.txid, hex: record.withdrawal.hex } };
  }
  if (record.status !== 'withdrawing' || record.signing === null) throw new StateConflictError('E_NOT_SIGNING', `this coin is ${record.status}: no withdrawal of ours is waiting for the operator`);
  // The answer is to whichever of our requests the operator co-signed (the one under way, or an earlier one).
  const asked = askedWithdrawals(record).find((w) => parseTransaction(w.tx, 'the stored transaction').id === cosigned.txid && w.pubnonce === cosigned.owner_pubnonce);
  const view: OwnerRecord = asked ? { ...record, signing: { purpose: 'withdraw', tx: asked.tx, pubnonce: asked.pubnonce } } : record;
  const { st, tx } = checkWithdrawCosigned(view, cosigned, view.signing!.pubnonce);
  const sig = await finishSignature(view, st.operator_share, tx, 'withdraw', { owner: cosigned.owner_pubnonce, operator: cosigned.operator_pubnonce, operatorPsig: cosigned.operator_psig }, ctx);
  const signed = finishSpend(tx, sig);
  const withdrawal = { txid: signed.txid, hex: signed.hex, broadcast: false };
  const { earlier_withdrawals: _asked, ...rest } = record;
  return { record: { ...rest, status: 'withdrawn', statement: cosigned.statement, signing: null, request: null, withdrawal } satisfies OwnerRecord, signed };
}

/** The stored signed withdrawal (E_NOT_SIGNED if there is none yet). */
export function storedWithdrawal(record: OwnerRecord): { txid: string; hex: string } {
  if (!record.withdrawal) throw new StateConflictError('E_NOT_SIGNED', `coin ${record.coin_id} has no signed withdrawal here (it is ${record.status}): start one with --to and --fee-rate`);
  return { txid: record.withdrawal.txid, hex: record.withdrawal.hex };
}

/**
 * The CPFP child of a backup (or of the withdrawal): where it pays, the package's rate, the fee guard — on each
 * transaction (`statechain backup`: submitpackage's maxfeerate is --max-fee-rate), or with
 * `packageGuard` on the package as a whole (a watcher's deadline bid, as the credit exit's: the
 * child carries the backup, so alone it pays more) — and `conflicts`, the mempool transactions
 * spending the coin that the package replaces (a previous owner's backup: Core's package RBF) —
 * and `replaces`, a child of this backup already in the mempool (our last one, or a stranger's on
 * the anchor), whose fee sets the least this child pays (Core's rules 3 and 4; ../truc/child.ts).
 */
export type BackupChild = { destination: Uint8Array; feeRate: number; feeLimits: FeeLimits; packageGuard?: boolean; conflicts?: Conflict[]; replaces?: { txid: string; fee: bigint; chunk?: { fee: bigint; weight: number; withParent: boolean } } };

/**
 * This owner's backup (the newest in its chain, paying its share) and a CPFP child spending
 * its output — and, for an anchored backup (terms with `anchor`), its 0-sat anchor too, as
 * Core's ephemeral-dust rule demands. Built by the one CPFP builder (../truc/child.ts, as
 * the credit exit's): the child at its largest signed size, the fee guard, and the package
 * (backup + child) through every rule of ../truc/check.ts, again once signed (a refusal:
 * exit 4 with Core's string).
 */
export function backupWithChild(record: OwnerRecord, child: BackupChild | undefined, auxRand: Uint8Array): { backup: Transaction; hex: string } & Partial<OwnChild> {
  if (record.backups.length === 0) throw new StateConflictError('E_NO_BACKUP', 'this coin has no signed backup yet');
  // Ours is the newest backup recorded for our share (a transfer we sent may have added one after it).
  const own = ownerScript(parsePublicKey(record.share, 'share'));
  const records = record.statement.backups;
  const index = records.map((r) => r.owner_share).lastIndexOf(record.share);
  if (index < 0 || record.backups[index] === undefined) {
    throw new StateConflictError(
      'E_NOT_OWNER',
      `no backup of this coin is ours: the operator's statement names ${records.length} backup(s), ${index < 0 ? 'none for our share' : `ours at ${index + 1}, past the ${record.backups.length} this record holds`} — ` +
        'finish the receive under way (statechain-transfer with the operator\'s answer) or restore this state directory from a copy',
    );
  }
  const hex = record.backups[index]!;
  const backup = parseTransaction(hex, 'the stored backup');
  if (child === undefined) return { backup, hex };
  if (!equalBytes(backup.getOutput(0).script!, own)) throw new RefusedError('E_NO_CHILD', 'this backup pays the script you chose (e.g. a channel\'s funding output), not your share: bump it from there, or (an anchored backup) with package child from your wallet');
  return { backup, hex, ...ownChild(record, hex, backup, fromHex(record.share_secret, 'share', 32), child, auxRand) };
}

/**
 * The signed withdrawal (status `withdrawn`) and a CPFP child spending its payout and its 240-sat
 * anchor, signed by `owner` — the watcher's key, or this owner's share: whichever key the payout
 * is the BIP-86 P2TR of (a pair's part: only the watcher's key, never the pair's share, which no part holds).
 * A payout to anyone else (the payee's address) is E_NO_CHILD: a child
 * needs that output's key, or a wallet's coin beside the anchor (`package child --wallet-psbt`),
 * and a withdrawal paying more needs the operator's co-signature, which it gave once (the coin is
 * closed). Built and checked as the backup's child is (../truc/child.ts, ../truc/check.ts).
 */
export function withdrawalWithChild(record: OwnerRecord, owner: KeyPair, child: BackupChild, auxRand: Uint8Array) {
  const { hex } = storedWithdrawal(record);
  const withdrawal = parseTransaction(hex, 'the stored withdrawal');
  const payout = withdrawal.getOutput(0).script!;
  const share = parsePublicKey(record.share, 'share');
  // A part of a pair (joint.ts JointRecord) holds its own part's secret, not the share's: it never signs for O = A + B.
  const part = (record as { joint?: unknown }).joint !== undefined;
  const secret = equalBytes(payout, ownerScript(owner.publicKey)) ? owner.secretKey.slice() : !part && equalBytes(payout, ownerScript(share)) ? fromHex(record.share_secret, 'share', 32) : undefined;
  if (secret === undefined) {
    throw new RefusedError(
      'E_NO_CHILD',
      `the withdrawal pays ${scriptAddress(payout, record.network) ?? toHex(payout)}, not this owner's key nor its share: a child needs that output's key, or a wallet's coin beside its ${WITHDRAWAL_ANCHOR_SAT}-sat anchor (package child --parent <the statechain/spend> --wallet-psbt …), ` +
        'and a withdrawal paying more needs the operator\'s co-signature, which it gave once (the coin is closed): its payee bumps it',
    );
  }
  return { withdrawal, hex, ...ownChild(record, hex, withdrawal, secret, child, auxRand) };
}

type OwnChild = ReturnType<typeof ownChild>;

/**
 * A CPFP child of `parent` (a backup or the withdrawal, spending the coin) taking its output 0 —
 * paying `secret`'s BIP-86 key — and, when it has one, its pay-to-anchor (output 1), as Core's
 * ephemeral-dust rule demands of a 0-sat one. Built by the one CPFP builder (../truc/child.ts, as
 * the credit exit's): the child at its largest signed size, the fee guard, and the package through
 * every rule of ../truc/check.ts, again once signed (a refusal: exit 4 with Core's string).
 * `secret` is wiped.
 */
function ownChild(record: OwnerRecord, hex: string, parent: Transaction, secret: Uint8Array, child: BackupChild, auxRand: Uint8Array) {
  const anchored = parent.outputsLength === 2 && equalBytes(parent.getOutput(1).script!, P2A_SCRIPT);
  const coin = parent.getInput(0);
  // P = O + S is the same for every owner: the statement's current shares give the coin's script.
  const st = record.statement;
  const coinScript = coinKey(parsePublicKey(st.owner_share, 'owner_share'), parsePublicKey(st.operator_share, 'operator_share')).script;
  const prevouts = [{ txid: toHex(coin.txid!), vout: coin.index!, amount: BigInt(st.amount_sat!), script: coinScript }];
  // The one child builder (../truc/child.ts): our output (and the anchor), sized at its
  // largest, the fee, the fee guard and the package through check.ts; our key signs.
  const policy = child.packageGuard ? CORE_POLICY : { ...CORE_POLICY, maxFeeRate: Math.round(child.feeLimits.maxFeeRate * 1000) };
  const built = buildChild({
    parent: fromHex(hex, 'parent'), parentPrevouts: prevouts, own: { to: child.destination, shortCode: 'E_FEE_TOO_HIGH' },
    spend: anchored ? [0, 1] : [0], feeRate: child.feeRate, feeLimits: child.feeLimits, policy,
    ...(child.packageGuard ? { packageGuard: true } : {}), ...(child.conflicts?.length ? { conflicts: child.conflicts } : {}), ...(child.replaces ? { replaces: child.replaces } : {}),
  });
  const tx = built.psbt;
  const tweaked = tweakSecretKey(secret);
  secret.fill(0);
  const sig = schnorrSign(keyPathSighash(tx, 0), tweaked, auxRand);
  tweaked.fill(0);
  tx.updateInput(0, { finalScriptWitness: [sig] }, true);
  const childRaw = finalizedRaw(tx, 'the child');
  const verdict = checkTrucPackage(fromHex(hex, 'parent'), childRaw, prevouts, policy);
  return { child: tx, childHex: toHex(childRaw), childFeeSat: built.childFee, childVsize: built.vsize, verdict, policy };
}
