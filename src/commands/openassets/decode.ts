import { Flags } from '@oclif/core';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { CommandResult } from '../../lib/cli/base-command.ts';
import { OffchainCommand, describeError } from '../../lib/cli/base-command.ts';
import { chainFlags, inputFlags } from '../../lib/cli/flags.ts';
import { inputFrom, readFlagFile, readInputBytes } from '../../lib/cli/input.ts';
import { fromHex } from '../../lib/bytes.ts';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import { MESSAGE_VERSION } from '../../lib/envelope.ts';
import type { Network } from '../../lib/network.ts';

/** A --prev file's text; one that cannot be read is E_INPUT_FILE naming --prev, as for every file flag. */
function readPrev(path: string): string {
  return new TextDecoder().decode(readFlagFile('--prev', path));
}

const TXINDEX_HINT = 'the node did not return these transactions; a confirmed transaction can only be looked up on a node started with -txindex';

export default class DecodeOpenassets extends OffchainCommand<typeof DecodeOpenassets> {
  /** Also `decode-openassets`: its name before the topic form (docs/cli.md, "Commands"), kept as a plain alias. */
  static override aliases = ['decode-openassets'];
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
    let network = this.network();
    const utilities = [f['asset-id-of'], f['colored-address'], f['bitcoin-address']].filter((x) => x !== undefined).length;
    if (utilities > 1 || (utilities === 1 && (f.tx !== undefined || f.stream || f.prev !== undefined))) {
      throw new UsageError('E_USAGE', '--asset-id-of, --colored-address and --bitcoin-address stand alone: give one, without a transaction');
    }
    if (f.prev?.includes('-') && f.tx === undefined && (f.in === undefined || f.in === '-')) {
      throw new UsageError('E_USAGE', '--prev - and the input (no --in) both read standard input: give one of them a file');
    }
    const ids = await import('../../lib/openassets/ids.ts');
    // An address names its network: without --network (or $OFFCHAIN_NETWORK), a mainnet
    // address is read as mainnet instead of refused against the regtest default.
    const address = f['colored-address'] ?? f['bitcoin-address'];
    if (address !== undefined && f.network === undefined) {
      try {
        if (f['colored-address'] !== undefined) ids.toColoredAddress(address, 'mainnet');
        else ids.fromColoredAddress(address, 'mainnet');
        network = 'mainnet';
      } catch {
        // not a mainnet address: the default stands, and the call below words any refusal
      }
    }
    if (f['asset-id-of'] !== undefined) {
      const script = fromHex(f['asset-id-of'], '--asset-id-of');
      return { message: { type: 'openassets/asset-id', version: MESSAGE_VERSION, network, script: f['asset-id-of'].toLowerCase(), asset_id: ids.assetIdOfScript(script, network) } };
    }
    if (f['colored-address'] !== undefined) {
      const address = f['colored-address'];
      return { message: { type: 'openassets/address', version: MESSAGE_VERSION, network, address, colored_address: ids.toColoredAddress(address, network) } };
    }
    if (f['bitcoin-address'] !== undefined) {
      const colored = f['bitcoin-address'];
      return { message: { type: 'openassets/address', version: MESSAGE_VERSION, network, address: ids.fromColoredAddress(colored, network), colored_address: colored } };
    }
    if (f.stream && f.tx !== undefined) throw new UsageError('E_USAGE', '--stream reads --in or standard input, not --tx');

    if (f.protocol === 'colu') {
      if (f.stream) throw new UsageError('E_USAGE', '--protocol colu decodes one transaction: no --stream');
      const { txBytesFromText, parsePrevText } = await import('../../lib/openassets/decode.ts');
      const { parseRawTx } = await import('../../lib/openassets/tx.ts');
      const { coluMessage } = await import('../../lib/colu/message.ts');
      const text = f.tx ?? new TextDecoder().decode(await readInputBytes(inputFrom(f.in === '-' ? undefined : f.in)));
      const tx = parseRawTx(txBytesFromText(text));
      const prevs = new Map<string, Uint8Array>();
      for (const path of f.prev ?? []) for (const [k, v] of parsePrevText(await this.prevText(path), path)) prevs.set(k, v);
      const node = await this.nodeSource(network);
      if (f.prev === undefined && !node) return { message: coluMessage(tx, network) };
      const { ColuColorer } = await import('../../lib/colu/coloring.ts');
      const colorer = new ColuColorer({ source: async (txid) => prevs.get(txid) ?? (node ? node(txid) : undefined), parse: parseRawTx, network, cacheSize: f['cache-size'] });
      const m = coluMessage(tx, network, await colorer.color(tx));
      return { message: node && m.flow?.status === 'undecided' ? { ...m, hint_if_missing: TXINDEX_HINT } : m };
    }
    const { Colorer } = await import('../../lib/openassets/coloring.ts');
    const { parseRawTx } = await import('../../lib/openassets/tx.ts');
    const oa = await import('../../lib/openassets/decode.ts');
    const prevs = new Map<string, Uint8Array>();
    for (const path of f.prev ?? []) for (const [k, v] of oa.parsePrevText(await this.prevText(path), path)) prevs.set(k, v);
    const node = await this.nodeSource(network);
    const source = async (txid: string): Promise<Uint8Array | undefined> => {
      const hit = prevs.get(txid);
      if (hit) return hit;
      return node ? node(txid) : undefined;
    };
    const rule = f.rule as 'spec' | 'reference';
    const colorer = new Colorer({ rule, source, parse: parseRawTx, cacheSize: f['cache-size'] });
    const hint = node ? { hint_if_missing: TXINDEX_HINT } : {};

