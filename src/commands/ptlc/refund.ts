import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { HtlcCommand, destinationFlags, outpointFlags, parseOutpoint } from '../../topics/htlc/command.ts';
import { chainFlags, inputFlags, keyFlags } from '../../lib/cli/flags.ts';
import { MalformedInputError } from '../../lib/errors.ts';

export default class PtlcRefund extends HtlcCommand<typeof PtlcRefund> {
  static override summary = 'The payer\'s refund through the CLTV leaf, once the timeout is final.';
  static override description =
    'nLockTime = the PTLC\'s locktime, a non-final sequence, the refund leaf and its control block; refused (exit 4, E_NOT_FINAL) while not final ' +
    'at the tip (a node, or --tip-height), unless --any-time.';
  static override examples = [
    {
      description: 'Alice takes the fixture PTLC back at height 1100',
      command: 'ALICE_KEY=$(cat fixtures/keys/alice.key) <%= config.bin %> ptlc refund --key-env ALICE_KEY --in fixtures/ptlc/created.json --outpoint ' + '5f'.repeat(32) + ':0 --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --fee-rate 2 --tip-height 1100',
    },
  ];
  static override flags = {
    ...inputFlags,
    ...keyFlags,
    ...outpointFlags,
    ...destinationFlags,
    'any-time': Flags.boolean({ description: 'print it even before it is final (Core rejects it as non-final until then)' }),
    ...chainFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', 'expected ptlc/created');
    const { ptlcFromMessage } = await import('../../lib/ptlc/messages.ts');
    const { ptlc, network, amountSat, message } = ptlcFromMessage(doc.value);
    this.network(network);
    const outpoint = parseOutpoint(this.flags.outpoint);
    const signer = await this.keyPair(network);
    const amount = await this.outputAmount(network, outpoint, ptlc.scriptPubKey, message.address, amountSat);
    if (!this.flags['any-time']) await this.requireFinal(network, ptlc.spec.locktime);
    // The payer's refund, as a watcher builds it too (topics/htlc/payer.ts).
    const { payerRefund } = await import('../../topics/htlc/payer.ts');
    const r = await payerRefund({ kind: 'ptlc', ptlc, created: message, network }, {
      outpoint, amountSat: amount, destination: await this.destination(network), feeRate: this.feeRate(), feeLimits: await this.feeLimits(), signer, auxRand: this.random.bytes(32, 'ptlc/bip340-aux'),
    });
    return { message: r.message };
  }
}
