/**
 * The one reader of a file someone else drops into a directory a watcher reads at every round —
 * the keyless tower's exports (./tower.ts) and the channel party's preimages (./preimages.ts): a
 * regular file (a link to one too) of at most `max` bytes, opened without blocking and checked as
 * opened. A FIFO (open and read would wait for a writer forever), a device (/dev/zero never ends),
 * a file over the limit or grown past it since its stat: `code`, never a round that hangs or fills
 * memory. The messages name sizes and kinds, never a byte of the content; `oneLine` makes a line
 * naming such a file safe to log (whoever drops a file chooses its name).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { MalformedInputError } from '../../lib/errors.ts';

/** `line` with its control characters as \uXXXX: a file's name never breaks a log line in two or moves a terminal's cursor. */
export function oneLine(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export async function readRegularFile(path: string, o: { max: number; code: string; writer: string }): Promise<Uint8Array> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new MalformedInputError(o.code, 'not a regular file');
    if (st.size > o.max) throw new MalformedInputError(o.code, `${st.size} bytes, more than is read here (${o.max})`);
    // One byte more than its size: a file still growing is seen as such (read again once it has settled), never cut.
    const buf = new Uint8Array(st.size + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length;) n += (got = (await fh.read(buf, n, buf.length - n, n)).bytesRead);
    if (n > st.size) throw new MalformedInputError(o.code, `it grew while read (${o.writer})`);
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
