/**
 * `parsePsbt` reads PSBTs with its own reader (src/lib/psbt/read.ts: the key-bearing records
 * decoded here, every key checked once on the selected backend, the rest by btc-signer). These
 * tests hold it to btc-signer's `Transaction.fromPSBT`, the reader it replaces, on the PSBTs a
 * mint receives — credit update and close requests — and on every edit of them we could think of:
 *
 * - equivalence: for honest requests (random keys and amounts, every backend) and for tampered
 *   ones (the tamper kit's transactions, and record-level edits: fields missing, added,
 *   duplicated, keys that are not points, wrong lengths, other keys, other versions), either
 *   both accept, with the same transaction — every input's fields, every output, the global
 *   map, `toPSBT()` byte for byte — and `readMusigInput` gives the same answer on both, or
 *   `parsePsbt` refuses (E_MALFORMED_PSBT) where btc-signer refuses too (or where the amounts are
 *   impossible, which `parsePsbt` alone checks);
 * - fuzz: random bytes and mutations of request PSBTs (bytes, and records), the same;
 * - the dedicated reader (read.ts readKeyPathSpend, the update's shape without btc-signer's
 *   coder): every honest request takes it; wherever it builds a transaction (honest, edited,
 *   fuzzed), btc-signer accepts the PSBT and builds the same; everything else it leaves to the
 *   general path, whose refusal stands;
 * - the mint: requests, honest and decorated with records a wallet may add, are accepted; a
 *   key that is not a point is refused as malformed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { base64, hex } from '@scure/base';
import { concatBytes, fromHex, toHex } from '../../../src/lib/bytes.ts';
import { MalformedInputError, OffchainError, RefusedError } from '../../../src/lib/errors.ts';
import { keyPair, type KeyPair } from '../../../src/lib/keys/keys.ts';
import { selectBackend, type BackendChoice } from '../../../src/lib/musig/bip327.ts';
import { ALL_BACKENDS, installed, type BackendId } from '../../setup/backends.ts';
import { musigKey } from '../../../src/lib/musig/keyagg.ts';
import {
  outputKeyCompressed, readMusigInput, setMusigParticipants, type MusigInput, type ReadOptions,
} from '../../../src/lib/musig/psbt-keypath.ts';
import { looksLikePsbt } from '../../../src/lib/psbt/maps.ts';
import { parsePsbt, serializePsbt } from '../../../src/lib/psbt/parse.ts';
import { splitPsbtMaps } from '../../../src/lib/psbt/maps.ts';
import { readKeyPathSpend } from '../../../src/lib/psbt/read.ts';
import { PSBT_TX_OPTS } from '../../../src/lib/psbt/tx-opts.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import * as mint from '../../../src/lib/credit/mint.ts';
import * as user from '../../../src/lib/credit/user-update.ts';
import { userSignAgainst } from '../../../src/lib/credit/signing.ts';
import { makeContract, type CreditContract } from '../../../src/lib/credit/terms.ts';
import { buildClose, buildState } from '../../../src/lib/credit/transactions.ts';
import { encodeMaps, rawMaps, type RawRecord } from '../psbt/raw.ts';
import { MINT, USER, world } from './world.ts';
import { buildSpend, foreignPubnonce, openContract, signAsUser, specOf, type SpendSpec } from './tamper.ts';
import { applyMutations, byteMutation } from '../../fuzz.ts';

const OTHER = keyPair(fromHex('e6'.repeat(32)));
const ALL_SIGHASH: ReadOptions = { allowedSighash: [0, 1, 2, 3, 0x81, 0x82, 0x83] };

// ---------------------------------------------------------------------------------------
// Our reader beside btc-signer's

function errorOf(e: unknown): string {
  if (e instanceof OffchainError) return `${e.constructor.name} ${e.code}: ${e.message}`;
  return `unexpected ${e instanceof Error ? e.constructor.name : typeof e}: ${String(e)}`;
}

function attempt<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    return errorOf(e);
  }
}

/** Everything a transaction holds, as plain JSON: every field of every input and output, and its PSBT. */
function stateOf(tx: Transaction) {
  const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? toHex(x) : x)));
  const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  return {
    id: tx.id, version: tx.version, lockTime: tx.lockTime, unsigned: toHex(tx.unsignedTx),
    inputs: Array.from({ length: tx.inputsLength }, (_, i) => plain(sorted(tx.getInput(i)))),
    outputs: Array.from({ length: tx.outputsLength }, (_, o) => plain(sorted(tx.getOutput(o)))),
    psbt: attempt(() => toHex(tx.toPSBT())),
  };
}

