import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, channelIdFlag, htlcKeyFlags, seedFileFlag } from '../../topics/commitment/command.ts';
import { feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import { readHexSecretFile } from '../../lib/cli/secret-file.ts';

export default class CommitmentFinalize extends CommitmentCommand<typeof CommitmentFinalize> {
  static override summary = 'Your latest commitment, ready to broadcast: the peer\'s stored signatures plus yours, and its HTLC transactions.';
  static override description =
    'Completes the commitment you hold (the latest one the peer signed, never a revoked one) with your funding signature, checks the peer\'s ' +
    'stored signatures again, and prints bolt3/holder-commitment: the signed commitment (hex) for `bitcoin-cli sendrawtransaction`, and its ' +
    'HTLC transactions — HTLC-timeouts signed, HTLC-successes signed for each --preimage-file (0600) whose SHA256 is their payment hash. ' +
    'This is a unilateral close: the channel records it, and from then on signs no further commitment and never revokes this one (E_CHANNEL_CLOSING). ' +
    'Anchors / zero-fee HTLC transactions pay no fee of their own: they come unsigned by you, as PSBTs carrying the peer\'s SINGLE|ANYONECANPAY ' +
    'signature (needs_fee_input), so a wallet\'s fee input can be added before you sign — never signed by this command at zero fee. With --fee-psbt ' +
    '(a wallet\'s walletcreatefundedpsbt answer per such transaction, in output order) and --fee-rate, the wallet\'s coins and change are added, ' +
    'the fee guard applies, and you sign: the PSBT then needs only the wallet\'s signatures (walletprocesspsbt); sweep its output with commitment sweep --htlc-tx.';
  static override examples = [
    {
      description: 'Alice keeps Bob\'s signatures on her commitment 0, then completes it for broadcast',
      command:
        'ALICE_FUNDING=$(cat fixtures/bolt3/local-funding.key) ALICE_HTLC=$(cat fixtures/bolt3/local-htlc.key) sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/alice-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-points.json >/dev/null && <%= config.bin %> commitment receive-sigs --state fixtures/bolt3/alice-state-0.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-signed-0.json >/dev/null && <%= config.bin %> commitment finalize --channel-id 8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0 --seed-file "$D/seed" --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D"; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...stateFlags,
    ...channelIdFlag,
    ...seedFileFlag,
    ...keyFlags,
    ...htlcKeyFlags,
    'preimage-file': Flags.string({ description: 'a payment preimage (hex, 0600 file) for an HTLC-success transaction; repeat for several', helpValue: 'FILE', multiple: true }),
    'fee-psbt': Flags.string({ description: 'anchors / zero-fee: a wallet\'s walletcreatefundedpsbt answer funding the next unfunded HTLC transaction, in output order (repeat); its coins and change are added before you sign', helpValue: 'FILE', multiple: true, dependsOn: ['fee-rate'] }),
    'fee-rate': Flags.string({ description: 'with --fee-psbt: what each funded HTLC transaction pays, sat/vB', helpValue: 'SAT/VB' }),
    ...feeGuardFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const { closeUnilaterally } = await import('../../lib/bolt3/party-holder-commitment.ts');
    const keys = await this.signingKeys();
    const seed = this.seed();
    const preimages = (this.flags['preimage-file'] ?? []).map((f) => readHexSecretFile(f, '--preimage-file', { length: 32 }));
    try {
      let funding: import('../../lib/bolt3/party-holder-commitment.ts').HtlcFunding | undefined;
      if (this.flags['fee-psbt']?.length) {
        const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
        const feeRate = Number(this.flags['fee-rate']);
        if (!(feeRate > 0)) throw new UsageError('E_USAGE', `--fee-rate takes a positive number of sat/vB, got ${this.flags['fee-rate']}`);
        const { detectFormat } = await import('../../lib/cli/input.ts');
        const { parsePsbt } = await import('../../lib/psbt/parse.ts');
        const { psbtBytesFromBase64 } = await import('../../lib/psbt/base64-field.ts');
        const wallets = [];
        for (const path of this.flags['fee-psbt']) {
          const doc = detectFormat(await this.readFlagInput('--fee-psbt', path), `--fee-psbt ${path}`);
          const psbt = doc.format === 'json' ? (doc.value as { psbt?: unknown }).psbt : undefined;
          if (doc.format !== 'psbt' && typeof psbt !== 'string') throw new MalformedInputError('E_MALFORMED_PSBT', `--fee-psbt ${path} holds neither a PSBT nor a JSON object with a "psbt" field`);
          wallets.push(doc.format === 'psbt' ? parsePsbt(doc.psbt) : parsePsbt(psbtBytesFromBase64(psbt as string, `--fee-psbt ${path}: psbt`)));
        }
        funding = { wallets, feeRate, limits: parseFeeLimits({ maxFeeRate: this.flags['max-fee-rate'], maxFeeShare: this.flags['max-fee-share'] }) };
      }
      return { message: await this.channelStep(this.channelId(), (record) => closeUnilaterally(record, seed, keys, preimages, funding)) };
    } finally {
      for (const s of [seed, keys.fundingSecret, keys.htlcBasepointSecret, ...preimages]) s?.fill(0);
    }
  }
}
