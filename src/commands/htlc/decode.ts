import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { fromHex } from '../../lib/bytes.ts';

export default class HtlcDecode extends OffchainCommand<typeof HtlcDecode> {
  static override summary = 'Say which HTLC a script is (seed, BOLT 3 offered/received, taproot leaf) and its parameters.';
  static override description =
    'Give one witness script or tapscript leaf with --script; with --address, also whether the script is that address\'s. ' +
    'A taproot HTLC\'s two leaves plus its address give the whole HTLC, its MuSig2 participants included. ' +
    'Recognition is byte for byte: a look-alike script is refused with E_NOT_HTLC (exit 3).';
  static override examples = [
    { description: 'Decode the fixture seed HTLC\'s witness script', command: '<%= config.bin %> htlc decode --script $(cat fixtures/htlc/seed.script)' },
  ];
  static override flags = {
    script: Flags.string({ description: 'witness script or tapscript leaf, hex (twice for both taproot leaves)', helpValue: 'HEX', required: true, multiple: true }),
    address: Flags.string({ description: 'the address the script should belong to', helpValue: 'ADDRESS' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network();
    const { decodeHtlcScripts } = await import('../../lib/htlc/decode.ts');
    const scripts = this.flags.script.map((s, i) => fromHex(s, `--script ${i + 1}`));
    return { message: decodeHtlcScripts(scripts, network, this.flags.address) };
  }
}
