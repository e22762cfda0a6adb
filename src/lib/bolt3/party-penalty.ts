/**
 * A channel party's penalties (BOLT 5 "Revoked Transaction Close Handling") on a revoked
 * commitment of its peer, from its own record (./party.ts): the commitment rebuilt from
 * the state the party signed for it, the secret derived from the compact store — any
 * revoked commitment, however old — and one justice transaction per revocable output by
 * default, so an output the cheater already spent or moved to the second stage cannot make
 * the others fail; the second stage's outputs are taken through their own revocation path.
 *
 * Invariants (tests: test/lib/bolt3/penalty-batch.test.ts, party.test.ts, party-attacks.test.ts):
 *  1. Everything revocable is taken: to_local, every HTLC output still on the commitment, and
 *     every output paying the commitment's second-stage script (to_local's script, its keys and
 *     delay) of every transaction that spent an HTLC output of it — any number of inputs and
 *     outputs, in any order, HTLC-timeout and HTLC-success mixed. With anchors / zero-fee the
 *     peer's HTLC signatures are SIGHASH_SINGLE|ANYONECANPAY: they bind input i to output i and
 *     nothing else, so a cheater may merge several second stages with inputs and outputs of his
 *     own (issue 37); an input spending an HTLC output at index i has its second stage at i.
 *  2. Nothing is spent twice: a commitment output that a transaction given or found spends, or
 *     that the node reports spent, is left out and listed under `skipped`. Offline, two different
 *     transactions given spending one output are refused (E_SECOND_STAGE_CONFLICT) — only one can
 *     be on chain, and a justice transaction built on the other would never be valid. With a
 *     node, the node decides: a given transaction it contradicts (the cheater replaced it after
 *     the victim saved it) is not refused but left out, its outputs listed as not unspent there.
 *  3. A transaction given as the cheater's (--htlc-tx) is one: it spends an HTLC output of the
 *     commitment and each such input's paired output pays the second-stage script, else
 *     E_NOT_SECOND_STAGE and nothing is signed. What a node reports (its mempool's spender of
 *     an HTLC output, its UTXO set's outputs paying the script) is taken as found: every output
 *     paying that script is the revocation key's, whoever made it.
 *  4. The store holds all this needs: every peer commitment signed (its state) and the compact
 *     secret store. The commitment, which of its outputs are HTLCs and the second-stage script
 *     are rebuilt from them; nothing of the cheater's transactions is needed in advance.
 *  5. Every justice transaction is one Core relays: at most 400,000 weight units (--combine
 *     splits), and none takes an input worth less than the fee it adds — a cheater's decoy
 *     outputs paying the script cannot eat the penalty or sink it (listed under `skipped`).
 *
 *   source                    | what it gives                              | what is taken
 *   --------------------------|--------------------------------------------|--------------------------------------
 *   the record                | the commitment, its HTLC outputs, script   | to_local, each HTLC output not spent
 *   --htlc-tx (offline)       | the cheater's transactions                 | each output paying the script
 *   node: gettxout            | which commitment outputs are spent         | (left out, reported)
 *   node: gettxspendingprevout| the mempool's spender of each HTLC output  | each output paying the script
 *   node: scantxoutset        | confirmed outputs paying the script        | each one (the commitment's own aside)
 */
import { Transaction } from '@scure/btc-signer';
import { equalBytes, fromHex, toHex } from '../bytes.ts';
import type { ChainSource } from '../chain/types.ts';
import { MalformedInputError, OffchainError, RefusedError, UsageError } from '../errors.ts';
import type { CommitmentTransaction } from './commitment.ts';
import type { HtlcTransaction } from './htlc-tx.ts';
import { channelIdOf, peerCommitment, secretStore, type ChannelRecord } from './party.ts';
import { feeFromWeight } from './formats.ts';
import { MAX_STANDARD_TX_WEIGHT, justiceBaseWeight, justiceInputWeight, penaltyTransaction, revocableOutputs, type SecondStageOutput } from './penalty.ts';
import { indexOfCommitment, perCommitmentPoint } from './per-commitment.ts';
import { p2wsh } from './script.ts';

