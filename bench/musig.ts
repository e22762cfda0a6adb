/**
 * In-process MuSig2 timings (bundled to dist/bench.js by the build so they measure the
 * shipped code):
 * - `benchMusigSigning`: one complete two-party key-path signing of a PSBT input,
 *   phase by phase, on whichever engine src/lib/musig/bip327.ts is using;
 * - `benchMusigBackends`: per engine (noble, native, libsecp256k1, reference), that
 *   PSBT signing, the same two-party signing on the BIP-327 API alone, and the mint's
 *   per-update work in a credit channel.
 */
import { Transaction } from '@scure/btc-signer';
import { keyPair, type KeyPair } from '../src/lib/keys/keys.ts';
import { musigKey } from '../src/lib/musig/keyagg.ts';
import {
  setMusigParticipants, readMusigInput, musigNonceGen, addPubNonce, musigPartialSign, aggregateMusigInput,
} from '../src/lib/musig/psbt-keypath.ts';
import { Session, adapt, bip340Verify, extractAdaptor, keyAgg, keySort, nonceAgg, nonceGen, verifyPreSignature } from '../src/lib/musig/bip327.ts';
import { activeEngine, loadEngine, useEngine, type BackendUnavailableError } from '../src/lib/musig/engine/select.ts';
import type { EngineName } from '../src/lib/musig/engine/engine.ts';
import { referenceEngine } from '../src/lib/musig/engine/reference.ts';
import { tapTweak } from '../src/lib/taproot/taproot.ts';
import { equalBytes, fromHex, utf8 } from '../src/lib/bytes.ts';

export async function benchMusigSigning(opts: { seconds: number }) {
  const alice = keyPair(fromHex('11'.repeat(32)));
  const bob = keyPair(fromHex('22'.repeat(32)));
  const key = musigKey([alice.publicKey, bob.publicKey]);
  const phases: Record<string, number> = {};
  const timed = <T>(name: string, fn: () => T): T => {
    const t0 = performance.now();
    const out = fn();
    phases[name] = (phases[name] ?? 0) + performance.now() - t0;
    return out;
  };
  const rand = new Uint8Array(32);
  let signings = 0;
  const start = performance.now();
  while (performance.now() - start < opts.seconds * 1000) {
    rand[0] = signings & 0xff;
    rand[1] = (signings >> 8) & 0xff;
    const tx = timed('build PSBT', () => {
      const t = new Transaction({ version: 2 });
      t.addInput({ txid: 'aa'.repeat(32), index: signings % 1000, witnessUtxo: { script: key.output.script, amount: 100_000n } });
      t.addOutput({ script: fromHex('0014' + '33'.repeat(20)), amount: 99_000n });
      return t;
    });
    timed('KeyAgg + set participants', () => setMusigParticipants(tx, 0, [alice.publicKey, bob.publicKey]));
    const input = timed('read input + sighash', () => readMusigInput(tx, 0));
    const na = timed('NonceGen ×2', () => musigNonceGen(input, alice, rand, utf8('bench')));
    const nb = timed('NonceGen ×2', () => musigNonceGen(input, bob, rand, utf8('bench')));
    timed('add public nonces', () => {
      addPubNonce(tx, input, alice.publicKey, na.pubnonce);
      addPubNonce(tx, input, bob.publicKey, nb.pubnonce);
    });
    timed('Sign ×2 (with self-verify)', () => {
      musigPartialSign(tx, input, alice, na.secnonce);
      musigPartialSign(tx, input, bob, nb.secnonce);
    });
    timed('verify psigs + aggregate + check', () => aggregateMusigInput(tx, input));
    timed('finalize + extract', () => {
      tx.finalizeIdx(0);
      tx.extract();
    });
    signings++;
  }
  return { signings, seconds: (performance.now() - start) / 1000, phases };
}

/**
 * CPU seconds this process used while `fn` ran. The machine is shared (2 cores, other
 * work running), so rates are per CPU-second of ours, not per wall-clock second.
 */
async function cpuSeconds<T>(fn: () => T | Promise<T>): Promise<{ out: T; cpu: number }> {
  const before = process.cpuUsage();
  const out = await fn();
  const used = process.cpuUsage(before);
  return { out, cpu: (used.user + used.system) / 1e6 };
}

/** Repeat `step` for about `seconds` of wall time; returns steps per CPU-second. */
async function rate(seconds: number, step: (i: number) => void): Promise<number> {
  const { out: n, cpu } = await cpuSeconds(() => {
    let i = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) step(i++);
    return i;
  });
  return n / cpu;
}

