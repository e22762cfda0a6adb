/**
 * The opening's steps, run by `credit open` (docs/credit.md): each reads one message and
 * prints the next; the protocol is src/lib/credit/mint.ts and user-open.ts, this is who reads
 * what, opens which state and writes it.
 *
 *   role  message in                  checks                          written                        message out
 *   mint  (--publish)                 ecash keyset vs the live mint   offer (+ keysets) in its store credit/offer
 *   user  credit/offer                —                               nothing                        credit/address
 *   user  funding PSBT + --offer      expiry in the offer's window,   contract record, user nonce    credit/open-request
 *                                     --fee-rate under the fee guard
 *   mint  credit/open-request         acceptOpen (terms, refund)      contract record, mint nonce    credit/open-accept
 *   user  credit/open-accept          openFinish (refund verified)    contract record                credit/opened
 *
 * Every user step but the first request runs on an existing user state directory; every mint
 * step but --publish on an existing mint. With --peer URL the user's request step (its offer
 * from --offer, else GET /v1/credit/offer) sends the open-request to the mint service and runs
 * the finish on its answer, in one invocation (./peer.ts).
 */
import type { Command } from '@oclif/core';
import { UsageError } from '../../lib/errors.ts';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { parseRate } from '../../lib/cli/flags.ts';
import { CreditCommand } from './command.ts';
import { MintPeer } from './peer.ts';

type OpenFlags = {
  role: string; publish?: boolean; offer?: string; 'payout-address'?: string; 'min-fee-rate': string; 'safety-margin': number; 'min-confirmations': number;
  'min-expiry': number; 'max-expiry': number; 'mint-url'?: string; expiry?: string; 'refund-address'?: string; 'change-address'?: string; 'fee-rate'?: string; peer?: string;
};

export abstract class OpenSteps<T extends typeof Command> extends CreditCommand<T> {
  /** One step of the table above, picked by --role and the input read. */
  protected async openStep(): Promise<CommandResult> {
    const f = this.flags as unknown as OpenFlags;
    if (f.peer !== undefined && f.role !== 'user') throw MintPeer.refuse('open-credit --role user with the funding PSBT on input');
    if (f.role === 'mint' && f.publish) return this.publishOffer();
    const doc = await this.readDocument();
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const { decodeMessage } = await import('../../lib/message.ts');
    const schemas = await import('../../lib/credit/schemas.ts');
    if (f.role === 'mint') {
      if (doc.format !== 'json') throw new UsageError('E_USAGE', 'the mint step reads a credit/open-request message');
      const network = this.network(readEnvelope(doc.value).network);
      const req = decodeMessage(schemas.OpenRequestSchema, doc.value);
      const { acceptOpen } = await import('../../lib/credit/mint.ts');
      return { message: await this.withMint(network, (ctx) => acceptOpen(ctx, req)) };
    }
    const user = await import('../../lib/credit/user-open.ts');
    if (doc.format === 'psbt') {
      if (!f.offer && f.peer === undefined) throw new UsageError('E_USAGE', 'with a funding PSBT on input, pass the mint\'s offer with --offer FILE (or --peer URL: the mint service\'s)');
      const service = await MintPeer.from(f, this.network(), this.term);
      // With --peer and no --offer: the offer the mint service publishes (GET /v1/credit/offer), read as a piped one.
      const offerDoc = f.offer ? await this.readFileDocument(f.offer, '--offer') : (await service!.offer()).value;
      const network = this.network(readEnvelope(offerDoc).network);
      const peer = service?.on(network);
      const offer = decodeMessage(schemas.CreditOfferSchema, offerDoc);
      if (!f['refund-address']) throw new UsageError('E_USAGE', '--refund-address is required to open');
      const { ctx, book } = await this.userSession(network, { create: true });
      const { offerWindow } = await import('../../lib/credit/user.ts');
      const expiryHeight = await this.expiryHeight(f.expiry ?? `+${offer.default_expiry_blocks}`, ctx.chain, offerWindow(offer));
      const feeRate = f['fee-rate'] !== undefined ? await this.guardedRate(f['fee-rate']) : offer.min_fee_rate;
      const request = await book.exclusive(() =>
        user.openRequest(ctx, { offer, fundingPsbt: doc.psbt, expiryHeight, refundAddress: f['refund-address']!, changeAddress: f['change-address'] ?? f['refund-address']!, feeRate }),
      );
      if (!peer) return { message: request };
      const accept = await peer.send(request);
      return { message: await book.exclusive(() => user.openFinish(ctx, decodeMessage(schemas.OpenAcceptSchema, accept.value))) };
    }
    if (f.peer !== undefined) throw MintPeer.refuse('open-credit --role user with the funding PSBT on input');
    if (doc.format !== 'json') throw new UsageError('E_USAGE', 'expected a credit/offer or credit/open-accept message, or a funding PSBT');
    const env = readEnvelope(doc.value);
    const network = this.network(env.network);
    if (env.type === 'credit/offer') {
      const offer = decodeMessage(schemas.CreditOfferSchema, doc.value);
      return { message: user.addressMessage({ network, user: await this.keyPair(network) }, offer) };
    }
    const accept = decodeMessage(schemas.OpenAcceptSchema, doc.value);
    const { ctx, book } = await this.userSession(network);
    return { message: await book.exclusive(() => user.openFinish(ctx, accept)) };
  }

