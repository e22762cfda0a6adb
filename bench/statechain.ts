/**
 * `npm run bench`, statechains (issue 13 item 10), per CPU-second (the machine may be
 * shared): the operator's work for one transfer (co-sign the receiver's backup, then
 * rotate its share: src/lib/statechain/operator.ts cosignTransfer + completeTransfer,
 * without the state store's fsync), and the receiver's verification of a chain of 100
 * backups (verifyTransfer: 100 template rebuilds and BIP-341 signature checks plus the
 * statement, binding and key checks), on each secp256k1 backend the additive signer and
 * the signature checks run on (../src/lib/musig/engine/select.ts). Run alone: `node --import tsx bench/statechain.ts [seconds]`.
 */
import { Transaction } from '@scure/btc-signer';
import { toHex } from '../src/lib/bytes.ts';
import type { ChainSource } from '../src/lib/chain/types.ts';
import type { NoncePort } from '../src/lib/musig/nonce-port.ts';
import { keyPair } from '../src/lib/keys/keys.ts';
import { deterministicRandom } from '../src/lib/random.ts';
import { coinKey, parseTransaction } from '../src/lib/statechain/coin.ts';
import * as op from '../src/lib/statechain/operator.ts';
import * as dep from '../src/lib/statechain/deposit.ts';
import * as tr from '../src/lib/statechain/transfer.ts';
import { verifyTransfer } from '../src/lib/statechain/verify.ts';
import { loadEngine, useEngine } from '../src/lib/musig/engine/select.ts';

const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 3);
const random = deterministicRandom('bench-statechain');

/** An in-memory single-use nonce store: the bench measures the protocol, not the disk. */
function memoryNonces(): NoncePort {
  const unused = new Map<string, { secnonce: Uint8Array; context: string }>();
  let counter = 0;
  return {
    async issue(context, generate) {
      const n = generate(counter++);
      unused.set(toHex(n.pubnonce), { secnonce: n.secnonce, context });
      return { pubnonce: n.pubnonce };
    },
    async take(pubnonce, context) {
      const n = unused.get(toHex(pubnonce));
      if (!n || n.context !== context) throw new Error('bench: nonce');
      unused.delete(toHex(pubnonce));
      return n.secnonce;
    },
    async status(pubnonce) {
      return unused.has(toHex(pubnonce)) ? 'unused' : 'consumed';
    },
  };
}

console.log('\nStatechains, per CPU-second, per secp256k1 backend (the additive signer and every signature check on it)');
for (const name of ['noble', 'tiny-secp256k1', 'native', 'libsecp256k1'] as const) {
  const engine = await loadEngine(name).catch((e: Error) => e);
  if (engine instanceof Error) {
    console.log(`  ${name.padEnd(15)} not installed: ${engine.message}`);
    continue;
  }
  useEngine(engine);
  await benchOn(name);
}

