import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand } from '../../lib/cli/commitment-command.ts';
import { inputFlags, keyFlags } from '../../lib/cli/flags.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class CommitmentPenalty extends CommitmentCommand<typeof CommitmentPenalty> {
  static override summary = 'Punish a revoked BOLT 3 commitment: one justice transaction taking its to_local and every HTLC output.';
  static override description =
    'Reads the revoked commitment as a bolt3/commitment-request (its holder — "local" — is the cheater), the per-commitment secret the cheater ' +
    'revealed when it revoked it (--secret-file, checked against the commitment\'s per-commitment point) and your revocation_basepoint secret ' +
    '(--key-env/--key-file, checked against the commitment\'s revocationpubkey); prints the signed penalty (hex), paying --to at --feerate-per-kw.';
  static override examples = [
    {
      description: 'Take BOLT 3 Appendix C\'s commitment, were it revoked, with its per-commitment secret',
      command: 'REVOCATION=$(cat fixtures/bolt3/remote-revocation.key) <%= config.bin %> commitment penalty --key-env REVOCATION --in fixtures/bolt3/appendix-c-request.json --secret-file fixtures/bolt3/per-commitment-secret.hex --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --feerate-per-kw 2500',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    'secret-file': Flags.string({ description: 'the revoked commitment\'s per-commitment secret (hex)', helpValue: 'FILE', required: true }),
    to: Flags.string({ description: 'where the penalty pays', helpValue: 'ADDRESS', required: true }),
    'feerate-per-kw': Flags.integer({ description: 'fee rate, sat per 1000 weight units', helpValue: 'N', min: 253, required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { network, c } = await this.readCommitment();
    const { decodeAddress } = await import('../../lib/address.ts');
    const { penaltyTransaction } = await import('../../lib/bolt3/index.ts');
    const secret = readHexSecretFile(this.flags['secret-file'], '--secret-file', { length: 32 });
    const revocation = await this.keyPair(network);
    const p = penaltyTransaction({
      revoked: c, perCommitmentSecret: secret, revocationBasepointSecret: revocation.secretKey,
      destinationScript: decodeAddress(this.flags.to, network, '--to'), feeratePerKw: this.flags['feerate-per-kw'],
    });
    secret.fill(0);
    return {
      message: {
        type: 'bolt3/penalty', version: 1, network, revoked_txid: c.txid, txid: p.txid, hex: p.hex, fee_sat: Number(p.feeSat),
        inputs: p.inputs.map((i) => ({ kind: i.kind, vout: i.vout, amount_sat: Number(i.amountSat) })),
      },
    };
  }
}
