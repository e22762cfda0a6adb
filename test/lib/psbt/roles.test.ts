/**
 * The BIP-174 role workflow (creator → updater → signer ×2 → combiner → finalizer →
 * extractor) and the unknown-keys combiner vector, through our own code wherever the
 * project has the role:
 *
 * - every stage's PSBT through our reader and writer (`parsePsbt`, `serializePsbt`) and
 *   our `analyzePsbt`, which must name the role the BIP's next step plays and, for the
 *   signers, exactly the keys the vector has not signed with yet;
 * - Combiner: `combinePsbts`; Input Finalizer: `finalizeAll` (src/lib/musig/finalize.ts,
 *   what `psbt finalize` runs); Transaction Extractor: `extractTransaction`.
 *
 * The project has no Creator, Updater or Signer for these scripts (P2SH and P2SH-P2WSH
 * multisig): protocol modules create and sign their own transactions. Those steps are
 * done with @scure/btc-signer here and their output is compared, byte for byte, through
 * our writer.
 *
 * Byte-exact: creator, both updaters, both signers (btc-signer signs with RFC 6979 and low S,
 * as the BIP's signer does), the finalizer, the extractor, and the unknown-keys combiner.
 * The workflow combiner holds exactly the BIP's records but orders input 1's two
 * PSBT_IN_PARTIAL_SIG records by public key (btc-signer, and BIP-174's own "combiner which
 * orders keys lexicographically" vector) where the BIP, written with Bitcoin Core, orders them
 * by HASH160 of the key. BIP-174 fixes no order within a map, and the finalizer output that
 * follows is byte-identical either way.
 */
import { describe, expect, it } from 'vitest';
import { createBase58check, hex } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction, TEST_NETWORK, WIF, bip32Path } from '@scure/btc-signer';
import { loadVector } from '../../helpers.ts';
import { MalformedInputError, RefusedError, UsageError } from '../../../src/lib/errors.ts';
import { combinePsbts, extractTransaction } from '../../../src/lib/psbt/roles.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { analyzePsbt } from '../../../src/lib/psbt/analyze.ts';
import { finalizeAll } from '../../../src/lib/musig/finalize.ts';
import { encodeMaps, rawMaps, recordSet } from './raw.ts';

const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const workflow = bip174.role_workflow;
const step = (role: string, nth = 0) => workflow.steps.filter((s: { role: string }) => s.role === role)[nth];
const expectedHex = (role: string, nth = 0): string => step(role, nth).expected_psbt.hex;

/** Master key fingerprint of the BIP's tprv, without a BIP-32 library: HASH160(master pubkey)[0..4]. */
function masterFingerprint(): number {
  const raw = createBase58check(sha256).decode(workflow.master_key.extended_private_key);
  const pub = secp256k1.getPublicKey(raw.subarray(46, 78), true);
  const fp = ripemd160(sha256(pub));
  return ((fp[0]! << 24) | (fp[1]! << 16) | (fp[2]! << 8) | fp[3]!) >>> 0;
}

