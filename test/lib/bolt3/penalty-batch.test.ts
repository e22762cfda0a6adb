/**
 * Issue 37 finding 1: in an anchors or zero-fee channel the peer's HTLC signatures are
 * SIGHASH_SINGLE|ANYONECANPAY, so a cheater who broadcasts a revoked commitment can merge
 * its pre-signed HTLC-timeout / HTLC-success transactions into one transaction, with fee
 * inputs and change of its own, in any order — the signature binds input i to output i
 * only. The penalty (src/lib/bolt3/party-penalty.ts) must take EVERY second-stage output
 * of every such transaction, with a node's findings or from the transactions given.
 *
 * Invariant under test: after the penalties, nothing of the revoked commitment is left
 * for the cheater once to_self_delay runs out — every outpoint he could then sweep
 * (to_local, each HTLC output still on the commitment, each output of his transactions
 * paying the revocable second-stage script) is spent by a justice transaction, and
 * nothing else is.
 *
 * Everything checked is read by test code: the commitment and the cheater's transactions
 * are parsed by test/independent/tx.ts, the cheater's batches assembled byte by byte
 * (serializeSegwit), the second-stage script taken from the cheater's own pre-signed
 * transactions (their output 0), the revocation pubkey derived here from Alice's basepoint
 * and the secret Bob revealed, and every justice input's signature verified by OpenSSL over
 * a BIP-143 digest written in test code (./independent-p2wsh.ts). The cheater's witnesses
 * are placeholders: only the shape of his transactions matters to the penalty; Bitcoin Core
 * judges real ones in test/regtest/bolt3.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64 } from '@scure/base';
import { toHex } from '../../../src/lib/bytes.ts';
import type { ChannelState, RevokeAndAck } from '../../../src/lib/bolt3/party.ts';
import { holderCommitment } from '../../../src/lib/bolt3/party-holder-commitment.ts';
import { findOnChain, parseSecondStage, penalties, revokedPeerCommitment, type PenaltyPlan } from '../../../src/lib/bolt3/party-penalty.ts';
import { refusal } from '../../setup/refusal.ts';
import { SIGHASH_ALL, bip143SingleHash, p2wshOf, parseTx, verifyEcdsa } from './independent-p2wsh.ts';
import { psbtUnsignedTx, type ParsedTx, type TxInput, type TxOutput } from '../../independent/tx.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';
import { A, B, CHANNEL_ID, open, revocationPubkey, serializeSegwit, sha, sk, updateTo, type Format } from './two-parties.ts';

const PREIMAGES = [0, 1, 2, 3].map((i) => sha(Uint8Array.of(0xb0 + i)));
const BOBS_CLTV = 700; // both HTLCs Bob offers: one nLockTime, so their HTLC-timeouts can be one transaction
const ALICES_CLTV = 720;
const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0x11));
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Alice's side of state n: with the HTLCs, Bob offers her two (one cltv_expiry) and she offers him two; without, all settled. */
function state(n: number, format: Format, withHtlcs: boolean): ChannelState {
  const htlc = (direction: 'offered' | 'received', sat: number, i: number, cltv: number) => ({
    direction, amount_msat: `${sat}000`, payment_hash: toHex(sha(PREIMAGES[i]!)), cltv_expiry: cltv,
  });
  const htlcs = withHtlcs
    ? [htlc('received', 20_000, 0, BOBS_CLTV), htlc('received', 30_000, 1, BOBS_CLTV), htlc('offered', 25_000, 2, ALICES_CLTV), htlc('offered', 15_000, 3, ALICES_CLTV)]
    : [];
  const inFlight = htlcs.reduce((a, h) => a + BigInt(h.amount_msat), 0n);
  const bob = 300_000_000n + BigInt(n) * 1_000_000n;
  return {
    type: 'bolt3/channel-state', version: 1, network: 'regtest', channel_id: CHANNEL_ID, commitment_number: n,
    to_local_msat: String(1_000_000_000n - bob - inFlight), to_remote_msat: String(bob), feerate_per_kw: format === 'zero-fee' ? 0 : 2500, htlcs,
  };
}

