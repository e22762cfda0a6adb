/**
 * The penalties of a channel party (src/lib/bolt3/party-penalty.ts) pinned where `npm run mutate`
 * found a planted change passing every test (issue 42, deliverable 2): each refusal by code, exit
 * class, whole message and detail; what is skipped and why; which outputs are taken, in which
 * order, by how many transactions; the node's answers read exactly as its header says.
 *
 * Expected values come from BOLT 3 / BOLT 5 and the module's header, never from the code: Bob's
 * revoked commitment 0 is parsed by test code (test/independent/tx.ts) and its outputs told apart
 * by the amounts of the agreed state (to_local 10,000 sat, HTLCs 5,000 and 5,001 sat, P2WSH), the
 * per-commitment secret derived here (BOLT 3 generate_from_seed over node:crypto), the revocation
 * key derived here, justice signatures verified by OpenSSL over test code's BIP-143 digest, and the
 * fee is BOLT 3's `feerate_per_kw × weight / 1000` rounded down.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChannelRecord } from '../../../src/lib/bolt3/party.ts';
import { holderCommitment } from '../../../src/lib/bolt3/party-holder-commitment.ts';
import {
  findOnChain, parseSecondStage, penalties, revokedPeerCommitment, secondStageScript, type BroadcastSecondStage, type PenaltyPlan,
} from '../../../src/lib/bolt3/party-penalty.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';
import type { ParsedTx } from '../../independent/tx.ts';
import { SIGHASH_ALL, bip143SingleHash, p2wshOf, parseTx, verifyEcdsa } from './independent-p2wsh.ts';
import { A, B, CHANNEL_ID, open, revocationPubkey, serializeSegwit, sk, update } from './two-parties.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x11));
const OTHER = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x22));

/** BOLT 3 generate_from_seed(seed, I), written here. */
function generateFromSeed(seed: Uint8Array, index: number): Uint8Array {
  let p = Buffer.from(seed);
  for (let b = 47; b >= 0; b--) {
    if (Math.floor(index / 2 ** b) % 2 === 1) {
      p[Math.floor(b / 8)]! ^= 1 << (b % 8);
      p = createHash('sha256').update(p).digest();
    }
  }
  return new Uint8Array(p);
}
const bobSecret = (n: number) => generateFromSeed(B.seed, 2 ** 48 - 1 - n);

type Fixture = {
  rec: ChannelRecord;
  c0: ParsedTx;
  c1txid: string;
  c2txid: string;
  toLocal: number;
  /** The HTLC outputs of Bob's commitment 0, by vout (5,000 and 5,001 sat). */
  htlcs: number[];
  toRemote: number;
  /** to_local's P2WSH: every second-stage output pays it (BOLT 3). */
  script: Uint8Array;
  rk: Uint8Array;
};

let once: Fixture | undefined;
/** Alice's record after three updates (two HTLCs each): Bob revoked his commitments 0 and 1; 2 is live. */
function fixture(): Fixture {
  if (once) return once;
  let p = update(open(), 0);
  const held = holderCommitment(p.b, B.seed, sk(B), []) as { hex: string };
  p = update(update(p, 1), 2);
  const c0 = parseTx(held.hex);
  const p2wsh = (amount: bigint) => c0.outputs.findIndex((o) => o.amount === amount && o.script.length === 34 && o.script[0] === 0x00 && o.script[1] === 0x20);
  const toLocal = p2wsh(10_000n);
  const htlcs = [p2wsh(5_000n), p2wsh(5_001n)].sort((x, y) => x - y);
  expect([toLocal, ...htlcs].every((v) => v >= 0)).toBe(true);
  const toRemote = c0.outputs.findIndex((_, v) => ![toLocal, ...htlcs].includes(v));
  const [c1, c2] = [p.a.remote_signed[1]!.txid, p.a.remote_signed[2]!.txid];
  once = { rec: p.a, c0, c1txid: c1, c2txid: c2, toLocal, htlcs, toRemote, script: c0.outputs[toLocal]!.script, rk: revocationPubkey(publicKeyOf(A.revocation), publicKeyOf(bobSecret(0))) };
  return once;
}