describe('BIP-174 role workflow', () => {
  it('creator: byte-exact', () => {
    const { outputs, spends } = step('creator').inputs;
    const tx = new Transaction({ version: 2, lockTime: 0 });
    for (const s of spends) tx.addInput({ txid: s.txid, index: s.vout, sequence: 0xffffffff });
    for (const o of outputs) tx.addOutput({ script: hex.decode(o.script_pubkey), amount: BigInt(o.amount_sat) });
    expect(hex.encode(serializePsbt(tx))).toBe(expectedHex('creator'));
  });

  it('updater (UTXOs, scripts, derivations): byte-exact', () => {
    const u = step('updater', 0).inputs;
    const fingerprint = masterFingerprint();
    const der = (i: number) => [hex.decode(u.public_keys[i].pubkey), { fingerprint, path: bip32Path(u.public_keys[i].derivation_path) }] as [Uint8Array, { fingerprint: number; path: number[] }];
    const prev: { raw: Uint8Array; tx: Transaction }[] = u.previous_transactions.map((h: string) => ({ raw: hex.decode(h), tx: Transaction.fromRaw(hex.decode(h), { allowUnknownOutputs: true }) }));
    const tx = parsePsbt(hex.decode(expectedHex('creator')));
    const spending = (i: number) => prev.find((p) => p.tx.id === hex.encode(tx.getInput(i).txid!))!;
    // Input 0 is P2SH multisig (legacy: the whole previous tx); input 1 is P2SH-P2WSH (witness UTXO).
    tx.updateInput(0, { nonWitnessUtxo: spending(0).raw, redeemScript: hex.decode(u.redeem_scripts[0]), bip32Derivation: [der(0), der(1)] });
    const out = spending(1).tx.getOutput(tx.getInput(1).index!);
    tx.updateInput(1, {
      witnessUtxo: { amount: out.amount!, script: out.script! },
      redeemScript: hex.decode(u.redeem_scripts[1]),
      witnessScript: hex.decode(u.witness_scripts[0]),
      bip32Derivation: [der(2), der(3)],
    });
    tx.updateOutput(0, { bip32Derivation: [der(4)] });
    tx.updateOutput(1, { bip32Derivation: [der(5)] });
    expect(hex.encode(serializePsbt(tx))).toBe(expectedHex('updater', 0));
  });

  it('updater (SIGHASH_ALL): byte-exact', () => {
    const tx = parsePsbt(hex.decode(expectedHex('updater', 0)));
    for (let i = 0; i < tx.inputsLength; i++) tx.updateInput(i, { sighashType: 1 });
    expect(hex.encode(serializePsbt(tx))).toBe(expectedHex('updater', 1));
  });

  for (const nth of [0, 1]) {
    it(`signer ${nth + 1}: byte-exact (RFC 6979)`, () => {
      const tx = parsePsbt(hex.decode(expectedHex('updater', 1)));
      for (const k of step('signer', nth).inputs.private_keys) expect(tx.sign(WIF(TEST_NETWORK).decode(k.wif), [1])).toBe(1);
      expect(hex.encode(serializePsbt(tx))).toBe(expectedHex('signer', nth));
    });
  }

  it('combiner: the same records as the BIP, in lexicographic key order', () => {
    const combined = hex.encode(combinePsbts([hex.decode(expectedHex('signer', 0)), hex.decode(expectedHex('signer', 1))]));
    const expected = expectedHex('combiner');
    const got = rawMaps(combined);
    const want = rawMaps(expected);
    expect(got.map(recordSet)).toEqual(want.map(recordSet));
    // The only difference is the order of input 1's partial signatures (see the header).
    const partialSigKeys = (maps: typeof got) => maps[2]!.filter((r) => r.type === 2).map((r) => r.keyData);
    expect(partialSigKeys(got)).toEqual([...partialSigKeys(want)].sort());
    // Either order of the signer PSBTs gives the same result.
    expect(hex.encode(combinePsbts([hex.decode(expectedHex('signer', 1)), hex.decode(expectedHex('signer', 0))]))).toBe(combined);
  });

  it('finalizer (finalizeAll) on our combined PSBT: byte-exact', () => {
    const tx = parsePsbt(combinePsbts([hex.decode(expectedHex('signer', 0)), hex.decode(expectedHex('signer', 1))]));
    finalizeAll(tx);
    expect(hex.encode(serializePsbt(tx))).toBe(expectedHex('input_finalizer'));
  });

  it('finalizeAll refuses a PSBT one signer short (E_PSBT_INCOMPLETE) and finalizes nothing', () => {
    const tx = parsePsbt(hex.decode(expectedHex('signer', 0)));
    expect(() => finalizeAll(tx)).toThrow(expect.objectContaining({ code: 'E_PSBT_INCOMPLETE' }));
    expect(tx.getInput(0).finalScriptSig).toBeUndefined();
    expect(tx.getInput(1).finalScriptWitness).toBeUndefined();
  });

  it('extractor: byte-exact network transaction', () => {
    const extracted = extractTransaction(parsePsbt(hex.decode(expectedHex('input_finalizer'))));
    const expected = step('transaction_extractor').expected_tx_hex as string;
    expect(hex.encode(extracted.hex)).toBe(expected);
    expect(extracted.txid).toBe(Transaction.fromRaw(hex.decode(expected)).id);
    expect(extracted.wtxid).toBe(hex.encode(sha256(sha256(hex.decode(expected))).reverse()));
    expect(extracted.vsize).toBe(Transaction.fromRaw(hex.decode(expected)).vsize);
  });
});

