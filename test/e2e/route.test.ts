/**
 * `route plan` and `route check` through the built CLI: the seed's route planned and
 * checked through a pipe (figures written out from the seed: 1.003 / 1.002 / 1.001 / 1
 * BTC at tip + 10 … tip + 7), and the refusals — a hop short of its fee or its expiry
 * margin (exit 4) at every hop, a plan whose summary contradicts its hops (route check and
 * onion-build), a forwarding node's own --policy, malformed requests (exit 3) — each with
 * nothing on stdout.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { pipeline, run, type Run } from './cli.ts';
import { runInProcess, spawnedFirst } from './in-process.ts';

const request = readFileSync(join(ROOT, 'fixtures/route/seed-request.json'), 'utf8');
const refused = (r: Run, code: string, status: number) =>
  expect({ status: r.status, stdout: r.stdout, code: /error (E_[A-Z0-9_]+):/.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status, stdout: '', code });

/** A refusal case: the command, the message on its stdin, the code and exit code it must refuse with. */
type Case = [args: string[], input: unknown, code: string, status: number];
/**
 * Every case refused as expected: the first of each command and exit code as a process, the others
 * by the same built bundle in this process (in-process.ts spawnedFirst); `spawned` of them processes.
 */
async function refusedEach(cases: Case[], spawned: number): Promise<void> {
  const runs = await spawnedFirst(cases.map(([args, input, , status]) => ({ args, input: JSON.stringify(input), key: `${args.slice(0, args[1]?.startsWith('-') ? 1 : 2).join(' ')} exit ${status}` })));
  expect(runs.filter((r) => r.how === 'spawned')).toHaveLength(spawned);
  runs.forEach((r, i) => refused(r, cases[i]![2], cases[i]![3]));
}

