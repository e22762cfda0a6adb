import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, channelIdFlag, seedFileFlag } from '../../topics/commitment/command.ts';
import { stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentRevoke extends CommitmentCommand<typeof CommitmentRevoke> {
  static override summary = 'Print again the revocation of the commitment your latest one replaced (a lost revoke_and_ack).';
  static override description =
    'Prints bolt3/revoke-and-ack for the commitment before the one you hold with the peer\'s signatures — what `commitment receive-sigs` ' +
    'printed — for a message that was lost. It never revokes the commitment you hold (E_NOTHING_TO_REVOKE while you hold only commitment 0 ' +
    'or none). The secret in it is printed ON PURPOSE: it goes to the peer. Writes nothing.';
  static override examples = [
    {
      description: 'Bob\'s revocation of his commitment 0, printed again after he received Alice\'s signatures on 0 and 1',
      command:
        'sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/bob.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/bob-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-points.json >/dev/null && <%= config.bin %> commitment receive-sigs --state fixtures/bolt3/bob-state-0.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-signed-0.json >/dev/null && <%= config.bin %> commitment receive-sigs --state fixtures/bolt3/bob-state-1.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/alice-signed-1.json >/dev/null && <%= config.bin %> commitment revoke --channel-id 8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0 --seed-file "$D/seed" --state-dir "$D"; rm -rf "$D"\'',
    },
  ];
  static override flags = { ...stateFlags, ...channelIdFlag, ...seedFileFlag };

  protected async execute(): Promise<CommandResult> {
    const { revokeMessage } = await import('../../lib/bolt3/party-revoke-and-ack.ts');
    const record = await this.channelRecord(this.channelId());
    const seed = this.seed();
    try {
      return { message: revokeMessage(record, seed) };
    } finally {
      seed.fill(0);
    }
  }
}
