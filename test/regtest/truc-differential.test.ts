/**
 * `package check` = Core (issue 37, finding 4): GENERATED one-parent-one-child packages
 * (test/lib/truc/generate.ts, from one seed) go to the checker (src/lib/truc/check.ts) and to
 * a real `bitcoind -regtest`'s `submitpackage`, and must get the same answer on every case —
 * the same verdict, and the same strings: package_msg, and each transaction's result
 * ("accepted" or its `tx-results[wtxid].error`), or the RPC error that refuses the call. The
 * checker's refusal names one of those strings (`coreError`) and it must be where Core put it.
 *
 * Why submitpackage and not testmempoolaccept: testmempoolaccept of a package judges each
 * transaction at its own feerate (ATMPArgs::PackageTestAccept: no package feerates), so it
 * refuses every zero-fee parent; submitpackage is the path that bumps a parent by its child
 * (AcceptPackage), and the one `package submit` takes.
 *
 * Three nodes: Core's default policy; odd numbers (-minrelaytxfee=0.00000777,
 * -dustrelayfee=0.00001111: a 0.777 sat/vB floor and dust rounded up at 1.111 sat/vB); and
 * zero floors (-minrelaytxfee=0 -dustrelayfee=0: nothing is dust, nothing too cheap) with an
 * odd -incrementalrelayfee (which no package here replaces anything with, so it must change
 * nothing) — each with cases aimed at its own thresholds; a few cases per node carry an odd
 * maxfeerate (7,777 sat/kvB) or none (0). Each case's parent spends a coin of a kind drawn
 * before the fan-out (anyone-can-spend, or sigop-heavy P2WSH / P2SH / P2SH-P2WSH), and its
 * child may add a second (generate.ts). The coverage test then requires every rule to have
 * decided some case and every new shape to have occurred. Accepted packages (and parents
 * Core took alone) are mined. The nodes start together. TRUC_DIFF_SEED replays a run
 * (default 37), TRUC_DIFF_CASES sets the cases per node (default 200). Skipped visibly
 * without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTrucPackage, CORE_POLICY, TrucRefusal, type TrucPolicy } from '../../src/lib/truc/check.ts';
import type { CoreAnswer } from '../../src/lib/truc/core-accept.ts';
import { RpcError } from '../../src/lib/chain/rpc-client.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { ANYONE, buildTx, spendAnyone } from '../lib/truc/build.ts';
import { coinScript, drawCoinKinds, generateCase, seeded, type CoinKind, type GeneratedCase } from '../lib/truc/generate.ts';

const BITCOIND = findBitcoind();
const SEED = Number(process.env['TRUC_DIFF_SEED'] ?? 37);
const CASES = Number(process.env['TRUC_DIFF_CASES'] ?? 200);
const COIN = 2_000_000n;

type Prediction = { verdict: string; answer: CoreAnswer; coreError?: string };
type SubmitResult = { package_msg: string; 'tx-results': Record<string, { error?: string }> };

/** Every rule the generator must make decide at least one case (over both nodes), and "accepted". */
const MUST_DECIDE = [
  'accepted', 'E_TRUC_NOT_CHILD', 'E_TRUC_DUPLICATE_INPUT', 'E_TRUC_CONFLICT', 'E_TRUC_VERSION', 'E_TRUC_INHERITANCE',
  'E_TRUC_PARENT_TOO_BIG', 'E_TRUC_CHILD_TOO_BIG', 'E_TRUC_INPUTS_BELOW_OUTPUTS', 'E_TRUC_DUST', 'E_TRUC_DUST_FEE',
  'E_TRUC_EPHEMERAL_UNSPENT', 'E_TRUC_ANCHOR_WITNESS', 'E_TRUC_FEE_TOO_LOW', 'E_FEE_TOO_HIGH', 'E_TRUC_NO_SUCH_OUTPUT', 'E_TRUC_TOO_SMALL',
];
const decided = new Map<string, number>();
/** How often each new shape (review of issue 37) occurred, and Core's answers naming sigops. */
const shapes = new Map<string, number>();
const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
let parentAloneChildRefused = 0;
let oddDustAtCeilingMinusOne = 0;
let ran = 0;

function predict(c: GeneratedCase, policy: TrucPolicy): Prediction {
  try {
    checkTrucPackage(c.parent.raw, c.child.raw, c.prevouts, policy);
    return { verdict: 'accepted', answer: { package_msg: 'success', parent: 'accepted', child: 'accepted' } };
  } catch (e) {
    if (!(e instanceof TrucRefusal)) throw e;
    return { verdict: e.rule, answer: e.detail!['core'] as CoreAnswer, ...(e.coreError === undefined ? {} : { coreError: e.coreError }) };
  }
}