function inputSummary(m: MusigInput) {
  const opt = (b: Uint8Array | undefined) => b && toHex(b);
  return {
    index: m.index, participants: m.key.participants.map(toHex), aggregatePubkey: toHex(m.key.aggregatePubkey), internalKey: toHex(m.key.internalKey),
    merkleRoot: opt(m.key.output.merkleRoot), tweak: toHex(m.key.output.tweak), outputKey: toHex(m.key.output.outputKey), parity: m.key.output.parity,
    signingKey: toHex(m.signingKey), msg: toHex(m.msg), hashType: m.hashType, pubnonces: m.pubnonces.map(opt), partialSigs: m.partialSigs.map(opt),
  };
}

const musigReadings = (tx: Transaction) => [attempt(() => inputSummary(readMusigInput(tx, 0))), attempt(() => inputSummary(readMusigInput(tx, 0, ALL_SIGHASH)))];

const seen = { accepted: 0, refused: 0, fast: 0 };

/**
 * The dedicated reader of a key-path spend (read.ts readKeyPathSpend) on the PSBT: the
 * transaction it built, or undefined where it leaves the PSBT to the general path. It never
 * throws (a framing error is splitPsbtMaps', before it).
 */
function fastRead(bytes: Uint8Array): Transaction | undefined {
  if (!looksLikePsbt(bytes)) return undefined;
  let maps: ReturnType<typeof splitPsbtMaps>;
  try {
    maps = splitPsbtMaps(bytes);
  } catch {
    return undefined;
  }
  return readKeyPathSpend(maps, PSBT_TX_OPTS);
}

/**
 * `parsePsbt` agrees with btc-signer's `fromPSBT`; returns whether it accepted the PSBT. The
 * dedicated reader too: where it builds a transaction, btc-signer accepts the PSBT with the same.
 */
