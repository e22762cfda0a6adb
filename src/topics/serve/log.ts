/**
 * A service's standard error is its JSON log (docs/serve.md): every line one JSON object, so a
 * log shipper never meets a line it cannot parse. The service's own log is pino's (./service.ts);
 * what the process writes besides — its error line when it fails to start, the terminal's notes
 * and warnings, Node's process warnings, an error nothing caught — takes the same shape here
 * (lib/cli/error-line.ts jsonLogLine). Standard output carries the serve/listening line only.
 *
 * Not covered: `--debug`'s stack after a failure (a developer's switch, plain text on purpose).
 */
import { jsonLogLine, logLinesAsJson } from '../../lib/cli/error-line.ts';

/** Called by `serve <role>` before it parses its flags, so a flag's refusal is a JSON line too. */
export function serveLogsJson(role: string): void {
  logLinesAsJson(role);
  // Node's own printer of process warnings ("(node:123) Warning: …") replaced by a line of the log.
  for (const l of process.listeners('warning')) process.off('warning', l);
  process.on('warning', (w) => process.stderr.write(jsonLogLine('warn', w.message, { warning: w.name }) ?? ''));
  // Before bin/run.js's last resort (a plain coded line): the same exit, the line as JSON.
  const last = (e: unknown) => {
    if ((e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    const message = String((e as Error | undefined)?.message ?? e).split('\n')[0]!.trim();
    try {
      process.stderr.write(jsonLogLine('fatal', `E_INTERNAL: ${message}`, { code: 'E_INTERNAL', exit_code: 1 }) ?? '');
    } finally {
      process.exit(process.exitCode && process.exitCode !== 0 ? process.exitCode : 1);
    }
  };
  process.prependListener('uncaughtException', last);
  process.prependListener('unhandledRejection', last);
}
