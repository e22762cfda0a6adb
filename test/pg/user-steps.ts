/**
 * The user's side of an open and of a payment, in process: what `open-credit --role user
 * --offer FILE --tip-height 1000 --refund-address A < funding.psbt`, `open-credit --role
 * user < open-accept`, `sign-update --role user --amount N` and `sign-update --role user`
 * (reading the mint's receipt) do, through the same library steps (src/lib/credit/
 * user-open.ts, user-update.ts) on the same --state-dir files (<dir>/regtest/credit-user
 * and …/nonces, under the book's lock), so a CLI step of the same user (`credit abandon`)
 * before or after reads what these wrote.
 *
 * For the PostgreSQL fault runs (restart, faults), where the process under test is the
 * mint's stream on the store and the user is the driver: a user spawn per request and per
 * receipt was most of those files' CPU. The users' commands at the process boundary are
 * the e2e suite's (test/e2e/stream-credit.ts drives them through the built CLI).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64, hex } from '@scure/base';
import { OfflineChainSource } from '../../src/lib/chain/offline.ts';
import type { UserContext, UserContractRecord } from '../../src/lib/credit/ports.ts';
import { CreditOfferSchema, OpenAcceptSchema, ReceiptSchema } from '../../src/lib/credit/schemas.ts';
import { offerWindow, resolveExpiry } from '../../src/lib/credit/user.ts';
import { openFinish, openRequest as requestOpen } from '../../src/lib/credit/user-open.ts';
import { applyReceipt as takeReceipt, updateRequest } from '../../src/lib/credit/user-update.ts';
import { stringifyMessage } from '../../src/lib/json.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { decodeMessage } from '../../src/lib/message.ts';
import { systemRandom } from '../../src/lib/random.ts';
import { NonceStore } from '../../src/lib/store/nonce-store.ts';
import { RecordBook } from '../../src/lib/store/record-book.ts';
import type { Msg, User } from '../e2e/stream-credit.ts';

function session(user: Pick<User, 'key' | 'dir'>, tipHeight?: number): { ctx: UserContext; book: RecordBook<UserContractRecord> } {
  const dir = join(user.dir, 'regtest');
  const book = new RecordBook<UserContractRecord>(join(dir, 'credit-user'));
  const ctx: UserContext = {
    network: 'regtest',
    user: keyPair(hex.decode(user.key)),
    records: book,
    nonces: new NonceStore(join(dir, 'nonces')),
    chain: new OfflineChainSource({ tipHeight, flags: { confirmations: '--confirmations N' } }),
    random: systemRandom,
  };
  return { ctx, book };
}

/** As the CLI prints it: one canonical JSON line, parsed back. */
function printed(message: Record<string, unknown>, type: string, what: string): Msg {
  const msg = JSON.parse(stringifyMessage(message)) as Msg;
  if (msg.type !== type) throw new Error(`${what}: expected ${type}, got ${JSON.stringify(msg)}`);
  return msg;
}

/** The user's next payment: its credit/update-request as one JSON line (as test/e2e/stream-credit.ts payRequest). */
export async function payRequest(user: User, amount: number, _env?: Record<string, string>): Promise<{ line: string; msg: Msg }> {
  const { ctx, book } = session(user);
  const msg = printed(await book.exclusive(() => updateRequest(ctx, user.contractId, BigInt(amount))), 'credit/update-request', `user ${user.index} pays ${amount}`);
  return { line: JSON.stringify(msg), msg };
}

/** The user takes the mint's receipt: its credit/balance (throws if the user refuses it). */
export async function applyReceipt(user: User, receipt: string, _env?: Record<string, string>): Promise<Msg> {
  const { ctx, book } = session(user);
  const value = decodeMessage(ReceiptSchema, JSON.parse(receipt));
  return printed(await book.exclusive(() => takeReceipt(ctx, value)), 'credit/balance', `user ${user.index} applies a receipt`);
}

/**
 * The user's open-request for the base64 funding PSBT `psbt`, on the offer in `offerPath`, at
 * tip 1000, with the offer's default expiry and fee rate floor (as `open-credit --role user
 * --offer FILE --tip-height 1000 --refund-address A`): the message, parsed.
 */
export async function openRequest(user: Pick<User, 'key' | 'dir'>, offerPath: string, psbt: string, refundAddress: string): Promise<Msg> {
  const offer = decodeMessage(CreditOfferSchema, JSON.parse(readFileSync(offerPath, 'utf8')));
  const { ctx, book } = session(user, 1000);
  const expiryHeight = resolveExpiry(`+${offer.default_expiry_blocks}`, (await ctx.chain.tip()).height, offerWindow(offer));
  const message = await book.exclusive(() =>
    requestOpen(ctx, { offer, fundingPsbt: base64.decode(psbt), expiryHeight, refundAddress, changeAddress: refundAddress, feeRate: offer.min_fee_rate }),
  );
  return printed(message, 'credit/open-request', 'open request');
}

/** The user takes the mint's open-accept (as `open-credit --role user < accept`): its credit/opened, parsed. */
export async function openFinished(user: Pick<User, 'key' | 'dir'>, accept: string): Promise<Msg> {
  const { ctx, book } = session(user);
  return printed(await book.exclusive(() => openFinish(ctx, decodeMessage(OpenAcceptSchema, JSON.parse(accept)))), 'credit/opened', 'open');
}