/** A revoked commitment of the peer, rebuilt from what we signed, with its secret out of the compact store. */
export function revokedPeerCommitment(rec: ChannelRecord, revokedTxid: string): { n: number; c: CommitmentTransaction; htlcTxs: HtlcTransaction[]; secret: Uint8Array } {
  const signed = rec.remote_signed.find((s) => s.txid === revokedTxid);
  if (!signed) throw new RefusedError('E_UNKNOWN_COMMITMENT', `${revokedTxid} is not a commitment of the peer you signed`);
  const n = signed.state.commitment_number;
  if (n > rec.remote_revoked_through) {
    throw new RefusedError('E_NOT_REVOKED', `the peer's commitment ${n} is not revoked (it revoked through ${rec.remote_revoked_through}): it may broadcast it`);
  }
  const secret = secretStore(rec).deriveSecret(indexOfCommitment(n));
  const { c, htlcTxs } = peerCommitment(rec.channel, signed.state, perCommitmentPoint(secret));
  if (c.txid !== revokedTxid) throw new OffchainError('E_BAD_CHANNEL_RECORD', `the record's commitment ${n} rebuilds to ${c.txid}, not ${revokedTxid}`);
  return { n, c, htlcTxs, secret };
}

/**
 * A transaction the cheater broadcast from the revoked commitment: what each input spends
 * and each output pays. Under SIGHASH_SINGLE (anchors) input i pairs with output i, so a
 * second stage batched with fee inputs keeps its HTLC at any index.
 */
export type BroadcastSecondStage = { txid: string; inputs: { txid: string; vout: number }[]; outputs: { amountSat: bigint; script: Uint8Array }[] };

export type PenaltyPlan = {
  revocationBasepointSecret: Uint8Array;
  destinationScript: Uint8Array;
  feeratePerKw: number;
  /** Commitment outputs to take (vouts); every revocable one when absent. */
  outputs?: readonly number[];
  /** Commitment outputs the node reports spent (its mempool included): left out, and reported. */
  spent?: ReadonlySet<number>;
  /** Transactions the cheater broadcast from the commitment (--htlc-tx): each must be a second stage of it (invariant 3). */
  secondStage?: readonly BroadcastSecondStage[];
  /** What a node found (`findOnChain`). */
  found?: ChainFindings;
  /** One transaction for everything instead of one per output. */
  combine?: boolean;
};

/** A node's answers about the cheater's moves, gathered by `findOnChain`. */
export type ChainFindings = {
  /** Transactions in its mempool spending an output of the commitment (any: an earlier penalty of ours too). */
  spenders: readonly BroadcastSecondStage[];
  /** Confirmed unspent outputs paying the commitment's second-stage script (Core's scantxoutset). */
  utxos: readonly SecondStageOutput[];
  /** Outputs paying that script that are spent already (in its mempool): left out, and reported. */
  spent: ReadonlySet<string>;
  /** Outputs of the transactions given (--htlc-tx) that the node does not hold unspent — spent, or never on chain (replaced): left out, and reported. */
  absent?: ReadonlySet<string>;
};

/** The script every second-stage output of `c` pays: P2WSH of to_local's script (the same keys and delay), revocable. */
export function secondStageScript(c: CommitmentTransaction): Uint8Array {
  return p2wsh(c.params.format.secondStage(c.keys, c.params.toSelfDelay).witnessScript!);
}

/** Which commitment outputs the cheater's transactions spent (by which), and every output of theirs paying the second-stage script. */
type Moves = { spentBy: Map<number, string>; outputs: Map<string, SecondStageOutput> };

/**
 * One transaction's moves: the commitment outputs it spends (`spends`: false for one given when a
 * node is asked — the node says what is spent, and a given transaction it contradicts was replaced
 * or never broadcast) and its outputs paying the second-stage script.
 */
