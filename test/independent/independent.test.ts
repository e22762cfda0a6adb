/**
 * The independent verifier is itself checked before anything relies on it: its BIP-341
 * sighash against every `sigMsg`, transaction-wide hash and `sigHash` of the wallet
 * vectors, its BIP-340 implementations against every BIP-340 row, its KeyAgg and
 * TapTweak against the BIP-327 and BIP-341 vectors, `verifyKeyPathSpend` on the vectors'
 * signed transaction (and refusing it once tampered with), and — read from the source —
 * that it imports nothing from the product or the libraries the product signs with.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadVector, readVectorText, TEST_DIR } from '../helpers.ts';
import { bip340Sign, bip340Verify, publicKeyOf, xOnly, decodeCompressed } from './secp256k1.ts';
import { aggregatePlain, aggregateXOnly, keySort, taprootOutput } from './keys.ts';
import { keyPathSigHash, keyPathSigMsg, txHashes, VALID_HASH_TYPES } from './sighash.ts';
import { independentSchnorr, productBackends, TEST_CODE_VERIFIER } from './schnorr.ts';
import { bytesOf, hexOf, parseTx } from './tx.ts';
import { base58checkDecode, base58checkEncode, hash160 } from './base58check.ts';
import { IndependentCheckError, VERIFIER, verifyKeyPathSpend, type Prevout } from './verify.ts';
import { verifyP2wshSignature } from './segwit-v0.ts';
import { sha256 as sha256Of } from './secp256k1.ts';
import { descsumCheck, descsumCreate, pkAfterLeaf, pkSha256Leaf, ptlcContract, taprootHtlcContract } from './descriptor.ts';

type WalletVectors = {
  scriptPubKey: {
    given: { internalPubkey: string; scriptTree: unknown };
    intermediary: { merkleRoot: string | null; tweak: string; tweakedPubkey: string };
    expected: { scriptPubKey: string; scriptPathControlBlocks?: string[] };
  }[];
  keyPathSpending: {
    given: { rawUnsignedTx: string; utxosSpent: { scriptPubKey: string; amountSats: number }[] };
    intermediary: Record<'hashAmounts' | 'hashOutputs' | 'hashPrevouts' | 'hashScriptPubkeys' | 'hashSequences', string>;
    inputSpending: {
      given: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number };
      intermediary: { internalPubkey: string; tweak: string; sigMsg: string; sigHash: string; tweakedPrivkey: string };
      expected: { witness: string[] };
    }[];
    auxiliary: { fullySignedTx: string };
  }[];
};
const bip341 = loadVector<WalletVectors>('bips/bip-0341/wallet-test-vectors.json');
const lower = (s: string) => s.toLowerCase();

describe('BIP-341 key-path sighash written in test code, against the wallet vectors', () => {
  it('has the vectors it loops over (1 spend of 7 inputs)', () => {
    expect(bip341.keyPathSpending).toHaveLength(1);
    expect(bip341.keyPathSpending[0]!.inputSpending).toHaveLength(7);
  });

  bip341.keyPathSpending.forEach((spend, s) => {
    const tx = parseTx(spend.given.rawUnsignedTx);
    const spent = spend.given.utxosSpent.map((u) => ({ script: bytesOf(u.scriptPubKey), amount: BigInt(u.amountSats) }));

    it(`spend ${s}: hashPrevouts, hashAmounts, hashScriptPubkeys, hashSequences, hashOutputs`, () => {
      const h = txHashes(tx, spent);
      expect(Object.fromEntries(Object.entries(h).map(([k, v]) => [k, hexOf(v)]))).toEqual(spend.intermediary);
    });

    for (const input of spend.inputSpending) {
      const { txinIndex, hashType } = input.given;
      it(`spend ${s} input ${txinIndex} (hash type 0x${hashType.toString(16).padStart(2, '0')}): sigMsg and sigHash`, () => {
        expect(hexOf(keyPathSigMsg(tx, spent, txinIndex, hashType))).toBe(input.intermediary.sigMsg);
        expect(hexOf(keyPathSigHash(tx, spent, txinIndex, hashType))).toBe(input.intermediary.sigHash);
      });
    }

    it(`spend ${s}: the inputs cover every hash type BIP-341 allows`, () => {
      const covered = new Set(spend.inputSpending.map((i) => i.given.hashType));
      expect(VALID_HASH_TYPES.filter((t) => !covered.has(t))).toEqual([]);
    });

    it(`spend ${s}: an unknown hash type, and SIGHASH_SINGLE without its output, are refused`, () => {
      expect(() => keyPathSigMsg(tx, spent, 0, 0x04)).toThrow(/invalid hash_type/);
      const single = tx.outputs.length; // the first input index with no matching output
      expect(single).toBeLessThan(tx.inputs.length);
      expect(() => keyPathSigMsg(tx, spent, single, 0x03)).toThrow(/SIGHASH_SINGLE/);
    });
  });
});

describe('verifyKeyPathSpend on the BIP-341 signed transaction', () => {
  const spend = bip341.keyPathSpending[0]!;
  const prevouts: Prevout[] = spend.given.utxosSpent.map((u) => ({ script: bytesOf(u.scriptPubKey), amount: BigInt(u.amountSats) }));
  /** Output keys derived here from each input's internal secret key and merkle root. */
  const keys = prevouts.map((_, i) => {
    const input = spend.inputSpending.find((x) => x.given.txinIndex === i);
    if (!input) return null;
    const internal = xOnly(decodeCompressed(publicKeyOf(bytesOf(input.given.internalPrivkey))));
    expect(hexOf(internal)).toBe(input.intermediary.internalPubkey);
    const out = taprootOutput(internal, input.given.merkleRoot === null ? undefined : bytesOf(input.given.merkleRoot));
    expect(hexOf(out.tweak)).toBe(input.intermediary.tweak);
    return out.outputKey;
  });

  it('accepts every taproot key-path input of auxiliary.fullySignedTx, with its vector sighash', () => {
    expect(keys.filter(Boolean)).toHaveLength(7);
    const v = verifyKeyPathSpend(spend.auxiliary.fullySignedTx, prevouts, keys, { hashTypes: VALID_HASH_TYPES });
    for (const input of spend.inputSpending) {
      expect(v.hashTypes[input.given.txinIndex]).toBe(input.given.hashType);
      expect(hexOf(v.sighashes[input.given.txinIndex]!)).toBe(input.intermediary.sigHash);
    }
    // The same transaction as the unsigned one, signatures aside.
    const unsigned = parseTx(spend.given.rawUnsignedTx);
    expect(v.inputs.map((x) => [x.txid, x.vout, x.sequence])).toEqual(unsigned.inputs.map((x) => [x.txid, x.vout, x.sequence]));
    expect(v.outputs).toEqual(unsigned.outputs);
  });

  it('refuses it when an amount, a key, the allowed hash types or a signature is wrong', () => {
    const i = spend.inputSpending[0]!.given.txinIndex;
    const check = (p: Prevout[], k: (Uint8Array | null)[], types = VALID_HASH_TYPES, raw = spend.auxiliary.fullySignedTx) =>
      () => verifyKeyPathSpend(raw, p, k, { hashTypes: types });
    const cheaper = prevouts.map((p, j) => (j === i ? { ...p, amount: p.amount - 1n } : p));
    expect(check(cheaper, keys)).toThrow(IndependentCheckError);
    expect(check(cheaper, keys)).toThrow(/does not verify/);
    const other = keys.map((k, j) => (j === i ? keys.find((x, m) => x && m !== i)! : k));
    expect(check(prevouts, other)).toThrow(/is not OP_1/);
    expect(check(prevouts, keys, [0x00])).toThrow(/hash type 0x/);
    const tampered = spend.auxiliary.fullySignedTx.replace(spend.inputSpending[0]!.expected.witness[0]!, spend.inputSpending[1]!.expected.witness[0]!);
    expect(tampered).not.toBe(spend.auxiliary.fullySignedTx);
    expect(check(prevouts, keys, VALID_HASH_TYPES, tampered)).toThrow(IndependentCheckError);
  });

  it('refuses a prevout list of the wrong length and an outpoint that is not the one spent', () => {
    expect(() => verifyKeyPathSpend(spend.auxiliary.fullySignedTx, prevouts.slice(1), keys.slice(1))).toThrow(/prevouts given/);
    const wrong = prevouts.map((p, j) => (j === 0 ? { ...p, txid: '00'.repeat(32) } : p));
    expect(() => verifyKeyPathSpend(spend.auxiliary.fullySignedTx, wrong, keys, { hashTypes: VALID_HASH_TYPES })).toThrow(/spends/);
  });
});

