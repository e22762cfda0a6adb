/**
 * Coloring whole transactions through their ancestors: issuance, transfer, a chain of
 * transfers, a missing ancestor named exactly, quantities exceeding the outputs, two
 * OA-looking OP_RETURN outputs under both rules; and the decoders fuzzed (never a crash
 * or a hang: a value, or a coded MalformedInputError).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex } from '../../../src/lib/bytes.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { Colorer, type TxColoring } from '../../../src/lib/openassets/coloring.ts';
import { parseMarkerScript, parsePayload } from '../../../src/lib/openassets/marker.ts';
import { parseRawTx } from '../../../src/lib/openassets/tx.ts';
import { txBytesFromText } from '../../../src/lib/openassets/decode.ts';
import { buildTx, opReturn, OTHER_H160, p2pkh, scenario, SEED_H160 } from './build.ts';

/** hash160 of the seed's P2PKH script: the asset ID AcuRVsoa81hoLHmVTNXrRD8KpTqUXeqwgH (seed_example.json). */
const SEED_ASSET = 'e7c8243041a0c869d4bdf49e91d9a981029202d8';

function colorerOf(txs: { hex: string }[], rule: 'spec' | 'reference' = 'spec') {
  const map = new Map(txs.map((t) => [parseRawTx(fromHex(t.hex)).txid, fromHex(t.hex)]));
  return new Colorer({ rule, source: (id) => map.get(id), parse: parseRawTx });
}
const summary = (c: TxColoring) => c.outputs.map((o) => [o.type, o.assetId, Number(o.quantity)]);

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

describe('decoders never crash or hang (fuzz)', () => {
  const onlyMalformed = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(MalformedInputError);
    }
  };
  it('marker payloads and scripts: always an answer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const p = Uint8Array.of(0x4f, 0x41, 0x01, 0x00, ...b);
      for (const rule of ['spec', 'reference'] as const) {
        expect(typeof parsePayload(p, rule).ok).toBe('boolean');
        expect(typeof parseMarkerScript(Uint8Array.of(0x6a, ...b), rule).ok).toBe('boolean');
        expect(typeof parseMarkerScript(b, rule).ok).toBe('boolean');
      }
    }), { numRuns: 2000 });
  });
  it('transactions: random bytes, truncations and one-byte edits of real ones are parsed or refused as malformed', () => {
    const real = fromHex(scenario().transfer.hex);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlyMalformed(() => parseRawTx(b))), { numRuns: 2000 });
    fc.assert(fc.property(fc.nat(real.length), fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 }), (cut, at, v) => {
      onlyMalformed(() => parseRawTx(real.subarray(0, cut)));
      const edited = Uint8Array.from(real);
      edited[at] = v;
      onlyMalformed(() => parseRawTx(edited));
    }), { numRuns: 2000 });
  });
  it('a huge declared count is refused at once, not allocated', () => {
    const t0 = Date.now();
    expect(() => parseRawTx(fromHex('02000000ffffffffffffffff7f'))).toThrow(MalformedInputError);
    expect(parsePayload(fromHex('4f410100ffffffffffffffff7f00')).ok).toBe(false);
    expect(Date.now() - t0).toBeLessThan(100);
  });
  it('text input: anything that is not a transaction is a coded malformed error', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (t) => onlyMalformed(() => parseRawTx(txBytesFromText(t)))), { numRuns: 1000 });
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
