/**
 * Reading what a command was given: standard input (default, or `-`) or `--in FILE`,
 * always to end of file — never oclif's timed stdin read, which drops data that arrives
 * slowly (STYLE.md). Then the format is detected from the content alone:
 *
 *   binary PSBT      starts with the magic `psbt\xff`
 *   JSON             one JSON value (an object: a message)
 *   JSON Lines       several JSON objects, one per line (bulk decoders)
 *   PSBT as base64   `cHNidP8…` (or cHNidP9…, cHNidP+…, cHNidP/… when the first key is 64 bytes or longer)
 *   PSBT as hex      `70736274ff…`
 *
 * Anything else is malformed input (exit 3) with a message saying what was expected.
 */
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import { base64, hex } from '@scure/base';
import { MalformedInputError, OffchainError, UsageError, type ExitCode } from '../errors.ts';
import { PSBT_MAGIC } from '../constants.ts';
import { duplicateName, jsonErrorPosition, jsonReason, lineColumn } from './json-position.ts';

export type InputDocument =
  | { format: 'psbt'; encoding: 'binary' | 'base64' | 'hex'; psbt: Uint8Array }
  | { format: 'json'; value: unknown }
  | { format: 'jsonl'; values: unknown[] };

/** Where input comes from: a file named by `flag` (default --in), else standard input. */
export type InputSource = { path: string | undefined; flag?: string; stdin: Readable & { isTTY?: boolean } };

/**
 * The process's input: `--in PATH`, else standard input — opened only if it is read
 * (touching process.stdin creates its stream, ~2 ms of a cold start that reads a file).
 */
export function inputFrom(path: string | undefined, flag = '--in'): InputSource {
  return {
    path,
    flag,
    get stdin() {
      return process.stdin;
    },
  };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((b, i) => bytes[i] === b);
}

/**
 * The largest input document (or JSON line) read: 32 MiB. A transaction is at most
 * 4 MB of weight, so an honest PSBT or message is far below this; anything larger is
 * refused before it is held in memory whole.
 */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

function tooLarge(what: string, max: number): MalformedInputError {
  return new MalformedInputError('E_INPUT_TOO_LARGE', `${what} is larger than ${max} bytes: no message or PSBT is that big`);
}

export async function readToEnd(stream: Readable, max = MAX_INPUT_BYTES): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > max) {
      stream.destroy();
      throw tooLarge('the input', max);
    }
    chunks.push(b);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Standard input that bin/run.js's `psbt decode` shortcuts (src/fast-decode/) read before
 * handing the invocation to the full CLI: taken from here, once, instead of the drained stream.
 * Or the failure reading it met, thrown again — described as { code, message, exitCode }, since
 * that bundle's error classes are not this one's.
 */
export const STDIN_HANDOFF = Symbol.for('offchain.stdin');

export type StdinHandoff = Uint8Array | { code: string; message: string; exitCode: number } | Error;

function handedOverStdin(): Uint8Array | undefined {
  const store = globalThis as unknown as Record<symbol, StdinHandoff | undefined>;
  const handed = store[STDIN_HANDOFF];
  delete store[STDIN_HANDOFF];
  if (handed === undefined || handed instanceof Uint8Array) return handed;
  if (handed instanceof Error) throw handed;
  throw new OffchainError(handed.code, handed.message, handed.exitCode as ExitCode);
}

/** How the fast path describes a failure to read standard input, for `handedOverStdin`. */
export function stdinFailure(e: unknown): StdinHandoff {
  const { code, message, exitCode } = (e ?? {}) as { code?: unknown; message?: unknown; exitCode?: unknown };
  if (typeof code === 'string' && typeof message === 'string' && typeof exitCode === 'number') return { code, message, exitCode };
  return e instanceof Error ? e : new Error(String(e));
}

/** The raw bytes of the input, from `--in FILE` or stdin (`-` or nothing), at most `max` bytes. */
export async function readInputBytes(src: InputSource, max = MAX_INPUT_BYTES): Promise<Uint8Array> {
  if (src.path !== undefined && src.path !== '-') return readFlagFile(src.flag ?? '--in', src.path, max);
  const handed = src.stdin === process.stdin ? handedOverStdin() : undefined;
  if (handed) return handed;
  if (src.stdin.isTTY) {
    throw new UsageError('E_NO_INPUT', 'this command reads a message or PSBT: pipe it on standard input or pass --in FILE');
  }
  return readToEnd(src.stdin, max);
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file (ENOENT)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  ELOOP: 'too many symbolic links (ELOOP)',
  ENOTDIR: 'a part of the path is not a directory (ENOTDIR)',
  EIO: 'input/output error (EIO)',
};

/** E_INPUT_FILE for a file a flag names that cannot be read, saying why. */
export function fileError(flag: string, path: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = (code && FILE_ERRORS[code]) ?? code ?? (e as Error).message;
  return new UsageError('E_INPUT_FILE', `cannot read ${flag} ${path}: ${why}`, { flag, path, errno: code });
}