describe('verifyP2wshSignature (BIP-143 by hand) on BOLT 3 Appendix C: every commitment transaction spends the funding 2-of-2 with both signatures', () => {
  type AppendixC = { parameters: { funding_amount_satoshi: number }; keys: { local_funding_pubkey: string; remote_funding_pubkey: string; funding_witness_script: string }; test_vectors: { name: string; expected_commit_tx_hex: string }[] };
  const c = loadVector<AppendixC>('bolts/bolt03/commitment-tx-test-vectors.json');
  const funding = { amount: BigInt(c.parameters.funding_amount_satoshi), script: bytesOf(`0020${hexOf(sha256Of(bytesOf(c.keys.funding_witness_script)))}`) };
  // The script lists the funding keys in BIP-69 order (local 02 3d… before remote 03 0e…): the witness carries their signatures in that order.
  const [local, remote] = [bytesOf(c.keys.local_funding_pubkey), bytesOf(c.keys.remote_funding_pubkey)];
  it('has the vectors it loops over', () => expect(c.test_vectors.length).toBeGreaterThan(10));
  for (const v of c.test_vectors) {
    it(v.name, () => {
      expect(hexOf(verifyP2wshSignature(v.expected_commit_tx_hex, 0, funding, local, 1))).toBe(c.keys.funding_witness_script);
      verifyP2wshSignature(v.expected_commit_tx_hex, 0, funding, remote, 2);
      expect(() => verifyP2wshSignature(v.expected_commit_tx_hex, 0, funding, remote, 1)).toThrow(/does not verify/);
      expect(() => verifyP2wshSignature(v.expected_commit_tx_hex, 0, { ...funding, amount: funding.amount + 1n }, local, 1)).toThrow(/does not verify/);
    });
  }
});