function expectSameAsBtcSigner(bytes: Uint8Array): boolean {
  const ours = attempt(() => parsePsbt(bytes));
  const theirs = attempt(() => Transaction.fromPSBT(bytes, PSBT_TX_OPTS));
  const fast = fastRead(bytes);
  if (fast) {
    seen.fast++;
    expect(typeof theirs, `the dedicated reader accepts where btc-signer refuses (${String(theirs)})`).toBe('object');
    expect(stateOf(fast)).toEqual(stateOf(theirs as Transaction));
    expect(musigReadings(fast)).toEqual(musigReadings(theirs as Transaction));
  }
  if (typeof ours === 'string') {
    seen.refused++;
    expect(ours, 'refusals are E_MALFORMED_PSBT').toMatch(/^MalformedInputError E_MALFORMED_PSBT: /);
    if (typeof theirs !== 'string') expect(ours, 'refused where btc-signer accepts: only for impossible amounts').toMatch(/more than 21 million BTC/);
    return false;
  }
  seen.accepted++;
  expect(typeof theirs, `accepted where btc-signer refuses (${String(theirs)})`).toBe('object');
  const reference = theirs as Transaction;
  expect(stateOf(ours)).toEqual(stateOf(reference));
  expect(musigReadings(ours)).toEqual(musigReadings(reference));
  for (const text of musigReadings(ours)) {
    if (typeof text === 'string') expect(text, 'only MalformedInputError or RefusedError').toMatch(/^(MalformedInputError|RefusedError|InvalidContributionError) /);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Requests

function contractFor(userKey: KeyPair, o: { capacity?: bigint; feeRate?: number; txid?: string } = {}): CreditContract {
  return makeContract({
    network: 'regtest', userPubkey: userKey.publicKey, mintPubkey: MINT.publicKey, capacity: o.capacity ?? 100_000n, funding: { txid: o.txid ?? 'f0'.repeat(32), vout: 0 },
    expiryHeight: 10_000, refundScript: taprootOutput(userKey.xOnly).script, changeScript: taprootOutput(userKey.xOnly).script,
    payoutScript: taprootOutput(MINT.xOnly).script, feeRate: o.feeRate ?? 2,
  });
}

/** A request's PSBT as the user's library makes it: signed against a mint nonce. */
function signed(tx: Transaction, userKey: KeyPair = USER): Uint8Array {
  userSignAgainst(tx, 0, userKey, MINT.publicKey, { state: 1, pubnonce: foreignPubnonce(MINT) });
  return serializePsbt(tx);
}

const A = contractFor(USER);
const HONEST = signed(buildState(A, 6000n));
const Q = toHex(outputKeyCompressed(A.key));
const U = toHex(USER.publicKey);
const M = toHex(MINT.publicKey);
const O = toHex(OTHER.publicKey);

/** An x coordinate with no point on the curve, and one at or above the field size. */
const NOT_ON_CURVE = (() => {
  for (let x = 5n; ; x++) {
    try {
      schnorr.utils.lift_x(x);
    } catch {
      return x.toString(16).padStart(64, '0');
    }
  }
})();
const ABOVE_P = 'ff'.repeat(32);

const rec = (type: number, keyData: string, value: string): RawRecord => ({ type, keyData, value });
const edit = (bytes: Uint8Array, f: (maps: RawRecord[][]) => RawRecord[][]) => fromHex(encodeMaps(f(rawMaps(hex.encode(bytes)))));
/** Input 0's records changed by `f`. */
const input0 = (f: (records: RawRecord[]) => RawRecord[], bytes = HONEST) => edit(bytes, (m) => [m[0]!, f(m[1]!), ...m.slice(2)]);
const without = (type: number) => (rs: RawRecord[]) => rs.filter((r) => r.type !== type);
const adding = (...added: RawRecord[]) => (rs: RawRecord[]) => [...rs, ...added];
const replacing = (type: number, f: (r: RawRecord) => RawRecord) => (rs: RawRecord[]) => rs.map((r) => (r.type === type ? f(r) : r));
const userNonce = (rs: RawRecord[]) => rs.find((r) => r.type === 0x1b && r.keyData.startsWith(U))!;

/** The backends this machine can run (an optional one missing is a visible skip below, never a silent pass). */
const BACKENDS: BackendChoice[] = [];
const MISSING: [BackendChoice, string][] = [];
for (const backend of [...ALL_BACKENDS, 'reference'] as BackendChoice[]) {
  // Installed or not is decided by test code (../../setup/backends.ts): an installed backend the
  // product falls back from fails below (`.engine` toBe the backend), never a skip.
  if (backend === 'reference' || (await installed(backend as BackendId))) BACKENDS.push(backend);
  else MISSING.push([backend, 'test code cannot import its package']);
}
await selectBackend('noble');

describe('equivalence on every backend: honest requests (random keys and amounts), keys that are not points', () => {
  for (const [backend, why] of MISSING) it.skip(`${backend}: SKIPPED, not available here (${why})`, () => {});
  afterAll(async () => {
    await selectBackend('noble');
  });
  it.each(BACKENDS)('%s', async (backend) => {
    expect((await selectBackend(backend)).engine).toBe(backend);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }), fc.bigInt(20_000n, 2_000_000n), fc.integer({ min: 1, max: 50 }), fc.boolean(), fc.integer({ min: 1, max: 100 }),
        (seed, capacity, feeRate, close, share) => {
          const userKey = keyPair(fromHex(seed.toString(16).padStart(64, '0')));
          const c = contractFor(userKey, { capacity, feeRate, txid: toHex(concatBytes(fromHex(seed.toString(16).padStart(8, '0')), new Uint8Array(28))) });
          const cumulative = 330n + ((capacity / 2n) * BigInt(share)) / 100n;
          const bytes = signed(close ? buildClose(c, cumulative, feeRate) : buildState(c, cumulative), userKey);
          expect(expectSameAsBtcSigner(bytes), 'an honest request is accepted').toBe(true);
          expect(fastRead(bytes), 'an honest request takes the dedicated reader').toBeDefined();
        },
      ),
      { numRuns: backend === 'noble' ? 40 : 15 },
    );
    // Keys that are not points are refused by this backend as btc-signer refuses them (never cached).
    const notPoints = ['02' + NOT_ON_CURVE, '03' + ABOVE_P, '04' + U.slice(2), '00'.repeat(33), '02' + '00'.repeat(32)];
    for (const key of notPoints) {
      const cases = [
        input0(replacing(0x1a, (r) => ({ ...r, value: r.value.slice(0, 66) + key }))),
        input0(replacing(0x1a, (r) => ({ ...r, keyData: key }))),
        input0(adding(rec(0x1b, U + key, userNonceValue()))),
        input0(replacing(0x17, (r) => ({ ...r, value: key.slice(2) }))),
      ];
      for (const bytes of cases) expect(expectSameAsBtcSigner(bytes), 'a key that is not a point is refused').toBe(false);
    }
  });
});

