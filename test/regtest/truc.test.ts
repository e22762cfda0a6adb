/**
 * The TRUC checker (src/lib/truc/check.ts) against Bitcoin Core's `submitpackage` on a
 * real `bitcoind -regtest` (issue 24): the same 1-parent-1-child packages, built by hand
 * in test code (test/lib/truc/build.ts: anyone-can-spend P2WSH(OP_TRUE) coins and P2A
 * anchors, no signatures), go to the checker and to the node, and both must give the
 * same answer — accepted, or refused with Core's whole answer (package_msg and each
 * transaction's result or error string) as the checker predicts it, the refusal naming
 * one of those strings. Accepted packages are mined. The generated cases are
 * truc-differential.test.ts; these are the narrated limits. Every
 * limit is tried on both sides (1,000 / 1,001 vB; 200 / 201 sigops; 10,000 / 10,001 vB;
 * the fee floor and maxfeerate to the satoshi), and a second node with other policy
 * numbers (-minrelaytxfee, -dustrelayfee) checks that the checker's parameters mean
 * what Core's do. Skipped visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTrucPackage, CORE_POLICY, TrucRefusal, type Prevout, type TrucPolicy } from '../../src/lib/truc/check.ts';
import type { CoreAnswer } from '../../src/lib/truc/core-accept.ts';
import { RpcError } from '../../src/lib/chain/rpc-client.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { ANYONE, P2A, buildTx, opReturn, p2wshOf, padTo, sigopScript, spendAnchor, spendAnyone, type Built } from '../lib/truc/build.ts';

const BITCOIND = findBitcoind();
const COIN = 200_000n; // each case's coin
const BIG_COIN = 1_000_000n; // the too-big parent's

type Coin = { txid: string; vout: number; amount: bigint };
type Case = { parent: Built; child: Built; prevouts: Prevout[]; policy?: Partial<TrucPolicy> };
type SubmitResult = { package_msg: string; 'tx-results': Record<string, { txid: string; error?: string }> };

const prevoutOf = (c: Coin, script = ANYONE): Prevout => ({ txid: c.txid, vout: c.vout, amount: c.amount, script });
const out = (amount: bigint, script: Uint8Array = ANYONE) => ({ amount, script });

/** A zero-fee v3 parent: the coin back to an anyone-can-spend output, and a 0-sat P2A. */
function zeroFeeParent(coin: Coin, version = 3, extra: { amount: bigint; script: Uint8Array }[] = []): Built {
  const extraSum = extra.reduce((a, o) => a + o.amount, 0n);
  return buildTx(version, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - extraSum), out(0n, P2A), ...extra]);
}

