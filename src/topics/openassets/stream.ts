/**
 * `openassets decode --stream`: JSON Lines or hex lines in (--in FILE or standard input), one
 * openassets/decoded (or openassets/error, with its line number) line out each, earlier lines
 * serving as ancestors of later ones. Lines are split by hand and bounded (MAX_LINE); output
 * is written per read chunk and waits for stdout to drain. I/O: the command's, not the
 * library's (src/lib/openassets/decode.ts makes each line).
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { describeError } from '../../lib/cli/describe-error.ts';
import type { Terminal } from '../../lib/cli/terminal.ts';
import { MalformedInputError, UsageError } from '../../lib/errors.ts';
import { MESSAGE_VERSION } from '../../lib/envelope.ts';
import type { Network } from '../../lib/network.ts';
import type { Colorer } from '../../lib/openassets/coloring.ts';

export async function streamDecode(
  path: string | undefined,
  term: Terminal,
  colorer: Colorer,
  network: Network,
  rule: 'spec' | 'reference',
  oa: typeof import('../../lib/openassets/decode.ts'),
  parseRawTx: typeof import('../../lib/tx/raw.ts').parseRawTx,
  /** Said of a line whose ancestors are missing (the node's -txindex hint), if any. */
  hint: string | undefined,
): Promise<void> {
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
        out = oa.decodedLine(tx, coloring, network, rule, lineNo, coloring.status === 'undecided' ? hint : undefined);
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
    const meter = term.meter('transactions');
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