/** E_INPUT_FILE for a path that is a directory — or, given its `stat`, any other kind that is not a regular file — saying which. */
export function notAFile(flag: string, path: string, st?: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): UsageError {
  if (!st || st.isDirectory()) return new UsageError('E_INPUT_FILE', `cannot read ${flag} ${path}: it is a directory, not a file`, { flag, path, errno: 'EISDIR' });
  const kind = st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isFIFO() ? 'a pipe' : st.isSocket() ? 'a socket' : 'not a file';
  return new UsageError('E_INPUT_FILE', `cannot read ${flag} ${path}: it is not a regular file (${kind})`, { flag, path });
}

/**
 * The bytes of a file a flag names (`--in`, `--offer`, `--child`, …), at most `max`: one
 * error for every flag — E_INPUT_FILE, exit 2, naming the flag and the path and saying why
 * (missing, a directory, no permission) — and E_INPUT_TOO_LARGE (exit 3) past `max`.
 */
export function readFlagFile(flag: string, path: string, max = MAX_INPUT_BYTES): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw fileError(flag, path, e);
  }
  if (st.isDirectory()) throw notAFile(flag, path);
  if (st.size > max) throw tooLarge(`${flag} ${path}`, max);
  try {
    return st.isFile() ? new Uint8Array(readFileSync(path)) : readUpTo(path, max, `${flag} ${path}`);
  } catch (e) {
    throw e instanceof MalformedInputError ? e : fileError(flag, path, e);
  }
}

/**
 * A file that is not a regular one — a pipe (`--in /dev/stdin`, `<(…)`), a FIFO, a device —
 * has no size to check first (stat says 0): read up to `max` and refuse one byte more, as
 * standard input is, rather than read on forever (`--in /dev/zero`).
 */
function readUpTo(path: string, max: number, what: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    // One 64 KiB scratch, each read copied out at its own length: a pipe hands over a few KiB
    // at a time, and a fresh 64 KiB buffer per read would hold up to ~16× the input.
    const scratch = Buffer.allocUnsafe(64 * 1024);
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      if (n === 0) return new Uint8Array(Buffer.concat(chunks, size));
      size += n;
      if (size > max) throw tooLarge(what, max);
      chunks.push(Buffer.from(scratch.subarray(0, n)));
    }
  } finally {
    closeSync(fd);
  }
}

/** Detect the format of `bytes`; `what` names them in a JSON error ("the input", "--offer FILE"). */
export function detectFormat(bytes: Uint8Array, what = 'the input'): InputDocument {
  if (startsWith(bytes, PSBT_MAGIC)) return { format: 'psbt', encoding: 'binary', psbt: bytes };
  const raw = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const text = raw.trim();
  if (text.length === 0) throw new MalformedInputError('E_EMPTY_INPUT', 'the input is empty: expected a JSON message or a PSBT');
  // Parsed untrimmed, so an error's line and column are those of the input as given.
  if (text.startsWith('{') || text.startsWith('[')) return parseJsonText(raw, what);
  // "psbt\xff" is cHNidP, then 8, 9, + or / by the top bits of the first key's length
  // (8 only while it is below 0x40: a global xpub record first, 79 bytes, gives 9).
  if (/^cHNidP[89+/][A-Za-z0-9+/=\s]*$/.test(text)) {
    try {
      return { format: 'psbt', encoding: 'base64', psbt: base64.decode(text.replace(/\s+/g, '')) };
    } catch {
      throw new MalformedInputError('E_MALFORMED_PSBT', 'the input looks like a base64 PSBT but is not valid base64');
    }
  }
  if (/^70736274ff[0-9a-fA-F\s]*$/i.test(text)) {
    const compact = text.replace(/\s+/g, '');
    if (compact.length % 2 !== 0) throw new MalformedInputError('E_MALFORMED_PSBT', 'the input looks like a hex PSBT but has an odd number of digits');
    return { format: 'psbt', encoding: 'hex', psbt: hex.decode(compact.toLowerCase()) };
  }
  throw new MalformedInputError(
    'E_UNKNOWN_FORMAT',
    'the input is neither a JSON message nor a PSBT (base64 "cHNidP8…", hex "70736274ff…" or binary)',
  );
}

function parseJsonText(text: string, what: string): InputDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (whole) {
    // Not one document. JSON Lines (one object per line) only if the first line is a whole
    // JSON value by itself; otherwise it is one (pretty-printed) document with an error in
    // it, reported at its line and column in the whole text.
    const lines = text.replace(/\s+$/, '').split(/\r?\n/);
    const nonEmpty = lines.filter((l) => l.trim().length > 0);
    if (nonEmpty.length > 1 && parsesAlone(nonEmpty[0]!)) {
      let n = 0;
      const values: unknown[] = [];
      for (const line of lines) {
        n++;
        if (line.trim().length > 0) values.push(parseJsonLine(line, n));
      }
      return { format: 'jsonl', values };
    }
    throw malformedJson(what, text, whole as Error);
  }
  refuseDuplicateNames(text, what);
  return { format: 'json', value };
}

