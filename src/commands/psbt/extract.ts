import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { toHex } from '../../lib/bytes.ts';

export default class PsbtExtract extends OffchainCommand<typeof PsbtExtract> {
  static override summary = 'Extract the network transaction from a finalized PSBT (BIP-174 Transaction Extractor).';
  static override examples = [
    { description: 'Raw hex for bitcoin-cli sendrawtransaction', command: '<%= config.bin %> psbt extract --hex --in fixtures/psbt/musig-keypath-final.psbt' },
  ];
  static override flags = {
    ...inputFlags,
    hex: Flags.boolean({ description: 'print only the raw transaction hex', helpGroup: 'OUTPUT' }),
  };

  protected async execute(): Promise<CommandResult> {
    const { tx, network } = await this.readPsbt();
    const { extractTransaction } = await import('../../lib/psbt/roles.ts');
    const out = extractTransaction(tx);
    if (this.flags.hex) return { text: toHex(out.hex) };
    return { message: { type: 'psbt/extracted', version: 1, network, txid: out.txid, wtxid: out.wtxid, vsize: out.vsize, hex: out.hex } };
  }
}