describe('equivalence: tampered transactions (the tamper kit), signed by the user', () => {
  const participants = [USER.publicKey, MINT.publicKey];
  const base = (): SpendSpec => specOf(buildState(A, 6000n), participants);
  const sign = (spec: SpendSpec, signer = USER) => serializePsbt(signAsUser(buildSpend(spec), signer, MINT.publicKey, { state: 1, pubnonce: foreignPubnonce(MINT) }, spec.sighashType));
  const otherKeys = [OTHER.publicKey, MINT.publicKey];
  const cases: [string, () => Uint8Array][] = [
    ['nLockTime 1', () => sign({ ...base(), lockTime: 1 })],
    ['a time-based nLockTime', () => sign({ ...base(), lockTime: 500_000_001 })],
    ['nSequence 0', () => sign({ ...base(), inputs: [{ ...base().inputs[0]!, sequence: 0 }] })],
    ['version 1', () => sign({ ...base(), version: 1 })],
    ['version -1', () => sign({ ...base(), version: -1 })],
    ['another funding outpoint', () => sign({ ...base(), inputs: [{ ...base().inputs[0]!, txid: 'cd'.repeat(32), vout: 7 }] })],
    ['witness_utxo overstating the funding', () => sign({ ...base(), inputs: [{ ...base().inputs[0]!, amount: 100_001n }] })],
    ['an OP_RETURN output', () => sign({ ...base(), outputs: [...base().outputs, { script: fromHex('6a0401020304'), amount: 0n }] })],
    ['a bare-script output', () => sign({ ...base(), outputs: [...base().outputs, { script: fromHex('51'), amount: 1000n }] })],
    ['no outputs', () => sign({ ...base(), outputs: [] })],
    ['a second input', () => sign({ ...base(), inputs: [...base().inputs, { txid: 'cd'.repeat(32), vout: 0, sequence: 0xfffffffd, script: fromHex('0014' + '79'.repeat(20)), amount: 5000n }] })],
    ['signed with SIGHASH_ALL', () => sign({ ...base(), sighashType: 1 })],
    ['signed with SIGHASH_SINGLE|ANYONECANPAY', () => sign({ ...base(), sighashType: 0x83 })],
    ['signed by another key set, for its own output', () => sign({ ...base(), participants: otherKeys, inputs: [{ ...base().inputs[0]!, script: musigKey(otherKeys).output.script }] }, OTHER)],
    // buildSpend's raw participants carry no tap_internal_key: the full reader's.
    ['participants listed unsorted, no internal key', () => serializePsbt(buildSpend({ ...base(), participants: [MINT.publicKey, USER.publicKey], rawParticipants: true }))],
  ];
  it.each(cases)('%s', (_name, bytes) => {
    expectSameAsBtcSigner(bytes());
  });
});

