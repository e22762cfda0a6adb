/**
 * `parsePsbt`'s reader (src/lib/psbt/read.ts) against the reader it replaces, btc-signer's
 * `Transaction.fromPSBT`, on every PSBT of the official vectors (BIP-174 valid, invalid,
 * failing signer checks, the role workflow; BIP-373 valid and invalid), the fixtures, and
 * byte mutations of them — with the signer checks on and off: both accept with the same
 * transaction (every field of every input and output, `toPSBT()` byte for byte), or both
 * refuse (our refusal one E_MALFORMED_PSBT; `parsePsbt` alone also refuses impossible amounts).
 * test/lib/credit/request-reader.test.ts does the same on the PSBTs a mint receives, on every
 * secp256k1 backend.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Transaction } from '@scure/btc-signer';
import { base64, hex } from '@scure/base';
import { loadVector } from '../../helpers.ts';
import { toHex } from '../../../src/lib/bytes.ts';
import { MalformedInputError } from '../../../src/lib/errors.ts';
import { parsePsbt } from '../../../src/lib/psbt/parse.ts';
import { PSBT_TX_OPTS } from '../../../src/lib/psbt/tx-opts.ts';
import { applyMutations, byteMutation } from '../../fuzz.ts';

const bip174 = loadVector('bips/bip-0174/psbt-test-vectors.json');
const bip373 = loadVector('bips/bip-0373/musig2-psbt-test-vectors.json');
const FIXTURES = join(import.meta.dirname, '../../../fixtures');
const fixture = (path: string) => base64.decode(readFileSync(join(FIXTURES, path), 'utf8').trim());
const requestFixture = (path: string) => base64.decode(JSON.parse(readFileSync(join(FIXTURES, path), 'utf8')).psbt);

const named: [string, Uint8Array][] = [
  ...(['valid', 'invalid', 'fails_signer_checks'] as const).flatMap((set) =>
    bip174[set].cases.map((c: { description: string; hex: string }) => [`BIP-174 ${set}: ${c.description}`, hex.decode(c.hex)] as [string, Uint8Array])),
  ...bip174.role_workflow.steps.filter((s: { expected_psbt?: unknown }) => s.expected_psbt)
    .map((s: { expected_psbt: { hex: string } }, i: number) => [`BIP-174 role workflow step ${i}`, hex.decode(s.expected_psbt.hex)] as [string, Uint8Array]),
  ...(['valid', 'invalid'] as const).flatMap((set) =>
    bip373[set].cases.map((c: { description: string; hex: string }) => [`BIP-373 ${set}: ${c.description}`, hex.decode(c.hex)] as [string, Uint8Array])),
  ...readdirSync(join(FIXTURES, 'psbt')).filter((f) => f.endsWith('.psbt')).map((f) => [`fixture psbt/${f}`, fixture(`psbt/${f}`)] as [string, Uint8Array]),
  ['fixture credit/funding.psbt', fixture('credit/funding.psbt')],
  ...['update-request', 'close-request'].map((f) => [`fixture credit/${f}.json`, requestFixture(`credit/${f}.json`)] as [string, Uint8Array]),
];

const INSPECT = { ...PSBT_TX_OPTS, disableScriptCheck: true };

function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? toHex(x) : x)));
}

function stateOf(tx: Transaction) {
  const sorted = (o: object) => plain(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));
  let psbt: string;
  try {
    psbt = toHex(tx.toPSBT());
  } catch (e) {
    psbt = `toPSBT throws: ${String(e)}`;
  }
  return {
    version: tx.version, lockTime: tx.lockTime,
    inputs: Array.from({ length: tx.inputsLength }, (_, i) => sorted(tx.getInput(i))),
    outputs: Array.from({ length: tx.outputsLength }, (_, o) => sorted(tx.getOutput(o))),
    psbt,
  };
}

const count = { accepted: 0, refused: 0 };

function expectSameAsBtcSigner(bytes: Uint8Array, scriptChecks: boolean, label = toHex(bytes)): void {
  let ours: Transaction | Error;
  let theirs: Transaction | Error;
  try {
    ours = parsePsbt(bytes, { scriptChecks });
  } catch (e) {
    ours = e as Error;
  }
  try {
    theirs = Transaction.fromPSBT(bytes, scriptChecks ? PSBT_TX_OPTS : INSPECT);
  } catch (e) {
    theirs = e as Error;
  }
  if (ours instanceof Error) {
    count.refused++;
    expect(ours, label).toBeInstanceOf(MalformedInputError);
    expect((ours as MalformedInputError).code).toBe('E_MALFORMED_PSBT');
    if (!(theirs instanceof Error)) expect(ours.message, `refused where btc-signer accepts: ${label}`).toMatch(/more than 21 million BTC/);
    return;
  }
  count.accepted++;
  expect(theirs instanceof Error ? theirs.message : 'accepted', `accepted where btc-signer refuses: ${label}`).toBe('accepted');
  expect(stateOf(ours), label).toEqual(stateOf(theirs as Transaction));
}

describe('the official vectors and the fixtures read as btc-signer reads them', () => {
  it.each(named)('%s', (name, bytes) => {
    expectSameAsBtcSigner(bytes, true, name);
    expectSameAsBtcSigner(bytes, false, name);
  });

  it('both outcomes occur among them', () => {
    const accepted = named.filter(([, bytes]) => {
      try {
        parsePsbt(bytes);
        return true;
      } catch {
        return false;
      }
    }).length;
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(named.length - accepted).toBeGreaterThanOrEqual(20);
  });
});

describe('fuzz: byte mutations of the vectors read as btc-signer reads them', () => {
  const mutation = byteMutation({ setValues: [0x00, 0x01, 0x02, 0x03, 0x17, 0x1a, 0x1b, 0x1c, 0x20, 0x51, 0xfc, 0xfd, 0xff] });
  it('with and without the signer checks', () => {
    const before = { ...count };
    fc.assert(
      fc.property(fc.constantFrom(...named.map(([, b]) => b)), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (seed, mutations, checks) => {
        expectSameAsBtcSigner(applyMutations(seed, mutations), checks);
      }),
      { numRuns: 3000 },
    );
    expect(count.accepted - before.accepted, 'whole transactions compared, not only refusals').toBeGreaterThan(100);
    expect(count.refused - before.refused).toBeGreaterThan(100);
  });
});