type Holder = { txid: string; hex: string; htlc_txs: { kind: string; commitment_output_index: number; psbt?: string }[] };
type SecondStage = { kind: string; vout: number; input: TxInput; output: TxOutput; version: number; lockTime: number };
type Cheat = {
  format: Format;
  record: ReturnType<typeof open>['a'];
  commitment: ParsedTx;
  second: SecondStage[];
  script: Uint8Array;
  toLocal: number;
  rk: Uint8Array;
};

/**
 * Bob keeps his commitment 0 (four HTLCs) completed, with its four HTLC transactions as the
 * product hands them to him (PSBTs carrying Alice's SINGLE|ANYONECANPAY signatures), and
 * then revokes it; Alice's record after two more updates is the victim's.
 */
const cheats = new Map<Format, Cheat>();
function cheat(format: Format): Cheat {
  const known = cheats.get(format);
  if (known) return known;
  let p = open(format);
  p = updateTo(p, state(0, format, true));
  const held = holderCommitment(p.b, B.seed, sk(B), [PREIMAGES[2]!, PREIMAGES[3]!]) as Holder;
  const one = updateTo(p, state(1, format, false));
  const secret0 = Uint8Array.from(Buffer.from((one.revB as RevokeAndAck).per_commitment_secret, 'hex'));
  p = updateTo(one, state(2, format, false));
  const commitment = parseTx(held.hex);
  expect(commitment.txid).toBe(held.txid);
  const second = held.htlc_txs.map((h) => {
    const unsigned = psbtUnsignedTx(base64.decode(h.psbt!));
    expect([unsigned.inputs.length, unsigned.outputs.length]).toEqual([1, 1]);
    expect(unsigned.inputs[0]!.txid).toBe(commitment.txid);
    return { kind: h.kind, vout: unsigned.inputs[0]!.vout, input: unsigned.inputs[0]!, output: unsigned.outputs[0]!, version: unsigned.version, lockTime: unsigned.lockTime };
  });
  expect(second.map((s) => s.kind).sort()).toEqual(['htlc-success', 'htlc-success', 'htlc-timeout', 'htlc-timeout']);
  // Every second-stage output pays one script: to_local's, with this commitment's keys.
  const script = second[0]!.output.script;
  for (const s of second) expect(toHex(s.output.script)).toBe(toHex(script));
  const toLocal = commitment.outputs.findIndex((o) => same(o.script, script));
  expect(toLocal).toBeGreaterThanOrEqual(0);
  const c = { format, record: p.a, commitment, second, script, toLocal, rk: revocationPubkey(publicKeyOf(A.revocation), publicKeyOf(secret0)) };
  cheats.set(format, c);
  return c;
}

/** One of the cheater's transactions: its pieces in order — a pre-signed second stage (by index in `second`) or a fee input of his. */
type Piece = { htlc: number } | { fee: number };
type Batch = { pieces: Piece[]; extraOutputs: number; trimTrailing: boolean };

const feeOutpoint = (tag: string, n: number): TxInput => {
  const txid = sha(new TextEncoder().encode(`fee ${tag} ${n}`));
  return {
    txid: toHex(Uint8Array.from(txid).reverse()), vout: n, scriptSig: new Uint8Array(0), sequence: 0xfffffffd,
    witness: [new Uint8Array(72), new Uint8Array(33)], outpoint: Uint8Array.from([...txid, n, 0, 0, 0]),
  };
};
const change = (tag: string, k: number): TxOutput => ({ amount: 50_000n + BigInt(k), script: Uint8Array.of(0x00, 0x14, ...sha(new TextEncoder().encode(`change ${tag} ${k}`)).subarray(0, 20)) });

/**
 * The cheater's transaction as SIGHASH_SINGLE requires it: a second stage's input at index
 * i has its pre-signed output at index i; a fee input's index gets change (or nothing, when
 * it comes after the last second stage and the cheater trims); extra outputs at the end.
 */
function batchHex(c: Cheat, b: Batch, tag: string): string {
  const first = b.pieces.find((x): x is { htlc: number } => 'htlc' in x)!;
  const lastHtlc = b.pieces.map((x) => 'htlc' in x).lastIndexOf(true);
  const inputs = b.pieces.map((x) => ('htlc' in x ? { ...c.second[x.htlc]!.input, witness: [new Uint8Array(0), new Uint8Array(72), new Uint8Array(72), new Uint8Array(0), new Uint8Array(140)] } : feeOutpoint(tag, x.fee)));
  const paired = b.pieces.map((x, k) => ('htlc' in x ? c.second[x.htlc]!.output : change(tag, k)));
  const outputs = [...(b.trimTrailing ? paired.slice(0, lastHtlc + 1) : paired), ...Array.from({ length: b.extraOutputs }, (_, k) => change(tag, 100 + k))];
  const s = c.second[first.htlc]!;
  return serializeSegwit({ version: s.version, lockTime: s.lockTime, inputs, outputs });
}

