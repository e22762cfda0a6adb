/**
 * The owner's unilateral exit as `statechain backup` runs it and `offchain watch` runs it for a
 * coin whose previous owner's backup nears (../watch/statechain.ts): the newest backup of ours
 * (src/lib/statechain/owner.ts backupWithChild: with a CPFP child, the package through the TRUC
 * checker), refused before it is final, and with `broadcast` submitted — the package with
 * submitpackage, a backup alone with sendrawtransaction. One implementation: the command and the
 * watcher call this, never a copy. Also the watcher's bump of a signed withdrawal paying this
 * owner (withdrawalSpend: the withdrawal and a child spending its payout and anchor, the same
 * package path), and the owner's documents store both open (sealed under the owner's key).
 *
 * Not here: which record (a part of a pair's, or ours: the command decides), the flags.
 */
import { RefusedError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { ChainSource } from '../../lib/chain/types.ts';
import type { KeyPair } from '../../lib/keys/keys.ts';
import type { StateDb } from '../../lib/store/sqlite/database.ts';
import type { Documents } from '../../lib/store/sqlite/records.ts';
import type { BackupChild, OwnerRecord } from '../../lib/statechain/owner.ts';
import type { PackageVerdict, TrucPolicy } from '../../lib/truc/check.ts';

/** The owner's documents (kind `statechain`) of a state directory, their shares sealed under the owner's key (asked only when one is read or written). */
export async function ownerDocuments(open: (create: boolean) => Promise<StateDb | undefined>, dir: string, key: () => Promise<KeyPair>): Promise<Documents> {
  const { Documents, OWNER_SECRETS } = await import('../../lib/store/sqlite/records.ts');
  const { Sealer } = await import('../../lib/store/seal.ts');
  return new Documents(open, 'statechain', dir, { fields: OWNER_SECRETS, sealer: async () => Sealer.fromSecret((await key()).secretKey) });
}

export type BackupSpend = {
  /** The `statechain/spend` message (kind backup), with the node's answer under `broadcast` when sent. */
  message: Record<string, unknown>;
  backup: { txid: string; lockTime: number; vsize: number; feeSat: number; valueSat: number };
  child?: { txid: string; vsize: number; feeSat: number };
};

/**
 * `record`'s newest backup of ours once final at the chain's tip (E_NOT_FINAL before), with a
 * child when asked; with `broadcast` sent to the node (its refusal: E_BROADCAST_REJECTED, exit 4).
 */
export async function backupSpend(record: OwnerRecord, chain: ChainSource, opts: { network: Network; child?: BackupChild; broadcast: boolean; auxRand: Uint8Array }): Promise<BackupSpend> {
  const { backupWithChild } = await import('../../lib/statechain/owner.ts');
  const { feeOf } = await import('../../lib/statechain/withdrawal.ts');
  const { isFinalAtTip, blocksUntilFinal } = await import('../../lib/chain/finality.ts');
  const { fromHex } = await import('../../lib/bytes.ts');
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  // Sent with a child: a child of the backup already in the node's mempool (our last, or a stranger's on the anchor) is replaced, its fee the floor of ours.
  const replaces = opts.broadcast && opts.child !== undefined && opts.child.replaces === undefined ? await childInMempool(chain, backupWithChild(record, undefined, opts.auxRand).backup) : undefined;
  const out = backupWithChild(record, opts.child && replaces ? { ...opts.child, replaces } : opts.child, opts.auxRand);
  const tip = await chain.tip();
  const fields = { lockTime: out.backup.lockTime, inputs: [{ sequence: out.backup.getInput(0).sequence ?? 0xffff_fffe }], version: out.backup.version };
  if (!isFinalAtTip(fields, tip)) {
    throw new RefusedError('E_NOT_FINAL', `the backup's locktime ${out.backup.lockTime} is not final at tip ${tip.height}: ${blocksUntilFinal(fields, tip.height)} more block(s)`);
  }
  const message: Record<string, unknown> = { type: 'statechain/spend', version: 1, network: opts.network, coin_id: record.coin_id, kind: 'backup', txid: out.backup.id, hex: out.hex };
  if (out.childHex !== undefined) message.child_hex = out.childHex;
  if (opts.broadcast) message.broadcast = await send(chain, out, opts.network);
  const value = out.backup.getOutput(0).amount!;
  return {
    message,
    backup: { txid: out.backup.id, lockTime: out.backup.lockTime, vsize: measureTx(fromHex(out.hex), 'the backup').vsize, feeSat: Number(feeOf(out.backup, BigInt(record.statement.amount_sat ?? 0))), valueSat: Number(value) },
    ...(out.childHex !== undefined ? { child: { txid: out.child!.id, vsize: out.childVsize!, feeSat: Number(out.childFeeSat!) } } : {}),
  };
}

/**
 * A signed withdrawal's package: the withdrawal and a CPFP child spending its payout (a key of this owner's:
 * `owner`, or the share) and its anchor (src/lib/statechain/owner.ts withdrawalWithChild), a child of it already
 * in the node's mempool (ours, or a stranger's on the anchor) replaced; with `broadcast` submitted (E_BROADCAST_REJECTED).
 */
export async function withdrawalSpend(record: OwnerRecord, chain: ChainSource, opts: { network: Network; owner: KeyPair; child: BackupChild; broadcast: boolean; auxRand: Uint8Array }): Promise<WithdrawalSpend> {
  const { withdrawalWithChild } = await import('../../lib/statechain/owner.ts');
  const signed = await storedWithdrawalSize(record);
  const replaces = opts.broadcast && opts.child.replaces === undefined ? await childInMempool(chain, { id: signed.txid, outputsLength: 2 /* its payout and its anchor: the template (withdrawal.ts) */ }) : undefined;
  const out = withdrawalWithChild(record, opts.owner, replaces ? { ...opts.child, replaces } : opts.child, opts.auxRand);
  const message: Record<string, unknown> = { type: 'statechain/spend', version: 1, network: opts.network, coin_id: record.coin_id, kind: 'withdrawal', txid: out.withdrawal.id, hex: out.hex, child_hex: out.childHex };
  if (opts.broadcast) message.broadcast = await send(chain, out, opts.network);
  return { message, withdrawal: signed, child: { txid: out.child.id, vsize: out.childVsize, feeSat: Number(out.childFeeSat) } };
}

/** The signed withdrawal's txid, size, fee and payout (E_NOT_SIGNED without one). */
export async function storedWithdrawalSize(record: OwnerRecord): Promise<WithdrawalSpend['withdrawal']> {
  const { storedWithdrawal } = await import('../../lib/statechain/owner.ts');
  const { parseTransaction } = await import('../../lib/statechain/coin.ts');
  const { feeOf } = await import('../../lib/statechain/withdrawal.ts');
  const { fromHex } = await import('../../lib/bytes.ts');
  const { measureTx } = await import('../../lib/truc/transaction.ts');
  const { hex } = storedWithdrawal(record);
  const tx = parseTransaction(hex, 'the stored withdrawal');
  return { txid: tx.id, vsize: measureTx(fromHex(hex), 'the withdrawal').vsize, feeSat: Number(feeOf(tx, BigInt(record.statement.amount_sat ?? 0))), payoutSat: Number(tx.getOutput(0).amount!) };
}

export type WithdrawalSpend = {
  /** The `statechain/spend` message (kind withdrawal, with its child), the node's answer under `broadcast` when sent. */
  message: Record<string, unknown>;
  withdrawal: { txid: string; vsize: number; feeSat: number; payoutSat: number };
  child: { txid: string; vsize: number; feeSat: number };
};

/**
 * A parent and its child sent: as package submit — maxfeerate from the fee guard (the package's guard: Core's own,
 * the guard was checked when the child was built), each transaction's answer read by its wtxid (anything but success
 * is E_BROADCAST_REJECTED, exit 4), the node's answer in snake_case; a parent alone with sendrawtransaction.
 */
async function send(chain: ChainSource, out: { hex: string; childHex?: string | undefined; verdict?: PackageVerdict | undefined; policy?: TrucPolicy | undefined }, network: Network): Promise<Record<string, unknown>> {
  const { fromHex } = await import('../../lib/bytes.ts');
  if (out.childHex === undefined || out.verdict === undefined) return { txid: await chain.broadcast(fromHex(out.hex)) };
  if (chain.submitPackage === undefined) throw new UsageError('E_CHAIN_OFFLINE', 'a package needs a node (--rpc-url)');
  const { submittedMessage } = await import('../../lib/truc/submit.ts');
  const result = await chain.submitPackage([fromHex(out.hex), fromHex(out.childHex)], out.policy!.maxFeeRate);
  const { type: _t, version: _v, network: _n, ...answer } = submittedMessage(result, out.verdict, network);
  return answer;
}

/**
 * The child of `parent` (a backup, the withdrawal) in the node's mempool (TRUC: at most one), as buildChild's
 * `replaces` takes it: its fee and chunk. Best effort, as the credit exit's exitPin: a node that cannot say knows
 * none, and the node's answer to the package is what counts.
 */
async function childInMempool(chain: ChainSource, parent: { id: string; outputsLength: number }): Promise<BackupChild['replaces']> {
  if (!chain.mempoolSpender || !chain.mempoolEntry) return undefined;
  try {
    for (let v = 0; v < parent.outputsLength; v++) {
      const child = await chain.mempoolSpender(parent.id, v);
      if (child === undefined) continue;
      const [entry, chunk] = [await chain.mempoolEntry(child), await chain.mempoolEviction?.(child)];
      if (!entry) return undefined;
      // The chunk holds the parent too when it weighs more than the child alone (Core 30's cluster mempool; none before it).
      return { txid: child, fee: entry.fee, ...(chunk ? { chunk: { fee: chunk.chunkFee, weight: chunk.chunkWeight, withParent: chunk.chunkWeight > 4 * entry.vsize } } : {}) };
    }
  } catch (e) {
    if (['E_NETWORK_MISMATCH', 'E_RPC_AUTH', 'E_RPC_COOKIE'].includes(String((e as { code?: unknown }).code))) throw e;
  }
  return undefined;
}
