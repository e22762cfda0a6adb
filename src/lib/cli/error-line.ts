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
 * A service (`serve …`) logs JSON on standard error, so there every line — this one and the
 * terminal's notes (./terminal.ts) — is one JSON object in the shape of the service's own log
 * (pino's): `{"level":50,"time":"…","role":"mint","code":"E_CODE","exit_code":2,"msg":"E_CODE: …"}`
 * (`logLinesAsJson`, called by the serve commands before they parse their flags).
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

/** pino's level numbers: a line below the service's --log-level is not written. */
export const LOG_LEVELS = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

let jsonLog: { role: string; min: number } | undefined;

/** From now on this process's standard error is a JSON log (a service's): each line one object in pino's shape. */
export function logLinesAsJson(role: string): void {
  jsonLog = { role, min: jsonLog?.min ?? LOG_LEVELS.info };
}

/** Whether this process's standard error is a JSON log (no progress line is drawn there). */
export const loggingJson = (): boolean => jsonLog !== undefined;

/** The service's --log-level, once its flags are read ('silent': no line at all). */
export function jsonLogLevel(level: string): void {
  if (jsonLog) jsonLog.min = level === 'silent' ? Infinity : LOG_LEVELS[level as LogLevel] ?? LOG_LEVELS.info;
}

/**
 * A line of the JSON log, or undefined when this process writes plain lines; '' when its level
 * is below the service's. Fields after the level, time and role, `msg` last, as pino writes them.
 */
export function jsonLogLine(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): string | undefined {
  if (!jsonLog) return undefined;
  if (LOG_LEVELS[level] < jsonLog.min) return '';
  return `${JSON.stringify({ level: LOG_LEVELS[level], time: new Date().toISOString(), role: jsonLog.role, ...fields, msg })}\n`;
}

/** Write it for this process (its argv and environment decide the form; a service's, its JSON log). */
export function reportError(code: string, message: string, exitCode: number, red?: (s: string) => string): void {
  const logged = jsonLogLine(exitCode === 1 ? 'fatal' : 'error', `${code}: ${clipEchoes(message)}`, { code, exit_code: exitCode });
  process.stderr.write(logged ?? errorLine(code, message, exitCode, { json: jsonErrorsWanted(process.argv, process.env), ...(red ? { red } : {}) }));
}
