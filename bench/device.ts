/**
 * `npm run bench`, the IoT device (issue 27 item 4): the device's CPU time per step in
 * pure JS — the noble backend, the default (../src/lib/musig/engine/select.ts; a device
 * cannot load native add-ons) — for `pay` (BOLT 11 decode and signature check, policy,
 * build and DeterministicSign the state with the HTLC), `settle` (preimage check, sign
 * the settled state), `fail` and `receipt`; and the gateway's steps for comparison
 * (in-memory nonces: the protocol, not the disk). The first payment of a fresh process
 * (cold: tables built on first use) is reported apart from the steady state.
 * Run alone: `node --import tsx bench/device.ts [rounds]`.
 */
import { loadavg } from 'node:os';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../src/lib/bytes.ts';
import { termsToJson } from '../src/lib/credit/codec.ts';
import type { DeviceChannel, GatewayChannel } from '../src/lib/credit/ports.ts';
import type { NoncePort } from '../src/lib/musig/nonce-port.ts';
import type { ChainSource } from '../src/lib/chain/types.ts';
import { issueStateNonce } from '../src/lib/credit/signing.ts';
import { makeContract } from '../src/lib/credit/terms.ts';
import * as device from '../src/lib/device/device.ts';
import * as gateway from '../src/lib/device/gateway.ts';
import { type Bolt11Field, bolt11SigningHash, encodeBolt11 } from '../src/lib/invoice/bolt11.ts';
import { keyPair } from '../src/lib/keys/keys.ts';
import { deterministicRandom } from '../src/lib/random.ts';
import { taprootOutput } from '../src/lib/taproot/taproot.ts';

const rounds = Number(process.argv[2] ?? process.env.BENCH_ROUNDS ?? 20);
const GATEWAY = keyPair(Uint8Array.from(Buffer.alloc(32, 0xa1)));
const DEVICE = keyPair(Uint8Array.from(Buffer.alloc(32, 0xb2)));
const PAYEE_KEY = Uint8Array.from(Buffer.alloc(32, 0x42));

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
      return unused.has(toHex(pubnonce)) ? 'unused' : 'unknown';
    },
  };
}

const preimage = (k: number) => sha256(Uint8Array.from(Buffer.from(`bench ${k}`)));
function invoice(k: number, msat: bigint, now: number): string {
  const hrp = `lnbcrt${msat * 10n}p`;
  const fields: Bolt11Field[] = [
    { tag: 1, name: 'payment_hash', bytes: sha256(preimage(k)) },
    { tag: 16, name: 'payment_secret', bytes: Uint8Array.from(Buffer.alloc(32, 0x11)) },
    { tag: 13, name: 'description', text: `toll ${k}` },
  ];
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(bolt11SigningHash(hrp, now - 10, fields), PAYEE_KEY, { prehash: false, format: 'recovered' }), 'recovered');
  const rs = Uint8Array.from(Buffer.from(sig.r.toString(16).padStart(64, '0') + sig.s.toString(16).padStart(64, '0'), 'hex'));
  return encodeBolt11({ hrp, timestamp: now - 10, fields, signature: rs, recoveryId: sig.recovery! });
}

const cpuMs = <T>(f: () => T) => {
  const t = process.cpuUsage();
  const r = f();
  const d = process.cpuUsage(t);
  return { ms: (d.user + d.system) / 1000, r };
};
const cpuMsAsync = async <T>(f: () => Promise<T>) => {
  const t = process.cpuUsage();
  const r = await f();
  const d = process.cpuUsage(t);
  return { ms: (d.user + d.system) / 1000, r };
};

