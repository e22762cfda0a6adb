/**
 * musigKey's cache is keyed by what the key depends on — the participants in KeyAgg order and
 * the merkle root — so a contract's key built from its terms (sorted) and read back from a PSBT
 * in that order is one entry; an explicit order that is not sorted, or another merkle root, is
 * another key. Expected keys come from test/independent/keys.ts (KeyAgg and TapTweak written
 * for the tests), never from the code under test.
 */
import { describe, it, expect } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { musigKey } from '../../../src/lib/musig/keyagg.ts';
import { KeyAggCache } from '../../../src/lib/musig/engine/key-aggregation.ts';
import { nobleBackend } from '../../../src/lib/musig/engine/backend-noble.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { aggregatePlain, keySort, taprootOutput } from '../../independent/keys.ts';
import { publicKeyOf } from '../../independent/secp256k1.ts';

const A = publicKeyOf(fromHex('31'.repeat(32)));
const B = publicKeyOf(fromHex('32'.repeat(32)));
const [LOW, HIGH] = keySort([A, B]) as [Uint8Array, Uint8Array];
const ROOT = fromHex('ab'.repeat(32));

function expected(order: Uint8Array[], merkleRoot?: Uint8Array) {
  const aggregate = aggregatePlain(order);
  return { participants: order.map(toHex), aggregate: toHex(aggregate), output: toHex(taprootOutput(aggregate.slice(1), merkleRoot).outputKey) };
}
const seen = (k: ReturnType<typeof musigKey>) => ({ participants: k.participants.map(toHex), aggregate: toHex(k.aggregatePubkey), output: toHex(k.output.outputKey) });

describe('musigKey: one cache entry per KeyAgg order and merkle root', () => {
  it('sorted from the terms, then read in sorted order from a PSBT: the same key, derived once', () => {
    const fromTerms = musigKey([HIGH, LOW]);
    const fromPsbt = musigKey([LOW, HIGH], { sort: false });
    expect(seen(fromTerms)).toEqual(expected([LOW, HIGH]));
    expect(fromPsbt).toBe(fromTerms);
  });

  it('an explicit order that is not sorted is another key, whatever was cached before', () => {
    musigKey([LOW, HIGH]);
    const unsorted = musigKey([HIGH, LOW], { sort: false });
    expect(seen(unsorted)).toEqual(expected([HIGH, LOW]));
    expect(seen(unsorted).aggregate).not.toBe(expected([LOW, HIGH]).aggregate);
  });

  it('another merkle root is another output key', () => {
    musigKey([LOW, HIGH]);
    const withRoot = musigKey([HIGH, LOW], { merkleRoot: ROOT });
    expect(seen(withRoot)).toEqual(expected([LOW, HIGH], ROOT));
    expect(musigKey([LOW, HIGH], { sort: false, merkleRoot: ROOT })).toBe(withRoot);
  });

  it('a key of another length is refused, never answered from the cache', () => {
    musigKey([LOW, HIGH]);
    const cut = [LOW.subarray(0, 32), Uint8Array.of(...LOW.subarray(32), ...HIGH)];
    expect(() => musigKey(cut, { sort: false })).toThrow();
  });
});

/** `count` public keys of the secrets 1000, 1001, … (inputs only: the assertions are on the cache's identity). */
function manyKeys(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => secp256k1.getPublicKey(fromHex((1000 + i).toString(16).padStart(64, '0')), true));
}

describe('a mint serving many contracts in turn keeps every contract\'s key derived once', () => {
  // The other per-contract caches (credit/codec.ts) hold 4,096; these two held 1,024 and 256, so a
  // mint cycling through more contracts than that derived the key (KeyAgg, TapTweak) on every update.
  it('musigKey: 1,100 contracts in turn, the second round all answered from the cache', () => {
    const others = manyKeys(1100);
    const first = others.map((b) => musigKey([A, b]));
    const again = others.map((b) => musigKey([A, b]));
    expect(again.filter((k, i) => k !== first[i]).length).toBe(0);
  });

  it('the engine\'s KeyAgg cache: 300 key sets in turn, the second round all answered from the cache', () => {
    const cache = new KeyAggCache(nobleBackend);
    const sets = manyKeys(300).map((b) => [A, b]);
    const first = sets.map((keys) => cache.keySet(keys));
    const again = sets.map((keys) => cache.keySet(keys));
    expect(again.filter((k, i) => k !== first[i]).length).toBe(0);
    expect(toHex(again[299]!.pubkeys[1]!)).toBe(toHex(sets[299]![1]!));
  });
});
