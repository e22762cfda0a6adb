/**
 * Coloring whole transactions through their ancestors: issuance, transfer, a chain of
 * transfers, a missing ancestor named exactly, quantities exceeding the outputs, two
 * OA-looking OP_RETURN outputs under both rules; and the decoders fuzzed (never a crash
 * or a hang: a value, or a coded MalformedInputError).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RawTx } from '@scure/btc-signer';
import { fromHex } from '../../../src/lib/bytes.ts';
import { refusal, thrown } from '../../setup/refusal.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { Colorer, type TxColoring } from '../../../src/lib/openassets/coloring.ts';
import { parseMarkerScript, parsePayload } from '../../../src/lib/openassets/marker.ts';
import { parseRawTx } from '../../../src/lib/tx/raw.ts';
import { txBytesFromText } from '../../../src/lib/openassets/decode.ts';
import { buildTx, opReturn, OTHER_H160, p2pkh, scenario, SEED_H160, SEED_MARKER } from './build.ts';

/** hash160 of the seed's P2PKH script: the asset ID AcuRVsoa81hoLHmVTNXrRD8KpTqUXeqwgH (seed_example.json). */
const SEED_ASSET = 'e7c8243041a0c869d4bdf49e91d9a981029202d8';

function colorerOf(txs: { hex: string }[], rule: 'spec' | 'reference' = 'spec') {
  const map = new Map(txs.map((t) => [parseRawTx(fromHex(t.hex)).txid, fromHex(t.hex)]));
  return new Colorer({ rule, source: (id) => map.get(id), parse: parseRawTx });
}
const summary = (c: TxColoring) => c.outputs.map((o) => [o.type, o.assetId, Number(o.quantity)]);

describe('a coinbase (the null outpoint) is uncolored without fetching anything (the reference implementation\'s answer)', () => {
  it('a coinbase carrying the seed\'s valid marker: uncolored, no ancestor asked for', async () => {
    const coinbase = buildTx([{ txid: '00'.repeat(32), vout: 0xffffffff }], [{ value: 600, script: p2pkh(SEED_H160) }, { value: 0, script: opReturn(SEED_MARKER) }]);
    const asked: string[] = [];
    const colorer = new Colorer({ rule: 'spec', source: (id) => (asked.push(id), undefined), parse: parseRawTx });
    const c = await colorer.color(parseRawTx(fromHex(coinbase.hex)));
    expect({ status: c.status, asked }).toEqual({ status: 'uncolored', asked: [] });
    expect(summary(c)).toEqual([['uncolored', null, 0], ['uncolored', null, 0]]);
  });
});

