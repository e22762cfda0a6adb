import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { CommitmentCommand } from '../../topics/commitment/command.ts';
import { inputFlags, keyFlags } from '../../lib/cli/flags.ts';

export default class CommitmentSweep extends CommitmentCommand<typeof CommitmentSweep> {
  static override summary = 'Sweep your own delayed outputs of a BOLT 3 commitment you broadcast: to_local and your HTLC transactions\' outputs.';
  static override description =
    'Reads your commitment (you are its holder, "local") as a bolt3/commitment-request or bolt3/commitment and your delayed_payment_basepoint ' +
    'secret (--key-env/--key-file, checked against the channel\'s delayed_payment_basepoint; the delayed key is derived with the commitment\'s ' +
    'per-commitment point). Spends its to_local output (unless --no-to-local) and the output of each HTLC-timeout/-success transaction named ' +
    'by --htlc-txid, all through the to_local script\'s delayed branch with nSequence = to_self_delay: the node accepts it only to_self_delay ' +
    'blocks after each spent output confirmed (rejected non-BIP68-final before). Prints bolt3/sweep with the signed hex, paying --to.';
  static override examples = [
    {
      description: 'Sweep BOLT 3 Appendix C\'s to_local and the output of one of its HTLC-timeout transactions',
      command:
        'DELAYED=$(cat fixtures/bolt3/local-delayed.key) <%= config.bin %> commitment sweep --key-env DELAYED --in fixtures/bolt3/appendix-c-request.json ' +
        '--htlc-txid 54f2a8cbb8c3cd8a5f19d79d8fe9021b5d29db12be4e1538b1b4d6cb9d205d7c --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --feerate-per-kw 2500',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    'to-local': Flags.boolean({ description: 'spend the commitment\'s to_local output', default: true, allowNo: true }),
    'htlc-tx': Flags.string({
      description: 'an anchors / zero-fee HTLC transaction of this commitment as it was funded by a wallet and mined (hex, a finalized PSBT or walletprocesspsbt\'s answer): its own txid; repeat for several',
      helpValue: 'FILE',
      multiple: true,
    }),
    'htlc-txid': Flags.string({ description: 'an HTLC-timeout/-success transaction of this commitment whose output to spend; repeat for several', helpValue: 'TXID', multiple: true }),
    to: Flags.string({ description: 'where the sweep pays', helpValue: 'ADDRESS', required: true }),
    'feerate-per-kw': Flags.integer({ description: 'fee rate, sat per 1000 weight units', helpValue: 'N', min: 253, required: true }),
  };

  protected async execute(): Promise<CommandResult> {
    const { network, c, htlcTxs } = await this.readCommitment();
    const { decodeAddress } = await import('../../lib/address.ts');
    const { delayedInputs, sweepMessage } = await import('../../lib/bolt3/sweep.ts');
    // The inputs and the message are the watcher's too (src/topics/watch/channel.ts).
    const inputs = delayedInputs(c, htlcTxs, { toLocal: this.flags['to-local'], htlcTxids: this.flags['htlc-txid'] ?? [] });
    // A funded anchors / zero-fee HTLC transaction: another txid, the same output 0 (src/lib/bolt3/funded-htlc.ts).
    for (const path of this.flags['htlc-tx'] ?? []) {
      const { packageTxFromDocument } = await import('../../lib/truc/input.ts');
      const { matchFundedHtlcTx } = await import('../../lib/bolt3/funded-htlc.ts');
      const given = await packageTxFromDocument(await this.readFlagInput('--htlc-tx', path), `--htlc-tx ${path}`, 'child');
      const { htlc, txid: id } = matchFundedHtlcTx(htlcTxs, given.raw, c.txid);
      if (!inputs.some((i) => i.txid === id)) inputs.push({ kind: htlc.kind, txid: id, vout: 0, amountSat: htlc.tx.outputs[0]!.amount });
    }
    const key = await this.keyPair(network);
    const { weight: _weight, ...message } = sweepMessage(network, c, inputs, key.secretKey, decodeAddress(this.flags.to, network, '--to'), this.flags['feerate-per-kw']);
    return { message };
  }
}