type Penalties = { skipped: { txid?: string; vout: number; reason: string }[]; transactions: { hex: string; inputs: { kind: string; txid: string; vout: number; amount_sat: number }[] }[] };

/**
 * What the cheater could sweep after to_self_delay if nobody took it first, computed here:
 * to_local, every HTLC output none of his transactions spent, every output of his
 * transactions paying the second-stage script. Keyed `txid:vout`, with the prevout.
 */
function leftForTheCheater(c: Cheat, txs: ParsedTx[]): Map<string, TxOutput> {
  const spent = new Set(txs.flatMap((t) => t.inputs.filter((i) => i.txid === c.commitment.txid).map((i) => i.vout)));
  const left = new Map<string, TxOutput>();
  for (const v of [c.toLocal, ...c.second.map((s) => s.vout)]) if (!spent.has(v)) left.set(`${c.commitment.txid}:${v}`, c.commitment.outputs[v]!);
  for (const t of txs) t.outputs.forEach((o, j) => same(o.script, c.script) && left.set(`${t.txid}:${j}`, o));
  return left;
}

/**
 * Every justice input spends an outpoint of `left`, through the revocation branch, signed (OpenSSL) by the revocation key; returns what was taken.
 * `signatures`: every how many inputs a signature is verified (each is a BIP-143 digest over the whole transaction: 1 = all; the first and last always).
 */
function verifyJustice(c: Cheat, out: Penalties, left: Map<string, TxOutput>, signatures = 1): string[] {
  const taken: string[] = [];
  for (const t of out.transactions) {
    const tx = parseTx(t.hex);
    tx.inputs.forEach((input, i) => {
      const key = `${input.txid}:${input.vout}`;
      const prevout = left.get(key);
      expect(prevout, `justice input ${key} is not something the cheater could take`).toBeDefined();
      const [sig, selector, witnessScript] = input.witness;
      expect(input.witness).toHaveLength(3);
      expect(toHex(p2wshOf(witnessScript!))).toBe(toHex(prevout!.script));
      // to_local form (the second stage's too): 1 selects OP_IF <revocationpubkey>; an HTLC script takes the key itself.
      expect(toHex(selector!)).toBe(same(prevout!.script, c.script) ? '01' : toHex(c.rk));
      expect(sig!.at(-1)).toBe(SIGHASH_ALL);
      if (i % signatures === 0 || i === tx.inputs.length - 1) expect(verifyEcdsa(c.rk, sig!.subarray(0, -1), bip143SingleHash(tx, i, witnessScript!, prevout!.amount, SIGHASH_ALL)), `signature of ${key}`).toBe(true);
      taken.push(key);
    });
  }
  return taken;
}

const plan = (extra: Partial<PenaltyPlan> = {}): PenaltyPlan => ({ revocationBasepointSecret: A.revocation, destinationScript: DEST, feeratePerKw: 2500, ...extra });
const run = (c: Cheat, p: PenaltyPlan) => penalties(c.record, c.commitment.txid, p) as Penalties;
const sorted = (xs: Iterable<string>) => [...xs].sort();

/** The node's view after the cheater's transactions: which commitment outputs are spent, what scantxoutset sees paying the script. */
function nodeView(c: Cheat, confirmed: ParsedTx[], mempool: ParsedTx[]): Pick<PenaltyPlan, 'spent' | 'found'> {
  const all = [...confirmed, ...mempool];
  const spent = new Set(all.flatMap((t) => t.inputs.filter((i) => i.txid === c.commitment.txid).map((i) => i.vout)));
  const utxos = [c.commitment, ...confirmed].flatMap((t) => t.outputs.flatMap((o, vout) => (same(o.script, c.script) && !(t === c.commitment && spent.has(vout)) ? [{ txid: t.txid, vout, amountSat: o.amount }] : [])));
  return { spent, found: { spenders: mempool.map((t) => parseSecondStage(toHex(serialize(t)), `mempool ${t.txid}`)), utxos, spent: new Set() } };
}
const serialize = (t: ParsedTx) => Uint8Array.from(Buffer.from(serializeSegwit(t), 'hex'));

