import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { MintStream } from '../../topics/credit/stream.ts';
import { contractFlag, ecashSeedFlags, fundingConfirmationsFlag, roleFlag, tokenOutFlag, walletSeedFlags } from '../../topics/credit/flags.ts';
import { chainFlags, inputFlags, keyFlags, peerFlags, stateFlags } from '../../lib/cli/flags.ts';
import { EXAMPLE_DEMO, EXAMPLE_STOP, MintPeer, exampleService, payThrough } from '../../topics/credit/peer.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { UsageError } from '../../lib/errors.ts';

export default class SignUpdate extends MintStream<typeof SignUpdate> {
  static override summary = 'One payment in a credit contract: the user signs the next state, the mint co-signs and stores it.';
  static override description = `  user  --amount N                → credit/update-request (next state, signed with BIP-327 DeterministicSign)
  mint  < credit/update-request   → credit/receipt        (checked, co-signed, stored fully signed; no signature returned)
  user  < credit/receipt          → credit/balance        (the user's own record, and the mint's next nonce)

The mint refuses (exit 4) anything it could not get mined or that pays it wrongly: a cumulative amount that does not
increase, extra inputs or outputs, nLockTime ≠ 0, a relative lock, dust, a fee rate under its floor, unconfirmed
funding, or a contract within the safety margin of expiry; a state it already has answers with the stored receipt.
With --stream the mint reads requests as JSON Lines and writes one receipt (or credit/error) line each.

A payment whose receipt never came stays pending: --resend prints its request again exactly as recorded (with --peer
URL: sends it and applies the receipt), whatever its amount; a payment of another amount is E_PENDING (exit 5) until
then. --peer retries an unanswered request for --peer-timeout seconds (default 60), then E_PEER_UNREACHABLE (exit 1).`;
  static override examples = [
    {
      description: 'A 1000-sat payment through a freshly opened demo contract',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> sign-update --role user --amount 1000 --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> sign-update --role mint --key-env MINT_KEY --state-dir $D/mint --tip-height 1001 --confirmations 1 ' +
        '| <%= config.bin %> sign-update --role user --key-env USER_KEY --state-dir $D/user',
    },
    {
      description: 'The same payment to a running mint service (offchain serve mint): the request sent, its receipt applied, in one invocation',
      command: EXAMPLE_DEMO + exampleService(1001) + '<%= config.bin %> sign-update --role user --amount 1000 --key-env USER_KEY --state-dir $D/user --peer $URL' + EXAMPLE_STOP,
    },
  ];
  static override flags = {
    ...roleFlag,
    ...inputFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    amount: Flags.integer({ description: 'user: satoshis this payment adds to the mint\'s cumulative amount', min: 1, exclusive: ['resend'] }),
    resend: Flags.boolean({ description: 'user: the payment still waiting for the mint\'s answer, its request exactly as recorded (nothing newly signed); with --peer, sent and its receipt applied', exclusive: ['amount'] }),
    stream: Flags.boolean({ description: 'mint: read requests as JSON Lines (update-requests; also open-requests, abandons, close-requests and rollover steps), write one answer line each' }),
    // Retired: every PostgreSQL mint process seals its nonces under its own key (refused with `host`, saying so).
    'nonce-epoch': Flags.string({ hidden: true, description: 'retired: every PostgreSQL mint process seals its nonces under its own key', options: ['process', 'host'] }),
    ...tokenOutFlag,
    ...ecashSeedFlags,
    ...walletSeedFlags,
    ...chainFlags,
    ...fundingConfirmationsFlag,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const { decodeMessage } = await import('../../lib/message.ts');
    const schemas = await import('../../lib/credit/schemas.ts');
    if (f.role === 'user' && (f.amount !== undefined || f.resend)) {
      const network = this.network();
      const peer = await MintPeer.from(f, network, this.term);
      const { ctx, book } = await this.userSession(network);
      const id = await this.pickContract(book, ['open']);
      if (!peer) {
        const { updateRequest, resendRequest } = await import('../../lib/credit/user-update.ts');
        return { message: await book.exclusive(() => (f.resend ? resendRequest(ctx, id) : updateRequest(ctx, id, BigInt(f.amount!)))) };
      }
      const sink = this.tokenSink();
      return sink.result(await payThrough(peer, ctx, book, id, f.resend ? 'resend' : BigInt(f.amount!), sink.sink, this.term));
    }
    if (f.resend) throw new UsageError('E_USAGE', '--resend is the user\'s (--role user): it resends the payment waiting for the mint\'s answer');
    if (f.peer !== undefined) throw MintPeer.refuse('sign-update --role user --amount N, or --resend');
    await this.checkNonceEpoch();
    if (f.role === 'mint' && f.stream) return this.stream();
    const { network, value } = await this.readMessage(f.role === 'user' ? 'the mint\'s credit/receipt (or --amount N to pay)' : 'a credit/update-request');
    if (f.role === 'mint') {
      const req = decodeMessage(schemas.UpdateRequestSchema, value);
      const { acceptUpdate } = await import('../../lib/credit/mint.ts');
      return { message: await this.withMint(network, (ctx) => acceptUpdate(ctx, req)) };
    }
    const receipt = decodeMessage(schemas.ReceiptSchema, value);
    const { ctx, book } = await this.userSession(network);
    const { applyReceipt } = await import('../../lib/credit/user-update.ts');
    const sink = this.tokenSink();
    return sink.result(await book.exclusive(() => applyReceipt(ctx, receipt, sink.sink)));
  }
}
