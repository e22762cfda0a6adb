/**
 * BOLT 4 vectors byte for byte on every secp256k1 backend the project can load:
 * onion-test.json (the whole 1366-byte packet, then each hop's peel giving back its
 * payload, the next packet and finality only at the last hop) and onion-error-test.json
 * (the error packet the final hop creates and the intermediate hops wrap, and the
 * sender's attribution of it to hop 4). Expected values come only from the vector files.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadBackend } from '../../src/lib/musig/engine/select.ts';
import type { BackendName } from '../../src/lib/musig/engine/backend.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { buildOnion, peelOnion } from '../../src/lib/onion/sphinx.ts';
import { decodeBigSize } from '../../src/lib/onion/bigsize.ts';
import { createErrorPacket, wrapError, unwrapError } from '../../src/lib/onion/error.ts';
import { generateKey } from '../../src/lib/onion/crypto.ts';

const dir = new URL('./bolts/bolt04/', import.meta.url);
const onionVec = JSON.parse(readFileSync(new URL('onion-test.json', dir), 'utf8'));
const errorVec = JSON.parse(readFileSync(new URL('onion-error-test.json', dir), 'utf8'));

function stripLength(hex: string): Uint8Array {
  const b = fromHex(hex);
  const [len, prefix] = decodeBigSize(b);
  expect(prefix + Number(len)).toBe(b.length);
  return b.subarray(prefix);
}

const BACKENDS: readonly BackendName[] = ['noble', 'tiny-secp256k1', 'native'];
for (const name of BACKENDS) {
  const ec = await loadBackend(name).catch((e: { reason?: string; message: string }) => e.reason ?? e.message);
  if (typeof ec === 'string') {
    describe.skip(`BOLT 4 vectors on ${name}: SKIPPED, not installed (${ec})`, () => {
      it('onion-test.json, onion-error-test.json', () => {});
    });
    continue;
  }
  describe(`BOLT 4 vectors on ${name}`, () => {
    const g = onionVec.generate;
    const hops = g.hops.map((h: { pubkey: string; payload: string }) => ({ pubkey: fromHex(h.pubkey), payload: stripLength(h.payload) }));
    const ad = fromHex(g.associated_data);

    it('onion-test.json: the packet byte for byte', () => {
      const built = buildOnion(ec, fromHex(g.session_key), hops, ad);
      expect(toHex(built.packet)).toBe(onionVec.onion);
      expect(built.packet.length).toBe(1366);
    });

    it('onion-test.json: each hop peels its own payload; only the last is final', () => {
      let packet = fromHex(onionVec.onion);
      onionVec.decode.forEach((key: string, i: number) => {
        const peeled = peelOnion(ec, fromHex(key), packet, ad);
        expect(toHex(peeled.payload)).toBe(toHex(stripLength(g.hops[i].payload)));
        expect(peeled.final).toBe(i === onionVec.decode.length - 1);
        if (!peeled.final) packet = peeled.nextPacket!;
      });
    });

    it('onion-error-test.json: shared secrets, um/ammag keys, error packet, attribution', () => {
      const ev = errorVec.generate;
      const built = buildOnion(ec, fromHex(ev.session_key), ev.hops.map((h: { pubkey: string }, i: number) => ({ pubkey: fromHex(h.pubkey), payload: hops[i].payload })), ad);
      ev.hops.forEach((h: { hop_shared_secret: string; ammag_key: string; um_key?: string }, i: number) => {
        expect(toHex(built.sharedSecrets[i]!)).toBe(h.hop_shared_secret);
        expect(toHex(generateKey('ammag', built.sharedSecrets[i]!))).toBe(h.ammag_key);
        if (h.um_key) expect(toHex(generateKey('um', built.sharedSecrets[i]!))).toBe(h.um_key);
      });
      const last = ev.hops.length - 1;
      let packet = createErrorPacket(fromHex(ev.hops[last].hop_shared_secret), fromHex(ev.failure_message), 256);
      for (let i = last - 1; i >= 0; i--) packet = wrapError(fromHex(ev.hops[i].hop_shared_secret), packet);
      expect(toHex(packet)).toBe(errorVec.errorpacket);
      const result = unwrapError(built.sharedSecrets, fromHex(errorVec.errorpacket));
      expect(result).toEqual({ hop: last, failureMessage: fromHex(ev.failure_message) });
    });
  });
}

describe('BOLT 4 failure messages', () => {
  it('onion-error-test.json failure_message 2002 is temporary_node_failure (NODE|2)', async () => {
    const { decodeFailure, encodeFailure } = await import('../../src/lib/onion/failure.ts');
    expect(decodeFailure(fromHex(errorVec.generate.failure_message))).toEqual({ name: 'temporary_node_failure', code: 0x2002, fields: {} });
    expect(toHex(encodeFailure('temporary_node_failure'))).toBe(errorVec.generate.failure_message);
  });
});