const counter = (i: number) => Uint8Array.of(i >> 24, i >> 16, i >> 8, i, ...new Uint8Array(28));

/**
 * A credit channel's 2-of-2 taproot key (the user and the mint), as the mint holds it:
 * keys sorted, KeyAgg done, output key tweaked by BIP-341 with no script tree.
 */
function channel(user: KeyPair, mint: KeyPair) {
  const pubkeys = keySort([user.publicKey, mint.publicKey]);
  const tweaks = [tapTweak(keyAgg(pubkeys).xOnly)];
  const isXonly = [true];
  const outputKey = keyAgg(pubkeys, tweaks, isXonly).xOnly;
  const userIndex = pubkeys.findIndex((p) => equalBytes(p, user.publicKey));
  return { pubkeys, tweaks, isXonly, outputKey, userIndex };
}

/** Two-party key-path signing on the BIP-327 API alone: both parties' work, KeyAgg cached. */
function engineSigningRate(seconds: number): Promise<number> {
  const alice = keyPair(fromHex('11'.repeat(32)));
  const bob = keyPair(fromHex('22'.repeat(32)));
  return rate(seconds, (i) => {
    const ch = channel(alice, bob);
    const msg = counter(i);
    const parties = ch.userIndex === 0 ? [alice, bob] : [bob, alice];
    const nonces = parties.map((p) => nonceGen(p.publicKey, p.secretKey, ch.outputKey, msg, undefined, counter(i)));
    const pubnonces = nonces.map((n) => n.pubnonce);
    const session = new Session({ aggnonce: nonceAgg(pubnonces), pubkeys: ch.pubkeys, tweaks: ch.tweaks, isXonly: ch.isXonly, msg });
    const psigs = parties.map((p, j) => session.sign(nonces[j]!.secnonce, p.secretKey));
    if (!psigs.every((psig, j) => session.partialSigVerify(psig, pubnonces, j))) throw new Error('partial signature does not verify');
    if (!bip340Verify(session.partialSigAgg(psigs), msg, ch.outputKey)) throw new Error('signature does not verify');
  });
}

type UserUpdate = { msg: Uint8Array; pubnonces: Uint8Array[]; userPsig: Uint8Array };
const POOL = 80; // more updates than the engines' NonceAgg cache holds: every NonceAgg is computed
const mintExtraIn = (i: number) => utf8(`credit-channel/bench/update/${i % POOL}`);

/**
 * What the user sends for each of POOL updates (its pubnonce and partial signature over
 * the mint's next pubnonce), made once with the reference engine, outside the timing.
 */
function userUpdates(user: KeyPair, mint: KeyPair): UserUpdate[] {
  const before = activeEngine();
  useEngine(referenceEngine);
  try {
    const ch = channel(user, mint);
    return Array.from({ length: POOL }, (_, i) => {
      const msg = counter(1_000_000 + i);
      const mintNonce = nonceGen(mint.publicKey, mint.secretKey, ch.outputKey, undefined, mintExtraIn(i), counter(i));
      const userNonce = nonceGen(user.publicKey, user.secretKey, ch.outputKey, msg, undefined, counter(i + 7));
      const pubnonces = ch.userIndex === 0 ? [userNonce.pubnonce, mintNonce.pubnonce] : [mintNonce.pubnonce, userNonce.pubnonce];
      const session = new Session({ aggnonce: nonceAgg(pubnonces), pubkeys: ch.pubkeys, tweaks: ch.tweaks, isXonly: ch.isXonly, msg });
      return { msg, pubnonces, userPsig: session.sign(userNonce.secnonce, user.secretKey) };
    });
  } finally {
    useEngine(before);
  }
}

/**
 * The mint's crypto for one channel update, participants fixed: NonceAgg + session,
 * PartialSigVerify(user), Sign(mint) with the secnonce stored last time, PartialSigAgg,
 * BIP-340 Verify against the output key, NonceGen for the next update.
 */
