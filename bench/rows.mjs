/**
 * Issue 40's rows, as the benchmarks measured them: each bench that measures one calls
 * `reportRow` beside what it prints, and bench/all.mjs (`npm run bench`) gathers them into
 * one table at the end — the table the README's performance section is regenerated from
 * (`npm run bench -- --readme`). Measured figures only: a row carries its anchor or limit
 * measured in the same run, never a number from an earlier run, and nothing here asserts.
 *
 * A row goes to the JSON Lines file named by $OFFCHAIN_BENCH_ROWS (bench/all.mjs sets it);
 * a bench run alone, without it, only prints as before.
 */
import { appendFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** The variable bench/all.mjs names the rows file in. */
export const ROWS_ENV = 'OFFCHAIN_BENCH_ROWS';

/**
 * @typedef {object} Row
 * @property {string} id        stable key, e.g. 'mint/native' (the README row keeps its place by it)
 * @property {string} label     what is measured, for the table's first column
 * @property {number} value     the figure on CPU time (per CPU-second, or ms of CPU)
 * @property {string} unit      e.g. '/CPU-s', 'ms CPU', '× bare node (CPU)'
 * @property {number} [wall]    the same figure on wall time, same unit family
 * @property {[number, number]} [range] the rounds' lowest and highest value (CPU)
 * @property {{ label: string, value: number }} [anchor] the limit or anchor measured in the same run
 * @property {number} [ratio]   value ÷ anchor (or the row's own ratio, e.g. × bare node)
 * @property {[number, number]} [ratioRange] the rounds' lowest and highest ratio
 * @property {{ on: 'ratio' | 'value', atLeast?: number, atMost?: number }} [target] issue 40's target
 * @property {string} [bound]   what bounds the figure, measured in the same run (the library's own floor,
 *                              the arithmetic alone, the share of CPU on V8's other threads): the README's last column
 * @property {string} [note]    a short remark (rounds, sample size)
 */

/** Record one row (and return it); the load average is read here, at the end of its measurement. */
export function reportRow(row) {
  const withLoad = { ...row, load: Number(loadavg()[0].toFixed(1)) };
  const file = process.env[ROWS_ENV];
  if (file) appendFileSync(file, `${JSON.stringify(withLoad)}\n`);
  return withLoad;
}

/** Whether a row meets its target (undefined when it has none). */
export function meetsTarget(row) {
  const t = row.target;
  if (!t) return undefined;
  const x = t.on === 'ratio' ? row.ratio : row.value;
  if (x === undefined || x === null || Number.isNaN(x)) return false; // null: a NaN through JSON
  return (t.atLeast === undefined || x >= t.atLeast) && (t.atMost === undefined || x <= t.atMost);
}
