/**
 * The README's shell blocks run as written (issue 7 item 6): the first pipeline and the
 * credit contract's blocks, each as `bash -euo pipefail`, with an `offchain` on PATH
 * that runs this checkout. A block that calls ./bin/run.js runs from the repository
 * root; one that calls `offchain` runs in an empty directory holding only a `fixtures`
 * link, as its text says, so it writes nothing into the checkout.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv } from './cli.ts';
import { shellQuote } from './process.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = (title: string) => {
  const start = readme.indexOf(`## ${title}`);
  expect(start, `README section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 3);
  return readme.slice(start, end === -1 ? undefined : end);
};
const shBlocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README shell blocks run as written', () => {
  const blocks = [
    ...shBlocks(section('A first pipeline: two parties sign a taproot spend')).map((b, i) => [`first pipeline #${i + 1}`, b] as const),
    ...shBlocks(section('The credit contract, in one page')).map((b, i) => [`credit contract #${i + 1}`, b] as const),
  ];
  it('finds the blocks it runs', () => expect(blocks.length).toBeGreaterThanOrEqual(3));

  for (const [name, block] of blocks) {
    it(name, () => {
      const sandbox = tempDir('offchain-readme-');
      const bin = join(sandbox.path, 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'offchain'), `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(BIN)} "$@"\n`);
      chmodSync(join(bin, 'offchain'), 0o755);
      const work = join(sandbox.path, 'work');
      mkdirSync(work);
      symlinkSync(join(ROOT, 'fixtures'), join(work, 'fixtures'));
      const cwd = block.includes('./bin/run.js') ? ROOT : work;
      const env = { ...cleanEnv({ NODE_ENV: '' }), PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block], { cwd, env, encoding: 'utf8', timeout: 120_000 });
      expect(r.status, `${name} exited ${r.status}\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim().length).toBeGreaterThan(0);
      expect(r.stderr).not.toMatch(/offchain: error/);
      sandbox.cleanup();
    });
  }
});