async function submit(n: FundedNode, c: GeneratedCase): Promise<CoreAnswer> {
  let res: SubmitResult;
  try {
    res = await n.node.rpc.call<SubmitResult>('submitpackage', [[c.parent.hex, c.child.hex], c.maxFeeRate / 1e8]);
  } catch (e) {
    if (e instanceof RpcError) return { rpc_error: e.rpcMessage };
    throw e;
  }
  const result = (wtxid: string) => {
    const t = res['tx-results'][wtxid];
    return t === undefined ? 'no result' : t.error ?? 'accepted';
  };
  return { package_msg: res.package_msg, parent: result(c.parent.parsed.wtxid), child: result(c.child.parsed.wtxid) };
}

/** `f` over `items`, `width` at a time (the node's RPC threads), results in order. */
async function pool<T, R>(items: T[], width: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  }));
  return out;
}

type NodeUnderTest = { title: string; args: string[]; policy: TrucPolicy; seedOffset: number; n?: FundedNode; fanOut?: string; kinds?: { parent: CoinKind; child: CoinKind }[] };
const NODES: NodeUnderTest[] = [
  { title: 'Core\'s default policy', args: [], policy: CORE_POLICY, seedOffset: 0 },
  { title: '-minrelaytxfee=0.00000777 -dustrelayfee=0.00001111', args: ['-minrelaytxfee=0.00000777', '-dustrelayfee=0.00001111'], policy: { ...CORE_POLICY, minRelayFeeRate: 777, dustRelayFeeRate: 1_111 }, seedOffset: 1 },
  // -blockmintxfee=0 too: what it accepts at zero fee is mined (the default block floor leaves zero-fee chunks out).
  { title: '-minrelaytxfee=0 -dustrelayfee=0 -incrementalrelayfee=0.00000007', args: ['-minrelaytxfee=0', '-dustrelayfee=0', '-incrementalrelayfee=0.00000007', '-blockmintxfee=0'], policy: { ...CORE_POLICY, minRelayFeeRate: 0, dustRelayFeeRate: 0 }, seedOffset: 2 },
];

/** A node, and its coins: for each case, one the parent spends and one the child may add, of the kinds the case drew. */
async function startNode(t: NodeUnderTest): Promise<void> {
  const n = await startFundedNode(BITCOIND!, 'truc-diff', t.args);
  t.n = n;
  const address = (await n.node.rpc.call<{ segwit: { address: string } }>('decodescript', ['51'])).segwit.address;
  const total = 2n * COIN * BigInt(CASES) + 1_000_000n;
  const funding = await n.fund(address, total);
  const kr = seeded(SEED + t.seedOffset + 1_000);
  t.kinds = Array.from({ length: CASES }, () => drawCoinKinds(kr));
  const outs = t.kinds.flatMap((k) => [{ amount: COIN, script: coinScript(k.parent) }, { amount: COIN, script: coinScript(k.child) }]);
  const tx = buildTx(2, [spendAnyone(funding.txid, funding.vout)], [...outs, { amount: 1_000_000n - 50_000n, script: ANYONE }]);
  t.fanOut = await n.acceptAndMine(tx.hex);
}

