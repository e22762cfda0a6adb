/**
 * docs/credit.md's message examples are the demo's output (issue 7, item 6): run
 * scripts/demo.sh (offline, OFFCHAIN_TEST_SEED=demo) and check that every
 * "**`credit/…`**" example block is, byte for byte, one of the messages of that type the
 * demo printed — so the docs cannot drift from what the commands print.
 *
 * Requires `npm run build` (the demo runs bin/run.js → dist/).
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { assertFreshBuild, cleanEnv } from './cli.ts';
import { runShellAsync, shellQuote } from './process.ts';

/** The pretty-printed JSON messages in `text`, one after another, as printed. */
function messages(text: string): { type: string; text: string }[] {
  const out: { type: string; text: string }[] = [];
  let start = -1;
  for (const line of text.split('\n')) {
    if (line === '{') start = out.length, out.push({ type: '', text: line });
    else if (start >= 0) {
      out[start]!.text += `\n${line}`;
      if (line === '}') start = -1;
    }
  }
  for (const m of out) m.type = (JSON.parse(m.text) as { type: string }).type;
  return out;
}

describe('docs/credit.md examples', () => {
  it('every credit message example is the demo\'s output', async () => {
    assertFreshBuild();
    // cleanEnv: without vitest's NODE_ENV=test, under which oclif looks for TypeScript sources
    // behind every command (each of the demo's CLI processes then costs ~3x), and which no
    // operator's shell has; without a developer's own OFFCHAIN_* settings.
    const env = cleanEnv({ NO_COLOR: '1', OFFCHAIN_TEST_SEED: 'demo' });
    // Asynchronously, so the demo's ~20 s do not block the test worker (test/setup/breathe.ts).
    const r = await runShellAsync(`sh ${shellQuote(join(ROOT, 'scripts/demo.sh'))}`, { cwd: ROOT, env, timeoutMs: 180_000, shell: 'sh' });
    expect(r.status, r.stderr).toBe(0);
    const printed = messages(r.stdout);
    const doc = readFileSync(join(ROOT, 'docs/credit.md'), 'utf8');
    const examples = [...doc.matchAll(/\*\*`(credit\/[a-z-]+)`\*\*[\s\S]*?```json\n([\s\S]*?)\n```/g)];
    expect(examples.length).toBeGreaterThanOrEqual(20);
    const types = new Set<string>();
    for (const [, type, body] of examples) {
      types.add(type!);
      const candidates = printed.filter((m) => m.type === type).map((m) => m.text);
      expect(candidates.length, `the demo prints no ${type}`).toBeGreaterThan(0);
      expect(candidates, `docs' ${type} example is not what the demo prints`).toContain(body);
    }
    for (const t of ['credit/abandon', 'credit/abandoned', 'credit/close-request', 'credit/contracts']) expect(types).toContain(t);
  }, 240_000);
});
