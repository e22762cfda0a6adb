import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, destinationFlags, htlcSpendFlags, parseOutpoint } from '../../topics/htlc/command.ts';
import { psbtOutputFlags } from '../../lib/cli/flags.ts';

export default class HtlcPunish extends HtlcCommand<typeof HtlcPunish> {
  static override summary = 'Take a BOLT 3 HTLC output of a revoked commitment with the revocation key.';
  static override description =
    'The revocation path `<revocation_sig> <revocationpubkey>`, open at any time to whoever holds the revocation private key ' +
    '(derived from the revoked commitment\'s per-commitment secret and the revocation basepoint secret, BOLT 3 "revocationprivkey"). ' +
    'The key given must be the HTLC\'s revocation key (exit 4 otherwise).';
  static override examples = [
    {
      description: 'Punish the fixture offered HTLC with its revocation key',
      command: 'REVOCATION_KEY=$(cat fixtures/htlc/revocation.key) <%= config.bin %> htlc punish --key-env REVOCATION_KEY --in fixtures/htlc/offered.json --outpoint 5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f:0 --amount 50000 --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2',
    },
  ];
  static override flags = { ...htlcSpendFlags, ...destinationFlags, ...psbtOutputFlags };

  protected async execute(): Promise<CommandResult> {
    const input = await this.readHtlc();
    const outpoint = parseOutpoint(this.flags.outpoint);
    const signer = await this.keyPair(input.network);
    const amountSat = await this.htlcAmount(input, outpoint);
    const { buildSpend } = await import('../../lib/htlc/spend.ts');
    const s = buildSpend({ htlc: input.htlc, path: 'revoke', outpoint, amountSat, signer, destination: await this.destination(input.network), feeRate: this.feeRate(), feeLimits: await this.feeLimits() });
    return this.spendResult(input, 'revoke', s, outpoint, amountSat);
  }
}
