/**
 * A transaction's inputs as the node vouches for them. Whatever a fee is computed from
 * decides what our wallet pays — the parent's own fee (the child brings the package to
 * --fee-rate: an overstated parent input makes the child pay less, issue 37 finding 3), an
 * earlier child's fee (--replaces: the new child outbids it) — so with a node no amount is
 * taken on a file's word (a PSBT's witness_utxo, --prevout): whoever handed over the file
 * (the other party, a watchtower, a stranger who spent a keyless anchor) could have written it.
 *
 * Invariants:
 * - an input the node can show — unspent in its UTXO set or mempool (gettxout with the
 *   mempool), or from the transaction that made it (getrawtransaction: in the mempool, or
 *   confirmed with -txindex) — is the node's; a claim it contradicts (amount or script) is
 *   E_TRUC_PREVOUT_CONFLICT naming the input, never used;
 * - an input it cannot show (spent in the mempool by this very transaction, its funding
 *   confirmed, no -txindex) keeps the file's claim only if the fee AND the sigop-adjusted
 *   vsize so computed are exactly those the node's mempool holds the transaction at
 *   (getmempoolentry's fees.base and vsize): the claimed scripts decide the sigops, so a
 *   misstated script could hide them and make a sigop-heavy parent look small (its child
 *   then pays for a package a fraction of Core's size — review of issue 37); otherwise
 *   E_TRUC_PREVOUT_CONFLICT, or E_TRUC_PREVOUT when the mempool does not hold it;
 * - such an input spent in the mempool by ANOTHER transaction (a parent that conflicts with it,
 *   standing.ts) keeps the claim only if that transaction's fee and vsize, computed with it and
 *   with what the node shows of its other inputs, are the ones its mempool entry holds.
 * Pure but for the two questions to the node.
 */
import { RefusedError, UsageError } from '../errors.ts';
import { equalBytes, toHex } from '../bytes.ts';
import type { Prevout } from './check.ts';
import { measureTx, sigOpCost, sigopAdjustedVsize } from './transaction.ts';

export type NodeWord = {
  /** The output as the node knows it, or undefined. */
  prevout(txid: string, vout: number): Promise<Prevout | undefined>;
  /** getmempoolentry's fees.base (sat) and vsize (Core's, sigop-adjusted); null when the mempool does not hold it. */
  mempoolEntry(txid: string): Promise<{ fee: bigint; vsize: number } | null>;
  /** gettxspendingprevout: the mempool transaction spending an output (another than ours: a conflict), if the node says. */
  spender?(txid: string, vout: number): Promise<string | undefined>;
  /** A mempool transaction's raw bytes. */
  mempoolTx?(txid: string): Promise<Uint8Array | undefined>;
};

export type Vouching = {
  /** How errors name the transaction ("the parent", "the replaced child") and the file ("the parent's PSBT"). */
  name: string;
  source: string;
  /** Outputs of the package itself (the parent's, for a child): their value and script, from the bytes; not asked. */
  inside?: (txid: string, vout: number) => { amount: bigint; script: Uint8Array } | undefined;
};

/** Every input of `raw` not inside the package, as the node says (see the invariants). */
export async function vouchedPrevouts(node: NodeWord, raw: Uint8Array, claims: readonly Prevout[], who: Vouching): Promise<Prevout[]> {
  const t = measureTx(raw, who.name);
  const out: Prevout[] = [];
  const unverified: Prevout[] = [];
  let valueIn = 0n;
  const scripts: Uint8Array[] = [];
  for (const [i, input] of t.tx.inputs.entries()) {
    const txid = toHex(input.txid);
    const inside = who.inside?.(txid, input.index);
    if (inside !== undefined) {
      valueIn += inside.amount;
      scripts.push(inside.script);
      continue;
    }
    const what = `${who.name} input ${i} spends ${txid}:${input.index}`;
    const claim = claims.find((c) => c.txid === txid && c.vout === input.index);
    const known = await node.prevout(txid, input.index);
    if (known && claim && (claim.amount !== known.amount || !equalBytes(claim.script, known.script))) {
      throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `${what}: ${who.source} says ${claim.amount} sat${equalBytes(claim.script, known.script) ? '' : ` to ${toHex(claim.script)}`}, the node ${known.amount} sat${equalBytes(claim.script, known.script) ? '' : ` to ${toHex(known.script)}`} — the fee it makes is not the node's: refused rather than paid`);
    }
    const used = known ?? claim;
    if (!used) throw new UsageError('E_TRUC_PREVOUT', `${what}, which the node neither holds unspent nor can show: give it with --prevout TXID:VOUT:AMOUNT:SCRIPT`);
    if (!known) unverified.push(used);
    valueIn += used.amount;
    scripts.push(used.script);
    out.push(used);
  }
  if (unverified.length > 0) {
    const inPool = await node.mempoolEntry(t.txid);
    if (inPool !== null) {
      matchesEntry(t.txid, who.name, who.source, valueIn - t.tx.outputs.reduce((a, o) => a + o.amount, 0n), sigopAdjustedVsize(t.weight, sigOpCost(t.tx, (i) => scripts[i]!)), inPool);
    } else {
      for (const claim of unverified) {
        if (!await vouchedBySpender(node, claim, t.txid, who.source)) {
          throw new UsageError('E_TRUC_PREVOUT', `${who.name} ${t.txid} is not in the node's mempool and the node cannot show all its inputs: its fee cannot be vouched for`);
        }
      }
    }
  }
  return out;
}

