/**
 * Counterparty against counterparty-core's own test fixtures
 * (test/vectors/counterparty/, provenance in test/vectors/README.md): ARC4, the
 * OP_RETURN / multisig / pubkeyhash / P2SH encodings in real fixture transactions, and
 * the API's unpack answers for send, enhanced_send, issuance, broadcast and bet. Then
 * every supported message in every encoding, built by the test-side encoder (itself
 * checked against the composer vectors first).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { refusal } from '../../setup/refusal.ts';
import { base58checkEncode } from '../../independent/base58check.ts';
import { arc4 } from '../../../src/lib/counterparty/arc4.ts';
import { findData } from '../../../src/lib/counterparty/decode.ts';
import { assetName, unpackMessage } from '../../../src/lib/counterparty/messages.ts';
import { counterpartyMessage } from '../../../src/lib/counterparty/message.ts';
import { parseRawTx } from '../../../src/lib/tx/raw.ts';
import { p2pkh as p2pkhAddress, TEST_NETWORK } from '@scure/btc-signer';
import { multisigScripts, opReturnScript, p2pkh, p2shDataScriptSig, rc4, serializeTx, PREFIX } from './encode.ts';

const load = (f: string) => JSON.parse(readFileSync(new URL(`../../vectors/counterparty/${f}`, import.meta.url), 'utf8'));
const g = load('gettxinfo_vectors.json');
const u = load('unpack_vectors.json');
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const tx = (h: string) => parseRawTx(bytes(h));
const SENDER = bytes('02e53b79237cacdc221cff4c0fb320223cac3e0fe30a682a22f19a70a3975aa3f8'); // a valid key (p2sh_test.py's)

describe('ARC4 (composer.py encrypt_data)', () => {
  const v = g.arc4[0];
  it('the library', () => expect(hex(arc4(bytes(v.key), enc(v.plaintext_utf8)))).toBe(v.ciphertext));
  it('the test-side encoder', () => expect(hex(rc4(bytes(v.key), enc(v.plaintext_utf8)))).toBe(v.ciphertext));
});

describe('the test-side encoder reproduces the composer vectors', () => {
  it('OP_RETURN', () => {
    const v = g.opreturn_output[0];
    expect(hex(opReturnScript(v.key_txid, enc(v.data_utf8), enc(v.prefix)))).toBe('6a' + (v.op_return_push.length / 2).toString(16) + v.op_return_push);
  });
  it('multisig pairs (the 31 data bytes of every key; sign and nonce bytes are chosen by the composer)', () => {
    const v = g.multisig_outputs[0];
    const scripts = multisigScripts(v.key_txid, enc(v.data_utf8_repeated.text.repeat(v.data_utf8_repeated.times)), SENDER, enc(v.prefix));
    expect(scripts.length).toBe(v.pubkey_pairs.length);
    scripts.forEach((s, i) => {
      expect(hex(s.subarray(3, 34))).toBe(v.pubkey_pairs[i][0].slice(2, 64));
      expect(hex(s.subarray(37, 68))).toBe(v.pubkey_pairs[i][1].slice(2, 64));
    });
  });
});

describe('encodings in counterparty-core\'s vectors', () => {
  it('OP_RETURN (composer): the data comes back', () => {
    const v = g.opreturn_output[0];
    const t = tx(serializeTx([{ txid: v.key_txid, vout: 0 }], [{ value: 0, script: bytes('6a15' + v.op_return_push) }]));
    const r = findData(t, 'testnet', enc(v.prefix));
    expect(r.encodings).toEqual(['opreturn']);
    expect(new TextDecoder().decode(r.data)).toBe(v.data_utf8);
  });
  it('multisig (composer MULTISIG_PAIRS): three 1-of-3 outputs give the 130 bytes back', () => {
    const v = g.multisig_outputs[0];
    const outs = v.pubkey_pairs.map((p: string[]) => ({ value: 1000, script: bytes('5121' + p[0] + '21' + p[1] + '21' + hex(SENDER) + '53ae') }));
    const r = findData(tx(serializeTx([{ txid: v.key_txid, vout: 0 }], outs)), 'testnet', enc(v.prefix));
    expect(r.encodings).toEqual(['multisig']);
    expect(new TextDecoder().decode(r.data)).toBe(v.data_utf8_repeated.text.repeat(v.data_utf8_repeated.times));
  });
  for (const v of g.transactions) {
    it(`${v.name}`, () => {
      const r = findData(tx(v.tx), v.network, enc(v.prefix));
      if (v.expected.error) {
        expect(r.data).toBeUndefined();
        expect(r.reason).toMatch(/no Counterparty data/);
        return;
      }
      expect(hex(r.data!)).toBe(v.expected.data);
      if (v.expected.destination !== undefined) {
        expect(r.destinations.map((d) => d.address)).toEqual([v.expected.destination]);
        expect(r.btcAmount).toBe(v.expected.btc_amount);
      }
    });
  }
  it('P2SH: the OP_RETURN carries the "P2SH" signal, the source is the redeem script\'s key, the broadcast unpacks', () => {
    const v = g.transactions.find((x: any) => x.name.startsWith('P2SH'));
    const t = tx(v.tx);
    const signal = arc4(bytes(t.inputs[0]!.prevTxid), t.outputs[0]!.script.subarray(2));
    expect(new TextDecoder().decode(signal)).toBe('CNTRPRTYP2SH');
    const m = counterpartyMessage(t, 'testnet') as any;
    expect(m.status).toBe('counterparty');
    expect(m.encoding).toEqual(['p2sh']);
    expect(m.source).toBe('mvUKQytkJXRhoV9JiRSJYeDKEXiq9Mm6rz');
    expect(m.message.message_type).toBe('broadcast');
    expect(m.message.message_data.text).toBe('CIP 6 supports using p2sh addresses as the source address but requires an additional input in the data transaction.');
  });
  it('with the wrong prefix nothing is found (the fixture transactions use TESTXXXX)', () => {
    const v = g.transactions[1];
    expect(findData(tx(v.tx), 'testnet').data).toBeUndefined();
  });
});

/** Fields a decoder without the ledger produces (status, mime_type, call fields are the API's). */
const DECODED_FIELDS = ['asset', 'asset_id', 'quantity', 'divisible', 'lock', 'reset', 'subasset_longname', 'description', 'address', 'memo', 'timestamp', 'value', 'fee_fraction_int', 'text', 'bet_type', 'deadline', 'wager_quantity', 'counterwager_quantity', 'target_value', 'leverage', 'expiration'];

