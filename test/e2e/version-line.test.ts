/**
 * `offchain --version` (bin/run.js printVersion) writes its line straight to descriptor 1, without
 * Node's module loader or process.stdout, and must still behave as the stream did: a descriptor the
 * parent left non-blocking and full (EAGAIN) gets the line whole once the reader drains it; a reader
 * that left (EPIPE) is quiet, exit 0; any other failure (/dev/full) is one coded line, exit 1.
 */
import { spawnSync } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { BIN, cleanEnv, run } from './cli.ts';

const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const LINE = `offchain/${version} ${process.platform}-${process.arch} node-${process.version} (supports Node.js 22.12+, tested on 22, 24 and 26)\n`;

describe('the version line, written to descriptor 1', () => {
  it('is the package.json version, platform and Node (and what is supported), on a pipe', () => {
    const r = run(['--version']);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: LINE, stderr: '' });
  });

  it('/dev/full: one coded line naming ENOSPC, exit 1, as the stream reported it', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, '--version'], { env: cleanEnv(), cwd: ROOT, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('offchain: error E_INTERNAL: ENOSPC: no space left on device, write (rerun with --debug for details)\n');
    } finally {
      closeSync(fd);
    }
  });

  const PYTHON = spawnSync('python3', ['--version']).status === 0;
  // The parent (python3: Node's child_process hands a child blocking descriptors) fills a
  // non-blocking pipe before the child starts, so its first write meets EAGAIN, then drains it.
  it.skipIf(!PYTHON)('a non-blocking pipe already full (EAGAIN): the line arrives whole after the filler', () => {
    const parent = [
      'import os, subprocess, sys',
      'r, w = os.pipe()',
      'os.set_blocking(w, False)',
      'filled = 0',
      'while True:',
      '    try:',
      "        filled += os.write(w, b'x' * 4096)",
      '    except BlockingIOError:',
      '        break',
      'child = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)',
      'os.close(w)',
      'out = []',
      'while True:',
      '    b = os.read(r, 1 << 16)',
      '    if not b:',
      '        break',
      '    out.append(b)',
      "data = b''.join(out)",
      "assert data[:filled] == b'x' * filled",
      'sys.stdout.buffer.write(data[filled:])',
      'sys.stderr.buffer.write(child.stderr.read())',
      'sys.exit(child.wait())',
    ].join('\n');
    const r = spawnSync('python3', ['-c', parent, process.execPath, BIN, '--version'], { env: cleanEnv(), cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: LINE, stderr: '' });
  });

  it.skipIf(!PYTHON)('a reader that already left (EPIPE): nothing on stderr, exit 0', () => {
    const parent = [
      'import os, subprocess, sys',
      'r, w = os.pipe()',
      'os.close(r)',
      'child = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)',
      'os.close(w)',
      'sys.stderr.buffer.write(child.stderr.read())',
      'sys.exit(child.wait())',
    ].join('\n');
    const r = spawnSync('python3', ['-c', parent, process.execPath, BIN, '--version'], { env: cleanEnv(), cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });
});