describe('BIP-174 role workflow: every stage through our reader, writer and analyzer', () => {
  /** The stages in the BIP's order, each with the role the next step plays. */
  const stages: [string, number, string][] = [
    ['creator', 0, 'updater'],
    ['updater', 0, 'signer'],
    ['updater', 1, 'signer'],
    ['signer', 0, 'signer'],
    ['signer', 1, 'signer'],
    ['combiner', 0, 'finalizer'],
    ['input_finalizer', 0, 'extractor'],
  ];

  it('the BIP has these stages, then the extractor', () => {
    expect(workflow.steps.map((s: { role: string }) => s.role)).toEqual([...stages.map(([role]) => role), 'transaction_extractor']);
  });

  for (const [role, nth, next] of stages) {
    it(`${role}${nth ? ` ${nth + 1}` : ''}: parsePsbt → serializePsbt gives the BIP's bytes${role === 'combiner' ? ' up to the order of partial signatures' : ''}; analyzePsbt says ${next} next`, () => {
      const bytes = hex.decode(expectedHex(role, nth));
      const tx = parsePsbt(bytes);
      const again = hex.encode(serializePsbt(tx));
      if (role === 'combiner') expect(rawMaps(again).map(recordSet)).toEqual(rawMaps(expectedHex(role, nth)).map(recordSet));
      else expect(again).toBe(expectedHex(role, nth));
      expect(analyzePsbt(tx).next).toBe(next);
    });
  }

  it('analyzePsbt names exactly the keys each input still needs a signature from', () => {
    const keys = step('updater', 0).inputs.public_keys as { pubkey: string; derivation_path: string }[];
    // Input 0 is signed by the keys at m/0'/0'/0' and /1', input 1 by /2' and /3' (the updater's scripts).
    const byInput = [keys.slice(0, 2), keys.slice(2, 4)];
    const signedBy = (nth: number) => new Set((step('signer', nth).inputs.private_keys as { derivation_path: string }[]).map((k) => k.derivation_path));
    const missing = (psbtHex: string) => analyzePsbt(parsePsbt(hex.decode(psbtHex))).inputs.map((i) => (i.missing?.signatures ?? []).map((k) => hex.encode(k)).sort());
    expect(missing(expectedHex('updater', 1))).toEqual(byInput.map((ks) => ks.map((k) => k.pubkey).sort()));
    for (const nth of [0, 1]) {
      const done = signedBy(nth);
      expect(missing(expectedHex('signer', nth))).toEqual(byInput.map((ks) => ks.filter((k) => !done.has(k.derivation_path)).map((k) => k.pubkey).sort()));
    }
    expect(missing(expectedHex('combiner'))).toEqual([[], []]);
  });
});

describe('BIP-174 combiner with unknown key-value pairs', () => {
  it('byte-exact', () => {
    const v = bip174.combiner_unknown_keys;
    const combined = combinePsbts(v.inputs.psbts.map((p: { hex: string }) => hex.decode(p.hex)));
    expect(hex.encode(combined)).toBe(v.expected_psbt.hex);
  });
});

