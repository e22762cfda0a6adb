import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { seedFlags } from '../../topics/commitment/command.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class CommitmentPoint extends OffchainCommand<typeof CommitmentPoint> {
  static override summary = 'The per_commitment_point of a commitment number, derived from your per-commitment seed (BOLT 3).';
  static override description =
    'Reads the 32-byte seed from --seed-file (never argv), derives the commitment\'s per-commitment secret (generate_from_seed with index ' +
    '2^48 - 1 - N) and prints only its point, bolt3/per-commitment-point: what the counterparty needs to build your next commitment.';
  static override examples = [
    { description: 'The point of commitment 42 from the fixture seed', command: 'sh -c \'S=$(mktemp) && cp fixtures/bolt3/per-commitment-seed.hex "$S" && chmod 600 "$S" && <%= config.bin %> commitment point --seed-file "$S" --commitment-number 42; rm -f "$S"\'' },
  ];
  static override flags = { ...seedFlags };

  protected async execute(): Promise<CommandResult> {
    const { generateFromSeed, indexOfCommitment, perCommitmentPoint } = await import('../../lib/bolt3/per-commitment.ts');
    const { toHex } = await import('../../lib/bytes.ts');
    const n = this.flags['commitment-number'];
    const index = indexOfCommitment(n);
    const seed = readHexSecretFile(this.flags['seed-file'], '--seed-file', { length: 32 });
    const secret = generateFromSeed(seed, index);
    const point = perCommitmentPoint(secret);
    seed.fill(0);
    secret.fill(0);
    return { message: { type: 'bolt3/per-commitment-point', version: 1, network: this.network(), commitment_number: n, index, per_commitment_point: toHex(point) } };
  }
}
