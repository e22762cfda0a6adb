/**
 * CI snapshots of the credit protocol's messages (BRIEF §1, §2 "Determinism for tests"):
 * under OFFCHAIN_TEST_SEED one fixed lifecycle — offer, address, open-request,
 * open-accept, opened, update-request, receipt, balance, close-request, closed, exit,
 * contracts — run through the built CLI prints byte-identical messages to the files
 * under __snapshots__/credit-snapshots/, and a second run in fresh state directories
 * prints byte-identical output again.
 *
 * A change to any of these files is a change to the wire format or to a transaction:
 * review it as such (`npx vitest run -u` rewrites them).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { pipeline, type Stage } from './cli.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8').trim();
const MINT_KEY = fixture('keys/mint.key');
const USER_KEY = fixture('keys/user.key');
const FUNDING_PSBT = fixture('credit/funding.psbt');
const SEED = 'credit-snapshots';
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';

/** The messages of the fixed lifecycle, in protocol order, by snapshot name. */
const MESSAGES = [
  ['01-offer', 'credit/offer'],
  ['02-address', 'credit/address'],
  ['03-open-request', 'credit/open-request'],
  ['04-open-accept', 'credit/open-accept'],
  ['05-opened', 'credit/opened'],
  ['06-update-request', 'credit/update-request'],
  ['07-receipt', 'credit/receipt'],
  ['08-balance', 'credit/balance'],
  ['09-close-request', 'credit/close-request'],
  ['10-closed', 'credit/closed'],
  ['11-exit', 'credit/exit'],
  ['12-contracts', 'credit/contracts'],
] as const;

type Transcript = Map<string, string>;


/**
 * One run of the lifecycle in `root`: each step is one invocation reading the other
 * party's last message on stdin. Returns every printed message by snapshot name.
 */
async function lifecycle(root: string): Promise<Transcript> {
  const env = { OFFCHAIN_TEST_SEED: SEED };
  const mint = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', join(root, 'mint')], env: { ...env, MINT_KEY } });
  const user = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(root, 'user')], env: { ...env, USER_KEY } });
  const out: Transcript = new Map();
  const step = async (name: string, stages: Stage[], input = ''): Promise<string> => {
    const results = await pipeline(stages, input);
    results.forEach((r, i) => expect(r.status, `${name}, stage ${i}: ${r.stderr}`).toBe(0));
    const text = results.at(-1)!.stdout;
    out.set(name, text);
    return text;
  };
  const offerPath = join(root, 'offer.json');
  writeFileSync(offerPath, await step('01-offer', [mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)]));
  await step('02-address', [mint('open-credit', '--role', 'mint', '--publish'), user('open-credit', '--role', 'user')]);
  const request = await step(
    '03-open-request',
    [user('open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND)],
    FUNDING_PSBT,
  );
  const accept = await step('04-open-accept', [mint('open-credit', '--role', 'mint', '--tip-height', '1000')], request);
  await step('05-opened', [user('open-credit', '--role', 'user')], accept);
  const update = await step('06-update-request', [user('sign-update', '--role', 'user', '--amount', '25000')]);
  const receipt = await step('07-receipt', [mint('sign-update', '--role', 'mint', '--tip-height', '1001', '--funding-confirmations', '1')], update);
  await step('08-balance', [user('sign-update', '--role', 'user')], receipt);
  const close = await step('09-close-request', [user('close-credit', '--role', 'user', '--start')]);
  const closed = await step('10-closed', [mint('close-credit', '--role', 'mint')], close);
  // The user checks the close and echoes it: the same bytes.
  const confirmed = await pipeline([user('close-credit', '--role', 'user')], closed);
  expect(confirmed[0]!.status, confirmed[0]!.stderr).toBe(0);
  expect(confirmed[0]!.stdout).toBe(closed);
  await step('11-exit', [mint('exit-credit', '--fee-rate', '2')]);
  await step('12-contracts', [mint('credit', 'list', '--tip-height', '1002')]);
  return out;
}

describe(`credit messages under OFFCHAIN_TEST_SEED=${SEED}`, () => {
  let dirs: { path: string; cleanup: () => void }[];
  let runs: Transcript[];

  beforeAll(async () => {
    dirs = [tempDir('offchain-credit-snap-a-'), tempDir('offchain-credit-snap-b-')];
    runs = await Promise.all(dirs.map((d) => lifecycle(d.path)));
  });
  afterAll(() => dirs.forEach((d) => d.cleanup()));

  it.each(MESSAGES)('%s (%s) is byte-identical to its snapshot', async (name, type) => {
    const text = runs[0]!.get(name)!;
    const msg = JSON.parse(text) as { type: string; version: number; network: string };
    expect([msg.type, msg.version, msg.network]).toEqual([type, 1, 'regtest']);
    expect(Object.keys(msg).slice(0, 3)).toEqual(['type', 'version', 'network']);
    expect(text.endsWith('}\n')).toBe(true);
    await expect(text).toMatchFileSnapshot(`./__snapshots__/credit-snapshots/${name}.json`);
  });

  it('a second run in fresh state directories prints the same bytes at every step', () => {
    const [a, b] = runs as [Transcript, Transcript];
    expect([...b.keys()]).toEqual(MESSAGES.map(([name]) => name));
    for (const [name] of MESSAGES) expect(b.get(name), name).toBe(a.get(name));
  });
});
