/**
 * analyzePsbt: the next BIP-174 role, MuSig2-aware (BIP-373). The three stages of each
 * BIP-373 key-path case (participants only → all nonces → all partial signatures) must give
 * signer → signer → finalizer, naming exactly who is missing and who has contributed.
 */
import { describe, expect, it } from 'vitest';
import { hex } from '@scure/base';
import { loadVector } from '../../helpers.ts';
import { toJsonValue } from '../../../src/lib/json.ts';
import { analyzePsbt } from '../../../src/lib/psbt/analyze.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { extractTransaction } from '../../../src/lib/psbt/roles.ts';

type Case = { description: string; case?: string; variant?: string; hex: string };
const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const bip373 = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');
const PARTICIPANTS: string[] = bip373.participants.map((p: { pubkey: string }) => p.pubkey);
const cases373 = bip373.valid.cases as Case[];
const analyzeHex = (h: string) => toJsonValue(analyzePsbt(parsePsbt(hex.decode(h), { scriptChecks: false }))) as any;
const stagesOf = (name: string) => ['With participant pubkeys only', 'With all pubnonces', 'With all partial signatures'].map(
  (variant) => cases373.find((c) => c.case === name && c.variant === variant)!,
);

describe('analyzePsbt: a narrated MuSig2 key-path spend', () => {
  const [participantsOnly, allNonces, allPartialSigs] = stagesOf('Spend of a Taproot output where the output key is a MuSig2 Aggregate Pubkey');

  it('stage 1: the signers must first send their public nonces', () => {
    const a = analyzeHex(participantsOnly!.hex);
    expect(a.next).toBe('signer');
    expect(a.inputs[0].missing).toEqual({ musig2_pubnonces: PARTICIPANTS, musig2_partial_sigs: PARTICIPANTS });
    expect(a.inputs[0].musig2[0]).toMatchObject({ path: 'key', pubnonces_from: [], partial_sigs_from: [], next: 'signer' });
    expect(a.summary).toBe('next: signer — input 0: waiting for MuSig2 public nonces from 02346b99…, 024fafd6…, 02f9308a… (0 of 3 in)');
  });

  it('stage 2: all nonces are in, the partial signatures are missing', () => {
    const a = analyzeHex(allNonces!.hex);
    expect(a.next).toBe('signer');
    expect(a.inputs[0].missing).toEqual({ musig2_partial_sigs: PARTICIPANTS });
    expect(a.inputs[0].musig2[0]).toMatchObject({ pubnonces_from: PARTICIPANTS, missing_pubnonces: [], partial_sigs_from: [] });
  });

  it('stage 3: all partial signatures are in; aggregating them is the finalizer’s job', () => {
    const a = analyzeHex(allPartialSigs!.hex);
    expect(a.next).toBe('finalizer');
    expect(a.inputs[0].missing).toBeUndefined();
    expect(a.inputs[0].musig2[0]).toMatchObject({ partial_sigs_from: PARTICIPANTS, missing_partial_sigs: [], has_signature: false, next: 'finalizer' });
  });

  it('names the one participant still missing', () => {
    const tx = parsePsbt(hex.decode(allPartialSigs!.hex));
    const [key] = tx.getInput(0).musig2PartialSig!.find(([k]) => hex.encode(k.participantPubkey) === PARTICIPANTS[1])!;
    tx.updateInput(0, { musig2PartialSig: [[key, undefined as unknown as Uint8Array]] });
    const a = toJsonValue(analyzePsbt(parsePsbt(serializePsbt(tx)))) as any;
    expect(a.next).toBe('signer');
    expect(a.inputs[0].missing).toEqual({ musig2_partial_sigs: [PARTICIPANTS[1]] });
    expect(a.inputs[0].musig2[0].partial_sigs_from).toEqual([PARTICIPANTS[0], PARTICIPANTS[2]]);
    expect(a.summary).toContain('waiting for MuSig2 partial signatures from 024fafd6… (2 of 3 in)');
  });

  it('and the one public nonce still missing', () => {
    const tx = parsePsbt(hex.decode(allNonces!.hex));
    const [key] = tx.getInput(0).musig2PubNonce!.find(([k]) => hex.encode(k.participantPubkey) === PARTICIPANTS[2])!;
    tx.updateInput(0, { musig2PubNonce: [[key, undefined as unknown as Uint8Array]] });
    const a = toJsonValue(analyzePsbt(tx)) as any;
    expect(a.inputs[0].missing.musig2_pubnonces).toEqual([PARTICIPANTS[2]]);
    expect(a.inputs[0].musig2[0].pubnonces_from).toEqual([PARTICIPANTS[0], PARTICIPANTS[1]]);
  });
});

