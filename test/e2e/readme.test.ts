/**
 * The README's and docs/*.md's shell blocks run as written (issue 7 item 6, issue 28
 * item 6): every ```sh block, each as `bash -euo pipefail`, with an `offchain` on PATH that
 * runs this checkout, in a new mktemp -d holding only `fixtures` and `bin` links (as a
 * fresh clone would have them). It runs a second time, in a new work directory with HOME
 * and TMPDIR shared with the first, when the first left something there the second would
 * meet, or when its output varies (golden.ts) — so a block that leaves something behind for
 * its second run fails here. The demo contract blocks open first (fixtures/credit/open-demo.sh)
 * is opened once and copied in place of that line where demo-copy.ts says.
 *
 * A block that cannot run on its own (it needs a node, a wallet, the other party, or is a
 * fragment with your values in it) is marked on the line before it with
 * `<!-- illustrative: why -->`; the reason is required, and the count of blocks run is
 * asserted so marking cannot quietly empty this test. A block that needs a node and runs as
 * written against the quick start's is marked `<!-- quickstart: why -->` and run by
 * test/regtest/doc-nodes.test.ts instead (doc-blocks.ts).
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT, tempDir } from '../helpers.ts';
import { BIN, cleanEnv, finished } from './cli.ts';
import { shellQuote } from './process.ts';
import { leftState, outputDigest, snapshotsThatVary } from './golden.ts';
import { OPEN_DEMO, openedDemo, pastedDemoSample, withOpenedDemo } from './demo-copy.ts';
import { DOCS, blocksOf } from './doc-blocks.ts';
import { asRunElsewhere } from './doc-blocks-operators.ts'; // `quickstart-operators:` blocks: test/regtest/doc-nodes-operators.test.ts

const blocks = DOCS.flatMap(blocksOf).map(asRunElsewhere);
const runnable = blocks.filter((b) => b.illustrative === undefined && b.quickstart === undefined);
/** Blocks that need a node run against the quick start's nodes in test/regtest/doc-nodes.test.ts, not here. */
const quickstart = blocks.filter((b) => b.quickstart !== undefined);
/** The blocks whose output the snapshot says varies between two runs (golden.ts: they run twice). */
const varies = snapshotsThatVary(join(ROOT, 'test/e2e/__snapshots__/readme.test.ts.snap'));

/** The environment every block runs in (HOME and TMPDIR are the block's own). */
const baseEnv = () => ({ ...cleanEnv({ NODE_ENV: '' }), PATH: process.env.PATH ?? '/usr/bin:/bin' });
/** The one varying block that runs the demo line as pasted in its first run (demo-copy.ts); the others copy the demo both times. */
const pastedDemo = pastedDemoSample(runnable, (b) => b.code, (b) => varies.has(`README and docs shell blocks > ${b.file} block ${b.n} runs 1`));

