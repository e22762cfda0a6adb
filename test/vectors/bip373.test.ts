/**
 * BIP-373 (MuSig2 PSBT fields) valid vectors (bip-0373/musig2-psbt-test-vectors.json)
 * through our MuSig2 key-path code (src/lib/musig/psbt-keypath.ts, finalize.ts) and
 * Extractor (src/lib/psbt/roles.ts): `readMusigInput` → `verifyPartialSigs` →
 * `finalSignature`, then `finalizeAll` → `extractTransaction`, and the extracted spend
 * checked by the independent verifier (test/independent/) against the output key test
 * code derives from the three participants.
 *
 * Parsing the valid and invalid PSBTs is test/lib/psbt/parse.test.ts's job; the role
 * analysis of every case is test/lib/psbt/analyze.test.ts's.
 *
 * Cases our signing code refuses are listed in `UNSUPPORTED` with the one error code
 * and the reason; a case in neither list fails, and so does a listed case that stops
 * being refused (then it belongs in the supported loop).
 */
import { describe, it, expect } from 'vitest';
import { loadVector } from '../helpers.ts';
import { parsePsbt } from '../../src/lib/psbt/parse.ts';
import { finalSignature, readMusigInput, verifyPartialSigs } from '../../src/lib/musig/psbt-keypath.ts';
import { finalizeAll } from '../../src/lib/musig/finalize.ts';
import { extractTransaction } from '../../src/lib/psbt/roles.ts';
import { InvalidContributionError, OffchainError } from '../../src/lib/errors.ts';
import { aggregatePlain, keySort, taprootOutput } from '../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx, psbtWitnessUtxos } from '../independent/tx.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';

type Case = { description: string; case: string; variant: string; hex: string };
const v = loadVector<{ aggregate_pubkey: string; participants: { pubkey: string }[]; valid: { cases: Case[] } }>('bips/bip-0373/musig2-psbt-test-vectors.json');
const PARTICIPANTS = v.participants.map((p) => p.pubkey);

/** The key-path spend our code signs: a BIP-341 output whose internal key is the MuSig2 aggregate. */
const SUPPORTED = 'Spend of a Taproot output where the internal key is a MuSig2 Aggregate Pubkey';

/** Cases our MuSig2 signing code refuses, each with the one code it refuses with and why. */
const UNSUPPORTED: Record<string, { code: string; reason: string }> = {
  'Spend of a Taproot output where the output key is a MuSig2 Aggregate Pubkey': {
    code: 'E_KEY_MISMATCH',
    reason: 'the output key is the untweaked aggregate; our MuSig2 outputs always carry the BIP-341 TapTweak of the aggregate (keyagg.ts)',
  },
  'Spend of a Taproot output where a key in a script is a MuSig2 Aggregate Pubkey': {
    code: 'E_MUSIG_FIELDS',
    reason: 'script-path MuSig2 (leaf-hash-keyed fields) is deliberately absent (psbt-keypath.ts header)',
  },
  'Spend of a Taproot output where the internal key is derived from a MuSig2 Aggregate Pubkey': {
    code: 'E_MUSIG_FIELDS',
    reason: 'BIP-32-derived aggregate keys are deliberately absent (psbt-keypath.ts header)',
  },
  'Receiving a Taproot output where the internal key is a MuSig2 Aggregate Pubkey': {
    code: 'E_MUSIG_FIELDS',
    reason: 'a receiving PSBT carries the participants on its output; its input has nothing to sign with MuSig2',
  },
  'Receiving a Taproot output where the internal key is derived from a MuSig2 Aggregate Pubkey': {
    code: 'E_MUSIG_FIELDS',
    reason: 'a receiving PSBT carries the participants on its output; its input has nothing to sign with MuSig2',
  },
};

const supported = v.valid.cases.filter((c) => c.case === SUPPORTED);
const variant = (name: string) => supported.find((c) => c.variant === name)!;

/** The output key and prevout of the vectors' input, derived and read by test code. */
function independentView(c: Case) {
  const psbt = bytesOf(c.hex);
  const input = psbtUnsignedTx(psbt).inputs[0]!;
  const utxo = psbtWitnessUtxos(psbt)[0]!;
  const aggregate = aggregatePlain(keySort(PARTICIPANTS.map(bytesOf)));
  const output = taprootOutput(aggregate.subarray(1));
  return { prevout: { txid: input.txid, vout: input.vout, amount: utxo.amount, script: utxo.script }, aggregate, output };
}