type Out = {
  type: string; commitment_number: number; revoked_txid: string;
  skipped: { txid?: string; vout: number; reason: string }[];
  transactions: { txid: string; hex: string; fee_sat: number; inputs: { kind: string; txid: string; vout: number; amount_sat: number }[] }[];
};
const plan = (extra: Partial<PenaltyPlan> = {}): PenaltyPlan => ({ revocationBasepointSecret: A.revocation, destinationScript: DEST, feeratePerKw: 2500, ...extra });
const run = (extra: Partial<PenaltyPlan> = {}, f = fixture()) => penalties(f.rec, f.c0.txid, plan(extra)) as Out;
/** What each justice transaction takes, as `txid:vout` lists. */
const taken = (out: Out) => out.transactions.map((t) => t.inputs.map((i) => `${i.txid}:${i.vout}`));
/** A second stage of the cheater's (only its shape matters): spends `vouts` of the commitment, input k paired with output k. */
const stage = (f: Fixture, tag: string, vouts: number[], outputs: { amountSat: bigint; script: Uint8Array }[]): BroadcastSecondStage => ({
  txid: tag.repeat(32), inputs: vouts.map((vout) => ({ txid: f.c0.txid, vout })), outputs,
});

describe('the revoked commitment, from the record', () => {
  it('is the one signed for the peer, with its secret from the compact store (BOLT 3) — the latest revoked one included, the live one refused', () => {
    const f = fixture();
    const r0 = revokedPeerCommitment(f.rec, f.c0.txid);
    expect([r0.n, r0.c.txid, hex(r0.secret)]).toEqual([0, f.c0.txid, hex(bobSecret(0))]);
    const r1 = revokedPeerCommitment(f.rec, f.c1txid);
    expect([r1.n, hex(r1.secret)]).toEqual([1, hex(bobSecret(1))]);
    const e = refusal(() => revokedPeerCommitment(f.rec, f.c2txid), 'E_NOT_REVOKED', 4);
    expect(e.message).toBe('the peer\'s commitment 2 is not revoked (it revoked through 1): it may broadcast it');
    const u = refusal(() => revokedPeerCommitment(f.rec, 'ee'.repeat(32)), 'E_UNKNOWN_COMMITMENT', 4);
    expect(u.message).toBe(`${'ee'.repeat(32)} is not a commitment of the peer you signed`);
  });

  it('a record whose stored state no longer rebuilds the commitment it names is refused as corrupt, naming both txids', () => {
    const f = fixture();
    const bad = structuredClone(f.rec);
    bad.remote_signed[0]!.state.feerate_per_kw = 3000;
    const e = refusal(() => revokedPeerCommitment(bad, f.c0.txid), 'E_BAD_CHANNEL_RECORD', 1);
    expect(e.message).toMatch(new RegExp(`^the record's commitment 0 rebuilds to [0-9a-f]{64}, not ${f.c0.txid}$`));
    expect(e.message).not.toContain(`rebuilds to ${f.c0.txid}`);
  });

  it('the second-stage script is to_local\'s P2WSH', () => {
    const f = fixture();
    expect(hex(secondStageScript(revokedPeerCommitment(f.rec, f.c0.txid).c))).toBe(hex(f.script));
  });
});

