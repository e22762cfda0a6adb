/**
 * Writing the result to standard output, with its failures coded (BRIEF §2: errors are
 * one line with a stable code, never a stack trace or a dump of the bundle's source).
 *
 * - A write that fails (a full disk: `> /dev/full` is ENOSPC; an I/O error; a bad
 *   descriptor) is E_OUTPUT_WRITE, exit 1: the result did not reach its reader, so the
 *   command did not succeed. Node writes a file synchronously (the error is thrown) and a
 *   pipe or terminal asynchronously (the error comes to the callback or as an 'error'
 *   event); every path ends in the same error.
 * - EPIPE — the reader went away (`| head -1`) — is the one quiet case, as Unix tools
 *   treat it: no message, and the exit code the command had.
 *
 * What this cannot see: a stdout closed before start (`>&-`). Node reopens descriptors
 * 0–2 on /dev/null (read-write) before any of our code runs, exactly as a parent that
 * discards the output opens it (Node's `stdio: 'ignore'`, Python's
 * `subprocess.DEVNULL`); the two are indistinguishable from inside the process, so the
 * output goes to /dev/null as the parent asked.
 */
import { ExitCode, OffchainError } from '../errors.ts';

/** The result could not be written to standard output. Exit 1. */
export class OutputWriteError extends OffchainError {
  constructor(cause: NodeJS.ErrnoException) {
    super('E_OUTPUT_WRITE', `cannot write the result to standard output: ${describeErrno(cause)}; nothing was written whole, so do not use what reached it`, ExitCode.general, {
      errno: cause.code,
    });
  }
}

/** The reader closed the pipe: not our failure (the quiet case). */
export class BrokenPipe extends Error {
  constructor() {
    super('standard output was closed by its reader (EPIPE)');
  }
}

const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device (ENOSPC)',
  EIO: 'input/output error (EIO)',
  EBADF: 'standard output is not open for writing (EBADF)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
  EFBIG: 'file too large (EFBIG)',
  EAGAIN: 'standard output would block (EAGAIN)',
};

function describeErrno(e: NodeJS.ErrnoException): string {
  return (e.code && ERRNO_WORDS[e.code]) ?? (e.code ? `${e.code}` : e.message.split('\n')[0]!);
}

/** The coded error for a failed write (BrokenPipe for EPIPE). */
export function outputFailure(e: unknown): Error {
  if (e instanceof OutputWriteError || e instanceof BrokenPipe) return e;
  const errno = e as NodeJS.ErrnoException;
  if (errno?.code === 'EPIPE') return new BrokenPipe();
  return new OutputWriteError(errno instanceof Error ? errno : Object.assign(new Error(String(e)), { code: undefined }));
}

/**
 * Write `text` to `out` (standard output) and resolve once it has been handed to the
 * kernel; reject with OutputWriteError / BrokenPipe if it could not be.
 */
export function writeOutput(text: string, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (e?: unknown) => {
      if (settled) return;
      settled = true;
      out.off('error', settle);
      if (e === undefined || e === null) resolve();
      else reject(outputFailure(e));
    };
    out.on('error', settle);
    try {
      out.write(text, (e) => settle(e ?? undefined));
    } catch (e) {
      settle(e);
    }
  });
}

/**
 * Write one line of a streamed output without waiting (a stream writes many); a failure
 * thrown now is coded here, one that comes later reaches `onLateError`'s listener.
 */
export function writeOutputLine(text: string, out: NodeJS.WriteStream = process.stdout): void {
  try {
    out.write(text);
  } catch (e) {
    throw outputFailure(e);
  }
}

/**
 * Install, once, the listener for a write error that arrives after the writer moved on
 * (a pipe's asynchronous error while a stream keeps writing): `report` is called with
 * the coded error. Without a listener Node would crash with the error's stack.
 */
export function onLateOutputError(report: (e: Error) => void, opts: { replace?: boolean } = {}, out: NodeJS.WriteStream = process.stdout): void {
  const key = Symbol.for('offchain.stdout-error-listener');
  const holder = out as unknown as Record<symbol, boolean>;
  if (holder[key]) return;
  holder[key] = true;
  // oclif's own listener rethrows every error but EPIPE (an uncaught exception): the CLI's replaces it.
  if (opts.replace) out.removeAllListeners('error');
  out.on('error', (e) => report(outputFailure(e)));
}
