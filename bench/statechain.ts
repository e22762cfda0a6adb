/**
 * `npm run bench`, statechains (issue 13 item 10; issue 40 deliverable 2), per CPU-second (the
 * machine may be shared), on each secp256k1 backend the additive signer and every signature
 * check run on (../src/lib/musig/engine/select.ts), each row beside the curve arithmetic the
 * protocol cannot do without, measured in the same rounds (its floor; 1/floor the ceiling):
 *
 * - the operator's work for one transfer: co-sign the receiver's backup, then rotate its share
 *   (src/lib/statechain/operator.ts cosignTransfer + completeTransfer, without the state store's
 *   fsync), over a coin's first 99 transfers (its statement, which it signs twice per transfer,
 *   grows by one backup record each): the operator's steps replayed alone from what they read
 *   in a whole run (as an operator process runs them), beside the same steps timed inside that
 *   run, between the other parties' work. Floor: 3 BIP-340 verifications (the owner's request, the
 *   receiver's proof of possession, the receiver's acceptance), 7 k·G (the co-signing nonce pair,
 *   X₁, the seal's ephemeral key, S₂, and the two statement signatures' R), 2 constant-time k·P
 *   (ECDH: sealing x₁, opening t₂), 1 k·P (R₁ + b·R₂), the receiver's backup output
 *   (lift_x + t·G), 3 additions and 4 keys decoded;
 * - the receiver's verification of a chain of 100 backups (verifyTransfer), each with every key
 *   new to the process, as a receiver meets them (the public keys it kept pushed out first,
 *   untimed). Floor: per backup a BIP-340 verification and its output key (lift_x + t·G);
 *   once: the statement's and the binding's signatures, t₁·G, the coin key (t·G) and the sums
 *   P = O₁ + S₁, t₁·G = O₁ + X₁.
 *
 * Rounds alternate the row and its floor; medians of the rounds, [min–max], wall time beside
 * CPU, the load average at start and end. Run alone: `node --import tsx bench/statechain.ts
 * [seconds per round]`; BENCH_BACKENDS=native,noble to pick backends.
 */
import { loadavg, cpus } from 'node:os';
import { Transaction } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { toHex } from '../src/lib/bytes.ts';
import type { ChainSource } from '../src/lib/chain/types.ts';
import type { NoncePort } from '../src/lib/musig/nonce-port.ts';
import type { Secp256k1Backend } from '../src/lib/musig/engine/backend.ts';
import { keyPair, parsePublicKey } from '../src/lib/keys/keys.ts';
import { deterministicRandom, systemRandom } from '../src/lib/random.ts';
import { schnorrSign } from '../src/lib/taproot/schnorr.ts';
import { coinKey } from '../src/lib/statechain/coin.ts';
import * as op from '../src/lib/statechain/operator.ts';
import * as dep from '../src/lib/statechain/deposit.ts';
import * as tr from '../src/lib/statechain/transfer.ts';
import { reportRow } from './rows.mjs';
import { verifyTransfer } from '../src/lib/statechain/verify.ts';
import { activeSecp256k1, loadEngine, useEngine } from '../src/lib/musig/engine/select.ts';

const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** The receiver's chain: a coin's first BACKUPS - 1 transfers (BENCH_STATECHAIN_BACKUPS, 100: issue 40's row). */
const BACKUPS = Number(process.env.BENCH_STATECHAIN_BACKUPS ?? 100);
const random = deterministicRandom('bench-statechain');
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], f: (x: number) => string) => `[${f(Math.min(...xs))}–${f(Math.max(...xs))}]`;

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