  /** mint --publish: the stored offer, or a new one stored (with its ecash keysets, checked against the running mint when given). */
  private async publishOffer(): Promise<CommandResult> {
    const f = this.flags as unknown as OpenFlags;
    const network = this.network();
    const mint = await this.keyPair(network);
    const { makeOffer } = await import('../../lib/credit/mint.ts');
    // The offer lives with the mint's state: in its PostgreSQL database when --store names one.
    const onStore = async <T>(use: (store: { readDoc<D>(name: string): Promise<D | undefined>; writeDoc(name: string, value: unknown): Promise<void> }) => Promise<T>, create = true): Promise<T> => {
      // Closed after use, as every other mint step closes its store: left open, a run in a process
      // that goes on (the service, a test's in-process run) kept its connection until a GC.
      const store = await this.openMintStore(network, { create });
      try {
        return await use(store);
      } finally {
        await store.close();
      }
    };
    if (!f['payout-address']) {
      // Reading the offer creates nothing (E_NO_MINT_POLICY where there is no state).
      const stored = await onStore((s) => s.readDoc<Record<string, unknown>>('offer'), false);
      if (stored) return { message: stored };
      throw new UsageError('E_USAGE', 'the first --publish needs --payout-address');
    }
    const ecash = await this.ecashKeyset(f['mint-url'] !== undefined);
    if (ecash && f['mint-url'] === undefined) throw new UsageError('E_USAGE', 'an ecash seed names the keyset; --mint-url names the Cashu mint that redeems it: give both');
    const { ECASH_KEYSETS_DOC } = await import('../../lib/credit/ecash-keysets.ts');
    const { publishedKeysets } = await import('../../lib/credit/ecash-reproduce.ts');
    // Checked against the running mint when its answers are given: a keyset it would not redeem is refused here, before any token.
    const issuing = ecash ? await onStore(async (s) => publishedKeysets(ecash.seed, ecash.keyset, await s.readDoc(ECASH_KEYSETS_DOC), ecash.live)) : undefined;
    const offer = makeOffer(network, mint.publicKey, {
      payoutAddress: f['payout-address'], minFeeRate: parseRate(f['min-fee-rate']), safetyMargin: f['safety-margin'],
      minConfirmations: f['min-confirmations'], minExpiry: f['min-expiry'], maxExpiry: f['max-expiry'],
      ...(issuing ? { ecash: { keyset: issuing.keyset, mintUrl: f['mint-url']! } } : {}),
    });
    await onStore(async (s) => {
      if (issuing) await s.writeDoc(ECASH_KEYSETS_DOC, issuing.doc);
      await s.writeDoc('offer', offer);
    });
    return { message: offer };
  }
}
