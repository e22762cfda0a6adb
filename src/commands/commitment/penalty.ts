import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand, channelIdFlag } from '../../topics/commitment/command.ts';
import { chainFlags, keyFlags, stateFlags } from '../../lib/cli/flags.ts';

export default class CommitmentPenalty extends CommitmentCommand<typeof CommitmentPenalty> {
  static override summary = 'Punish a revoked commitment the peer broadcast: a justice transaction per output, second-stage outputs included.';
  static override description =
    'Rebuilds the peer\'s revoked commitment --txid from your channel record (the state you signed for it) and derives its per-commitment ' +
    'secret from the secrets the peer revealed (the compact store: any revoked commitment, however old). With your revocation_basepoint ' +
    'secret (--key-env/--key-file) it prints bolt3/penalties: one signed justice transaction per revocable output — to_local, each HTLC ' +
    'output, and every output paying the commitment\'s second-stage script of every transaction that moved an HTLC (with anchors the ' +
    'cheater may merge several HTLC-timeouts/-successes with inputs and outputs of his own: each is taken) — so one output already spent ' +
    'cannot invalidate the rest; --outputs takes a subset of the commitment\'s, --combine one transaction for all. Offline, give the ' +
    'cheater\'s transactions with --htlc-tx; with a node (--rpc-url) spent outputs are left out and listed under "skipped", and his ' +
    'transactions are found: in the mempool (gettxspendingprevout), confirmed (scantxoutset, which reads the whole UTXO set). Refused: a ' +
    'commitment not revoked (E_NOT_REVOKED), a key that is not your revocation basepoint\'s (E_WRONG_SIGNING_KEY), an --htlc-tx that does ' +
    'not move an HTLC of it (E_NOT_SECOND_STAGE), offline two --htlc-tx spending one output (E_SECOND_STAGE_CONFLICT; with a node, the ' +
    'node decides and a replaced one is listed under "skipped"). No justice transaction takes an output worth less than the fee it adds, ' +
    'and --combine splits what one standard transaction (400,000 weight units) cannot hold.';
  static override examples = [
    {
      description: 'Bob revoked his commitment 0: Alice\'s justice transactions for it, were he to broadcast it',
      command:
        'ALICE_FUNDING=$(cat fixtures/bolt3/local-funding.key) ALICE_HTLC=$(cat fixtures/bolt3/local-htlc.key) sh -c \'D=$(mktemp -d) && cp fixtures/bolt3/alice.seed "$D/seed" && chmod 600 "$D/seed" && <%= config.bin %> commitment init --channel fixtures/bolt3/alice-channel.json --seed-file "$D/seed" --state-dir "$D" --in fixtures/bolt3/bob-points.json >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-0.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && <%= config.bin %> commitment sign --state fixtures/bolt3/alice-state-1.json --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir "$D" >/dev/null && <%= config.bin %> commitment receive-revocation --state-dir "$D" --in fixtures/bolt3/bob-revocation-0.json >/dev/null && <%= config.bin %> commitment penalty --channel-id 8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be:0 --txid fe5636b3df52ae43e998cab0edf5af7f71e213ed649fcf5d967e54b379fbaa6a --key-env ALICE_HTLC --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --feerate-per-kw 2500 --state-dir "$D"; rm -rf "$D"\'',
    },
  ];
  static override flags = {
    ...stateFlags,
    ...channelIdFlag,
    ...keyFlags,
    'rpc-url': chainFlags['rpc-url'],
    'rpc-cookie': chainFlags['rpc-cookie'],
    txid: Flags.string({ description: 'the revoked commitment the peer broadcast', helpValue: 'TXID', required: true }),
    outputs: Flags.string({ description: 'the commitment outputs to take, comma-separated vouts (default: every revocable one)', helpValue: 'VOUT,…' }),
    'htlc-tx': Flags.string({ description: 'a file holding (hex) a transaction the cheater broadcast moving HTLCs of it to the second stage (one or several, with his own inputs and outputs); repeat for several', helpValue: 'FILE', multiple: true }),
    combine: Flags.boolean({ description: 'as few justice transactions as Core relays (one, up to 400,000 weight units), instead of one per output' }),
    to: Flags.string({ description: 'where the penalties pay', helpValue: 'ADDRESS', required: true }),
    'feerate-per-kw': Flags.integer({ description: 'fee rate, sat per 1000 weight units (BOLT 3\'s unit)', helpValue: 'N', min: 253, max: 100_000_000, required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { UsageError } = await import('../../lib/errors.ts');
    const { decodeAddress } = await import('../../lib/address.ts');
    const { parseSecondStage, punishRevoked } = await import('../../lib/bolt3/party-penalty.ts');
    const network = this.network();
    const txid = this.flags.txid.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(txid)) throw new UsageError('E_BAD_TXID', `--txid ${this.flags.txid} is not a transaction id`);
    const outputs = this.flags.outputs?.split(',').map((v) => {
      if (!/^(0|[1-9][0-9]{0,5})$/.test(v.trim())) throw new UsageError('E_BAD_VOUT', `--outputs: ${v} is not an output index`);
      return Number(v.trim());
    });
    const decoder = new TextDecoder();
    const secondStage = [];
    for (const f of this.flags['htlc-tx'] ?? []) secondStage.push(parseSecondStage(decoder.decode(await this.readFlagInput('--htlc-tx', f)).trim(), `--htlc-tx ${f}`));
    const record = await this.channelRecord(this.channelId());
    // The command's steps are the watcher's too (punishRevoked): the node's answers (with a node), the key, the penalties.
    const chain = this.flags['rpc-url'] !== undefined || process.env.OFFCHAIN_RPC_URL ? await this.chain(network) : undefined;
    const { message } = await punishRevoked(record, txid, {
      destinationScript: decodeAddress(this.flags.to, network, '--to'), feeratePerKw: this.flags['feerate-per-kw'], outputs, secondStage, combine: this.flags.combine,
    }, async () => (await this.keyPair(network)).secretKey, chain ? { chain } : {});
    return { message };
  }
}