describe('unpack (counterparty-core API v2 unpack vectors, block 784320)', () => {
  for (const v of u.vectors) {
    it(`${v.message_type} ${v.datahex.slice(0, 24)}…`, () => {
      const m = unpackMessage(bytes(v.datahex));
      expect(m.message_type).toBe(v.message_type);
      expect(m.message_type_id).toBe(v.message_type_id);
      if (v.message_data === null) return;
      const want = Object.fromEntries(Object.entries(v.message_data).filter(([k]) => DECODED_FIELDS.includes(k)));
      expect(m.message_data).toEqual(want);
    });
  }
  it('asset names: BTC, XCP, base 26, numeric', () => {
    expect([assetName(0n), assetName(1n), assetName(697326324582n), assetName(95428957336791984n)]).toEqual(['BTC', 'XCP', 'DIVISIBLE', 'A95428957336791984']);
  });
  it('truncated or over-long fixed-size payloads are malformed (E_XCP_MALFORMED)', () => {
    for (const h of ['000000000000000000000001', '0000000000000000000000010000000005f5e10000', '0000001400000000', '0000001e52bb3300', '00000028000152bb33']) {
      expect(() => unpackMessage(bytes(h))).toThrow(expect.objectContaining({ code: 'E_XCP_MALFORMED' }));
    }
  });
});