/** The fee and vsize a file's claims make for `txid` must be those its mempool entry holds. */
function matchesEntry(txid: string, name: string, source: string, fee: bigint, vsize: number, entry: { fee: bigint; vsize: number }): void {
  if (entry.fee !== fee) {
    throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `${source} makes ${name} ${txid} pay ${fee} sat, the node's mempool holds it at ${entry.fee} sat: the file misstates its inputs — refused rather than paid`);
  }
  if (entry.vsize !== vsize) {
    throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `${source} makes ${name} ${txid} ${vsize} vB (sigop-adjusted), the node's mempool holds it at ${entry.vsize} vB: the file misstates the scripts its inputs spend — refused rather than paid`);
  }
}

/**
 * A claim about an output another mempool transaction spends (ours conflicts with it): true when that
 * transaction's fee and vsize, with this claim and the node's word for its other inputs, are its mempool
 * entry's (a lie is E_TRUC_PREVOUT_CONFLICT); false when there is no such transaction or the node cannot
 * show its other inputs.
 */
async function vouchedBySpender(node: NodeWord, claim: Prevout, ours: string, source: string): Promise<boolean> {
  const spender = await node.spender?.(claim.txid, claim.vout);
  if (!spender || spender === ours || !node.mempoolTx) return false;
  const raw = await node.mempoolTx(spender);
  const entry = await node.mempoolEntry(spender);
  if (!raw || !entry) return false;
  const x = measureTx(raw, 'a conflicting transaction');
  const prevs: Prevout[] = [];
  for (const input of x.tx.inputs) {
    const txid = toHex(input.txid);
    const p = txid === claim.txid && input.index === claim.vout ? claim : await node.prevout(txid, input.index);
    if (!p) return false;
    prevs.push(p);
  }
  const fee = prevs.reduce((a, p) => a + p.amount, 0n) - x.tx.outputs.reduce((a, o) => a + o.amount, 0n);
  matchesEntry(spender, 'the conflicting transaction', source, fee, sigopAdjustedVsize(x.weight, sigOpCost(x.tx, (i) => prevs[i]!.script)), entry);
  return true;
}

/** A coin as the node holds it unspent (gettxout with the mempool): value, script, confirmations (0: in the mempool). */
export type UnspentWord = (txid: string, vout: number) => Promise<{ amount: bigint; script: Uint8Array; confirmations: number } | undefined>;

/**
 * The wallet PSBT's coins as the node holds them (review of issue 37): its witness_utxo sets the
 * child's change, while the wallet signs with the amount it knows — a file overstating a coin
 * made the child pay that much less than --fee-rate, silently. Each coin must be unspent in the
 * node's UTXO set (not spent, not only in the mempool: a second unconfirmed parent makes Core
 * refuse a TRUC child, "TRUC-violation"), and described as the node describes it.
 */
export async function vouchedWalletCoins(unspent: UnspentWord, coins: readonly Prevout[], flag: string): Promise<void> {
  for (const [i, c] of coins.entries()) {
    const what = `${flag} input ${i} spends ${c.txid}:${c.vout}`;
    const u = await unspent(c.txid, c.vout);
    if (!u) throw new RefusedError('E_WALLET_PSBT_INPUT', `${what}, which the node does not hold unspent (spent, or never made): the child could never be valid`);
    if (u.amount !== c.amount || !equalBytes(u.script, c.script)) {
      throw new UsageError('E_TRUC_PREVOUT_CONFLICT', `${what}: the file says ${c.amount} sat${equalBytes(u.script, c.script) ? '' : ` to ${toHex(c.script)}`}, the node ${u.amount} sat${equalBytes(u.script, c.script) ? '' : ` to ${toHex(u.script)}`} — the child's fee it makes is not the node's: refused rather than paid`);
    }
    if (u.confirmations < 1) {
      throw new RefusedError('E_WALLET_PSBT_INPUT', `${what}, which is not confirmed: a TRUC child's only unconfirmed parent is the one it bumps (Bitcoin Core: "TRUC-violation", too many ancestors or a non-version-3 parent); fund it with confirmed coins (walletcreatefundedpsbt … {"minconf": 1})`);
    }
  }
}
