import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CreditCommand } from '../../topics/credit/command.ts';
import { contractFlag, roleFlag, tokenOutFlag, walletSeedFlags } from '../../topics/credit/flags.ts';
import { chainFlags, inputFlags, keyFlags, peerFlags, stateFlags } from '../../lib/cli/flags.ts';
import { storeFlags } from '../../lib/cli/store-flags.ts';
import { UsageError } from '../../lib/errors.ts';
import { EXAMPLE_DEMO, EXAMPLE_STOP, MintPeer, exampleService } from '../../topics/credit/peer.ts';

export default class CreditAbandon extends CreditCommand<typeof CreditAbandon> {
  static override summary = 'Abandon a request the mint refused or never answered, safely: the mint says what it signed, or burns that nonce and gives a fresh one.';
  static override description = `  user  --start [--contract ID]        → credit/abandon   (signed by the user; the pending request is never resent)
  mint  < credit/abandon                → credit/abandoned (nothing was signed at that state: the old nonce is burned, a fresh one issued)
                                          or the answer it gave then (credit/receipt, credit/closed, credit/rollover-accept)
  user  < the mint's answer             → credit/balance   (the contract can sign again: pay, close or roll over)

For a contract stuck in E_PENDING after a refusal (E_TOO_CLOSE_TO_EXPIRY, E_BAD_EXPIRY, …) or a lost answer. Until the
mint answers, the user signs nothing for the contract, so no two states are ever signed against one mint nonce (see
docs/credit.md, "Recovering from a refusal"). An open the mint refused is abandoned by the user alone (credit/open-abandoned):
its record and refund nonce go; it is refused if the funding is already on chain. On a device channel it abandons the
payment in flight whose device/pay the gateway refused; one the gateway co-signed is refused (E_HTLC_IN_FLIGHT: settle
or fail it).`;
  static override examples = [
    {
      description: 'A payment whose request never reached the mint (or was refused), abandoned: the mint burns that nonce and gives a fresh one',
      command:
        'D=$(mktemp -d); export MINT_KEY=$(cat fixtures/keys/mint.key) USER_KEY=$(cat fixtures/keys/user.key); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/open-demo.sh && ' +
        '<%= config.bin %> sign-update --role user --amount 1000 --key-env USER_KEY --state-dir $D/user > /dev/null && ' +
        '<%= config.bin %> credit abandon --role user --start --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> credit abandon --role mint --key-env MINT_KEY --state-dir $D/mint ' +
        '| <%= config.bin %> credit abandon --role user --key-env USER_KEY --state-dir $D/user',
    },
    {
      description: 'The same abandon through a running mint service (offchain serve mint): sent, and its answer applied, in one invocation',
      command: EXAMPLE_DEMO + '<%= config.bin %> sign-update --role user --amount 1000 --key-env USER_KEY --state-dir $D/user > /dev/null && ' +
        exampleService(1001) + '<%= config.bin %> credit abandon --role user --start --key-env USER_KEY --state-dir $D/user --peer $URL' + EXAMPLE_STOP,
    },
  ];
  static override flags = {
    ...roleFlag,
    ...inputFlags,
    ...keyFlags,
    ...stateFlags, ...storeFlags,
    ...contractFlag,
    start: Flags.boolean({ description: 'user: abandon the contract\'s pending request (or its unanswered open) and print the credit/abandon for the mint' }),
    ...walletSeedFlags,
    ...tokenOutFlag,
    ...chainFlags,
    ...peerFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const abandon = await import('../../lib/credit/abandon.ts');
    const { applyAbandonAnswer } = await import('../../topics/credit/answers.ts');
    if (f.role === 'user' && f.start) {
      const network = this.network();
      const peer = await MintPeer.from(f, network, this.term);
      const { ctx, book } = await this.userSession(network);
      const id = f.contract ?? (await this.onlyStuck(book));
      if (!/^[0-9a-f]{64}$/.test(id)) throw new UsageError('E_USAGE', `--contract must be a contract id (64 hex digits), got ${JSON.stringify(id)}`);
      const sink = this.tokenSink(); // the lost answer may be an ecash payment's receipt
      if (peer && !sink.sink) {
        // Asked before anything is signed: a receipt the service answers with carries the payment's token.
        const r = await book.get(id);
        if (r?.pending?.kind === 'update' && r.ecash?.pending_outputs) throw new UsageError('E_USAGE', 'the request abandoned is an ecash payment the mint may have signed: pass --token-out FILE (a new 0600 file; "-" for standard output) to keep its token');
      }
      const message = await book.exclusive(() => abandon.abandonRequest(ctx, id));
      // An open the mint refused is abandoned by the user alone: nothing goes to the mint.
      if (!peer || message.type !== 'credit/abandon') return { message };
      const answer = await peer.send(message);
      return sink.result(await book.exclusive(() => applyAbandonAnswer(ctx, answer.type, answer.value, sink.sink)));
    }
    if (f.peer !== undefined) throw MintPeer.refuse('credit abandon --role user --start');
    const { type, network, value } = await this.readMessage(f.role === 'mint' ? 'a credit/abandon' : 'the mint\'s answer to a credit/abandon (or --start)');
    if (f.role === 'mint') {
      const { decodeMessage } = await import('../../lib/message.ts');
      const schemas = await import('../../lib/credit/schemas.ts');
      const req = decodeMessage(schemas.AbandonSchema, value);
      return { message: await this.withMint(network, (ctx) => abandon.acceptAbandon(ctx, req)) };
    }
    const { ctx, book } = await this.userSession(network);
    const sink = this.tokenSink(); // an ecash payment's receipt carries its token
    return sink.result(await book.exclusive(() => applyAbandonAnswer(ctx, type, value, sink.sink)));
  }

  /** The one contract with something to abandon: a pending request, or an open never answered. */
  private async onlyStuck(book: { list(): Promise<import('../../lib/credit/ports.ts').UserContractRecord[]>; dir: string }): Promise<string> {
    const stuck = (await book.list()).filter((r) => r.pending || (r.device?.in_flight && !r.device.pending) || (r.status === 'opening' && !r.previous_contract_id));
    if (stuck.length === 1) return stuck[0]!.contract_id;
    throw new UsageError('E_USAGE', stuck.length === 0 ? `no contract in ${book.dir} has a request to abandon` : `${stuck.length} contracts have a request to abandon: pass --contract ID`);
  }
}
