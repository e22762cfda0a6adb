/**
 * The keyless watchtower (`offchain watch --tower DIR`, docs/watch.md "The tower"): the exports
 * owners dropped into DIR (`statechain/tower-backup`, src/lib/statechain/tower.ts), the chain's
 * facts asked of the node as the statechain owner's watcher asks them (./statechain.ts spentBy),
 * the decision taken by the owner's own table (src/lib/watch/tower.ts), and the action: the
 * owner's signed backup with a TRUC child spending its anchor and a coin of the node's wallet
 * (src/lib/truc/child.ts buildChild, as `package child --wallet-psbt` builds it; the wallet's
 * coins from walletcreatefundedpsbt used as is, the child signed by walletprocesspsbt), checked
 * (check.ts) and submitted with submitpackage (read as `package submit` reads it).
 *
 * The tower holds no key: nothing it does can move the coin anywhere but where the owner's backup
 * pays. What it spends is its own wallet's, within --max-fee-rate on the package.
 *
 * The channel half (a channel party's justice ladders, `bolt3/tower-justice`) is a kind of its own
 * beside this one, in the same directory: ./tower-channel.ts.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Conflict } from '../../lib/truc/standing.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import type { TowerBackup } from '../../lib/statechain/tower.ts';
import type { ChannelExport } from './tower-channel.ts';
import type { ReplacedChild } from '../../lib/truc/replaced.ts';
import { FINAL_DEPTH, SENDING, type Decision, heldRate } from '../../lib/watch/decision.ts';
import { decideTower, newestExports, type TowerCoin } from '../../lib/watch/tower.ts';
import type { OwnerFacts } from '../../lib/watch/statechain.ts';
import { fromHex } from '../../lib/bytes.ts';
import { errorText, startRates, turns, type Round, type StartRate } from './credit.ts';
import { OWNER_MARGIN, anchorChild, replaceRate, spentBy, walletChild } from './statechain.ts';
import type { WatchChain } from './credit.ts';
import type { WatchHost } from './rounds.ts';
import { feeCoinsSat, nodeWallet, walletClient, type NodeWallet } from './wallet.ts';
import { oneLine, readRegularFile } from './regular-file.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';

/** The node's wallet, as the tower pays from it (./wallet.ts). */
export type TowerWallet = NodeWallet;

export type TowerHost = {
  /** The exports in the tower's directory (each file that decodes). */
  exports(): Promise<TowerBackup[]>;
  /** Says why an export was skipped (each file and reason once). */
  warn?: (message: string) => void;
  /** The node's wallet (undefined offline: a dry run only). */
  wallet?: TowerWallet;
  /** --max-fee-rate (the tower's budget, required) and --max-fee-share. */
  limits: FeeLimits;
  network: string;
};


/** What a tower's directory holds: the statechain owners' backups and the channel parties' justice. */
export type TowerFiles = { backups: TowerBackup[]; channels: ChannelExport[] };

type Read = { backup: TowerBackup } | { channel: ChannelExport };

/** Each file read, as it was when read (size, mtime): its export or why it was skipped. */
const readFiles = new Map<string, { mtimeMs: number; size: number; read?: Read; why?: string }>();

/** Files the tower reads in its directory: `*.json`, each one export (a file being written elsewhere and renamed in). */
const EXPORT_FILE = /\.json$/;

/** The largest file a tower reads (a channel's export of many revoked commitments is a few KiB each): a bigger one is skipped unread. */
export const MAX_EXPORT_FILE = 64 * 1024 * 1024;

const readExportFile = (path: string) => readRegularFile(path, { max: MAX_EXPORT_FILE, code: 'E_BAD_TOWER_EXPORT', writer: 'an export is written elsewhere and renamed in' });