describe('penalties: what is taken, in which transactions', () => {
  it('by default one transaction per revocable output, in vout order, each paying the destination and signed by the revocation key; the answer names the channel and the commitment; the secret is wiped', () => {
    const f = fixture();
    const revoked = revokedPeerCommitment(f.rec, f.c0.txid);
    const out = penalties(f.rec, f.c0.txid, plan(), revoked) as Out;
    expect(hex(revoked.secret)).toBe('00'.repeat(32));
    expect({ ...out, transactions: undefined }).toEqual({
      type: 'bolt3/penalties', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: 0, revoked_txid: f.c0.txid, skipped: [], transactions: undefined,
    });
    const vouts = [f.toLocal, ...f.htlcs].sort((x, y) => x - y);
    expect(taken(out)).toEqual(vouts.map((v) => [`${f.c0.txid}:${v}`]));
    for (const t of out.transactions) {
      const tx = parseTx(t.hex);
      const v = tx.inputs[0]!.vout;
      const prevout = f.c0.outputs[v]!;
      expect(t.txid).toBe(tx.txid);
      expect(t.inputs).toEqual([{ kind: v === f.toLocal ? 'to_local' : expect.stringMatching(/^(offered|received)_htlc$/), txid: f.c0.txid, vout: v, amount_sat: Number(prevout.amount) }]);
      expect(tx.outputs).toEqual([{ amount: prevout.amount - BigInt(t.fee_sat), script: DEST }]);
      // BOLT 3's fee: feerate × weight / 1000, the weight counted with 73-byte signatures (so at least the signed one's).
      expect(BigInt(t.fee_sat)).toBeGreaterThanOrEqual((2500n * BigInt(tx.weight)) / 1000n);
      const [sig, , script] = tx.inputs[0]!.witness;
      expect(hex(p2wshOf(script!))).toBe(hex(prevout.script));
      expect(verifyEcdsa(f.rk, sig!.subarray(0, -1), bip143SingleHash(tx, 0, script!, prevout.amount, SIGHASH_ALL))).toBe(true);
    }
  });

  it('--outputs: only those, and refused when one is named twice (usage) or is not revocable (to_remote), naming it', () => {
    const f = fixture();
    expect(taken(run({ outputs: [f.htlcs[1]!] }))).toEqual([[`${f.c0.txid}:${f.htlcs[1]}`]]);
    const twice = refusal(() => run({ outputs: [f.toLocal, f.toLocal] }), 'E_BAD_VOUT', 2);
    expect(twice.message).toBe(`--outputs names an output twice: ${f.toLocal},${f.toLocal}`);
    const e = refusal(() => run({ outputs: [f.toLocal, f.toRemote] }), 'E_NOT_REVOCABLE', 4);
    expect([e.message, e.detail]).toEqual([`output ${f.toRemote} of ${f.c0.txid} is not one the revocation key can take`, { vout: f.toRemote }]);
  });

  it('an output the node reports spent is left out and listed; when everything chosen is spent and nothing else is known, nothing to take', () => {
    const f = fixture();
    const out = run({ spent: new Set([f.htlcs[0]!]) });
    expect(out.skipped).toEqual([{ vout: f.htlcs[0], reason: 'spent' }]);
    expect(taken(out).flat()).not.toContain(`${f.c0.txid}:${f.htlcs[0]}`);
    expect(taken(out)).toHaveLength(2);
    const e = refusal(() => run({ spent: new Set([f.toLocal, ...f.htlcs]) }), 'E_PENALTY_NOTHING_TO_TAKE', 4);
    expect(e.message).toBe(`nothing left to take from ${f.c0.txid}: every chosen output is spent (give the second-stage transactions that spent them)`);
    // Only a second-stage output left: still a penalty.
    const only = run({ spent: new Set([f.toLocal, ...f.htlcs]), found: { spenders: [], utxos: [{ txid: 'aa'.repeat(32), vout: 0, amountSat: 4_000n }], spent: new Set() } });
    expect(taken(only)).toEqual([[`${'aa'.repeat(32)}:0`]]);
  });

  it('offline, a second stage given spends its HTLC output (listed as spent) and its output paying the script is taken, after the commitment\'s, sorted by txid:vout', () => {
    const f = fixture();
    const s1 = stage(f, 'c1', [f.htlcs[1]!], [{ amountSat: 4_001n, script: f.script }]);
    const s2 = stage(f, 'b2', [f.htlcs[0]!], [{ amountSat: 4_000n, script: f.script }, { amountSat: 9_999n, script: OTHER }]);
    const out = run({ secondStage: [s1, s2] });
    expect(out.skipped).toEqual([{ vout: f.htlcs[0], reason: 'spent' }, { vout: f.htlcs[1], reason: 'spent' }]);
    expect(taken(out)).toEqual([[`${f.c0.txid}:${f.toLocal}`], [`${'b2'.repeat(32)}:0`], [`${'c1'.repeat(32)}:0`]]);
    expect(out.transactions.slice(1).map((t) => t.inputs[0]!.kind)).toEqual(['second_stage', 'second_stage']);
    // The same transaction given twice is one transaction, not a conflict: its output taken once.
    const left = [f.toLocal, f.htlcs[0]!].sort((x, y) => x - y).map((v) => [`${f.c0.txid}:${v}`]);
    expect(taken(run({ secondStage: [s1, s1] }))).toEqual([...left, [`${'c1'.repeat(32)}:0`]]);
  });

  it('refuses, naming it, a transaction given as a second stage that spends no HTLC output (to_local only, or another transaction\'s), or whose HTLC input is not paired with the second-stage script', () => {
    const f = fixture();
    const none = stage(f, 'd1', [f.toLocal], [{ amountSat: 4_000n, script: f.script }]);
    expect(refusal(() => run({ secondStage: [none] }), 'E_NOT_SECOND_STAGE', 4).message).toBe(`${'d1'.repeat(32)} does not spend an HTLC output of the revoked commitment ${f.c0.txid}`);
    const elsewhere = { ...stage(f, 'd2', [], [{ amountSat: 4_000n, script: f.script }]), inputs: [{ txid: 'ff'.repeat(32), vout: f.htlcs[0]! }] };
    refusal(() => run({ secondStage: [elsewhere] }), 'E_NOT_SECOND_STAGE', 4);
    const pairedMessage = (k: number, v: number) => `${'d3'.repeat(32)} input ${k} spends HTLC output ${v} of ${f.c0.txid} but its output ${k} is not that HTLC's second stage (the revoked commitment's second-stage script): nothing there for the revocation key`;
    // Input 1 spends the HTLC; output 1 is missing (output 0 pays the script, for the fee input).
    const missing = { ...stage(f, 'd3', [], [{ amountSat: 4_000n, script: f.script }]), inputs: [{ txid: 'ff'.repeat(32), vout: 0 }, { txid: f.c0.txid, vout: f.htlcs[0]! }] };
    const e1 = refusal(() => run({ secondStage: [missing] }), 'E_NOT_SECOND_STAGE', 4);
    expect([e1.message, e1.detail]).toEqual([pairedMessage(1, f.htlcs[0]!), { txid: 'd3'.repeat(32), input: 1 }]);
    const wrong = stage(f, 'd3', [f.htlcs[1]!], [{ amountSat: 4_000n, script: OTHER }, { amountSat: 4_000n, script: f.script }]);
    const e2 = refusal(() => run({ secondStage: [wrong] }), 'E_NOT_SECOND_STAGE', 4);
    expect([e2.message, e2.detail]).toEqual([pairedMessage(0, f.htlcs[1]!), { txid: 'd3'.repeat(32), input: 0 }]);
  });

  it('a fee input of the cheater\'s beside his second stages (SIGHASH_SINGLE|ANYONECANPAY) spends none of the commitment\'s outputs, whatever its vout; two such batches are no conflict', () => {
    const f = fixture();
    const batch = (tag: string, htlc: number) => ({
      txid: tag.repeat(32), inputs: [{ txid: 'ff'.repeat(32), vout: f.toLocal }, { txid: f.c0.txid, vout: htlc }], outputs: [{ amountSat: 50_000n, script: OTHER }, { amountSat: 4_000n, script: f.script }],
    });
    const out = run({ secondStage: [batch('a5', f.htlcs[0]!), batch('a6', f.htlcs[1]!)] });
    expect(out.skipped).toEqual(f.htlcs.map((vout) => ({ vout, reason: 'spent' })));
    expect(taken(out)).toEqual([[`${f.c0.txid}:${f.toLocal}`], [`${'a5'.repeat(32)}:1`], [`${'a6'.repeat(32)}:1`]]);
  });

  it('offline, two different transactions given spending one output: only one can be on chain (E_SECOND_STAGE_CONFLICT, naming both and the output)', () => {
    const f = fixture();
    const x = stage(f, 'e1', [f.htlcs[0]!], [{ amountSat: 4_000n, script: f.script }]);
    const y = stage(f, 'e2', [f.htlcs[0]!], [{ amountSat: 4_100n, script: f.script }]);
    const e = refusal(() => run({ secondStage: [x, y] }), 'E_SECOND_STAGE_CONFLICT', 4);
    expect([e.message, e.detail]).toEqual([`${'e1'.repeat(32)} and ${'e2'.repeat(32)} both spend output ${f.htlcs[0]} of ${f.c0.txid}: only one can be on chain — give the one that is`, { vout: f.htlcs[0] }]);
  });

  it('with a node, the node decides: a given transaction is not taken as spending (the node\'s spent set is), its outputs the node holds spent or absent are listed, the commitment\'s own to_local found paying the script is not taken twice', () => {
    const f = fixture();
    const given = stage(f, 'f1', [f.htlcs[0]!], [{ amountSat: 4_000n, script: f.script }, { amountSat: 4_500n, script: f.script }]);
    const spender = stage(f, 'f2', [f.htlcs[1]!], [{ amountSat: 4_200n, script: f.script }]);
    const found = {
      spenders: [spender],
      utxos: [{ txid: f.c0.txid, vout: f.toLocal, amountSat: 10_000n }, { txid: 'f3'.repeat(32), vout: 2, amountSat: 4_300n }],
      spent: new Set([`${'f1'.repeat(32)}:0`]),
      absent: new Set([`${'f1'.repeat(32)}:1`]),
    };
    const out = run({ secondStage: [given], found, spent: new Set([f.htlcs[1]!]) });
    expect(out.skipped).toEqual([
      { vout: f.htlcs[1], reason: 'spent' },
      { txid: 'f1'.repeat(32), vout: 0, reason: 'spent' },
      { txid: 'f1'.repeat(32), vout: 1, reason: 'not unspent at the node (spent, or the transaction given was replaced or never broadcast)' },
    ]);
    const left = [f.toLocal, f.htlcs[0]!].sort((x, y) => x - y);
    expect(taken(out)).toEqual([...left.map((v) => [`${f.c0.txid}:${v}`]), [`${'f2'.repeat(32)}:0`], [`${'f3'.repeat(32)}:2`]]);
    // Two different transactions given with a node: not a conflict (the node's view wins).
    const rival = stage(f, 'f4', [f.htlcs[0]!], [{ amountSat: 4_000n, script: f.script }]);
    expect(() => run({ secondStage: [given, rival], found: { spenders: [], utxos: [], spent: new Set() } })).not.toThrow();
    // The node's mempool spender may be an earlier penalty of ours (spending to_local, paying DEST): not a second stage, and not refused as one.
    const ours = stage(f, 'f6', [f.toLocal], [{ amountSat: 9_000n, script: DEST }]);
    const again = run({ spent: new Set([f.toLocal]), found: { spenders: [ours], utxos: [], spent: new Set() } });
    expect(again.skipped).toEqual([{ vout: f.toLocal, reason: 'spent' }]);
    expect(taken(again)).toEqual(f.htlcs.map((v) => [`${f.c0.txid}:${v}`]));
    // The node's mempool spenders do count as spends: two of them on one output are a conflict.
    const spender2 = stage(f, 'f5', [f.htlcs[1]!], [{ amountSat: 4_000n, script: f.script }]);
    refusal(() => run({ found: { spenders: [spender, spender2], utxos: [], spent: new Set() } }), 'E_SECOND_STAGE_CONFLICT', 4);
  });
});

