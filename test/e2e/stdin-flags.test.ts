/**
 * Standard input wherever an input is expected (issue 28 item 7), through the built CLI:
 * a flag that names a message or transaction file takes `-` for standard input, so one
 * command's output pipes into the next command's flag — `ptlc lock-plan --route -`,
 * `ptlc lock-check --lock -`, `package check --parent/--child -`, `commitment sign
 * --state -` — with the same answer as the file. Only one input may come from standard
 * input: two are refused (E_USAGE, exit 2) before anything is written.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { cleanEnv } from './cli.ts';
import { CLI, runShellAsync, shellQuote } from './process.ts';
import { fixture } from './fixtures.ts';

const dir = tempDir('offchain-stdin-');
afterAll(() => dir.cleanup());
const sh = (command: string, env: Record<string, string> = {}) => runShellAsync(command, { env: cleanEnv(env) });
const q = shellQuote;
const POINT = fixture('ptlc/payment-point.hex');
const SEED = { OFFCHAIN_TEST_SEED: 'stdin-flags' };

describe('a flag\'s "-" reads standard input: the same answer as the file', () => {
  it('route plan | ptlc lock-plan --route -', async () => {
    for (const d of ['piped', 'file']) mkdirSync(join(dir.path, d), { mode: 0o700 });
    const plan = join(dir.path, 'plan.json');
    const piped = await sh(`${CLI} route plan --in fixtures/route/seed-request.json | ${CLI} ptlc lock-plan --payment-point ${POINT} --route - --out-dir ${q(join(dir.path, 'piped'))}`, SEED);
    const file = await sh(`${CLI} route plan --in fixtures/route/seed-request.json > ${q(plan)} && ${CLI} ptlc lock-plan --payment-point ${POINT} --route ${q(plan)} --out-dir ${q(join(dir.path, 'file'))}`, SEED);
    expect(piped.status, piped.stderr).toBe(0);
    expect(file.status, file.stderr).toBe(0);
    const locks = JSON.parse(piped.stdout) as { locks: { node_id?: string }[]; files: string[] };
    expect(locks.locks).toHaveLength(5); // sender, Bob, Carol, Diana, Eric: the route's hops were read from the pipe
    expect(locks.locks.filter((l) => l.node_id !== undefined)).toHaveLength(4);
    expect(piped.stdout).toBe(file.stdout.replaceAll(join(dir.path, 'file'), join(dir.path, 'piped')));
    expect(readdirSync(join(dir.path, 'piped')).sort()).toEqual(['lock-0.json', 'lock-1.json', 'lock-2.json', 'lock-3.json', 'lock-4.json']);
  });

  it('ptlc lock-plan writes a hop\'s record; cat it | ptlc lock-check --lock - (a pipe: no file mode to check)', async () => {
    const locks = join(dir.path, 'locks');
    mkdirSync(locks, { mode: 0o700 });
    const made = await sh(`${CLI} ptlc lock-plan --payment-point ${POINT} --hops 2 --out-dir ${q(locks)} > /dev/null`, SEED);
    expect(made.status, made.stderr).toBe(0);
    const file = await sh(`${CLI} ptlc lock-check --lock ${q(join(locks, 'lock-1.json'))}`);
    const piped = await sh(`cat ${q(join(locks, 'lock-1.json'))} | ${CLI} ptlc lock-check --lock -`);
    expect(file.status, file.stderr).toBe(0);
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(file.stdout);
    expect(JSON.parse(piped.stdout)).toMatchObject({ type: 'ptlc/locks', locks: [{ role: 'hop', index: 1 }] });
    // A record that does not hold together is refused from a pipe as from a file.
    const tamper = `const m = JSON.parse(require('fs').readFileSync(0, 'utf8')); m.R = m.L; process.stdout.write(JSON.stringify(m))`;
    const bad = await sh(`${q(process.execPath)} -e ${q(tamper)} < ${q(join(locks, 'lock-1.json'))} | ${CLI} ptlc lock-check --lock -`);
    expect(bad.stderr).toMatch(/^offchain: error E_BAD_HOP_LOCK: /);
    expect(bad.status).toBe(4);
    expect(bad.stdout).toBe('');
  });

  it('package check --child - and --parent -', async () => {
    const file = await sh(`${CLI} package check --parent fixtures/truc/parent.psbt --child fixtures/truc/child.hex`);
    const child = await sh(`cat fixtures/truc/child.hex | ${CLI} package check --parent fixtures/truc/parent.psbt --child -`);
    const parent = await sh(`${CLI} psbt decode --in fixtures/truc/parent.psbt > /dev/null && cat fixtures/truc/parent.psbt | ${CLI} package check --parent - --child fixtures/truc/child.hex`);
    expect(file.status, file.stderr).toBe(0);
    expect(JSON.parse(file.stdout)).toMatchObject({ type: 'package/checked' });
    for (const r of [child, parent]) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(file.stdout);
    }
  });

  it('commitment sign --state - (the agreed state piped in)', async () => {
    const keys = { ALICE_FUNDING: fixture('bolt3/local-funding.key'), ALICE_HTLC: fixture('bolt3/local-htlc.key') };
    const signWith = async (state: string, name: string, pipe: string) => {
      const d = join(dir.path, name);
      mkdirSync(d);
      writeFileSync(join(d, 'seed'), `${fixture('bolt3/alice.seed')}\n`, { mode: 0o600 });
      const init = await sh(`${CLI} commitment init --channel fixtures/bolt3/alice-channel.json --seed-file ${q(join(d, 'seed'))} --state-dir ${q(d)} --in fixtures/bolt3/bob-points.json > /dev/null`, keys);
      expect(init.status, init.stderr).toBe(0);
      return sh(`${pipe}${CLI} commitment sign --state ${state} --key-env ALICE_FUNDING --htlc-key-env ALICE_HTLC --state-dir ${q(d)}`, keys);
    };
    const file = await signWith('fixtures/bolt3/alice-state-0.json', 'sign-file', '');
    const piped = await signWith('-', 'sign-piped', 'cat fixtures/bolt3/alice-state-0.json | ');
    expect(file.status, file.stderr).toBe(0);
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(file.stdout);
    expect(JSON.parse(piped.stdout)).toMatchObject({ type: 'bolt3/commitment-signed' });
  });
});

describe('openassets decode --prev -: the ancestors piped, the transaction by --in', () => {
  it('the same colored answer as --prev FILE; with the transaction also on standard input: E_USAGE, exit 2', async () => {
    const tx = '--network mainnet --in fixtures/openassets/transfer.hex';
    const file = await sh(`${CLI} openassets decode ${tx} --prev fixtures/openassets/ancestors.jsonl`);
    const piped = await sh(`cat fixtures/openassets/ancestors.jsonl | ${CLI} openassets decode ${tx} --prev -`);
    expect(file.status, file.stderr).toBe(0);
    expect(JSON.parse(file.stdout)).toMatchObject({ type: 'openassets/decoded', status: 'colored' });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(file.stdout);
    const both = await sh(`cat fixtures/openassets/transfer.hex | ${CLI} openassets decode --network mainnet --prev -`);
    expect(both.stderr).toBe('offchain: error E_USAGE: --prev - and the input (no --in) both read standard input: give one of them a file\n');
    expect(both.status).toBe(2);
  });
});

describe('only one input comes from standard input', () => {
  it('package check --parent - --child -: E_USAGE, exit 2, before reading either', async () => {
    const r = await sh(`cat fixtures/truc/child.hex | ${CLI} package check --parent - --child -`);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('offchain: error E_USAGE: --parent - and --child - both read standard input: give one of them a file\n');
    expect(r.status).toBe(2);
  });

  it('ptlc presign --ptlc - with its message also on standard input: E_USAGE naming both, exit 2, nothing written', async () => {
    const state = join(dir.path, 'presign-state');
    const r = await sh(`cat fixtures/ptlc/presign-1.json | ${CLI} ptlc presign --ptlc - --key-env ALICE_KEY --state-dir ${q(state)}`, { ALICE_KEY: fixture('keys/alice.key') });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('offchain: error E_USAGE: --ptlc - and the input (no --in) both read standard input: give one of them a file\n');
    expect(r.status).toBe(2);
    expect(readdirSync(dir.path)).not.toContain('presign-state');
  });
});
