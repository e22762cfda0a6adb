import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { inputFlags } from '../../lib/cli/flags.ts';
import { inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { fromHex } from '../../lib/bytes.ts';
import { MalformedInputError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';

export default class HtlcDecode extends OffchainCommand<typeof HtlcDecode> {
  static override summary = 'Say which HTLC a script is (seed, BOLT 3 offered/received, taproot leaf) and its parameters.';
  static override description =
    'Give one witness script or tapscript leaf with --script, or as hex on standard input / --in FILE (two, separated by white space, for ' +
    'both taproot leaves); with --address, also whether the script is that address\'s. ' +
    'A taproot HTLC\'s two leaves plus its address give the whole HTLC, its MuSig2 participants included. ' +
    'Without --network the network is the address\'s (an address names its network); a --network it contradicts is refused. ' +
    'Recognition is byte for byte: a look-alike script is refused with E_NOT_HTLC (exit 3).';
  static override examples = [
    { description: 'Decode the fixture seed HTLC\'s witness script', command: '<%= config.bin %> htlc decode --script $(cat fixtures/htlc/seed.script)' },
    { description: 'The same, the script on standard input', command: '<%= config.bin %> htlc decode < fixtures/htlc/seed.script' },
  ];
  static override flags = {
    ...inputFlags,
    script: Flags.string({ description: 'witness script or tapscript leaf, hex (twice for both taproot leaves); default: read from --in or standard input', helpValue: 'HEX', multiple: true }),
    address: Flags.string({ description: 'the address the script should belong to', helpValue: 'ADDRESS' }),
  };

  protected async execute(): Promise<CommandResult> {
    const network = this.network(this.flags.address === undefined ? undefined : await addressNetwork(this.flags.address));
    const { decodeHtlcScripts } = await import('../../lib/htlc/decode.ts');
    const given = this.flags.script ?? (await this.scriptsFromInput());
    const scripts = given.map((s, i) => fromHex(s, this.flags.script ? `--script ${i + 1}` : `script ${i + 1} of the input`));
    return { message: decodeHtlcScripts(scripts, network, this.flags.address) };
  }

  private async scriptsFromInput(): Promise<string[]> {
    const text = new TextDecoder().decode(await readInputBytes(inputFrom(this.flags.in)));
    const words = text.split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) throw new MalformedInputError('E_EMPTY_INPUT', 'no script given: pass --script HEX, or the script as hex on standard input or --in FILE');
    if (words.length > 2) throw new MalformedInputError('E_NOT_HTLC', `${words.length} scripts given: an HTLC has one script, or two taproot leaves`);
    return words;
  }
}

/** The network an address belongs to (the first whose parameters decode it), if any. */
async function addressNetwork(address: string): Promise<Network | undefined> {
  const { decodeAddress } = await import('../../lib/address.ts');
  const { NETWORKS } = await import('../../lib/network.ts');
  for (const n of ['mainnet', 'regtest', 'testnet'] as Network[]) {
    try {
      decodeAddress(address, n);
      return NETWORKS.includes(n) ? n : undefined;
    } catch {
      // another network's, or not an address: decodeHtlcScripts words that
    }
  }
  return undefined;
}