describe('penalties: a refusal of the justice transaction itself is not taken for a dust output', () => {
  it('a revocation basepoint secret that is not ours: E_WRONG_SIGNING_KEY, per output and --combine, nothing listed as below its fee', () => {
    for (const combine of [false, true]) refusal(() => run({ revocationBasepointSecret: B.revocation, combine }), 'E_WRONG_SIGNING_KEY', 4);
  });
});

describe('penalties: an output worth less than its justice fee is left out and listed, never sinking the rest', () => {
  const BELOW = 'worth less than its fee at this feerate';

  it('per output: at 9000 sat/kw the HTLC outputs (5,000 and 5,001 sat) are listed, to_local (10,000 sat) taken; at 30,000 nothing is left — lower the feerate or --combine', () => {
    const f = fixture();
    const out = run({ feeratePerKw: 9000 });
    expect(out.skipped).toEqual(f.htlcs.map((vout) => ({ vout, reason: BELOW })));
    expect(taken(out)).toEqual([[`${f.c0.txid}:${f.toLocal}`]]);
    const e = refusal(() => run({ feeratePerKw: 30_000 }), 'E_PENALTY_BELOW_DUST', 4);
    expect(e.message).toBe(`every output of ${f.c0.txid} is worth less than its justice transaction's fee at 30000 sat/kw: lower the feerate or --combine`);
    const c = refusal(() => run({ feeratePerKw: 30_000, combine: true }), 'E_PENALTY_BELOW_DUST', 4);
    expect(c.message).toBe(`every output of ${f.c0.txid} is worth less than its justice transaction's fee at 30000 sat/kw: lower the feerate`);
    // At 40,000 sat/kw even to_local (10,000 sat) is worth less than the fee its own input adds (about 318 weight units): no transaction at all.
    expect(refusal(() => run({ feeratePerKw: 40_000, combine: true }), 'E_PENALTY_BELOW_DUST', 4).message).toBe(`every output of ${f.c0.txid} is worth less than its justice transaction's fee at 40000 sat/kw: lower the feerate`);
  });

  it('--combine: one transaction, the commitment\'s outputs in vout order then the second-stage outputs; an input worth exactly the fee it adds is left out, one satoshi more is taken', () => {
    const f = fixture();
    const all = run({ combine: true });
    expect(taken(all)).toEqual([[f.toLocal, ...f.htlcs].sort((x, y) => x - y).map((v) => `${f.c0.txid}:${v}`)]);
    // The weight a second-stage input adds, counted with a 73-byte signature (BOLT 3): outpoint, empty scriptSig, sequence (41 bytes ×4),
    // then its witness: 3 items — the signature, the selector 1, to_local's witness script (its length read from a justice input here).
    const toLocalTx = parseTx(run().transactions.find((t) => t.inputs[0]!.vout === f.toLocal)!.hex);
    const scriptLength = toLocalTx.inputs[0]!.witness[2]!.length;
    const w = 4 * 41 + 1 + (1 + 73) + (1 + 1) + (1 + scriptLength);
    const fee = (2500n * BigInt(w)) / 1000n;
    const at = (amountSat: bigint, vout: number) => ({ txid: 'bb'.repeat(32), vout, amountSat });
    const out = run({ combine: true, found: { spenders: [], utxos: [at(fee, 0), at(fee + 1n, 1)], spent: new Set() } });
    expect(out.skipped).toEqual([{ txid: 'bb'.repeat(32), vout: 0, reason: BELOW }]);
    expect(taken(out)).toEqual([[...[f.toLocal, ...f.htlcs].sort((x, y) => x - y).map((v) => `${f.c0.txid}:${v}`), `${'bb'.repeat(32)}:1`]]);
    // Core's 400,000 weight units, counted as the fee is: a destination script so long (no one would pay to it) that three
    // second-stage inputs fill one transaction to the unit — version, input count (counted as 3 bytes), output count, amount,
    // the script's 5-byte length and itself, locktime, segwit marker, then the inputs. A fourth input goes to a second transaction.
    const len = (400_000 - 3 * w - 2 - 4 * (4 + 3 + 1 + 8 + 5 + 4)) / 4;
    expect([Number.isInteger(len), len > 0xffff]).toEqual([true, true]);
    const heavy = Array.from({ length: 4 }, (_, vout) => at(200_000n, vout));
    const split = run({ combine: true, feeratePerKw: 253, destinationScript: new Uint8Array(len), spent: new Set([f.toLocal, ...f.htlcs]), found: { spenders: [], utxos: heavy, spent: new Set() } });
    expect(split.transactions.map((t) => t.inputs.length)).toEqual([3, 1]);
    // Its fee is on the transaction as serialized, whose input count takes 1 byte (2 fewer than counted above): 399,992 units at 253 sat/kw.
    expect(split.transactions[0]!.fee_sat).toBe(Math.floor((253 * (400_000 - 2 * 4)) / 1000));
    expect(parseTx(split.transactions[0]!.hex).weight).toBeLessThanOrEqual(400_000);
    // A commitment output worth less than the fee its own input adds (an HTLC input weighs about 410: 6,100 sat at 15,000 sat/kw): listed by vout, to_local still taken.
    const high = run({ combine: true, feeratePerKw: 15_000 });
    expect(high.skipped).toEqual(f.htlcs.map((vout) => ({ vout, reason: BELOW })));
    expect(taken(high)).toEqual([[`${f.c0.txid}:${f.toLocal}`]]);
  });
});