describe('BIP-340 Verify: every row of test-vectors.csv', () => {
  const rows = readVectorText('bips/bip-0340/test-vectors.csv').split(/\r?\n/).filter(Boolean).slice(1).map((l) => l.split(','));
  it('has 19 rows', () => expect(rows).toHaveLength(19));
  for (const f of rows) {
    const [index, , pk, , msg, sig, result, comment] = f as [string, string, string, string, string, string, string, string];
    const args = [bytesOf(sig), bytesOf(msg), bytesOf(pk)] as const;
    it(`row ${index}: test code says ${result}${comment ? ` (${comment})` : ''}`, () => {
      expect(bip340Verify(...args)).toBe(result === 'TRUE');
    });
  }
  it('the secret-key rows give their public keys through the test-code arithmetic', () => {
    const signing = rows.filter((f) => f[1] !== '');
    expect(signing.length).toBeGreaterThan(0);
    for (const f of signing) expect(hexOf(publicKeyOf(bytesOf(f[1]!))).slice(2)).toBe(lower(f[2]!));
  });
  it('the secret-key rows sign their messages, with their aux_rand, to their signatures through the test-code Sign', () => {
    const signing = rows.filter((f) => f[1] !== '');
    for (const [, sk, , aux, msg, sig] of signing) expect(hexOf(bip340Sign(bytesOf(msg!), bytesOf(sk!), bytesOf(aux!)))).toBe(lower(sig!));
  });
});

describe('keys derived in test code: BIP-327 KeySort and KeyAgg, BIP-341 TapTweak', () => {
  it('key_sort_vectors', () => {
    const v = loadVector('bips/bip-0327/key_sort_vectors.json');
    expect(keySort(v.pubkeys.map(bytesOf)).map(hexOf)).toEqual(v.sorted_pubkeys.map(lower));
  });

  const agg = loadVector('bips/bip-0327/key_agg_vectors.json');
  for (const [n, c] of (agg.valid_test_cases as { key_indices: number[]; expected: string }[]).entries()) {
    it(`key_agg_vectors valid ${n}`, () => {
      expect(hexOf(aggregateXOnly(c.key_indices.map((i) => bytesOf(agg.pubkeys[i]))))).toBe(lower(c.expected));
    });
  }

  it('sig_agg_vectors: each final signature verifies for the tweaked aggregate key (ApplyTweak)', () => {
    const v = loadVector('bips/bip-0327/sig_agg_vectors.json');
    expect(v.valid_test_cases.length).toBeGreaterThan(0);
    for (const c of v.valid_test_cases) {
      const key = aggregateXOnly(c.key_indices.map((i: number) => bytesOf(v.pubkeys[i])), c.tweak_indices.map((i: number) => bytesOf(v.tweaks[i])), c.is_xonly);
      expect(bip340Verify(bytesOf(c.expected), bytesOf(v.msg), key)).toBe(true);
    }
  });

  it('BIP-373: the aggregate key of the three participants', () => {
    const v = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');
    const participants = v.participants.map((p: { pubkey: string }) => bytesOf(p.pubkey));
    expect(hexOf(aggregatePlain(keySort(participants)))).toBe(v.aggregate_pubkey);
  });

  bip341.scriptPubKey.forEach((c, i) => {
    it(`BIP-341 scriptPubKey case ${i}: tweak, output key, scriptPubKey, control-block parity`, () => {
      const out = taprootOutput(bytesOf(c.given.internalPubkey), c.intermediary.merkleRoot === null ? undefined : bytesOf(c.intermediary.merkleRoot));
      expect(hexOf(out.tweak)).toBe(c.intermediary.tweak);
      expect(hexOf(out.outputKey)).toBe(c.intermediary.tweakedPubkey);
      expect(hexOf(out.script)).toBe(c.expected.scriptPubKey);
      for (const cb of c.expected.scriptPathControlBlocks ?? []) expect(bytesOf(cb)[0]! & 1).toBe(out.parity);
    });
  });
});