describe('penalties on a revoked commitment whose HTLCs the cheater moved in batches (issue 37, finding 1)', () => {
  const timeouts = (c: Cheat) => c.second.flatMap((s, i) => (s.kind === 'htlc-timeout' ? [i] : []));

  for (const format of ['anchors', 'zero-fee'] as const) {
    it(`${format}: two HTLC-timeouts (one cltv_expiry) in one transaction with a fee input — both second-stage outputs taken, with the node's spent outputs, given once, twice, and --combine`, () => {
      const c = cheat(format);
      const [t0, t1] = timeouts(c);
      const hex = batchHex(c, { pieces: [{ htlc: t0! }, { htlc: t1! }, { fee: 0 }], extraOutputs: 0, trimTrailing: false }, 'finding');
      const batch = parseTx(hex);
      expect(batch.outputs.map((o) => same(o.script, c.script))).toEqual([true, true, false]);
      const left = leftForTheCheater(c, [batch]);
      expect(sorted(left.keys())).toEqual(sorted([`${c.commitment.txid}:${c.toLocal}`, ...c.second.filter((s) => s.kind === 'htlc-success').map((s) => `${c.commitment.txid}:${s.vout}`), `${batch.txid}:0`, `${batch.txid}:1`]));
      const given = parseSecondStage(hex, '--htlc-tx');
      const spent = new Set([c.second[t0!]!.vout, c.second[t1!]!.vout]);
      for (const [name, p] of [
        ['the node says the HTLC outputs are spent', plan({ spent, secondStage: [given] })],
        ['given twice', plan({ spent, secondStage: [given, given] })],
        ['offline: nothing but the transaction given', plan({ secondStage: [given] })],
        ['--combine', plan({ secondStage: [given], combine: true })],
      ] as const) {
        const out = run(c, p);
        expect(sorted(verifyJustice(c, out, left)), name).toEqual(sorted(left.keys()));
        expect(out.skipped, name).toEqual([...spent].sort((a, b) => a - b).map((vout) => ({ vout, reason: 'spent' })));
        if (name === '--combine') expect(out.transactions).toHaveLength(1);
      }
    });
  }

  it('with a node and nothing given: the second-stage outputs it finds (scantxoutset, a mempool spender) are all taken, to_local not twice', () => {
    const c = cheat('anchors');
    const [t0, t1] = timeouts(c);
    const s = c.second.flatMap((x, i) => (x.kind === 'htlc-success' ? [i] : []));
    // Fee input first: the HTLC inputs at 1 and 2 — and the successes, later, in the mempool.
    const confirmed = parseTx(batchHex(c, { pieces: [{ fee: 0 }, { htlc: t1! }, { htlc: t0! }], extraOutputs: 1, trimTrailing: false }, 'confirmed'));
    const pending = parseTx(batchHex(c, { pieces: [{ htlc: s[1]! }, { fee: 0 }, { fee: 1 }, { htlc: s[0]! }], extraOutputs: 0, trimTrailing: true }, 'pending'));
    const left = leftForTheCheater(c, [confirmed, pending]);
    expect(left.size).toBe(5); // to_local and four second-stage outputs
    const out = run(c, plan(nodeView(c, [confirmed], [pending])));
    expect(sorted(verifyJustice(c, out, left))).toEqual(sorted(left.keys()));
  });

  it('refused, nothing signed: a transaction given as the cheater\'s whose HTLC input is not paired with its second stage (E_NOT_SECOND_STAGE), two that spend one HTLC output (E_SECOND_STAGE_CONFLICT)', () => {
    const c = cheat('anchors');
    const [t0, t1] = timeouts(c);
    const good = batchHex(c, { pieces: [{ htlc: t0! }, { htlc: t1! }], extraOutputs: 0, trimTrailing: false }, 'a');
    // The outputs swapped: input 0 is not paired with a second-stage output any more (the peer's signature would not verify).
    const tx = parseTx(good);
    const swapped = serializeSegwit({ ...tx, outputs: [change('b', 0), tx.outputs[0]!] });
    refusal(() => run(c, plan({ secondStage: [parseSecondStage(swapped, '--htlc-tx')] })), 'E_NOT_SECOND_STAGE', 4);
    // The cheater's first try, replaced by another batching: only one of them can be on chain.
    const other = batchHex(c, { pieces: [{ fee: 3 }, { htlc: t0! }], extraOutputs: 0, trimTrailing: false }, 'c');
    const e = refusal(() => run(c, plan({ secondStage: [parseSecondStage(good, 'a'), parseSecondStage(other, 'c')] })), 'E_SECOND_STAGE_CONFLICT', 4);
    expect(e.detail?.vout).toBe(c.second[t0!]!.vout);
  });

  it('property: whatever the cheater batches — any subset of his second stages in any number of transactions, HTLC inputs at any index among his own inputs and outputs, timeout and success mixed — nothing is left for him after to_self_delay, offline or with a node', () => {
    const counts = { offline: 0, node: 0, combined: 0, multiHtlc: 0, htlcNotFirst: 0, mixed: 0, untouched: 0, trimmed: 0 };
    fc.assert(
      fc.property(
        fc.record({
          format: fc.constantFrom<Format>('anchors', 'zero-fee'),
          // For each of the four HTLCs: left on the commitment (-1) or moved by batch 0, 1 or 2.
          assignment: fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 4, maxLength: 4 }),
          fees: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
          extra: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
          trim: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          order: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 18, maxLength: 18 }),
          inMempool: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          node: fc.boolean(),
          alsoGiven: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          combine: fc.boolean(),
          reverseGiven: fc.boolean(),
        }),
        (g) => {
          const c = cheat(g.format);
          const batches: { hex: string; tx: ParsedTx; mempool: boolean }[] = [];
          for (let b = 0; b < 3; b++) {
            const htlcs = g.assignment.flatMap((a, i) => (a === b ? [i] : []));
            if (htlcs.length === 0) continue;
            const pieces: Piece[] = [...htlcs.map((htlc) => ({ htlc })), ...Array.from({ length: g.fees[b]! }, (_, fee) => ({ fee }))];
            const keyed = pieces.map((piece, k) => ({ piece, key: g.order[b * 6 + k]! * 10 + k }));
            keyed.sort((x, y) => x.key - y.key);
            const hex = batchHex(c, { pieces: keyed.map((x) => x.piece), extraOutputs: g.extra[b]!, trimTrailing: g.trim[b]! }, `${b}`);
            batches.push({ hex, tx: parseTx(hex), mempool: g.inMempool[b]! });
            counts.multiHtlc += htlcs.length > 1 ? 1 : 0;
            counts.htlcNotFirst += 'fee' in keyed[0]!.piece ? 1 : 0;
            counts.mixed += new Set(htlcs.map((i) => c.second[i]!.kind)).size > 1 ? 1 : 0;
            counts.trimmed += g.trim[b]! && 'fee' in keyed.at(-1)!.piece ? 1 : 0;
          }
          counts.untouched += g.assignment.includes(-1) ? 1 : 0;
          const left = leftForTheCheater(c, batches.map((b) => b.tx));
          const givenAll = batches.map((b) => parseSecondStage(b.hex, `--htlc-tx ${b.tx.txid}`));
          const p = g.node
            ? plan({ ...nodeView(c, batches.filter((b) => !b.mempool).map((b) => b.tx), batches.filter((b) => b.mempool).map((b) => b.tx)), secondStage: givenAll.filter((_, i) => g.alsoGiven[i]) })
            : plan({ secondStage: g.reverseGiven ? [...givenAll].reverse() : givenAll });
          counts[g.node ? 'node' : 'offline']++;
          if (g.combine) counts.combined++;
          const out = run(c, { ...p, combine: g.combine });
          const taken = verifyJustice(c, out, left);
          expect(new Set(taken).size, 'an outpoint taken twice').toBe(taken.length);
          expect(sorted(taken)).toEqual(sorted(left.keys()));
          if (g.combine) expect(out.transactions).toHaveLength(1);
        },
      ),
      { numRuns: Number(process.env.PENALTY_PROPERTY_RUNS ?? 60) },
    );
    for (const [kind, n] of Object.entries(counts)) expect(n, `no run had: ${kind}`).toBeGreaterThan(0);
  });
});

