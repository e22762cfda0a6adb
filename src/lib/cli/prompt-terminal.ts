/**
 * Where the hidden key prompt may appear (BRIEF "Secrets"; issue 7 item 6).
 *
 * - Never when standard input or standard output is a pipe (or a socket, which is what a
 *   parent process's pipes are): the brief forbids it, and a step in a pipeline must
 *   never stop to wait for a person. This is where we part from ssh and gpg, which ask
 *   on /dev/tty even then.
 * - Otherwise on the terminal of standard input and standard error when both are one
 *   (standard output may be redirected to a file: `offchain key show > me.json` asks).
 * - Otherwise on the controlling terminal, /dev/tty, when the process has one (both
 *   standard streams redirected to files, as ssh and gpg do); a job without a terminal
 *   (cron, CI, a service) has none and gets E_NO_KEY at once.
 */
import { fstatSync, openSync, closeSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';

export type PromptTerminal = {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Release what was opened for the prompt (nothing for the standard streams). */
  close(): void;
};

/** Is file descriptor `fd` a pipe or a socket? An unreadable descriptor counts as one: no prompt. */
function isPipe(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isSocket();
  } catch {
    return true;
  }
}

/** Whether a prompt may appear at all: neither stdin nor stdout is a pipe. */
export function promptAllowed(): boolean {
  return !isPipe(0) && !isPipe(1);
}

/** The terminal to prompt on, or undefined when there is none (or a prompt is not allowed). */
export function openPromptTerminal(): PromptTerminal | undefined {
  if (!promptAllowed()) return undefined;
  if (process.stdin.isTTY && process.stderr.isTTY) return { input: process.stdin, output: process.stderr, close: () => {} };
  let inFd: number | undefined;
  let outFd: number | undefined;
  try {
    inFd = openSync('/dev/tty', 'r');
    outFd = openSync('/dev/tty', 'w');
  } catch {
    for (const fd of [inFd, outFd]) if (fd !== undefined) closeSync(fd);
    return undefined; // no controlling terminal
  }
  const input = new ReadStream(inFd);
  const output = new WriteStream(outFd);
  return {
    input,
    output,
    close: () => {
      input.destroy();
      output.destroy();
    },
  };
}
