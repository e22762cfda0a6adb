/**
 * The keyless watchtower's channel half (`offchain watch --tower DIR`, docs/watch.md "The tower"):
 * the `bolt3/tower-justice` exports channel parties dropped into DIR (`commitment tower-export`,
 * src/lib/bolt3/tower-justice.ts), their appointments kept in a Map by locator; each new block's
 * txids (getblock verbosity 1: nothing decoded) looked up in it — and, for an export the tower has
 * not matched before, the KEEP_BLOCKS blocks below the tip once (a breach mined before the file
 * arrived, or before the tower first ran); a match decrypted with SHA256 of the txid and verified
 * against the commitment as the node has it (openBreach: only the party's revocation spends of
 * that commitment are kept), recorded, then acted on each round by the decision of
 * src/lib/watch/tower-channel.ts: the ladder's rung sent with sendrawtransaction. The cheater's
 * HTLC transaction of a legacy channel, once mined, has its own ladder (verified then).
 *
 * The tower holds no key and spends nothing of its own: every rung pays its fee out of the output
 * it takes, as the party signed it. A file of junk costs it a read and a warning; a blob that does
 * not open, or opens to anything but the party's justice for that commitment, is skipped and said;
 * one breach's failure is that breach's decision, never the round's.
 *
 * Not here: the mempool (a commitment is matched once mined: a justice transaction cannot confirm
 * before it, and the deadline counts from its block, so scanning getrawmempool each block — tens of
 * MB on mainnet — buys at most one block of a window of to_self_delay); anchors channels' second
 * stages (their txids are the cheater's to choose: src/lib/bolt3/tower-justice.ts).
 */
import { fromHex } from '../../lib/bytes.ts';
import { KEEP_BLOCKS } from '../../lib/watch/chain-view.ts';
import { FINAL_DEPTH, type Decision } from '../../lib/watch/decision.ts';
import { decideTowerChannel, type LadderFacts, type LadderState } from '../../lib/watch/tower-channel.ts';
import type { Breach, VerifiedLadder } from '../../lib/bolt3/tower-justice.ts';
import { errorText, startRates, turns, type Round } from './credit.ts';
import type { TowerBreach } from './state.ts';

/** A channel party's export as a tower holds it (./tower.ts reads it): its file, its content's digest (what a catch-up scan is recorded by) and its blobs by locator. */
export type ChannelExport = { file: string; digest: string; blobs: Map<string, Uint8Array[]> };

export type TowerChannelHost = {
  /** The channel exports in the tower's directory (each file that decodes). */
  exports(): Promise<ChannelExport[]>;
  /** Says why an appointment was skipped (each reason once). */
  warn?: (message: string) => void;
};

type Candidate = { file: string; blob: Uint8Array };

/** The appointments by locator (a locator given by several files: each blob a candidate, tried in turn). */
function byLocator(exports: readonly ChannelExport[]): Map<string, Candidate[]> {
  const map = new Map<string, Candidate[]>();
  for (const e of exports) {
    for (const [locator, blobs] of e.blobs) {
      const list = map.get(locator) ?? [];
      for (const blob of blobs) list.push({ file: e.file, blob });
      map.set(locator, list);
    }
  }
  return map;
}

/** The txids of `hash`'s block that a locator of `map` matches. */
async function matches(r: Round, hash: string, map: ReadonlyMap<string, Candidate[]>): Promise<string[]> {
  if (map.size === 0) return [];
  const { locatorOf } = await import('../../lib/bolt3/appointment.ts');
  const block = await r.chain.blockTxids!(hash);
  return block.txids.filter((t) => map.has(locatorOf(t)));
}

/**
 * The revoked commitments among this round's new blocks (every appointment), and among the
 * KEEP_BLOCKS blocks below the tip for the exports not matched before (`fresh`).
 */
