/**
 * Input size is capped (issue 11: a 512 MB input used 1.3 GB before failing): a document
 * or a JSON line past the cap is refused with E_INPUT_TOO_LARGE (exit 3) as soon as
 * the cap is passed, without holding the rest.
 */
import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { MAX_INPUT_BYTES, jsonLines, readInputBytes } from '../../../src/lib/cli/input.ts';
import { ROOT, tempDir } from '../../helpers.ts';

/** A stream of `total` bytes in 64 KiB chunks, counting how much was pulled from it. */
function source(total: number, fill = 0x7b) {
  const pulled = { bytes: 0 };
  const chunk = Buffer.alloc(64 * 1024, fill);
  const stream = Readable.from((function* () {
    for (let sent = 0; sent < total; sent += chunk.length) {
      pulled.bytes += chunk.length;
      yield chunk;
    }
  })());
  return { stream: Object.assign(stream, { isTTY: false }), pulled };
}

describe('input size cap', () => {
  it('reads a document of exactly the cap, refuses one byte more (E_INPUT_TOO_LARGE, exit 3) without reading on', async () => {
    const max = 256 * 1024;
    await expect(readInputBytes({ path: undefined, stdin: source(max).stream }, max)).resolves.toHaveLength(max);
    const big = source(10 * max);
    await expect(readInputBytes({ path: undefined, stdin: big.stream }, max)).rejects.toMatchObject({ code: 'E_INPUT_TOO_LARGE', exitCode: 3 });
    expect(big.pulled.bytes).toBeLessThanOrEqual(max + 128 * 1024);
  });

  it('refuses an --in file over the cap by its size, before reading it', async () => {
    const dir = tempDir('offchain-cap-');
    try {
      const path = join(dir.path, 'big');
      writeFileSync(path, Buffer.alloc(1025, 0x7b));
      await expect(readInputBytes({ path, stdin: process.stdin }, 1024)).rejects.toMatchObject({ code: 'E_INPUT_TOO_LARGE', exitCode: 3, message: expect.stringContaining(`--in ${path}`) });
    } finally {
      dir.cleanup();
    }
  });

  it('an --in that is no regular file (a device, a pipe: no size to check first) is read up to the cap, and refused one byte past it', async () => {
    // /dev/zero never ends: refused once the cap is passed instead of read forever.
    await expect(readInputBytes({ path: '/dev/zero', stdin: process.stdin }, 1024)).rejects.toMatchObject({ code: 'E_INPUT_TOO_LARGE', exitCode: 3 });
    // A pipe named as a file (a shell's pipe: node's own stdin input is a socket, which /dev/stdin cannot reopen).
    const dir = tempDir('offchain-cap-pipe-');
    try {
      const script = join(dir.path, 'read.ts');
      writeFileSync(script, `import { readInputBytes } from ${JSON.stringify(join(ROOT, 'src/lib/cli/input.ts'))};\n` +
        "readInputBytes({ path: '/dev/stdin', stdin: process.stdin }, Number(process.argv[2])).then((b) => process.stdout.write(String(b.length)), (e) => process.stdout.write(e.code));\n");
      const piped = (max: number) => spawnSync('sh', ['-c', `head -c 1025 /dev/zero | "${process.execPath}" --import tsx "${script}" ${max}`], { cwd: ROOT, encoding: 'utf8' });
      expect(piped(2048).stdout).toBe('1025');
      expect(piped(1024).stdout).toBe('E_INPUT_TOO_LARGE');
    } finally {
      dir.cleanup();
    }
  });

  it('JSON Lines: short lines stream through; one line over the cap fails the stream with E_INPUT_TOO_LARGE', async () => {
    const lines = Readable.from(['{"a":1}\n{"a":2}\n', '{"a":3}\n']);
    const got: unknown[] = [];
    for await (const item of jsonLines({ path: undefined, stdin: Object.assign(lines, { isTTY: false }) }, 16)) got.push('value' in item ? item.value : item.error);
    expect(got).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    const long = Readable.from(['{"a":1}\n', '{"b":"' + 'x'.repeat(20) + '"}\n']);
    const seen: unknown[] = [];
    await expect((async () => {
      for await (const item of jsonLines({ path: undefined, stdin: Object.assign(long, { isTTY: false }) }, 16)) seen.push('value' in item ? item.value : item.error);
    })()).rejects.toMatchObject({ code: 'E_INPUT_TOO_LARGE', exitCode: 3 });
    // Nothing from the long line on is delivered (the line before it may or may not be).
    expect([{ a: 1 }].slice(0, seen.length)).toEqual(seen);
  });

  it('a line that is not JSON is an item carrying E_MALFORMED_JSON with its line number, and the stream goes on', async () => {
    const input = Readable.from(['{"a":1}\n', 'not json\n', '\n', '{"a":2}\n']);
    const got: unknown[] = [];
    for await (const item of jsonLines({ path: undefined, stdin: Object.assign(input, { isTTY: false }) })) {
      got.push('value' in item ? { line: item.line, value: item.value } : { line: item.line, code: item.error.code, exitCode: item.error.exitCode });
    }
    expect(got).toEqual([{ line: 1, value: { a: 1 } }, { line: 2, code: 'E_MALFORMED_JSON', exitCode: 3 }, { line: 4, value: { a: 2 } }]);
  });

  // As an operator's shell runs it: without vitest's NODE_ENV=test, under which oclif looks for
  // TypeScript sources behind every command (test/e2e/cli.ts cleanEnv says more).
  const operatorEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_ENV'));

  it('the CLI refuses 33 MiB on stdin with one coded line, exit 3, nothing on stdout', () => {
    expect(MAX_INPUT_BYTES).toBe(32 * 1024 * 1024);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/run.js'), 'psbt', 'decode'], { input: Buffer.alloc(MAX_INPUT_BYTES + 1024 * 1024, 0x7b), env: operatorEnv(), encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 3, stdout: '' });
    expect(r.stderr.trim()).toMatch(/^offchain: error E_INPUT_TOO_LARGE: the input is larger than 33554432 bytes/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
