import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand } from '../../topics/commitment/command.ts';
import { inputFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentReceiveRevocation extends CommitmentCommand<typeof CommitmentReceiveRevocation> {
  static override summary = 'Check and keep the peer\'s revocation of its previous commitment (BOLT 2 revoke_and_ack).';
  static override description =
    'Reads the peer\'s bolt3/revoke-and-ack. The secret must be that of the per-commitment point the peer gave for that commitment, and ' +
    'derive every secret stored (BOLT 3 compact storage); the revocation must be the peer\'s next, of a commitment you already replaced by ' +
    'signing the next one; its next point must not be one of your own keys (E_PEER_KEY_REUSED). Refused (exit 4, nothing written: the ' +
    'peer\'s honest secret is still accepted afterwards) otherwise. Keeps the ' +
    'secret for `commitment penalty` and the peer\'s next point for `commitment sign`. A replay prints the same answer.';
  static override examples = [
    {
      description: 'Alice signs Bob\'s commitments 0 and 1, then keeps Bob\'s revocation of his 0',
      command:
        'ALICE_FUNDING=$(cat fixtures/bolt3/local-funding.key) ALICE_HTLC=$(cat fixtures/bolt3/local-htlc.key) sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/alice-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-points.json >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-0.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-1.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && <%= config.bin %> commitment receive-revocation --state-dir "$D" --in fixtures/bolt3/bob-revocation-0.json; rm -rf "$D"\'',
    },
  ];
  static override flags = { ...inputFlags, ...stateFlags };

  protected async execute(): Promise<CommandResult> {
    const { RevokeAndAckSchema } = await import('../../lib/bolt3/schemas.ts');
    const { receiveRevocation } = await import('../../lib/bolt3/party-revoke-and-ack.ts');
    const m = await this.readMessage(RevokeAndAckSchema);
    return { message: await this.channelStep(m.channel_id, (record) => receiveRevocation(record, m)) };
  }
}
