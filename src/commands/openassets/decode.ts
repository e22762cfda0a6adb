import { Flags } from '@oclif/core';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { chainFlags, inputFlags } from '../../lib/cli/flags.ts';
import { inputFrom, readInputBytes } from '../../lib/cli/input.ts';
import { UsageError } from '../../lib/errors.ts';
import { TXINDEX_HINT, nodeSource, prevTransactions } from '../../topics/openassets/ancestors.ts';
import { checkUtilityFlags, utilityMessage } from '../../topics/openassets/utilities.ts';

export default class DecodeOpenassets extends OffchainCommand<typeof DecodeOpenassets> {
  static override summary = 'Decode an Open Assets transaction: marker, outputs, colored addresses and, given its ancestors, asset IDs and quantities.';
  static override description =
    'One transaction (raw hex, a PSBT\'s unsigned transaction, or {"tx": hex}) from --tx, --in or standard input. ' +
    'Every output gets its value, script, address, colored address and role (issuance / marker / transfer / uncolored); ' +
    'asset IDs and quantities need the previous transactions: --prev FILE (JSON Lines or one hex per line) or a node (--rpc-url; needs -txindex), ' +
    'colored recursively back to issuance. Missing ancestors are named (status "undecided"). ' +
    'An invalid marker or a failed coloring is an answer (status "uncolored" with the reason, exit 0); bytes that are not a transaction are exit 3. ' +
    'The marker rule: "spec" (default, 2015 text: the first parsable push after OP_RETURN, LEB128 at most 9 bytes) or "reference" (the original Python reference: exactly one push). ' +
    'With --stream: JSON Lines or hex lines in, one openassets/decoded (or openassets/error, with its line number) line out each; earlier lines serve as ancestors of later ones. ' +
    'With --protocol colu: the Colu "CC" OP_RETURN payload (issuance / transfer / burn, SFFC amounts, payments) instead; with --prev or a node also the Colu assets on every output (cc-get-assets-outputs\' rules, recursively). ' +
    'Utilities: --asset-id-of SCRIPT, --colored-address ADDRESS, --bitcoin-address COLORED.';
  static override examples = [
    { description: 'Decode and color the fixture transfer with its ancestors', command: '<%= config.bin %> decode-openassets --network mainnet --in fixtures/openassets/transfer.hex --prev fixtures/openassets/ancestors.jsonl' },
    { description: 'Color a stream of transactions, earlier lines feeding later ones (the last line shown)', command: '<%= config.bin %> decode-openassets --network mainnet --stream --in fixtures/openassets/chain.jsonl | tail -n 1' },
    { description: 'Decode a Colu "CC" transfer', command: '<%= config.bin %> decode-openassets --network mainnet --protocol colu --in fixtures/openassets/colu-transfer.hex' },
    { description: 'The asset ID of an issuing script', command: '<%= config.bin %> decode-openassets --network mainnet --asset-id-of 76a914010966776006953d5567439e5e39f86a0d273bee88ac' },
    { description: 'The seed\'s colored address as a Bitcoin address', command: '<%= config.bin %> decode-openassets --network mainnet --bitcoin-address akTnsDt5uzpioRST76VFRQM8q8sBFnQiwcx' },
  ];
  static override flags = {
    ...inputFlags,
    ...chainFlags,
    tx: Flags.string({ description: 'the transaction, hex (instead of --in / standard input)', helpValue: 'HEX' }),
    prev: Flags.string({ description: 'previous transactions: JSON Lines ({"tx": hex}) or one hex per line (repeatable; "-": standard input, the transaction then by --in or --tx)', helpValue: 'FILE', multiple: true }),
    protocol: Flags.string({ description: 'openassets (default) or colu: decode the transaction\'s Colu "CC" OP_RETURN instead (assets per output with --prev / a node)', options: ['openassets', 'colu'], default: 'openassets' }),
    rule: Flags.string({ description: 'marker rule: spec (2015 text, default) or reference (original Python: exactly one push)', options: ['spec', 'reference'], default: 'spec' }),
    stream: Flags.boolean({ description: 'read many transactions as lines, write one JSON line each' }),
    'cache-size': Flags.integer({ description: 'transactions and colorings kept in memory (bounds the stream\'s memory; older ancestors are fetched again)', min: 1, default: 10_000 }),
    'asset-id-of': Flags.string({ description: 'print the asset ID of this issuing script (hex)', helpValue: 'SCRIPT' }),
    'colored-address': Flags.string({ description: 'print the colored address of this Bitcoin (P2PKH/P2SH) address', helpValue: 'ADDRESS' }),
    'bitcoin-address': Flags.string({ description: 'print the Bitcoin address of this colored address', helpValue: 'COLORED' }),
  };

  protected async execute(): Promise<CommandResult | void> {
    const f = this.flags;
    const defaultNetwork = this.network();
    checkUtilityFlags(f);
    const utility = await utilityMessage(f, defaultNetwork);
    if (utility.message) return { message: utility.message };
    const network = utility.network;
    if (f.stream && f.tx !== undefined) throw new UsageError('E_USAGE', '--stream reads --in or standard input, not --tx');
    const prevs = () => prevTransactions(f.prev ?? [], () => this.readFlagInput('--prev', '-'));
    const node = () => nodeSource(f['rpc-url'], () => this.chain(network));
    const readText = async () => f.tx ?? new TextDecoder().decode(await readInputBytes(inputFrom(f.in === '-' ? undefined : f.in)));

    if (f.protocol === 'colu') {
      const { decodeColu } = await import('../../topics/openassets/colu.ts');
      return { message: await decodeColu({ text: readText, prevs, prevGiven: f.prev !== undefined, stream: f.stream, node }, network, f['cache-size']) };
    }
    const { Colorer } = await import('../../lib/openassets/coloring.ts');
    const { parseRawTx } = await import('../../lib/tx/raw.ts');
    const oa = await import('../../lib/openassets/decode.ts');
    const [known, chain] = [await prevs(), await node()];
    const source = async (txid: string): Promise<Uint8Array | undefined> => known.get(txid) ?? (chain ? chain(txid) : undefined);
    const rule = f.rule as 'spec' | 'reference';
    const colorer = new Colorer({ rule, source, parse: parseRawTx, cacheSize: f['cache-size'] });
    if (f.stream) {
      const { streamDecode } = await import('../../topics/openassets/stream.ts');
      return streamDecode(f.in, this.term, colorer, network, rule, oa, parseRawTx, chain ? TXINDEX_HINT : undefined);
    }
    const { message } = await oa.decodeTransaction(oa.txBytesFromText(await readText()), colorer, network, rule);
    return { message: message.status === 'undecided' ? { ...message, ...(chain ? { hint_if_missing: TXINDEX_HINT } : {}) } : message };
  }
}