describe('equivalence: record-level edits of an honest request', () => {
  const other = musigKey([OTHER.publicKey, MINT.publicKey]);
  const cases: [string, () => Uint8Array][] = [
    ['none (honest)', () => HONEST],
    // Records missing
    ['no witness_utxo', () => input0(without(0x01))],
    ['no tap_internal_key', () => input0(without(0x17))],
    ['no participant list', () => input0(without(0x1a))],
    ['no user nonce', () => input0((rs) => rs.filter((r) => r !== userNonce(rs)))],
    ['no nonces at all', () => input0((rs) => rs.filter((r) => r.type !== 0x1b))],
    ['no partial signature', () => input0(without(0x1c))],
    // Participant lists
    ['a second participant list', () => input0(adding(rec(0x1a, toHex(other.aggregatePubkey), O + M)))],
    ['an empty participant list', () => input0(replacing(0x1a, (r) => ({ ...r, value: '' })))],
    ['a participant listed twice', () => input0(replacing(0x1a, (r) => ({ ...r, value: U + U })))],
    ['participants in the other order', () => input0(replacing(0x1a, (r) => ({ ...r, value: r.value.slice(66) + r.value.slice(0, 66) })))],
    ['another key set, its own aggregate key', () => input0(replacing(0x1a, () => rec(0x1a, toHex(other.aggregatePubkey), toHex(other.participants[0]!) + toHex(other.participants[1]!))))],
    ['an aggregate key that is another point', () => input0(replacing(0x1a, (r) => ({ ...r, keyData: O })))],
    ['an aggregate key that is not a point', () => input0(replacing(0x1a, (r) => ({ ...r, keyData: '02' + NOT_ON_CURVE })))],
    ['a participant that is not a point', () => input0(replacing(0x1a, (r) => ({ ...r, value: r.value.slice(0, 66) + '03' + NOT_ON_CURVE })))],
    ['a participant with x above the field size', () => input0(replacing(0x1a, (r) => ({ ...r, value: '02' + ABOVE_P + r.value.slice(66) })))],
    ['a participant with prefix 04', () => input0(replacing(0x1a, (r) => ({ ...r, value: '04' + r.value.slice(2) })))],
    ['a participant list of 65 bytes', () => input0(replacing(0x1a, (r) => ({ ...r, value: r.value.slice(0, 130) })))],
    ['a participant list keyed by 32 bytes', () => input0(replacing(0x1a, (r) => ({ ...r, keyData: r.keyData.slice(2) })))],
    // Nonces and partial signatures
    ['a nonce of 65 bytes', () => input0((rs) => rs.map((r) => (r === userNonce(rs) ? { ...r, value: r.value.slice(2) } : r)))],
    ['a nonce that is not two points', () => input0((rs) => rs.map((r) => (r === userNonce(rs) ? { ...r, value: '02' + NOT_ON_CURVE + '00'.repeat(33) } : r)))],
    ['a partial signature of 33 bytes', () => input0(replacing(0x1c, (r) => ({ ...r, value: r.value + '00' })))],
    ['a partial signature above the group order', () => input0(replacing(0x1c, (r) => ({ ...r, value: 'ff'.repeat(32) })))],
    ['a nonce from a non-participant, for Q', () => input0(adding(rec(0x1b, O + Q, userNonceValue())))],
    ['a partial signature from a non-participant, for Q', () => input0(adding(rec(0x1c, O + Q, '11'.repeat(32))))],
    ['a nonce from a non-participant, for another key', () => input0(adding(rec(0x1b, O + toHex(other.aggregatePubkey), userNonceValue())))],
    ['a nonce from the user for the untweaked aggregate key', () => input0(adding(rec(0x1b, U + toHex(A.key.aggregatePubkey), userNonceValue())))],
    ['a script-path nonce (leaf hash) from the user', () => input0(adding(rec(0x1b, U + Q + '33'.repeat(32), userNonceValue())))],
    ['a script-path nonce from a non-participant, for Q', () => input0(adding(rec(0x1b, O + Q + '33'.repeat(32), userNonceValue())))],
    ['only a script-path partial signature from the user', () => input0((rs) => [...rs.filter((r) => r.type !== 0x1c), rec(0x1c, U + Q + '33'.repeat(32), '11'.repeat(32))])],
    ['a nonce keyed by 67 bytes', () => input0(adding(rec(0x1b, U + Q + '00', userNonceValue())))],
    ['a nonce keyed by a participant that is not a point', () => input0(adding(rec(0x1b, '02' + NOT_ON_CURVE + Q, userNonceValue())))],
    ['a nonce keyed by a signed-for key that is not a point', () => input0(adding(rec(0x1b, U + '03' + NOT_ON_CURVE, userNonceValue())))],
    // Taproot fields
    ['an internal key that is not a point', () => input0(replacing(0x17, (r) => ({ ...r, value: NOT_ON_CURVE })))],
    ['an internal key that is another key', () => input0(replacing(0x17, (r) => ({ ...r, value: toHex(OTHER.xOnly) })))],
    ['an internal key of 33 bytes', () => input0(replacing(0x17, (r) => ({ ...r, value: '02' + r.value })))],
    ['a merkle root the output does not commit to', () => input0(adding(rec(0x18, '', '44'.repeat(32))))],
    ['a merkle root of 31 bytes', () => input0(adding(rec(0x18, '', '44'.repeat(31))))],
    ['a merkle root the output commits to', () => merkleRootRequest()],
    // Sighash type
    ['sighash type 0, explicit', () => input0(adding(rec(0x03, '', '00000000')))],
    ['sighash type SIGHASH_ALL', () => input0(adding(rec(0x03, '', '01000000')))],
    ['sighash type 0x83', () => input0(adding(rec(0x03, '', '83000000')))],
    ['sighash type 0xffffffff', () => input0(adding(rec(0x03, '', 'ffffffff')))],
    ['sighash type of 3 bytes', () => input0(adding(rec(0x03, '', '010000')))],
    ['sighash type with key data', () => input0(adding(rec(0x03, '00', '01000000')))],
    // The spent output
    ['witness_utxo 1 sat more', () => input0(replacing(0x01, (r) => ({ ...r, value: 'a1860100' + r.value.slice(8) })))],
    ['witness_utxo above 21 million BTC', () => input0(replacing(0x01, (r) => ({ ...r, value: '0140075af0750700' + r.value.slice(16) })))],
    ['witness_utxo paying a P2WPKH script', () => input0(replacing(0x01, (r) => ({ ...r, value: r.value.slice(0, 16) + '160014' + '79'.repeat(20) })))],
    ['witness_utxo paying another P2TR output', () => input0(replacing(0x01, (r) => ({ ...r, value: r.value.slice(0, 16) + '225120' + toHex(OTHER.xOnly) })))],
    ['witness_utxo with a trailing byte', () => input0(replacing(0x01, (r) => ({ ...r, value: r.value + '00' })))],
    ['witness_utxo with key data', () => input0(replacing(0x01, (r) => ({ ...r, keyData: '00' })))],
    // Records a wallet may add, left to btc-signer's decoders
    ['a non_witness_utxo', () => input0(adding(rec(0x00, '', toHex(buildState(A, 1000n).unsignedTx))))],
    ['an empty final scriptSig', () => input0(adding(rec(0x07, '', '')))],
    ['a final script witness', () => input0(adding(rec(0x08, '', '0140' + '11'.repeat(64))))],
    ['a tap_key_sig', () => input0(adding(rec(0x13, '', '11'.repeat(64))))],
    ['a tap_key_sig of 63 bytes', () => input0(adding(rec(0x13, '', '11'.repeat(63))))],
    ['a BIP-32 derivation', () => input0(adding(rec(0x06, U, '0000000000000000')))],
    ['a taproot BIP-32 derivation of a key that is not a point', () => input0(adding(rec(0x16, NOT_ON_CURVE, '0000000000')))],
    ['a proprietary record', () => input0(adding(rec(0xfc, '036f6666' + '01', '00')))],
    ['an unknown input record', () => input0(adding(rec(0x42, '', '00')))],
    ['an unknown global record', () => edit(HONEST, (m) => [[...m[0]!, rec(0x42, '', '00')], ...m.slice(1)])],
    ['an output record', () => edit(HONEST, (m) => [...m.slice(0, 2), [rec(0x05, '', toHex(USER.xOnly))], ...m.slice(3)])],
    // Versions and framing
    ['PSBT_GLOBAL_VERSION 0, explicit', () => edit(HONEST, (m) => [[...m[0]!, rec(0xfb, '', '00000000')], ...m.slice(1)])],
    ['PSBT_GLOBAL_VERSION 2 on a version 0 PSBT', () => edit(HONEST, (m) => [[...m[0]!, rec(0xfb, '', '02000000')], ...m.slice(1)])],
    ['the same request as PSBT version 2', () => parsePsbt(HONEST).toPSBT(2)],
    ['one empty map after the outputs', () => concatBytes(HONEST, Uint8Array.of(0))],
    ['a byte after the outputs', () => concatBytes(HONEST, Uint8Array.of(1))],
    ['a duplicated partial signature record', () => input0((rs) => [...rs, rs.find((r) => r.type === 0x1c)!])],
    ['an output above 21 million BTC', () => edit(HONEST, (m) => [[{ ...m[0]![0]!, value: withFirstOutputAmount(m[0]![0]!.value, 'ffffffffffffff7f') }], ...m.slice(1)])],
    ['an unsigned transaction with a scriptSig', () => edit(HONEST, (m) => [[{ ...m[0]![0]!, value: withScriptSig(m[0]![0]!.value) }], ...m.slice(1)])],
  ];
  it.each(cases)('%s', (_name, bytes) => {
    expectSameAsBtcSigner(bytes());
  });

  it('both outcomes occur: the edits are not all accepted, nor all refused', () => {
    const accepted = cases.filter(([, bytes]) => typeof attempt(() => parsePsbt(bytes())) !== 'string').length;
    expect(accepted).toBeGreaterThanOrEqual(30);
    expect(cases.length - accepted).toBeGreaterThanOrEqual(20);
    // The dedicated reader takes the honest shape and its in-shape variants, and leaves the rest (accepted or not) to the general path.
    const fast = cases.filter(([, bytes]) => fastRead(bytes()) !== undefined).length;
    expect(fast).toBeGreaterThanOrEqual(5);
    expect(accepted - fast).toBeGreaterThanOrEqual(10);
  });
});