/** Public inputs for the floors: signatures that verify, points, public and secret scalars. */
function floorInputs(ec: Secp256k1Backend<unknown>) {
  const keys = Array.from({ length: 4 }, (_, i) => keyPair(random.bytes(32, `floor-key-${i}`)));
  const sigs = keys.map((k, i) => {
    const msg = random.bytes(32, `floor-msg-${i}`);
    return { sig: schnorrSign(msg, k.secretKey, random.bytes(32, 'floor-aux')), msg, pk: k.xOnly };
  });
  const scalar = (i: number) => BigInt('0x' + toHex(random.bytes(32, `floor-scalar-${i}`))) % secp256k1.Point.CURVE().n;
  const compressed = keys.map((k) => k.publicKey);
  const point = ec.pointFromBytes(compressed[0]!)!;
  const other = ec.pointFromBytes(compressed[1]!)!;
  // ECDH: the backend's constant-time k·P, else (noble) noble's ECDH, as src/lib/statechain/seal.ts does it.
  const ecdh = ec.mulSecret ? () => ec.mulSecret!(point, scalar(1)) : () => secp256k1.getSharedSecret(keys[2]!.secretKey, compressed[0]!, true);
  return { sigs, scalar, compressed, point, other, ecdh, x: keys[3]!.xOnly };
}

function operatorFloor(ec: Secp256k1Backend<unknown>, f: ReturnType<typeof floorInputs>) {
  for (let i = 0; i < 3; i++) ec.verifySchnorr(f.sigs[i]!.sig, f.sigs[i]!.msg, f.sigs[i]!.pk);
  for (let i = 0; i < 7; i++) ec.mulBase(f.scalar(i));
  f.ecdh();
  f.ecdh();
  ec.mul(f.point, f.scalar(8));
  ec.addMulBase ? ec.addMulBase(ec.liftX(f.x)!, f.scalar(9)) : ec.add(ec.liftX(f.x)!, ec.mulBase(f.scalar(9)));
  for (let i = 0; i < 3; i++) ec.add(f.point, f.other);
  for (let i = 0; i < 4; i++) ec.pointFromBytes(f.compressed[i]!);
}

function receiverFloor(ec: Secp256k1Backend<unknown>, f: ReturnType<typeof floorInputs>, backups: number) {
  for (let i = 0; i < backups + 2; i++) ec.verifySchnorr(f.sigs[i % 4]!.sig, f.sigs[i % 4]!.msg, f.sigs[i % 4]!.pk);
  const t = f.scalar(9);
  for (let i = 0; i < backups + 1; i++) (ec.addMulBase ? ec.addMulBase(ec.liftX(f.x)!, t) : ec.add(ec.liftX(f.x)!, ec.mulBase(t)));
  ec.mulBase(f.scalar(1));
  for (let i = 0; i < 4; i++) ec.pointFromBytes(f.compressed[i]!);
  ec.add(f.point, f.other);
  ec.add(f.point, f.other);
}

/** CPU and wall time of `n` calls of `fn` (µs each). */
async function timed(n: number, fn: (i: number) => unknown): Promise<{ cpu: number; wall: number }> {
  const [c0, w0] = [cpu(), performance.now()];
  for (let i = 0; i < n; i++) await fn(i);
  return { cpu: (cpu() - c0) / n, wall: ((performance.now() - w0) * 1000) / n };
}

console.log(`\nStatechains, per secp256k1 backend: CPU time per operation (process.cpuUsage), wall time in brackets; ${cpus().length} cores, load average ${load()} at start`);
console.log(`  medians of ${ROUNDS} rounds [range], each round the row and then its curve floor (what the protocol's arithmetic alone costs)`);
for (const name of (['noble', 'native', 'libsecp256k1'] as const).filter((n) => !process.env.BENCH_BACKENDS || process.env.BENCH_BACKENDS.split(',').includes(n))) {
  const engine = await loadEngine(name).catch((e: Error) => e);
  if (engine instanceof Error) {
    console.log(`  ${name.padEnd(15)} not installed: ${engine.message}`);
    continue;
  }
  useEngine(engine);
  await benchOn(name);
}
console.log(`  load average ${load()} at the end`);

