import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, channelIdFlag } from '../../topics/commitment/command.ts';
import { feeGuardFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentTowerExport extends CommitmentCommand<typeof CommitmentTowerExport> {
  static override summary = 'Hand a keyless watchtower what it needs to punish each revoked commitment of the peer: encrypted justice ladders, no key.';
  static override description =
    'For every commitment the peer revoked (from --from N on), signs the justice transactions of commitment penalty — one per revocable ' +
    'output, paying --sweep-to — as a fee ladder: --rungs rates from --min-fee-rate to --max-fee-rate, each rung a valid replacement of the ' +
    'one below (its fee higher by at least the incremental relay fee on its size), none above --max-fee-rate or --max-fee-share of the output ' +
    'it takes; for a legacy channel also the ladder on the output of each HTLC transaction the peer could broadcast (its txid is fixed; with ' +
    'anchors it is not, and those outputs are left to your own watcher). Prints a bolt3/tower-justice: per revoked commitment its locator ' +
    '(the txid\'s first 16 bytes) and a blob, the ladders encrypted with ChaCha20-Poly1305 under SHA256 of the txid, so a tower (offchain ' +
    'watch --tower DIR) learns nothing of the channel before that commitment is on chain, and then can only publish what you signed. ' +
    'Your revocation_basepoint secret (--key-env/--key-file) signs and never leaves. Refused: a channel whose peer revoked nothing yet ' +
    '(E_NOTHING_REVOKED), a key that is not your revocation basepoint\'s (E_WRONG_SIGNING_KEY). Export again after each revocation ' +
    '(docs/watch.md, "The tower").';
  static override examples = [
    {
      description: 'Bob revoked his commitment 0: Alice\'s ladders for it, for her tower (a fee from 1 to 50 sat/vB, at most a fifth of each output)',
      command:
        'ALICE_FUNDING=$(cat fixtures/bolt3/local-funding.key) ALICE_HTLC=$(cat fixtures/bolt3/local-htlc.key) sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/alice-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-points.json >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-0.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-1.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && <%= config.bin %> commitment receive-revocation --state-dir "$D" --in fixtures/bolt3/bob-revocation-0.json >/dev/null && <%= config.bin %> commitment tower-export --channel-id 8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0 --key-env ALICE_HTLC --sweep-to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --max-fee-rate 50 --max-fee-share 0.2 --state-dir "$D"; rm -rf "$D"\'',
    },
    {
      description: 'Dropped into a tower\'s directory after each revocation: written aside and renamed in (a tower reads only whole *.json files)',
      command: '<%= config.bin %> commitment tower-export --channel-id $CHANNEL --key-file ~/alice-revocation.key --sweep-to $ADDR --max-fee-rate 50 --from $N --state-dir ~/.offchain-alice > ~/tower/.alice-$N.part && mv ~/tower/.alice-$N.part ~/tower/alice-$N.json',
    },
  ];
  static override flags = {
    ...stateFlags,
    ...channelIdFlag,
    ...keyFlags,
    'sweep-to': Flags.string({ description: 'where every justice transaction pays (your address)', helpValue: 'ADDRESS', required: true }),
    ...feeGuardFlags,
    'max-fee-rate': Flags.string({ description: 'the top rung\'s fee rate and the cap on every rung, sat/vB', helpValue: 'SAT/VB', helpGroup: 'FEE', required: true }),
    'min-fee-rate': Flags.string({ description: 'the lowest rung\'s fee rate, sat/vB (default 1)', helpValue: 'SAT/VB', helpGroup: 'FEE' }),
    rungs: Flags.integer({ description: 'how many fee rates the ladder is built on, from --min-fee-rate to --max-fee-rate', helpValue: 'N', min: 2, max: 32, default: 8, helpGroup: 'FEE' }),
    from: Flags.integer({ description: 'only the peer\'s commitments from number N on (those revoked since your last export)', helpValue: 'N', min: 0 }),
  };

  protected async execute(): Promise<CommandResult> {
    const { UsageError } = await import('../../lib/errors.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const { parseFeeLimits } = await import('../../lib/tx/fee-guard.ts');
    const { towerExport } = await import('../../lib/bolt3/tower-justice.ts');
    const { INCREMENTAL_RELAY_FEE_RATE } = await import('../../lib/tx/policy.ts');
    const network = this.network();
    const f = this.flags;
    const limits = parseFeeLimits({ maxFeeRate: f['max-fee-rate'], maxFeeShare: f['max-fee-share'] });
    const min = f['min-fee-rate'] === undefined ? 1 : Number(f['min-fee-rate']);
    if (!Number.isFinite(min) || min <= 0 || min > limits.maxFeeRate) throw new UsageError('E_USAGE', `--min-fee-rate must be a positive number of sat/vB at most --max-fee-rate, got ${f['min-fee-rate']}`);
    const destinationScript = decodeAddress(f['sweep-to'], network, '--sweep-to');
    const record = await this.channelRecord(this.channelId());
    const { secretKey } = await this.keyPair(network);
    try {
      const plan = { destinationScript, minRate: Math.round(min * 1000), maxRate: Math.floor(limits.maxFeeRate * 1000), maxFeeShare: limits.maxFeeShare, rungs: f.rungs, incrementalRate: INCREMENTAL_RELAY_FEE_RATE };
      const { message, empty } = towerExport(record, network, secretKey, plan, f.from ?? 0);
      if (empty.length > 0) this.term.warn(`commitment(s) ${empty.join(', ')}: no output worth a justice transaction within the cap (nothing above dust after the lowest rung's fee): no appointment`);
      return { message };
    } finally {
      secretKey.fill(0);
    }
  }
}