async function scan(r: Round, all: ReadonlyMap<string, Candidate[]>, fresh: ReadonlyMap<string, Candidate[]>): Promise<string[]> {
  const found = new Set<string>();
  const connected = new Set(r.connected ?? []);
  for (const hash of connected) for (const t of await matches(r, hash, all)) found.add(t);
  if (fresh.size > 0) {
    let hash: string | null = r.block;
    for (let n = 0; hash !== null && n < KEEP_BLOCKS; n++) {
      if (!connected.has(hash)) for (const t of await matches(r, hash, fresh)) found.add(t);
      hash = (await r.chain.blockHeader(hash)).prev;
    }
  }
  return [...found];
}

/**
 * Every candidate that opens under `txid` and verifies as the party's justice for it, merged (mergeBreaches: a decoy
 * of the party's own rungs, read first, never cuts what the tower sends); each other one said.
 */
async function openAll(r: Round, host: TowerChannelHost, txid: string, candidates: readonly Candidate[]): Promise<TowerBreach | undefined> {
  const { mergeBreaches, openBreach } = await import('../../lib/bolt3/tower-justice.ts');
  const { toHex } = await import('../../lib/bytes.ts');
  const hex = toHex(await r.chain.rawTransaction(txid));
  const opened: Breach[] = [];
  for (const c of candidates) {
    try {
      const breach = openBreach(hex, c.blob, `--tower ${c.file}, the appointment for ${txid}`);
      if (breach) opened.push(breach);
      else host.warn?.(`--tower ${c.file}: an appointment whose locator matches ${txid} does not open under it (another commitment's, or junk): skipped`);
    } catch (e) {
      host.warn?.(`--tower ${c.file}: the appointment for ${txid} skipped: ${errorText(e)}`);
    }
  }
  return opened.length > 0 ? { breach: mergeBreaches(opened), second: {}, sent: {} } : undefined;
}

/** The tower's channel decisions this round: new breaches found and recorded, every breach kept acted on unless a dry run. */
export async function towerChannelRound(host: TowerChannelHost, r: Round, reorgDepth = 0): Promise<Decision[]> {
  if (r.offline) return []; // no block to match, no commitment to check: nothing known
  const exports = await host.exports();
  const all = byLocator(exports);
  const scanned = await r.records.towerScanned();
  const freshExports = exports.filter((e) => !scanned.has(e.digest));
  const breaches = await r.records.towerBreaches();
  for (const txid of await scan(r, all, byLocator(freshExports))) {
    if (breaches.has(txid)) continue;
    const b = await openAll(r, host, txid, all.get(txid.slice(0, 32)) ?? []);
    if (!b) continue;
    // Recorded before anything is sent: a tower killed now finds it in its records, not in a block it will not scan again.
    if (!r.dryRun) await r.records.setTowerBreach(b);
    breaches.set(txid, b);
  }
  if (!r.dryRun) await r.records.setTowerScanned(freshExports.map((e) => e.digest), r.tip);
  const start = startRates(r.chain);
  const live = [...breaches.values()].filter((b) => b.done === undefined || reorgDepth >= FINAL_DEPTH);
  return turns(live, (b) => breachTurn(r, b, start), (b) => ({ kind: 'tower-channel', contract: b.breach.commitment, deadline: r.tip + b.breach.to_self_delay, blocks_left: b.breach.to_self_delay, action: 'hold' }));
}

/** Where a ladder's output stands (its rungs in the mempool, the UTXO set, a rung mined), as the node says. */
async function ladderState(r: Round, l: VerifiedLadder): Promise<LadderState> {
  const [txid, vout] = l.outpoint.split(':') as [string, string];
  const spender = await r.chain.mempoolSpender(txid, Number(vout));
  if (spender !== undefined) {
    const k = l.rungs.findIndex((x) => x.txid === spender);
    if (k >= 0) return { kind: 'held', rung: k };
    const evicted = await r.chain.mempoolEviction(spender);
    return { kind: 'rival', txid: spender, fee: Number(evicted?.descendantFee ?? (await r.chain.mempoolEntry(spender))?.fee ?? 0n) };
  }
  if ((await r.chain.utxo(txid, Number(vout))) !== null) return { kind: 'unspent' };
  for (let k = l.rungs.length - 1; k >= 0; k--) {
    const c = await r.chain.txConfirmations(l.rungs[k]!.txid);
    if (c !== null && c > 0) return { kind: 'mined', rung: k, confirmations: c };
  }
  return { kind: 'lost' };
}

