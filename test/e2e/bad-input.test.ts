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
 * The cases run in a small pool of child processes (all at once in `beforeAll`), each
 * then asserted by its own test, so a report names every case that falls short.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { CASES, KEYS } from './bad-input-cases.ts';
import { pool, runCase, shortfalls, type Case, type Outcome, type Templates } from './bad-input-run.ts';
import { cleanEnv, pipeline } from './cli.ts';
import { runShellAsync } from './process.ts';

const fixtures = (p: string) => join(ROOT, 'fixtures', p);

let root: { path: string; cleanup: () => void };
const outcomes = new Map<string, Outcome | Error>();

/** A demo credit contract (fixtures/credit/open-demo.sh) in `dir`: mint/, user/, offer.json. */
async function openDemo(dir: string): Promise<void> {
  const r = await runShellAsync(`sh ${JSON.stringify(fixtures('credit/open-demo.sh'))}`, { env: cleanEnv({ OFFCHAIN_DEMO_DIR: dir }), timeoutMs: 60_000 });
  if (r.status !== 0) throw new Error(`open-demo.sh failed: ${r.stderr}`);
}

beforeAll(async () => {
  root = tempDir('offchain-bad-input-');
  const tpl = join(root.path, 'templates');
  mkdirSync(tpl);
  // credit: a contract opened and one payment of 5000 sat made (so exit-credit has a state to exit with).
  await openDemo(join(tpl, 'credit'));
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
  // device: a fresh contract for the device/gateway steps.
  await openDemo(join(tpl, 'device'));
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
  await pool(CASES, 4, async (c, i) => {
    try {
      outcomes.set(c.name, await runCase(c, join(root.path, `case-${i}`), templates));
    } catch (e) {
      outcomes.set(c.name, e as Error);
    }
  });
  if (process.env.BAD_INPUT_REPORT) {
    const lines = CASES.map((c) => {
      const o = outcomes.get(c.name)!;
      const bad = o instanceof Error ? [o.message] : shortfalls(c, o);
      const got = o instanceof Error ? '' : `${o.status} ${o.stderr.split('\n')[0]!.slice(0, 160)}`;
      return `${bad.length ? 'SHORT' : 'ok   '} [${c.group}/${c.kind}] ${c.name} :: ${bad.join('; ')} :: ${got}`;
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