function addMoves(
  moves: Moves, c: CommitmentTransaction, htlcVouts: ReadonlySet<number>, script: Uint8Array, s: BroadcastSecondStage, opts: { given: boolean; spends: boolean },
): void {
  const { given } = opts;
  const spends = opts.spends ? s.inputs.flatMap((i, k) => (i.txid === c.txid ? [{ k, vout: i.vout }] : [])) : [];
  if (given) {
    const htlcInputs = s.inputs.flatMap((i, k) => (i.txid === c.txid && htlcVouts.has(i.vout) ? [{ k, vout: i.vout }] : []));
    if (htlcInputs.length === 0) throw new RefusedError('E_NOT_SECOND_STAGE', `${s.txid} does not spend an HTLC output of the revoked commitment ${c.txid}`);
    for (const { k, vout } of htlcInputs) {
      const paired = s.outputs[k];
      if (!paired || !equalBytes(paired.script, script)) {
        throw new RefusedError(
          'E_NOT_SECOND_STAGE',
          `${s.txid} input ${k} spends HTLC output ${vout} of ${c.txid} but its output ${k} is not that HTLC's second stage (the revoked commitment's second-stage script): nothing there for the revocation key`,
          { txid: s.txid, input: k },
        );
      }
    }
  }
  for (const { vout } of spends) {
    const other = moves.spentBy.get(vout);
    if (other !== undefined && other !== s.txid) {
      throw new RefusedError('E_SECOND_STAGE_CONFLICT', `${other} and ${s.txid} both spend output ${vout} of ${c.txid}: only one can be on chain — give the one that is`, { vout });
    }
    moves.spentBy.set(vout, s.txid);
  }
  s.outputs.forEach((o, vout) => {
    if (equalBytes(o.script, script)) moves.outputs.set(`${s.txid}:${vout}`, { txid: s.txid, vout, amountSat: o.amountSat });
  });
}

type Skipped = { txid?: string; vout: number; reason: string };
type Group = { outputs: number[]; secondStage: SecondStageOutput[] };
const BELOW_FEE = 'worth less than its fee at this feerate';

/**
 * --combine (invariant 5): as few justice transactions as Core relays — each under its standard
 * weight — taking every input worth more than the fee it adds. An output worth less (a cheater's
 * decoy paying the second-stage script, a dust HTLC at a high feerate) is left out and reported:
 * taken, it would eat the others' value, and enough of them would sink the whole penalty.
 */
function combinedGroups(c: CommitmentTransaction, outputs: readonly number[], second: readonly SecondStageOutput[], plan: PenaltyPlan, skipped: Skipped[]): Group[] {
  const revocable = new Map(revocableOutputs(c).map((i) => [i.vout, i]));
  const secondScript = c.params.format.secondStage(c.keys, c.params.toSelfDelay).witnessScript!;
  const items = [
    ...outputs.map((vout) => ({ input: revocable.get(vout)!, add: (g: Group) => g.outputs.push(vout), skip: { vout } })),
    ...second.map((o) => ({ input: { ...o, kind: 'second_stage' as const, witnessScript: secondScript }, add: (g: Group) => g.secondStage.push(o), skip: { txid: o.txid, vout: o.vout } })),
  ];
  const baseWeight = justiceBaseWeight(plan.destinationScript);
  const groups: Group[] = [];
  let group: Group = { outputs: [], secondStage: [] };
  let weight = baseWeight;
  for (const item of items) {
    const w = justiceInputWeight(item.input);
    if (item.input.amountSat <= feeFromWeight(plan.feeratePerKw, w)) {
      skipped.push({ ...item.skip, reason: BELOW_FEE });
      continue;
    }
    if (weight + w > MAX_STANDARD_TX_WEIGHT && weight > baseWeight) {
      groups.push(group);
      group = { outputs: [], secondStage: [] };
      weight = baseWeight;
    }
    item.add(group);
    weight += w;
  }
  if (weight > baseWeight) groups.push(group);
  return groups;
}

