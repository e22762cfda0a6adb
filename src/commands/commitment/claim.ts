import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, channelIdFlag, htlcKeyFlags } from '../../topics/commitment/command.ts';
import { stateFlags } from '../../lib/cli/flags.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class CommitmentClaim extends CommitmentCommand<typeof CommitmentClaim> {
  static override summary = 'The peer force-closed: take your HTLCs from its commitment — its offered ones with their preimages, yours back at cltv_expiry.';
  static override description =
    'For a commitment of the peer that it broadcast and has not revoked (a revoked one: commitment penalty), rebuilt from your channel record: ' +
    'one signed transaction per HTLC output of yours (BOLT 5 remote close) — each HTLC the peer offered you, with its --preimage-file (0600), ' +
    'and each HTLC you offered, back to you once its cltv_expiry is final (its nLockTime; the node refuses it non-final before). The key is ' +
    'your htlc_basepoint secret (--htlc-key-env/--htlc-key-file); the per-commitment key is derived with the peer\'s point. Prints bolt3/claims; ' +
    'HTLCs without a preimage, or worth less than their fee, are listed under "skipped".';
  static override examples = [
    {
      description: 'Bob broadcast his commitment 1: Alice takes back the HTLCs she offered him, once they expire',
      command:
        'ALICE_FUNDING=$(cat fixtures/bolt3/local-funding.key) ALICE_HTLC=$(cat fixtures/bolt3/local-htlc.key) sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && ' +
        '<%= config.bin %> commitment init --channel fixtures/bolt3/alice-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-points.json >/dev/null && ' +
        '<%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-0.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && ' +
        '<%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-1.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && ' +
        '<%= config.bin %> commitment claim --channel-id 8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0 --txid cef7df0c438752011a5f28b60cc857dca5eb5ef773f6fa298eaca9d6ba7a625c ' +
        '--htlc-key-env ALICE_HTLC --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --feerate-per-kw 2500 --state-dir "$D"; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...stateFlags,
    ...channelIdFlag,
    ...htlcKeyFlags,
    txid: Flags.string({ description: 'the peer\'s commitment it broadcast', helpValue: 'TXID', required: true }),
    'preimage-file': Flags.string({ description: 'a payment preimage (hex, 0600 file) of an HTLC the peer offered you; repeat for several', helpValue: 'FILE', multiple: true }),
    to: Flags.string({ description: 'where the claims pay', helpValue: 'ADDRESS', required: true }),
    'feerate-per-kw': Flags.integer({ description: 'fee rate, sat per 1000 weight units (BOLT 3\'s unit)', helpValue: 'N', min: 253, max: 100_000_000, required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { UsageError } = await import('../../lib/errors.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const { claimFromPeerCommitment } = await import('../../lib/bolt3/party-claim.ts');
    const network = this.network();
    const txid = this.flags.txid.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(txid)) throw new UsageError('E_BAD_TXID', `--txid ${this.flags.txid} is not a transaction id`);
    const { htlcBasepointSecret } = await this.htlcKey();
    if (!htlcBasepointSecret) throw new UsageError('E_NO_KEY', 'give your htlc_basepoint secret (--htlc-key-env or --htlc-key-file)');
    const preimages = (this.flags['preimage-file'] ?? []).map((f) => readHexSecretFile(f, '--preimage-file', { length: 32 }));
    const record = await this.channelRecord(this.channelId());
    try {
      return {
        message: claimFromPeerCommitment(record, txid, {
          htlcBasepointSecret, preimages, destinationScript: decodeAddress(this.flags.to, network, '--to'), feeratePerKw: this.flags['feerate-per-kw'],
        }),
      };
    } finally {
      for (const s of [htlcBasepointSecret, ...preimages]) s.fill(0);
    }
  }
}