    if (f.stream) return this.stream(colorer, network, rule, oa, parseRawTx, node !== undefined);

    const text = f.tx ?? new TextDecoder().decode(await readInputBytes(inputFrom(f.in === '-' ? undefined : f.in)));
    const bytes = oa.txBytesFromText(text);
    const { message } = await oa.decodeTransaction(bytes, colorer, network, rule);
    return { message: message.status === 'undecided' ? { ...message, ...hint } : message };
  }

  /** A --prev file's text; `-` is standard input (the transaction then comes from --in FILE or --tx). */
  private async prevText(path: string): Promise<string> {
    return path === '-' ? new TextDecoder().decode(await this.readFlagInput('--prev', '-')) : readPrev(path);
  }

  /** A node as the ancestor source (getrawtransaction): not-found is "missing", other failures stop. */
  private async nodeSource(network: Network): Promise<((txid: string) => Promise<Uint8Array | undefined>) | undefined> {
    const chainMod = await import('../../lib/chain/index.ts');
    if (this.flags['rpc-url'] === undefined && !process.env[chainMod.ENV_RPC_URL]) return undefined;
    const chain = await this.chain(network);
    return async (txid) => {
      try {
        return await chain.rawTransaction(txid);
      } catch (e) {
        if (e instanceof chainMod.RpcError && e.rpcCode === -5) return undefined;
        throw e;
      }
    };
  }

  private async stream(
    colorer: import('../../lib/openassets/coloring.ts').Colorer,
    network: Network,
    rule: 'spec' | 'reference',
    oa: typeof import('../../lib/openassets/decode.ts'),
    parseRawTx: typeof import('../../lib/openassets/tx.ts').parseRawTx,
    fromNode: boolean,
  ): Promise<void> {
    const path = this.flags.in;
    const input = path === undefined || path === '-' ? process.stdin : createReadStream(path);
    input.on('error', () => {});
    let lineNo = 0;
    let done = 0;
    let buffer = '';
    const flushOut = async () => {
      if (buffer.length === 0) return;
      const chunk = buffer;
      buffer = '';
      if (!process.stdout.write(chunk)) await new Promise((res) => process.stdout.once('drain', res));
    };
    const one = async (line: string) => {
      lineNo++;
      if (line.trim() === '') return;
      let out: unknown;
      try {
        const bytes = oa.txBytesFromText(line, `line ${lineNo}`);
        const tx = parseRawTx(bytes);
        colorer.remember(tx);
        const coloring = await colorer.color(tx);
        out = oa.decodedLine(tx, coloring, network, rule, lineNo, coloring.status === 'undecided' && fromNode ? TXINDEX_HINT : undefined);
      } catch (e) {
        const { code, message, exitCode } = describeError(e);
        if (e instanceof MalformedInputError || code.startsWith('E_OA_') || code === 'E_MALFORMED_JSON' || code === 'E_MALFORMED_PSBT') {
          out = { type: oa.ERROR_TYPE, version: MESSAGE_VERSION, network, line: lineNo, code, exit_code: exitCode, message };
        } else throw e;
      }
      buffer += (typeof out === 'string' ? out : JSON.stringify(out)) + '\n';
      if (buffer.length > 1 << 16) await flushOut();
      meter.tick();
    };
    const meter = this.term.meter('transactions');
    // Lines split by hand from the read chunks (faster than readline); a line longer than
    // MAX_LINE is reported as malformed, so memory stays bounded.
    const MAX_LINE = 8 * 1024 * 1024;
    let pending = '';
    let skipping = false;
    const utf8 = new StringDecoder('utf8'); // a character split across two chunks stays whole
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        const text = pending + utf8.write(chunk);
        let from = 0;
        for (let nl = text.indexOf('\n', from); nl !== -1; nl = text.indexOf('\n', from)) {
          const line = text.slice(from, nl);
          from = nl + 1;
          if (skipping) { skipping = false; continue; }
          await one(line.endsWith('\r') ? line.slice(0, -1) : line);
        }
        // Every line decoded from what has arrived is written before waiting for more:
        // a slow producer (a node's ZMQ feed, a pipe from another tool) sees each answer
        // as soon as its line is complete; a fast one still gets one write per read chunk.
        await flushOut();
        pending = text.slice(from);
        if (pending.length > MAX_LINE) {
          pending = '';
          skipping = true;
          lineNo++;
          buffer += JSON.stringify({ type: oa.ERROR_TYPE, version: MESSAGE_VERSION, network, line: lineNo, code: 'E_OA_LINE_TOO_LONG', exit_code: 3, message: `line ${lineNo} is longer than ${MAX_LINE} bytes` }) + '\n';
        }
      }
      if (pending.length > 0 && !skipping) await one(pending);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError('E_USAGE', `cannot read --in ${path}: no such file`);
      throw e;
    }
    await flushOut();
    meter.done();
  }
}