function mintUpdateRate(seconds: number, pool: UserUpdate[], user: KeyPair, mint: KeyPair): Promise<number> {
  const ch = channel(user, mint);
  let secnonce = nonceGen(mint.publicKey, mint.secretKey, ch.outputKey, undefined, mintExtraIn(0), counter(0)).secnonce;
  return rate(seconds, (i) => {
    const u = pool[i % POOL]!;
    const session = new Session({ aggnonce: nonceAgg(u.pubnonces), pubkeys: ch.pubkeys, tweaks: ch.tweaks, isXonly: ch.isXonly, msg: u.msg });
    if (!session.partialSigVerify(u.userPsig, u.pubnonces, ch.userIndex)) throw new Error("the user's partial signature does not verify");
    // As the mint signs (lastSignature): its public key known, no self-check — the BIP-340 Verify below decides.
    const mintPsig = session.sign(secnonce, mint.secretKey, { publicKey: mint.publicKey, selfCheck: false });
    const sig = session.partialSigAgg(ch.userIndex === 0 ? [u.userPsig, mintPsig] : [mintPsig, u.userPsig]);
    if (!bip340Verify(sig, u.msg, ch.outputKey)) throw new Error('the channel signature does not verify');
    secnonce = nonceGen(mint.publicKey, mint.secretKey, ch.outputKey, undefined, mintExtraIn(i + 1), counter((i + 1) % POOL)).secnonce;
  });
}

/** Per CPU-second: PSBT signings (benchMusigSigning), BIP-327-only signings, mint updates. */
export type BackendFigures = { engine: EngineName; psbtSignings: number; engineSignings: number; mintUpdates: number };

/** Run `fn` with each engine selected in turn; engines not installed are listed, not run. */
async function perEngine<R>(engines: readonly EngineName[], fn: (name: EngineName) => Promise<R>): Promise<{ rows: R[]; skipped: string[] }> {
  const before = activeEngine();
  const rows: R[] = [];
  const skipped: string[] = [];
  for (const name of engines) {
    const engine = await loadEngine(name).catch((e: BackendUnavailableError) => e.reason);
    if (typeof engine === 'string') {
      skipped.push(`${name}: ${engine}`);
      continue;
    }
    useEngine(engine);
    try {
      rows.push(await fn(name));
    } finally {
      useEngine(before);
    }
  }
  return { rows, skipped };
}

export async function benchMusigBackends(opts: { seconds: number; engines?: readonly EngineName[] }) {
  const user = keyPair(fromHex('33'.repeat(32)));
  const mint = keyPair(fromHex('44'.repeat(32)));
  const pool = userUpdates(user, mint);
  return perEngine(opts.engines ?? ['noble', 'native', 'libsecp256k1', 'reference'], async (engine): Promise<BackendFigures> => {
    const psbt = await cpuSeconds(() => benchMusigSigning({ seconds: opts.seconds }));
    return {
      engine,
      psbtSignings: psbt.out.signings / psbt.cpu,
      engineSignings: await engineSigningRate(opts.seconds),
      mintUpdates: await mintUpdateRate(opts.seconds, pool, user, mint),
    };
  });
}

/**
 * PTLC adaptor signing per CPU-second, per backend: both parties' nonces, the two partial
 * signatures in the adaptor session (each verified), the pre-signature and its check
 * against T, adapt with t, BIP-340 verify, extract t — one PTLC claim's whole crypto.
 */
export async function benchAdaptorBackends(opts: { seconds: number; engines?: readonly EngineName[] }) {
  const alice = keyPair(fromHex('11'.repeat(32)));
  const bob = keyPair(fromHex('22'.repeat(32)));
  const t = fromHex('25'.repeat(32));
  const T = keyPair(t).publicKey;
  return perEngine(opts.engines ?? ['noble', 'native', 'libsecp256k1'], async (engine) => ({
    engine,
    claims: await rate(opts.seconds, (i) => {
      const ch = channel(alice, bob);
      const msg = counter(i);
      const parties = ch.userIndex === 0 ? [alice, bob] : [bob, alice];
      const nonces = parties.map((p) => nonceGen(p.publicKey, p.secretKey, ch.outputKey, msg, undefined, counter(i)));
      const pubnonces = nonces.map((n) => n.pubnonce);
      const session = new Session({ aggnonce: nonceAgg(pubnonces), pubkeys: ch.pubkeys, tweaks: ch.tweaks, isXonly: ch.isXonly, msg, adaptor: T });
      const psigs = parties.map((p, j) => session.sign(nonces[j]!.secnonce, p.secretKey));
      if (!psigs.every((psig, j) => session.partialSigVerify(psig, pubnonces, j))) throw new Error('partial signature does not verify');
      const pre = session.partialSigAgg(psigs);
      const parity = session.nonceParity();
      if (!verifyPreSignature(pre, parity, T, ch.outputKey, msg)) throw new Error('pre-signature does not verify');
      const sig = adapt(pre, t, parity);
      if (!bip340Verify(sig, msg, ch.outputKey)) throw new Error('adapted signature does not verify');
      if (!equalBytes(extractAdaptor(sig, pre, parity), t)) throw new Error('extract did not return t');
    }),
  }));
}
