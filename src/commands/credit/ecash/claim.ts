import { Flags } from '@oclif/core';
import type { CommandResult } from '../../../lib/cli/base-command.ts';
import { CreditCommand } from '../../../topics/credit/command.ts';
import { contractFlag, tokenOutFlag, walletSeedFlags } from '../../../topics/credit/flags.ts';
import { inputFlags, keyFlags, stateFlags } from '../../../lib/cli/flags.ts';
import { UsageError } from '../../../lib/errors.ts';

export default class CreditEcashClaim extends CreditCommand<typeof CreditEcashClaim> {
  static override summary = 'Be paid the ecash of a payment the mint signed without it: ask its restore for that payment\'s outputs, keep what it signed.';
  static override description = `  user  --start [--contract ID]   → credit/restore-request (the unpaid payment's outputs; NUT-09)
  mint  credit ecash restore        → credit/restore          (the signatures it made on them, if any)
  user  < credit/restore            → credit/balance          (the token written with --token-out; payments resume)

A payment is unpaid when the mint signed its state but its receipt — also when asked again through "credit abandon" —
carried no valid ecash for the user's outputs: the abandon settles the state without its ecash, and no further payment is
signed into the contract. If the mint did sign those outputs (its answer got their ecash wrong), its restore gives them
back and this keeps the token. If it never did, nothing comes back (E_ECASH_UNPAID, exit 4): close the contract
(close-credit --role user --start) and keep the rest of the balance, or take the refund at expiry.`;
  static override examples = [
    {
      description: 'A demo payment whose receipt was lost and whose answer to the abandon got its ecash wrong (so the user settled it unpaid), claimed through the mint\'s restore',
      command: 'D=$(mktemp -d); OFFCHAIN_DEMO_DIR=$D sh fixtures/credit/ecash-demo.sh unpaid && export USER_KEY=$(cat fixtures/keys/user.key) ECASH_SEED=$(cat fixtures/credit/ecash-seed.txt) WALLET_SEED=$(printf "5e%.0s" $(seq 64)) && ' +
        '<%= config.bin %> credit ecash claim --start --key-env USER_KEY --state-dir $D/user ' +
        '| <%= config.bin %> credit ecash restore --state-dir $D/mint --ecash-seed-env ECASH_SEED ' +
        '| <%= config.bin %> credit ecash claim --key-env USER_KEY --state-dir $D/user --wallet-seed-env WALLET_SEED --token-out $D/claimed.txt',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    ...stateFlags,
    ...contractFlag,
    start: Flags.boolean({ description: 'print the NUT-09 restore request for the unpaid payment\'s outputs, for the mint' }),
    ...walletSeedFlags,
    ...tokenOutFlag,
  };

  protected async execute(): Promise<CommandResult> {
    const f = this.flags;
    const claim = await import('../../../lib/credit/ecash-claim.ts');
    if (f.start) {
      const { ctx, book } = await this.userSession(this.network());
      const id = f.contract ?? (await this.onlyUnpaid(book));
      return { message: await claim.claimRequest(ctx, id) };
    }
    const { network, value } = await this.readMessage('the mint\'s credit/restore (or --start)');
    const { decodeMessage } = await import('../../../lib/message.ts');
    const { RestoreSchema } = await import('../../../lib/credit/schemas-ecash.ts');
    const answer = decodeMessage(RestoreSchema, value);
    const { ctx, book } = await this.userSession(network);
    const sink = this.tokenSink();
    return sink.result(await book.exclusive(() => claim.applyClaim(ctx, answer, sink.sink, f.contract)));
  }

  /** The one contract with an unpaid payment. */
  private async onlyUnpaid(book: { list(): Promise<import('../../../lib/credit/ports.ts').UserContractRecord[]>; dir: string }): Promise<string> {
    const unpaid = (await book.list()).filter((r) => r.ecash?.unpaid);
    if (unpaid.length === 1) return unpaid[0]!.contract_id;
    throw new UsageError('E_USAGE', unpaid.length === 0 ? `no contract in ${book.dir} has a payment waiting for its ecash` : `${unpaid.length} contracts have unpaid payments: pass --contract ID`);
  }
}
