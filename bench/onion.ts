/**
 * BOLT 4 onion throughput, in process, per secp256k1 backend, beside its anchor measured
 * in the same run: Electrum (Debian's python3-electrum, ./onion-electrum.py) building and
 * peeling the same onions. Rows: 5-hop build, 20-hop build, peel (one layer of the 5-hop
 * onion at its first hop, payload TLV decoded — what Electrum's process_onion_packet
 * does). Payloads are real TLV hop payloads encoded once by the toolkit
 * (encodeHopPayload) and handed to both sides as bytes, so neither side's encoder is
 * timed. Beside each backend, the same point arithmetic alone (what bounds the row when
 * the rest is small) and its ratio to Electrum: the most the row could reach on that
 * backend. The peel also part by part (µs of CPU per peel): E's decoding, (a) the ECDH by the
 * node key (constant time; beside it, the same at variable time as Electrum's get_ecdh computes it,
 * to show what the constant-time rule costs), (b) b·E (variable time, b is public), (c) everything else (the
 * same peel with the point work answered from memory), beside Electrum's whole peel and its
 * two curve calls — and what (c) may cost for 2×. The 20-hop build too: 20 ECDH, 18 k·G and the
 * rest (the build with those answered from memory), beside Electrum's 20 get_ecdh, 20 e·G and
 * its rest. Backends: noble, native, and libsecp256k1 (the system's
 * library) where the tree has it. Rounds interleave ours and Electrum's; each figure is the median of the rounds,
 * per CPU-second (and per wall-second), with the load average. Before timing, the packets
 * (and the peeled next packet) are compared byte for byte with Electrum's. Printed, never
 * asserted.
 * Run: node --import tsx bench/onion.ts [seconds per measurement] (BENCH_ROUNDS, default 3;
 * BENCH_ELECTRUM_PYTHON, default /usr/bin/python3; BENCH_BACKENDS, a comma list; BENCH_WARMUP, calls before each clock, 20).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { loadBackend } from '../src/lib/musig/engine/select.ts';
import type { BackendName, Secp256k1Backend } from '../src/lib/musig/engine/backend.ts';
import { buildOnion, peelOnion } from '../src/lib/onion/sphinx.ts';
import { sharedSecret, sharedSecretOf } from '../src/lib/onion/ecdh.ts';
import { reportRow } from './rows.mjs';
import { decodeHopPayload, encodeHopPayload } from '../src/lib/onion/payload.ts';
import { toHex } from '../src/lib/bytes.ts';
import { sha256 } from '../src/lib/hash.ts';

const here = dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 1);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const python = process.env.BENCH_ELECTRUM_PYTHON ?? '/usr/bin/python3';
/** Calls of each timed function before its clock starts (BENCH_WARMUP). */
const warmup = Number(process.env.BENCH_WARMUP ?? 20);

type Rate = { cpu: number; wall: number };
function rate(fn: () => void): Rate {
  for (let i = 0; i < warmup; i++) fn();
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    fn();
    n++;
  }
  const c = process.cpuUsage(c0);
  return { cpu: n / ((c.user + c.system) / 1e6), wall: n / ((performance.now() - t0) / 1000) };
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const sks = Array.from({ length: 20 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 1 : i + 2)));
const pubkeys = sks.map((sk) => secp256k1.getPublicKey(sk, true));
// Forwarding hops: amount, CLTV, next channel; the last hop of each route: amount, CLTV, payment_data.
const forward = (i: number) => encodeHopPayload({ amt_to_forward: 1_000_000n + BigInt(i) * 1000n, outgoing_cltv_value: 800_000 + 40 * i, short_channel_id: `${700_000 + i}x${i + 1}x${i % 3}` });
const last = (i: number) => encodeHopPayload({ amt_to_forward: 1_000_000n, outgoing_cltv_value: 800_000 + 40 * i, payment_data: { payment_secret: new Uint8Array(32).fill(0x5e), total_msat: 1_000_000n } });
const route = (n: number) => Array.from({ length: n }, (_, i) => ({ pubkey: pubkeys[i]!, payload: i === n - 1 ? last(i) : forward(i) }));
const hops5 = route(5);
const hops20 = route(20);
const session = new Uint8Array(32).fill(0x41);
const ad = new Uint8Array(32).fill(0x42);