async function main() {
  const now = Math.floor(Date.now() / 1000);
  const script = (k: number) => taprootOutput(keyPair(Uint8Array.from(Buffer.alloc(32, 0xc0 + k))).xOnly).script;
  const c = makeContract({
    network: 'regtest', userPubkey: DEVICE.publicKey, mintPubkey: GATEWAY.publicKey, capacity: 10_000_000n, funding: { txid: 'ab'.repeat(32), vout: 0 },
    expiryHeight: 10_000, refundScript: script(1), changeScript: script(2), payoutScript: script(3), feeRate: 2,
  });
  const nonces = memoryNonces();
  const random = deterministicRandom('bench-device');
  const chain = {
    kind: 'offline' as const,
    tip: async () => ({ height: 1000, medianTimePast: 0 }),
    utxo: async () => ({ txid: c.funding.txid, vout: 0, value: c.capacity, scriptPubKey: c.script, confirmations: 6 }),
  } as unknown as ChainSource;
  const gctx = { gateway: GATEWAY, nonces, random, chain, policy: { safety_margin_blocks: 144, min_confirmations: 1 }, terms: { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 72, min_fee_rate: 1, claim_margin_blocks: 36 } };
  const policy = { max_payment_msat: 50_000_000, max_daily_msat: 1e12, max_fee_base_msat: 1000, max_fee_ppm: 5000, allowed_payees: 'any' as const, htlc_expiry_blocks: 144, claim_margin_blocks: 36 };
  let d: DeviceChannel = { network: 'regtest', contract_id: c.id, contract: termsToJson(c), state: 0, settled_sat: 0, gateway_nonce: await issueStateNonce(nonces, random, GATEWAY, c, 1), paid: [], day: { date: '', spent_msat: '0' } };
  let g: GatewayChannel = { network: 'regtest', contract_id: c.id, contract: termsToJson(c), next_state: 1, settled_sat: 0 };
  const times: Record<string, number[]> = { 'device pay': [], 'device settle': [], 'device fail': [], 'device receipt': [], 'gateway pay': [], 'gateway settle': [], 'gateway fail': [], 'gateway complete': [] };
  let cold = 0;
  const invoices = Array.from({ length: rounds + 1 }, (_, k) => invoice(k, 1_000_000n + BigInt(k) * 1000n, now));
  for (let k = 0; k <= rounds; k++) {
    const ok = k % 4 !== 3;
    const p = cpuMs(() => device.pay(d, DEVICE, { invoice: invoices[k]!, policy, gateway: gctx.terms, now, tip: 1000 }));
    if (k === 0) cold = p.ms;
    else times['device pay']!.push(p.ms);
    d = p.r.record;
    const gp = await cpuMsAsync(() => gateway.pay(gctx, g, p.r.message as never, now));
    g = gp.r.record;
    const notice = await cpuMsAsync(() => (ok ? gateway.settle(gctx, g, preimage(k)) : gateway.fail(gctx, g, toHex(sha256(preimage(k))))));
    g = notice.r.record;
    const s = cpuMs(() => (ok ? device.settle(d, DEVICE, notice.r.message as never) : device.fail(d, DEVICE, notice.r.message as never)));
    d = s.r.record;
    const done = await cpuMsAsync(() => gateway.completeStep(gctx, g, s.r.message as never));
    g = done.r.record;
    const rc = cpuMs(() => device.receipt(d, done.r.message as never));
    d = rc.r;
    if (k === 0) continue;
    times['gateway pay']!.push(gp.ms);
    times[ok ? 'gateway settle' : 'gateway fail']!.push(notice.ms);
    times[ok ? 'device settle' : 'device fail']!.push(s.ms);
    times['gateway complete']!.push(done.ms);
    times['device receipt']!.push(rc.ms);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  console.log(`device ↔ gateway, noble (pure JS) backend, ${rounds} payments after a cold first one; CPU ms per step (median, max)`);
  console.log(`  device pay, cold (first in the process)  ${cold.toFixed(1)}`);
  for (const [name, xs] of Object.entries(times)) console.log(`  ${name.padEnd(40)} ${median(xs).toFixed(1)}  ${Math.max(...xs).toFixed(1)}  (n=${xs.length})`);
  console.log(`  settled ${d.settled_sat} sat over ${d.paid.length} settled payments; load average ${loadavg()[0]!.toFixed(1)} at the end`);
}

void main();
