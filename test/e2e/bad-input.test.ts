/**
 * The bad-input run of issue 28, as a test: a new user's mistakes across every command
 * group (the table: bad-input-cases.ts), each through the built CLI in a directory of its
 * own (bad-input-run.ts). Every case must meet BRIEF §2:
 *
 *   - exactly one line on stderr, `offchain: error E_CODE: message`, no stack, no source;
 *   - the code and exit code the brief and docs/cli.md assign (0 ok, 2 usage, 3 malformed
 *     input, 4 refused, 5 state conflict, 1 anything else);
 *   - nothing on stdout (a streaming command: only whole lines written before the error);
 *   - nothing written: the case's directory — its state, its input files, HOME, TMPDIR —
 *     byte for byte as before, no entry created or removed;
 *   - a secret given the wrong way never echoed.
 *
 * Every case runs once (all in `beforeAll`), each then asserted by its own test, so a report
 * names every case that falls short. A sample crosses the process boundary — the built CLI
 * spawned through bin/run.js, a real stdin pipe, the process's own exit code — in a small
 * pool of child processes: every case a process is the point of (standard output to
 * /dev/full or closed, a stream, 33 MiB through a pipe, a plugin's command), and the first
 * case of each command group × exit code and of each kind. The others run the same
 * built bundle's `main` in this process (bad-input-run.ts: runCaseInProcess; ~10 ms each
 * instead of a ~0.15 CPU-s process), judged by the same `shortfalls`; for every spawned
 * case the in-process run must see the same exit code, stderr and stdout, so the
 * in-process runner answers for what it stands in for.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { CASES, KEYS } from './bad-input-cases.ts';
import { pool, runCase, runCaseInProcess, shortfalls, type Case, type Outcome, type Templates } from './bad-input-run.ts';
import { pipeline } from './cli.ts';
import { openDemoChannel } from './fixtures.ts';

const fixtures = (p: string) => join(ROOT, 'fixtures', p);

let root: { path: string; cleanup: () => void };
const outcomes = new Map<string, Outcome | Error>();
/** For each spawned case, the same case run in-process (the runner's agreement check). */
const twins = new Map<string, Outcome | Error>();

/** Cases only a process can run: output to /dev/full or a closed descriptor, a stream's real pipe, 33 MiB through stdin (bin/run.js's fast path caps it), a plugin's command (autocomplete). */
const needsProcess = (c: Case) => (c.stdout !== undefined && c.stdout !== 'pipe') || c.stream === true || (c.input !== undefined && c.input.length > 32 * 1024 * 1024) || c.args[0] === 'autocomplete';

/** The spawned sample: every case that needs a process, then the first of each group × exit code and of each kind. */
function spawnedSample(cases: Case[]): Set<Case> {
  const seen = new Set<string>();
  const first = (key: string) => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const out = new Set(cases.filter(needsProcess));
  for (const c of cases) {
    const a = first(`${c.group} exit ${c.exit}`);
    const b = first(`kind ${c.kind}`);
    if (a || b) out.add(c);
  }
  return out;
}
const SPAWNED = spawnedSample(CASES);

