import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';
import { seedFlags } from '../../lib/cli/commitment-command.ts';

export default class CommitmentReveal extends OffchainCommand<typeof CommitmentReveal> {
  static override summary = 'Reveal the per-commitment secret of a commitment you are revoking, for the counterparty (BOLT 2 revoke_and_ack).';
  static override description =
    'Reads the 32-byte seed from --seed-file and prints bolt3/per-commitment-secret for --commitment-number: this secret goes to stdout ' +
    'ON PURPOSE — revealing it to the counterparty is how a commitment is revoked (with it they can take every output of that commitment ' +
    'should you broadcast it). Reveal only a commitment you have replaced by a newer one both parties signed; the seed itself is never printed.';
  static override examples = [
    { description: 'Revoke commitment 41 once commitment 42 is signed', command: '<%= config.bin %> commitment reveal --seed-file fixtures/bolt3/per-commitment-seed.hex --commitment-number 41' },
  ];
  static override flags = { ...seedFlags };

  protected async execute(): Promise<CommandResult> {
    const { generateFromSeed, indexOfCommitment } = await import('../../lib/bolt3/per-commitment.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const n = this.flags['commitment-number'];
    const index = indexOfCommitment(n);
    const seed = readHexSecretFile(this.flags['seed-file'], '--seed-file', { length: 32 });
    const secret = generateFromSeed(seed, index);
    seed.fill(0);
    return { message: { type: 'bolt3/per-commitment-secret', version: 1, network: this.network(), commitment_number: n, index, per_commitment_secret: toHex(secret) } };
  }
}