describe('every supported message in every encoding (test-side encoder → decoder)', () => {
  const KEY_TXID = 'e43c357b78baf473fd21cbc1481ac450746b60cf1d2702ce3a73a8811811e3eb';
  const pick = (type: string) => u.vectors.filter((v: any) => v.message_type === type && v.message_data);
  const cases = ['send', 'enhanced_send', 'issuance', 'broadcast'].map((t) => pick(t).at(-1)); // issuance: the subasset one
  const dest = { value: 5430, script: p2pkh('4838d8b3588c4c7ba7c1d06f866e9b3739c63037') };
  const change = { value: 99_000, script: p2pkh('8d6ae8a3b381663118b4e1eff4cfc7d0954dd6ec') };
  const build = (encoding: string, data: Uint8Array): string => {
    if (encoding === 'opreturn') return serializeTx([{ txid: KEY_TXID, vout: 0 }], [dest, { value: 0, script: opReturnScript(KEY_TXID, data) }, change]);
    if (encoding === 'multisig') return serializeTx([{ txid: KEY_TXID, vout: 0 }], [dest, ...multisigScripts(KEY_TXID, data, SENDER).map((script) => ({ value: 1000, script })), change]);
    // P2SH: the data in two inputs' redeem scripts (first chunk 40 bytes), "P2SH" in the OP_RETURN
    const ins = [data.subarray(0, 40), data.subarray(40)].filter((c) => c.length > 0).map((c, i) => ({ txid: KEY_TXID, vout: i, scriptSig: p2shDataScriptSig(c, SENDER, i) }));
    return serializeTx(ins, [dest, { value: 0, script: opReturnScript(KEY_TXID, enc('P2SH')) }]);
  };
  for (const encoding of ['opreturn', 'multisig', 'p2sh']) {
    for (const v of cases) {
      it(`${v.message_type} as ${encoding}`, () => {
        const m = counterpartyMessage(tx(build(encoding, bytes(v.datahex))), 'testnet') as any;
        expect(m.status).toBe('counterparty');
        expect(m.encoding).toEqual([encoding]);
        expect(m.data).toBe(v.datahex);
        expect(m.destinations.map((d: any) => d.address)).toEqual(['mn6q3dS2EnDUx3bmyWc6D4szJNVGtaR7zc']);
        expect(m.btc_amount).toBe(5430);
        const want = Object.fromEntries(Object.entries(v.message_data).filter(([k]) => DECODED_FIELDS.includes(k)));
        expect(m.message).toEqual({ message_type: v.message_type, message_type_id: v.message_type_id, message_data: want });
        if (encoding === 'p2sh') expect(m.source).toBe(p2pkhAddress(SENDER, TEST_NETWORK).address); // the redeem script's key, as a testnet P2PKH address (btc-signer)
      });
    }
  }
  it('a plain payment is not a Counterparty transaction (exit-0 answer with the reason)', () => {
    const m = counterpartyMessage(tx(serializeTx([{ txid: KEY_TXID, vout: 0 }], [dest, change])), 'testnet') as any;
    expect(m.status).toBe('not-counterparty');
    expect(m.reason).toMatch(/no Counterparty data/);
  });
  it('an OP_RETURN that does not decrypt to the prefix says so', () => {
    const m = counterpartyMessage(tx(serializeTx([{ txid: KEY_TXID, vout: 0 }], [{ value: 0, script: opReturnScript('00'.repeat(32), enc('x')) }])), 'testnet') as any;
    expect(m.status).toBe('not-counterparty');
    expect(m.reason).toMatch(/CNTRPRTY prefix/);
  });
  it('a malformed payload behind a valid prefix is decoded data with message_error', () => {
    const m = counterpartyMessage(tx(serializeTx([{ txid: KEY_TXID, vout: 0 }], [{ value: 0, script: opReturnScript(KEY_TXID, bytes('0000000000')) }])), 'testnet') as any;
    expect(m.status).toBe('counterparty');
    expect(m.message).toBeNull();
    expect(m.message_error).toMatch(/truncated/);
  });
  void PREFIX;
});

/**
 * counterparty-core's unpack, read by TEST code for the message types the project
 * decodes (send, enhanced_send, issuance 20–23, broadcast, bet; any other id: the payload
 * as hex). `undefined` where the payload is malformed. The fuzz below holds the product
 * to it: the same answer, or E_XCP_MALFORMED exactly where this says malformed.
 */