// ---- review of the fix: the cheater attacks the penalty again -----------------------------

/**
 * The cheater's transaction: `pieces` in order (a pre-signed second stage's input at index i has
 * its output at i; a coin of his has change there), then any outputs he likes (`extra`).
 */
function piecesTx(c: Cheat, pieces: Piece[], extra: TxOutput[], tag: string): string {
  const placeholder = [new Uint8Array(0), new Uint8Array(72), new Uint8Array(72), new Uint8Array(0), new Uint8Array(140)];
  const inputs = pieces.map((x) => ('htlc' in x ? { ...c.second[x.htlc]!.input, witness: placeholder } : feeOutpoint(tag, x.fee)));
  const outputs = [...pieces.map((x, k) => ('htlc' in x ? c.second[x.htlc]!.output : change(tag, k))), ...extra];
  const s = c.second[pieces.find((x): x is { htlc: number } => 'htlc' in x)!.htlc]!;
  return serializeSegwit({ version: s.version, lockTime: s.lockTime, inputs, outputs });
}

/** His second stages `htlcs` first, then `fees` coins of his, then `extra`. */
function cheaterTx(c: Cheat, htlcs: number[], extra: TxOutput[], tag: string, fees = 1): string {
  return piecesTx(c, [...htlcs.map((htlc) => ({ htlc })), ...Array.from({ length: fees }, (_, fee) => ({ fee }))], extra, tag);
}

