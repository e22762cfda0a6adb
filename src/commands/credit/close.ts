import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand } from '../../topics/credit/command.ts';
import { contractFlag, roleFlag } from '../../topics/credit/flags.ts';
import { chainFlags, feeGuardFlags, inputFlags, keyFlags, peerFlags, stateFlags } from '../../lib/cli/flags.ts';
import type { UserContext } from '../../lib/credit/ports.ts';
import { EXAMPLE_DEMO, EXAMPLE_STOP, MintPeer, absorbingElsewhere, exampleService } from '../../topics/credit/peer.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { RefusedError } from '../../lib/errors.ts';

export default class CloseCredit extends CreditCommand<typeof CloseCredit> {
  static override summary = 'Close a credit contract cooperatively: the mint gets its cumulative amount, the user the rest.';
  static override description = `  user  --start [--fee-rate R]    → credit/close-request (signed by the user)
  mint  < credit/close-request    → credit/closed        (checked, co-signed; the contract is frozen)
  user  < credit/closed           → credit/closed        (verified; broadcast its hex)

The mint keeps its latest state and still exits with it if the close does not confirm before expiry.`;
  static override examples = [
    {
      description: 'Close a freshly opened demo contract',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> close-credit --role user --start --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> close-credit --role mint --key-env MINT_KEY --state-dir $D/mint ' +
        '| <%= config.bin %> close-credit --role user --key-env USER_KEY --state-dir $D/user',
    },
    {
      description: 'The same close through a running mint service (offchain serve mint), in one invocation',
      command: EXAMPLE_DEMO + exampleService(1001) + '<%= config.bin %> close-credit --role user --start --key-env USER_KEY --state-dir $D/user --peer $URL' + EXAMPLE_STOP,
    },
  ];
  static override flags = {
    ...roleFlag,
    ...inputFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    start: Flags.boolean({ description: 'user: begin the close (sign and print the request)' }),
    'fee-rate': Flags.string({ description: 'user: fee rate of the close, sat/vB (default: the contract\'s)', helpValue: 'SAT/VB' }),
    ...feeGuardFlags,
    ...chainFlags,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    if (f.role === 'user' && f.start) return this.request();
    if (f.peer !== undefined) throw MintPeer.refuse('close-credit --role user --start');
    const { network, value } = await this.readMessage('a credit/close-request or credit/closed message (or --start)');
    if (f.role === 'mint') {
      const { decodeMessage } = await import('../../lib/message.ts');
      const schemas = await import('../../lib/credit/schemas.ts');
      const { acceptClose } = await import('../../lib/credit/mint.ts');
      const req = decodeMessage(schemas.CloseRequestSchema, value);
      return { message: await this.withMint(network, (ctx) => acceptClose(ctx, req)) };
    }
    const { ctx, book } = await this.userSession(network);
    return { message: await book.exclusive(() => this.applyClosed(ctx, value)) };
  }

  private async request(): Promise<CommandResult> {
    const network = this.network();
    const peer = await MintPeer.from(this.flags, network, this.term);
    const { ctx, book } = await this.userSession(network);
    const { closeRequest } = await import('../../lib/credit/user-close.ts');
    const id = await this.pickContract(book, ['open']);
    const record = await book.get(id);
    if (!record) throw new RefusedError('E_UNKNOWN_CONTRACT', `no contract ${id} in ${book.dir}`);
    const feeRate = this.flags['fee-rate'] !== undefined ? await this.guardedRate(this.flags['fee-rate']) : record.contract.fee_rate;
    if (!peer) return { message: await book.exclusive(() => closeRequest(ctx, id, feeRate)) };
    // The mint process that issued the contract's nonce gone: abandoned, and the close once more (topics/credit/peer.ts).
    return {
      message: await absorbingElsewhere(peer, ctx, book, id, 'close', this.term, async () => {
        const request = await book.exclusive(() => closeRequest(ctx, id, feeRate));
        const answer = await peer.send(request);
        return book.exclusive(() => this.applyClosed(ctx, answer.value));
      }),
    };
  }

  /** The user's last step: the mint's credit/closed, checked against the close it signed. */
  private async applyClosed(ctx: UserContext, value: unknown): Promise<Record<string, unknown>> {
    const { decodeMessage } = await import('../../lib/message.ts');
    const { ClosedSchema } = await import('../../lib/credit/schemas.ts');
    const { applyClosed } = await import('../../lib/credit/user-close.ts');
    return applyClosed(ctx, decodeMessage(ClosedSchema, value));
  }
}
