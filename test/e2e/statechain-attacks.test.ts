/**
 * Review of issue 22 through the built CLI (an attacker's view). Finding E: the operator's
 * old share s₁ survives a rotation on disk. Only the record version replaced *at* the
 * rotation is zeroed; every earlier version of op-<coin> — the deposit offer's, backup 1's,
 * the pending transfer's — held the same s₁ and was renamed over without erasure, so its
 * inode keeps s₁ after the transfer. (docs/statechain.md: "The operator's old share is
 * erased at rotation".) The test holds a descriptor on the record as the deposit offer
 * wrote it, as share-erasure.test.ts does for the last version.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { OPERATOR_PUB, TERMS, depositThrough, flow, fundingPsbt, fundingTo, ok, transferThrough } from './statechain-flow.ts';
import { writeFileSync } from 'node:fs';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

function bytesBehind(fd: number): Buffer {
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  readSync(fd, buf, 0, size, 0);
  return buf;
}

describe('finding E: every stored copy of the operator\'s old share is erased at rotation', () => {
  it('after a transfer, the op- record as the deposit offer wrote it no longer holds s₁', () => {
    const dir = tempDir('offchain-e2e-sc-attacks-');
    dirs.push(dir);
    const f = flow(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
    const request = ok(f.as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', OPERATOR_PUB]));
    const offer = ok(f.as('OPERATOR_KEY', ['statechain-deposit', ...TERMS], request));
    const { coin_id: coinId, statement } = JSON.parse(offer) as { coin_id: string; statement: { address: string } };
    const opPath = join(dir.path, 'OPERATOR_KEY', 'regtest', 'statechain', `op-${coinId}.json`);
    const s1 = (JSON.parse(readFileSync(opPath, 'utf8')) as { share_secret: string }).share_secret;
    const fd = openSync(opPath, 'r'); // the version the offer wrote
    try {
      expect(bytesBehind(fd).toString()).toContain(s1);
      const psbtFile = join(dir.path, 'funding.psbt');
      writeFileSync(psbtFile, fundingPsbt(fundingTo(statement.address, 100_000n)));
      const backupReq = ok(f.as('ALICE_KEY', ['statechain-deposit', '--funding', psbtFile], offer));
      const cosigned = ok(f.as('OPERATOR_KEY', ['statechain-deposit'], backupReq));
      ok(f.as('ALICE_KEY', ['statechain-deposit'], cosigned));
      transferThrough(f, coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
      const now = (JSON.parse(readFileSync(opPath, 'utf8')) as { share_secret: string }).share_secret;
      expect(now).not.toBe(s1); // rotated
      expect(bytesBehind(fd).toString(), 'an old version of op-<coin> still holds s₁ after the rotation').not.toContain(s1);
    } finally {
      closeSync(fd);
    }
  }, 60_000);
});

describe('finding F: a coin cannot come back to a state directory that held it', () => {
  it('Alice → Bob → Alice: Alice (same --state-dir, as the docs\' pair example keeps the sender\'s) can ask for the coin back and take it', () => {
    const dir = tempDir('offchain-e2e-sc-back-');
    dirs.push(dir);
    const f = flow(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    transferThrough(f, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    // Before: E_COIN_EXISTS at Alice's --start (her record of the coin she sent is still there).
    const back = transferThrough(f, d.coinId, OPERATOR_PUB, 'BOB_KEY', 'ALICE_KEY');
    expect(back.coin.backups).toHaveLength(3);
  }, 60_000);
});

describe('finding G: in test-seed mode the operator\'s stateless nonce repeats across invocations', () => {
  it('two co-signing steps of one coin never use the same operator nonce (src/lib/random.ts: secret nonces mix a persistent counter)', () => {
    const dir = tempDir('offchain-e2e-sc-seed-');
    dirs.push(dir);
    const f = flow(dir.path, () => ['--tip-height', '200', '--confirmations', '3'], { OFFCHAIN_TEST_SEED: 'review' });
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const t = transferThrough(f, d.coinId, OPERATOR_PUB, 'ALICE_KEY', 'BOB_KEY');
    const depositNonce = (JSON.parse(d.cosigned) as { operator_pubnonce: string }).operator_pubnonce;
    const transferNonce = (JSON.parse(t.cosigned) as { operator_pubnonce: string }).operator_pubnonce;
    expect(transferNonce, 'the operator signed backup 1 and backup 2 under one nonce: three such signatures give its share').not.toBe(depositNonce);
  }, 60_000);
});