describe('BIP-373 vectors through our MuSig2 key-path code', () => {
  it('every valid case is either signed here or listed with the reason it is refused', () => {
    expect(v.valid.cases).toHaveLength(14);
    expect(v.valid.cases.filter((c) => c.case !== SUPPORTED && !UNSUPPORTED[c.case])).toEqual([]);
    expect(supported.map((c) => c.variant)).toEqual(['With participant pubkeys only', 'With all pubnonces', 'With all partial signatures']);
  });

  for (const c of supported) {
    it(`${c.variant}: readMusigInput finds the aggregate key, the output key test code derives, and what the stage holds`, () => {
      const { aggregate, output } = independentView(c);
      expect(hexOf(aggregate)).toBe(v.aggregate_pubkey);
      const input = readMusigInput(parsePsbt(bytesOf(c.hex)), 0);
      expect(hexOf(input.key.aggregatePubkey)).toBe(v.aggregate_pubkey);
      expect(hexOf(input.key.output.outputKey)).toBe(hexOf(output.outputKey));
      // BIP-373: key-path fields are keyed by the output key Q, compressed with its parity.
      expect(hexOf(input.signingKey)).toBe(`0${2 + output.parity}${hexOf(output.outputKey)}`);
      expect(input.key.participants.map(hexOf).sort()).toEqual([...PARTICIPANTS].sort());
      const stage = ['With participant pubkeys only', 'With all pubnonces', 'With all partial signatures'].indexOf(c.variant);
      expect(input.pubnonces.filter(Boolean)).toHaveLength(stage >= 1 ? 3 : 0);
      expect(input.partialSigs.filter(Boolean)).toHaveLength(stage >= 2 ? 3 : 0);
    });
  }

  /** The vector's "all partial signatures" PSBT as a finalizer receives it: its PSBT_IN_TAP_KEY_SIG taken out. */
  function withoutTapKeySig(): { tx: ReturnType<typeof parsePsbt>; vectorSig: Uint8Array } {
    const tx = parsePsbt(bytesOf(variant('With all partial signatures').hex));
    const vectorSig = tx.getInput(0).tapKeySig!;
    expect(vectorSig).toHaveLength(64);
    tx.updateInput(0, { tapKeySig: undefined });
    expect(tx.getInput(0).tapKeySig).toBeUndefined();
    return { tx, vectorSig };
  }

  it('With all partial signatures: each verifies, they aggregate to the vector\'s PSBT_IN_TAP_KEY_SIG, and the extracted spend verifies independently', () => {
    const { tx, vectorSig } = withoutTapKeySig();
    const input = readMusigInput(tx, 0);
    verifyPartialSigs(input);
    const sig = finalSignature(input);
    expect(hexOf(sig)).toBe(hexOf(vectorSig)); // 64 bytes: SIGHASH_DEFAULT
    finalizeAll(tx);
    expect(tx.getInput(0).finalScriptWitness!.map(hexOf)).toEqual([hexOf(sig)]);
    const extracted = extractTransaction(tx);
    const { prevout, output } = independentView(variant('With all partial signatures'));
    const spent = verifyKeyPathSpend(extracted.hex, [prevout], output.outputKey);
    expect(hexOf(spent.inputs[0]!.witness[0]!)).toBe(hexOf(sig));
    expect(spent.txid).toBe(extracted.txid);
  });

  it('With all partial signatures and the vector\'s PSBT_IN_TAP_KEY_SIG: finalizeAll takes it as it verifies; one flipped bit of it is E_BAD_SIGNATURE, no witness', () => {
    const good = parsePsbt(bytesOf(variant('With all partial signatures').hex));
    const sig = good.getInput(0).tapKeySig!;
    finalizeAll(good);
    expect(good.getInput(0).finalScriptWitness!.map(hexOf)).toEqual([hexOf(sig)]);
    const bad = parsePsbt(bytesOf(variant('With all partial signatures').hex));
    const flipped = Uint8Array.from(sig);
    flipped[63] = flipped[63]! ^ 1;
    bad.updateInput(0, { tapKeySig: flipped }, true);
    expect(() => finalizeAll(bad)).toThrow(expect.objectContaining({ code: 'E_BAD_SIGNATURE', exitCode: 4 }));
    expect(bad.getInput(0).finalScriptWitness).toBeUndefined();
  });

  it('With all partial signatures, one corrupted: finalizeAll blames its participant (E_BAD_PARTIAL_SIG) and writes no witness', () => {
    for (let j = 0; j < 3; j++) {
      const { tx } = withoutTapKeySig();
      const sigs = tx.getInput(0).musig2PartialSig!;
      const [key, psig] = sigs[j]!;
      const bad = Uint8Array.from(psig);
      bad[31] = bad[31]! ^ 1;
      tx.updateInput(0, { musig2PartialSig: undefined });
      tx.updateInput(0, { musig2PartialSig: sigs.map((e, i) => (i === j ? [key, bad] : e)) });
      let caught: unknown;
      try {
        finalizeAll(tx);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidContributionError);
      expect(caught).toMatchObject({ code: 'E_BAD_PARTIAL_SIG', participant: hexOf(key.participantPubkey) });
      expect(tx.getInput(0).tapKeySig).toBeUndefined();
      expect(tx.getInput(0).finalScriptWitness).toBeUndefined();
    }
  });

  it('With participant pubkeys only / all pubnonces: finalSignature refuses, naming every missing participant', () => {
    for (const name of ['With participant pubkeys only', 'With all pubnonces']) {
      const input = readMusigInput(parsePsbt(bytesOf(variant(name).hex)), 0);
      let caught: unknown;
      try {
        finalSignature(input);
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ code: 'E_MISSING_PARTIAL_SIGS' });
      expect((caught as OffchainError).message).toContain(PARTICIPANTS[0]);
    }
  });

  for (const c of v.valid.cases.filter((x) => x.case !== SUPPORTED)) {
    const listed = UNSUPPORTED[c.case];
    it(`refused as listed: ${c.description} (${listed?.code ?? 'NOT LISTED'}: ${listed?.reason ?? 'add it to UNSUPPORTED or support it'})`, () => {
      expect(listed, `${c.case} is neither supported nor listed`).toBeDefined();
      const tx = parsePsbt(bytesOf(c.hex)); // every valid vector parses; only our signing refuses it
      let caught: unknown;
      try {
        readMusigInput(tx, 0);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(OffchainError);
      expect((caught as OffchainError).code).toBe(listed!.code);
    });
  }
});