/** A transaction of the cheater's as a node would hand it over (BIP-144 bytes written by test code). */
function rawOf(spends: { txid: string; vout: number }[], outputs: { amount: bigint; script: Uint8Array }[]): { hex: string; txid: string } {
  const inputs = spends.map((s) => ({
    outpoint: Uint8Array.from([...Buffer.from(s.txid, 'hex').reverse(), s.vout, 0, 0, 0]), witness: [new Uint8Array(72)], sequence: 0xfffffffd,
    txid: s.txid, vout: s.vout, scriptSig: new Uint8Array(0),
  }));
  const hexTx = serializeSegwit({ version: 2, lockTime: 0, inputs, outputs });
  return { hex: hexTx, txid: parseTx(hexTx).txid };
}

/** A node as test code: the unspent outputs it holds, its mempool's spenders, its raw transactions; every question recorded. */
function node(f: Fixture, o: { unspent: string[]; mempool?: Record<string, string>; raw?: Record<string, string>; paying?: { txid: string; vout: number; value: bigint }[]; noMempool?: boolean; noScan?: boolean }) {
  const asked = { utxo: [] as string[], raw: [] as string[], paying: [] as string[] };
  const chain = {
    utxo: async (txid: string, vout: number) => {
      asked.utxo.push(`${txid}:${vout}`);
      return o.unspent.includes(`${txid}:${vout}`) ? { txid, vout, value: 1n, scriptPubKey: new Uint8Array(0), confirmations: 1 } : null;
    },
    rawTransaction: async (txid: string) => (asked.raw.push(txid), Uint8Array.from(Buffer.from(o.raw![txid]!, 'hex'))),
    ...(o.noMempool ? {} : { mempoolSpender: async (txid: string, vout: number) => o.mempool?.[`${txid}:${vout}`] }),
    ...(o.noScan ? {} : {
      outputsPaying: async (script: Uint8Array) => (asked.paying.push(hex(script)), (o.paying ?? []).map((u) => ({ ...u, scriptPubKey: script, confirmations: 3 }))),
    }),
  };
  const revoked = revokedPeerCommitment(f.rec, f.c0.txid);
  return { chain, asked, revoked };
}

