/**
 * route-blinding-test.json byte for byte on every backend: creating the blinded route
 * (per hop: path_key, shared secret, rho, encrypted data, blinded node id, and the next
 * hop's path private key unless the vector overrides it), the resulting route, and
 * unblinding at each hop (blinded private key, decrypted data, next path_key).
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadBackend } from '../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../setup/backends.ts';
import type { BackendName } from '../../src/lib/musig/engine/backend.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { blindHop, unblindHop } from '../../src/lib/onion/blinding.ts';

const v = JSON.parse(readFileSync(new URL('./bolts/bolt04/route-blinding-test.json', import.meta.url), 'utf8'));

// Installed or not is decided by test code (../setup/backends.ts); an installed backend the product cannot load fails the file.
const BACKENDS = await Promise.all(ALL_BACKENDS.map((name) => backendUnderTest(name, () => loadBackend(name as BackendName))));

for (const { name, loaded: ec, skipped } of BACKENDS) {
  if (skipped !== undefined) {
    describe.skip(`route blinding on ${name}: SKIPPED, ${skipped}`, () => it('route-blinding-test.json', () => {}));
    continue;
  }
  describe(`route-blinding-test.json on ${name}`, () => {
    it('generate: every hop of the concatenated blinded route', () => {
      const hops = v.generate.hops;
      let next: Uint8Array | undefined;
      hops.forEach((h: Record<string, string>, i: number) => {
        const priv = h.path_privkey !== undefined ? fromHex(h.path_privkey) : next!;
        if (h.path_privkey !== undefined && next !== undefined && !hops[i - 1].tlvs.next_path_key_override) expect(toHex(next)).toBe(h.path_privkey);
        const b = blindHop(ec, priv, fromHex(h.node_id!), fromHex(h.encoded_tlvs!));
        expect(toHex(b.pathKey)).toBe(h.path_key);
        expect(toHex(b.sharedSecret)).toBe(h.shared_secret);
        expect(toHex(b.rho)).toBe(h.rho);
        expect(toHex(b.encryptedData)).toBe(h.encrypted_data);
        expect(toHex(b.blindedNodeId)).toBe(h.blinded_node_id);
        expect(toHex(b.blindedNodeId)).toBe(v.route.hops[i].blinded_node_id);
        expect(toHex(b.encryptedData)).toBe(v.route.hops[i].encrypted_data);
        next = b.nextPathPrivkey;
      });
      expect(v.route.first_path_key).toBe(hops[0].path_key);
    });

    it('unblind: each hop recovers its data, blinded private key and the next path_key', () => {
      v.unblind.hops.forEach((h: Record<string, string>, i: number) => {
        const u = unblindHop(ec, fromHex(h.node_privkey!), fromHex(h.path_key!), fromHex(v.route.hops[i].encrypted_data));
        expect(toHex(u.blindedPrivkey)).toBe(h.blinded_privkey);
        expect(toHex(u.decryptedData)).toBe(h.decrypted_data);
        if (h.next_path_key !== undefined) expect(toHex(u.nextPathKey)).toBe(h.next_path_key);
      });
    });
  });
}

const bp = JSON.parse(readFileSync(new URL('./bolts/bolt04/blinded-payment-onion-test.json', import.meta.url), 'utf8'));

/** TLV records of a stream as [type, value] (test-side walker; single-byte BigSize types/lengths or fd-prefixed). */
function tlvRecords(b: Uint8Array): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  let o = 0;
  const big = () => (b[o] === 0xfd ? ((o += 3), (b[o - 2]! << 8) | b[o - 1]!) : b[o++]!);
  while (o < b.length) {
    const t = big();
    const l = big();
    out.push([t, b.subarray(o, o + l)]);
    o += l;
  }
  return out;
}

for (const { name, loaded: ec, skipped } of BACKENDS) {
if (skipped !== undefined) {
  describe.skip(`blinded payment onion on ${name}: SKIPPED, ${skipped}`, () => it('blinded-payment-onion-test.json', () => {}));
  continue;
}
describe(`blinded-payment-onion-test.json on ${name}`, async () => {
  const { buildOnion, peelOnion } = await import('../../src/lib/onion/sphinx.ts');
  const { decodeBigSize } = await import('../../src/lib/bigsize.ts');
  const { blindedNodePrivkey } = await import('../../src/lib/onion/blinding.ts');
  const strip = (hex: string) => { const b = fromHex(hex); return b.subarray(decodeBigSize(b)[1]); };
  const g = bp.generate;
  const ad = fromHex(g.associated_data);

  it('builds the onion to the partially blinded route byte for byte', () => {
    const hops = g.full_route.hops.map((h: { pubkey: string; payload: string }) => ({ pubkey: fromHex(h.pubkey), payload: strip(h.payload) }));
    expect(toHex(buildOnion(ec, fromHex(g.session_key), hops, ad).packet)).toBe(g.onion);
  });

  it('each hop peels (blinded hops with their blinded private key), decrypts its recipient data and finds the next path_key', () => {
    let packet = fromHex(g.onion);
    let pathKey: Uint8Array | undefined;
    bp.decrypt.hops.forEach((h: { node_privkey: string; onion: string; next_path_key?: string }, i: number) => {
      expect(toHex(packet)).toBe(h.onion);
      const nodeKey = fromHex(h.node_privkey);
      const key = pathKey === undefined ? nodeKey : blindedNodePrivkey(ec, nodeKey, pathKey);
      const peeled = peelOnion(ec, key, packet, ad);
      const recs = new Map(tlvRecords(peeled.payload));
      if (recs.has(12)) pathKey = recs.get(12)!; // current_path_key: the introduction node
      if (h.next_path_key !== undefined) {
        const u = unblindHop(ec, nodeKey, pathKey!, recs.get(10)!);
        const override = new Map(tlvRecords(u.decryptedData)).get(8);
        const next = override ?? u.nextPathKey;
        expect(toHex(next)).toBe(h.next_path_key);
        pathKey = next;
      }
      expect(peeled.final).toBe(i === bp.decrypt.hops.length - 1);
      if (!peeled.final) packet = peeled.nextPacket!;
    });
  });
});
}
