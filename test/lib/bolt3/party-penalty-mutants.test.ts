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
import { refusal } from '../../setup/refusal.ts';
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
    // The node's mempool spenders do count as spends: two of them on one output are a conflict.
    const spender2 = stage(f, 'f5', [f.htlcs[1]!], [{ amountSat: 4_000n, script: f.script }]);
    refusal(() => run({ found: { spenders: [spender, spender2], utxos: [], spent: new Set() } }), 'E_SECOND_STAGE_CONFLICT', 4);
  });
});
