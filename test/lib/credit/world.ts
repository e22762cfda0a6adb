/**
 * A small world for credit-contract tests: a mint on the store the CLI runs on (its
 * state.sqlite under `<dir>/mint`, one SqliteMintStore: records, funding index and
 * single-use nonces; its writes stay in the open batch unless a test commits), a user with
 * its own state.sqlite under `<dir>/user` (its contracts and its single-use nonces, made by
 * its first write, as the CLI's), a chain whose tip and funding confirmations the test sets,
 * and a deterministic random source.
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { join } from 'node:path';
import { keyPair } from '../../../src/lib/keys/keys.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { decodeAddress, scriptAddress } from '../../../src/lib/address.ts';
import { deterministicRandom } from '../../../src/lib/random.ts';
import { StateDb } from '../../../src/lib/store/sqlite/database.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { ContractBook } from '../../../src/lib/store/sqlite/records.ts';
import { Sealer } from '../../../src/lib/store/seal.ts';
import { OfflineChainSource } from '../../../src/lib/chain/offline.ts';
import type { ChainSource, UtxoInfo } from '../../../src/lib/chain/types.ts';
import type { MintContext, MintContractRecord, MintPolicy, UserContext, UserContractRecord } from '../../../src/lib/credit/ports.ts';
import { contractKey } from '../../../src/lib/credit/terms.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { tempDir } from '../../helpers.ts';

/** Mint stores opened by test worlds: their rows, uncommitted writes included, are state too. */
export const liveStores = new Set<SqliteMintStore<MintContractRecord>>();

export const MINT = keyPair(fromHex('a1'.repeat(32)));
export const USER = keyPair(fromHex('b2'.repeat(32)));
/** The mint's stores seal its fully signed states and its nonces under its key, as the CLI's do (seal.ts). */
export const MINT_SEALER = Sealer.fromSecret(MINT.secretKey);
export const PAYOUT = scriptAddress(taprootOutput(keyPair(fromHex('c3'.repeat(32))).xOnly).script, 'regtest')!;
export const REFUND = scriptAddress(taprootOutput(keyPair(fromHex('d4'.repeat(32))).xOnly).script, 'regtest')!;
export const CHANGE = scriptAddress(fromHex('0014' + 'e5'.repeat(20)), 'regtest')!;

export const POLICY: MintPolicy = {
  mint_pubkey: toHex(MINT.publicKey),
  payout_address: PAYOUT,
  min_fee_rate: 1,
  safety_margin_blocks: 144,
  min_confirmations: 1,
  min_expiry_blocks: 288,
  max_expiry_blocks: 10_000,
  default_expiry_blocks: 4320,
};

/** A chain the test drives: tip height and per-outpoint facts. */
export class TestChain implements ChainSource {
  readonly kind = 'offline' as const;
  height = 1000;
  utxos = new Map<string, UtxoInfo>();
  async tip() {
    return { height: this.height, medianTimePast: 1_700_000_000 + this.height * 600 };
  }
  async utxo(txid: string, vout: number) {
    return this.utxos.get(`${txid}:${vout}`) ?? null;
  }
  confirm(txid: string, vout: number, value: bigint, script: Uint8Array, confirmations: number) {
    this.utxos.set(`${txid}:${vout}`, { txid, vout, value, scriptPubKey: script, confirmations });
  }
  rawTransaction = () => new OfflineChainSource().rawTransaction('00'.repeat(32));
  testMempoolAccept = () => new OfflineChainSource().testMempoolAccept([]);
  broadcast = () => new OfflineChainSource().broadcast(new Uint8Array());
}

export function world() {
  const dir = tempDir('offchain-credit-');
  const chain = new TestChain();
  const mintBook = new SqliteMintStore<MintContractRecord>(StateDb.open(join(dir.path, 'mint'), { create: true })!, { sealer: MINT_SEALER });
  liveStores.add(mintBook);
  const userDb = async (create: boolean) => StateDb.open(join(dir.path, 'user'), { create });
  const userBook = new ContractBook<UserContractRecord>(userDb, 'credit-user', join(dir.path, 'user'));
  const mint: MintContext = {
    network: 'regtest', mint: MINT, policy: POLICY, records: mintBook, funding: mintBook, nonces: mintBook,
    chain, random: deterministicRandom('mint'),
  };
  const user: UserContext = {
    network: 'regtest', user: USER, records: userBook, nonces: new SqliteNonces(userDb, Sealer.fromSecret(USER.secretKey)), chain, random: deterministicRandom('user'),
  };
  /** The mint's batch committed, both databases closed (a file that opens many worlds, a mutation run). */
  const close = async () => {
    liveStores.delete(mintBook);
    await mintBook.close();
    mintBook.db.closeNow();
    StateDb.open(join(dir.path, 'user'), { create: false })?.closeNow();
  };
  return { dir, chain, mint, user, mintBook, userBook, close };
}

/** The user's wallet: an unsigned funding PSBT from one P2WPKH input paying the contract. */
export function fundingPsbt(capacity: bigint, input = 'f0'): Uint8Array {
  const script = contractKey(USER.publicKey, MINT.publicKey).output.script;
  const tx = new Transaction({ version: 2 });
  tx.addInput({ txid: input.repeat(32), index: 0, witnessUtxo: { script: fromHex('0014' + '99'.repeat(20)), amount: capacity + 10_000n } });
  tx.addOutput({ script, amount: capacity });
  tx.addOutput({ script: decodeAddress(CHANGE, 'regtest'), amount: 9_000n });
  return tx.toPSBT();
}

export function offer() {
  return { type: 'credit/offer' as const, version: 1 as const, network: 'regtest' as const, ...POLICY };
}

export { base64 };