describe('README and docs shell blocks', () => {
  it('finds the blocks it runs; every block not run says why', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(20);
    expect(runnable.length).toBeGreaterThanOrEqual(6);
    for (const b of blocks) if (b.illustrative !== undefined) expect(b.illustrative.trim().length, `${b.file}:${b.line}`).toBeGreaterThan(10);
    // Counted apart: a `quickstart:` block is run, by test/regtest/doc-nodes.test.ts (which asserts its own
    // count), so it leaves `runnable` without being illustrative; every block is one of the three.
    expect(quickstart.length).toBeGreaterThanOrEqual(1);
    for (const b of quickstart) expect(b.quickstart!.trim().length, `${b.file}:${b.line}`).toBeGreaterThan(10);
    expect(runnable.length + quickstart.length + blocks.filter((b) => b.illustrative !== undefined).length).toBe(blocks.length);
  });

  it('names no internal document (the brief, its sections, its seeds), and --help neither', () => {
    const internal = /\bBRIEF\b|§\s?\d|\bseed 00\d\b/;
    for (const file of DOCS) expect(readFileSync(join(ROOT, file), 'utf8'), file).not.toMatch(internal);
    expect(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')).not.toMatch(internal);
  });

  it('the README says what is built, not "planned"', () => {
    const intro = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n## ')[0]!;
    expect(intro).not.toMatch(/\bplanned\b/);
    for (const word of ['statechain', 'HTLC', 'commitment', 'onion', 'Open Assets', 'PTLC', 'TRUC']) expect(intro.toLowerCase()).toContain(word.toLowerCase());
  });

  it('no block writes to a fixed /tmp path or changes modes of repository files', () => {
    for (const b of runnable) {
      expect(b.code, `${b.file}:${b.line}`).not.toMatch(/(^|[\s=])\/tmp\//);
      expect(b.code, `${b.file}:${b.line}`).not.toMatch(/\bchmod\b[^;&|\n]*\bfixtures\//);
    }
  });

  for (const b of runnable) {
    const title = `${b.file} block ${b.n} runs`;
    it(title, async () => {
      const sandbox = tempDir('offchain-docs-');
      try {
        const bin = join(sandbox.path, 'path');
        mkdirSync(bin);
        writeFileSync(join(bin, 'offchain'), `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(BIN)} "$@"\n`);
        chmodSync(join(bin, 'offchain'), 0o755);
        mkdirSync(join(sandbox.path, 'home'));
        mkdirSync(join(sandbox.path, 'tmp'));
        const env = { ...baseEnv(), PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: join(sandbox.path, 'home'), TMPDIR: join(sandbox.path, 'tmp') };
        const outputs: string[] = [];
        const varying = varies.has(`README and docs shell blocks > ${title} 1`);
        // As written, but for the demo contract's line (demo-copy.ts): a varying block's first run is all as written,
        // the demo line itself in one of them (pastedDemo), which must open the contract the others copy.
        const asWritten = varying && (!b.code.includes(OPEN_DEMO) || b === pastedDemo);
        const withDemo = async (firstRun?: string) => (b.code.includes(OPEN_DEMO) ? withOpenedDemo(b.code, openedDemo(), firstRun) : b.code);
        // A varying block run twice within one second can print the same bytes (a clock in seconds is what varies):
        // a third run, a second later, tells it from a block that no longer varies.
        const rounds = () => (varying && outputs.length === 2 && outputs[0] === outputs[1] ? 3 : 2);
        for (let round = 1; round <= rounds(); round++) {
          if (round === 3) await new Promise((resolve) => setTimeout(resolve, 1_100));
          const code = round === 1 ? (asWritten ? b.code : await withDemo()) : await withDemo(asWritten ? env.TMPDIR : undefined);
          const work = join(sandbox.path, `work-${round}`);
          mkdirSync(work);
          symlinkSync(join(ROOT, 'fixtures'), join(work, 'fixtures'));
          symlinkSync(join(ROOT, 'bin'), join(work, 'bin'));
          // Asynchronously, so a block's seconds do not block the test worker (a blocked worker misses vitest's RPC
          // deadline under load); its own process group, so the time limit kills the whole block.
          const child = spawn('bash', ['-euo', 'pipefail', '-c', code], { cwd: work, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
          child.stdin.end();
          const r = await finished(child, `${b.file} block ${b.n}`, 120_000, { group: true });
          expect(r.status, `run ${round} exited ${r.status}: ${code}\n${r.stderr}`).toBe(0);
          expect(r.stdout.trim().length).toBeGreaterThan(0);
          outputs.push(r.stdout);
          expect(r.stderr).not.toMatch(/offchain: error/);
          if (round === 1 && !varying && !leftState(env.HOME, env.TMPDIR)) break;
        }
        // The bytes the block prints, as they were (golden.ts).
        expect(outputDigest(outputs[0]!, outputs.at(-1)!)).toMatchSnapshot();
      } finally {
        sandbox.cleanup();
      }
    }, 240_000);
  }
});
