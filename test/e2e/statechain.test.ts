/**
 * A statechain coin through the built CLI, offline: Alice deposits (backup 1 signed
 * before the funding exists on chain), the coin goes Alice → Bob → Carol → Dave, each
 * receiver verifying the package before accepting, and Dave withdraws. Every backup and
 * the withdrawal are checked by the independent key-path verifier for the P2TR output key
 * test code derives from the operator's statement; O + S stays P; no message carries a
 * share (o or s) or t₁/t₂ in the clear. Bitcoin Core mines the same flow in
 * test/regtest/statechain.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { decodeCompressed, encodeCompressed, pointAdd, publicKeyOf } from '../independent/secp256k1.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS, depositThrough, flow, fundingTo, ok, storedSecrets, transferThrough } from './statechain-flow.ts';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

describe('a statechain coin through pipes', () => {
  it('deposit, three transfers with verification, withdrawal; signatures checked independently', () => {
    const dir = tempDir('offchain-e2e-sc-');
    dirs.push(dir);
    const f = flow(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
    const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const P = d.coin.statement.aggregate;
    const outputKey = taprootOutput(bytesOf(P).subarray(1)).outputKey;
    const fundingOut = parseTx(readFileSync(d.fundingFile, 'utf8')).outputs[1]!;
    const prevout = [{ amount: fundingOut.amount, script: fundingOut.script }];
    expect(hexOf(fundingOut.script)).toBe(hexOf(taprootOutput(bytesOf(P).subarray(1)).script));
    verifyKeyPathSpend(d.coin.backups[0]!, prevout, outputKey);
    expect(d.coin.latest_locktime).toBe(300);

    const transcript: string[] = [d.request, d.offer, d.backupReq, d.cosigned];
    const owners = ['ALICE_KEY', 'BOB_KEY', 'CAROL_KEY', 'DAVE_KEY'];
    for (let i = 1; i < owners.length; i++) {
      const t = transferThrough(f, d.coinId, operatorPub, owners[i - 1]!, owners[i]!);
      transcript.push(t.request, t.sign, t.cosigned, t.pkg, t.accept, t.done);
      expect(t.verified.backups).toBe(i + 1);
      expect(t.verified.transfers_remaining).toBe(Math.floor((300 - 10 * i - 200 - 6 - 1) / 10));
      expect(t.coin.backups).toHaveLength(i + 1);
      expect(parseTx(t.coin.backups.at(-1)!).lockTime).toBe(300 - 10 * i);
      for (const b of t.coin.backups) verifyKeyPathSpend(b, prevout, outputKey);
      const st = JSON.parse(t.done).statement as { owner_share: string; operator_share: string };
      expect(hexOf(encodeCompressed(pointAdd(decodeCompressed(bytesOf(st.owner_share)), decodeCompressed(bytesOf(st.operator_share)))))).toBe(P);
    }

    const w1 = ok(f.as('DAVE_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2']));
    const w2 = ok(f.as('OPERATOR_KEY', ['statechain-withdraw'], w1));
    const spend = JSON.parse(ok(f.as('DAVE_KEY', ['statechain-withdraw'], w2))) as { hex: string; kind: string };
    expect(spend.kind).toBe('withdrawal');
    verifyKeyPathSpend(spend.hex, prevout, outputKey);
    transcript.push(w1, w2);

    // No message carries a share or a stored secret in the clear.
    const secrets = storedSecrets(dir.path);
    expect(secrets.length).toBeGreaterThan(4);
    for (const s of secrets) for (const m of transcript) expect(m).not.toContain(s);
  }, 240_000);
});