describe('every BIP-373 key-path case goes signer → signer → finalizer', () => {
  const keyPathCases = [
    'Spend of a Taproot output where the output key is a MuSig2 Aggregate Pubkey',
    'Spend of a Taproot output where the internal key is a MuSig2 Aggregate Pubkey',
    'Spend of a Taproot output where the internal key is derived from a MuSig2 Aggregate Pubkey',
  ];
  for (const name of keyPathCases) {
    it(name, () => {
      const stages = stagesOf(name).map((c) => analyzeHex(c.hex));
      expect(stages.map((a) => a.next)).toEqual(['signer', 'signer', 'finalizer']);
      expect(stages[0].inputs[0].missing.musig2_pubnonces).toEqual(PARTICIPANTS);
      expect(stages[1].inputs[0].missing).toEqual({ musig2_partial_sigs: PARTICIPANTS });
      for (const a of stages) {
        const session = a.inputs[0].musig2[0];
        expect(session.path).toBe('key');
        expect(session.aggregate_pubkey).toBe(bip373.aggregate_pubkey);
        expect(session.participant_pubkeys).toEqual(PARTICIPANTS);
      }
      // The key-path session signs for the output key in the spent scriptPubKey.
      const spk = stagesOf(name)[0]!.hex;
      expect(spk).toContain(`5120${stages[0].inputs[0].musig2[0].signing_key}`);
      expect(stages[2].inputs[0].musig2[0].partial_sigs_from).toEqual(PARTICIPANTS);
    });
  }

  it('the script-path case is followed per leaf', () => {
    const stages = stagesOf('Spend of a Taproot output where a key in a script is a MuSig2 Aggregate Pubkey').map((c) => analyzeHex(c.hex));
    expect(stages.map((a) => a.next)).toEqual(['signer', 'signer', 'finalizer']);
    for (const a of stages) expect(a.inputs[0].musig2[0]).toMatchObject({ path: 'script', leaf_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('receiving cases: a P2WPKH input waits for its one signature', () => {
    const receiving = cases373.filter((x) => x.description.startsWith('Receiving'));
    expect(receiving.map((c) => c.description)).toEqual([
      'Receiving a Taproot output where the internal key is a MuSig2 Aggregate Pubkey',
      'Receiving a Taproot output where the internal key is derived from a MuSig2 Aggregate Pubkey',
    ]);
    for (const c of receiving) {
      const a = analyzeHex(c.hex);
      expect(a.next).toBe('signer');
      expect(a.inputs[0].missing.signatures).toHaveLength(1);
      expect(a.inputs[0].musig2).toBeUndefined();
    }
  });
});

describe('BIP-174 role workflow, step by step', () => {
  const steps = bip174.role_workflow.steps as { role: string; expected_psbt?: { hex: string }; expected_tx_hex?: string }[];
  const expectedNext: Record<string, string> = {
    creator: 'updater',
    updater: 'signer',
    signer: 'signer',
    combiner: 'finalizer',
    input_finalizer: 'extractor',
  };
  for (const [i, step] of steps.entries()) {
    if (!step.expected_psbt) continue;
    it(`after the ${step.role} (step ${i + 1}) the next role is ${expectedNext[step.role]}`, () => {
      expect(analyzeHex(step.expected_psbt!.hex).next).toBe(expectedNext[step.role]);
    });
  }

  it('after the creator, both inputs lack their UTXO', () => {
    const a = analyzeHex(steps[0]!.expected_psbt!.hex);
    expect(a.inputs.map((x: any) => x.missing)).toEqual([{ utxo: true }, { utxo: true }]);
    expect(a.inputs.every((x: any) => x.has_utxo === false)).toBe(true);
  });

  it('a signer names the multisig keys still to sign', () => {
    const a = analyzeHex(steps[3]!.expected_psbt!.hex);
    expect(a.inputs[0].missing.signatures).toEqual(['02dab61ff49a14db6a7d02b0cd1fbb78fc4b18312b5b4e54dae4dba2fbfef536d7']);
    expect(a.inputs[1].missing.signatures).toEqual(['023add904f3d6dcf59ddb906b0dee23529b7ffb9ed50e5e86151926860221f0e73']);
  });

  it('estimates the vsize: exact once finalized, an upper bound before', () => {
    const finalized = steps.find((s) => s.role === 'input_finalizer')!.expected_psbt!.hex;
    const combined = steps.find((s) => s.role === 'combiner')!.expected_psbt!.hex;
    const actual = extractTransaction(parsePsbt(hex.decode(finalized))).vsize;
    expect(analyzeHex(finalized).estimated_vsize).toBe(actual);
    const estimate = analyzeHex(combined).estimated_vsize;
    expect(estimate).toBeGreaterThanOrEqual(actual);
    expect(estimate - actual).toBeLessThanOrEqual(2); // 72-byte signature estimate vs 71-72 real
    const a = analyzeHex(combined);
    expect(a.estimated_feerate_sat_per_kvb).toBe(Math.floor((a.fee_sat * 1000) / estimate));
  });
});

describe('BIP-174 "fails signer checks" PSBTs need the updater', () => {
  const cases = bip174.fails_signer_checks.cases as Case[];
  it('a witness UTXO on a non-witness input: the previous transaction is missing', () => {
    const a = analyzeHex(cases[0]!.hex);
    expect(a.next).toBe('updater');
    expect(a.inputs[0].missing).toEqual({ non_witness_utxo: true });
  });
  for (const [i, input, text] of [
    [1, 0, 'redeem_script does not hash'],
    [2, 1, 'redeem_script does not hash'],
    [3, 1, 'witness_script does not hash'],
  ] as const) {
    it(cases[i]!.description, () => {
      const a = analyzeHex(cases[i]!.hex);
      expect(a.next).toBe('updater');
      expect(a.inputs[input].error).toContain(text);
    });
  }
});

describe('edge cases', () => {
  it('a transaction without inputs needs the creator', () => {
    const a = analyzeHex((bip174.valid.cases[8] as Case).hex);
    expect(a.next).toBe('creator');
    expect(a.error).toBe('the transaction has no inputs');
  });
  it('a missing redeem script is the updater’s job, named by its hash', () => {
    const c = bip174.valid.cases[1] as Case; // input 1 is P2SH-P2WPKH with its redeem script
    const tx = parsePsbt(hex.decode(c.hex));
    tx.updateInput(1, { redeemScript: undefined });
    const a = toJsonValue(analyzePsbt(tx)) as any;
    expect(a.inputs[1].next).toBe('updater');
    expect(a.inputs[1].missing.redeem_script).toBe('3545e6e33b832c47050f24d3eeb93c9c03948bc7');
    expect(a.inputs[0]).toMatchObject({ is_final: true, next: 'extractor' });
  });
  it('the summary is one line', () => {
    for (const c of [...(bip174.valid.cases as Case[]), ...cases373]) expect(analyzeHex(c.hex).summary).toMatch(/^next: [a-z]+ — [^\n]+$/);
  });
});