describe('coloring through ancestors', () => {
  const s = scenario();
  it('txids agree with an independent hash', () => {
    for (const t of Object.values(s)) expect(parseRawTx(fromHex(t.hex)).txid).toBe(t.txid);
  });
  it('issuance: 20 units of the first input\'s script\'s asset before the marker', async () => {
    const c = await colorerOf([s.funding]).color(parseRawTx(fromHex(s.issuance.hex)));
    expect(c.status).toBe('colored');
    expect(summary(c)).toEqual([['issuance', SEED_ASSET, 20], ['marker', null, 0], ['transfer', null, 0]]);
  });
  it('transfer: 15 and 5 units after the marker, the change uncolored', async () => {
    const c = await colorerOf([s.funding, s.issuance]).color(parseRawTx(fromHex(s.transfer.hex)));
    expect(summary(c)).toEqual([['marker', null, 0], ['transfer', SEED_ASSET, 15], ['transfer', SEED_ASSET, 5], ['transfer', null, 0]]);
  });
  it('a missing ancestor is named exactly (the funding tx behind the issuance), and nothing is guessed', async () => {
    const c = await colorerOf([s.issuance]).color(parseRawTx(fromHex(s.transfer.hex)));
    expect(c.status).toBe('undecided');
    if (c.status === 'undecided') expect(c.missing.sort()).toEqual([s.funding.txid]);
  });
  it('a transaction without a marker needs no ancestors', async () => {
    const c = await colorerOf([]).color(parseRawTx(fromHex(s.funding.hex)));
    expect(c).toMatchObject({ status: 'uncolored', reason: 'no valid marker output' });
  });
  it('a chain of transfers colors back to issuance (and the cache answers the second time)', async () => {
    const txs = [s.funding, s.issuance, s.transfer];
    let prev = s.transfer;
    for (let k = 0; k < 50; k++) {
      const next = buildTx([{ txid: prev.txid, vout: 1 }], [{ value: 0, script: opReturn('4f410100010f00') }, { value: 600, script: p2pkh(OTHER_H160) }]);
      txs.push(next);
      prev = next;
    }
    const colorer = colorerOf(txs);
    const c = await colorer.color(parseRawTx(fromHex(prev.hex)));
    expect(summary(c)).toEqual([['marker', null, 0], ['transfer', SEED_ASSET, 15]]);
    const fetched = colorer.fetched;
    await colorer.color(parseRawTx(fromHex(prev.hex)));
    expect(colorer.fetched).toBe(fetched);
  });
  it('quantities exceeding the outputs: uncolored with the reason', async () => {
    const bad = buildTx([{ txid: s.issuance.txid, vout: 0 }], [{ value: 0, script: opReturn('4f41010002140100') }, { value: 600, script: p2pkh(OTHER_H160) }]);
    const c = await colorerOf([s.funding, s.issuance]).color(parseRawTx(fromHex(bad.hex)));
    expect(c.status).toBe('uncolored');
    if (c.status === 'uncolored') expect(c.reason).toMatch(/2 asset quantities for 1 outputs/);
    expect(summary(c)).toEqual([['uncolored', null, 0], ['uncolored', null, 0]]);
  });
  it('more units than the inputs hold: uncolored', async () => {
    const bad = buildTx([{ txid: s.issuance.txid, vout: 0 }], [{ value: 0, script: opReturn('4f410100011500') }, { value: 600, script: p2pkh(OTHER_H160) }]);
    const c = await colorerOf([s.funding, s.issuance]).color(parseRawTx(fromHex(bad.hex)));
    expect(c).toMatchObject({ status: 'uncolored', reason: expect.stringMatching(/more asset units than the inputs hold/) });
  });
  it('two OA-looking OP_RETURNs: spec uses the first valid marker only; reference tries the next when the first fails', async () => {
    // the first marker sends 21 units to output 2 (the inputs hold 20); the second sends 20 to output 3
    const two = buildTx([{ txid: s.issuance.txid, vout: 0 }], [
      { value: 600, script: p2pkh(OTHER_H160) },
      { value: 0, script: opReturn('4f41010002001500') },
      { value: 0, script: opReturn('4f4101000300001400') },
      { value: 600, script: p2pkh(SEED_H160) },
    ]);
    const spec = await colorerOf([s.funding, s.issuance], 'spec').color(parseRawTx(fromHex(two.hex)));
    expect(spec.status).toBe('uncolored');
    const ref = await colorerOf([s.funding, s.issuance], 'reference').color(parseRawTx(fromHex(two.hex)));
    expect(ref.status).toBe('colored');
    expect(summary(ref)).toEqual([['issuance', null, 0], ['issuance', null, 0], ['marker', null, 0], ['transfer', SEED_ASSET, 20]]);
  });
});

/**
 * The Open Assets marker payload, read by TEST code from the specification (no product
 * code): tag, version, var-int count, LEB128 quantities (at most 9 bytes each under the
 * spec rule; any length under the reference rule; ≤ 2^63-1), var-int metadata length,
 * metadata, nothing after. `undefined` where the payload is not a marker.
 */
function specPayload(p: Uint8Array, rule: 'spec' | 'reference'): { quantities: bigint[]; metadata: string } | undefined {
  if (p.length < 4 || p[0] !== 0x4f || p[1] !== 0x41 || p[2] !== 0x01 || p[3] !== 0x00) return undefined;
  let pos = 4;
  const varint = (): number | undefined => {
    if (pos >= p.length) return undefined;
    const size = p[pos] === 0xfd ? 2 : p[pos] === 0xfe ? 4 : p[pos] === 0xff ? 8 : 0;
    if (size === 0) return p[pos++];
    if (pos + 1 + size > p.length) return undefined;
    let v = 0;
    for (let k = size; k >= 1; k--) v = v * 256 + p[pos + k]!;
    pos += 1 + size;
    return v;
  };
  const count = varint();
  if (count === undefined || count > p.length - pos) return undefined;
  const quantities: bigint[] = [];
  for (let k = 0; k < count; k++) {
    let v = 0n;
    let n = 0;
    for (;;) {
      if (pos >= p.length) return undefined;
      const b = p[pos++]!;
      v |= BigInt(b & 0x7f) << BigInt(7 * n++);
      if ((b & 0x80) === 0) break;
    }
    if ((rule === 'spec' && n > 9) || v > (1n << 63n) - 1n) return undefined;
    quantities.push(v);
  }
  const len = varint();
  if (len === undefined || pos + len !== p.length) return undefined;
  return { quantities, metadata: Buffer.from(p.subarray(pos)).toString('hex') };
}

