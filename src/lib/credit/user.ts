/**
 * The user's side of the credit contract (BRIEF §3.1): refund before funding, always;
 * sign each next state with BIP-327 DeterministicSign against the mint's announced
 * nonce (no nonce state for payments); keep its own record of what it agreed — the
 * last cumulative amount and the signed refund — so it never takes the mint's word for
 * "previous". It never signs a state paying the mint more than previous + requested.
 *
 * The user's steps, one module each; this one holds what they share (the record, the
 * check before signing, the balance, the expiry window):
 *
 *   step        state in          message in              checks                                       written                          message out
 *   address     —                 credit/offer            —                                            nothing                          credit/address           user-open.ts
 *   open        —                 offer + funding PSBT    one output to the contract, fee ≥ floor,     'opening' + refund nonce         credit/open-request
 *                                                         expiry in the window
 *   open finish opening           credit/open-accept      the mint's signature (answer-signature.ts),  'open' + signed refund           credit/opened
 *                                                         the refund is the terms' own, mint partial
 *                                                         signature valid, first nonce for state 1
 *   update      open              amount                  checkCanSign (below), no unpaid ecash        pending (+ NUT-13 counter)       credit/update-request    user-update.ts
 *   receipt     pending update    credit/receipt          the mint's signature; state, cumulative and  token file, then confirmed       credit/balance
 *                                                         txid as signed, next nonce for n+1, every DLEQ
 *   close       open              fee rate                checkCanSign                                 pending close                    credit/close-request     user-close.ts
 *   closed      pending close     credit/closed           the mint's signature, txid as signed, the    'closed'                         credit/closed
 *                                                         close's signature valid
 *   rollover 1  open              expiry, fee, top-up     checkCanSign, expiry in the window           next contract 'opening', pending credit/rollover-request  user-rollover.ts
 *   rollover 2  pending rollover  credit/rollover-refund  the next refund complete and verified        next refund, then the signature  credit/rollover-sign
 *   rolled over pending rollover  credit/rollover-accept  the mint's signature, first nonce, txid as   'rolled-over', next 'open'       credit/rolled-over
 *                                                         signed, input signed
 *   refund      a signed refund   —                       —                                            nothing                          credit/refund            user-refund.ts
 *
 * Abandoning a request (abandon.ts) and claiming an unpaid payment's ecash
 * (ecash-claim.ts) build on this module; it imports neither.
 */
import type { Static } from '@sinclair/typebox';
import { equalBytes, toHex } from '../bytes.ts';
import { RefusedError, StateConflictError, UsageError } from '../errors.ts';
import { termsFromJson } from './codec.ts';
import type { UserContext, UserContractRecord } from './ports.ts';
import type { CreditOfferSchema } from './schemas.ts';
import type { CreditContract } from './terms.ts';
import { maxCumulative } from './transactions.ts';

type Offer = Static<typeof CreditOfferSchema>;

function refuse(code: string, message: string): never {
  throw new RefusedError(code, message);
}

/** The mint's window for a contract's life, in blocks from the tip (from its offer). */
export type ExpiryWindow = { min_blocks: number; max_blocks: number };

export function offerWindow(offer: Offer): ExpiryWindow {
  return { min_blocks: offer.min_expiry_blocks, max_blocks: offer.max_expiry_blocks };
}

/**
 * --expiry, a block height or +BLOCKS from the tip, checked before anything is written:
 * not at or below the tip, inside the mint's window. A bare number is a height; when it
 * reads like a number of blocks (in the past, or outside the window while +N would fit)
 * the error says which `+N` was probably meant.
 */
export function resolveExpiry(spec: string, tip: number, window?: ExpiryWindow): number {
  const relative = /^\+(\d+)$/.exec(spec);
  if (!relative && !/^\d+$/.test(spec)) throw new UsageError('E_USAGE', `--expiry must be a block height or +BLOCKS, got ${spec}`);
  const height = relative ? tip + Number(relative[1]) : Number(spec);
  const meant = !relative && (!window || (height >= window.min_blocks && height <= window.max_blocks)) ? ` (did you mean +${spec}, ${spec} blocks from now?)` : '';
  checkExpiryHeight(height, tip, window, meant);
  return height;
}

/** An expiry height against the tip and the mint's window (coded, exit 2). */
export function checkExpiryHeight(height: number, tip: number, window?: ExpiryWindow, hint = ''): void {
  if (!Number.isSafeInteger(height) || height >= 500_000_000) throw new UsageError('E_USAGE', `expiry ${height} is not a block height`);
  const blocks = height - tip;
  if (blocks <= 0) throw new UsageError('E_EXPIRY_IN_PAST', `expiry height ${height} is not after the tip ${tip}${hint}`);
  if (!window) return;
  const range = `this mint takes contracts of ${window.min_blocks}–${window.max_blocks} blocks, i.e. --expiry +${window.min_blocks} … +${window.max_blocks}`;
  if (blocks < window.min_blocks) throw new UsageError('E_EXPIRY_TOO_SOON', `expiry height ${height} is ${blocks} blocks from the tip ${tip}; ${range}${hint}`);
  if (blocks > window.max_blocks) throw new UsageError('E_EXPIRY_TOO_FAR', `expiry height ${height} is ${blocks} blocks from the tip ${tip}; ${range}${hint}`);
}

