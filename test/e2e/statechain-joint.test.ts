/**
 * A coin handed to a pair through pipes (issue 13 item 6, the seed's channel): Alice
 * deposits, then moves the coin to Alice+Bob — Bob makes his part, Alice asks with it,
 * Alice (sender) and the operator run the usual steps, Alice (the pair's first part)
 * verifies the package and hands Bob u = t₁ − a, Bob verifies and answers t₂ = u − b
 * sealed to the operator, Alice sends the acceptance, both record the operator's answer.
 * Checked by test code: s·G + A + B = P, each part's secret is its own part's key, every
 * backup verifies for the coin's output key, no message carries a part's secret, and the
 * pair's refusals leave nothing written.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { decodeCompressed, encodeCompressed, pointAdd, publicKeyOf } from '../independent/secp256k1.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS, depositThrough, files, flow, fundingTo, ok, refused, type CoinView } from './statechain-flow.ts';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

const sum = (...hex: string[]) => hexOf(encodeCompressed(hex.map((h) => decodeCompressed(bytesOf(h))).reduce((a, b) => pointAdd(a, b))));
const pointOfSecret = (hex: string) => hexOf(publicKeyOf(bytesOf(hex)));

describe('a statechain coin received by a pair (Alice+Bob) through pipes', () => {
  it('Alice → Alice+Bob: each part verifies the chain, keeps only its own secret; P = S + A + B', () => {
    const dir = tempDir('offchain-e2e-sc-joint-');
    dirs.push(dir);
    const f = flow(dir.path, () => ['--tip-height', '200', '--deposit-confirmations', '3']);
    const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));
    const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const P = d.coin.statement.aggregate;
    const fundingOut = parseTx(readFileSync(d.fundingFile, 'utf8')).outputs[1]!;
    const prevout = [{ amount: fundingOut.amount, script: fundingOut.script }];
    const outputKey = taprootOutput(bytesOf(P).subarray(1)).outputKey;
    const start = ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', operatorPub];

    // Bob's part, then Alice's request with it (Alice's own state directory: she is also the sender).
    const part = ok(f.as('BOB_KEY', [...start, '--joint-part']));
    const partFile = join(dir.path, 'bob-part.json');
    writeFileSync(partFile, part);
    // A part whose signature is not Bob's is refused, nothing written.
    const forgedFile = join(dir.path, 'forged-part.json');
    writeFileSync(forgedFile, JSON.stringify({ ...JSON.parse(part), part_sig: '00'.repeat(64) }));
    const before = files(dir.path);
    refused(f.as('ALICE_KEY', [...start, '--joint-with', forgedFile]), 'E_BAD_REQUEST_SIG');
    expect(files(dir.path)).toEqual(before);

    const request = ok(f.as('ALICE_KEY', [...start, '--joint-with', partFile]));
    expect(JSON.parse(request)).toMatchObject({ type: 'statechain/transfer-request', receiver_parts: [{}, { share: JSON.parse(part).share }] });
    const sign = ok(f.as('ALICE_KEY', ['statechain-transfer'], request));
    const cosigned = ok(f.as('OPERATOR_KEY', ['statechain-transfer'], sign));
    const pkg = ok(f.as('ALICE_KEY', ['statechain-transfer'], cosigned));
    const handoff = ok(f.as('ALICE_KEY', ['statechain-transfer'], pkg));
    expect(JSON.parse(handoff).type).toBe('statechain/joint-handoff');

    // Bob refuses a handoff whose pair backup pays another script than he expects (a second Bob state dir asked for one).
    const strict = flow(dir.path, f.chain);
    ok(strict.as('DAVE_KEY', [...start, '--joint-part', '--backup-address', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080']));
    refused(strict.as('DAVE_KEY', ['statechain-transfer'], handoff), 'E_WRONG_RECEIVER'); // not Dave's part at all

    const t2 = ok(f.as('BOB_KEY', ['statechain-transfer'], handoff));
    expect(JSON.parse(t2).type).toBe('statechain/joint-t2');
    // The handoff once taken cannot be taken again (Bob's part document is gone).
    refused(f.as('BOB_KEY', ['statechain-transfer'], handoff), 'E_NOT_RECEIVING', 5);
    const beforeT2 = files(dir.path);
    refused(f.as('ALICE_KEY', ['statechain-transfer'], JSON.stringify({ ...JSON.parse(t2), part_sig: '11'.repeat(64) })), 'E_BAD_REQUEST_SIG');
    expect(files(dir.path)).toEqual(beforeT2);
    const accept = ok(f.as('ALICE_KEY', ['statechain-transfer'], t2));
    const done = ok(f.as('OPERATOR_KEY', ['statechain-transfer'], accept));
    const aliceView = JSON.parse(ok(f.as('ALICE_KEY', ['statechain-transfer'], done))) as CoinView & { owner_share: string; next: string };
    const bobView = JSON.parse(ok(f.as('BOB_KEY', ['statechain-transfer'], done))) as CoinView & { owner_share: string; next: string };
    expect(aliceView.next).toContain('part 1 of 2');
    expect(bobView.next).toContain('part 2 of 2');

    // Test code: the parts' secrets are their parts' keys; the operator's new share with A + B is P.
    const docs = (who: string) => JSON.parse(readFileSync(join(dir.path, who, 'regtest', 'statechain', `joint-${d.coinId}.json`), 'utf8')) as { share_secret: string; share: string; joint: { index: number; parts: { share: string }[] } };
    const [a, b] = [docs('ALICE_KEY'), docs('BOB_KEY')];
    expect([a.joint.index, b.joint.index]).toEqual([0, 1]);
    expect(pointOfSecret(a.share_secret)).toBe(a.joint.parts[0]!.share);
    expect(pointOfSecret(b.share_secret)).toBe(b.joint.parts[1]!.share);
    const st = JSON.parse(done).statement as { owner_share: string; operator_share: string };
    expect(st.owner_share).toBe(sum(a.joint.parts[0]!.share, a.joint.parts[1]!.share));
    expect(aliceView.owner_share).toBe(st.owner_share);
    expect(bobView.owner_share).toBe(st.owner_share);
    const op = JSON.parse(readFileSync(join(dir.path, 'OPERATOR_KEY', 'regtest', 'statechain', `op-${d.coinId}.json`), 'utf8')) as { share_secret: string };
    expect(sum(pointOfSecret(op.share_secret), st.owner_share)).toBe(P);
    expect(aliceView.backups).toEqual(bobView.backups);
    expect(aliceView.backups).toHaveLength(2);
    for (const tx of aliceView.backups) verifyKeyPathSpend(tx, prevout, outputKey);

    // No message carries either part's secret (or the operator's share).
    for (const m of [part, request, sign, cosigned, pkg, handoff, t2, accept, done]) {
      for (const s of [a.share_secret, b.share_secret, op.share_secret]) expect(m).not.toContain(s);
    }
  }, 240_000);
});
