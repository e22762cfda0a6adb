/**
 * Review of credit-for-ecash through the built CLI (the in-process attacks are in
 * test/lib/credit/ecash-review.test.ts): a token printed on standard output and lost
 * after the user's record moved on is written again by feeding the same receipt, and
 * `credit token decode` refuses a token naming another mint than the offer's. Tokens
 * are checked by cashu-ts (DLEQ) and the test-code Nutshell mint, not by src/.
 */
import { blindMessage, getDecodedToken, getEncodedToken, hasValidDleq } from '@cashu/cashu-ts';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { nutshellAccepts, nutshellKeyset } from '../independent/cashu.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { snapshot } from '../lib/credit/tamper.ts';
import { pipeline, run } from './cli.ts';
import { MINT_KEY, PAYOUT, PAY_FLAGS, REFUND, fundingPsbt, message, mintStage, userStage } from './stream-credit.ts';

const SEED = 'TEST_PRIVATE_KEY';
const ENV = { ECASH_SEED: SEED, WALLET_SEED: 'c4'.repeat(64), OFFCHAIN_TEST_SEED: 'credit-ecash-attacks' };
const NUTSHELL = nutshellKeyset(SEED);
const MINT_URL = 'http://127.0.0.1:3338';
const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
const WALLET = ['--wallet-seed-env', 'WALLET_SEED'];

function checkToken(token: string, keyset: { id: string; keys: Record<string, string> }): number {
  const t = getDecodedToken(token, [keyset.id]);
  expect(t.mint).toBe(MINT_URL);
  let sum = 0;
  for (const p of t.proofs) {
    expect(hasValidDleq(p, keyset as never)).toBe(true);
    expect(nutshellAccepts(NUTSHELL, { id: p.id, amount: BigInt(p.amount.toString()), secret: p.secret, C: p.C })).toBe(true);
    sum += Number(p.amount.toString());
  }
  return sum;
}