function specUnpack(d: Uint8Array): { message_type: string; message_type_id: number; message_data: Record<string, unknown> } | undefined {
  if (d.length === 0) return undefined;
  const view = new DataView(d.buffer, d.byteOffset, d.length);
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > d.length) throw new RangeError('truncated');
  };
  const u8 = () => (need(1), d[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4));
  const u64 = () => (need(8), (pos += 8), view.getBigUint64(pos - 8));
  const f64 = () => (need(8), (pos += 8), view.getFloat64(pos - 8));
  const take = (n: number) => (need(n), (pos += n), d.subarray(pos - n, pos));
  const rest = () => take(d.length - pos);
  const name = (id: bigint): string => {
    if (id === 0n) return 'BTC';
    if (id === 1n) return 'XCP';
    if (id < 26n ** 3n) throw new RangeError('asset id too low');
    if (id > 26n ** 12n) return `A${id}`;
    let s = '';
    for (let n = id; n > 0n; n /= 26n) s = String.fromCharCode(65 + Number(n % 26n)) + s;
    return s;
  };
  const SUB = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@!';
  const longname = (raw: Uint8Array) => {
    let n = BigInt('0x0' + hex(raw));
    let s = '';
    for (; n !== 0n; n /= 68n) {
      if (n % 68n === 0n) throw new RangeError('zero digit');
      s = SUB[Number(n % 68n) - 1] + s;
    }
    return s;
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return '';
    }
  };
  try {
    const id = d[0]! > 0 ? u8() : u32();
    const m: Record<string, unknown> = {};
    const types: Record<number, string> = { 0: 'send', 2: 'enhanced_send', 20: 'issuance', 21: 'issuance', 22: 'issuance', 23: 'issuance', 30: 'broadcast', 40: 'bet' };
    if (id === 0 || id === 40) {
      if (id === 0) Object.assign(m, { asset: name(u64()), quantity: u64().toString() });
      else Object.assign(m, { bet_type: u16(), deadline: u32(), wager_quantity: u64().toString(), counterwager_quantity: u64().toString(), target_value: f64(), leverage: u32(), expiration: u32() });
      if (pos !== d.length) return undefined;
    } else if (id === 2) {
      Object.assign(m, { asset: name(u64()), quantity: u64().toString(), address: base58checkEncode(take(21)), memo: hex(rest()) });
    } else if (id >= 20 && id <= 23) {
      const assetId = u64();
      Object.assign(m, { asset_id: assetId.toString(), asset: name(assetId), quantity: u64().toString(), divisible: u8() !== 0, lock: u8() !== 0, reset: u8() !== 0 });
      m.subasset_longname = id === 20 ? null : longname(take(u8()));
      m.description = utf8(rest());
    } else if (id === 30) {
      Object.assign(m, { timestamp: u32(), value: f64(), fee_fraction_int: u32() });
      const raw = rest();
      pos = 0;
      let len = 0;
      if (raw.length > 0) {
        const f = raw[0]!;
        if (f < 0xfd) len = f;
        else if (f === 0xfd && raw.length >= 3) len = raw[1]! | (raw[2]! << 8);
        else if (f === 0xfe && raw.length >= 5) len = new DataView(raw.buffer, raw.byteOffset + 1, 4).getUint32(0, true);
        else return undefined;
      }
      const head = raw.length === 0 ? 0 : raw[0]! < 0xfd ? 1 : raw[0] === 0xfd ? 3 : 5;
      if (len > raw.length - head) return undefined;
      m.text = new TextDecoder('utf-8').decode(raw.subarray(raw.length - len));
    } else m.payload = hex(rest());
    const known: Record<number, string> = { 1: 'send', 3: 'mpma', 4: 'sweep', 10: 'order', 11: 'btcpay', 12: 'dispenser', 13: 'dispense', 50: 'dividend', 60: 'burn', 70: 'cancel', 90: 'fairminter', 91: 'fairmint', 100: 'utxo', 101: 'attach', 102: 'detach', 110: 'destroy' };
    return { message_type: types[id] ?? known[id] ?? 'unknown', message_type_id: id, message_data: m };
  } catch {
    return undefined;
  }
}

describe('fuzzing: a coded refusal exactly where test code reads a malformed message, else its very answer', () => {
  const vectorPayloads = (u.vectors as { datahex: string }[]).map((v) => bytes(v.datahex));
  const edited = fc.tuple(fc.constantFrom(...vectorPayloads), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: -3, max: 3 }), fc.uint8Array({ maxLength: 8 }))
    .map(([p, at, v, cut, extra]) => {
      const b = Uint8Array.from(p);
      b[at % b.length] = v;
      return cut < 0 ? b.subarray(0, Math.max(0, b.length + cut)) : cut > 0 ? Uint8Array.from([...b, ...extra]) : b;
    });

  it('message payloads: random bytes and one-byte edits, truncations and extensions of every unpack vector', () => {
    const seen = new Map<string, number>();
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }), edited, edited), (b) => {
      const expected = specUnpack(b);
      let got: ReturnType<typeof unpackMessage> | undefined;
      try {
        got = unpackMessage(b);
      } catch (e) {
        refusal(() => {
          throw e;
        }, 'E_XCP_MALFORMED', 3);
      }
      expect(got).toEqual(expected);
      const key = `${expected?.message_type ?? 'refused'}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      // Where the message is a payload the project does not decode, its hex re-encodes to the input.
      if (got && 'payload' in got.message_data) {
        const header = b[0]! > 0 ? [got.message_type_id] : [0, 0, 0, 0].map((_, k) => (got!.message_type_id >>> (24 - 8 * k)) & 0xff);
        expect(Uint8Array.from([...header, ...bytes(got.message_data.payload as string)])).toEqual(b);
      }
    }), { numRuns: 3000 });
    // Every decoded kind was reached, accepted and refused alike: neither branch passes by never running.
    for (const kind of ['refused', 'send', 'enhanced_send', 'issuance', 'broadcast', 'bet', 'order', 'unknown']) expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(5);
  });

  it('transactions whose outputs are random scripts: not Counterparty, with a one-line reason and the txid test code computes', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }), fc.uint8Array({ maxLength: 200 }), (scripts, sig) => {
      const raw = serializeTx([{ txid: '11'.repeat(32), vout: 0, scriptSig: sig }], scripts.map((script) => ({ value: 1, script })));
      const m = counterpartyMessage(tx(raw), 'testnet') as any;
      expect(m.status).toBe('not-counterparty');
      expect(m.reason).toMatch(/^[^\n]+$/);
      expect(m.txid).toBe(hex(createHash('sha256').update(createHash('sha256').update(bytes(raw)).digest()).digest().reverse()));
    }), { numRuns: 2000 });
  });
});