beforeAll(async () => {
  root = tempDir('offchain-bad-input-');
  const tpl = join(root.path, 'templates');
  mkdirSync(tpl);
  // credit: a contract opened and one payment of 5000 sat made (so exit-credit has a state to exit with).
  openDemoChannel(join(tpl, 'credit'));
  // device: a fresh contract for the device/gateway steps — a copy of the one just opened, before its
  // payment (open-demo.sh is deterministic and its state names no path: a second open would be the same).
  cpSync(join(tpl, 'credit'), join(tpl, 'device'), { recursive: true, preserveTimestamps: true });
  const mint = ['--key-env', 'MINT_KEY', '--state-dir', join(tpl, 'credit', 'mint')];
  const user = ['--key-env', 'USER_KEY', '--state-dir', join(tpl, 'credit', 'user')];
  const env = { MINT_KEY: KEYS.MINT_KEY, USER_KEY: KEYS.USER_KEY };
  const paid = await pipeline(
    [
      { args: ['sign-update', '--role', 'user', '--amount', '5000', ...user], env },
      { args: ['sign-update', '--role', 'mint', ...mint, '--tip-height', '1001', '--funding-confirmations', '1'], env },
      { args: ['sign-update', '--role', 'user', ...user], env },
    ],
    '',
  );
  paid.forEach((r, i) => {
    if (r.status !== 0) throw new Error(`payment stage ${i}: ${r.stderr}`);
  });
  // …and the device's first payment (its device/pay, for the gateway's side), as the device-toll example.
  const pay = await pipeline(
    [{ args: ['device', 'pay', '--invoice', fixtures('device/toll.bolt11'), '--policy', fixtures('policies/device.json'), '--terms', fixtures('policies/gateway-terms.json'), '--now', '1800000000', '--tip-height', '1000', '--key-env', 'USER_KEY', '--state-dir', join(tpl, 'device', 'user')], env }],
    '',
  );
  if (pay[0]!.status !== 0) throw new Error(`device pay: ${pay[0]!.stderr}`);
  writeFileSync(join(tpl, 'device', 'pay.json'), pay[0]!.stdout);
  const templates: Templates = {
    credit: [
      [join(tpl, 'credit', 'mint'), 'mint'],
      [join(tpl, 'credit', 'user'), 'user'],
      [join(tpl, 'credit', 'offer.json'), 'offer.json'],
    ],
    device: [
      [join(tpl, 'device', 'mint'), 'mint'],
      [join(tpl, 'device', 'user'), 'user'],
      [join(tpl, 'device', 'pay.json'), 'pay.json'],
    ],
    'sc-alice-depositing': [[fixtures('statechain/state/alice-depositing'), 'sc-alice']],
    'sc-bob': [[fixtures('statechain/state/bob'), 'sc-bob']],
    'sc-bob-receiving': [[fixtures('statechain/state/bob-receiving'), 'sc-bob']],
    'sc-operator': [[fixtures('statechain/state/operator'), 'sc-operator']],
    'bolt3-alice': [[fixtures('bolt3/alice-state-dir'), 'bolt3']],
    'bolt3-bob': [[fixtures('bolt3/bob-state-dir'), 'bolt3']],
  };
  // Two cores, shared: four children at a time keeps both busy without thrashing.
  const index = new Map(CASES.map((c, i) => [c, i]));
  await pool([...SPAWNED], 4, async (c) => {
    try {
      outcomes.set(c.name, await runCase(c, join(root.path, `case-${index.get(c)}`), templates));
    } catch (e) {
      outcomes.set(c.name, e as Error);
    }
  });
  // In this process, one at a time (it changes the process's directory, environment and streams).
  for (const [c, i] of index) {
    if (needsProcess(c)) continue;
    try {
      const o = await runCaseInProcess(c, join(root.path, `in-${i}`), templates);
      (SPAWNED.has(c) ? twins : outcomes).set(c.name, o);
    } catch (e) {
      (SPAWNED.has(c) ? twins : outcomes).set(c.name, e as Error);
    }
  }
  if (process.env.BAD_INPUT_REPORT) {
    const lines = CASES.map((c) => {
      const o = outcomes.get(c.name)!;
      const bad = o instanceof Error ? [o.message] : shortfalls(c, o);
      const got = o instanceof Error ? '' : `${o.status} ${o.stderr.split('\n')[0]!.slice(0, 160)}`;
      return `${bad.length ? 'SHORT' : 'ok   '} ${SPAWNED.has(c) ? 'spawned   ' : 'in-process'} [${c.group}/${c.kind}] ${c.name} :: ${bad.join('; ')} :: ${got}`;
    });
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}, 600_000);

afterAll(() => root?.cleanup());

describe('the bad-input run covers every command group', () => {
  it('has at least 225 cases, over every group the README and docs/ walk through', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(225);
    const groups = new Set(CASES.map((c) => c.group));
    for (const g of ['credit', 'device', 'statechain', 'htlc', 'commitment', 'route', 'onion', 'onion-error', 'ptlc', 'musig', 'psbt', 'package', 'invoice', 'key', 'openassets', 'counterparty', 'help']) expect(groups, g).toContain(g);
    expect(new Set(CASES.map((c) => c.name)).size, 'case names are unique').toBe(CASES.length);
  });
});