type PeelParts = { ecdh: number; blinding: number; tweak_mul: number; pubkey: number };
type Electrum = { version: string; packet5: string; packet20: string; next5: string; final5: boolean; payload5_fields: string[]; rates: { build5: Rate; build20: Rate; peel: Rate }; peel_parts: PeelParts };
function electrum(): Electrum | string {
  const req = { seconds, session: toHex(session), ad: toHex(ad), node_key: toHex(sks[0]!), pubkeys: pubkeys.map(toHex), payloads5: hops5.map((h) => toHex(h.payload)), payloads20: hops20.map((h) => toHex(h.payload)) };
  const r = spawnSync(python, [join(here, 'onion-electrum.py')], { input: JSON.stringify(req), encoding: 'utf8' });
  if (r.status !== 0) return `${python} onion-electrum.py: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout) as Electrum;
}

const only = process.env.BENCH_BACKENDS?.split(',');
const names = (['noble', 'native', 'libsecp256k1'] as BackendName[]).filter((n) => !only || only.includes(n));
const ecs = new Map<BackendName, Secp256k1Backend<unknown>>();
for (const name of names) {
  const ec = await loadBackend(name).catch((e: Error) => e);
  if (ec instanceof Error) console.log(`  ${name}: not installed (${ec.message})`);
  else ecs.set(name, ec as Secp256k1Backend<unknown>);
}

const load0 = loadavg();
console.log(`\nBOLT 4 onions: ${cpus().length} cores, load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start; ${rounds} rounds of ${seconds} s per figure, medians`);

// Bytes first: each backend's packets against Electrum's (same session key, same payload bytes).
const first = electrum();
if (typeof first === 'string') console.log(`  Electrum: not measured (${first}); install Debian's python3-electrum`);
else {
  for (const [name, ec] of ecs) {
    const p5 = toHex(buildOnion(ec, session, hops5, ad).packet);
    const p20 = toHex(buildOnion(ec, session, hops20, ad).packet);
    const next = peelOnion(ec, sks[0]!, buildOnion(ec, session, hops5, ad).packet, ad).nextPacket;
    const same = p5 === first.packet5 && p20 === first.packet20 && next !== undefined && toHex(next) === first.next5;
    console.log(`  ${name}: 5-hop and 20-hop packets and the peeled next packet ${same ? 'identical to' : 'DIFFER FROM'} Electrum ${first.version}'s`);
  }
}

const ours = new Map<BackendName, { build5: Rate[]; build20: Rate[]; peel: Rate[] }>();
// The point arithmetic alone, as sphinx.ts calls it: per hop of a build the ECDH (SHA256
// of the shared point; the node ids decoded once, sphinx.ts keeps them), and k·G for
// E_0 … E_{n−2}; per peel a decode of E, the ECDH and the next ephemeral key b·E.
const floor = new Map<BackendName, { build5: Rate[]; build20: Rate[]; peel: Rate[] }>();
const k41 = 0x4141414141414141414141414141414141414141414141414141414141414141n;
const k41Bytes = new Uint8Array(32).fill(0x41);
const ecOnly = <P>(ec: Secp256k1Backend<P>, n: number) => {
  const points = pubkeys.slice(0, n).map((pk) => ec.pointFromBytes(pk)!);
  return () => {
    for (let i = 0; i < n; i++) {
      sharedSecret(ec, points[i]!, k41Bytes);
      if (i < n - 1) ec.pointToBytes(ec.mulBase(k41)!);
    }
  };
};
const theirs: { build5: Rate[]; build20: Rate[]; peel: Rate[] } = { build5: [], build20: [], peel: [] };
const theirParts: PeelParts[] = [];
// The peel in parts, µs of CPU per peel: (a) the shared secret (constant-time ECDH by the
// node key), (b) the next ephemeral key b·E (variable time: b is public) compressed, and
// (c) everything else — the same peel + payload decode with the point work answered from
// memory (E decoded, ss and b·E computed once): HMAC, ChaCha20, key derivations, the
// blinding factor's hash, copies, the TLV decode. E's decoding (a square root) apart.
// Beside (a), the same shared secret as Electrum computes it (get_ecdh: the backend's
// variable-time k·P, compressed, hashed): never the toolkit's way with a secret key, measured
// only to show what the constant-time rule costs the row (the peel's ceiling with it).
type Parts = { decodeE: number[]; ecdh: number[]; ecdhVar: number[]; blinding: number[]; rest: number[] };
const parts = new Map<BackendName, Parts>();
// The 20-hop build in parts, µs of CPU per build: 20 ECDH by the session key chain (constant
// time), 18 E_i = e_i·G compressed, and the rest — the same build with those answered from
// memory (filler, layers, ChaCha20, HMACs, key derivations, blinding factors, e_{i+1}).
type BuildParts = { ecdh: number[]; kG: number[]; rest: number[] };
const buildParts = new Map<BackendName, BuildParts>();
const cpuMicros = (fn: () => void) => 1e6 / rate(fn).cpu;
for (let r = 0; r < rounds; r++) {
  for (const [name, ec] of ecs) {
    const row = ours.get(name) ?? { build5: [], build20: [], peel: [] };
    ours.set(name, row);
    const packet = buildOnion(ec, session, hops5, ad).packet;
    row.build5.push(rate(() => buildOnion(ec, session, hops5, ad)));
    row.build20.push(rate(() => buildOnion(ec, session, hops20, ad)));
    row.peel.push(rate(() => decodeHopPayload(peelOnion(ec, sks[0]!, packet, ad).payload)));
    const f = floor.get(name) ?? { build5: [], build20: [], peel: [] };
    floor.set(name, f);
    f.build5.push(rate(ecOnly(ec, 5)));
    f.build20.push(rate(ecOnly(ec, 20)));
    const E = packet.subarray(1, 34);
    f.peel.push(rate(() => {
      const P = ec.pointFromBytes(E)!;
      sharedSecret(ec, P, k41Bytes);
      ec.pointToBytes(ec.mul(P, k41)!);
    }));
    const part = parts.get(name) ?? { decodeE: [], ecdh: [], ecdhVar: [], blinding: [], rest: [] };
    parts.set(name, part);
    const P = ec.pointFromBytes(E)!;
    const ss = sharedSecret(ec, P, sks[0]!);
    const b = BigInt(`0x${toHex(sha256(E, ss))}`) % secp256k1.Point.CURVE().n;
    const next = ec.pointFromBytes(peelOnion(ec, sks[0]!, packet, ad).nextPacket!.subarray(1, 34))!;
    const answered: Secp256k1Backend<unknown> = { ...ec, pointFromBytes: () => P, ecdhSha256: () => ss, mulSecret: undefined, mul: () => next };
    part.decodeE.push(cpuMicros(() => ec.pointFromBytes(E)));
    part.ecdh.push(cpuMicros(() => sharedSecret(ec, P, sks[0]!)));
    const node = BigInt(`0x${toHex(sks[0]!)}`);
    if (toHex(sha256(ec.pointToBytes(ec.mul(P, node)!))) !== toHex(ss)) throw new Error(`${name}: the variable-time ECDH does not give the shared secret`);
    part.ecdhVar.push(cpuMicros(() => sha256(ec.pointToBytes(ec.mul(P, node)!))));
    part.blinding.push(cpuMicros(() => ec.pointToBytes(ec.mul(P, b)!)));
    part.rest.push(cpuMicros(() => decodeHopPayload(peelOnion(answered, sks[0]!, packet, ad).payload)));
    const bp = buildParts.get(name) ?? { ecdh: [], kG: [], rest: [] };
    buildParts.set(name, bp);
    const P1 = ec.pointFromBytes(pubkeys[1]!)!;
    const G1 = ec.mulBase(k41)!;
    const ss1 = sharedSecretOf(ec, P1, k41);
    const memo: Secp256k1Backend<unknown> = { ...ec, ecdhSha256: () => ss1, mulSecret: undefined, mulBase: () => G1 };
    bp.ecdh.push(20 * cpuMicros(() => sharedSecretOf(ec, P1, k41)));
    bp.kG.push(18 * cpuMicros(() => ec.pointToBytes(ec.mulBase(k41)!)));
    bp.rest.push(cpuMicros(() => buildOnion(memo, session, hops20, ad)));
  }
  const e = r === 0 || typeof first === 'string' ? first : electrum();
  if (typeof e !== 'string') {
    for (const k of ['build5', 'build20', 'peel'] as const) theirs[k].push(e.rates[k]);
    theirParts.push(e.peel_parts);
  }
}

const med = (rs: Rate[], k: keyof Rate) => median(rs.map((x) => x[k]));
const cell = (rs: Rate[], anchor: Rate[]) => {
  const cpu = med(rs, 'cpu');
  const ratio = anchor.length ? ` ${(cpu / med(anchor, 'cpu')).toFixed(2)}×` : '';
  return `${cpu.toFixed(0).padStart(7)} (${med(rs, 'wall').toFixed(0).padStart(6)})${ratio.padStart(7)}`;
};
console.log('  per CPU-second (per wall-second) and × Electrum per CPU-second');
console.log('  '.padEnd(18) + '5-hop build'.padStart(23) + '20-hop build'.padStart(24) + 'peel'.padStart(24));
if (theirs.build5.length)
  console.log(`  ${'Electrum'.padEnd(16)}${cell(theirs.build5, []).padStart(16)}${cell(theirs.build20, []).padStart(24)}${cell(theirs.peel, []).padStart(24)}`);
for (const [name, row] of ours)
  console.log(`  ${name.padEnd(16)}${cell(row.build5, theirs.build5).padStart(23)}${cell(row.build20, theirs.build20).padStart(24)}${cell(row.peel, theirs.peel).padStart(24)}`);
console.log('  the point arithmetic alone (the same calls, nothing else), per CPU-second, × Electrum (the ceiling), and the share of it reached:');
for (const [name, f] of floor) {
  const row = ours.get(name)!;
  const share = (k: 'build5' | 'build20' | 'peel') => {
    const ceiling = theirs[k].length ? `${(med(f[k], 'cpu') / med(theirs[k], 'cpu')).toFixed(2)}×` : '';
    return `${med(f[k], 'cpu').toFixed(0).padStart(7)} ${ceiling.padStart(6)} ${((100 * med(row[k], 'cpu')) / med(f[k], 'cpu')).toFixed(0).padStart(3)}%`;
  };
  console.log(`  ${name.padEnd(16)}${share('build5').padStart(23)}${share('build20').padStart(24)}${share('peel').padStart(24)}`);
}
// The peel part by part, µs of CPU per peel (medians), against Electrum's whole peel and its two curve calls.
const us = (xs: number[]) => median(xs).toFixed(1).padStart(6);
if (theirParts.length) {
  const total = 1e6 / med(theirs.peel, 'cpu');
  console.log(`  the peel in parts, µs of CPU per peel: Electrum ${total.toFixed(1)} in all, of which get_ecdh ${us(theirParts.map((p) => p.ecdh))}, b·E ${us(theirParts.map((p) => p.blinding))} (libsecp256k1's tweak_mul alone ${us(theirParts.map((p) => p.tweak_mul))})`);
}
console.log('  '.padEnd(18) + 'decode E'.padStart(9) + '(a) ECDH'.padStart(10) + '(b) b·E'.padStart(10) + '(c) rest'.padStart(10) + 'sum'.padStart(8) + 'whole'.padStart(8) + '× at (c) = 0'.padStart(14) + '(c) for 2×'.padStart(12));
for (const [name, p] of parts) {
  const curve = median(p.decodeE) + median(p.ecdh) + median(p.blinding);
  const whole = 1e6 / med(ours.get(name)!.peel, 'cpu');
  const electrumPeel = theirs.peel.length ? 1e6 / med(theirs.peel, 'cpu') : NaN;
  // The most (c) may cost for the row to reach 2× with the curve work as measured.
  const budget = electrumPeel / 2 - curve;
  console.log(`  ${name.padEnd(16)}${us(p.decodeE).padStart(9)}${us(p.ecdh).padStart(10)}${us(p.blinding).padStart(10)}${us(p.rest).padStart(10)}${(curve + median(p.rest)).toFixed(1).padStart(8)}${whole.toFixed(1).padStart(8)}${`${(electrumPeel / curve).toFixed(2)}×`.padStart(14)}${budget.toFixed(1).padStart(12)}`);
  const varCurve = curve - median(p.ecdh) + median(p.ecdhVar);
  console.log(`  ${''.padEnd(16)}(a) at variable time, as Electrum's get_ecdh (not the toolkit's way): ${us(p.ecdhVar).trim()} µs; the ceiling with it ${`${(electrumPeel / varCurve).toFixed(2)}×`}, (c) for 2× ${(electrumPeel / 2 - varCurve).toFixed(1)}`);
}
if (theirParts.length) {
  const p = (k: keyof PeelParts) => median(theirParts.map((x) => x[k]));
  const total = 1e6 / med(theirs.build20, 'cpu');
  console.log(`  the 20-hop build in parts, µs of CPU per build: Electrum ${total.toFixed(0)} in all, of which 20 get_ecdh ${(20 * p('ecdh')).toFixed(0)}, 20 e_i·G ${(20 * p('pubkey')).toFixed(0)}, rest ${(total - 20 * p('ecdh') - 20 * p('pubkey')).toFixed(0)}`);
}
console.log('  '.padEnd(18) + '20 ECDH'.padStart(9) + '18 k·G'.padStart(9) + 'rest'.padStart(9) + 'sum'.padStart(8) + 'whole'.padStart(8) + '× at rest = 0'.padStart(15) + 'rest for 2×'.padStart(13));
for (const [name, p] of buildParts) {
  const curve = median(p.ecdh) + median(p.kG);
  const whole = 1e6 / med(ours.get(name)!.build20, 'cpu');
  const electrum20 = theirs.build20.length ? 1e6 / med(theirs.build20, 'cpu') : NaN;
  const f = (x: number) => x.toFixed(0);
  console.log(`  ${name.padEnd(16)}${f(median(p.ecdh)).padStart(9)}${f(median(p.kG)).padStart(9)}${f(median(p.rest)).padStart(9)}${f(curve + median(p.rest)).padStart(8)}${f(whole).padStart(8)}${`${(electrum20 / curve).toFixed(2)}×`.padStart(15)}${f(electrum20 / 2 - curve).padStart(13)}`);
}
console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);

