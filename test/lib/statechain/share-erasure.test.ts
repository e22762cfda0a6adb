/**
 * Issue 22, deliver 7: the operator's old share is erased at rotation — the replaced
 * record's bytes overwritten with zeros, then removed — not only renamed over. The test
 * holds a descriptor open on the old record before the rotation: after it, reading that
 * inode gives zeros (a plain atomic rename would leave the old share readable there).
 * Crash leftovers: a link to the live file is only unlinked (the live share survives), a
 * link to an old version is erased.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, openSync, readSync, closeSync, writeFileSync, linkSync, existsSync, readFileSync, fstatSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPLACED_SUFFIX, updateErasingReplaced } from '../../../src/lib/store/erase-on-replace.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'sc-erase-'));
  dirs.push(d);
  return d;
};

/** Everything the inode behind `fd` holds now. */
function bytesBehind(fd: number): Buffer {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  readSync(fd, buf, 0, size, 0);
  return buf;
}

const OLD = { share_secret: 'aa'.repeat(32), n: 1 };
const NEXT = { share_secret: 'bb'.repeat(32), n: 2 };

describe('the operator\'s replaced share is erased, not only renamed over', () => {
  it('a rotation zeroes the old record\'s inode and removes it; the new record is in place', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'op-c.json'), JSON.stringify(OLD));
    const fd = openSync(join(dir, 'op-c.json'), 'r');
    try {
      expect(bytesBehind(fd).toString()).toContain('aa'.repeat(32));
      await updateErasingReplaced(dir, 'op-c', async () => ({ next: NEXT, erase: true }));
      const left = bytesBehind(fd);
      expect(left.length).toBeGreaterThan(64);
      expect(left.every((b) => b === 0)).toBe(true);
    } finally {
      closeSync(fd);
    }
    expect(JSON.parse(readFileSync(join(dir, 'op-c.json'), 'utf8'))).toEqual(NEXT);
    expect(existsSync(join(dir, `op-c.json${REPLACED_SUFFIX}`))).toBe(false);
  });

  it('a replace asked not to erase (a document holding no secret; the operator erases every op- version) does not zero the old inode', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'op-c.json'), JSON.stringify(OLD));
    const fd = openSync(join(dir, 'op-c.json'), 'r');
    try {
      await updateErasingReplaced(dir, 'op-c', async () => ({ next: { ...OLD, n: 3 }, erase: false }));
      expect(bytesBehind(fd).toString()).toContain('aa'.repeat(32));
    } finally {
      closeSync(fd);
    }
  });

  it('a step that returns the very record it was given (a repeated request answered from it) writes nothing: same inode, same bytes, no link left', async () => {
    const dir = fresh();
    const live = join(dir, 'op-c.json');
    const text = `${JSON.stringify(OLD, null, 1)}\n`; // a layout the store would not write itself: a rewrite shows
    writeFileSync(live, text);
    const ino = statSync(live).ino;
    const out = await updateErasingReplaced(dir, 'op-c', async (current) => ({ next: current!, erase: true }));
    expect(out).toEqual(OLD);
    expect([statSync(live).ino, readFileSync(live, 'utf8')]).toEqual([ino, text]);
    expect(existsSync(`${live}${REPLACED_SUFFIX}`)).toBe(false);
    // An equal copy is a new version all the same: written (and the old one erased).
    await updateErasingReplaced(dir, 'op-c', async (current) => ({ next: { ...current! }, erase: true }));
    expect(statSync(live).ino).not.toBe(ino);
    expect(readFileSync(live, 'utf8')).not.toBe(text);
  });

  it('after a crash: a leftover link to the live record is only unlinked; one to an old version is erased', async () => {
    const dir = fresh();
    const live = join(dir, 'op-c.json');
    const left = `${live}${REPLACED_SUFFIX}`;
    writeFileSync(live, JSON.stringify(OLD));
    linkSync(live, left); // crashed between the link and the write
    await updateErasingReplaced(dir, 'op-c', async (current) => {
      expect(current).toEqual(OLD); // the live share survived the cleanup
      return { next: current!, erase: false };
    });
    expect(existsSync(left)).toBe(false);
    // Crashed between the write and the erasure: the link holds the old version.
    writeFileSync(left, JSON.stringify(OLD));
    writeFileSync(live, JSON.stringify(NEXT));
    const fd = openSync(left, 'r');
    try {
      await updateErasingReplaced(dir, 'op-c', async (current) => ({ next: current!, erase: false }));
      expect(bytesBehind(fd).every((b) => b === 0)).toBe(true);
    } finally {
      closeSync(fd);
    }
    expect(existsSync(left)).toBe(false);
    expect(JSON.parse(readFileSync(live, 'utf8'))).toEqual(NEXT);
  });
});
