import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StateSeal, storedRecord, storedText } from '../../../src/lib/store/state-seal.ts';
import { codeOf } from '../../helpers.ts';

/**
 * The seal's bytes, computed here from its documented construction (state-seal.ts): HKDF-SHA256
 * keys, the IV HMAC-SHA256(iv key, "<aad length>:" ‖ aad ‖ tx)[0..12], AES-256-GCM — not by the
 * code under test, so a faster seal that changed a byte fails here.
 */
function referenceSeal(secretKey: Uint8Array, contractId: string, path: string, state: unknown, txid: unknown, hex: string): string {
  const salt = Buffer.from('offchain/credit/v1/state-seal');
  const key = (info: string) => Buffer.from(hkdfSync('sha256', secretKey, salt, Buffer.from(info), 32));
  const aad = Buffer.from(`offchain/credit/v1/sealed-state\n${contractId}\n${path}\n${String(state)}\n${String(txid)}`);
  const plain = Buffer.from(hex, 'hex');
  const iv = createHmac('sha256', key('iv')).update(Buffer.concat([Buffer.from(`${aad.length}:`), aad, plain])).digest().subarray(0, 12);
  const c = createCipheriv('aes-256-gcm', key('enc'), iv);
  c.setAAD(aad);
  return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]).toString('hex');
}

const hexOf = (n: number) => randomBytes(n).toString('hex');

describe('state seal', () => {
  it('seals each state to the bytes of its documented construction, keys in their order, on random records', () => {
    for (let i = 0; i < 200; i++) {
      const secretKey = randomBytes(32);
      const seal = StateSeal.fromMintKey(secretKey);
      const id = hexOf(32);
      // Edge sizes: an empty transaction, one byte, a typical state (~235 bytes), a large one.
      const size = [0, 1, 235, 4000][i % 4]! + (i % 7);
      const latest = { state: i, cumulative_sat: i * 1000, txid: hexOf(32), hex: hexOf(size), receipt: { type: 'credit/receipt', next_nonce: { state: i + 1 } } };
      const gateway = i % 3 === 0 ? { in_flight: null, latest: { txid: hexOf(32), state: i + 2, hex: hexOf(size + 3), extra: i } } : undefined;
      const record = { contract_id: id, status: 'open', latest, next_state: i + 1, ...(gateway ? { gateway } : {}) };
      const sealed = seal.seal(record) as unknown as { latest: Record<string, unknown>; gateway?: { latest: Record<string, unknown> } };
      expect(Object.keys(sealed.latest)).toEqual(['state', 'cumulative_sat', 'txid', 'hex_sealed', 'receipt']);
      expect(sealed.latest['hex_sealed']).toBe(referenceSeal(secretKey, id, 'latest', latest.state, latest.txid, latest.hex));
      if (gateway) {
        expect(Object.keys(sealed.gateway!.latest)).toEqual(['txid', 'state', 'hex_sealed', 'extra']);
        expect(sealed.gateway!.latest['hex_sealed']).toBe(referenceSeal(secretKey, id, 'gateway.latest', gateway.latest.state, gateway.latest.txid, gateway.latest.hex));
      }
      // The record itself is untouched, and its text opens back to it.
      expect(record.latest.hex).toBe(latest.hex);
      expect(storedRecord(storedText(record, seal, 'here'), seal, 'here')).toEqual(record);
    }
  });

  it('keeps a __proto__ key of a parsed record an own key, in its place, as before', () => {
    const seal = StateSeal.fromMintKey(randomBytes(32));
    const text = `{"contract_id":"c","latest":{"state":1,"__proto__":{"x":1},"txid":"t","hex":"00ff"}}`;
    const record = JSON.parse(text) as { latest: Record<string, unknown> };
    const sealed = seal.seal(record) as { latest: Record<string, unknown> };
    expect(Object.keys(sealed.latest)).toEqual(['state', '__proto__', 'txid', 'hex_sealed']);
    expect(Object.getPrototypeOf(sealed.latest)).toBe(Object.prototype);
    const opened = seal.open(sealed, 'here') as { latest: Record<string, unknown> };
    expect(JSON.stringify(opened)).toBe(text);
  });

  it('refuses a sealed state moved to another state number or altered, E_STATE_CORRUPT', () => {
    const seal = StateSeal.fromMintKey(randomBytes(32));
    const sealed = seal.seal({ contract_id: 'c', latest: { state: 1, txid: 't', hex: hexOf(100) } }) as { contract_id: string; latest: Record<string, unknown> };
    expect(codeOf(() => seal.open({ ...sealed, latest: { ...sealed.latest, state: 2 } }, 'here'))).toBe('E_STATE_CORRUPT');
    const s = sealed.latest['hex_sealed'] as string;
    expect(codeOf(() => seal.open({ ...sealed, latest: { ...sealed.latest, hex_sealed: s.slice(0, -2) + (s.endsWith('00') ? '01' : '00') } }, 'here'))).toBe('E_STATE_CORRUPT');
    expect(codeOf(() => seal.open({ ...sealed, latest: { ...sealed.latest, hex_sealed: s.toUpperCase() } }, 'here'))).toBe('E_STATE_CORRUPT');
  });
});

describe('state seal: what this process sealed opens from memory', () => {
  it('opens to exactly what decryption gives, and refuses a remembered seal moved to another contract, field, state or txid', () => {
    const key = randomBytes(32);
    const seal = StateSeal.fromMintKey(key);
    for (let i = 0; i < 50; i++) {
      const latest = { state: i, txid: hexOf(32), hex: hexOf(235) };
      const record = { contract_id: hexOf(32), latest, gateway: { latest: { state: i + 1, txid: hexOf(32), hex: hexOf(200) } } };
      const sealed = seal.seal(record);
      // Remembered here; a second seal of the same key (another process) decrypts: both give the record.
      expect(seal.open(sealed, 'here')).toEqual(record);
      expect(StateSeal.fromMintKey(key).open(sealed, 'here')).toEqual(record);
      // Each move, with the original remembered: refused as a fresh process refuses it.
      const moved = [
        { ...sealed, contract_id: hexOf(32) },
        { ...sealed, latest: { ...sealed.latest, state: i + 7 } },
        { ...sealed, latest: { ...sealed.latest, txid: hexOf(32) } },
        { ...sealed, latest: { ...sealed.gateway.latest } }, // the gateway's seal in the latest's place
      ];
      for (const m of moved) {
        expect(codeOf(() => seal.open(m, 'here'))).toBe('E_STATE_CORRUPT');
        expect(codeOf(() => StateSeal.fromMintKey(key).open(m, 'here'))).toBe('E_STATE_CORRUPT');
      }
      // Another mint's key: its own seal of the same record is not this one's, remembered or not.
      expect(codeOf(() => seal.open(StateSeal.fromMintKey(randomBytes(32)).seal(record), 'here'))).toBe('E_STATE_CORRUPT');
    }
  });
});
