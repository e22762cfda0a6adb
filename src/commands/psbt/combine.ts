import { Flags } from '@oclif/core';
import { OffchainCommand, type CommandResult } from '../../lib/cli/base-command.ts';
import { psbtOutputFlags } from '../../lib/cli/flags.ts';
import { detectFormat, inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { RefusedError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';

export default class PsbtCombine extends OffchainCommand<typeof PsbtCombine> {
  static override summary = 'Merge PSBTs of the same transaction (BIP-174 Combiner).';
  static override description =
    'Give each PSBT with --in (repeatable), or several on standard input, one per line (base64, hex, or psbt/updated messages as JSON Lines).';
  static override examples = [
    { description: 'Merge two copies of the fixture at different stages', command: '<%= config.bin %> psbt combine --in fixtures/psbt/musig-keypath-init.json --in fixtures/psbt/musig-keypath-signed.psbt' },
  ];
  static override flags = {
    in: Flags.string({ description: 'a PSBT file to merge (repeat for each)', helpValue: 'FILE', multiple: true, helpGroup: 'INPUT' }),
    ...psbtOutputFlags,
  };

  protected async execute(): Promise<CommandResult> {
    const documents = [];
    if (this.flags.in?.length) {
      for (const path of this.flags.in) documents.push(detectFormat(await readInputBytes(inputFrom(path))));
    } else {
      const text = new TextDecoder().decode(await readInputBytes(inputFrom(undefined)));
      for (const line of text.split(/\r?\n/).filter((l) => l.trim())) documents.push(detectFormat(new TextEncoder().encode(line)));
    }
    if (documents.length < 2) throw new UsageError('E_USAGE', `combine needs at least two PSBTs, got ${documents.length}`);
    const { psbtBytesOf } = await import('../../lib/cli/psbt-input.ts');
    const parts = documents.map((d) => psbtBytesOf(d));
    const networks = [...new Set(parts.map((p) => p.network).filter((n): n is Network => n !== undefined))];
    if (networks.length > 1) throw new RefusedError('E_NETWORK_MISMATCH', `the PSBT messages name different networks: ${networks.join(', ')}`);
    const network = this.network(networks[0]);
    const { combinePsbts } = await import('../../lib/psbt/roles.ts');
    const { parsePsbt } = await import('../../lib/psbt/parse.ts');
    const { psbtUpdated } = await import('../../lib/psbt/messages.ts');
    return psbtUpdated(parsePsbt(combinePsbts(parts.map((p) => p.bytes))), network, 'psbt combine');
  }
}