async function benchOn(name: string) {
  const ec = activeSecp256k1();
  const f = floorInputs(ec);
  const party = (i: number) => ({ auth: keyPair(random.bytes(32, `auth${i}`)), random, nonces: memoryNonces(), network: 'regtest' as const });
  // A 100-backup chain needs tiny terms: this bench's owners take them (their own floor lowered to match).
  const FLOOR = { minConfirmations: 1, minMargin: 1, minInterval: 2, maxBackupFeeSat: 400n, maxBackupFeePercent: 1 };
  const TERMS = { interval: 2, initial_lock: 400, confirmations: 1, backup_fee_sat: 400, margin: 1 };
  const chain = { kind: 'offline', height: 100, tip: async () => ({ height: 100, medianTimePast: 0 }), utxo: async () => deposit } as unknown as ChainSource;
  let deposit: { txid: string; vout: number; value: bigint; scriptPubKey: Uint8Array; confirmations: number } | null = null;

  const operator = party(0);
  // The operator draws from the OS as it does in production (the test-seed stream is an HMAC per draw).
  const opCtx = { operator: operator.auth, random: systemRandom, chain, network: 'regtest' as const };
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

  /** One whole transfer; the operator's CPU and wall time for its two steps, what they read, and the package. */
  async function transfer(i: number) {
    const receiver = party(100 + i);
    const req = tr.startReceive(owner.record.coin_id, operator.auth.publicKey, receiver);
    const sign = await tr.transferSign(owner.record, req.message as never, 100, owner.party);
    const before = opRecord;
    const [c0, w0] = [cpu(), performance.now()];
    const c = await op.cosignTransfer(opRecord, sign.message as never, opCtx);
    const [c1, w1] = [cpu(), performance.now()];
    const pkg = await tr.transferPackage(sign.record, c.message as never, owner.party);
    const acc = tr.acceptPackage(pkg.message as never, req.pending, { tipHeight: 100, deposit }, receiver, FLOOR);
    const [c2, w2] = [cpu(), performance.now()];
    const done = op.completeTransfer(c.record, acc.message as never, opCtx);
    const [c3, w3] = [cpu(), performance.now()];
    opRecord = done.record;
    owner = { party: receiver, record: tr.finishReceive(acc.record, done.message as never) };
    const steps = { before, sign: sign.message, cosigned: c.record, accept: acc.message };
    return { cpu: c1 - c0 + (c3 - c2), wall: (w1 - w0 + (w3 - w2)) * 1000, steps, pkg: pkg.message, pending: req.pending, receiver };
  }

  // A coin's first 99 transfers (chains of 1…99 backups), every party in this process; the operator's two steps timed as they happen.
  const transfers: Awaited<ReturnType<typeof transfer>>[] = [];
  for (let i = 0; i < BACKUPS - 1; i++) transfers.push(await transfer(i));
  const inProtocol = transfers.reduce((a, t) => a + t.cpu, 0) / transfers.length;
  // The row: the operator's steps alone, as an operator process (serve statechain) runs them, replayed from what they read in
  // that run — each round all 99 (co-signing draws fresh nonces; the rotation completes the recorded co-signing), the keys the
  // process kept pushed out first (untimed), then the curve floor as often.
  const others = Array.from({ length: 4096 }, (_, i) => toHex(ec.pointToBytes(ec.mulBase(BigInt(i + 2))!)));
  const forget = () => {
    for (const k of others) parsePublicKey(k);
  };
  const row: { cpu: number; wall: number }[] = [];
  const floor: { cpu: number; wall: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    forget();
    row.push(await timed(transfers.length, async (i) => {
      const s = transfers[i]!.steps;
      await op.cosignTransfer(s.before, s.sign as never, opCtx);
      op.completeTransfer(s.cosigned, s.accept as never, opCtx);
    }));
    floor.push(await timed(transfers.length, () => operatorFloor(ec, f)));
  }
  const last = transfers[transfers.length - 1];
  const perSecond = (us: number) => (1e6 / us).toFixed(0);
  const [rc, rw, fc, fw] = [median(row.map((r) => r.cpu)), median(row.map((r) => r.wall)), median(floor.map((r) => r.cpu)), median(floor.map((r) => r.wall))];
  console.log(
    `  ${name.padEnd(15)} operator transfer (co-sign + rotate): ${perSecond(rc)} per CPU-s ${range(row.map((r) => 1e6 / r.cpu), (x) => x.toFixed(0))} (${perSecond(rw)} per wall-s), ${(rc / 1000).toFixed(2)} ms; ` +
      `its curve floor ${perSecond(fc)} per CPU-s (${perSecond(fw)}), ${(fc / 1000).toFixed(2)} ms: ${((fc / rc) * 100).toFixed(0)}% of the ceiling ` +
      `(timed inside the whole protocol run, beside the other parties' work: ${perSecond(inProtocol)} per CPU-s)`,
  );
  // Issue 40's row 2: ≥ 500 transfers per CPU-s on the native backends (the system's libsecp256k1 counts as native).
  const native = name === 'native' || name === 'libsecp256k1';
  const opRatios = row.map((r, i) => floor[i]!.cpu / r.cpu);
  reportRow({
    id: `statechain-operator/${name}`,
    label: `statechain operator transfer (co-sign + rotate), ${name}, per CPU-second`,
    value: 1e6 / rc,
    unit: '/CPU-s',
    wall: 1e6 / rw,
    range: [Math.min(...row.map((r) => 1e6 / r.cpu)), Math.max(...row.map((r) => 1e6 / r.cpu))],
    anchor: { label: 'its curve floor (ceiling)', value: 1e6 / fc },
    ratio: fc / rc,
    ratioRange: [Math.min(...opRatios), Math.max(...opRatios)],
    ...(native ? { target: { on: 'value' as const, atLeast: 500 } } : {}),
    note: `${transfers.length} transfers a round, ${ROUNDS} rounds`,
  });

  // The receiver: the package of the 99th transfer carries 100 backups.
  const inner = tr.openPackage(last!.pkg as never, last!.pending, last!.receiver.auth.secretKey);
  if (inner.backups.length !== BACKUPS) throw new Error(`bench: expected ${BACKUPS} backups, have ${inner.backups.length}`);
  const expectation = { coinId: last!.pending.coin_id, transferId: (last!.pkg as { transfer_id: string }).transfer_id, receiverShare: last!.pending.share, receiverAuth: last!.pending.auth, operatorAuth: operator.auth.publicKey, floor: FLOOR };
  // A receiver meets every key of the chain for the first time: before each verification the
  // keys the process has kept (parsePublicKey's LRU of 4,096 public keys) are pushed out by
  // parsing 4,096 others, untimed.
  const verify = async (n: number) => {
    let [c, w] = [0, 0];
    for (let i = 0; i < n; i++) {
      forget();
      const t = await timed(1, () => verifyTransfer(inner, expectation, { tipHeight: 100, deposit }));
      c += t.cpu;
      w += t.wall;
    }
    return { cpu: c / n, wall: w / n };
  };
  const once = await verify(1);
  const runs = Math.max(3, Math.round((seconds * 1e6) / once.cpu));
  const vRow: { cpu: number; wall: number }[] = [];
  const vFloor: { cpu: number; wall: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    vRow.push(await verify(runs));
    vFloor.push(await timed(runs, () => receiverFloor(ec, f, BACKUPS)));
  }
  const [vc, vw, vfc, vfw] = [median(vRow.map((r) => r.cpu)), median(vRow.map((r) => r.wall)), median(vFloor.map((r) => r.cpu)), median(vFloor.map((r) => r.wall))];
  const ms = (us: number) => (us / 1000).toFixed(1);
  console.log(
    `  ${name.padEnd(15)} receiver, ${BACKUPS} backups verified: ${ms(vc)} ms of CPU ${range(vRow.map((r) => r.cpu), ms)} (${ms(vw)} ms wall); ` +
      `its curve floor ${ms(vfc)} ms (${ms(vfw)}): ${((vfc / vc) * 100).toFixed(0)}% of the ceiling (${runs} verifications a round)`,
  );
  // Issue 40's row 2: the receiver's 100-backup verification ≤ 30 ms on the native backends.
  const vRatios = vRow.map((r, i) => vFloor[i]!.cpu / r.cpu);
  reportRow({
    id: `statechain-receiver/${name}`,
    label: `statechain receiver, ${BACKUPS}-backup chain verified, ${name}`,
    value: vc / 1000,
    unit: 'ms CPU',
    wall: vw / 1000,
    range: [Math.min(...vRow.map((r) => r.cpu / 1000)), Math.max(...vRow.map((r) => r.cpu / 1000))],
    anchor: { label: 'its curve floor (ms)', value: vfc / 1000 },
    ratio: vfc / vc,
    ratioRange: [Math.min(...vRatios), Math.max(...vRatios)],
    ...(native ? { target: { on: 'value' as const, atMost: 30 } } : {}),
    note: `${runs} verifications a round, ${ROUNDS} rounds`,
  });
}
