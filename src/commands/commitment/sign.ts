import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand } from '../../lib/cli/commitment-command.ts';
import { inputFlags, keyFlags } from '../../lib/cli/flags.ts';
import { RefusedError } from '../../lib/errors.ts';

export default class CommitmentSign extends CommitmentCommand<typeof CommitmentSign> {
  static override summary = 'Add one party\'s signatures to a BOLT 3 commitment: its funding signature and its HTLC-transaction signatures.';
  static override description =
    'Reads bolt3/commitment-request (or a bolt3/commitment the other party already signed), rebuilds the commitment and its HTLC transactions ' +
    'from the channel and the state, checks any signature already there, and adds this party\'s: the funding key from --key-file/--key-env, ' +
    'the htlc_basepoint secret from --htlc-key-env/--htlc-key-file (the HTLC key is derived with the per-commitment point). "local" is the holder. ' +
    'For a channel funded by a statechain backup, --funding-locktime makes it refuse HTLCs that could expire before the channel can be on chain.';
  static override examples = [
    {
      description: 'The holder (local) of the BOLT 3 Appendix C commitment signs, then the remote signs, then it is finalized',
      command:
        'LOCAL_FUNDING=$(cat fixtures/bolt3/local-funding.key) LOCAL_HTLC=$(cat fixtures/bolt3/local-htlc.key) REMOTE_FUNDING=$(cat fixtures/bolt3/remote-funding.key) REMOTE_HTLC=$(cat fixtures/bolt3/remote-htlc.key) sh -c \'' +
        '<%= config.bin %> commitment sign --as local --key-env LOCAL_FUNDING --htlc-key-env LOCAL_HTLC --in fixtures/bolt3/appendix-c-request.json ' +
        '| <%= config.bin %> commitment sign --as remote --key-env REMOTE_FUNDING --htlc-key-env REMOTE_HTLC | <%= config.bin %> commitment finalize\'',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    as: Flags.string({ description: 'which party signs: local (the holder) or remote', options: ['local', 'remote'], required: true }),
    'htlc-key-env': Flags.string({ description: 'environment variable holding this party\'s htlc_basepoint secret', helpValue: 'NAME' }),
    'htlc-key-file': Flags.string({ description: 'file holding this party\'s htlc_basepoint secret (0600)', helpValue: 'FILE' }),
    'funding-locktime': Flags.integer({
      description: 'a channel on a statechain coin: the nLockTime of the backup that funds it. Refuses (E_CHANNEL_TIMELOCK) an HTLC whose cltv_expiry is not beyond it plus to_self_delay',
      helpValue: 'HEIGHT',
      min: 1,
    }),
  };

  protected async execute(): Promise<CommandResult> {
    const { m, network, c, htlcTxs, signatures } = await this.readCommitment();
    const as = this.flags.as as 'local' | 'remote';
    const other = as === 'local' ? 'remote' : 'local';
    if (signatures[as]) throw new RefusedError('E_ALREADY_SIGNED', `the ${as} party has already signed this commitment`);
    if (this.flags['funding-locktime'] !== undefined) {
      const { checkChannelTimelocks } = await import('../../lib/statechain/channel.ts');
      checkChannelTimelocks({ fundingLocktime: this.flags['funding-locktime'], toSelfDelay: c.params.toSelfDelay, htlcExpiries: c.state.htlcs.map((h) => h.cltvExpiry) });
    }
    const { checkPartySignatures, commitmentMessage, partySignatures } = await import('../../lib/bolt3/messages.ts');
    // The other party's signatures, if any, are checked before ours are made.
    if (signatures[other]) checkPartySignatures(c, htlcTxs, signatures[other], other);
    const funding = await this.keyPair(network);
    const f = this.flags;
    let htlcBasepoint: Uint8Array | undefined;
    if (f['htlc-key-env'] !== undefined || f['htlc-key-file'] !== undefined) {
      const { loadKeyPair } = await import('../../lib/cli/secrets.ts');
      htlcBasepoint = (await loadKeyPair({ keyFile: f['htlc-key-file'], keyEnv: f['htlc-key-env'], env: process.env, network, interactive: false, prompt: async () => '' })).secretKey;
    }
    const mine = partySignatures(c, htlcTxs, as, funding.secretKey, htlcBasepoint);
    return { message: commitmentMessage(network, m.channel, m.state, c, htlcTxs, { ...signatures, [as]: mine }) };
  }
}