/**
 * Bitcoin Core as the penalty asks it, modelled by test code from the transactions it holds
 * (Core's documented answers): gettxout with include_mempool (an output spent in the mempool,
 * or never created, is null), gettxspendingprevout (the mempool's spender only),
 * getrawtransaction, and scantxoutset (the confirmed UTXO set: the mempool not looked at).
 */
function modelNode(c: Cheat, confirmed: ParsedTx[], mempool: ParsedTx[]) {
  const byId = new Map([c.commitment, ...confirmed, ...mempool].map((t) => [t.txid, t]));
  const spender = (txs: ParsedTx[]) => new Map(txs.flatMap((t) => t.inputs.map((i) => [`${i.txid}:${i.vout}`, t.txid] as const)));
  const spentInChain = spender(confirmed);
  const spentAnywhere = spender([...confirmed, ...mempool]);
  const inMempool = new Set(mempool.map((t) => t.txid));
  return {
    utxo: async (txid: string, vout: number) => {
      const o = byId.get(txid)?.outputs[vout];
      if (!o || spentAnywhere.has(`${txid}:${vout}`)) return null;
      return { txid, vout, value: o.amount, scriptPubKey: o.script, confirmations: inMempool.has(txid) ? 0 : 1 };
    },
    rawTransaction: async (txid: string) => serialize(byId.get(txid)!),
    mempoolSpender: async (txid: string, vout: number) => {
      const s = spentAnywhere.get(`${txid}:${vout}`);
      return s !== undefined && inMempool.has(s) ? s : undefined;
    },
    outputsPaying: async (script: Uint8Array) => [c.commitment, ...confirmed].flatMap((t) => t.outputs.flatMap((o, vout) =>
      same(o.script, script) && !spentInChain.has(`${t.txid}:${vout}`) ? [{ txid: t.txid, vout, value: o.amount, scriptPubKey: o.script, confirmations: 1 }] : [])),
  };
}

const economic = 'worth less than its fee at this feerate';

