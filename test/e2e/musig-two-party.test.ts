/**
 * Two parties sign a taproot key-path spend with MuSig2 by piping PSBTs between real
 * `offchain` processes, each with its own key and state directory. The extracted
 * transaction's witness is then checked with noble's BIP-340 verifier against a sighash
 * computed here by btc-signer directly — nothing from our signing path.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hex } from '@scure/base';
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
    verifyKeyPathSpend(extracted.hex);
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
    verifyKeyPathSpend(rawHex);
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
    expect(second.stderr).toMatch(/E_NONCE_USED/);
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
    expect(bad.status).toBe(3);
    for (const r of [...results, show, bad]) {
      for (const secret of [ALICE_KEY, BOB_KEY]) {
        expect(r.stdout.toLowerCase()).not.toContain(secret);
        expect(r.stderr.toLowerCase()).not.toContain(secret);
      }
    }
  });
});

/** Independent check: BIP-340 verify of the key-path witness over btc-signer's own sighash. */
function verifyKeyPathSpend(rawHex: string): void {
  const unsigned = Transaction.fromPSBT(Buffer.from(UNSIGNED, 'base64'));
  const prevout = unsigned.getInput(0).witnessUtxo!;
  const tx = Transaction.fromRaw(hex.decode(rawHex), { allowUnknownOutputs: true });
  const witness = tx.getInput(0).finalScriptWitness!;
  expect(witness).toHaveLength(1);
  expect(witness[0]).toHaveLength(64); // SIGHASH_DEFAULT: no sighash byte
  const msg = tx.preimageWitnessV1(0, [prevout.script], 0x00, [prevout.amount]);
  const outputKey = prevout.script.slice(2);
  expect(schnorr.verify(witness[0]!, msg, outputKey)).toBe(true);
}