/** One file's export: by its `type`, a statechain owner's backup or a channel party's justice; junk throws (E_BAD_TOWER_EXPORT). */
async function readExport(path: string, network: string): Promise<Read> {
  const { MalformedInputError } = await import('../../lib/errors.ts');
  const bytes = await readExportFile(path);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new MalformedInputError('E_BAD_TOWER_EXPORT', `not JSON (${(e as Error).message})`);
  }
  const type = (value as { type?: unknown } | null)?.type;
  const net = (value as { network?: unknown } | null)?.network;
  if (type === 'bolt3/tower-justice') {
    const { readTowerJustice } = await import('../../lib/bolt3/tower-justice.ts');
    const { blobs } = readTowerJustice(value, `--tower ${path}`);
    if (net !== network) throw new MalformedInputError('E_BAD_TOWER_EXPORT', `its network is ${String(net)}, not ${network}`);
    return { channel: { file: path, digest: createHash('sha256').update(bytes).digest('hex'), blobs } };
  }
  const { readTowerBackup } = await import('../../lib/statechain/tower.ts');
  if (type !== 'statechain/tower-backup') throw new MalformedInputError('E_BAD_TOWER_EXPORT', `its type is ${JSON.stringify(type)}: a tower keeps statechain/tower-backup (statechain tower-export) and bolt3/tower-justice (commitment tower-export)`);
  const m = readTowerBackup(value, `--tower ${path}`);
  if (m.network !== network) throw new MalformedInputError('E_BAD_TOWER_EXPORT', `its network is ${m.network}, not ${network}`);
  return { backup: m };
}

/**
 * The exports in `dir`, each read and checked (readTowerBackup, readTowerJustice by its type). A file
 * that is not one — or is over MAX_EXPORT_FILE — is skipped and said (`warn`), at the start as in
 * every round: a tower keeps every other deadline whatever lands in its directory; only a directory
 * it cannot read is an error (E_USAGE).
 */
export async function readTowerFiles(dir: string, network: string, warn?: (message: string) => void): Promise<TowerFiles> {
  const { UsageError } = await import('../../lib/errors.ts');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => EXPORT_FILE.test(n)).sort();
  } catch (e) {
    throw new UsageError('E_USAGE', `--tower ${dir}: not a directory the tower can read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const out: TowerFiles = { backups: [], channels: [] };
  const keep = (r: Read) => ('backup' in r ? out.backups.push(r.backup) : out.channels.push(r.channel));
  for (const name of names) {
    // A file unchanged since the last round (same size and mtime) is not read or parsed again.
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    const seen = st && readFiles.get(path);
    if (st && seen && seen.mtimeMs === st.mtimeMs && seen.size === st.size) {
      if (seen.read) keep(seen.read);
      else warn?.(seen.why!);
      continue;
    }
    try {
      if (st && st.size > MAX_EXPORT_FILE) throw Object.assign(new Error(`${st.size} bytes, more than a tower reads (${MAX_EXPORT_FILE})`), { code: 'E_BAD_TOWER_EXPORT' });
      const read = await readExport(path, network);
      keep(read);
      if (st) readFiles.set(path, { mtimeMs: st.mtimeMs, size: st.size, read });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = oneLine(`--tower ${path} skipped: not an export this tower can keep${code && code !== 'E_BAD_TOWER_EXPORT' ? ` (${code})` : ''}: ${(e as Error).message}`);
      if (st) readFiles.set(path, { mtimeMs: st.mtimeMs, size: st.size, why });
      warn?.(why);
    }
  }
  return out;
}

/** The statechain owners' exports in `dir` (readTowerFiles). */
export async function readTowerDir(dir: string, network: string, warn?: (message: string) => void): Promise<TowerBackup[]> {
  return (await readTowerFiles(dir, network, warn)).backups;
}

/**
 * A watcher's host for a tower: its one kind, the exports of `dir` (a file there that is not one is skipped and said,
 * `warn`, each file and reason once; a directory it cannot read is refused, E_USAGE), paying from the node's wallet —
 * `wallet` names one (`--rpc-wallet`), else the node's only one — which must answer at the start (E_NO_WALLET).
 */
export async function towerWatchHost(o: { network: string; chain: WatchChain; db: (create: boolean) => Promise<StateDb | undefined>; dir: string; limits: FeeLimits; wallet?: string; warn?: (message: string) => void }): Promise<WatchHost> {
  const said = new Set<string>();
  const warn = (m: string) => {
    if (said.has(m)) return;
    said.add(m);
    o.warn?.(m);
  };
  await readTowerFiles(o.dir, o.network, warn);
  let wallet: TowerWallet | undefined;
  const client = walletClient(o.chain, o.wallet);
  if (client !== undefined) {
    const { UsageError } = await import('../../lib/errors.ts');
    const { RpcError } = await import('../../lib/chain/rpc-client.ts');
    try {
      await client.call('getwalletinfo');
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
      throw new UsageError('E_NO_WALLET', `a tower pays its children from the node's wallet, and ${o.wallet === undefined ? 'the node has no single loaded wallet' : `the node has no wallet ${o.wallet} loaded`}: load one (bitcoin-cli loadwallet NAME) and name it with --rpc-wallet NAME (${(e as Error).message})`);
    }
    wallet = nodeWallet(client);
  }
  const host: TowerHost = { exports: () => readTowerDir(o.dir, o.network, warn), warn, limits: o.limits, network: o.network, ...(wallet ? { wallet } : {}) };
  const { towerChannelRound } = await import('./tower-channel.ts');
  const channels = { exports: async () => (await readTowerFiles(o.dir, o.network, warn)).channels, warn };
  return {
    network: o.network, chain: o.chain, db: o.db,
    kinds: [{ kind: 'tower-statechain', round: (r) => towerRound(host, r) }, { kind: 'tower-channel', round: (r, depth) => towerChannelRound(channels, r, depth) }],
  };
}