async function benchOn(name: string) {
  const party = (i: number) => ({ auth: keyPair(random.bytes(32, `auth${i}`)), random, nonces: memoryNonces(), network: 'regtest' as const });
  // A 100-backup chain needs tiny terms: this bench's owners take them (their own floor lowered to match).
  const FLOOR = { minConfirmations: 1, minMargin: 1, minInterval: 2, maxBackupFeeSat: 400n, maxBackupFeePercent: 1 };
  const TERMS = { interval: 2, initial_lock: 400, confirmations: 1, backup_fee_sat: 400, margin: 1 };
  const chain = { kind: 'offline', height: 100, tip: async () => ({ height: 100, medianTimePast: 0 }), utxo: async () => deposit } as unknown as ChainSource;
  let deposit: { txid: string; vout: number; value: bigint; scriptPubKey: Uint8Array; confirmations: number } | null = null;

  const operator = party(0);
  const opCtx = { operator: operator.auth, random, chain, network: 'regtest' as const };
  const alice = party(1);
  const start = dep.startDeposit(alice, operator.auth.publicKey);
  const offer = op.offerDeposit(start.message as never, TERMS, opCtx);
  const key = coinKey(Buffer.from(offer.record.statement.owner_share, 'hex'), Buffer.from(offer.record.statement.operator_share, 'hex'));
  const funding = new Transaction({ version: 2, allowUnknownOutputs: true });
  funding.addInput({ txid: new Uint8Array(32).fill(1), index: 0 });
  funding.addOutput({ script: key.script, amount: 1_000_000n });
  deposit = { txid: funding.id, vout: 0, value: 1_000_000n, scriptPubKey: key.script, confirmations: 6 };
  const backupReq = await dep.depositBackup(start.pending, offer.message as never, toHex(funding.unsignedTx), 100, FLOOR, alice);
  const cos = await op.cosignDepositBackup(offer.record, backupReq.message as never, opCtx);
  let opRecord = cos.record;
  let owner = { party: alice, record: await dep.depositFinish(backupReq.record, cos.message as never, alice) };

  /** One whole transfer; returns the operator's CPU time for its two steps and the package verified. */
  async function transfer(i: number) {
    const receiver = party(100 + i);
    const req = tr.startReceive(owner.record.coin_id, operator.auth.publicKey, receiver);
    const sign = await tr.transferSign(owner.record, req.message as never, 100, owner.party);
    const t0 = process.cpuUsage();
    const c = await op.cosignTransfer(opRecord, sign.message as never, opCtx);
    const t1 = process.cpuUsage(t0);
    const pkg = await tr.transferPackage(sign.record, c.message as never, owner.party);
    const acc = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: 100, deposit }, receiver, FLOOR);
    const t2 = process.cpuUsage();
    const done = op.completeTransfer(c.record, acc.message as never, opCtx);
    const t3 = process.cpuUsage(t2);
    opRecord = done.record;
    owner = { party: receiver, record: tr.finishReceive(acc.record, done.message as never) };
    return { operatorMicros: t1.user + t1.system + t3.user + t3.system, pkg: pkg.message, pending: req.pending, receiver };
  }

  let micros = 0;
  let count = 0;
  let last: Awaited<ReturnType<typeof transfer>> | undefined;
  const wall = Date.now();
  while (count < 99 && (micros < seconds * 1e6 || count < 20)) {
    last = await transfer(count);
    micros += last.operatorMicros;
    count++;
  }
  console.log(`  ${name.padEnd(15)} operator: ${count} transfers (co-sign + rotate), ${(count / (micros / 1e6)).toFixed(0)} transfers per CPU-second (${(micros / count / 1000).toFixed(2)} ms each; ${((Date.now() - wall) / 1000).toFixed(1)} s wall for all parties)`);

  // A chain of 100 backups: keep transferring until the package carries 100.
  while (count < 99) {
    last = await transfer(count);
    count++;
  }
  const inner = tr.openPackage(last!.pkg as never, last!.pending, last!.receiver.auth.secretKey);
  if (inner.backups.length !== 100) throw new Error(`bench: expected 100 backups, have ${inner.backups.length}`);
  const expectation = { coinId: last!.pending.coin_id, transferId: (last!.pkg as { transfer_id: string }).transfer_id, receiverShare: last!.pending.share, receiverAuth: last!.pending.auth, operatorAuth: operator.auth.publicKey, floor: FLOOR };
  let runs = 0;
  const v0 = process.cpuUsage();
  let spent = 0;
  while (spent < seconds * 1e6 || runs < 3) {
    verifyTransfer(inner, expectation, { tipHeight: 100, deposit });
    runs++;
    const d = process.cpuUsage(v0);
    spent = d.user + d.system;
  }
  console.log(`  ${name.padEnd(15)} receiver: a chain of 100 backups verified in ${(spent / runs / 1000).toFixed(1)} ms of CPU (${runs} runs; ${parseTransaction(inner.backups[99]!, 'b').lockTime} is the newest locktime)`);
}
