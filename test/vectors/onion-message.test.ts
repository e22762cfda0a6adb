/**
 * blinded-onion-message-onion-test.json byte for byte on every backend (library level; no
 * command sends onion messages yet): Dave's blinded path Bob → Dave with the hop to Alice
 * the sender prepends (each hop's encrypted_data_tlv from its tlvs, blinded node id, path_key
 * and encrypted_recipient_data), the onion message carrying "hello" to Dave (the Sphinx
 * packet over onionmsg_tlv payloads, no associated data), and each hop's side: the
 * onion_message it receives (type 513: path_key, length, packet), peeled with its blinded
 * key, its recipient data and the next onion_message. Expected values come only from the
 * vector file.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadBackend } from '../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../setup/backends.ts';
import type { BackendName } from '../../src/lib/musig/engine/backend.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { blindHop, blindedNodePrivkey, unblindHop } from '../../src/lib/onion/blinding.ts';
import { buildOnion, peelOnion } from '../../src/lib/onion/sphinx.ts';
import { decodeRecipientData, encodeRecipientData } from '../../src/lib/onion/recipient-data.ts';

const v = JSON.parse(readFileSync(new URL('./bolts/bolt04/blinded-onion-message-onion-test.json', import.meta.url), 'utf8'));
type GenHop = { alias: string; path_key_secret: string; tlvs: Record<string, string>; encrypted_data_tlv: string; blinded_node_id: string; E: string; encrypted_recipient_data: string };
const gen: GenHop[] = v.generate.hops;
// Each hop's real node id: Alice's is the route's first node; each next one is in the previous hop's tlvs.
const nodeIds = [v.route.first_node_id as string, ...gen.slice(0, -1).map((h) => h.tlvs.next_node_id!)];
const NO_AD = new Uint8Array(0);
const ONION_MESSAGE = '0201'; // type 513

/** The vector's tlvs in recipient-data JSON: unknown_tag_N raw; path_key_override_secret is how the override was made, not a record. */
function tlvsJson(t: Record<string, string>) {
  const j: Record<string, unknown> = {};
  const tlv: { type: string; value: string }[] = [];
  for (const [k, value] of Object.entries(t)) {
    if (k === 'path_key_override_secret') continue;
    if (k.startsWith('unknown_tag_')) tlv.push({ type: k.slice('unknown_tag_'.length), value });
    else j[k] = value;
  }
  return tlv.length ? { ...j, tlv } : j;
}

/** onionmsg_tlv records (BigSize types and lengths under 253 here), sorted by type. */
function tlvStream(records: [number, Uint8Array][]): Uint8Array {
  const parts = [...records].sort((a, b) => a[0] - b[0]).flatMap(([t, val]) => [Uint8Array.of(t, val.length), val]);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

function readRecords(b: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let o = 0; o < b.length; ) {
    const t = b[o]!;
    const l = b[o + 1]!;
    out.set(t, b.subarray(o + 2, o + 2 + l));
    o += 2 + l;
  }
  return out;
}

for (const name of ALL_BACKENDS as readonly BackendName[]) {
  // Installed or not is decided by test code (../setup/backends.ts); an installed backend the product cannot load fails the file.
  const under = await backendUnderTest(name, () => loadBackend(name));
  if (under.skipped !== undefined) {
    describe.skip(`onion messages on ${name}: SKIPPED, ${under.skipped}`, () => it('blinded-onion-message-onion-test.json', () => {}));
    continue;
  }
  const ec = under.loaded;
  describe(`blinded-onion-message-onion-test.json on ${name}`, () => {
    it('generate: each hop\'s encrypted_data_tlv, path_key, blinded node id and encrypted_recipient_data; the route', () => {
      gen.forEach((h, i) => {
        expect(toHex(encodeRecipientData(tlvsJson(h.tlvs)))).toBe(h.encrypted_data_tlv);
        const b = blindHop(ec, fromHex(h.path_key_secret), fromHex(nodeIds[i]!), fromHex(h.encrypted_data_tlv));
        expect(toHex(b.pathKey), h.alias).toBe(h.E);
        expect(toHex(b.blindedNodeId), h.alias).toBe(h.blinded_node_id);
        expect(toHex(b.encryptedData), h.alias).toBe(h.encrypted_recipient_data);
      });
      expect(v.route.first_path_key).toBe(gen[0]!.E);
      expect(v.route.hops).toEqual(gen.map((h) => ({ blinded_node_id: h.blinded_node_id, encrypted_recipient_data: h.encrypted_recipient_data })));
    });

    it('the onion message to Dave: the Sphinx packet over onionmsg_tlv payloads, byte for byte', () => {
      const hello = fromHex(v.onionmessage.unknown_tag_1);
      const hops = v.route.hops.map((h: { blinded_node_id: string; encrypted_recipient_data: string }, i: number, all: unknown[]) => ({
        pubkey: fromHex(h.blinded_node_id),
        payload: tlvStream([[4, fromHex(h.encrypted_recipient_data)], ...(i === all.length - 1 ? ([[1, hello]] as [number, Uint8Array][]) : [])]),
      }));
      expect(toHex(buildOnion(ec, fromHex(v.generate.session_key), hops, NO_AD).packet)).toBe(v.onionmessage.onion_message_packet);
    });

    it('decrypt: each hop peels with its blinded key, reads its recipient data and forms the next onion_message', () => {
      const hops: { alias: string; privkey: string; onion_message: string; next_node_id?: string; tlvs?: Record<string, string> }[] = v.decrypt.hops;
      hops.forEach((h, i) => {
        const msg = fromHex(h.onion_message);
        expect(toHex(msg.subarray(0, 2))).toBe(ONION_MESSAGE);
        const pathKey = msg.subarray(2, 35);
        const length = (msg[35]! << 8) | msg[36]!;
        expect(length).toBe(msg.length - 37);
        const key = fromHex(h.privkey);
        const peeled = peelOnion(ec, blindedNodePrivkey(ec, key, pathKey), msg.subarray(37), NO_AD);
        const records = readRecords(peeled.payload);
        const u = unblindHop(ec, key, pathKey, records.get(4)!);
        const data = decodeRecipientData(u.decryptedData);
        expect(peeled.final, h.alias).toBe(i === hops.length - 1);
        if (peeled.final) {
          // Dave's onionmsg_tlv payload as the vector lists it, and the recipient data Dave put in his path.
          expect(toHex(records.get(1)!)).toBe(h.tlvs!.unknown_tag_1);
          expect(toHex(records.get(4)!)).toBe(h.tlvs!.encrypted_recipient_data);
          expect(data).toEqual(tlvsJson(gen.at(-1)!.tlvs));
          return;
        }
        expect(data.next_node_id, h.alias).toBe(h.next_node_id);
        const nextPathKey = data.next_path_key_override ? fromHex(data.next_path_key_override) : u.nextPathKey;
        const next = toHex(Uint8Array.of(0x02, 0x01)) + toHex(nextPathKey) + '0556' + toHex(peeled.nextPacket!);
        expect(next, `${h.alias} → ${hops[i + 1]!.alias}`).toBe(hops[i + 1]!.onion_message);
      });
    });
  });
}
