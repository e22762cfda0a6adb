import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, agreedStateFlag, seedFileFlag } from '../../topics/commitment/command.ts';
import { inputFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentReceiveSigs extends CommitmentCommand<typeof CommitmentReceiveSigs> {
  static override summary = 'Check and keep the peer\'s signatures on YOUR next commitment, then revoke the one it replaces (BOLT 2 revoke_and_ack).';
  static override description =
    'Reads the peer\'s bolt3/commitment-signed, rebuilds your own commitment from your channel record, the state you agreed to (--state, your ' +
    'side) and your per-commitment point (--seed-file), and refuses (exit 4, nothing written) any difference — channel, commitment number, ' +
    'balances, feerate, an HTLC\'s direction, amount, hash or cltv_expiry, the point (E_TERMS_MISMATCH, naming the field) — and any signature ' +
    'that does not verify. Only once the signatures are stored does it print bolt3/revoke-and-ack: the secret of your previous commitment (ON ' +
    'PURPOSE: that is the revocation) and your next point; for commitment 0, bolt3/commitment-held. A replay prints the same answer.';
  static override examples = [
    {
      description: 'Bob keeps Alice\'s signatures on his commitment 0, then on his commitment 1 — which revokes his 0',
      command:
        'sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/bob.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/bob-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-points.json >/dev/null && <%= config.bin %> commitment receive-sigs --state fixtures/bolt3/bob-state-0.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-signed-0.json >/dev/null && <%= config.bin %> commitment receive-sigs --state fixtures/bolt3/bob-state-1.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-signed-1.json; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...inputFlags, ...stateFlags, ...agreedStateFlag, ...seedFileFlag,
    'funding-locktime': Flags.integer({
      description: 'a channel on a statechain coin: the nLockTime of the backup that funds it (also kept by init). Refuses (E_CHANNEL_TIMELOCK) an HTLC whose cltv_expiry is not beyond it plus to_self_delay',
      helpValue: 'HEIGHT', min: 1, max: 499_999_999,
    }),
  };

  protected async execute(): Promise<CommandResult> {
    const { CommitmentSignedSchema } = await import('../../lib/bolt3/schemas.ts');
    const { receiveSigs } = await import('../../lib/bolt3/party-commitment-signed.ts');
    const m = await this.readMessage(CommitmentSignedSchema);
    const state = await this.agreedState();
    const seed = this.seed();
    try {
      return { message: await this.channelStep(m.channel_id, (record) => receiveSigs(record, m, state, seed, { fundingLocktime: this.flags['funding-locktime'] })) };
    } finally {
      seed.fill(0);
    }
  }
}