/** The cases, each from one fresh coin; `expect` is what the test requires of both. */
const CASES: { name: string; big?: boolean; expected: string; build: (coin: Coin) => Case }[] = [
  {
    name: 'zero-fee v3 parent with P2A + child spending the anchor and the parent\'s coin',
    expected: 'accepted',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'fee-paying v3 parent without dust + CPFP child',
    expected: 'accepted',
    build: (coin) => {
      const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 500n)]);
      const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_500n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    // Core's standardness has a lower bound on the version too (IsStandardTx: 1 ≤ version ≤ 3):
    // the checker's prediction of Core's answer must refuse a version-0 parent as Core does.
    name: 'a version-0 package (fee-paying parent, CPFP child): refused with Core\'s own answer, "version" for the parent',
    expected: 'E_TRUC_VERSION',
    build: (coin) => {
      const parent = buildTx(0, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 500n)]);
      const child = buildTx(0, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_500n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child not spending the P2A',
    expected: 'E_TRUC_EPHEMERAL_UNSPENT',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child over 1,000 vB (26 outputs)',
    expected: 'E_TRUC_CHILD_TOO_BIG',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const outs = Array.from({ length: 26 }, () => out(1_000n));
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 30_000n), ...outs]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child under 1,000 vB by weight but over it sigop-adjusted (208 sigops)',
    expected: 'E_TRUC_CHILD_TOO_BIG',
    build: (coin) => {
      const heavy = sigopScript(208);
      const parent = zeroFeeParent(coin, 3, [out(10_000n, p2wshOf(heavy))]);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 2, heavy)], [out(coin.amount - 5_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'non-v3 child of a v3 parent',
    expected: 'E_TRUC_INHERITANCE',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(2, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'v3 child of a non-v3 (zero-fee, ephemeral dust) parent: Core refuses the parent alone for its fee, for good, and never judges the child with it',
    expected: 'E_TRUC_FEE_TOO_LOW',
    build: (coin) => {
      const parent = zeroFeeParent(coin, 2);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'a parent paying its own way and a child paying nothing: Core takes the parent alone and refuses the child alone (issue 37 finding 4)',
    expected: 'E_TRUC_FEE_TOO_LOW',
    build: (coin) => {
      const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 500n)]);
      const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 500n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'dust (a 0-sat P2A) in a fee-paying parent',
    expected: 'E_TRUC_DUST_FEE',
    build: (coin) => {
      const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 500n), out(0n, P2A)]);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_500n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'two dust outputs in a zero-fee parent',
    expected: 'E_TRUC_DUST',
    build: (coin) => {
      const parent = zeroFeeParent(coin, 3, [out(100n)]);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 2)], [out(coin.amount - 2_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'P2A spent with a non-empty witness',
    expected: 'E_TRUC_ANCHOR_WITNESS',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1, [Uint8Array.of(1)]), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'package feerate below minrelaytxfee (10 sat for the package)',
    expected: 'E_TRUC_FEE_TOO_LOW',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 10n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child feerate above maxfeerate (100 sat/vB)',
    expected: 'E_FEE_TOO_HIGH',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 50_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)], policy: { maxFeeRate: 100_000 } };
    },
  },
  {
    name: 'child 41/1000 sat over maxfeerate × vsize (13,701 sat for 137 vB at 100,007 sat/kvB: 100,007.3 sat/kvB)',
    expected: 'E_FEE_TOO_HIGH',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 13_701n)]);
      expect(child.parsed.vsize).toBe(137);
      return { parent, child, prevouts: [prevoutOf(coin)], policy: { maxFeeRate: 100_007 } };
    },
  },
  {
    name: 'child exactly at maxfeerate (13,700 sat for 137 vB at 100,000 sat/kvB)',
    expected: 'accepted',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 13_700n)]);
      return { parent, child, prevouts: [prevoutOf(coin)], policy: { maxFeeRate: 100_000 } };
    },
  },
  {
    name: 'child spending the parent\'s coin twice (a fee counted twice would pass the floor)',
    expected: 'E_TRUC_DUPLICATE_INPUT',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount + 50_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child also spending the coin the parent spends',
    expected: 'E_TRUC_CONFLICT',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child spending no output of the parent',
    expected: 'E_TRUC_NOT_CHILD',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'v3 child of a fee-paying non-v3 parent',
    expected: 'E_TRUC_INHERITANCE',
    build: (coin) => {
      const parent = buildTx(2, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 500n)]);
      const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 1_500n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child paying out more than it spends',
    expected: 'E_TRUC_INPUTS_BELOW_OUTPUTS',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount + 1n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child paying exactly minrelaytxfee for the package (25 sat for 246 vB at 0.1 sat/vB)',
    expected: 'accepted',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 25n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child one sat under minrelaytxfee for the package (24 sat for 246 vB)',
    expected: 'E_TRUC_FEE_TOO_LOW',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 24n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child at exactly 1,000 vB (OP_RETURN padding)',
    expected: 'accepted',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = padTo(1_000, (pad) => buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 2_000n), opReturn(700 + pad)]));
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child at 1,001 vB (OP_RETURN padding)',
    expected: 'E_TRUC_CHILD_TOO_BIG',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = padTo(1_001, (pad) => buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 2_000n), opReturn(700 + pad)]));
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child with 200 witness sigops: 1,000 vB sigop-adjusted',
    expected: 'accepted',
    build: (coin) => {
      const heavy = sigopScript(200);
      const parent = zeroFeeParent(coin, 3, [out(10_000n, p2wshOf(heavy))]);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 2, heavy)], [out(coin.amount - 5_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'child with 201 witness sigops: 1,005 vB sigop-adjusted',
    expected: 'E_TRUC_CHILD_TOO_BIG',
    build: (coin) => {
      const heavy = sigopScript(201);
      const parent = zeroFeeParent(coin, 3, [out(10_000n, p2wshOf(heavy))]);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0), spendAnyone(parent.parsed.txid, 2, heavy)], [out(coin.amount - 5_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'parent at exactly 10,000 vB',
    big: true,
    expected: 'accepted',
    build: (coin) => {
      const parent = padTo(10_000, (pad) => zeroFeeParent(coin, 3, [opReturn(9_000 + pad)]));
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 3_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'parent over 10,000 vB (235 outputs)',
    big: true,
    expected: 'E_TRUC_PARENT_TOO_BIG',
    build: (coin) => {
      const parent = zeroFeeParent(coin, 3, Array.from({ length: 234 }, () => out(1_000n)));
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 234_000n - 2_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
];

/** The checker's verdict: 'accepted', or the rule, Core's error string it names and Core's whole answer it predicts. */
function checkerVerdict(c: Case, policy: TrucPolicy): { verdict: string; coreError?: string; answer?: CoreAnswer } {
  try {
    checkTrucPackage(c.parent.raw, c.child.raw, c.prevouts, policy);
    return { verdict: 'accepted' };
  } catch (e) {
    if (!(e instanceof TrucRefusal)) throw e;
    return { verdict: e.rule, ...(e.coreError === undefined ? {} : { coreError: e.coreError }), answer: e.detail?.['core'] as CoreAnswer };
  }
}

/** submitpackage's answer (package_msg and each transaction's result, "accepted" or its error), or the RPC error it refused the whole package with. */
async function submitPackage(n: FundedNode, c: Case, policy: TrucPolicy): Promise<CoreAnswer> {
  const maxfeerate = policy.maxFeeRate / 1e8; // sat/kvB → BTC/kvB
  try {
    const r = await n.node.rpc.call<SubmitResult>('submitpackage', [[c.parent.hex, c.child.hex], maxfeerate]);
    const result = (b: Built) => r['tx-results'][b.parsed.wtxid]?.error ?? 'accepted';
    return { package_msg: r.package_msg, parent: result(c.parent), child: result(c.child) };
  } catch (e) {
    if (e instanceof RpcError) return { rpc_error: e.rpcMessage };
    throw e;
  }
}

type DifferentialCase = (typeof CASES)[number];

/** One node started with `nodeArgs`, the checker given the same numbers (`policy`), every case through both. */
function differential(title: string, nodeArgs: string[], policy: TrucPolicy, cases: DifferentialCase[]) {
  describe.skipIf(!BITCOIND)(`${title}${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
    let n: FundedNode;
    let fanOutTxid = '';

    beforeAll(async () => {
      n = await startFundedNode(BITCOIND!, 'truc', nodeArgs);
      const address = (await n.node.rpc.call<{ segwit: { address: string } }>('decodescript', ['51'])).segwit.address;
      const funding = await n.fund(address, 50_000_000n);
      const amounts = cases.map((k) => (k.big ? BIG_COIN : COIN));
      const fanOut = buildTx(2, [spendAnyone(funding.txid, funding.vout)], [...amounts.map((a) => out(a)), out(50_000_000n - amounts.reduce((a, b) => a + b, 0n) - 10_000n)]);
      fanOutTxid = await n.acceptAndMine(fanOut.hex);
    }, 120_000);
    afterAll(async () => n?.stop());

    cases.forEach((k, vout) => {
      it(`${k.name}: checker and Core both say ${k.expected}`, async () => {
        const c = k.build({ txid: fanOutTxid, vout, amount: k.big ? BIG_COIN : COIN });
        const casePolicy = { ...policy, ...c.policy };
        const ours = checkerVerdict(c, casePolicy);
        const core = await submitPackage(n, c, casePolicy);
        expect(ours.verdict).toBe(k.expected);
        if (k.expected === 'accepted') {
          expect(core).toEqual({ package_msg: 'success', parent: 'accepted', child: 'accepted' });
          await n.mine(1);
          for (const t of [c.parent, c.child]) expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [t.parsed.txid, 1])).confirmations).toBe(1);
          return;
        }
        // Core's whole answer, as the checker predicted it, and the string the refusal names in it.
        expect(ours.answer).toEqual(core);
        expect('rpc_error' in core ? [core.rpc_error] : [core.package_msg, core.parent, core.child]).toContain(ours.coreError);
      });
    });
  });
}

differential('TRUC checker vs Core\'s submitpackage on regtest (Core\'s default policy)', [], CORE_POLICY, CASES);

/** A node with other numbers: 1 sat/vB to relay, dust at 1 sat/vB (a P2A is dust below 80 sat, a P2WSH below 110). */
const OTHER_POLICY: TrucPolicy = { ...CORE_POLICY, minRelayFeeRate: 1_000, dustRelayFeeRate: 1_000 };
const OTHER_CASES: DifferentialCase[] = [
  {
    name: 'an 80-sat P2A is not dust at 1 sat/vB: the child need not spend it',
    expected: 'accepted',
    build: (coin) => {
      const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 80n), out(80n, P2A)]);
      const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 80n - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: 'a 79-sat P2A is dust at 1 sat/vB: a child not spending it is refused',
    expected: 'E_TRUC_EPHEMERAL_UNSPENT',
    build: (coin) => {
      const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [out(coin.amount - 79n), out(79n, P2A)]);
      const child = buildTx(3, [spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 79n - 1_000n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: '246 sat for a 246 vB package at 1 sat/vB',
    expected: 'accepted',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 246n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
  {
    name: '245 sat for a 246 vB package at 1 sat/vB',
    expected: 'E_TRUC_FEE_TOO_LOW',
    build: (coin) => {
      const parent = zeroFeeParent(coin);
      const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [out(coin.amount - 245n)]);
      return { parent, child, prevouts: [prevoutOf(coin)] };
    },
  },
];
differential('TRUC checker vs Core with -minrelaytxfee=0.00001 -dustrelayfee=0.00001', ['-minrelaytxfee=0.00001', '-dustrelayfee=0.00001'], OTHER_POLICY, OTHER_CASES);
