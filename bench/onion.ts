/**
 * BOLT 4 onion throughput, in process, per secp256k1 backend: 5-hop and 20-hop builds
 * per second and single-layer peels per second (route of 5 hops, 30-byte
 * payloads), plus the symmetric part of one peel (ChaCha20 over 2.6 kB + HMAC-SHA256
 * over 1.3 kB) on node:crypto, and HMAC on node:crypto vs @noble/hashes. Printed, never asserted.
 * Anchor (issue 8): Electrum 4.3.4 on this machine: 5-hop build ~800/s, 20-hop ~144/s, peel ~5,500/s.
 * Run: node --import tsx bench/onion.ts
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { loadBackend } from '../src/lib/musig/engine/select.ts';
import type { BackendName } from '../src/lib/musig/engine/backend.ts';
import { buildOnion, peelOnion } from '../src/lib/onion/sphinx.ts';
import { cipherStream, hmacSha256 } from '../src/lib/onion/crypto.ts';

function rate(fn: () => void, seconds = 1.5): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

const sks = Array.from({ length: 20 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 1 : i + 2)));
const hops = sks.map((sk) => ({ pubkey: secp256k1.getPublicKey(sk, true), payload: new Uint8Array(30).fill(7) }));
const session = new Uint8Array(32).fill(0x41);
const ad = new Uint8Array(32).fill(0x42);

console.log('\nBOLT 4 onions, per second (anchor Electrum 4.3.4: 5-hop build ~800, 20-hop build ~144, peel ~5,500)');
console.log('  backend'.padEnd(20) + '5-hop builds'.padStart(14) + '20-hop builds'.padStart(15) + 'peels'.padStart(10));
for (const name of ['noble', 'tiny-secp256k1', 'native'] as BackendName[]) {
  const ec = await loadBackend(name).catch((e: Error) => e);
  if (ec instanceof Error) {
    console.log(`  ${name}: not installed (${ec.message})`);
    continue;
  }
  const five = hops.slice(0, 5);
  const b5 = rate(() => buildOnion(ec, session, five, ad));
  const b20 = rate(() => buildOnion(ec, session, hops, ad));
  const { packet } = buildOnion(ec, session, five, ad);
  const p = rate(() => peelOnion(ec, sks[0]!, packet, ad));
  console.log(`  ${name.padEnd(18)}${b5.toFixed(0).padStart(14)}${b20.toFixed(0).padStart(15)}${p.toFixed(0).padStart(10)}`);
}
const key = new Uint8Array(32).fill(3);
const buf = new Uint8Array(1300);
const nodeSym = rate(() => { cipherStream(key, 2600); hmacSha256(key, buf, ad); });
const nodeHmac = rate(() => hmacSha256(key, buf, ad));
const nobleHmac = rate(() => hmac(sha256, key, new Uint8Array([...buf, ...ad])));
console.log(`  symmetric part of one peel (ChaCha20 2.6 kB + HMAC 1.3 kB) on node:crypto: ${nodeSym.toFixed(0)}/s`);
console.log(`  HMAC-SHA256 over 1.3 kB: node:crypto ${nodeHmac.toFixed(0)}/s, @noble/hashes ${nobleHmac.toFixed(0)}/s (@noble/ciphers is not a dependency: pure-JS ChaCha20 not measured)`);
