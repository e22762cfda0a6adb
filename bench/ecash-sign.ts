/**
 * The mint's ecash work for one payment with 5 outputs (issue 73 item 1), on each secp256k1
 * backend: the 5 blinded messages B_ decoded (credit/ecash.ts checkOutputs' pointFromBytes),
 * then signOutputs — C_ = k·B_ and its NUT-12 DLEQ proof (r·G, r·B_, hash_e over uncompressed
 * points) — with the backend selected as `serve mint` selects it (useEngine). CPU per payment
 * (process.cpuUsage), medians of the rounds [min–max], the load average beside each row.
 *
 *   node --import tsx bench/ecash-sign.ts [payments per round]     BENCH_BACKENDS=native,noble to pick
 *   (BENCH_ECASH_SIGN_PAYMENTS, BENCH_ROUNDS: the sizes, for the smoke run in test/e2e/bench-smoke.test.ts)
 */
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '../src/lib/bytes.ts';
import { N, bytesToScalar, compressed, mulBase, pointFromBytes } from '../src/lib/ecash/curve.ts';
import { deriveMintKeyset } from '../src/lib/ecash/nut01.ts';
import { signOutputs, type BlindedMessageJson } from '../src/lib/credit/ecash.ts';
import { setBasePointWindow } from '../src/lib/curve.ts';
import { BackendUnavailableError, loadEngine, useEngine } from '../src/lib/musig/engine/select.ts';

const perRound = Number(process.argv[2] ?? process.env.BENCH_ECASH_SIGN_PAYMENTS ?? 25);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'noble,native,libsecp256k1').split(',') as ('noble' | 'native' | 'libsecp256k1')[];
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

setBasePointWindow(8); // as serve mint
const ks = deriveMintKeyset('TEST_PRIVATE_KEY');
const payment = (): BlindedMessageJson[] => [1, 2, 4, 8, 16].map((amount) => ({ amount, id: ks.id, B_: toHex(compressed(mulBase(bytesToScalar(randomBytes(32)) % (N - 1n) + 1n))) }));
const payments = Array.from({ length: perRound * ROUNDS }, payment);

/** What the mint does with one payment's outputs: decode each B_, sign it with its DLEQ. */
function sign(outputs: BlindedMessageJson[]) {
  const points = outputs.map((o, i) => pointFromBytes(fromHex(o.B_), `outputs[${i}].B_`));
  return signOutputs(ks, outputs, points);
}

console.log(`ecash: decode 5 B_ + signOutputs (C_ = k·B_ + NUT-12 DLEQ), CPU ms per payment; ${ROUNDS} rounds of ${perRound}`);
const reference = JSON.stringify(sign(payments[0]!));
for (const name of BACKENDS) {
  let engine;
  try {
    engine = await loadEngine(name);
  } catch (e) {
    console.log(`${name.padEnd(15)} SKIPPED: ${e instanceof BackendUnavailableError ? e.reason : String(e)}`);
    continue;
  }
  useEngine(engine);
  if (JSON.stringify(sign(payments[0]!)) !== reference) throw new Error(`${name} signs other bytes than noble`);
  for (let i = 0; i < 10; i++) sign(payments[i % payments.length]!); // warm-up (also at tiny sizes: a smoke run)
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < perRound; i++) sign(payments[r * perRound + i]!);
    const u = process.cpuUsage(t0);
    rounds.push((u.user + u.system) / 1000 / perRound);
  }
  const f = (x: number) => x.toFixed(3);
  console.log(`${name.padEnd(15)} ${f(median(rounds))} ms [${f(Math.min(...rounds))}–${f(Math.max(...rounds))}]   load ${load()}`);
}