/**
 * E_MALFORMED_JSON when a name appears twice in one object of `text` (a text JSON.parse
 * took): JSON.parse keeps the last, a filter in front of us may read the first — a body
 * whose first "type" is credit/abandon would pass it and be served as its last "type".
 */
function refuseDuplicateNames(text: string, what: string, lineNumber?: number): void {
  const dup = duplicateName(text);
  if (dup === undefined) return;
  if (dup === 'too deep') throw new MalformedInputError('E_MALFORMED_JSON', `${what} is nested too deeply to be a message`);
  const at = lineColumn(text, dup.offset);
  const line = lineNumber ?? at.line;
  throw new MalformedInputError('E_MALFORMED_JSON', `${what} names ${JSON.stringify(dup.name.slice(0, 64))} twice in one object, at ${lineNumber === undefined ? `line ${line}, ` : ''}column ${at.column}: readers disagree on which one counts, so neither does`, { line, column: at.column });
}

/** One JSON message read from `text` (`what` names it): E_MALFORMED_JSON with its line and column, or a name twice in one object. */
export function parseJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw malformedJson(what, text, e as Error);
  }
  refuseDuplicateNames(text, what);
  return value;
}

function parsesAlone(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** E_MALFORMED_JSON saying where, in line and column of the whole text (`what` names the text). */
export function malformedJson(what: string, text: string, error: Error): MalformedInputError {
  const { line, column } = jsonErrorPosition(text, error);
  return new MalformedInputError('E_MALFORMED_JSON', `${what} is not valid JSON at line ${line}, column ${column}: ${jsonReason(error)}`, { line, column });
}

export function parseJsonLine(line: string, lineNumber: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    const { column } = jsonErrorPosition(line, e as Error);
    throw new MalformedInputError('E_MALFORMED_JSON', `line ${lineNumber} is not valid JSON at column ${column}: ${jsonReason(e as Error)}`, { line: lineNumber, column });
  }
  refuseDuplicateNames(line, `line ${lineNumber}`, lineNumber);
  return value;
}

/** Passes bytes through, failing once a line runs past `max` bytes (readline would buffer it whole). */
function capLineLength(max: number, what: string): Transform {
  let run = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (run + nl - start > max) return done(tooLarge(what, max));
        run = 0;
        start = nl + 1;
      }
      run += chunk.length - start;
      if (run > max) return done(tooLarge(what, max));
      done(null, chunk);
    },
  });
}

/**
 * The input's lines one at a time, each with its number: blank lines are skipped (they still
 * count); a line over the size cap, or a read error, ends the iteration with that error.
 */
export async function* textLines(src: InputSource, opts: { max?: number; what?: string; noInput?: string } = {}): AsyncGenerator<{ line: number; text: string }> {
  let stream: Readable;
  if (src.path !== undefined && src.path !== '-') {
    stream = createReadStream(src.path);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e: NodeJS.ErrnoException) =>
        reject(fileError(src.flag ?? '--in', src.path!, e)),
      );
    });
  } else {
    if (src.stdin.isTTY) throw new UsageError('E_NO_INPUT', opts.noInput ?? 'pipe JSON Lines on standard input or pass --in FILE');
    stream = src.stdin;
  }
  const capped = stream.pipe(capLineLength(opts.max ?? MAX_INPUT_BYTES, opts.what ?? 'a JSON line'));
  const rl = createInterface({ input: capped, crlfDelay: Infinity });
  // readline ends its iteration quietly on an input error: remember it and throw it.
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    rl.close();
  };
  stream.once('error', fail);
  capped.once('error', fail);
  let n = 0;
  for await (const text of rl) {
    n++;
    if (text.trim().length === 0) continue;
    if (failure) break;
    yield { line: n, text };
  }
  if (failure) throw failure;
}

/** One item of a JSON Lines stream: its value, or why its line is not JSON (the stream goes on). */
export type JsonLine = { line: number; value: unknown } | { line: number; error: MalformedInputError };

/**
 * Stream JSON Lines one item at a time (bulk decoders: 100k items never sit in memory
 * at once). Blank lines are skipped (they still count in line numbers); a line that is
 * not JSON is an item carrying its error, so the consumer answers it and goes on; a
 * line over the size cap ends the stream.
 */
export async function* jsonLines(src: InputSource, max = MAX_INPUT_BYTES): AsyncGenerator<JsonLine> {
  for await (const { line, text } of textLines(src, { max })) {
    let item: JsonLine;
    try {
      item = { line, value: parseJsonLine(text, line) };
    } catch (e) {
      item = { line, error: e as MalformedInputError };
    }
    yield item;
  }
}