// Issue 40's rows (bench/rows.mjs): each libsecp256k1 backend's three figures beside Electrum's in the same rounds.
// Without Electrum the rows are still reported, their anchor "not measured" and their target unmet,
// so `npm run bench -- --readme` never drops them from the README's table unnoticed.
const LABEL = { build5: '5-hop build', build20: '20-hop build', peel: 'peel + payload decode' } as const;
{
  const measured = theirs.build5.length > 0;
  for (const name of ['libsecp256k1', 'native'] as const) {
    const row = ours.get(name);
    if (!row) continue;
    for (const k of ['build5', 'build20', 'peel'] as const) {
      const ratios = row[k].map((x, i) => x.cpu / (theirs[k][i]?.cpu ?? NaN));
      reportRow({
        id: `onion/${k}/${name}`,
        label: `onion ${LABEL[k]}, ${name}, per CPU-second`,
        value: med(row[k], 'cpu'),
        unit: '/CPU-s',
        wall: med(row[k], 'wall'),
        range: [Math.min(...row[k].map((x) => x.cpu)), Math.max(...row[k].map((x) => x.cpu))],
        anchor: typeof first === 'string'
          ? { label: 'Electrum, not measured (Debian\'s python3-electrum absent)', value: NaN }
          : { label: `Electrum ${first.version}`, value: med(theirs[k], 'cpu') },
        ratio: measured ? med(row[k], 'cpu') / med(theirs[k], 'cpu') : NaN,
        ratioRange: measured ? [Math.min(...ratios), Math.max(...ratios)] : undefined,
        target: { on: 'ratio', atLeast: 2 },
        ...(measured && floor.get(name) ? { bound: `its point arithmetic alone (the same curve calls, nothing else): ${(med(floor.get(name)![k], 'cpu') / med(theirs[k], 'cpu')).toFixed(2)}× Electrum` } : {}),
        note: `${rounds} rounds`,
      });
    }
  }
}
