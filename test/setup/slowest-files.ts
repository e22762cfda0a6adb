/**
 * A reporter that, after every `vitest run`, prints the slowest test files (wall time of
 * the file: collecting it — top-level awaits, imports — plus its tests and hooks), with
 * each file's slowest test beside its time limit. It runs next to vitest's default
 * reporter (vitest.config.ts), so a file creeping towards its limit is seen in every run,
 * not when a busy machine times it out. `SLOWEST_FILES=<n>` prints n instead of 15.
 */
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

export type FileTime = { file: string; ms: number; slowestTest?: { name: string; ms: number; limit: number } };

/** The files' times, slowest first. */
export function fileTimes(modules: ReadonlyArray<TestModule>, root: string, defaultLimit: number): FileTime[] {
  return modules
    .map((m) => {
      const d = m.diagnostic();
      let slowest: FileTime['slowestTest'];
      // A test's own limit (it(name, fn, ms)) is on its runner task, which the reporter API does not expose by type.
      for (const t of m.children.allTests()) {
        const ms = t.diagnostic()?.duration ?? 0;
        if (!slowest || ms > slowest.ms) slowest = { name: t.fullName, ms, limit: (t as unknown as { task?: { timeout?: number } }).task?.timeout || defaultLimit };
      }
      return { file: relative(root, m.moduleId), ms: d.collectDuration + d.duration, ...(slowest ? { slowestTest: slowest } : {}) };
    })
    .sort((a, b) => b.ms - a.ms);
}

export function formatFileTimes(times: FileTime[], count: number): string {
  const shown = times.slice(0, count);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = shown.map((t) => {
    const test = t.slowestTest ? `  slowest test ${s(t.slowestTest.ms)} of its ${s(t.slowestTest.limit)} limit${t.slowestTest.ms > t.slowestTest.limit / 3 ? ' — OVER A THIRD' : ''}` : '';
    return `  ${s(t.ms).padStart(8)}  ${t.file}${test}`;
  });
  return [`Slowest ${shown.length} of ${times.length} test files:`, ...lines].join('\n');
}

export default class SlowestFiles implements Reporter {
  private root = process.cwd();
  private limit = 5_000;

  onInit(ctx: { config: { root: string; testTimeout: number } }): void {
    this.root = ctx.config.root;
    this.limit = ctx.config.testTimeout;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (modules.length === 0) return;
    const count = Number(process.env.SLOWEST_FILES ?? 15) || 15;
    process.stdout.write(`\n${formatFileTimes(fileTimes(modules, this.root, this.limit), count)}\n`);
  }
}
