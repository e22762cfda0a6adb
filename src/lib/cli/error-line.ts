/**
 * The one line an error becomes on standard error (docs/cli.md "Errors every command
 * shares"), written in one place for every path that reports one (a command's failure, an
 * unknown command, a parse error, a configuration file, a failed write):
 *
 *   offchain: error E_CODE: message
 *
 * or, with --json-errors / OFFCHAIN_JSON_ERRORS=1 (for scripts), one JSON line in the shape
 * the services answer refusals with (src/topics/serve/service.ts `refusal`):
 *
 *   {"type":"error","version":1,"code":"E_CODE","exit_code":2,"message":"…"}
 *
 * The exit code is the same either way, and standard output stays empty. A value the
 * message echoes (an unexpected argument, a flag's value) is cut to its first 80
 * characters and its length, so a 100 kB PSBT given as an argument does not come back whole.
 */

/** Longer than this, one word of a message (no whitespace) is an echoed value, not prose. */
const LONGEST_WORD = 120;
const KEPT = 80;

/** `--json-errors` before any `--`, or OFFCHAIN_JSON_ERRORS=1: read before oclif parses, so a parse error is JSON too. */
export function jsonErrorsWanted(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const end = argv.indexOf('--');
  const words = end === -1 ? argv : argv.slice(0, end);
  return words.includes('--json-errors') || env.OFFCHAIN_JSON_ERRORS === '1';
}

/** Each word over LONGEST_WORD characters: its first KEPT and "… (N bytes)". */
export function clipEchoes(message: string): string {
  return message.replace(new RegExp(`\\S{${LONGEST_WORD + 1},}`, 'g'), (word) => `${word.slice(0, KEPT)}… (${Buffer.byteLength(word)} bytes)`);
}

/** The error's line, newline included. `red` colours the prefix on a terminal (plain text only). */
export function errorLine(code: string, message: string, exitCode: number, opts: { json: boolean; red?: (s: string) => string }): string {
  const text = clipEchoes(message);
  if (opts.json) return `${JSON.stringify({ type: 'error', version: 1, code, exit_code: exitCode, message: text })}\n`;
  return `${(opts.red ?? ((s: string) => s))('offchain: error')} ${code}: ${text}\n`;
}

/** Write it for this process (its argv and environment decide the form). */
export function reportError(code: string, message: string, exitCode: number, red?: (s: string) => string): void {
  process.stderr.write(errorLine(code, message, exitCode, { json: jsonErrorsWanted(process.argv, process.env), ...(red ? { red } : {}) }));
}