describe('review: ecash through the CLI, attacked', () => {
  const tmp = tempDir('offchain-ecash-attacks-');
  const root = tmp.path;
  const mintDir = join(root, 'mint');
  const offerPath = join(root, 'offer.json');
  const key = hex.encode(Uint8Array.from(Buffer.from('review-user'.padEnd(32, '.'))));
  const user = { key, dir: join(root, 'user') };
  const USER_KEY = key;
  let keyset: { id: string; keys: Record<string, string> };
  afterAll(() => tmp.cleanup());

  beforeAll(async () => {
    const offer = message(await pipeline([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', MINT_URL, ...ECASH)], ''), 'credit/offer', 'offer');
    writeFileSync(offerPath, offer.text);
    keyset = JSON.parse(run(['credit', 'keyset', ...ECASH], { env: ENV }).stdout).keysets[0];
    const output = musigTaprootOutput([publicKeyOf(hex.decode(key)), publicKeyOf(hex.decode(MINT_KEY))]);
    message(await pipeline([
      userStage(user, ENV, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND),
      mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
      userStage(user, ENV, 'open-credit', '--role', 'user'),
    ], fundingPsbt(output.script, 'ecash review')), 'credit/opened', 'open');
  }, 60_000);

  // Gain if broken (the honest user's loss): "--token-out -" prints the token only after
  // the record is stored; if that output is lost (closed pipe, crash, full disk), the
  // bearer token was gone for good — feeding the receipt again printed only the balance.
  it('a token printed on standard output and lost: the same receipt fed again prints it again, and can write it to a new 0600 file; nothing changes', async () => {
    const req = message(await pipeline([userStage(user, ENV, 'sign-update', '--role', 'user', '--amount', '2500', ...WALLET)], ''), 'credit/update-request', 'request').text;
    const receipt = run(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: req, env: { ...ENV, MINT_KEY } });
    expect(receipt.status, receipt.stderr).toBe(0);
    const apply = (out: string) => run(['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', user.dir, ...WALLET, '--token-out', out], { input: receipt.stdout, env: { ...ENV, USER_KEY } });
    const lost = apply('-');
    expect(lost.status, lost.stderr).toBe(0);
    const userAfter = snapshot(user.dir);
    const again = apply('-');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toBe(lost.stdout);
    expect(checkToken(again.stdout.trim(), keyset)).toBe(2500);
    const file = join(root, 'recovered.txt');
    const toFile = apply(file);
    expect(toFile.status, toFile.stderr).toBe(0);
    expect(JSON.parse(toFile.stdout).ecash).toMatchObject({ issued_sat: 2500, this_payment_sat: 2500, token_out: file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(lost.stdout.trim());
    expect(snapshot(user.dir)).toEqual(userAfter);
  }, 60_000);

  // Gain if broken (issue 36, found 1): a relay holding the user's request puts in its own
  // blinded messages for the same amounts; the mint co-signed the state and signed the
  // relay's outputs — the relay got the payment's ecash, the user a receipt it refuses
  // (E_BAD_DLEQ) and then E_PENDING until its refund at expiry.
  it('a relay swapping a request\'s outputs for its own (cashu-ts blinded messages) is refused, nothing written; the genuine request then pays the user', async () => {
    const req = JSON.parse(message(await pipeline([userStage(user, ENV, 'sign-update', '--role', 'user', '--amount', '1500', ...WALLET)], ''), 'credit/update-request', 'request').text);
    const relayed = { ...req, outputs: req.outputs.map((o: { amount: number; id: string }) => ({ ...o, B_: blindMessage(randomBytes(32)).B_.toHex(true) })) };
    const before = snapshot(root);
    const mint = (input: string) => run(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input, env: { ...ENV, MINT_KEY } });
    const refused = mint(JSON.stringify(relayed));
    expect(refused.status).toBe(4);
    expect(refused.stdout).toBe('');
    expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(refused.stderr.split('\n').filter((l) => l.startsWith('offchain: error'))[0] ?? '')?.[1]).toBe('E_OUTPUTS_SIGNATURE');
    expect(snapshot(root)).toEqual(before);
    // the genuine request, through the same mint, on the nonce the relay did not use up
    const receipt = mint(JSON.stringify(req));
    expect(receipt.status, receipt.stderr).toBe(0);
    const tokenPath = join(root, 'relayed.txt');
    const balance = message(await pipeline([userStage(user, ENV, 'sign-update', '--role', 'user', ...WALLET, '--token-out', tokenPath)], receipt.stdout), 'credit/balance', 'receipt').msg;
    expect(balance.ecash.this_payment_sat).toBe(1500);
    expect(checkToken(readFileSync(tokenPath, 'utf8').trim(), keyset)).toBe(1500);
  }, 60_000);

  // Gain if broken (issue 36, findings 2 and 3): a token repeating one proof decoded as
  // ten times its amount, all_valid (a mint answers "Duplicate inputs provided"); and a
  // wallet reading a token it has no keyset for got a usage error.
  it('credit token decode: without --keyset it reads the token (verified: false); a token repeating a proof is E_DUPLICATE_PROOF (exit 4, nothing on stdout)', () => {
    const good = readFileSync(join(ROOT, 'fixtures/credit/token.txt'), 'utf8').trim();
    const t = getDecodedToken(good, [keyset.id]);
    const plain = run(['credit', 'token', 'decode', '--in', 'fixtures/credit/token.txt'], { env: ENV });
    expect(plain.status, plain.stderr).toBe(0);
    const m = JSON.parse(plain.stdout);
    expect([m.verified, m.amount_sat, m.all_valid]).toEqual([false, 1000, undefined]);
    expect(m.proofs.map((p: { id: string; amount: number; C: string }) => [p.id, p.amount, p.C])).toEqual(t.proofs.map((p) => [p.id, Number(p.amount.toString()), p.C]));
    writeFileSync(join(root, 'copies.txt'), getEncodedToken({ ...t, proofs: Array(10).fill(t.proofs[0]) }));
    for (const args of [['--keyset', 'fixtures/credit/keyset.json'], []]) {
      const copies = run(['credit', 'token', 'decode', ...args, '--in', join(root, 'copies.txt')], { env: ENV });
      expect(copies.status).toBe(4);
      expect(copies.stdout).toBe('');
      expect(/^offchain: error (E_[A-Z0-9_]+): /m.exec(copies.stderr)?.[1]).toBe('E_DUPLICATE_PROOF');
    }
  });

  // Gain if broken: real proofs in a token naming the payer's own server; decode said
  // all_valid, the receiver's wallet hands the proofs to that server.
  it('credit token decode --keyset OFFER refuses a token naming another mint (E_TOKEN_MISMATCH, exit 4, nothing on stdout)', () => {
    // the fixtures: a token of Nutshell's test keyset and an offer naming its mint (http://localhost:3338)
    const offer = 'fixtures/credit/ecash-offer.json';
    const good = readFileSync(join(ROOT, 'fixtures/credit/token.txt'), 'utf8').trim();
    const t = getDecodedToken(good, [keyset.id]);
    writeFileSync(join(root, 'evil.txt'), getEncodedToken({ ...t, mint: 'https://evil.example' }));
    const ok = run(['credit', 'token', 'decode', '--keyset', offer, '--in', 'fixtures/credit/token.txt'], { env: ENV });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).all_valid).toBe(true);
    const evil = run(['credit', 'token', 'decode', '--keyset', offer, '--in', join(root, 'evil.txt')], { env: ENV });
    expect(evil.status).toBe(4);
    expect(evil.stdout).toBe('');
    expect(evil.stderr).toMatch(/E_TOKEN_MISMATCH/);
  });


  // Issue 42 item 3, through the command: a --keyset whose keys do not hash to the id it
  // names (one key swapped; id, unit and fee as the mint announced them) is refused before
  // any proof is checked against it — with the check removed, the token read all_valid.
  it('credit token decode --keyset with one key swapped: E_KEYSET_ID_MISMATCH (exit 4, one line, nothing on stdout)', () => {
    const doc = JSON.parse(readFileSync(join(ROOT, 'fixtures/credit/keyset.json'), 'utf8'));
    const ks = doc.keysets[0];
    const swapped = { ...doc, keysets: [{ ...ks, keys: { ...ks.keys, '1': ks.keys['2'] } }] };
    writeFileSync(join(root, 'swapped-keyset.json'), JSON.stringify(swapped));
    const ok = run(['credit', 'token', 'decode', '--keyset', 'fixtures/credit/keyset.json', '--in', 'fixtures/credit/token.txt'], { env: ENV });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).all_valid).toBe(true);
    const bad = run(['credit', 'token', 'decode', '--keyset', join(root, 'swapped-keyset.json'), '--in', 'fixtures/credit/token.txt'], { env: ENV });
    expect(bad.status).toBe(4);
    expect(bad.stdout).toBe('');
    const errors = bad.stderr.split('\n').filter((l) => l.startsWith('offchain: error')); // (besides the test seed's warning)
    expect(errors).toHaveLength(1);
    expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(errors[0]!)?.[1]).toBe('E_KEYSET_ID_MISMATCH');
    expect(bad.stderr).toContain(`keyset ${ks.id.slice(0, 18)}…`);
  });
});