function userNonceValue(): string {
  return userNonce(rawMaps(hex.encode(HONEST))[1]!).value;
}

/** Replace the 8-byte amount of output 0 in a one-input legacy transaction. */
function withFirstOutputAmount(txHex: string, amountHex: string): string {
  const at = (4 + 1 + 36 + 1 + 4 + 1) * 2; // version | count | outpoint | empty scriptSig | sequence | output count
  return txHex.slice(0, at) + amountHex + txHex.slice(at + 16);
}

function withScriptSig(txHex: string): string {
  const at = (4 + 1 + 36) * 2;
  return txHex.slice(0, at) + '0151' + txHex.slice(at + 2);
}

/** A key-path spend of an output whose key commits to a script tree (merkle root), signed by the user. */
function merkleRootRequest(): Uint8Array {
  const merkleRoot = fromHex('55'.repeat(32));
  const key = musigKey([USER.publicKey, MINT.publicKey], { merkleRoot });
  const tx = new Transaction({ version: 2 });
  tx.addInput({ txid: A.funding.txid, index: 0, sequence: 0xfffffffd, witnessUtxo: { script: key.output.script, amount: 100_000n } });
  tx.addOutput({ script: A.payoutScript, amount: 6000n });
  tx.updateInput(0, { tapMerkleRoot: merkleRoot });
  setMusigParticipants(tx, 0, [USER.publicKey, MINT.publicKey]);
  return signed(tx);
}

