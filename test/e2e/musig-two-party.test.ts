/**
 * Two parties sign a taproot key-path spend with MuSig2 by piping PSBTs between real
 * `offchain` processes, each with its own key and state directory. The extracted
 * transaction is then checked by the independent verifier (test/independent/): parsed
 * and hashed (BIP-341) by test code from the prevout in the unsigned fixture, against
 * the output key test code derives from Alice's and Bob's secret keys, with BIP-340 on
 * an implementation the CLI is not using — nothing from our signing path.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { bytesOf, hexOf, psbtUnsignedTx, psbtWitnessUtxos } from '../independent/tx.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { pipeline, run, type Run } from './cli.ts';

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8').trim();
const ALICE_KEY = fixture('keys/alice.key');
const BOB_KEY = fixture('keys/bob.key');
const ALICE = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa';
const BOB = '02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27';
const UNSIGNED = fixture('psbt/musig-keypath-unsigned.psbt');

let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => dir.cleanup());

const alice = (args: string[]) => ({ args: [...args, '--key-env', 'ALICE_KEY', '--state-dir', join(dir.path, 'alice')], env: { ALICE_KEY } });
const bob = (args: string[]) => ({ args: [...args, '--key-env', 'BOB_KEY', '--state-dir', join(dir.path, 'bob')], env: { BOB_KEY } });

function expectOk(results: Run[]): string {
  results.forEach((r, i) => expect(r.status, `stage ${i} failed: ${r.stderr}`).toBe(0));
  return results.at(-1)!.stdout;
}

describe('two-party MuSig2 through pipes', () => {
  it('init | alice nonce | bob nonce | alice sign | bob sign | finalize | extract gives a valid key-path spend', async () => {
    const out = expectOk(
      await pipeline(
        [
          { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB] },
          alice(['musig', 'nonce']),
          bob(['musig', 'nonce']),
          alice(['musig', 'sign']),
          bob(['musig', 'sign']),
          { args: ['psbt', 'finalize'] },
          { args: ['psbt', 'extract'] },
        ],
        UNSIGNED,
      ),
    );
    const extracted = JSON.parse(out);
    expect(extracted.type).toBe('psbt/extracted');
    verifyFixtureSpend(extracted.hex);
  });

  it('lets Bob sign last with DeterministicSign, keeping no nonce state, and --psbt output feeds the next step', async () => {
    const results = await pipeline(
      [
        { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB, '--psbt'] },
        alice(['musig', 'nonce', '--psbt']),
        bob(['musig', 'sign', '--deterministic', '--psbt']),
        alice(['musig', 'sign', '--psbt']),
        { args: ['psbt', 'finalize', '--psbt'] },
        { args: ['psbt', 'extract', '--hex'] },
      ],
      UNSIGNED,
    );
    const rawHex = expectOk(results).trim();
    expect(rawHex).toMatch(/^[0-9a-f]+$/);
    verifyFixtureSpend(rawHex);
  });

  it('refuses to use a secret nonce twice (exit 5) and prints nothing on stdout', async () => {
    const state = join(dir.path, 'reuse');
    const withNonces = expectOk(
      await pipeline(
        [
          { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB] },
          { args: ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', state], env: { ALICE_KEY } },
          bob(['musig', 'nonce']),
        ],
        UNSIGNED,
      ),
    );
    const first = run(['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', state], { input: withNonces, env: { ALICE_KEY } });
    expect(first.status).toBe(0);
    const second = run(['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', state], { input: withNonces, env: { ALICE_KEY } });
    expect(second.status).toBe(5);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(/E_NONCE_USED: .*has signed already.*start a new round with `offchain musig nonce`$/m); // issue 41: says the next step
  });

  it('blames the participant whose partial signature is bad when finalizing', async () => {
    const signed = expectOk(
      await pipeline(
        [
          { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB] },
          alice(['musig', 'nonce']),
          bob(['musig', 'sign', '--deterministic']),
          alice(['musig', 'sign', '--psbt']),
        ],
        UNSIGNED,
      ),
    );
    // Corrupt Bob's partial signature inside the PSBT, as a misbehaving peer would.
    const tx = Transaction.fromPSBT(Buffer.from(signed.trim(), 'base64'));
    const sigs = tx.getInput(0).musig2PartialSig!;
    const bobEntry = sigs.find(([k]) => hex.encode(k.participantPubkey) === BOB)!;
    const bad = Uint8Array.from(bobEntry[1]);
    bad[31] = bad[31]! ^ 1;
    const others = sigs.filter((e) => e !== bobEntry);
    tx.updateInput(0, { musig2PartialSig: undefined });
    tx.updateInput(0, { musig2PartialSig: [...others, [bobEntry[0], bad]] });
    const r = run(['psbt', 'finalize'], { input: Buffer.from(tx.toPSBT()).toString('base64') });
    expect(r.status).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`E_BAD_PARTIAL_SIG: .*${BOB}`));
  });

  it('never lets a secret key reach stdout or stderr', async () => {
    const results = await pipeline(
      [
        { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB] },
        alice(['musig', 'nonce', '--debug']),
        bob(['musig', 'sign', '--deterministic', '--debug']),
        alice(['musig', 'sign', '--debug']),
        { args: ['psbt', 'decode'] },
      ],
      UNSIGNED,
    );
    expectOk(results);
    const show = run(['key', 'show', '--key-env', 'ALICE_KEY'], { env: { ALICE_KEY } });
    const bad = run(['key', 'show', '--key-env', 'ALICE_KEY', '--debug'], { env: { ALICE_KEY: ALICE_KEY.slice(0, 62) + 'zz' } });
    // A variable named by --key-env that holds no key: a bad value of that flag, exit 2 (docs/cli.md).
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^offchain: error E_BAD_SECRET_KEY: /);
    for (const r of [...results, show, bad]) {
      for (const secret of [ALICE_KEY, BOB_KEY]) {
        expect(r.stdout.toLowerCase()).not.toContain(secret);
        expect(r.stderr.toLowerCase()).not.toContain(secret);
      }
    }
  });
});

/**
 * The independent check of an extracted spend of the fixture: the same transaction as the
 * unsigned fixture (outpoint, outputs), signed for the output key derived in test code.
 */
function verifyFixtureSpend(rawHex: string): void {
  // The fixture's public keys are the fixture secret keys' (derived in test code).
  expect(hexOf(publicKeyOf(bytesOf(ALICE_KEY)))).toBe(ALICE);
  expect(hexOf(publicKeyOf(bytesOf(BOB_KEY)))).toBe(BOB);
  const output = musigTaprootOutput([bytesOf(ALICE), bytesOf(BOB)]);
  const psbt = Buffer.from(UNSIGNED, 'base64');
  const unsigned = psbtUnsignedTx(psbt);
  const utxo = psbtWitnessUtxos(psbt)[0]!;
  const input = unsigned.inputs[0]!;
  const v = verifyKeyPathSpend(rawHex, [{ txid: input.txid, vout: input.vout, amount: utxo.amount, script: utxo.script }], output.outputKey);
  expect(v.outputs).toEqual(unsigned.outputs);
  expect(v.inputs.map((i) => i.sequence)).toEqual(unsigned.inputs.map((i) => i.sequence));
}