describe.skipIf(!BITCOIND)(`TRUC differential against submitpackage${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
  beforeAll(async () => {
    await Promise.all(NODES.map(startNode));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(NODES.map((t) => t.n?.stop()));
  });

  for (const t of NODES) {
    it(`${t.title}: ${CASES} generated packages (seed ${SEED + t.seedOffset}): the checker's answer is Core's submitpackage answer, verdict and every string`, async () => {
      const n = t.n!;
      const policy = t.policy;
      const r = seeded(SEED + t.seedOffset);
      const aim = { minRelayFeeRate: policy.minRelayFeeRate, dustRelayFeeRate: policy.dustRelayFeeRate };
      const cases = Array.from({ length: CASES }, (_, i) => generateCase(r,
        { txid: t.fanOut!, vout: 2 * i, amount: COIN, kind: t.kinds![i]!.parent }, aim,
        { txid: t.fanOut!, vout: 2 * i + 1, amount: COIN, kind: t.kinds![i]!.child }));
      const predictions = cases.map((c) => predict(c, { ...policy, maxFeeRate: c.maxFeeRate }));
      const answers = await pool(cases, 4, (c) => submit(n, c));

      const mismatches: unknown[] = [];
      const tally = { accepted: 0, refused: 0, oursOnly: 0 };
      cases.forEach((c, i) => {
        const ours = predictions[i]!, core = answers[i]!;
        const strings = 'rpc_error' in core ? [core.rpc_error] : [core.package_msg, core.parent, core.child];
        const verdictAgrees = ours.verdict === 'accepted' ? 'package_msg' in core && core.package_msg === 'success'
          : ours.coreError === undefined ? ours.verdict === 'E_TRUC_VERSION' // ours alone: Core takes it (checked by the answer)
            : strings.includes(ours.coreError);
        if (!verdictAgrees || JSON.stringify(ours.answer) !== JSON.stringify(core)) mismatches.push({ case: i, name: c.name, ours, core });
        else if (ours.verdict === 'accepted') tally.accepted++;
        else if (ours.coreError === undefined) tally.oursOnly++;
        else tally.refused++;
        decided.set(ours.verdict, (decided.get(ours.verdict) ?? 0) + 1);
        if ('parent' in core && core.parent === 'accepted' && core.child !== 'accepted') parentAloneChildRefused++;
        if (policy.dustRelayFeeRate % 1000 !== 0 && (c.knobs['anchor'] === 'valuedUnder' || c.knobs['extra'] === 'dustUnder')) oddDustAtCeilingMinusOne++;
        const k = c.knobs;
        if (k['coin'] !== 'anyone') count(shapes, `parent coin ${k['coin']}`);
        if (k['extraKind'] !== undefined && k['extraKind'] !== 'anyone') count(shapes, `child coin ${k['extraKind']}`);
        if (k['anchor2'] !== 'none' && k['spendAnchor2'] === 'yes') count(shapes, 'two anchors, both spent');
        if (k['pout'] !== 'none') count(shapes, `parent output ${k['pout']}`);
        if (k['cout'] !== undefined && k['cout'] !== 'none') count(shapes, `child outputs ${k['cout']}`);
        if (k['max'] === 'none') count(shapes, 'maxfeerate 0');
        if (k['pshape'] !== 'normal') count(shapes, `parent ${k['pshape']}`);
        if (strings.some((x) => x.startsWith('bad-txns-too-many-sigops'))) count(shapes, 'Core: bad-txns-too-many-sigops');
      });
      ran += cases.length;
      console.log(`TRUC differential, ${t.title} (seed ${SEED + t.seedOffset}): ${cases.length - mismatches.length} of ${cases.length} generated packages get Core's answer (${tally.accepted} accepted by both, ${tally.refused} refused by both with Core's strings, ${tally.oursOnly} taken by Core and refused by our E_TRUC_VERSION)`);
      expect(mismatches).toEqual([]);

      // Everything Core took is mined: the accepted packages and the parents it took alone.
      const pool_ = await n.node.rpc.call<string[]>('getrawmempool');
      const expected = answers.flatMap((a, i) => ('parent' in a ? [a.parent === 'accepted' ? cases[i]!.parent.parsed.txid : '', a.child === 'accepted' ? cases[i]!.child.parsed.txid : ''] : [])).filter((x) => x !== '');
      expect(new Set(pool_)).toEqual(new Set(expected));
      // Mined in as many blocks as it takes (500 cases of sigop-heavy parents can fill more than one).
      const minedTxids: string[] = [];
      for (let b = 0; b < 5 && minedTxids.length < expected.length; b++) {
        const [hash] = await n.mine(1) as string[];
        minedTxids.push(...(await n.node.rpc.call<{ tx: string[] }>('getblock', [hash, 1])).tx.slice(1));
      }
      expect(new Set(minedTxids)).toEqual(new Set(expected));
    }, 120_000);
  }
});

describe.skipIf(!BITCOIND)(`the generator reaches every rule${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
  it('each rule decided some case; a parent Core took alone with its child refused; dust one under a rounded-up threshold; every new shape occurred', () => {
    expect(ran).toBe(NODES.length * CASES);
    const counts = Object.fromEntries(MUST_DECIDE.map((rule) => [rule, decided.get(rule) ?? 0]));
    console.log(`TRUC differential coverage: ${JSON.stringify(counts)}; parent alone, child refused: ${parentAloneChildRefused}; dust one under the odd node's rounded-up threshold: ${oddDustAtCeilingMinusOne}`);
    expect(MUST_DECIDE.filter((rule) => !decided.get(rule))).toEqual([]);
    expect(parentAloneChildRefused).toBeGreaterThan(0);
    expect(oddDustAtCeilingMinusOne).toBeGreaterThan(0);
    const kinds = ['parent coin wsh:2000', 'parent coin wsh:2001', 'parent coin wsh:16001', 'parent coin p2sh15', 'parent coin p2shwsh:1999', 'child coin wsh:200',
      'child coin wsh:201', 'child coin p2sh15', 'child coin p2shwsh:200', 'two anchors, both spent', 'parent output p2pk', 'parent output bareUnder', 'child outputs bare3',
      'child outputs p2pk', 'maxfeerate 0', 'Core: bad-txns-too-many-sigops', 'parent duplicate', 'parent tiny'];
    console.log(`TRUC differential shapes (review of issue 37): ${JSON.stringify(Object.fromEntries(kinds.map((x) => [x, shapes.get(x) ?? 0])))}`);
    expect(kinds.filter((x) => !shapes.get(x))).toEqual([]);
  });
});
