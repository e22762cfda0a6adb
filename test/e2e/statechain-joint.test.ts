/**
 * A coin handed to a pair through pipes (issue 13 item 6, the seed's channel): Alice
 * deposits, then moves the coin to Alice+Bob — Bob makes his part, Alice asks with it,
 * Alice (sender) and the operator run the usual steps, Alice (the pair's first part)
 * verifies the package and hands Bob u = t₁ − a, Bob verifies and answers t₂ = u − b
 * sealed to the operator, Alice sends the acceptance, both record the operator's answer.
 * Then the "virtual close": the pair sends the coin to Bob alone — B's nonce, A's request
 * with the summed nonce, the operator's answer, A's partial signature and a + x₁ sealed to
 * B, B's partial signature and the package with t₁ = a + x₁ + b.
 * Checked by test code: s·G + A + B = P, each part's secret is its own part's key, every
 * backup verifies for the coin's output key, no message carries a part's secret, and the
 * pair's refusals leave nothing written.
 *
 * Each coin is deposited and every honest step of the pair's flows runs through processes
 * (statechain-flow.ts), with one spawned sample of the pair's refusals (A's forged part,
 * E_BAD_REQUEST_SIG). The other refusals and every step repeated (its answer lost) run the
 * same built bundle's `main` in this process (statechain-here.ts; ~10 ms instead of a
 * ~0.15 CPU-s node process), with the same state directories checked the same way; so do
 * the steps of the old-terms coin, whose point is what each part refuses.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { decodeCompressed, encodeCompressed, pointAdd, publicKeyOf } from '../independent/secp256k1.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { signBody } from '../../src/lib/statechain/seal.ts';
import { ANCHORED_TERMS, KEYS, TERMS, depositThrough, files, flow, fundingTo, ok, operatorRecord, ownerDocs, refused, type CoinView } from './statechain-flow.ts';
import { flowHere } from './statechain-here.ts';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

const sum = (...hex: string[]) => hexOf(encodeCompressed(hex.map((h) => decodeCompressed(bytesOf(h))).reduce((a, b) => pointAdd(a, b))));
const pointOfSecret = (hex: string) => hexOf(publicKeyOf(bytesOf(hex)));

/** Alice's coin deposited offline at tip 200 (anchored terms unless told: a pair takes only those by default), in a temp state root; its key P and its output as the verifier needs them. */
function depositedCoin(prefix: string, terms: string[] = ANCHORED_TERMS) {
  const dir = tempDir(prefix);
  dirs.push(dir);
  const f = flow(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
  const h = flowHere(dir.path, () => ['--tip-height', '200', '--confirmations', '3']);
  const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));
  const d = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n), terms);
  const P = d.coin.statement.aggregate;
  const fundingOut = parseTx(readFileSync(d.fundingFile, 'utf8')).outputs[1]!;
  return { dir, f, h, operatorPub, d, P, prevout: [{ amount: fundingOut.amount, script: fundingOut.script }], outputKey: taprootOutput(bytesOf(P).subarray(1)).outputKey };
}

/**
 * The pair's coin as the first test leaves it once both parts hold it (before the virtual
 * close), copied aside so the withdrawal starts there instead of depositing and moving a
 * coin to a pair again; run alone, the withdrawal test builds it itself.
 */
let paired: { path: string; d: ReturnType<typeof depositedCoin>['d']; prevout: ReturnType<typeof depositedCoin>['prevout']; outputKey: Uint8Array } | undefined;