// ---------------------------------------------------------------------------------------
// Fuzz

const byteMutations = byteMutation({ setValues: [0x00, 0x01, 0x02, 0x03, 0x20, 0x21, 0x42, 0xfc, 0xfd, 0xfe, 0xff] });

/** Byte strings worth putting in keys and values: the request's own keys, other points, non-points, odd lengths. */
const piece = fc.oneof(
  fc.constantFrom(U, M, O, Q, toHex(A.key.aggregatePubkey), toHex(A.key.internalKey), '02' + NOT_ON_CURVE, '03' + ABOVE_P, '04' + U.slice(2), userNonceValue(), '11'.repeat(32), '00000000', '01000000', ''),
  fc.uint8Array({ maxLength: 70 }).map(toHex),
);

type RecordMutation =
  | { kind: 'swapKey'; at: number; slot: number; key: string }
  | { kind: 'drop'; at: number }
  | { kind: 'value'; at: number; value: string }
  | { kind: 'key'; at: number; keyData: string }
  | { kind: 'add'; type: number; keyData: string; value: string };

/** 33-byte keys: the request's own, other points, and encodings that are not points. */
const poolKey = fc.constantFrom(U, M, O, Q, toHex(A.key.aggregatePubkey), toHex(musigKey([OTHER.publicKey, MINT.publicKey]).aggregatePubkey), '02' + NOT_ON_CURVE, '03' + ABOVE_P, '04' + U.slice(2), '00'.repeat(33));

const recordMutation: fc.Arbitrary<RecordMutation> = fc.oneof(
  // Keeps the record's shape (one key for another), so the result is mostly still a PSBT.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('swapKey' as const), at: fc.nat(), slot: fc.nat(), key: poolKey }) },
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), value: fc.array(piece, { maxLength: 3 }).map((p) => p.join('')) }),
  fc.record({ kind: fc.constant('key' as const), at: fc.nat(), keyData: fc.array(piece, { maxLength: 3 }).map((p) => p.join('')) }),
  fc.record({
    kind: fc.constant('add' as const),
    type: fc.constantFrom(0x00, 0x01, 0x03, 0x07, 0x08, 0x13, 0x17, 0x18, 0x1a, 0x1b, 0x1c, 0x42, 0xfc),
    keyData: fc.array(piece, { maxLength: 3 }).map((p) => p.join('')),
    value: fc.array(piece, { maxLength: 3 }).map((p) => p.join('')),
  }),
);

function mutateRecords(seed: Uint8Array, mutations: RecordMutation[]): Uint8Array {
  return input0((records) => {
    let rs = [...records];
    for (const m of mutations) {
      const at = rs.length ? ('at' in m ? m.at % rs.length : 0) : -1;
      if (m.kind === 'add') rs.push(rec(m.type, m.keyData, m.value));
      else if (at < 0) continue;
      else if (m.kind === 'swapKey') rs[at] = swapKey(rs[at]!, m.slot, m.key);
      else if (m.kind === 'drop') rs.splice(at, 1);
      else if (m.kind === 'value') rs[at] = { ...rs[at]!, value: m.value };
      else rs[at] = { ...rs[at]!, keyData: m.keyData };
    }
    return rs;
  }, seed);
}