/** The canonical encoding of a marker payload, in test code (minimal var-ints and LEB128). */
function encodePayload(quantities: bigint[], metadata: Uint8Array): Uint8Array {
  const varint = (n: number) => (n < 0xfd ? [n] : n <= 0xffff ? [0xfd, n & 0xff, n >> 8] : [0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]);
  const leb = (v: bigint) => {
    const out: number[] = [];
    do {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v === 0n ? b : b | 0x80);
    } while (v !== 0n);
    return out;
  };
  return Uint8Array.from([0x4f, 0x41, 0x01, 0x00, ...varint(quantities.length), ...quantities.flatMap(leb), ...varint(metadata.length), ...metadata]);
}

/** A push of `data` in test code (the shortest opcode). */
const push = (d: Uint8Array) => Uint8Array.from([...(d.length < 0x4c ? [d.length] : d.length <= 0xff ? [0x4c, d.length] : [0x4d, d.length & 0xff, d.length >> 8]), ...d]);

describe('decoders: fuzzed input is refused with its reason or decoded to what test code reads (fuzz)', () => {
  /** A MalformedInputError with the one code and exit 3 (refusal() checks class, code, exit and one line). */
  const parsedOrRefused = <T>(fn: () => T, code: string): T | undefined => {
    try {
      return fn();
    } catch (e) {
      refusal(() => {
        throw e;
      }, code, 3);
      return undefined;
    }
  };
  const seen = { ok: 0, refused: 0 };
  const quantity = fc.bigInt({ min: 0n, max: (1n << 63n) - 1n });
  const validPayload = fc.tuple(fc.array(quantity, { maxLength: 20 }), fc.uint8Array({ maxLength: 300 }));

  it('valid payloads (random quantities and metadata): decoded to those values, and their canonical re-encoding is the input byte for byte', () => {
    fc.assert(fc.property(validPayload, ([quantities, metadata]) => {
      const p = encodePayload(quantities, metadata);
      for (const rule of ['spec', 'reference'] as const) {
        const r = parsePayload(p, rule);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.quantities).toEqual(quantities);
        expect(encodePayload(r.quantities, r.metadata)).toEqual(p);
        const script = Uint8Array.of(0x6a, ...push(p));
        const m = parseMarkerScript(script, rule);
        expect(m.ok).toBe(true);
        if (m.ok) expect(Uint8Array.of(0x6a, ...push(encodePayload(m.quantities, m.metadata)))).toEqual(script);
      }
    }), { numRuns: 500 });
  });

  it('random and edited payloads: the product accepts exactly what test code reads as a marker, with the same values; a refusal has a one-line reason', () => {
    const edited = fc.tuple(validPayload, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat()).map(([[q, m], at, v, cut]) => {
      const p = encodePayload(q, m);
      p[at % p.length] = v;
      return p.subarray(0, p.length - (cut % 3 === 0 ? cut % p.length : 0));
    });
    const random = fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.of(0x4f, 0x41, 0x01, 0x00, ...b));
    fc.assert(fc.property(fc.oneof(random, edited, fc.uint8Array({ maxLength: 40 })), (p) => {
      for (const rule of ['spec', 'reference'] as const) {
        const r = parsePayload(p, rule);
        const expected = specPayload(p, rule);
        if (r.ok) {
          seen.ok++;
          expect({ quantities: r.quantities, metadata: Buffer.from(r.metadata).toString('hex') }).toEqual(expected);
        } else {
          seen.refused++;
          expect(expected).toBeUndefined();
          expect(r.reason).toMatch(/^[^\n]+$/);
        }
        // A marker script: under the reference rule exactly one push of a payload; under the spec rule the first push that is one.
        const script = Uint8Array.of(0x6a, ...push(p));
        const m = parseMarkerScript(script, rule);
        expect(m.ok).toBe(expected !== undefined);
        if (m.ok) expect({ payload: m.payload, quantities: m.quantities }).toEqual({ payload: p, quantities: expected!.quantities });
        const two = Uint8Array.of(...script, ...push(p));
        expect(parseMarkerScript(two, rule).ok).toBe(rule === 'spec' && expected !== undefined);
      }
    }), { numRuns: 2000 });
    // Both outcomes happened, so neither branch above passed by never running.
    expect(seen.ok).toBeGreaterThan(100);
    expect(seen.refused).toBeGreaterThan(100);
  });

  it('transactions: random bytes, truncations and one-byte edits of real ones are refused E_OA_BAD_TX or parsed to what @scure/btc-signer reads, re-encoding to the input', () => {
    const real = fromHex(scenario().transfer.hex);
    const outcome = { parsed: 0, refused: 0 };
    const check = (b: Uint8Array) => {
      const tx = parsedOrRefused(() => parseRawTx(b), 'E_OA_BAD_TX');
      if (tx === undefined) return void outcome.refused++;
      outcome.parsed++;
      // Another parser reads the same transaction (btc-signer's txid is in display order), and its encoding of it is the input byte for byte.
      const theirs = RawTx.decode(b);
      expect(RawTx.encode(theirs)).toEqual(b);
      expect({
        version: tx.version, locktime: tx.locktime,
        inputs: tx.inputs.map((i) => [i.prevTxid, i.vout, Buffer.from(i.script).toString('hex')]),
        outputs: tx.outputs.map((o) => [o.value, Buffer.from(o.script).toString('hex')]),
      }).toEqual({
        version: theirs.version >>> 0, locktime: theirs.lockTime, // btc-signer reads the version as a signed int32
        inputs: theirs.inputs.map((i) => [Buffer.from(i.txid).toString('hex'), i.index, Buffer.from(i.finalScriptSig).toString('hex')]),
        outputs: theirs.outputs.map((o) => [o.amount, Buffer.from(o.script).toString('hex')]),
      });
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.nat(real.length), fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 }), (cut, at, v) => {
      check(real.subarray(0, cut));
      const edited = Uint8Array.from(real);
      edited[at] = v;
      check(edited);
    }), { numRuns: 2000 });
    expect(outcome.parsed).toBeGreaterThan(100);
    expect(outcome.refused).toBeGreaterThan(100);
  });
  it('a huge declared count is refused at once, not allocated', () => {
    const t0 = Date.now();
    expect(() => parseRawTx(fromHex('02000000ffffffffffffffff7f'))).toThrow(MalformedInputError);
    expect(parsePayload(fromHex('4f410100ffffffffffffffff7f00')).ok).toBe(false);
    expect(Date.now() - t0).toBeLessThan(100);
  });
  it('text input: anything that is not a transaction is refused with one of the input codes', () => {
    const codes = new Set<string>();
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (t) => {
      const e = thrown(() => parseRawTx(txBytesFromText(t)));
      expect(e).toBeInstanceOf(MalformedInputError);
      expect(['E_EMPTY_INPUT', 'E_MALFORMED_JSON', 'E_OA_NO_TX', 'E_MALFORMED_PSBT', 'E_OA_BAD_TX']).toContain(e.code);
      expect(e.message).not.toContain('\n');
      codes.add(e.code);
    }), { numRuns: 1000 });
    expect(codes.size).toBeGreaterThanOrEqual(2);
  });
});

describe('depth guard', () => {
  it('an ancestry deeper than maxDepth is undecided with the reason, never a stack overflow', async () => {
    const s = scenario();
    const txs = [s.funding, s.issuance, s.transfer];
    let prev = s.transfer;
    for (let k = 0; k < 30; k++) {
      prev = buildTx([{ txid: prev.txid, vout: 1 }], [{ value: 0, script: opReturn('4f410100010f00') }, { value: 600, script: p2pkh(OTHER_H160) }]);
      txs.push(prev);
    }
    const map = new Map(txs.map((t) => [t.txid, fromHex(t.hex)]));
    const c = await new Colorer({ rule: 'spec', source: (id) => map.get(id), parse: parseRawTx, maxDepth: 10 }).color(parseRawTx(fromHex(prev.hex)));
    expect(c).toMatchObject({ status: 'undecided', missing: [], reason: expect.stringMatching(/more than 10 Open Assets ancestors/) });
  });
});
