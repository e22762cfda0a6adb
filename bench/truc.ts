/**
 * `npm run bench`, TRUC packages (issue 24): for a zero-fee commitment with 20 HTLCs, per
 * CPU-second and per secp256k1 backend —
 *   built+signed+checked: the commitment built and signed by both funding keys, a child
 *     built from a wallet PSBT (src/lib/truc/child.ts: sized, the whole package through
 *     check.ts), the package checked again with the signed stand-in;
 *   checked only: check.ts on the finished (parent, child) bytes.
 * The child and the checker use no curve operation (the wallet signs later), so only the
 * first figure depends on the backend. Run alone: `node --import tsx bench/truc.ts [seconds]`.
 */
import { loadavg } from 'node:os';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Transaction } from '@scure/btc-signer';
import {
  NOBLE, ZERO_FEE, bolt3Backend, buildCommitment, channelFundingOutput, finalizeCommitment, generateFromSeed, nativeEcdsa, pointOf, signCommitment,
  type Bolt3Backend, type ChannelParameters, type Htlc,
} from '../src/lib/bolt3/index.ts';
import { nativeBackend } from '../src/lib/musig/engine/backend-native.ts';
import { buildChild } from '../src/lib/truc/child.ts';
import { checkTrucPackage, CORE_POLICY, type Prevout } from '../src/lib/truc/check.ts';
import { finalizedRaw } from '../src/lib/truc/input.ts';
import { DEFAULT_FEE_LIMITS } from '../src/lib/tx/fee-guard.ts';
import { fromHex } from '../src/lib/bytes.ts';

const req = createRequire(import.meta.url);
const sec = (b: number) => new Uint8Array(32).fill(b);
const keys = (o: number) => ({ fundingPubkey: pointOf(sec(o + 1)), revocationBasepoint: pointOf(sec(o + 2)), paymentBasepoint: pointOf(sec(o + 3)), delayedPaymentBasepoint: pointOf(sec(o + 4)), htlcBasepoint: pointOf(sec(o + 5)) });
const p: ChannelParameters = {
  format: ZERO_FEE, fundingOutpoint: { txid: '8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be', vout: 0 }, fundingSatoshis: 10_000_000n,
  opener: 'remote', local: keys(10), remote: keys(20), toSelfDelay: 144, dustLimitSatoshis: 546n,
};
const htlcs: Htlc[] = Array.from({ length: 20 }, (_, i) => ({
  direction: i % 2 ? 'offered' : 'received', amountMsat: BigInt(100_000_000 + i * 1000), paymentHash: createHash('sha256').update(String(i)).digest(), cltvExpiry: 800_000 + i,
}));
const htlcTotal = htlcs.reduce((a, h) => a + h.amountMsat, 0n);
const points = Array.from({ length: 64 }, (_, i) => pointOf(generateFromSeed(sec(9), 2 ** 48 - 1 - i)));
const fundingPrevout: Prevout[] = [{ txid: p.fundingOutpoint.txid, vout: 0, amount: p.fundingSatoshis, script: channelFundingOutput(p).script }];

// A wallet's walletcreatefundedpsbt answer: two P2WPKH coins, one output back to the wallet (BIP-32-marked).
const walletKey = fromHex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
const walletScript = fromHex('0014751e76e8199196d454941c45d1b3a323f1433bd6');
const path = (i: number) => [[walletKey, { fingerprint: 1, path: [0x80000054, 0x80000001, 0x80000000, 0, i] }]] as [Uint8Array, { fingerprint: number; path: number[] }][];
const wallet = new Transaction({ version: 2 });
for (let i = 0; i < 2; i++) wallet.addInput({ txid: `${i}a`.repeat(32), index: 0, witnessUtxo: { script: walletScript, amount: 100_000n }, bip32Derivation: path(i) });
wallet.addOutput({ script: walletScript, amount: 150_000n, bip32Derivation: path(9) });

const backends: [string, Bolt3Backend | string][] = [['noble', NOBLE]];
try {
  const native = req('secp256k1/bindings.js') as Parameters<typeof nativeBackend>[0] & Parameters<typeof nativeEcdsa>[0];
  backends.push(['native', bolt3Backend(nativeBackend(native), nativeEcdsa(native))]);
} catch (e) {
  backends.push(['native', `not installed: ${(e as Error).message}`]);
}

/** Calls of `one` per CPU-second over `seconds` of wall time (after a warm-up). */
function perCpuSecond(one: () => void, seconds: number): number {
  for (let i = 0; i < 20; i++) one();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    one();
    n++;
  }
  const used = process.cpuUsage(cpu0);
  return n / ((used.user + used.system) / 1e6);
}

const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 3);
console.log(`\nTRUC: a zero-fee commitment with 20 HTLCs + a wallet-funded child, per CPU-second; load average ${loadavg()[0]!.toFixed(1)} at start`);
let k = 0;
const commitment = (backend: Bolt3Backend) => {
  const c = buildCommitment(p, { commitmentNumber: k, perCommitmentPoint: points[k % 64]!, toLocalMsat: 6_000_000_000n - htlcTotal, toRemoteMsat: 4_000_000_000n, feeratePerKw: 0, htlcs }, backend);
  k++;
  return finalizeCommitment(c, signCommitment(c, sec(11), backend), signCommitment(c, sec(21), backend), backend);
};
let finished: { parent: Uint8Array; child: Uint8Array; prevouts: Prevout[] } | undefined;
for (const [name, backend] of backends) {
  if (typeof backend === 'string') {
    console.log(`  ${name.padEnd(15)} ${backend}`);
    continue;
  }
  const rate = perCpuSecond(() => {
    const parent = fromHex(commitment(backend).hex);
    const built = buildChild({ parent, parentPrevouts: fundingPrevout, wallet, feeRate: 5, feeLimits: DEFAULT_FEE_LIMITS, policy: CORE_POLICY });
    if (built.verdict.package.vsize < 1_000 || built.verdict.child.vsize > 1_000) throw new Error('unexpected sizes');
    finished ??= { parent, child: standIn(built.psbt), prevouts: [...fundingPrevout, ...Array.from({ length: 2 }, (_, i) => ({ txid: `${i}a`.repeat(32), vout: 0, amount: 100_000n, script: walletScript }))] };
  }, seconds);
  console.log(`  ${name.padEnd(15)} built+signed+checked ${rate.toFixed(0).padStart(6)}/s`);
}
const f = finished!;
const childOnly = perCpuSecond(() => buildChild({ parent: f.parent, parentPrevouts: fundingPrevout, wallet, feeRate: 5, feeLimits: DEFAULT_FEE_LIMITS, policy: CORE_POLICY }), seconds);
console.log(`  ${'(any)'.padEnd(15)} child built+checked  ${childOnly.toFixed(0).padStart(6)}/s   (the parent given)`);
const checked = perCpuSecond(() => checkTrucPackage(f.parent, f.child, f.prevouts), seconds);
console.log(`  ${'(any)'.padEnd(15)} checked only         ${checked.toFixed(0).padStart(6)}/s`);
console.log(`  load average ${loadavg()[0]!.toFixed(1)} at the end`);

/** The child with placeholder witnesses of a signed child's shape (72-byte signature, 33-byte key; the anchor empty). */
function standIn(psbt: Transaction): Uint8Array {
  const t = psbt.clone();
  for (let i = 0; i < t.inputsLength; i++) {
    const script = t.getInput(i).witnessUtxo!.script;
    if (script.length === 4) continue;
    t.updateInput(i, { finalScriptWitness: [new Uint8Array(72), new Uint8Array(33)] }, true);
  }
  return finalizedRaw(t, 'bench child');
}
