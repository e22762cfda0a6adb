/**
 * The nonce race through the real CLI: many `musig sign` processes started at once on
 * the same PSBT, with the same key and state directory, must yield exactly one partial
 * signature — BIP-327 secret nonces are single-use, and a second signature with one
 * nonce would reveal Alice's key. The losers exit 5 (E_NONCE_USED) with nothing on
 * stdout. The winner's signature is then completed by Bob and the extracted spend is
 * checked by the independent verifier (test/independent/: its own parser and BIP-341
 * sighash, the output key derived in test code, BIP-340 on an implementation the CLI is
 * not using).
 *
 * Also: concurrent `musig nonce` runs sharing a state directory under OFFCHAIN_TEST_SEED
 * (where a repeated counter would mean a repeated secret nonce) all get distinct nonces.
 *
 * The racers are processes, all at once (the point). The steps before a race (musig init,
 * both nonces) and after it (Bob's signature, finalize, extract) run the same built
 * bundle's `main` in this process (in-process-pipeline.ts; ~10 ms a step instead of a
 * ~0.15 CPU-s node process); test/e2e/contract.test.ts runs that flow spawned.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { Transaction } from '@scure/btc-signer';
import { hex } from '@scure/base';
import { musigTaprootOutput } from '../independent/keys.ts';
import { bytesOf, psbtUnsignedTx, psbtWitnessUtxos } from '../independent/tx.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { tempDir } from '../helpers.ts';
import { networkDir, nonceCounts } from '../state.ts';
import { pipeline, type Run } from './cli.ts';
import { pipelineInProcess } from './in-process.ts';
import { linesOf, runAsync } from './process.ts';
import { ALICE, ALICE_KEY, BOB, BOB_KEY, UNSIGNED } from './fixtures.ts';

const RACERS = 10;
const ROUNDS = 3;

let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir('offchain-race-');
});
afterAll(() => dir.cleanup());

const env = { NODE_ENV: '' };

function expectAllOk(results: Run[]): string {
  results.forEach((r, i) => expect(r.status, `stage ${i}: ${r.stderr}`).toBe(0));
  return results.at(-1)!.stdout;
}

/** The nonce rows of a state directory's database (unused, consumed). */
const storeNonces = (state: string) => nonceCounts(networkDir(state));

describe('the secret-nonce race through the CLI', () => {
  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: ${RACERS} concurrent "musig sign" on one nonce — exactly one signs, the rest exit 5 E_NONCE_USED`, async () => {
      const aliceState = join(dir.path, `alice-${round}`);
      const bobState = join(dir.path, `bob-${round}`);
      const withNonces = expectAllOk(
        await pipelineInProcess(
          [
            { args: ['musig', 'init', '--participant', ALICE, '--participant', BOB], env },
            { args: ['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', aliceState], env: { ...env, ALICE_KEY } },
            { args: ['musig', 'nonce', '--key-env', 'BOB_KEY', '--state-dir', bobState], env: { ...env, BOB_KEY } },
          ],
          UNSIGNED,
        ),
      );
      expect(storeNonces(aliceState)).toEqual({ unused: 1, consumed: 0 });

      const results = await Promise.all(
        Array.from({ length: RACERS }, () =>
          runAsync(['musig', 'sign', '--key-env', 'ALICE_KEY', '--state-dir', aliceState], { input: withNonces, env: { ...env, ALICE_KEY }, timeoutMs: 90_000 }),
        ),
      );

      const winners = results.filter((r) => r.status === 0);
      const losers = results.filter((r) => r.status !== 0);
      expect(winners, results.map((r) => `${r.status}: ${r.stderr}`).join('\n')).toHaveLength(1);
      for (const r of losers) {
        expect(r.status, r.stderr).toBe(5);
        expect(r.stdout).toBe('');
        const lines = linesOf(r.stderr);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^offchain: error E_NONCE_USED: /);
      }

      // The store agrees: one consumed row (a take is one transaction: nothing half-taken), nothing left unused.
      expect(storeNonces(aliceState)).toEqual({ unused: 0, consumed: 1 });

      // The winner's partial signature is good: Bob completes, finalize verifies, and an
      // independent verifier accepts the key-path witness.
      const winner = JSON.parse(winners[0]!.stdout) as { type: string; psbt: string };
      expect(winner.type).toBe('psbt/updated');
      const signedByAlice = Transaction.fromPSBT(Buffer.from(winner.psbt, 'base64')).getInput(0).musig2PartialSig ?? [];
      expect(signedByAlice.map(([k]) => hex.encode(k.participantPubkey))).toEqual([ALICE]);
      const rawHex = expectAllOk(
        await pipelineInProcess(
          [
            { args: ['musig', 'sign', '--key-env', 'BOB_KEY', '--state-dir', bobState], env: { ...env, BOB_KEY } },
            { args: ['psbt', 'finalize'], env },
            { args: ['psbt', 'extract', '--hex'], env },
          ],
          winners[0]!.stdout,
        ),
      ).trim();
      verifyFixtureSpend(rawHex);
    });
  }
});

describe('concurrent nonce issuing from one state directory', () => {
  it(`${RACERS} concurrent "musig nonce" under OFFCHAIN_TEST_SEED all succeed with distinct nonces`, async () => {
    const state = join(dir.path, 'alice-issue');
    const initialised = expectAllOk(await pipeline([{ args: ['musig', 'init', '--participant', ALICE, '--participant', BOB, '--psbt'], env }], UNSIGNED));
    const results = await Promise.all(
      Array.from({ length: RACERS }, () =>
        runAsync(['musig', 'nonce', '--key-env', 'ALICE_KEY', '--state-dir', state, '--psbt'], {
          input: initialised,
          env: { ...env, ALICE_KEY, OFFCHAIN_TEST_SEED: 'race' },
          timeoutMs: 90_000,
        }),
      ),
    );
    results.forEach((r) => expect(r.status, r.stderr).toBe(0));
    const pubnonces = results.map((r) => {
      const nonces = Transaction.fromPSBT(Buffer.from(r.stdout.trim(), 'base64')).getInput(0).musig2PubNonce ?? [];
      expect(nonces).toHaveLength(1);
      return hex.encode(nonces[0]![1]);
    });
    // The persistent counter, bumped in each issue's transaction, keeps seeded nonces from repeating.
    expect(new Set(pubnonces).size).toBe(RACERS);
    expect(storeNonces(state)).toEqual({ unused: RACERS, consumed: 0 });
  });
});

/** The independent check of an extracted spend of the unsigned fixture, for the Alice+Bob key derived in test code. */
function verifyFixtureSpend(rawHex: string): void {
  const psbt = Buffer.from(UNSIGNED, 'base64');
  const input = psbtUnsignedTx(psbt).inputs[0]!;
  const utxo = psbtWitnessUtxos(psbt)[0]!;
  const { outputKey } = musigTaprootOutput([bytesOf(ALICE), bytesOf(BOB)]);
  const v = verifyKeyPathSpend(rawHex, [{ txid: input.txid, vout: input.vout, amount: utxo.amount, script: utxo.script }], outputKey);
  expect(v.outputs).toEqual(psbtUnsignedTx(psbt).outputs);
}
