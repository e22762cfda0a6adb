import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, agreedStateFlag, htlcKeyFlags } from '../../topics/commitment/command.ts';
import { keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentSign extends CommitmentCommand<typeof CommitmentSign> {
  static override summary = 'Sign your PEER\'s next commitment and its HTLC transactions (BOLT 2 commitment_signed) — never your own.';
  static override description =
    'Builds the peer\'s commitment for the state you agreed to (--state, from your side) from your own channel record and the peer\'s ' +
    'per-commitment point you hold, and prints bolt3/commitment-signed: your funding signature on it and one signature per HTLC transaction ' +
    '(BOLT 3 output order). Nothing in it lets the peer broadcast a commitment of yours. Refused: a commitment number that is not the ' +
    'peer\'s next (E_COMMITMENT_NUMBER, exit 5), a peer that has not revoked commitment n−2 (E_PEER_NOT_REVOKED), another state under a ' +
    'number already agreed (E_STATE_CONFLICT, exit 5). A rerun prints the same signatures. For a channel funded by a statechain backup, ' +
    '--funding-locktime refuses HTLCs that could expire before the channel can be on chain (E_CHANNEL_TIMELOCK).';
  static override examples = [
    {
      description: 'Alice signs Bob\'s commitment 0 of the fixture channel (after commitment init)',
      command:
        'ALICE_FUNDING=$(cat fixtures/bolt3/local-funding.key) ALICE_HTLC=$(cat fixtures/bolt3/local-htlc.key) sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/alice-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-points.json >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-0.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D"; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...stateFlags,
    ...agreedStateFlag,
    ...keyFlags,
    ...htlcKeyFlags,
    'funding-locktime': Flags.integer({
      description: 'a channel on a statechain coin: the nLockTime of the backup that funds it. Refuses (E_CHANNEL_TIMELOCK) an HTLC whose cltv_expiry is not beyond it plus to_self_delay',
      helpValue: 'HEIGHT',
      min: 1,
      max: 499_999_999,
    }),
  };

  protected async execute(): Promise<CommandResult> {
    const state = await this.agreedState();
    const keys = await this.signingKeys();
    const { signPeer } = await import('../../lib/bolt3/party-commitment-signed.ts');
    const locktime = this.flags['funding-locktime'];
    try {
      const message = await this.channelStep(state.channel_id, (record) => signPeer(record, state, keys, { fundingLocktime: locktime }));
      return { message };
    } finally {
      keys.fundingSecret.fill(0);
      keys.htlcBasepointSecret?.fill(0);
    }
  }
}