/** One 33-byte key of a BIP-373 record (or the internal key, x-only) replaced by `key`. */
function swapKey(r: RawRecord, slot: number, key: string): RawRecord {
  const chunks = (h: string) => h.match(/.{66}/g) ?? [];
  if (r.type === 0x17) return { ...r, value: key.slice(2) };
  if (r.type === 0x1a) {
    const all = [r.keyData, ...chunks(r.value)];
    all[slot % all.length] = key;
    return { ...r, keyData: all[0]!, value: all.slice(1).join('') };
  }
  if (r.type === 0x1b || r.type === 0x1c) {
    const parts = [r.keyData.slice(0, 66), r.keyData.slice(66, 132), r.keyData.slice(132)];
    parts[slot % 2] = key;
    return { ...r, keyData: parts.join('') };
  }
  return r;
}

const SEEDS = [HONEST, signed(buildClose(A, 6000n, 3)), merkleRootRequest(), input0(adding(rec(0x03, '', '01000000')))];
/**
 * The same result as btc-signer. A case that hangs fails the test at its time limit; speed is
 * npm run bench's business, not a test's.
 */
function fuzzCase(bytes: Uint8Array): void {
  expectSameAsBtcSigner(bytes);
}

describe('fuzz: parsePsbt never differs from btc-signer', () => {
  it('random bytes, with and without the magic', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 300 }), (magic, body) => {
        fuzzCase(magic ? new Uint8Array([0x70, 0x73, 0x62, 0x74, 0xff, ...body]) : body);
      }),
      { numRuns: 500 },
    );
  });

  it('byte mutations of request PSBTs', () => {
    const before = seen.accepted;
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.array(byteMutations, { minLength: 1, maxLength: 3 }), (seed, mutations) => {
        fuzzCase(applyMutations(seed, mutations));
      }),
      { numRuns: 800 },
    );
    // A flipped bit inside a nonce, a signature or an amount leaves a PSBT both accept:
    // whole transactions were compared on some of these, not only refusals.
    expect(seen.accepted - before).toBeGreaterThan(20);
  });

  it('record mutations of input 0 (dropped, changed, added: the request\'s keys, non-points, odd lengths)', () => {
    const before = seen.accepted;
    const fastBefore = seen.fast;
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.array(recordMutation, { minLength: 1, maxLength: 3 }), (seed, mutations) => {
        fuzzCase(mutateRecords(seed, mutations));
      }),
      { numRuns: 800 },
    );
    // Many mutations keep a readable PSBT, so accepted transactions are compared, not only refusals.
    expect(seen.accepted - before).toBeGreaterThan(100);
    // and many keep the shape the dedicated reader takes: its transactions are compared too.
    expect(seen.fast - fastBefore).toBeGreaterThan(50);
  });
});

// ---------------------------------------------------------------------------------------
// The mint

describe('the mint reads update requests with it', () => {
  it('an honest request is accepted; one decorated with records a wallet may add is accepted too', async () => {
    const w = world();
    try {
      const { id } = await openContract(w);
      const first = await user.updateRequest(w.user, id, 1000n);
      const firstBytes = base64.decode((first as { psbt: string }).psbt);
      expect(expectSameAsBtcSigner(firstBytes), 'the honest request reads as btc-signer reads it').toBe(true);
      const receipt = await mint.acceptUpdate(w.mint, first as never);
      await user.applyReceipt(w.user, receipt as never);
      expect(receipt.cumulative_sat).toBe(1000);

      // A wallet adds a BIP-32 derivation and an unknown record to the contract input.
      const second = await user.updateRequest(w.user, id, 2000n);
      const decorated = input0(adding(rec(0x06, U, '0000000000000000'), rec(0x42, '', '00')), base64.decode((second as { psbt: string }).psbt));
      expect(expectSameAsBtcSigner(decorated)).toBe(true);
      const receipt2 = await mint.acceptUpdate(w.mint, { ...second, psbt: base64.encode(decorated) } as never);
      expect(receipt2.cumulative_sat).toBe(3000);
      expect(receipt2.txid).toBe(parsePsbt(decorated).id);
    } finally {
      w.dir.cleanup();
    }
  });

  it('a request whose key is not a point is refused as malformed, as before (E_MALFORMED_PSBT, exit 3)', async () => {
    const w = world();
    try {
      const { id } = await openContract(w);
      const req = await user.updateRequest(w.user, id, 1000n);
      const bad = input0(replacing(0x1a, (r) => ({ ...r, value: r.value.slice(0, 66) + '03' + NOT_ON_CURVE })), base64.decode((req as { psbt: string }).psbt));
      const err = await mint.acceptUpdate(w.mint, { ...req, psbt: base64.encode(bad) } as never).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(MalformedInputError);
      expect((err as MalformedInputError).code).toBe('E_MALFORMED_PSBT');
      expect(err).not.toBeInstanceOf(RefusedError);
    } finally {
      w.dir.cleanup();
    }
  });
});
