/**
 * The owner's hand-over to a watchtower (docs/statechain.md "Exit by backup", docs/watch.md
 * "The tower"): `statechain/tower-backup`, written by `statechain tower-export` from the owner's
 * record and read by `offchain watch --tower`. Pure: a record in, a message out; a message in,
 * its checked parts out.
 *
 * INVARIANTS (test/lib/statechain/tower.test.ts):
 * - Nothing secret leaves: the message carries the newest backup as signed (both shares'
 *   signature is already in it), its locktime, the coin's outpoint and amount, and txids. The
 *   backup's bytes cannot be changed without the coin's key, and it pays only the owner's share:
 *   a tower can pay for it to confirm, never redirect it.
 * - Only a coin its owner holds (`active`), whose newest backup is its own, anchored (terms with
 *   `anchor`: zero fee and a keyless P2A — without one a tower has nothing to spend, E_BACKUP_UNBUMPABLE),
 *   and not backup 1 (no older backup to outrun: no deadline, E_NO_DEADLINE).
 * - A reader takes only a backup that is what the message says and has an anchored backup's
 *   shape: version 3, its one input the coin's outpoint with the template's nSequence, its
 *   locktime Lₙ, exactly the whole coin to a P2TR and a 0-sat pay-to-anchor, one 64-byte witness
 *   item; the previous owner's locktime above Lₙ and the deadline Lₙ₋₁ − 1 (E_BAD_TOWER_EXPORT
 *   otherwise). verifyTowerBackup then checks it against the coin's output as the node has it:
 *   exactly the backup template (coin.ts), with a valid BIP 341 key-path signature for the coin's
 *   key — what a tower keeps; `coin_id`, `n` and `older_txids` are claims no key signs.
 *
 * Not here: which export a tower keeps when it holds several for one coin (../watch/tower.ts),
 * the chain.
 */
import { equalBytes, toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError, StateConflictError } from '../errors.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import { activeSecp256k1 } from '../musig/engine/select.ts';
import { BACKUP_SEQUENCE, P2A_SCRIPT, backupTransaction, parseTransaction } from './coin.ts';
import type { OwnerRecord } from './owner.ts';
import { TowerBackupSchema } from './schemas.ts';
import type { Static } from '@sinclair/typebox';

export type TowerBackup = Static<typeof TowerBackupSchema>;

/** What `statechain tower-export` prints for `record`. */
export function towerExport(record: OwnerRecord, network: Network): TowerBackup {
  const st = record.statement;
  if (record.status !== 'active') {
    throw new StateConflictError('E_NOT_OWNER', `this coin is ${record.status}: only its current owner, holding it (active), hands its backup to a tower — an export made now would be stale once the coin moves`);
  }
  if (st.terms.anchor !== true) {
    throw new RefusedError('E_BACKUP_UNBUMPABLE', 'this coin\'s terms have no anchor: its backup pays its fee itself and only your share can bump it (statechain backup --to --fee-rate, or offchain watch with your key); a tower, holding no key, has nothing to spend');
  }
  const index = st.backups.map((b) => b.owner_share).lastIndexOf(record.share);
  if (index < 0 || index !== st.backups.length - 1 || record.backups[index] === undefined || st.outpoint === null || st.amount_sat === null) {
    throw new StateConflictError('E_NOT_OWNER', 'the newest backup of this coin is not yours (or not signed yet): only the owner holding the newest backup exports it');
  }
  if (index === 0) {
    throw new RefusedError('E_NO_DEADLINE', 'this is backup 1, the depositor\'s own: there is no older backup to outrun, so no deadline for a tower to keep (statechain backup sends it when you choose)');
  }
  const own = st.backups[index]!;
  const previous = st.backups[index - 1]!;
  return {
    type: 'statechain/tower-backup', version: 1, network,
    coin_id: record.coin_id,
    outpoint: st.outpoint,
    amount_sat: st.amount_sat,
    backup: { n: own.n, txid: own.txid, locktime: own.locktime, hex: record.backups[index]! },
    previous: { txid: previous.txid, locktime: previous.locktime },
    deadline: previous.locktime - 1,
    older_txids: st.backups.slice(0, index).map((b) => b.txid),
    next: 'drop this file into the tower\'s directory (offchain watch --tower DIR, written elsewhere and renamed in); a transfer of the coin makes it stale: the new owner\'s export for the same coin replaces it there',
  };
}