describe('a statechain coin received by a pair (Alice+Bob) through pipes', () => {
  it('Alice → Alice+Bob (each part keeps only its own secret; P = S + A + B), then the virtual close to Bob alone, signed three-party', async () => {
    const { dir, f, h, operatorPub, d, P, prevout, outputKey } = depositedCoin('offchain-e2e-sc-joint-');
    const start = ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', operatorPub];

    // Bob's part, then Alice's request with it (Alice's own state directory: she is also the sender).
    const part = ok(await f.asAsync('BOB_KEY', [...start, '--joint-part']));
    const partFile = join(dir.path, 'bob-part.json');
    writeFileSync(partFile, part);
    // A part whose signature is not Bob's is refused, nothing written.
    const forgedFile = join(dir.path, 'forged-part.json');
    writeFileSync(forgedFile, JSON.stringify({ ...JSON.parse(part), part_sig: '00'.repeat(64) }));
    const before = files(dir.path);
    refused(await f.asAsync('ALICE_KEY', [...start, '--joint-with', forgedFile]), 'E_BAD_REQUEST_SIG');
    expect(files(dir.path)).toEqual(before);

    const request = ok(await f.asAsync('ALICE_KEY', [...start, '--joint-with', partFile]));
    expect(JSON.parse(request)).toMatchObject({ type: 'statechain/transfer-request', receiver_parts: [{}, { share: JSON.parse(part).share }] });
    const sign = ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], request));
    const cosigned = ok(await f.asAsync('OPERATOR_KEY', ['statechain-transfer'], sign));
    const pkg = ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], cosigned));
    // Anchored terms: the pair's first part verifies the package (as its accepting step will) with the default floor.
    expect(JSON.parse(ok(await f.asAsync('ALICE_KEY', ['statechain-verify'], pkg)))).toMatchObject({ type: 'statechain/verified', anchor: true, backup_fee_sat: 0, backup_value_sat: 100_000 });
    const handoff = ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], pkg));
    expect(JSON.parse(handoff).type).toBe('statechain/joint-handoff');

    // A handoff given to a part it was not made for (E_WRONG_RECEIVER): test/lib/statechain/joint.test.ts,
    // 'B refuses a handoff for another coin, another part, …'.

    const t2 = ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], handoff));
    expect(JSON.parse(t2).type).toBe('statechain/joint-t2');
    // Each part's step repeated (its answer lost) prints the same answer and writes nothing new.
    const settled = files(dir.path);
    expect(ok(await h.as('BOB_KEY', ['statechain-transfer'], handoff))).toBe(t2);
    expect(ok(await h.as('ALICE_KEY', ['statechain-transfer'], pkg))).toBe(handoff);
    expect(files(dir.path)).toEqual(settled);
    const beforeT2 = files(dir.path);
    refused(await h.as('ALICE_KEY', ['statechain-transfer'], JSON.stringify({ ...JSON.parse(t2), part_sig: '11'.repeat(64) })), 'E_BAD_REQUEST_SIG');
    expect(files(dir.path)).toEqual(beforeT2);
    const accept = ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], t2));
    const done = ok(await f.asAsync('OPERATOR_KEY', ['statechain-transfer'], accept));
    const aliceView = JSON.parse(ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], done))) as CoinView & { owner_share: string; next: string };
    const bobView = JSON.parse(ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], done))) as CoinView & { owner_share: string; next: string };
    expect(aliceView.next).toContain('part 1 of 2');
    expect(bobView.next).toContain('part 2 of 2');

    // Test code: the parts' secrets are their parts' keys; the operator's new share with A + B is P.
    const docs = (who: string) => ownerDocs<{ share_secret: string; share: string; joint: { index: number; parts: { share: string }[] } }>(dir.path, who).get(`joint-${d.coinId}`)!;
    const [a, b] = [docs('ALICE_KEY'), docs('BOB_KEY')];
    expect([a.joint.index, b.joint.index]).toEqual([0, 1]);
    expect(pointOfSecret(a.share_secret)).toBe(a.joint.parts[0]!.share);
    expect(pointOfSecret(b.share_secret)).toBe(b.joint.parts[1]!.share);
    const st = JSON.parse(done).statement as { owner_share: string; operator_share: string };
    expect(st.owner_share).toBe(sum(a.joint.parts[0]!.share, a.joint.parts[1]!.share));
    expect(aliceView.owner_share).toBe(st.owner_share);
    expect(bobView.owner_share).toBe(st.owner_share);
    const op = operatorRecord(dir.path, d.coinId);
    expect(sum(pointOfSecret(op.share_secret), st.owner_share)).toBe(P);
    expect(aliceView.backups).toEqual(bobView.backups);
    expect(aliceView.backups).toHaveLength(2);
    for (const tx of aliceView.backups) verifyKeyPathSpend(tx, prevout, outputKey);
    const copy = tempDir('offchain-e2e-sc-joint-w-');
    dirs.push(copy);
    cpSync(dir.path, copy.path, { recursive: true });
    paired = { path: copy.path, d, prevout, outputKey };

    // The virtual close: the pair hands the whole coin to Bob alone (a fresh share of his),
    // signing three-party [A, B, S]; the operator answers as for any sender.
    const closeReq = ok(await f.asAsync('BOB_KEY', start));
    refused(await h.as('ALICE_KEY', ['statechain-transfer'], closeReq), 'E_WRONG_PART', 5); // B gives its nonce first
    const nonce = ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], closeReq));
    expect(JSON.parse(nonce).type).toBe('statechain/joint-nonce');
    const sign2 = ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], nonce));
    const cosigned2 = ok(await f.asAsync('OPERATOR_KEY', ['statechain-transfer'], sign2));
    const jointSign = ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], cosigned2));
    expect(JSON.parse(jointSign).type).toBe('statechain/joint-sign');
    const beforeSign = files(dir.path);
    refused(await h.as('BOB_KEY', ['statechain-transfer'], JSON.stringify({ ...JSON.parse(jointSign), a_psig: '01'.repeat(32) })), 'E_BAD_REQUEST_SIG');
    expect(files(dir.path)).toEqual(beforeSign);
    const pkg2 = ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], jointSign));
    expect(ok(await h.as('BOB_KEY', ['statechain-transfer'], jointSign))).toBe(pkg2); // B's step repeated answers the same
    const accept2 = ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], pkg2));
    const done2 = ok(await f.asAsync('OPERATOR_KEY', ['statechain-transfer'], accept2));
    const bobAlone = JSON.parse(ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], done2))) as CoinView & { owner_share: string; next: string };
    expect(bobAlone.next).toContain('the coin is yours');
    expect(bobAlone.backups).toHaveLength(3);
    expect(parseTx(bobAlone.backups[2]!).lockTime).toBe(280);
    for (const tx of bobAlone.backups) verifyKeyPathSpend(tx, prevout, outputKey);
    const bobCoin = ownerDocs<{ share_secret: string; share: string }>(dir.path, 'BOB_KEY').get(`coin-${d.coinId}`)!;
    const op2 = operatorRecord(dir.path, d.coinId);
    expect(pointOfSecret(bobCoin.share_secret)).toBe(bobAlone.owner_share);
    expect(sum(pointOfSecret(op2.share_secret), bobAlone.owner_share)).toBe(P);

    // No message carries either part's secret (or the operator's shares).
    for (const m of [part, request, sign, cosigned, pkg, handoff, t2, accept, done, closeReq, nonce, sign2, cosigned2, jointSign, pkg2, accept2, done2]) {
      for (const s of [a.share_secret, b.share_secret, op.share_secret, op2.share_secret, bobCoin.share_secret]) expect(m).not.toContain(s);
    }
  }, 240_000);
});