describe('findOnChain: the node\'s view, asked as the header says', () => {
  it('a mempool spender of an HTLC output: parsed, its outputs paying the script asked again (one spent is listed as spent), no UTXO scan', async () => {
    const f = fixture();
    const m = rawOf([{ txid: f.c0.txid, vout: f.htlcs[0]! }], [{ amount: 4_000n, script: f.script }, { amount: 1_000n, script: OTHER }, { amount: 3_000n, script: f.script }]);
    const { chain, asked, revoked } = node(f, {
      unspent: [`${f.c0.txid}:${f.toLocal}`, `${f.c0.txid}:${f.htlcs[1]}`, `${m.txid}:0`], mempool: { [`${f.c0.txid}:${f.htlcs[0]}`]: m.txid }, raw: { [m.txid]: m.hex },
    });
    const r = await findOnChain(chain, revoked);
    expect([...r.spent]).toEqual([f.htlcs[0]]);
    expect(r.found.spenders.map((s) => [s.txid, s.inputs])).toEqual([[m.txid, [{ txid: f.c0.txid, vout: f.htlcs[0] }]]]);
    expect([r.found.utxos, asked.paying]).toEqual([[], []]);
    expect([...r.found.spent]).toEqual([`${m.txid}:2`]);
    expect(asked.utxo.filter((k) => k.startsWith(m.txid)).sort()).toEqual([`${m.txid}:0`, `${m.txid}:2`]);
    expect([...r.found.absent!]).toEqual([]);
  });

  it('an HTLC output spent by no mempool transaction (confirmed): the UTXO set scanned for the script, the commitment\'s own to_local left out, each found output asked again', async () => {
    const f = fixture();
    const x = 'a1'.repeat(32);
    const y = 'a2'.repeat(32);
    for (const noMempool of [false, true]) {
      const { chain, asked, revoked } = node(f, {
        unspent: [`${f.c0.txid}:${f.toLocal}`, `${f.c0.txid}:${f.htlcs[0]}`, `${x}:0`], noMempool,
        paying: [{ txid: f.c0.txid, vout: f.toLocal, value: 10_000n }, { txid: x, vout: 0, value: 4_000n }, { txid: y, vout: 1, value: 4_100n }],
      });
      const r = await findOnChain(chain, revoked);
      expect([...r.spent]).toEqual([f.htlcs[1]]);
      expect(asked.paying).toEqual([hex(f.script)]);
      expect(r.found.utxos).toEqual([{ txid: x, vout: 0, amountSat: 4_000n }, { txid: y, vout: 1, amountSat: 4_100n }]);
      expect([...r.found.spent]).toEqual([`${y}:1`]);
      expect(r.found.spenders).toEqual([]);
    }
    // A node that cannot scan: nothing found that way, and nothing refused.
    const { chain, revoked } = node(f, { unspent: [`${f.c0.txid}:${f.toLocal}`], noScan: true });
    expect((await findOnChain(chain, revoked)).found.utxos).toEqual([]);
  });

  it('a transaction the node hands over that does not parse is refused naming it as the node\'s', async () => {
    const f = fixture();
    const id = '9b'.repeat(32);
    const { chain, revoked } = node(f, { unspent: [], mempool: { [`${f.c0.txid}:${f.htlcs[0]}`]: id }, raw: { [id]: '0200000000' } });
    const e = await refusalAsync(findOnChain(chain, revoked), 'E_BAD_TRANSACTION', 3);
    expect(e.message).toMatch(new RegExp(`^the node's transaction ${id} is not a transaction: \\S`));
  });

  it('only to_local and the HTLC outputs are asked of the commitment; nothing spent, nothing scanned', async () => {
    const f = fixture();
    const all = [f.toLocal, ...f.htlcs].map((v) => `${f.c0.txid}:${v}`);
    const { chain, asked, revoked } = node(f, { unspent: all });
    const r = await findOnChain(chain, revoked);
    expect([[...r.spent], r.found.spenders, r.found.utxos, asked.paying]).toEqual([[], [], [], []]);
    expect(asked.utxo.sort()).toEqual(all.sort());
  });

  it('the transactions given: each output paying the script the node does not hold is absent — unless already known spent; outputs paying elsewhere never asked', async () => {
    const f = fixture();
    const m = rawOf([{ txid: f.c0.txid, vout: f.htlcs[0]! }], [{ amount: 4_000n, script: f.script }]);
    const g = stage(f, '9a', [f.htlcs[1]!], [{ amountSat: 4_000n, script: f.script }, { amountSat: 500n, script: OTHER }, { amountSat: 4_100n, script: f.script }]);
    const { chain, asked, revoked } = node(f, {
      unspent: [`${f.c0.txid}:${f.toLocal}`, `${g.txid}:2`], mempool: { [`${f.c0.txid}:${f.htlcs[0]}`]: m.txid }, raw: { [m.txid]: m.hex },
    });
    const r = await findOnChain(chain, revoked, [g, parseSecondStage(m.hex, 'm')]);
    expect([...r.found.spent]).toEqual([`${m.txid}:0`]);
    expect([...r.found.absent!]).toEqual([`${g.txid}:0`]);
    expect(asked.utxo).not.toContain(`${g.txid}:1`);
  });
});