async function breachTurn(r: Round, rec: TowerBreach, startRate: ReturnType<typeof startRates>): Promise<Decision> {
  const { secondStageLadder, secondStageTxid } = await import('../../lib/bolt3/tower-justice.ts');
  const { toHex } = await import('../../lib/bytes.ts');
  const b = rec.breach;
  const confirmations = await r.chain.txConfirmations(b.commitment);
  const height = confirmations !== null && confirmations > 0 ? r.tip - confirmations + 1 : undefined;
  const ladders: LadderFacts[] = [];
  const byOutpoint = new Map<string, VerifiedLadder>();
  let second = rec.second;
  const facts = (l: VerifiedLadder, state: LadderState, confirmedAt: number | undefined): LadderFacts => {
    byOutpoint.set(l.outpoint, l);
    const last = rec.sent[l.outpoint];
    return { outpoint: l.outpoint, rungs: l.rungs, state, ...(confirmedAt !== undefined ? { confirmedAt } : {}), ...(last ? { last } : {}) };
  };
  if (confirmations !== null) {
    for (const o of b.outputs) {
      const state = await ladderState(r, o.ladder);
      ladders.push(facts(o.ladder, state, height));
      if (state.kind !== 'lost' || !o.second_stage) continue;
      // The commitment's output went elsewhere: the cheater's HTLC transaction (legacy: its txid fixed), mined? Its output has a ladder of its own.
      // Each second stage given for it tried in turn (one of junk, sealed by whoever knew the txid, is skipped): none verifies, the other ladders still go.
      let l = second[o.ladder.outpoint];
      const what = `the second stage of ${o.ladder.outpoint}`;
      for (const rungs of l ? [] : [o.second_stage.rungs, ...(o.second_stage.others ?? [])]) {
        try {
          const htlcTxid = secondStageTxid(rungs, what);
          const c = await r.chain.txConfirmations(htlcTxid);
          if (c === null || c === 0) continue;
          l = secondStageLadder(b, o.ladder, rungs, toHex(await r.chain.rawTransaction(htlcTxid)), what);
          second = { ...second, [o.ladder.outpoint]: l };
          break;
        } catch {
          // not the party's justice on that transaction: the next one given, if any
        }
      }
      if (!l) continue;
      const c2 = await r.chain.txConfirmations(l.outpoint.split(':')[0]!);
      if (c2 === null || c2 === 0) continue;
      ladders.push(facts(l, await ladderState(r, l), r.tip - c2 + 1));
    }
  }
  const soonest = Math.min(r.tip + b.to_self_delay, ...ladders.map((l) => (l.confirmedAt === undefined ? r.tip + b.to_self_delay : l.confirmedAt + b.to_self_delay - 1)));
  const { start, incremental } = await startRate(soonest - r.tip);
  const d = decideTowerChannel({
    commitment: b.commitment, confirmations, tip: r.tip, toSelfDelay: b.to_self_delay, ...(rec.start_tip !== undefined ? { startTip: rec.start_tip } : {}),
    startRate: start, incrementalRate: incremental, ladders,
  });
  const { sends, ...decision } = d;
  if (r.dryRun) return decision;
  const sent = { ...rec.sent };
  for (const s of sends) sent[s.outpoint] = { rung: s.rung, tip: r.tip };
  const next: TowerBreach = {
    ...rec, second, sent, ...(sends.length > 0 ? { start_tip: rec.start_tip ?? r.tip } : {}),
    ...(d.action === 'done' && height !== undefined ? { done: height } : {}),
  };
  if (sends.length > 0 || second !== rec.second || next.done !== rec.done) await r.records.setTowerBreach(next);
  // Stored, then sent (commit before the act): a rung sent is never undercut by a later round.
  let first: string | undefined;
  for (const s of sends) {
    try {
      const txid = await r.chain.broadcast(fromHex(byOutpoint.get(s.outpoint)!.rungs[s.rung]!.hex));
      first ??= txid;
    } catch (e) {
      decision.error ??= errorText(e);
    }
  }
  return first ? { ...decision, txid: first } : decision;
}