/** The first test's pair coin, or (that test not run) Alice's coin moved to Alice+Bob here. */
async function pairedCoin() {
  if (paired) {
    const f = flow(paired.path, () => ['--tip-height', '200', '--confirmations', '3']);
    const h = flowHere(paired.path, () => ['--tip-height', '200', '--confirmations', '3']);
    return { ...paired, dir: { path: paired.path }, f, h };
  }
  const c = depositedCoin('offchain-e2e-sc-joint-w-');
  const { dir, f, operatorPub, d } = c;
  const start = ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', operatorPub];
  const partFile = join(dir.path, 'bob-part.json');
  writeFileSync(partFile, ok(await f.asAsync('BOB_KEY', [...start, '--joint-part'])));
  let m = ok(await f.asAsync('ALICE_KEY', [...start, '--joint-with', partFile]));
  for (const who of ['ALICE_KEY', 'OPERATOR_KEY', 'ALICE_KEY', 'ALICE_KEY', 'BOB_KEY', 'ALICE_KEY', 'OPERATOR_KEY']) m = ok(await f.asAsync(who, ['statechain-transfer'], m));
  ok(await f.asAsync('ALICE_KEY', ['statechain-transfer'], m));
  ok(await f.asAsync('BOB_KEY', ['statechain-transfer'], m));
  return c;
}