describe('Base58Check and HASH160 in test code (base58check.ts)', () => {
  it('known addresses: base58check(0x00 || HASH160) of a P2PKH key hash, and the leading-zero rule', () => {
    // 1HpyyiGaXLq7ZCHk3s9EkVEFoG15oLn2Us (test/vectors/openassets/seed_example.json); HASH160("") from the RIPEMD-160 paper's chain.
    expect(base58checkEncode(bytesOf('00b895201a7cfdd91a9bff3b42cd114d42e3a634d2'))).toBe('1HpyyiGaXLq7ZCHk3s9EkVEFoG15oLn2Us');
    expect(hexOf(base58checkDecode('16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM'))).toBe('00010966776006953d5567439e5e39f86a0d273bee');
    expect(hexOf(hash160(new Uint8Array(0)))).toBe('b472a266d0bd89c13706a4132ccfb16f7c3b9fcb');
    expect(base58checkEncode(new Uint8Array(21))).toBe('1111111111111111111114oLvT2');
  });
  it('a one-character change fails the checksum', () => {
    expect(() => base58checkDecode('16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvN')).toThrow(/checksum/);
  });
});

describe('the verifier is never the product\'s own', () => {
  it(`this run uses ${VERIFIER.name}; the product may use ${productBackends().join(', ')}`, async () => {
    expect(productBackends()).not.toContain(VERIFIER.name);
    expect(await independentSchnorr(productBackends())).toMatchObject({ name: VERIFIER.name });
  });

  it('takes the test-code verifier whatever the product may be on', async () => {
    // Unset: a one-shot command doing curve work, and a long-running mode, take the system's libsecp256k1 or native when one loads.
    expect(productBackends({})).toEqual(['noble', 'libsecp256k1', 'native']);
    expect(productBackends({}, { longRunning: true })).toEqual(['noble', 'libsecp256k1', 'native']);
    expect(productBackends({ OFFCHAIN_SECP256K1: 'noble' })).toEqual(['noble']);
    expect(productBackends({ OFFCHAIN_SECP256K1: 'native' })).toEqual(['noble', 'native']);
    expect(productBackends({ OFFCHAIN_SECP256K1: 'libsecp256k1' })).toEqual(['noble', 'libsecp256k1']);
    expect(productBackends({ OFFCHAIN_SECP256K1: 'auto' })).toContain('libsecp256k1');
    for (const env of [{}, { OFFCHAIN_SECP256K1: 'auto' }, { OFFCHAIN_SECP256K1: 'libsecp256k1' }, { OFFCHAIN_SECP256K1: 'noble' }, { OFFCHAIN_SECP256K1: 'native' }, { OFFCHAIN_SECP256K1: 'reference' }]) {
      expect((await independentSchnorr(productBackends(env))).name).toBe(TEST_CODE_VERIFIER.name);
    }
  });

  it('imports nothing from src/, @noble/* or @scure/*: every file under test/**/independent* (read from its source)', () => {
    const files = independentFiles();
    // The glob finds what it must (a glob finding nothing would pass vacuously), the BOLT 3 checker included.
    expect(files).toEqual(expect.arrayContaining([
      ...['secp256k1.ts', 'keys.ts', 'tx.ts', 'sighash.ts', 'schnorr.ts', 'verify.ts', 'base58check.ts', 'descriptor.ts', 'invoice.ts'].map((f) => `independent/${f}`),
      'lib/bolt3/independent-p2wsh.ts',
    ]));
    for (const f of files) {
      // Static imports and re-exports (`import … from '…'`, `import '…'`, `export … from '…'`) and dynamic import('…').
      // Comments are left out first (they quote imports: this file's do).
      const source = readFileSync(join(TEST_DIR, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
      const specifiers = [...source.matchAll(/^\s*(?:import|export)\b[^;'"]*\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/gm)]
        .map((m) => (m[1] ?? m[2] ?? m[3])!);
      // Any other reach for a module (require, a template-string import) is refused outright.
      expect(source, f).not.toMatch(/\brequire\s*\(|\bimport\s*\(\s*`/);
      expect(specifiers.length, f).toBeGreaterThan(0);
      for (const s of specifiers) {
        if (s.startsWith('.')) {
          // A relative import must land on another independent file (or the vector loader test/helpers.ts).
          const target = relative(TEST_DIR, resolve(dirname(join(TEST_DIR, f)), s));
          expect(files.includes(target) || target === 'helpers.ts', `${f} imports ${s} (${target}), which is not under test/**/independent*`).toBe(true);
        } else expect(s, `${f} imports ${s}`).toMatch(/^(node:[\w/]+|vitest)$/);
      }
    }
  });
});

/** Every .ts file under test/ whose name, or a folder on whose path, starts with `independent` (relative to test/). */
function independentFiles(dir = TEST_DIR, inside = false): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    const named = inside || e.name.startsWith('independent');
    if (e.isDirectory()) return e.name === 'vectors' || e.name === 'node_modules' ? [] : independentFiles(path, named);
    return named && e.name.endsWith('.ts') ? [relative(TEST_DIR, path)] : [];
  }).sort();
}

describe('descriptors derived in test code (./descriptor.ts)', () => {
  it('BIP-380 checksum on BIP-380\'s own examples: raw(deadbeef)#89f8spxm valid, each listed corruption invalid', () => {
    expect(descsumCreate('raw(deadbeef)')).toBe('raw(deadbeef)#89f8spxm');
    expect(descsumCheck('raw(deadbeef)#89f8spxm')).toBe(true);
    for (const bad of ['raw(deadbeef)#', 'raw(deadbeef)#89f8spxmx', 'raw(deadbeef)#89f8spx', 'raw(deedbeef)#89f8spxm', 'raw(deedbeef)##9f8spxm', 'raw(Ü)#00000000']) {
      expect(descsumCheck(bad), bad).toBe(false);
    }
  });

  it('miniscript fragments compiled as the miniscript table says, byte for byte', () => {
    const k = new Uint8Array(32).fill(0xaa);
    const h = new Uint8Array(32).fill(0xbb);
    expect(hexOf(pkSha256Leaf(k, h))).toBe('20' + 'aa'.repeat(32) + 'ad' + '82' + '0120' + '88' + 'a8' + '20' + 'bb'.repeat(32) + '87');
    expect(hexOf(pkAfterLeaf(k, 1100))).toBe('20' + 'aa'.repeat(32) + 'ad' + '024c04' + 'b1'); // 1100 = 0x044c
    expect(hexOf(pkAfterLeaf(k, 16))).toBe('20' + 'aa'.repeat(32) + 'ad' + '60' + 'b1'); // OP_16
    expect(hexOf(pkAfterLeaf(k, 128))).toBe('20' + 'aa'.repeat(32) + 'ad' + '028000' + 'b1'); // sign byte
    expect(hexOf(pkAfterLeaf(k, 500_000_000))).toBe('20' + 'aa'.repeat(32) + 'ad' + '040065cd1d' + 'b1');
  });

  it('swapping payer and recipient (or payee) changes the derived descriptor and output', () => {
    const a = publicKeyOf(new Uint8Array(32).fill(1));
    const b = publicKeyOf(new Uint8Array(32).fill(2));
    const h = new Uint8Array(32).fill(3);
    const x = taprootHtlcContract({ payer: a, recipient: b, paymentHash: h, locktime: 1100 });
    const y = taprootHtlcContract({ payer: b, recipient: a, paymentHash: h, locktime: 1100 });
    expect(x.descriptor).not.toBe(y.descriptor);
    expect(hexOf(x.output.outputKey)).not.toBe(hexOf(y.output.outputKey));
    expect(descsumCheck(x.descriptor) && descsumCheck(y.descriptor)).toBe(true);
    expect(ptlcContract({ payer: a, payee: b, locktime: 1100 }).descriptor).not.toBe(ptlcContract({ payer: b, payee: a, locktime: 1100 }).descriptor);
  });
});