export async function load(ctx: Pick<UserContext, 'network' | 'records'> & { user?: UserContext['user'] }, id: string): Promise<{ record: UserContractRecord; c: CreditContract }> {
  const record = await ctx.records.get(id);
  if (!record) refuse('E_UNKNOWN_CONTRACT', `no contract ${id} in this state directory: the message is for another contract`);
  if (record.network !== ctx.network) refuse('E_NETWORK_MISMATCH', `contract ${id} is on ${record.network}`);
  const c = termsFromJson(record.contract, record.network);
  // Another key than the user's (the mint's, run on the user's directory): said so, before any signing step fails on it.
  if (ctx.user && !equalBytes(ctx.user.publicKey, c.userPubkey)) {
    refuse('E_KEY_MISMATCH', `this key (${toHex(ctx.user.publicKey)}) is not the user of contract ${id}: the user's key is ${toHex(c.userPubkey)}`);
  }
  return { record, c };
}

export type Pending = NonNullable<UserContractRecord['pending']>;

/** How to get a contract out of E_PENDING, for the error line. */
export function abandonHint(id: string): string {
  return `if the mint refused it or its answer is lost, abandon it: offchain credit abandon --role user --start --contract ${id} | (mint) offchain credit abandon --role mint | offchain credit abandon --role user`;
}

/** How to send a pending request again, exactly as recorded, for the error line (with --peer URL the answer is applied too). */
export function resendHint(p: Pick<Pending, 'kind'>, id: string): string {
  const again = {
    update: `offchain sign-update --role user --resend --contract ${id}`,
    close: `offchain close-credit --role user --start --contract ${id} at the same fee rate`,
    rollover: `offchain rollover --role user --contract ${id} with the same --expiry`,
  }[p.kind];
  return `resend it as recorded: ${again} (with --peer URL for a mint service)`;
}

/**
 * Whether a new request may be signed now. A pending request of the same kind and the
 * same parameters (`again`) is returned to be resent unchanged; anything else is refused
 * (E_PENDING) naming the way out, so a corrected request never silently resends the old.
 */
export function checkCanSign(record: UserContractRecord, kind: 'update' | 'close' | 'rollover', again: (p: Pending) => boolean, what: (p: Pending) => string = () => ''): Record<string, unknown> | undefined {
  if (record.status !== 'open') refuse('E_CONTRACT_FROZEN', `contract ${record.contract_id} is ${record.status}`);
  const d = record.device;
  if (d && kind === 'update') refuse('E_DEVICE_CHANNEL', `contract ${record.contract_id} is a device channel: pay with "device pay" (the states would diverge)`);
  if (d && (d.in_flight || d.pending)) refuse('E_HTLC_IN_FLIGHT', `payment ${(d.in_flight ?? d.pending)!.payment_hash} is in flight on this device channel: settle or fail it first`);
  const p = record.pending;
  if (p) {
    if (p.abandon) {
      throw new StateConflictError('E_PENDING', `state ${p.state} (${p.kind}) is being abandoned: feed the mint's answer to the credit/abandon to "offchain credit abandon --role user" first`);
    }
    if (p.kind === kind && again(p)) return p.request;
    throw new StateConflictError(
      'E_PENDING',
      `state ${p.state} (${p.kind}) is still waiting for the mint's answer${what(p)}: ${resendHint(p, record.contract_id)}, or feed its answer; ${abandonHint(record.contract_id)}`,
    );
  }
  if (!record.mint_nonce || record.mint_nonce.state !== record.confirmed.state + 1) {
    throw new StateConflictError('E_NO_MINT_NONCE', `no mint nonce for state ${record.confirmed.state + 1}: feed the mint's last receipt first`);
  }
  return undefined;
}

/** The wallet seed (NUT-13) a contract with ecash needs, or E_NO_WALLET_SEED. */
export function walletSeed(ctx: Pick<UserContext, 'walletSeed'>): Uint8Array {
  if (!ctx.walletSeed) throw new UsageError('E_NO_WALLET_SEED', 'this contract takes its credit as ecash: pass the wallet seed (NUT-13) with --wallet-seed-env NAME or --wallet-seed-file FILE');
  return ctx.walletSeed;
}

/** A new contract's NUT-13 counter for a keyset: past every counter this state directory used for it. */
export async function nextCounter(ctx: Pick<UserContext, 'records'>, keysetId: string): Promise<number> {
  let next = 0;
  for (const r of await ctx.records.list()) if (r.ecash?.keyset_id === keysetId && r.ecash.counter > next) next = r.ecash.counter;
  return next;
}

/** Where the user keeps a payment's token: written (0600) before the record moves on. */
export type TokenSink = { path: string; write(token: string): Promise<void> };

export function balanceMessage(ctx: UserContext, c: CreditContract, record: UserContractRecord, payment?: { amount: number; proofs: number; token_out: string }): Record<string, unknown> {
  const left = maxCumulative(c) - BigInt(record.confirmed.cumulative_sat);
  return {
    type: 'credit/balance', version: 1, network: ctx.network, contract_id: c.id, state: record.confirmed.state,
    cumulative_sat: record.confirmed.cumulative_sat, spendable_sat: Number(left > 0n ? left : 0n), expiry_height: c.expiryHeight,
    ...(record.ecash ? {
      ecash: {
        issued_sat: record.ecash.issued_sat,
        ...(record.ecash.unpaid ? { unpaid_sat: record.ecash.unpaid.amount_sat, unpaid_state: record.ecash.unpaid.state } : {}),
        ...(payment ? { this_payment_sat: payment.amount, proofs: payment.proofs, token_out: payment.token_out } : {}),
        counter: record.ecash.counter,
      },
    } : {}),
  };
}