/**
 * What is left to take of a revoked commitment (invariants 1 and 2): the `wanted` commitment outputs that no transaction
 * given or found spends and the node does not report spent, and every output paying the second-stage script found or
 * given that is not spent — with what is left out and why. `commitment penalty` signs these; `commitment list` counts them.
 */
export function leftToTake(
  revoked: { c: CommitmentTransaction; htlcTxs: readonly HtlcTransaction[] }, wanted: readonly number[], plan: Pick<PenaltyPlan, 'spent' | 'secondStage' | 'found'>,
): { outputs: number[]; second: SecondStageOutput[]; skipped: Skipped[] } {
  const { c, htlcTxs } = revoked;
  const script = secondStageScript(c);
  const htlcVouts = new Set(htlcTxs.map((t) => t.commitmentOutputIndex));
  const moves: Moves = { spentBy: new Map(), outputs: new Map() };
  // With a node, its answers say what is spent and what exists (invariant 2): the node's spenders first.
  for (const s of plan.found?.spenders ?? []) addMoves(moves, c, htlcVouts, script, s, { given: false, spends: true });
  for (const s of plan.secondStage ?? []) addMoves(moves, c, htlcVouts, script, s, { given: true, spends: plan.found === undefined });
  // The commitment's own to_local pays the same script: it is taken as a commitment output.
  for (const u of plan.found?.utxos ?? []) if (u.txid !== c.txid) moves.outputs.set(`${u.txid}:${u.vout}`, u);
  const spent = new Set([...(plan.spent ?? []), ...moves.spentBy.keys()]);
  const skipped: Skipped[] = wanted.filter((v) => spent.has(v)).map((vout) => ({ vout, reason: 'spent' }));
  const outputs = wanted.filter((v) => !spent.has(v));
  const second: SecondStageOutput[] = [];
  for (const [key, o] of [...moves.outputs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (plan.found?.spent.has(key)) skipped.push({ txid: o.txid, vout: o.vout, reason: 'spent' });
    else if (plan.found?.absent?.has(key)) skipped.push({ txid: o.txid, vout: o.vout, reason: 'not unspent at the node (spent, or the transaction given was replaced or never broadcast)' });
    else second.push(o);
  }
  return { outputs, second, skipped };
}

/** Justice transactions for a revoked peer commitment: per output by default, second-stage outputs included. */
export function penalties(
  rec: ChannelRecord, revokedTxid: string, plan: PenaltyPlan, revoked: ReturnType<typeof revokedPeerCommitment> = revokedPeerCommitment(rec, revokedTxid),
): Record<string, unknown> {
  const { n, c, secret } = revoked;
  const revocable = revocableOutputs(c).map((i) => i.vout);
  const wanted = plan.outputs ?? revocable;
  if (new Set(wanted).size !== wanted.length) throw new UsageError('E_BAD_VOUT', `--outputs names an output twice: ${wanted.join(',')}`);
  for (const v of wanted) {
    if (!revocable.includes(v)) throw new RefusedError('E_NOT_REVOCABLE', `output ${v} of ${revokedTxid} is not one the revocation key can take`, { vout: v });
  }
  const { outputs, second, skipped } = leftToTake(revoked, wanted, plan);
  if (outputs.length === 0 && second.length === 0) {
    throw new RefusedError('E_PENALTY_NOTHING_TO_TAKE', `nothing left to take from ${revokedTxid}: every chosen output is spent (give the second-stage transactions that spent them)`);
  }
  const base = { revoked: c, perCommitmentSecret: secret, revocationBasepointSecret: plan.revocationBasepointSecret, destinationScript: plan.destinationScript, feeratePerKw: plan.feeratePerKw };
  const groups: Group[] = plan.combine
    ? combinedGroups(c, outputs, second, plan, skipped)
    : [...outputs.map((v) => ({ outputs: [v], secondStage: [] })), ...second.map((s) => ({ outputs: [], secondStage: [s] }))];
  const transactions = groups.flatMap((g) => {
    let p: ReturnType<typeof penaltyTransaction>;
    try {
      p = penaltyTransaction({ ...base, outputs: g.outputs, secondStage: g.secondStage });
    } catch (e) {
      // What a justice transaction would take is worth less than its fee: reported, the others go on.
      if (e instanceof OffchainError && e.code === 'E_PENALTY_BELOW_DUST') {
        skipped.push(...g.outputs.map((vout) => ({ vout, reason: BELOW_FEE })), ...g.secondStage.map((o) => ({ txid: o.txid, vout: o.vout, reason: BELOW_FEE })));
        return [];
      }
      throw e;
    }
    return [{
      txid: p.txid, hex: p.hex, fee_sat: Number(p.feeSat),
      inputs: p.inputs.map((i) => ({ kind: i.kind, txid: i.txid, vout: i.vout, amount_sat: Number(i.amountSat) })),
    }];
  });
  if (transactions.length === 0) {
    throw new RefusedError('E_PENALTY_BELOW_DUST', `every output of ${revokedTxid} is worth less than its justice transaction's fee at ${plan.feeratePerKw} sat/kw: lower the feerate${plan.combine ? '' : ' or --combine'}`);
  }
  secret.fill(0);
  return { type: 'bolt3/penalties', version: 1, network: rec.network, channel_id: channelIdOf(rec.channel), commitment_number: n, revoked_txid: revokedTxid, skipped, transactions };
}

/**
 * A node's view of the cheater's moves (invariant 3): which revocable outputs of the commitment
 * are spent (gettxout, its mempool included); the mempool's spender of each spent HTLC output
 * (gettxspendingprevout); and, when an HTLC output was spent by no transaction in the mempool,
 * the confirmed outputs paying the second-stage script (scantxoutset — it reads the whole UTXO
 * set, slow on mainnet). Each output found paying that script is asked again: one already spent
 * in the mempool (an earlier penalty of ours) is reported, not taken twice.
 *
 * `replaceable` (a watcher re-bidding its own justice transactions): a mempool spender it
 * says is the party's own earlier justice transaction does not count as spending — the output
 * is taken again, and the new transaction replaces it; `held` says which output it holds.
 */
export async function findOnChain(
  chain: Pick<ChainSource, 'utxo' | 'rawTransaction' | 'mempoolSpender' | 'outputsPaying'>, revoked: { c: CommitmentTransaction; htlcTxs: readonly HtlcTransaction[] },
  given: readonly BroadcastSecondStage[] = [], opts: { replaceable?: (tx: BroadcastSecondStage) => boolean } = {},
): Promise<{ spent: Set<number>; found: ChainFindings; held: Map<string, string> }> {
  const { c, htlcTxs } = revoked;
  const script = secondStageScript(c);
  const held = new Map<string, string>();
  const parsed = new Map<string, BroadcastSecondStage>();
  const transaction = async (id: string) => parsed.get(id) ?? parsed.set(id, parseSecondStage(toHex(await chain.rawTransaction(id)), `the node's transaction ${id}`)).get(id)!;
  /** The mempool's spender of an output, unless it is a replaceable one of ours (then the output counts as unspent, held by it). */
  const ownSpend = async (txid: string, vout: number): Promise<boolean> => {
    if (!opts.replaceable || !chain.mempoolSpender) return false;
    const id = await chain.mempoolSpender(txid, vout);
    if (id === undefined || !opts.replaceable(await transaction(id))) return false;
    held.set(`${txid}:${vout}`, id);
    return true;
  };
  const spent = new Set<number>();
  for (const o of revocableOutputs(c)) if ((await chain.utxo(c.txid, o.vout)) === null && !(await ownSpend(c.txid, o.vout))) spent.add(o.vout);
  const spenders = new Map<string, BroadcastSecondStage>();
  let confirmedSpend = false;
  for (const v of htlcTxs.map((h) => h.commitmentOutputIndex).filter((x) => spent.has(x))) {
    const id = chain.mempoolSpender ? await chain.mempoolSpender(c.txid, v) : undefined;
    if (id === undefined) confirmedSpend = true;
    else if (!spenders.has(id)) spenders.set(id, await transaction(id));
  }
  const utxos: SecondStageOutput[] = confirmedSpend && chain.outputsPaying
    ? (await chain.outputsPaying(script)).filter((u) => u.txid !== c.txid).map((u) => ({ txid: u.txid, vout: u.vout, amountSat: u.value }))
    : [];
  const candidates = [
    ...utxos,
    ...[...spenders.values()].flatMap((s) => s.outputs.flatMap((o, vout) => (equalBytes(o.script, script) ? [{ txid: s.txid, vout }] : []))),
  ];
  const spentOutputs = new Set<string>();
  for (const o of candidates) if ((await chain.utxo(o.txid, o.vout)) === null && !(await ownSpend(o.txid, o.vout))) spentOutputs.add(`${o.txid}:${o.vout}`);
  // The transactions given are asked too: one the cheater replaced (RBF) after the victim saved it has no outputs.
  const absent = new Set<string>();
  for (const s of given) {
    for (const [vout, o] of s.outputs.entries()) {
      const key = `${s.txid}:${vout}`;
      if (equalBytes(o.script, script) && !spentOutputs.has(key) && (await chain.utxo(s.txid, vout)) === null) absent.add(key);
    }
  }
  return { spent, found: { spenders: [...spenders.values()], utxos, spent: spentOutputs, absent }, held };
}

export type OnChain = Awaited<ReturnType<typeof findOnChain>>;

/**
 * `commitment penalty`'s steps, for the command and the watcher alike: the revoked commitment
 * rebuilt (its secret out of the compact store), the node's findings when there is a node
 * (`node.chain`; or `node.findings`, asked earlier in the same round, so a watcher signing at
 * several rates asks once), the key asked for only then (`key()`), and the justice
 * transactions. `node.replaceable`: see findOnChain.
 */
export async function punishRevoked(
  rec: ChannelRecord, revokedTxid: string, plan: Omit<PenaltyPlan, 'revocationBasepointSecret' | 'spent' | 'found'>,
  key: () => Promise<Uint8Array>,
  node: { chain?: Pick<ChainSource, 'utxo' | 'rawTransaction' | 'mempoolSpender' | 'outputsPaying'>; findings?: OnChain; replaceable?: (tx: BroadcastSecondStage) => boolean } = {},
): Promise<{ message: Record<string, unknown>; onChain?: OnChain }> {
  const revoked = revokedPeerCommitment(rec, revokedTxid);
  const onChain = node.findings ?? (node.chain ? await findOnChain(node.chain, revoked, plan.secondStage ?? [], node) : undefined);
  const secret = await key();
  try {
    const message = penalties(rec, revokedTxid, { ...plan, revocationBasepointSecret: secret, ...(onChain ? { spent: onChain.spent, found: onChain.found } : {}) }, revoked);
    return { message, ...(onChain ? { onChain } : {}) };
  } finally {
    secret.fill(0);
    revoked.secret.fill(0);
  }
}

/** A transaction the cheater broadcast (raw hex): its txid, the outpoints its inputs spend, its outputs. */
export function parseSecondStage(hex: string, what: string): BroadcastSecondStage {
  let tx: Transaction;
  try {
    tx = Transaction.fromRaw(fromHex(hex, what), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
  } catch (e) {
    throw new MalformedInputError('E_BAD_TRANSACTION', `${what} is not a transaction: ${(e as Error).message}`);
  }
  const inputs = Array.from({ length: tx.inputsLength }, (_, i) => tx.getInput(i)).map((x) => ({ txid: toHex(x.txid!), vout: x.index! }));
  const outputs = Array.from({ length: tx.outputsLength }, (_, i) => tx.getOutput(i)).map((o) => ({ amountSat: o.amount!, script: o.script! }));
  return { txid: tx.id, inputs, outputs };
}
