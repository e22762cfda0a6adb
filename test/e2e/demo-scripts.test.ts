/**
 * The demo scripts the docs' examples start from (fixtures/credit/open-demo.sh, ecash-demo.sh),
 * run in a shell that carries a node's and a store's settings, as one that sourced the quick
 * start's env.sh does (issue 72: both failed silently there, exit 3, an empty opened.json, and
 * two doc blocks broke when a page was pasted into one shell) — and a step that fails says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { assertFreshBuild, cleanEnv } from './cli.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function demo(script: string, env: Record<string, string>, ...args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-demo-'));
  dirs.push(dir);
  const r = spawnSync('sh', [join(ROOT, 'fixtures', 'credit', script), ...args], { env: cleanEnv({ OFFCHAIN_DEMO_DIR: dir, ...env }), encoding: 'utf8', timeout: 60_000 });
  return { ...r, dir };
}

/** What env.sh of the quick start sets, pointing nowhere that answers. */
const QUICKSTART_SHELL = { OFFCHAIN_RPC_URL: 'http://127.0.0.1:1/', OFFCHAIN_STORE_URL: 'postgresql://offchain@127.0.0.1:1/mint', OFFCHAIN_NETWORK: 'regtest' };

describe('the demo scripts', () => {
  it.each([['open-demo.sh', []], ['ecash-demo.sh', []], ['ecash-demo.sh', ['unpaid']]] as const)('%s %s in a shell naming a node and a store: opens its offline contract, exit 0', (script, args) => {
    assertFreshBuild();
    const r = demo(script, QUICKSTART_SHELL, ...args);
    expect(r.status, r.stderr).toBe(0);
    const opened = JSON.parse(readFileSync(join(r.dir, 'opened.json'), 'utf8'));
    expect(opened.type).toMatch(/^credit\//);
    expect(r.stderr).toMatch(/^demo (ecash )?contract opened/m);
  }, 90_000);

  it.each([['open-demo.sh'], ['ecash-demo.sh']] as const)('%s: a variable naming a flag of its steps (OFFCHAIN_<KEY>, docs/config.md) changes nothing', (script) => {
    assertFreshBuild();
    const r = demo(script, { OFFCHAIN_MIN_FEE_RATE: '50', OFFCHAIN_SAFETY_MARGIN: '7' });
    expect(r.status, r.stderr).toBe(0);
    const offer = JSON.parse(readFileSync(join(r.dir, 'offer.json'), 'utf8')) as { min_fee_rate: number; safety_margin_blocks: number };
    expect({ min_fee_rate: offer.min_fee_rate, safety_margin_blocks: offer.safety_margin_blocks }).toEqual({ min_fee_rate: 1, safety_margin_blocks: 144 });
  }, 90_000);

  it('a step that fails stops the demo with a line naming it and its errors, exit 1', () => {
    const r = demo('open-demo.sh', { NODE_OPTIONS: '--no-such-flag' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^open-demo: the mint's offer failed; its errors \(.*offchain-demo-log\..*\):\n.*--no-such-flag/m);
    expect(r.stdout).toBe('');
  }, 30_000);
});