describe('a pair withdraws its coin cooperatively through pipes', () => {
  it('B builds the withdrawal and gives its nonce, A must name the same one, the operator co-signs, A then B sign; the spend verifies', async () => {
    const { dir, f, h, d, prevout, outputKey } = await pairedCoin();
    const to = ['--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '2'];
    refused(await h.as('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, ...to]), 'E_WRONG_PART', 5); // B starts
    const nonce = ok(await f.asAsync('BOB_KEY', ['statechain-withdraw', '--coin', d.coinId, ...to]));
    expect(JSON.parse(nonce).type).toBe('statechain/joint-withdraw-nonce');
    const before = files(dir.path);
    refused(await h.as('ALICE_KEY', ['statechain-withdraw', '--to', 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '--fee-rate', '3'], nonce), 'E_WITHDRAWAL_MISMATCH');
    expect(files(dir.path)).toEqual(before);
    const request = ok(await f.asAsync('ALICE_KEY', ['statechain-withdraw', ...to], nonce));

    // Issue 37, finding 6: A, holding B's genuine consent to this withdrawal, sends the operator the same transaction
    // under a nonce that leaves B's out (before: co-signed, the coin closed with a signature the pair can never
    // complete). Refused, E_PAIR_CONSENT, and the operator's state directory byte-identical.
    const stranger = hexOf(Uint8Array.from([...publicKeyOf(bytesOf('07'.repeat(32))), ...publicKeyOf(bytesOf('09'.repeat(32)))]));
    const resigned = (fields: Record<string, string | undefined>) => {
      const { owner_sig: _sig, ...body } = JSON.parse(request) as Record<string, unknown>;
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) delete body[k];
        else body[k] = v;
      }
      return JSON.stringify({ ...body, owner_sig: signBody(String(body.type), body, bytesOf(KEYS.ALICE_KEY!), new Uint8Array(32)) });
    };
    const operatorDir = join(dir.path, 'OPERATOR_KEY');
    const operatorBefore = files(operatorDir);
    for (const fields of [{ owner_pubnonce: stranger, a_pubnonce: undefined }, { owner_pubnonce: stranger, a_pubnonce: stranger }]) {
      refused(await h.as('OPERATOR_KEY', ['statechain-withdraw'], resigned(fields)), 'E_PAIR_CONSENT');
      expect(files(operatorDir)).toEqual(operatorBefore);
    }

    const cosigned = ok(await f.asAsync('OPERATOR_KEY', ['statechain-withdraw'], request));
    const sign = ok(await f.asAsync('ALICE_KEY', ['statechain-withdraw'], cosigned));
    expect(JSON.parse(sign).type).toBe('statechain/joint-withdraw-sign');
    const spend = JSON.parse(ok(await f.asAsync('BOB_KEY', ['statechain-withdraw'], sign))) as { kind: string; hex: string };
    expect(spend.kind).toBe('withdrawal');
    verifyKeyPathSpend(spend.hex, prevout, outputKey);
    // Repeated, each part's step answers the same; the operator signs nothing more for the coin.
    expect(ok(await h.as('ALICE_KEY', ['statechain-withdraw'], cosigned))).toBe(sign);
    expect(JSON.parse(ok(await h.as('BOB_KEY', ['statechain-withdraw'], sign))).hex).toBe(spend.hex);
  }, 240_000);
});

describe('a pair receiving an old-terms coin (no anchor), step by step', () => {
  it('each part refuses it by default (E_BACKUP_UNBUMPABLE, 4: A at statechain-verify and accepting, B at accepting), nothing written; with --allow-unanchored both take it', async () => {
    const { dir, h, operatorPub, d } = depositedCoin('offchain-e2e-sc-joint-old-', TERMS);
    const start = ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', operatorPub];
    const partFile = join(dir.path, 'bob-part.json');
    writeFileSync(partFile, ok(await h.as('BOB_KEY', [...start, '--joint-part'])));
    let pkg = ok(await h.as('ALICE_KEY', [...start, '--joint-with', partFile]));
    for (const who of ['ALICE_KEY', 'OPERATOR_KEY', 'ALICE_KEY']) pkg = ok(await h.as(who, ['statechain-transfer'], pkg));
    expect(JSON.parse(pkg).type).toBe('statechain/transfer-package');

    // A: refused at verifying and at accepting; the state root byte-identical after each.
    const before = files(dir.path);
    const r1 = await h.as('ALICE_KEY', ['statechain-verify'], pkg);
    refused(r1, 'E_BACKUP_UNBUMPABLE');
    expect(r1.stderr).toContain('--allow-unanchored');
    expect(files(dir.path)).toEqual(before);
    refused(await h.as('ALICE_KEY', ['statechain-transfer'], pkg), 'E_BACKUP_UNBUMPABLE');
    expect(files(dir.path)).toEqual(before);

    // The opt-in: A verifies and hands over; B, without it, refuses for itself, nothing written; with it, answers t₂.
    const unanchored = JSON.parse(ok(await h.as('ALICE_KEY', ['statechain-verify', '--allow-unanchored'], pkg))) as { anchor?: boolean };
    expect(unanchored).toMatchObject({ backup_fee_sat: 400, backup_value_sat: 99_600 });
    expect(unanchored.anchor).toBeUndefined();
    const handoff = ok(await h.as('ALICE_KEY', ['statechain-transfer', '--allow-unanchored'], pkg));
    expect(JSON.parse(handoff).type).toBe('statechain/joint-handoff');
    const beforeB = files(dir.path);
    refused(await h.as('BOB_KEY', ['statechain-transfer'], handoff), 'E_BACKUP_UNBUMPABLE');
    expect(files(dir.path)).toEqual(beforeB);
    const t2 = ok(await h.as('BOB_KEY', ['statechain-transfer', '--allow-unanchored'], handoff));
    const accept = ok(await h.as('ALICE_KEY', ['statechain-transfer'], t2));
    const done = ok(await h.as('OPERATOR_KEY', ['statechain-transfer'], accept));
    const aliceView = JSON.parse(ok(await h.as('ALICE_KEY', ['statechain-transfer'], done))) as CoinView & { next: string };
    const bobView = JSON.parse(ok(await h.as('BOB_KEY', ['statechain-transfer'], done))) as CoinView & { next: string };
    expect(aliceView.next).toContain('part 1 of 2');
    expect(bobView.next).toContain('part 2 of 2');
  }, 240_000);
});