const towerCoin = (e: TowerBackup): TowerCoin => ({
  coin: e.outpoint,
  backup: { txid: e.backup.txid, lockTime: e.backup.locktime },
  previous: { txid: e.previous.txid, lockTime: e.previous.locktime },
  older: e.older_txids,
});

/** The tower's decisions this round, each acted on unless a dry run. */
/** Exports verified against the node (`<outpoint>|<hex>`): the bytes and the coin's output never change, so each is checked once. */
const verifiedExports = new Set<string>();

/**
 * `e` checked against the coin's output as the node has it (verifyTowerBackup: the anchored backup template, signed by
 * the coin's key). Undefined when it passes; else why it is skipped.
 */
async function unverified(r: Round, e: TowerBackup): Promise<string | undefined> {
  const key = `${e.outpoint}|${e.backup.hex}`;
  if (verifiedExports.has(key)) return undefined;
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const { verifyTowerBackup } = await import('../../lib/statechain/tower.ts');
  const [txid, vout] = e.outpoint.split(':') as [string, string];
  try {
    const funding = measureTx(await r.chain.rawTransaction(txid), 'the coin\'s funding').tx.outputs[Number(vout)];
    if (!funding) return `the coin's outpoint ${e.outpoint} does not exist`;
    verifyTowerBackup(e, funding, `the export of ${e.coin_id} (${e.outpoint})`);
  } catch (err) {
    return errorText(err);
  }
  verifiedExports.add(key);
  return undefined;
}

/**
 * The tower's decisions this round, each acted on unless a dry run. With a node, an export counts only once verified
 * (unverified: the backup template, signed by the coin's key, against the node's output): one that is not is skipped,
 * said, never kept. Offline nothing can be verified: the round decides (a dry run's view) but keeps nothing.
 */