describe('the in-process runner sees what the process does', () => {
  it('samples every group, exit code and kind at the process boundary', () => {
    const spawned = [...SPAWNED];
    expect(new Set(spawned.map((c) => `${c.group} ${c.exit}`))).toEqual(new Set(CASES.map((c) => `${c.group} ${c.exit}`)));
    expect(new Set(spawned.map((c) => c.kind))).toEqual(new Set(CASES.map((c) => c.kind)));
    expect(CASES.filter(needsProcess).every((c) => SPAWNED.has(c))).toBe(true);
  });
  /** The case's own directory is named in some messages: compare them without it. */
  const plain = (o: Outcome, dir: string) => ({ status: o.status, stdout: o.stdout.split(dir).join('CASE'), stderr: o.stderr.split(dir).join('CASE') });
  it.each(CASES.filter((c) => SPAWNED.has(c) && !needsProcess(c)).map((c) => [c.name, c] as const))('%s: the same exit code, stderr and stdout in-process', (_name, c) => {
    const i = CASES.indexOf(c);
    const spawned = outcomes.get(c.name);
    const inProcess = twins.get(c.name);
    if (spawned instanceof Error) throw spawned;
    if (inProcess instanceof Error) throw inProcess;
    expect(spawned && inProcess, 'both ran').toBeTruthy();
    expect(plain(inProcess!, join(root.path, `in-${i}`))).toEqual(plain(spawned!, join(root.path, `case-${i}`)));
    expect(shortfalls(c, inProcess!), 'in-process').toEqual([]);
  });
});

describe('the checks of a case can fail (synthetic outcomes, no process)', () => {
  const c: Case = { group: 'psbt', kind: 'missing file', name: 'x', args: [], code: 'E_INPUT_FILE', exit: 2, secret: 'ab'.repeat(32) };
  const good: Outcome = { status: 2, stdout: '', stderr: 'offchain: error E_INPUT_FILE: cannot read --in x: ENOENT\n', before: { a: 'file 600 1 00' }, after: { a: 'file 600 1 00' }, ms: 1 };
  const bad = (o: Partial<Outcome>) => shortfalls(c, { ...good, ...o });
  it('a good outcome has none', () => expect(shortfalls(c, good)).toEqual([]));
  it('each departure from BRIEF §2 is named', () => {
    expect(bad({ status: 3 })).toEqual(['exit 3, expected 2']);
    expect(bad({ status: 0, stderr: '' })).toContain('0 error lines on stderr');
    expect(bad({ stderr: 'offchain: error E_USAGE: no\n' })).toEqual(['code E_USAGE, expected E_INPUT_FILE']);
    expect(bad({ stderr: `${good.stderr}    at main (src/cli.ts:1:1)\n` })).toContain('a stack trace on stderr');
    expect(bad({ stderr: `${good.stderr}${'x'.repeat(22_000)}\n` })).toContain('stderr is 22058 bytes');
    expect(bad({ stdout: '{"type":' })).toEqual(['stdout not empty (8 bytes: {"type":)']);
    expect(bad({ stderr: `offchain: error E_INPUT_FILE: key ${'ab'.repeat(32)}\n` })).toEqual(['the secret appears in the output']);
    expect(bad({ after: { a: 'file 600 1 01' } })).toEqual(['state changed: a changed']);
    expect(bad({ after: { a: 'file 600 1 00', b: 'dir 700' } })).toEqual(['state changed: b created']);
    expect(bad({ after: {} })).toEqual(['state changed: a removed']);
    expect(shortfalls({ ...c, stream: true }, { ...good, stdout: '{"line":1}\n{"li' })).toContain('stdout ends with a partial line');
    expect(shortfalls({ ...c, says: '--in' }, { ...good, stderr: 'offchain: error E_INPUT_FILE: cannot read --key x\n' })).toEqual(['the error does not say --in']);
  });
});

describe.each([...new Set(CASES.map((c) => c.group))])('%s', (group) => {
  it.each(CASES.filter((c) => c.group === group).map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const o = outcomes.get(c.name);
    if (o instanceof Error) throw o;
    expect(o, 'the case did not run').toBeDefined();
    expect(shortfalls(c, o!), `stderr: ${o!.stderr.slice(0, 400)}`).toEqual([]);
  });
});
