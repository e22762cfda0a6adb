/**
 * A reporter that writes what failed in a `vitest run` — each failed test (file, name, the
 * first line of its first error), each file that failed outside a test, each unhandled error —
 * to the file $OFFCHAIN_FAILURES_FILE names, one line each, for scripts/test.mjs to print
 * again as the very last lines of `npm test`. CI shows the tail of the run: the whole suite on
 * Node 24 comes before the subsets on 22 and 26, so without this a failure on 24 scrolls away
 * behind two green runs and the tail says only "exit 1" (stop 78). Without the variable it
 * does nothing.
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

type ErrorLike = { message?: string; name?: string };

/** An error's first line, cut to one screen line. */
export function firstLine(e: ErrorLike | undefined): string {
  const text = `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? 'no message'}`;
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** One line per failure of the run. */
export function failureLines(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<ErrorLike>, root: string): string[] {
  const out: string[] = [];
  for (const m of modules) {
    const file = relative(root, m.moduleId);
    for (const e of m.errors()) out.push(`${file}: ${firstLine(e)}`);
    for (const t of m.children.allTests()) {
      const r = t.result();
      if (r.state === 'failed') out.push(`${file} > ${t.fullName}: ${firstLine(r.errors?.[0])}`);
    }
  }
  for (const e of unhandled) out.push(`unhandled: ${firstLine(e)}`);
  return out;
}

export default class FailureRecap implements Reporter {
  private root = process.cwd();

  onInit(ctx: { config: { root: string } }): void {
    this.root = ctx.config.root;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<ErrorLike>): void {
    const path = process.env.OFFCHAIN_FAILURES_FILE;
    if (!path) return;
    const lines = failureLines(modules, unhandled, this.root);
    if (lines.length) appendFileSync(path, `${lines.join('\n')}\n`);
  }
}