describe('route plan | route check', () => {
  it('the seed route: plan, then every hop\'s check, through a pipe', async () => {
    const [, checked] = await pipeline([{ args: ['route', 'plan'] }, { args: ['route', 'check'] }], request);
    expect(checked!.status, checked!.stderr).toBe(0);
    const plan = JSON.parse(checked!.stdout) as { first_htlc: { amount_msat: string; cltv_expiry: number }; total_fee_msat: string; hops: { amount_msat: string; cltv_expiry: number; payload: { amt_to_forward: string } }[] };
    expect(plan.first_htlc).toMatchObject({ amount_msat: '100300000000', cltv_expiry: 1010 });
    expect(plan.hops.map((h) => [h.amount_msat, h.cltv_expiry])).toEqual([['100300000000', 1010], ['100200000000', 1009], ['100100000000', 1008], ['100000000000', 1007]]);
    expect(plan.total_fee_msat).toBe('300000000');
    expect(readFileSync(join(ROOT, 'fixtures/route/seed-plan.json'), 'utf8')).toBe(checked!.stdout);
  });

  it('refuses a plan with a hop short of its fee or its expiry margin, and malformed requests', async () => {
    // The seed request's plan: the fixture the test above checks byte for byte against `route plan`'s output.
    const plan = JSON.parse(readFileSync(join(ROOT, 'fixtures/route/seed-plan.json'), 'utf8')) as { hops: { amount_msat: string; cltv_expiry: number }[] };
    const short = structuredClone(plan);
    short.hops[0]!.amount_msat = (BigInt(short.hops[0]!.amount_msat) - 1n).toString();
    const late = structuredClone(plan);
    late.hops[0]!.cltv_expiry -= 1;
    const r = JSON.parse(request) as { hops: { short_channel_id: string }[]; final_amount_msat: string };
    await refusedEach([
      [['route', 'check'], short, 'E_ROUTE_FEE_SHORT', 4],
      [['route', 'check'], late, 'E_ROUTE_CLTV_SHORT', 4],
      [['route', 'plan'], { ...r, final_amount_msat: 1000 }, 'E_MALFORMED_MESSAGE', 3],
      [['route', 'plan'], { ...r, hops: [{ ...r.hops[0], short_channel_id: '1000:1:0' }] }, 'E_MALFORMED_MESSAGE', 3],
      [['route', 'plan'], { ...r, final_amount_msat: '2100000000000000001' }, 'E_BAD_AMOUNT', 3],
    ], 2);
  });

  const seedPlan = () => JSON.parse(readFileSync(join(ROOT, 'fixtures/route/seed-plan.json'), 'utf8')) as Record<string, any>;
  const ONION = ['onion-build', '--payment-hash', '42'.repeat(32)];

  it('every forwarding hop, not only the first: a consistent one-msat cut at hop i is refused by hop i\'s rule, in route check and onion-build', async () => {
    const cut = (i: number) => {
      const p = seedPlan();
      p.hops[i].amount_msat = String(BigInt(p.hops[i].amount_msat) - 1n);
      if (i > 0) p.hops[i - 1].payload.amt_to_forward = p.hops[i].amount_msat;
      return p;
    };
    await refusedEach([0, 1, 2].flatMap((i) => [['route', 'check'], ONION].map((args): Case => [args, cut(i), 'E_ROUTE_FEE_SHORT', 4])), 2);
  });

  it('a plan whose summary or payload short_channel_ids contradict its hops is refused by route check and onion-build (E_ROUTE_MISMATCH)', async () => {
    const edits: ((p: Record<string, any>) => void)[] = [
      (p) => (p.first_htlc.amount_msat = '100000000000'),
      (p) => (p.total_fee_msat = '0'),
      (p) => (p.final_amount_msat = '100300000000'),
      (p) => (p.final_cltv_expiry = 1010),
      (p) => (p.hops[1].payload.short_channel_id = '999x9x9'),
    ];
    const edited = (edit: (p: Record<string, any>) => void) => {
      const p = seedPlan();
      edit(p);
      return p;
    };
    await refusedEach(edits.flatMap((edit) => [['route', 'check'], ONION].map((args): Case => [args, edited(edit), 'E_ROUTE_MISMATCH', 4])), 2);
  });

  it('a plan from an invoice carries the payee\'s payment_data into onion-build; a different --payment-secret is refused, the same one accepted', async () => {
    const fx = (f: string) => join(ROOT, 'fixtures/invoice', f);
    const payee = readFileSync(fx('regtest.payee'), 'utf8').trim();
    const cln = JSON.parse(readFileSync(fx('cln/regtest.bolt11.json'), 'utf8'));
    const planned = run(['route', 'plan', '--invoice', fx('regtest.bolt11'), '--payee', payee, '--in', fx('route/partial-request.json'), '--tip-height', '1000', '--now', '1795488100']);
    expect(planned.status, planned.stderr).toBe(0);
    const build = (...extra: string[]) => runInProcess(['onion', 'build', '--payment-hash', cln.payment_hash, ...extra], { input: planned.stdout });
    refused(await build('--payment-secret', '11'.repeat(32)), 'E_USAGE', 2);
    const same = await build('--payment-secret', cln.payment_secret.toUpperCase());
    expect(same.status, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout).type).toBe('onion/packet');
  });

  it('--policy: Carol checks her hop against her own channel_update, not the sender\'s copy', async () => {
    const p = seedPlan();
    const carol = p.hops[1].node_id as string;
    const own = (fee: number, delta: number) => ['route', 'check', '--node-id', carol, '--policy', `fee_base_msat=${fee},fee_proportional_millionths=0,cltv_expiry_delta=${delta}`];
    // The same terms from a file: Bob's fixture (name=value text), then a JSON channel_update charging one msat more.
    const bob = p.hops[0].node_id as string;
    const dir = tempDir('offchain-e2e-route-');
    const dearer = join(dir.path, 'policy.json');
    writeFileSync(dearer, JSON.stringify({ fee_base_msat: 100_000_001, fee_proportional_millionths: 0, cltv_expiry_delta: 1 }));
    const cases: [string[], string | undefined, number][] = [
      [own(100_000_000, 1), undefined, 0],
      [own(100_000_001, 1), 'E_ROUTE_FEE_SHORT', 4],
      [own(100_000_000, 2), 'E_ROUTE_CLTV_SHORT', 4],
      [['route', 'check', '--node-id', carol, '--policy', 'fee_base_msat=-1,fee_proportional_millionths=0,cltv_expiry_delta=1'], 'E_USAGE', 2],
      [['route', 'check', '--node-id', carol, '--policy', 'fee_base_msat=1,fee_proportional_millionths=0,cltv_expiry_delta=65536'], 'E_USAGE', 2],
      [['route', 'check', '--node-id', bob, '--policy', 'fixtures/route/bob.policy'], undefined, 0],
      [['route', 'check', '--node-id', bob, '--policy', dearer], 'E_ROUTE_FEE_SHORT', 4],
    ];
    // The first of each exit code as a process, the others in this process (in-process.ts spawnedFirst).
    const runs = await spawnedFirst(cases.map(([args, , status]) => ({ args, input: JSON.stringify(p), key: `exit ${status}` })));
    expect(runs.filter((r) => r.how === 'spawned')).toHaveLength(3);
    runs.forEach((r, i) => {
      const [, code, status] = cases[i]!;
      if (code === undefined) expect(r.status, r.stderr).toBe(0);
      else refused(r, code, status);
    });
    dir.cleanup();
  });
});