describe('combinePsbts refuses, naming the PSBT at fault', () => {
  const a = hex.decode(expectedHex('signer', 0));
  const b = hex.decode(expectedHex('signer', 1));
  const other = hex.decode((bip174.valid.cases[5] as { hex: string }).hex);

  function refusal(list: Uint8Array[]): RefusedError {
    try {
      combinePsbts(list);
    } catch (e) {
      expect(e).toBeInstanceOf(RefusedError);
      expect((e as RefusedError).code).toBe('E_PSBT_COMBINE');
      return e as RefusedError;
    }
    throw new Error('expected a refusal');
  }

  it('nothing to combine is a usage error (E_USAGE, exit 2, as the command\'s own check), not a refusal', () => {
    expect(() => combinePsbts([])).toThrow(expect.objectContaining({ code: 'E_USAGE', exitCode: 2, message: 'give at least one PSBT to combine' }));
  });

  it('the odd one out, wherever it is', () => {
    expect(refusal([a, b, other]).message).toMatch(/^PSBT 3 of 3 is for a different transaction than PSBT 1 \(/);
    expect(refusal([other, a, b]).message).toMatch(/^PSBT 1 of 3 is for a different transaction than PSBT 2 \(/);
    expect(refusal([a, other]).detail).toMatchObject({ position: 2, reference: 1 });
  });

  it('says what differs', () => {
    const tx = parsePsbt(a);
    const changed = new Transaction({ version: 2, lockTime: 5 });
    for (let i = 0; i < tx.inputsLength; i++) {
      const input = tx.getInput(i);
      changed.addInput({ txid: input.txid!, index: input.index!, sequence: input.sequence! });
    }
    for (let o = 0; o < tx.outputsLength; o++) changed.addOutput({ script: tx.getOutput(o).script!, amount: tx.getOutput(o).amount! });
    expect(refusal([a, changed.toPSBT()]).message).toContain('(locktime 5 instead of 0)');
  });

  it('conflicting values for the same key', () => {
    const tx = parsePsbt(hex.decode(expectedHex('updater', 0)));
    tx.updateInput(0, { sighashType: 2 });
    const error = refusal([hex.decode(expectedHex('updater', 1)), serializePsbt(tx)]);
    expect(error.message).toMatch(/^PSBT 2 of 2 cannot be combined with the ones before it: .*sighashType/);
  });

  it('a malformed PSBT is reported with its position', () => {
    expect(() => combinePsbts([a, new Uint8Array([1, 2, 3])])).toThrow(MalformedInputError);
    expect(() => combinePsbts([a, new Uint8Array([1, 2, 3])])).toThrow(/^PSBT 2 of 2: not a PSBT/);
  });

  it('an empty list is a usage error', () => {
    expect(() => combinePsbts([])).toThrow(UsageError);
  });

  it('a single PSBT combines to itself', () => {
    expect(hex.encode(combinePsbts([a]))).toBe(expectedHex('signer', 0));
  });
});

describe('extractTransaction refuses unfinished PSBTs', () => {
  it('names the first input that is not finalized and what it needs', () => {
    try {
      extractTransaction(parsePsbt(hex.decode(expectedHex('combiner'))));
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(RefusedError);
      expect((e as RefusedError).code).toBe('E_PSBT_NOT_FINAL');
      expect((e as RefusedError).message).toBe('input 0 is not finalized (it needs the finalizer next); only a fully finalized PSBT can be extracted');
    }
  });

  it('looks past finalized inputs to the first unfinished one', () => {
    // BIP-174 valid case 2: input 0 is finalized (without its UTXO); input 1 is not yet signed.
    const tx = parsePsbt(hex.decode((bip174.valid.cases[1] as { hex: string }).hex));
    expect(() => extractTransaction(tx)).toThrow(/^input 1 is not finalized \(it needs the signer next\)/);
  });
});

describe('extractTransaction does not need the UTXOs', () => {
  it('extracts a finalized PSBT whose UTXO records were dropped (btc-signer extract() would refuse)', () => {
    const maps = rawMaps(expectedHex('input_finalizer'));
    const stripped = maps.map((map, i) => (i === 1 || i === 2 ? map.filter((r) => r.type !== 0 && r.type !== 1) : map));
    const tx = parsePsbt(hex.decode(encodeMaps(stripped)));
    expect(() => tx.extract()).toThrow();
    expect(hex.encode(extractTransaction(tx).hex)).toBe(step('transaction_extractor').expected_tx_hex);
  });
});