export async function towerRound(host: TowerHost, r: Round): Promise<Decision[]> {
  const given: { coin: string; lockTime: number; txid: string; deadline: number; e: TowerBackup }[] = [];
  for (const e of await host.exports()) {
    const why = r.offline ? undefined : await unverified(r, e);
    if (why !== undefined) {
      host.warn?.(`--tower: the export of ${e.coin_id} (${e.outpoint}, backup ${e.backup.txid}) skipped: ${why}`);
      continue;
    }
    given.push({ coin: e.outpoint, lockTime: e.backup.locktime, txid: e.backup.txid, deadline: e.deadline, e });
  }
  const kept = await r.records.towerKept();
  const chosen = newestExports(given, kept);
  // Superseded: every export of the coin at hand is older than one the tower kept — the coin moved on.
  const superseded = [...new Set(given.map((g) => g.coin))].filter((c) => !chosen.some((x) => x.coin === c)).map((c): Decision => {
    const e = given.filter((g) => g.coin === c).sort((a, b) => a.lockTime - b.lockTime)[0]!.e;
    return { kind: 'tower-statechain', contract: e.coin_id, action: 'done', deadline: e.deadline, blocks_left: e.deadline - r.tip, reason: `every export of this coin (${c}) here is older than the backup with locktime ${kept.get(c)}, which this tower kept: the coin moved on, and a stale export is never acted on` };
  });
  // Kept only once verified (a round with a node): what a file claims never moves the tower off a coin.
  if (!r.dryRun && !r.offline) for (const c of chosen) if ((kept.get(c.coin) ?? Infinity) > c.lockTime) await r.records.setTowerKept(c.coin, { locktime: c.lockTime, txid: c.txid });
  const start = startRates(r.chain);
  const failed = (c: (typeof chosen)[number]) => ({ kind: 'tower-statechain' as const, contract: c.e.coin_id, deadline: c.e.deadline, blocks_left: c.e.deadline - r.tip, action: 'hold' as const });
  return [...superseded, ...await turns(chosen, (c) => towerTurn(host, r, c.e, start), failed)];
}

async function towerTurn(host: TowerHost, r: Round, e: TowerBackup, startRate: StartRate): Promise<Decision> {
  const t = towerCoin(e);
  const deadline = e.deadline;
  let facts: OwnerFacts = { tip: r.tip, margin: OWNER_MARGIN, startRate: 0, budgetRate: 0, incrementalRate: 0, confirmations: null, finalDepth: FINAL_DEPTH };
  let conflicts: Conflict[] | undefined;
  if (!r.offline && r.tip >= t.backup.lockTime) {
    const confirmations = await r.chain.txConfirmations(t.backup.txid);
    facts = { ...facts, confirmations };
    if (confirmations === null) {
      // Only an older backup the export names is 'older'; anything else the tower takes as a later owner's (src/lib/watch/tower.ts).
      let spender = await spentBy(r.chain, e.outpoint, t.backup.txid, t.older, (txid) => (t.older.includes(txid) ? 'older' : 'newer'));
      // Older only if its own nLockTime is above the backup's (a later owner's backup, named older by a forged list, is not).
      if (spender?.who === 'older' && spender.where === 'mempool' && !(await lockTimeAbove(r, spender.txid!, t.backup.lockTime))) spender = { ...spender, who: 'newer' };
      if (spender) facts = { ...facts, spender };
      if (spender?.who === 'older' && spender.where === 'mempool') {
        const held = await r.chain.mempoolEviction(spender.txid!);
        if (held) conflicts = [{ txid: spender.txid!, ...held }];
      }
    }
  }
  const s = facts.spender;
  const active = r.tip >= t.backup.lockTime && deadline - r.tip <= OWNER_MARGIN && !(facts.confirmations !== null && facts.confirmations >= 1) && !(s && (s.where === 'block' || s.who !== 'older'));
  const bid = active ? await r.records.bid(t.coin, 'tower') : undefined;
  if (bid) facts = { ...facts, bid };
  let replaces: ReplacedChild | undefined;
  if (active) {
    const { start, incremental } = await startRate(deadline - r.tip);
    facts = { ...facts, startRate: start, incrementalRate: incremental, budgetRate: Math.round(host.limits.maxFeeRate * 1000) };
    if (!r.offline && facts.confirmations === 0) {
      const held = await r.chain.mempoolEviction(t.backup.txid);
      // The package the node holds, whoever made its child (the owner's own watcher too): what a bid must outbid.
      if (held) facts = { ...facts, mempoolRate: heldRate(held) };
      replaces = await anchorChild(r, e.backup.hex, e.backup.txid);
    }
    if (!r.offline && conflicts) {
      try {
        const sized = await towerPackage(host, r, e, { feeRate: 0.1, send: false });
        facts = { ...facts, replaceRate: replaceRate(conflicts[0]!, sized.vsize, incremental) };
      } catch (err) {
        facts = { ...facts, unbuildable: errorText(err) };
      }
    }
  }
  const d = { ...decideTower(t, facts), contract: e.coin_id };
  if (r.dryRun || !SENDING.has(d.action)) return d;
  try {
    await r.records.setBid(t.coin, { start_tip: bid?.start_tip ?? r.tip, rate: d.rate!, tip: r.tip, block: r.block }, 'tower');
    await towerPackage(host, r, e, { feeRate: d.rate! / 1000, send: true, ...(conflicts ? { conflicts } : {}), ...(replaces ? { replaces } : {}) });
    d.txid = t.backup.txid;
  } catch (err) {
    d.error = errorText(err);
  }
  return d;
}