describe('review of issue 37\'s fix: the cheater attacks the penalty again', () => {
  const timeouts = (c: Cheat) => c.second.flatMap((s, i) => (s.kind === 'htlc-timeout' ? [i] : []));
  const decoys = (c: Cheat, count: number, amount: bigint): TxOutput[] => Array.from({ length: count }, () => ({ amount, script: c.script }));

  it('R1 --combine: decoy outputs paying the second-stage script, each worth less than its own input\'s fee, neither eat the penalty nor stop it — each is left out and listed, the rest taken', () => {
    const c = cheat('anchors');
    const [t0, t1] = timeouts(c);
    // 900 outputs of 330 sat (P2WSH's dust threshold): each costs ~800 sat of fee to take at 2500 sat/kw.
    const hex = cheaterTx(c, [t0!, t1!], decoys(c, 900, 330n), 'decoys');
    const batch = parseTx(hex);
    const left = leftForTheCheater(c, [batch]);
    const worth = [...left].filter(([, o]) => o.amount > 330n).map(([k]) => k);
    expect(worth).toHaveLength(5); // to_local, the two HTLC-successes, both HTLC-timeouts' outputs
    const out = run(c, plan({ secondStage: [parseSecondStage(hex, '--htlc-tx')], combine: true }));
    expect(sorted(verifyJustice(c, out, left))).toEqual(sorted(worth));
    expect(out.skipped.filter((s) => s.reason === economic).map((s) => `${s.txid}:${s.vout}`).sort()).toEqual(sorted([...left.keys()].filter((k) => !worth.includes(k))));
  });

  it('R2 --combine: so many second-stage outputs (each worth its fee) that one transaction would exceed Core\'s 400,000 weight units: split, every transaction standard, everything taken', () => {
    const c = cheat('anchors');
    const [t0, t1] = timeouts(c);
    const hex = cheaterTx(c, [t0!, t1!], decoys(c, 1_300, 330n), 'heavy');
    const batch = parseTx(hex);
    const left = leftForTheCheater(c, [batch]);
    const out = run(c, plan({ secondStage: [parseSecondStage(hex, '--htlc-tx')], combine: true, feeratePerKw: 253 }));
    for (const t of out.transactions) expect(parseTx(t.hex).weight, 'a justice transaction Core would refuse (tx-size)').toBeLessThanOrEqual(400_000);
    // 1,303 inputs: the signatures of one in 100 verified here (Core checks them all in test/regtest/bolt3.test.ts).
    expect(sorted(verifyJustice(c, out, left, 100))).toEqual(sorted(left.keys()));
    expect(out.transactions).toHaveLength(2);
  });

  it('property (the fix attacked): whatever the cheater batches, with decoy outputs, and whatever the victim was given — the batch he replaced (RBF), one never broadcast — with a node or offline, per output or --combine, at any feerate: everything worth its fee is taken, the rest listed, nothing the node does not hold, every transaction standard', async () => {
    const counts = { node: 0, offline: 0, combined: 0, stale: 0, unknown: 0, decoyTaken: 0, decoySkipped: 0, mempool: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          format: fc.constantFrom<Format>('anchors', 'zero-fee'),
          assignment: fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 4, maxLength: 4 }),
          fees: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
          decoys: fc.array(fc.array(fc.constantFrom(330n, 20_000n), { maxLength: 3 }), { minLength: 3, maxLength: 3 }),
          order: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 18, maxLength: 18 }),
          status: fc.array(fc.constantFrom('confirmed', 'mempool', 'unknown'), { minLength: 3, maxLength: 3 }),
          staleGiven: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          currentGiven: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
          node: fc.boolean(),
          combine: fc.boolean(),
          feerate: fc.constantFrom(253, 2500, 12_500),
        }),
        async (g) => {
          const c = cheat(g.format);
          const batches: { tx: ParsedTx; hex: string; status: string; stale: ParsedTx; staleHex: string; decoys: bigint[] }[] = [];
          for (let b = 0; b < 3; b++) {
            const htlcs = g.assignment.flatMap((a, i) => (a === b ? [i] : []));
            if (htlcs.length === 0) continue;
            const pieces: Piece[] = [...htlcs.map((htlc) => ({ htlc })), ...Array.from({ length: g.fees[b]! }, (_, fee) => ({ fee }))];
            const keyed = pieces.map((piece, k) => ({ piece, key: g.order[b * 6 + k]! * 10 + k })).sort((x, y) => x.key - y.key).map((x) => x.piece);
            const hex = piecesTx(c, keyed, g.decoys[b]!.map((amount) => ({ amount, script: c.script })), `now ${b}`);
            // What he broadcast first and replaced: the same HTLCs, his coins in front.
            const staleHex = piecesTx(c, [{ fee: 9 }, ...htlcs.map((htlc) => ({ htlc }))], [], `before ${b}`);
            batches.push({ tx: parseTx(hex), hex, status: g.node ? g.status[b]! : 'confirmed', stale: parseTx(staleHex), staleHex, decoys: g.decoys[b]! });
          }
          const onChain = batches.filter((b) => b.status !== 'unknown');
          const left = leftForTheCheater(c, onChain.map((b) => b.tx));
          const revoked = revokedPeerCommitment(c.record, c.commitment.txid);
          let p: PenaltyPlan;
          const notThere: string[] = []; // outputs paying the script of transactions given that the node does not hold
          if (g.node) {
            const given = batches.flatMap((b, i) => [
              ...(g.staleGiven[i] ? [b.staleHex] : []), ...(g.currentGiven[i] || b.status === 'unknown' ? [b.hex] : []),
            ]).map((h) => parseSecondStage(h, '--htlc-tx'));
            batches.forEach((b, i) => {
              if (g.staleGiven[i]) notThere.push(...b.stale.outputs.flatMap((o, k) => (same(o.script, c.script) ? [`${b.stale.txid}:${k}`] : [])));
              if (b.status === 'unknown') notThere.push(...b.tx.outputs.flatMap((o, k) => (same(o.script, c.script) ? [`${b.tx.txid}:${k}`] : [])));
            });
            const node = modelNode(c, onChain.filter((b) => b.status === 'confirmed').map((b) => b.tx), onChain.filter((b) => b.status === 'mempool').map((b) => b.tx));
            p = plan({ ...(await findOnChain(node, revoked, given)), secondStage: given });
            counts.node++;
            if (g.staleGiven.some((x, i) => x && i < batches.length)) counts.stale++;
            if (batches.some((b) => b.status === 'unknown')) counts.unknown++;
            if (batches.some((b) => b.status === 'mempool')) counts.mempool++;
          } else {
            p = plan({ secondStage: batches.map((b) => parseSecondStage(b.hex, '--htlc-tx')) });
            counts.offline++;
          }
          if (g.combine) counts.combined++;
          // A 330-sat decoy is worth its fee only in one transaction for all at the 253 sat/kw floor; 20,000 sat always.
          const worth = (o: TxOutput) => o.amount !== 330n || (g.combine && g.feerate === 253);
          const out = run(c, { ...p, combine: g.combine, feeratePerKw: g.feerate });
          const taken = verifyJustice(c, out, left, 3);
          expect(new Set(taken).size, 'an outpoint taken twice').toBe(taken.length);
          expect(sorted(taken)).toEqual(sorted([...left].filter(([, o]) => worth(o)).map(([k]) => k)));
          const listed = new Set(out.skipped.map((x) => `${x.txid ?? c.commitment.txid}:${x.vout}`));
          for (const [k, o] of left) if (!worth(o)) expect(listed.has(k), `${k} neither taken nor listed`).toBe(true);
          for (const k of notThere) expect(listed.has(k), `${k} (not at the node) not listed`).toBe(true);
          for (const t of out.transactions) expect(parseTx(t.hex).weight).toBeLessThanOrEqual(400_000);
          for (const [, o] of left) if (o.amount === 330n) counts[worth(o) ? 'decoyTaken' : 'decoySkipped']++;
        },
      ),
      { numRuns: Number(process.env.PENALTY_PROPERTY_RUNS ?? 60) },
    );
    for (const [kind, n] of Object.entries(counts)) expect(n, `no run had: ${kind}`).toBeGreaterThan(0);
  });

  it('R3 a node and a stale --htlc-tx: the cheater replaced (RBF) the batch the victim saved — in the mempool or confirmed, the node\'s view wins: nothing refused, the replacement\'s outputs and to_local taken, the stale one reported', async () => {
    const c = cheat('anchors');
    const [t0, t1] = timeouts(c);
    const saved = cheaterTx(c, [t0!, t1!], [], 'first try');
    const replacement = parseTx(cheaterTx(c, [t1!, t0!], [], 'replacement', 2));
    const revoked = revokedPeerCommitment(c.record, c.commitment.txid);
    const left = leftForTheCheater(c, [replacement]);
    for (const [where, node] of [['mempool', modelNode(c, [], [replacement])], ['confirmed', modelNode(c, [replacement], [])]] as const) {
      for (const combine of [false, true]) {
        const given = [parseSecondStage(saved, '--htlc-tx')];
        const found = await findOnChain(node, revoked, given);
        const out = run(c, plan({ ...found, secondStage: given, combine }));
        expect(sorted(verifyJustice(c, out, left)), `${where}, combine ${combine}`).toEqual(sorted(left.keys()));
        const stale = parseTx(saved).txid;
        expect(out.skipped.filter((s) => s.txid === stale).map((s) => s.vout), `${where}: the stale batch's outputs listed`).toEqual([0, 1]);
      }
    }
  });
});