describe('parseSecondStage', () => {
  it('reads txid, the outpoints spent and the outputs; bytes that are not a transaction are malformed input naming what they were', () => {
    const f = fixture();
    const m = rawOf([{ txid: f.c0.txid, vout: 2 }, { txid: 'cc'.repeat(32), vout: 7 }], [{ amount: 4_000n, script: f.script }, { amount: 1n, script: OTHER }]);
    const s = parseSecondStage(m.hex, 'x');
    expect(s.txid).toBe(m.txid);
    expect(s.inputs).toEqual([{ txid: f.c0.txid, vout: 2 }, { txid: 'cc'.repeat(32), vout: 7 }]);
    expect(s.outputs.map((o) => [o.amountSat, hex(o.script)])).toEqual([[4_000n, hex(f.script)], [1n, hex(OTHER)]]);
    // The cheater's own outputs may pay anything consensus allows: a bare OP_TRUE, bytes that do not parse as a script.
    const odd = rawOf([{ txid: f.c0.txid, vout: 2 }], [{ amount: 4_000n, script: f.script }, { amount: 1n, script: Uint8Array.of(0x51) }, { amount: 2n, script: Uint8Array.of(0x4c) }]);
    expect(parseSecondStage(odd.hex, 'x').outputs.map((o) => hex(o.script))).toEqual([hex(f.script), '51', '4c']);
    const e = refusal(() => parseSecondStage('0200000000', '--htlc-tx 2'), 'E_BAD_TRANSACTION', 3);
    expect(e.message).toMatch(/^--htlc-tx 2 is not a transaction: \S/);
  });
});
