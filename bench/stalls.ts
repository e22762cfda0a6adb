/**
 * What bench/stall-probe.cjs saw in a `serve mint`: its event loop's stalls over 20 ms, counted per
 * 1000 payments (less sensitive to a shared machine's load than a p99 over a few hundred payments),
 * and what filled them — the main thread's own CPU (GC included), its wait for a core (run-queue:
 * another process, or the service's own V8/libuv threads, had it), COMMITs (those that ran SQLite's
 * WAL autocheckpoint apart), GC pauses — over the events from `from` (epoch ms) on.
 */
import { readFileSync } from 'node:fs';

type Event = [kind: string, at: number, ms: number, ...rest: (number | string | undefined)[]];

export type Stalls = {
  payments: number; over20: number; per1000: number; longest: number;
  /** The longest stall less its wait for a core: what the service itself held its thread for (its CPU, GC, COMMIT's I/O). */
  longestOwn: number; wallMs: number; mainCpuMs: number; waitedMs: number; commitMs: number;
  /** Stalls over 20 ms by their largest part. */
  byPart: Record<'waited' | 'work' | 'gc' | 'commit', number>;
  commits: number; commitMedianMs: number; checkpoints: number; checkpointMedianMs: number; checkpointMaxMs: number; stallsWithCheckpoint: number;
  scavenges: number; scavengeMedianMs: number; scavengeMaxMs: number; markCompacts: number; markCompactMaxMs: number; oldSpaceMb: [number, number];
};

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function readStalls(file: string, from: number, payments: number): Stalls {
  const events = (JSON.parse(readFileSync(file, 'utf8')) as Event[]).filter((e) => e[1] >= from);
  const of = (kind: string) => events.filter((e) => e[0] === kind);
  const stalls = of('stall').filter((s) => s[2] > 20);
  const commits = of('commit');
  const checkpoints = commits.filter((c) => c[3] === 'CKPT');
  const gcs = of('gc');
  const within = (s: Event, e: Event) => e[1] >= s[1] - 1 && e[1] <= s[1] + s[2];
  const byPart = { waited: 0, work: 0, gc: 0, commit: 0 };
  for (const s of stalls) {
    const gc = sum(gcs.filter((g) => within(s, g)).map((g) => g[2]));
    const parts = { waited: s[5] as number, gc, commit: s[4] as number, work: (s[3] as number) - gc };
    byPart[(Object.entries(parts) as [keyof typeof byPart, number][]).sort((a, b) => b[1] - a[1])[0]![0]]++;
  }
  const scavenges = gcs.filter((g) => g[3] === 1).map((g) => g[2]);
  const markCompacts = gcs.filter((g) => g[3] === 4).map((g) => g[2]);
  const oldSpace = gcs.map((g) => g[5] as number);
  return {
    payments, over20: stalls.length, per1000: (stalls.length * 1000) / payments, longest: Math.max(0, ...stalls.map((s) => s[2])), longestOwn: Math.max(0, ...stalls.map((s) => s[2] - (s[5] as number))),
    wallMs: sum(stalls.map((s) => s[2])), mainCpuMs: sum(stalls.map((s) => s[3] as number)), waitedMs: sum(stalls.map((s) => s[5] as number)), commitMs: sum(stalls.map((s) => s[4] as number)),
    byPart,
    commits: commits.length, commitMedianMs: median(commits.filter((c) => c[3] !== 'CKPT').map((c) => c[2])),
    checkpoints: checkpoints.length, checkpointMedianMs: median(checkpoints.map((c) => c[2])), checkpointMaxMs: Math.max(0, ...checkpoints.map((c) => c[2])),
    stallsWithCheckpoint: stalls.filter((s) => checkpoints.some((c) => within(s, c))).length,
    scavenges: scavenges.length, scavengeMedianMs: median(scavenges), scavengeMaxMs: Math.max(0, ...scavenges),
    markCompacts: markCompacts.length, markCompactMaxMs: Math.max(0, ...markCompacts),
    oldSpaceMb: [oldSpace[0] ?? NaN, oldSpace.at(-1) ?? NaN],
  };
}

/** One line: the stalls and their parts. */
export function stallLine(s: Stalls): string {
  const f = (x: number) => x.toFixed(0);
  return `stalls > 20 ms: ${s.per1000.toFixed(1)} per 1000 payments (${s.over20}, longest ${f(s.longest)} ms, ${f(s.longestOwn)} ms less its wait for a core; ${f(s.wallMs)} ms in all: main-thread CPU ${f(s.mainCpuMs)}, waiting for a core ${f(s.waitedMs)}, in COMMIT ${f(s.commitMs)}; by largest part ${Object.entries(s.byPart).map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
    `COMMITs ${s.commits} (median ${s.commitMedianMs.toFixed(1)} ms), with a WAL checkpoint ${s.checkpoints} (median ${s.checkpointMedianMs.toFixed(1)}, max ${f(s.checkpointMaxMs)} ms; in ${s.stallsWithCheckpoint} of the stalls); ` +
    `scavenges ${s.scavenges} (median ${s.scavengeMedianMs.toFixed(1)}, max ${f(s.scavengeMaxMs)} ms), mark-compacts ${s.markCompacts}${s.markCompacts ? ` (max ${f(s.markCompactMaxMs)} ms)` : ''}, old space ${f(s.oldSpaceMb[0])} → ${f(s.oldSpaceMb[1])} MB`;
}
