/** The repository's fixtures as the end-to-end tests use them. */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { pipeline, type Run, type Stage } from './cli.ts';
import { openedDemo } from './demo-copy.ts';
import { fixture, fixturePath, fixtureText, MINT_KEY, USER_KEY } from './fixture-files.ts';

export { fixture, fixturePath, fixtureText, MINT_KEY, USER_KEY } from './fixture-files.ts';

/** Hex test keys (checked out 0644: pass them via the environment and --key-env). */
export const ALICE_KEY = fixture('keys/alice.key');
export const BOB_KEY = fixture('keys/bob.key');
export const ALICE = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa';
export const BOB = '02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27';

/** Base64 PSBT: one taproot input paying the Alice+Bob KeyAgg key, no MuSig2 data yet. */
export const UNSIGNED = fixture('psbt/musig-keypath-unsigned.psbt');
/** psbt/updated message (regtest) where Alice and Bob have both added public nonces. */
export const NONCES_MESSAGE = fixtureText('psbt/musig-keypath-nonces.json');

/**
 * The demo channel in `dir` (mint/ and user/ state directories, offer.json, opened.json): what
 * fixtures/credit/open-demo.sh opens, opened once a run and copied here (demo-copy.ts openedDemo).
 */
export function openDemoChannel(dir: string): void {
  cpSync(openedDemo(), dir, { recursive: true, preserveTimestamps: true });
}

/**
 * Each party's command as a pipeline stage: its key in the environment (--key-env), its own
 * --state-dir (`<root>/user`, `<root>/mint`). `root` is read at each call (it may be made in a
 * beforeAll).
 */
export function demoParties(root: () => string) {
  return {
    device: (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(root(), 'user')], env: { USER_KEY } }),
    gateway: (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', join(root(), 'mint')], env: { MINT_KEY } }),
  };
}

/** One stage alone, nothing on stdin: its run. */
export const one = async (s: Stage): Promise<Run> => (await pipeline([s], ''))[0]!;

/** Every stage exited 0 and the last printed a message of `type`: that message. */
export function ok(results: Run[], type: string): Record<string, any> {
  results.forEach((r, i) => expect(r.status, `stage ${i} failed: ${r.stderr}`).toBe(0));
  const msg = JSON.parse(results.at(-1)!.stdout) as Record<string, any>;
  expect(msg.type).toBe(type);
  return msg;
}

/** The demo toll (fixtures/device/toll.bolt11) paid at `tip`, offline: device pay | gateway pay (the job). */
export function tollPayStages(p: ReturnType<typeof demoParties>, tip: number): Stage[] {
  const terms = ['--terms', fixturePath('policies/gateway-terms.json')];
  return [
    p.device('device', 'pay', '--invoice', fixturePath('device/toll.bolt11'), '--policy', fixturePath('policies/device.json'), ...terms, '--now', '1800000000', '--tip-height', String(tip)),
    p.gateway('gateway', 'pay', ...terms, '--now', '1800000000', '--tip-height', String(tip), '--confirmations', '1'),
  ];
}
