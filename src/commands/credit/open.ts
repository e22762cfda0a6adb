import { Flags } from '@oclif/core';
import { join } from 'node:path';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand, ecashSeedFlags, ecashSettingsFlags, fundingConfirmationsFlag, noMint, parseRate, roleFlag } from '../../lib/cli/credit-command.ts';
import { chainFlags, feeGuardFlags, inputFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { UsageError } from '../../lib/errors.ts';

export default class OpenCredit extends CreditCommand<typeof OpenCredit> {
  /** Also `open-credit`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['open-credit'];
  static override summary = 'Open a credit contract between a user and an ecash mint: refund first, then funding.';
  static override description = `Each step reads one message and prints the next:

  mint  --publish                       → credit/offer        (the mint's standing terms; stored)
  user  < credit/offer                  → credit/address      (fund it from native segwit inputs; do not sign yet)
  user  --offer FILE < funding PSBT     → credit/open-request (terms + refund with the user's nonce)
  mint  < credit/open-request           → credit/open-accept  (the mint checks and co-signs the refund)
  user  < credit/open-accept            → credit/opened       (refund fully signed and verified: now fund)

The contract key is the BIP-327 KeyAgg of the sorted user and mint keys, key-path-only taproot. The refund pays the
user from block expiry + 1 (nLockTime = expiry, nSequence 0xfffffffd). The user pays all fees of the contract's own
transactions; the mint is always paid exactly its cumulative amount.`;
  static override examples = [
    {
      description: 'The whole opening, offline on regtest (see the README runbook)',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); ' +
        '<%= config.bin %> open-credit --role mint --publish --key-env MINT_KEY --state-dir $D/mint --payout-address bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte > $D/offer.json; ' +
        '<%= config.bin %> open-credit --role user --offer $D/offer.json --key-env USER_KEY --state-dir $D/user --tip-height 1000 --expiry +4320 ' +
        '--refund-address bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j --in fixtures/credit/funding.psbt ' +
        '| <%= config.bin %> open-credit --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1000 ' +
        '| <%= config.bin %> open-credit --role user --key-env USER_KEY --state-dir $D/user',
    },
  ];
  static override flags = {
    ...roleFlag,
    ...inputFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    publish: Flags.boolean({ description: 'mint: store and print the offer (its standing terms); without --payout-address, print the stored one' }),
    offer: Flags.string({ description: 'user: the mint\'s credit/offer file (with the funding PSBT on input)', helpValue: 'FILE' }),
    'payout-address': Flags.string({ description: 'mint --publish: where the mint is paid', helpValue: 'ADDRESS' }),
    'min-fee-rate': Flags.string({ description: 'mint --publish: lowest fee rate of update states, sat/vB', default: '1' }),
    'safety-margin': Flags.integer({ description: 'mint --publish: stop accepting payments this many blocks before expiry', default: 144, min: 1 }),
    'min-confirmations': Flags.integer({
      description: 'mint --publish: funding confirmations required before payments (at least 1: an unconfirmed funding can be double-spent, and a TRUC state cannot spend an unconfirmed non-TRUC parent)',
      default: 1,
      min: 1,
    }),
    'min-expiry': Flags.integer({ description: 'mint --publish: shortest contract, blocks', default: 432, min: 1 }),
    'max-expiry': Flags.integer({ description: 'mint --publish: longest contract, blocks', default: 12_960, min: 1 }),
    'mint-url': Flags.string({ description: 'mint --publish: the Cashu mint whose ecash pays each credit (with --ecash-seed-env/--ecash-seed-file); the offer names it, unit sat and the keyset', helpValue: 'URL', helpGroup: 'ECASH' }),
    ...ecashSeedFlags,
    ...ecashSettingsFlags,
    expiry: Flags.string({ description: 'user: expiry as a block height or +BLOCKS from the tip (default: the offer\'s)', helpValue: 'HEIGHT|+N' }),
    'refund-address': Flags.string({ description: 'user: where the refund pays', helpValue: 'ADDRESS' }),
    'change-address': Flags.string({ description: 'user: change in updates and close (default: the refund address)', helpValue: 'ADDRESS' }),
    'fee-rate': Flags.string({ description: 'user: fee rate of the refund and update states, sat/vB (default: the mint\'s floor)', helpValue: 'SAT/VB' }),
    ...feeGuardFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    if (f.role === 'mint' && f.publish) return this.mintOffer();
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
      if (!f.offer) throw new UsageError('E_USAGE', 'with a funding PSBT on input, pass the mint\'s offer with --offer FILE');
      const offerDoc = await this.readFileDocument(f.offer, '--offer');
      const network = this.network(readEnvelope(offerDoc).network);
      const offer = decodeMessage(schemas.CreditOfferSchema, offerDoc);
      if (!f['refund-address']) throw new UsageError('E_USAGE', '--refund-address is required to open');
      const { ctx, book } = await this.userSession(network, { create: true });
      const { offerWindow } = await import('../../lib/credit/user.ts');
      const expiryHeight = await this.expiryHeight(f.expiry ?? `+${offer.default_expiry_blocks}`, ctx.chain, offerWindow(offer));
      const feeRate = f['fee-rate'] !== undefined ? await this.guardedRate(f['fee-rate']) : offer.min_fee_rate;
      return {
        message: await book.exclusive(() =>
          user.openRequest(ctx, { offer, fundingPsbt: doc.psbt, expiryHeight, refundAddress: f['refund-address']!, changeAddress: f['change-address'] ?? f['refund-address']!, feeRate }),
        ),
      };
    }
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

  private async mintOffer(): Promise<CommandResult> {
    const f = this.flags;
    const network = this.network();
    const mint = await this.keyPair(network);
    const { MintStore } = await import('../../lib/store/mint-store.ts');
    const { withLock } = await import('../../lib/store/lock.ts');
    const { storeTarget } = await import('../../lib/cli/store-flags.ts');
    const { makeOffer } = await import('../../lib/credit/mint.ts');
    const dir = join(this.stateDir(network), 'credit-mint');
    // The offer lives with the mint's state: in its PostgreSQL database when --store names one.
    const shared = await storeTarget(f);
    const onStore = async <T>(use: (store: { readDoc<D>(name: string): Promise<D | undefined>; writeDoc(name: string, value: unknown): Promise<void> }) => Promise<T>): Promise<T> => {
      if (!shared) return withLock(dir, async () => use(await MintStore.open(dir)));
      const store = await this.openMintStore(network, { create: true });
      try {
        return await use(store);
      } finally {
        await store.close();
      }
    };
    if (!f['payout-address']) {
      if (!shared) this.existingState(network, 'credit-mint', noMint); // reading the offer creates nothing
      const stored = await onStore((s) => s.readDoc<Record<string, unknown>>('offer'));
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