/** A `statechain/tower-backup` as a tower reads it: the message checked against its own backup bytes. */
export function readTowerBackup(value: unknown, what: string): TowerBackup {
  const m = decodeMessage(TowerBackupSchema, value);
  const bad = (why: string) => new MalformedInputError('E_BAD_TOWER_EXPORT', `${what}: ${why}`);
  let tx;
  try {
    tx = parseTransaction(m.backup.hex, 'backup.hex');
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (tx.id !== m.backup.txid) throw bad(`backup.hex is ${tx.id}, not backup.txid ${m.backup.txid}`);
  if (tx.version !== 3) throw bad(`the backup is version ${tx.version}, not 3 (TRUC): a child could not bump it`);
  const input = tx.inputsLength === 1 ? tx.getInput(0) : undefined;
  if (!input || `${toHex(input.txid!)}:${input.index}` !== m.outpoint) throw bad(`the backup does not spend the coin ${m.outpoint} alone`);
  if (input.finalScriptWitness?.length !== 1) throw bad('the backup is not signed (one witness item: the coin\'s key-path signature)');
  if (tx.lockTime !== m.backup.locktime) throw bad(`the backup's locktime is ${tx.lockTime}, not backup.locktime ${m.backup.locktime}`);
  if (input.sequence !== BACKUP_SEQUENCE) throw bad(`the backup's input has nSequence ${input.sequence}, not the template's ${BACKUP_SEQUENCE}`);
  if (input.finalScriptWitness[0]!.length !== 64) throw bad('the backup\'s witness is not one 64-byte key-path signature (SIGHASH_DEFAULT)');
  // An anchored backup's outputs, exactly: the owner's P2TR (the whole coin: zero fee) and the 0-sat anchor. Anything else is no backup.
  const outs = Array.from({ length: tx.outputsLength }, (_, i) => tx.getOutput(i));
  if (outs.length !== 2 || !isP2tr(outs[0]!.script!)) throw bad('the backup\'s outputs are not an anchored backup\'s: the owner\'s P2TR, then the 0-sat anchor');
  if (!equalBytes(outs[1]!.script!, P2A_SCRIPT) || outs[1]!.amount !== 0n) throw bad('the backup has no 0-sat pay-to-anchor output: a tower cannot bump it');
  if (outs[0]!.amount !== BigInt(m.amount_sat)) throw bad(`the backup pays ${outs[0]!.amount} sat, not the whole coin (${m.amount_sat} sat): an anchored backup pays zero fee`);
  if (m.previous.locktime <= m.backup.locktime) throw bad(`the previous owner's locktime ${m.previous.locktime} is not above the backup's ${m.backup.locktime}`);
  if (m.deadline !== m.previous.locktime - 1) throw bad(`the deadline is ${m.deadline}, not the block before the previous owner's backup is final (${m.previous.locktime - 1})`);
  if (m.older_txids.length !== m.backup.n - 1 || m.older_txids.at(-1) !== m.previous.txid) throw bad('older_txids must list the backup\'s n − 1 older backups, the previous owner\'s last');
  if (m.older_txids.includes(m.backup.txid)) throw bad('older_txids names the backup itself');
  return m;
}

const isP2tr = (script: Uint8Array) => script.length === 34 && script[0] === 0x51 && script[1] === 0x20;

/**
 * The largest a backup a tower pays for may be (vB): an anchored backup signed — version 3, the coin's one
 * input, the owner's P2TR and the 0-sat anchor, one 64-byte witness item (4·107 + 68 WU). A tower never
 * pays a child's fee on a bigger parent.
 */
export const TOWER_BACKUP_VSIZE = 124;

/**
 * `m`'s backup checked against the coin's output as the node has it (`funding`: its script and amount at
 * m.outpoint): exactly the statechain backup template under anchored terms (coin.ts backupTransaction: version
 * 3, the outpoint alone with nSequence 0xfffffffe, the whole coin to a P2TR, the 0-sat anchor, its nLockTime),
 * signed by the coin's key (BIP 341 key-path, SIGHASH_DEFAULT, verified against the output's key). A tower
 * keeps nothing that fails this (E_BAD_TOWER_EXPORT): a file anyone wrote cannot pass for a coin's backup.
 */
export function verifyTowerBackup(m: TowerBackup, funding: { script: Uint8Array; amount: bigint }, what: string): void {
  const bad = (why: string) => new MalformedInputError('E_BAD_TOWER_EXPORT', `${what}: ${why}`);
  if (!isP2tr(funding.script)) throw bad(`the output at ${m.outpoint} is not a statechain coin's (key-path P2TR)`);
  if (funding.amount !== BigInt(m.amount_sat)) throw bad(`the coin at ${m.outpoint} holds ${funding.amount} sat, not amount_sat ${m.amount_sat}`);
  const [txid, vout] = m.outpoint.split(':') as [string, string];
  const payTo = parseTransaction(m.backup.hex, 'backup.hex').getOutput(0).script!;
  let template;
  try {
    template = backupTransaction({ script: funding.script }, {
      outpoint: { txid, vout: Number(vout) }, amountSat: funding.amount, locktime: m.backup.locktime, ownerShare: new Uint8Array(33), feeSat: 0n, payTo, anchor: true,
    });
  } catch (e) {
    throw bad(`no backup template for it (${(e as Error).message})`);
  }
  const given = template.recognise(m.backup.hex);
  if (given?.signature === undefined) throw bad('the backup is not the statechain backup template under anchored terms, signed');
  if (!activeSecp256k1().verifySchnorr(given.signature, template.sighash(), funding.script.subarray(2))) {
    throw bad(`the backup has no valid BIP-341 key-path signature for the coin at ${m.outpoint}`);
  }
}