/** Whether the node's transaction `txid` has an nLockTime above `lockTime` (false when the node does not give it). */
async function lockTimeAbove(r: Round, txid: string, lockTime: number): Promise<boolean> {
  const { parseTransaction } = await import('../../lib/statechain/coin.ts');
  const { toHex } = await import('../../lib/bytes.ts');
  try {
    return parseTransaction(toHex(await r.chain.rawTransaction(txid)), 'a spender of the coin').lockTime > lockTime;
  } catch {
    return false;
  }
}

/**
 * The backup with a child paying `feeRate` on the package from the node's wallet (buildChild: the fee guard on the
 * package, the package through check.ts); with `send`, signed by the wallet, checked again as signed, and submitted
 * (E_BROADCAST_REJECTED naming each transaction's refusal). The package's vsize (the child at its largest).
 */
async function towerPackage(host: TowerHost, r: Round, e: TowerBackup, req: { feeRate: number; send: boolean; conflicts?: Conflict[]; replaces?: ReplacedChild }): Promise<{ vsize: number }> {
  const { UsageError } = await import('../../lib/errors.ts');
  if (!host.wallet) throw new UsageError('E_CHAIN_OFFLINE', 'a tower pays from its node\'s wallet: give it a node (--rpc-url)');
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const backup = fromHex(e.backup.hex, 'the backup');
  // The coin's output as the node's transaction index has it (its amount sets the backup's fee: the node's word, not the export's).
  const [txid, vout] = e.outpoint.split(':') as [string, string];
  const funding = measureTx(await r.chain.rawTransaction(txid), 'the coin\'s funding').tx.outputs[Number(vout)];
  if (!funding) throw new UsageError('E_BAD_TOWER_EXPORT', `the coin ${e.coin_id}'s outpoint ${e.outpoint} does not exist`);
  const prevouts = [{ txid, vout: Number(vout), amount: funding.amount, script: funding.script }];
  const { TOWER_BACKUP_VSIZE } = await import('../../lib/statechain/tower.ts');
  if (measureTx(backup, 'the backup').vsize > TOWER_BACKUP_VSIZE) throw new UsageError('E_BAD_TOWER_EXPORT', `the backup is ${measureTx(backup, 'the backup').vsize} vB, more than a statechain backup's ${TOWER_BACKUP_VSIZE}: a tower pays for no bigger parent`);
  const wallet = await host.wallet.coins(feeCoinsSat(host.limits.maxFeeRate));
  const built = await walletChild({
    r, wallet: host.wallet, coins: wallet, limits: host.limits, network: host.network, parent: backup, prevouts, feeRate: req.feeRate, send: req.send,
    protectedSat: measureTx(backup, 'the backup').tx.outputs[0]!.amount,
    ...(req.conflicts?.length ? { conflicts: req.conflicts } : {}), ...(req.replaces ? { replaces: req.replaces } : {}),
  });
  return { vsize: built.parentVsize + built.vsize };
}
