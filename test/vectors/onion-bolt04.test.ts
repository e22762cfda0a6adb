/**
 * BOLT 4 vectors byte for byte on every secp256k1 backend the project can load:
 * onion-test.json (the whole 1366-byte packet, then each hop's peel giving back its
 * payload, the next packet and finality only at the last hop) and onion-error-test.json
 * (the error packet the final hop creates and the intermediate hops wrap, and the
 * sender's attribution of it to hop 4), and onion-error-attribution-test.json (each hop's
 * attribution data for an error and for a fulfilled HTLC; the hold times the sender reads;
 * symmetric crypto from the given shared secrets, so no backend is involved). Expected
 * values come only from the vector files.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { loadBackend } from '../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../setup/backends.ts';
import type { BackendName } from '../../src/lib/musig/engine/backend.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { buildOnion, peelOnion } from '../../src/lib/onion/sphinx.ts';
import { decodeBigSize } from '../../src/lib/bigsize.ts';
import { createErrorPacket, wrapError, unwrapError } from '../../src/lib/onion/error.ts';
import { generateKey } from '../../src/lib/onion/crypto.ts';
import { addAttribution, readAttribution } from '../../src/lib/onion/attribution.ts';

const dir = new URL('./bolts/bolt04/', import.meta.url);
const onionVec = JSON.parse(readFileSync(new URL('onion-test.json', dir), 'utf8'));
const errorVec = JSON.parse(readFileSync(new URL('onion-error-test.json', dir), 'utf8'));

function stripLength(hex: string): Uint8Array {
  const b = fromHex(hex);
  const [len, prefix] = decodeBigSize(b);
  expect(prefix + Number(len)).toBe(b.length);
  return b.subarray(prefix);
}

const BACKENDS: readonly BackendName[] = ALL_BACKENDS;
for (const name of BACKENDS) {
  // Installed or not is decided by test code (../setup/backends.ts); an installed backend the product cannot load fails the file.
  const under = await backendUnderTest(name, () => loadBackend(name));
  if (under.skipped !== undefined) {
    describe.skip(`BOLT 4 vectors on ${name}: SKIPPED, ${under.skipped}`, () => {
      it('onion-test.json, onion-error-test.json', () => {});
    });
    continue;
  }
  const ec = under.loaded;
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
      // The failing hop's plaintext, as the vector gives it: HMAC(um_key, payload) || payload, where payload is
      // failure_len || failuremsg || pad_len || pad. Our packet is already under that hop's ammag stream, which
      // wrapError (the same XOR) takes off again; the HMAC is recomputed here with node:crypto.
      const plain = wrapError(fromHex(ev.hops[last].hop_shared_secret), packet);
      expect(toHex(plain.subarray(32))).toBe(ev.hops[last].payload);
      expect(toHex(plain.subarray(0, 32))).toBe(createHmac('sha256', Buffer.from(ev.hops[last].um_key, 'hex')).update(Buffer.from(ev.hops[last].payload, 'hex')).digest('hex'));
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

describe('onion-error-attribution-test.json: the error packet and its attribution data', () => {
  const av = JSON.parse(readFileSync(new URL('onion-error-attribution-test.json', dir), 'utf8')).returning_errors;
  it('encodes the failure, pads failuremsg to 1024, and every hop\'s obfuscated error packet byte for byte; the sender attributes it to node 4', async () => {
    const { encodeFailure, decodeFailure } = await import('../../src/lib/onion/failure.ts');
    const c = av.creating_error_message;
    const tlv = 'fd84d1fd012c' + av.failure.tlv.value_hex;
    // the spec's encoded_failure_message is failuremsg || pad_len || pad; payload starts with failure_len
    const failLen = parseInt(c.payload.slice(0, 4), 16);
    const failuremsg = c.encoded_failure_message.slice(0, 2 * failLen);
    expect(c.payload).toBe(c.payload.slice(0, 4) + c.encoded_failure_message);
    expect(toHex(encodeFailure(av.failure.failure_message, { htlc_msat: String(av.failure.htlc_msat), height: av.failure.height }, tlv))).toBe(failuremsg);
    // The whole decoded failure: the vector's name, fields and its TLV (type 34001 = fd84d1, length 300 = fd012c); PERM|15.
    expect(decodeFailure(fromHex(failuremsg))).toEqual({
      name: av.failure.failure_message, code: 0x4000 | 15, fields: { htlc_msat: String(av.failure.htlc_msat), height: av.failure.height }, tlv,
    });
    expect(av.failure.tlv.type).toBe(0x84d1);
    expect(toHex(generateKey('um', fromHex(c.shared_secret)))).toBe(c.um_key);
    // raw packet = the packet before the ammag layer: undo our layer to compare
    const created = createErrorPacket(fromHex(c.shared_secret), fromHex(failuremsg), 1024);
    expect(toHex(wrapError(fromHex(c.shared_secret), created))).toBe(c.raw_error_packet);
    let packet = created;
    av.forwarding_error_packet.forEach((h: { shared_secret: string; ammag_key: string; error_packet: string }, i: number) => {
      expect(toHex(generateKey('ammag', fromHex(h.shared_secret)))).toBe(h.ammag_key);
      if (i > 0) packet = wrapError(fromHex(h.shared_secret), packet);
      expect(toHex(packet)).toBe(h.error_packet);
    });
    const secrets = [...av.forwarding_error_packet].reverse().map((h: { shared_secret: string }) => fromHex(h.shared_secret));
    const r = unwrapError(secrets, packet);
    expect(r.hop).toBe(av.failure.failure_source_node);
    expect(toHex(r.failureMessage)).toBe(failuremsg);
  });

  // The spec's trace lists the hold times 1..5 in the order the hops add them on the way back:
  // node 4 (the failing node) adds the first, node 0 the last, as the decrypted data shows.
  const holdTimeAdded = (step: number) => av.hops[step].htlc_hold_time as number;
  type Step = { node: number; shared_secret: string; error_packet: string; attribution_data: string };
  const steps: Step[] = av.forwarding_error_packet;

  it('every hop\'s attribution data byte for byte, each over the error packet it passes to its ammag layer', () => {
    let attribution: Uint8Array | undefined;
    steps.forEach((h, step) => {
      const message = step === 0 ? fromHex(av.creating_error_message.raw_error_packet) : fromHex(steps[step - 1]!.error_packet);
      attribution = addAttribution(fromHex(h.shared_secret), message, holdTimeAdded(step), attribution);
      expect(toHex(attribution), `node ${h.node}`).toBe(h.attribution_data);
    });
  });

  it('the sender verifies every hop\'s HMACs and reads the hold times in route order', () => {
    const last = steps.at(-1)!;
    const secrets = [...steps].reverse().map((h) => fromHex(h.shared_secret));
    const r = readAttribution(secrets, fromHex(last.attribution_data), fromHex(last.error_packet));
    expect(r.failedAt).toBeUndefined();
    expect(r.holdTimes).toEqual(steps.map((_, step) => ({ hop: steps.length - 1 - step, holdTime: holdTimeAdded(step) })).reverse());
  });

  it('returning_success: each hop\'s attribution data for a fulfilled HTLC (empty message) byte for byte, and the sender reads it', () => {
    const success: { node: number; attribution_data: string }[] = JSON.parse(readFileSync(new URL('onion-error-attribution-test.json', dir), 'utf8')).returning_success.attribution_data;
    let attribution: Uint8Array | undefined;
    success.forEach((h, step) => {
      const secret = steps.find((s) => s.node === h.node)!.shared_secret;
      attribution = addAttribution(fromHex(secret), new Uint8Array(0), holdTimeAdded(step), attribution);
      expect(toHex(attribution), `node ${h.node}`).toBe(h.attribution_data);
    });
    const secrets = [...steps].reverse().map((h) => fromHex(h.shared_secret));
    const r = readAttribution(secrets, fromHex(success.at(-1)!.attribution_data));
    expect(r).toEqual({ holdTimes: [5, 4, 3, 2, 1].map((holdTime, hop) => ({ hop, holdTime })), failedAt: undefined });
  });
});
