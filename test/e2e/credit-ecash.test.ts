/**
 * Ecash for credit through the built CLI, end to end: a mint whose offer names a Cashu
 * mint and keyset, a user paying twenty times through real processes and OS pipes
 *
 *   sign-update --role user --amount N | sign-update --role mint | sign-update --role user --token-out FILE
 *
 * and every token checked by implementations that share nothing with src/: cashu-ts
 * decodes it and verifies each proof's DLEQ against the keys `credit keyset` prints,
 * and the test-code Nutshell mint (test/independent/cashu.ts, same seed) accepts it proof
 * by proof. Then: cashu-ts's own blinded outputs signed by the mint; refusals (exit 4,
 * one line, nothing written); a replay; and kill -9 of a streaming mint.
 *
 * Through processes: the offer, alice's open and her payments (the narrated flow), one
 * sample of each error class per command (sign-update --role mint exit 4 and 2, --role
 * user exit 4, credit token decode exit 4, credit keyset exit 4), and the streaming mint
 * killed. The other contracts' opens, requests, receipts and refusals run the same
 * bundle's `main` in this process (in-process.ts, ~10 ms instead of a ~0.15 CPU-s node
 * process): what is checked there is what a command answers, not the process around it.
 */
import { blindMessage, getDecodedToken, hasValidDleq, unblindSignature, verifyDLEQProof } from '@cashu/cashu-ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, seeded } from '../helpers.ts';
import { nutshellAccepts, nutshellKeyset } from '../independent/cashu.ts';
import { snapshot } from '../lib/credit/tamper.ts';
import { networkDir, record as storedRecord } from '../state.ts';
import { pipeline, run } from './cli.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';
import {
  MINT_KEY, MintStream, PAYOUT, PAY_FLAGS, REFUND, fundingPsbt, message, mintStage, type Msg, userStage,
} from './stream-credit.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { hex } from '@scure/base';
import { signedOutputs } from './ecash-outputs.ts';

const SEED = 'TEST_PRIVATE_KEY';
const ENV = { ECASH_SEED: SEED, WALLET_SEED: 'a7'.repeat(64), OFFCHAIN_TEST_SEED: 'credit-ecash' };
const NUTSHELL = nutshellKeyset(SEED);
const MINT_URL = 'http://127.0.0.1:3338';
const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
const WALLET = ['--wallet-seed-env', 'WALLET_SEED'];

type Party = { key: string; dir: string; contractId: string; env: Record<string, string> };

/** Each user has its own wallet seed (two wallets on one seed would derive the same B_, which the mint refuses: see the refusals). */
const walletSeedOf = (label: string) => Buffer.from(label.padEnd(64, '*').slice(0, 64)).toString('hex');

/** Opens a contract for `label`: through real processes and pipes when `spawned` (alice's, the narrated one), else in this process. */
async function openEcashContract(root: string, mintDir: string, offerPath: string, label: string, spawned = false): Promise<Party> {
  const key = hex.encode(Uint8Array.from(Buffer.from(label.padEnd(32, '.').slice(0, 32))));
  const user = { key, dir: join(root, `user-${label}`) };
  const output = musigTaprootOutput([publicKeyOf(hex.decode(key)), publicKeyOf(hex.decode(MINT_KEY))]);
  const opened = message(await (spawned ? pipeline : pipelineInProcess)([
    userStage(user, ENV, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND),
    mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
    userStage(user, ENV, 'open-credit', '--role', 'user'),
  ], fundingPsbt(output.script, `ecash ${label}`)), 'credit/opened', `open ${label}`);
  return { ...user, contractId: opened.msg.contract_id, env: { ...ENV, WALLET_SEED: walletSeedOf(label) } };
}

const userRequest = async (u: Party, amount: number) =>
  message(await pipelineInProcess([userStage(u, u.env, 'sign-update', '--role', 'user', '--amount', String(amount), ...WALLET)], ''), 'credit/update-request', `request ${amount}`).text;

/** Every proof of a token: cashu-ts decodes it and verifies its DLEQ; the test-code Nutshell mint accepts it. Returns its amount. */
function checkToken(token: string, keyset: { id: string; keys: Record<string, string> }): number {
  const t = getDecodedToken(token, [keyset.id]);
  expect(t.mint).toBe(MINT_URL);
  expect(t.unit).toBe('sat');
  let sum = 0;
  for (const p of t.proofs) {
    expect(hasValidDleq(p, keyset as never), `DLEQ of a ${p.amount} proof`).toBe(true);
    expect(nutshellAccepts(NUTSHELL, { id: p.id, amount: BigInt(p.amount.toString()), secret: p.secret, C: p.C })).toBe(true);
    sum += Number(p.amount.toString());
  }
  return sum;
}

describe('credit paid in ecash, through the CLI', () => {
  const tmp = tempDir('offchain-ecash-e2e-');
  const root = tmp.path;
  const mintDir = join(root, 'mint');
  const offerPath = join(root, 'offer.json');
  let keyset: { id: string; keys: Record<string, string> };
  let alice: Party;
  afterAll(() => tmp.cleanup());

  beforeAll(async () => {
    const offer = message(await pipeline([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', MINT_URL, ...ECASH)], ''), 'credit/offer', 'offer');
    writeFileSync(offerPath, offer.text);
    const ks = run(['credit', 'keyset', ...ECASH], { env: ENV });
    expect(ks.status, ks.stderr).toBe(0);
    keyset = JSON.parse(ks.stdout).keysets[0];
    writeFileSync(join(root, 'keyset.json'), ks.stdout);
    expect(keyset.id).toBe('01884a74bb2fc5ee6e5f958f89f9e4e6cf79241fbc9fd1012d6811b054a78beffe'); // what a fresh Nutshell 0.20.3 announces for this seed (test/vectors/nutshell/default)
    expect(keyset.id).toBe(NUTSHELL.id);
    expect(offer.msg.ecash).toMatchObject({ mint_url: MINT_URL, unit: 'sat', keyset_id: keyset.id });
    alice = await openEcashContract(root, mintDir, offerPath, 'alice', true);
  }, 60_000);

  // Three payments through the pipes; all twenty of the sequence are paid in process, every token
  // checked the same way, in test/lib/credit/ecash-tokens-cashu-ts.test.ts.
  it('three payments: each token is its amount in a new 0600 file, verified by cashu-ts (DLEQ against credit keyset) and accepted by the Nutshell-derived keyset proof by proof', async () => {
    const random = seeded(0xeca5);
    let cumulative = 0;
    for (let i = 0; i < 3; i++) {
      const amount = i === 0 ? 1000 : 1 + Math.floor(random() * 6000);
      const tokenPath = join(root, `token-${i}.txt`);
      const balance = message(await pipeline([
        userStage(alice, alice.env, 'sign-update', '--role', 'user', '--amount', String(amount), ...WALLET),
        mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH),
        userStage(alice, alice.env, 'sign-update', '--role', 'user', ...WALLET, '--token-out', tokenPath),
      ], ''), 'credit/balance', `payment ${i}`).msg;
      cumulative += amount;
      expect(balance.cumulative_sat).toBe(cumulative);
      expect(balance.ecash).toMatchObject({ issued_sat: cumulative, this_payment_sat: amount, token_out: tokenPath });
      expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
      const token = readFileSync(tokenPath, 'utf8').trim();
      expect(token.startsWith('cashuB')).toBe(true);
      expect(checkToken(token, keyset)).toBe(amount);
    }
    // The mint's view: issued under the contract = its cumulative amount; per keyset, everything.
    const list = run(['credit', 'list', '--state-dir', mintDir, '--tip-height', '1001'], { env: ENV });
    expect(list.status, list.stderr).toBe(0);
    const contracts = JSON.parse(list.stdout);
    const row = contracts.contracts.find((c: Msg) => c.contract_id === alice.contractId);
    expect(row.cumulative_sat).toBe(cumulative);
    expect(row.ecash_issued_sat).toBe(cumulative);
    expect(contracts.ecash_outstanding).toEqual([{ keyset_id: keyset.id, issued_sat: cumulative, signatures: expect.any(Number) }]);
    // and `credit token decode` agrees with cashu-ts on the last token
    const decoded = await runInProcess(['credit', 'token', 'decode', '--keyset', join(root, 'keyset.json'), '--in', join(root, 'token-2.txt')], { env: ENV });
    expect(decoded.status, decoded.stderr).toBe(0);
    expect(JSON.parse(decoded.stdout)).toMatchObject({ type: 'credit/token', all_valid: true, keyset_id: keyset.id });
  }, 240_000);

  it('a replayed request gets the same receipt byte for byte, and no second issuance', async () => {
    const req = await userRequest(alice, 4321);
    const first = run(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: req, env: { ...ENV, MINT_KEY } });
    expect(first.status, first.stderr).toBe(0);
    const before = snapshot(mintDir);
    // the replay in this process: byte for byte the spawned first answer
    const again = await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: req, env: { ...ENV, MINT_KEY } });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    expect(snapshot(mintDir)).toEqual(before);
    const tokenPath = join(root, 'token-replay.txt');
    const balance = message(await pipelineInProcess([userStage(alice, alice.env, 'sign-update', '--role', 'user', ...WALLET, '--token-out', tokenPath)], first.stdout), 'credit/balance', 'replay').msg;
    expect(checkToken(readFileSync(tokenPath, 'utf8').trim(), keyset)).toBe(4321);
    // the same receipt fed again: the user writes the same token again, no change
    const userBefore = snapshot(alice.dir);
    const repeat = await runInProcess(['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', alice.dir, ...WALLET, '--token-out', tokenPath], { input: first.stdout, env: { ...alice.env, USER_KEY: alice.key } });
    expect(repeat.status, repeat.stderr).toBe(0);
    expect(snapshot(alice.dir)).toEqual(userBefore);
    expect(balance.ecash.issued_sat).toBe(JSON.parse(repeat.stdout).ecash.issued_sat);
  }, 60_000);

  it('--token-out: an existing file with other content is refused (exit 4, nothing written); "-" prints the token alone; the seed file must be 0600', async () => {
    const req = await userRequest(alice, 777);
    const receipt = await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: req, env: { ...ENV, MINT_KEY } });
    expect(receipt.status, receipt.stderr).toBe(0);
    const taken = join(root, 'taken.txt');
    writeFileSync(taken, 'cashuBanother token\n', { mode: 0o600 });
    const before = snapshot(root);
    const userArgs = (out: string) => ['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', alice.dir, ...WALLET, '--token-out', out];
    const userEnv = { ...alice.env, USER_KEY: alice.key };
    const refused = run(userArgs(taken), { input: receipt.stdout, env: userEnv }); // spawned: sign-update --role user's exit-4 sample
    expect(refused.status).toBe(4);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/E_TOKEN_OUT_EXISTS/);
    expect(snapshot(root)).toEqual(before);
    const printed = await runInProcess(userArgs('-'), { input: receipt.stdout, env: userEnv });
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^cashuB[A-Za-z0-9_-]+\n$/);
    expect(checkToken(printed.stdout.trim(), keyset)).toBe(777);
    // a token tampered with (one proof's C moved) fails credit token decode with E_BAD_DLEQ, exit 4
    const t = getDecodedToken(printed.stdout.trim(), [keyset.id]);
    const C = secp256k1.Point.fromHex(t.proofs[0]!.C).add(secp256k1.Point.BASE).toHex(true);
    const { getEncodedToken } = await import('@cashu/cashu-ts');
    writeFileSync(join(root, 'tampered.txt'), getEncodedToken({ ...t, proofs: [{ ...t.proofs[0]!, C }, ...t.proofs.slice(1)] }));
    const decoded = run(['credit', 'token', 'decode', '--keyset', join(root, 'keyset.json'), '--in', join(root, 'tampered.txt')], { env: ENV });
    expect(decoded.status).toBe(4);
    expect(decoded.stderr).toMatch(/E_BAD_DLEQ: proof 0 /);
    // the mint's seed in a file others can read: refused before anything
    const seedFile = join(root, 'ecash.seed');
    writeFileSync(seedFile, SEED + '\n', { mode: 0o644 });
    const open = run(['credit', 'keyset', '--ecash-seed-file', seedFile], { env: ENV });
    expect(open.status).toBe(4);
    expect(open.stderr).toMatch(/E_SECRET_FILE_PERMISSIONS/);
    const { chmodSync } = await import('node:fs');
    chmodSync(seedFile, 0o600);
    expect(JSON.parse((await runInProcess(['credit', 'keyset', '--ecash-seed-file', seedFile], { env: ENV })).stdout).keysets[0].id).toBe(keyset.id);
  }, 60_000);

  it('an ecash payment whose receipt was lost is recovered by credit abandon: the mint answers with the receipt, the user keeps the same token', async () => {
    const frank = await openEcashContract(root, mintDir, offerPath, 'frank');
    const req = await userRequest(frank, 2048);
    const lost = await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: req, env: { ...ENV, MINT_KEY } });
    expect(lost.status, lost.stderr).toBe(0); // …and the answer never reaches the user
    const tokenPath = join(root, 'frank.txt');
    const balance = message(await pipelineInProcess([
      userStage(frank, frank.env, 'credit', 'abandon', '--role', 'user', '--start'),
      mintStage(mintDir, ENV, 'credit', 'abandon', '--role', 'mint'), // no ecash seed needed: it signs no ecash
      userStage(frank, frank.env, 'credit', 'abandon', '--role', 'user', ...WALLET, '--token-out', tokenPath),
    ], ''), 'credit/balance', 'abandon').msg;
    expect(balance.ecash).toMatchObject({ issued_sat: 2048, this_payment_sat: 2048 });
    expect(checkToken(readFileSync(tokenPath, 'utf8').trim(), keyset)).toBe(2048);
    // the receipt the mint gave in the abandon is the one it gave first
    const receipt = JSON.parse(lost.stdout);
    expect(receipt.signatures.map((x: Msg) => x.amount)).toEqual([2048]);
  }, 60_000);

  it("cashu-ts's own blinded outputs: the mint signs them with the right keys (DLEQ verified and unblinded by cashu-ts, accepted by the Nutshell-derived keyset)", async () => {
    const bob = await openEcashContract(root, mintDir, offerPath, 'bob');
    const req = JSON.parse(await userRequest(bob, 1000));
    const mine = req.outputs.map((o: Msg) => {
      const secret = randomBytes(32).toString('hex');
      const bm = blindMessage(new TextEncoder().encode(secret));
      return { secret, r: bm.r, B_: bm.B_, out: { amount: o.amount, id: o.id, B_: bm.B_.toHex(true) } };
    });
    // bob puts cashu-ts's outputs into its request and signs them (test code: the documented digest)
    const r = await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: JSON.stringify(signedOutputs({ ...req, outputs: mine.map((m: Msg) => m.out) }, bob.key, MINT_KEY)), env: { ...ENV, MINT_KEY } });
    expect(r.status, r.stderr).toBe(0);
    const receipt = JSON.parse(r.stdout);
    expect(receipt.signatures).toHaveLength(mine.length);
    let sum = 0;
    for (const [i, s] of receipt.signatures.entries()) {
      const A = secp256k1.Point.fromHex(keyset.keys[String(s.amount)]!);
      const C_ = secp256k1.Point.fromHex(s.C_);
      expect(verifyDLEQProof({ e: hex.decode(s.dleq.e), s: hex.decode(s.dleq.s) }, mine[i].B_, C_ as never, A as never)).toBe(true);
      const C = unblindSignature(C_ as never, mine[i].r, A as never);
      expect(nutshellAccepts(NUTSHELL, { id: s.id, amount: BigInt(s.amount), secret: mine[i].secret, C: C.toHex(true) })).toBe(true);
      sum += s.amount;
    }
    expect(sum).toBe(1000);
    // These signatures are not on the user's own outputs: their DLEQ proofs do not hold for its B_, so it keeps nothing.
    const before = snapshot(bob.dir);
    const u = await runInProcess(['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', bob.dir, ...WALLET, '--token-out', join(root, 'bob.txt')], { input: r.stdout, env: { ...bob.env, USER_KEY: bob.key } });
    expect(u.stderr).toMatch(/E_BAD_DLEQ: signature 0/);
    expect(u.status).toBe(4);
    expect(snapshot(bob.dir)).toEqual(before);
  }, 60_000);

  it('refusals: exit 4, one line, empty stdout, both state directories unchanged, the nonce unused', async () => {
    const carol = await openEcashContract(root, mintDir, offerPath, 'carol');
    const req = JSON.parse(await userRequest(carol, 1000));
    // the first refusal spawned (sign-update --role mint's exit-4 sample), the next in this process
    const refuse = async (input: Msg, code: string, pattern: RegExp, spawned: boolean) => {
      const before = snapshot(root);
      const args = ['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH];
      const opts = { input: JSON.stringify(input), env: { ...ENV, MINT_KEY } };
      const r = spawned ? run(args, opts) : await runInProcess(args, opts);
      expect(r.status, r.stderr).toBe(4);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l && !l.includes('warning'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: `));
      expect(lines[0]).toMatch(pattern);
      expect(snapshot(root)).toEqual(before);
    };
    const extra = { amount: 1, id: keyset.id, B_: '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798' };
    await refuse({ ...req, outputs: [...req.outputs, extra] }, 'E_ECASH_OUTPUTS', /sum to 1001 sat/, true);
    // E_UNKNOWN_KEYSET, E_BAD_BLINDED_MESSAGE and the other output rules: test/lib/credit/ecash.test.ts
    // ('the mint refuses bad outputs'); a relay's outputs (E_OUTPUTS_SIGNATURE): test/lib/credit/ecash-binding.test.ts.
    // a B_ the mint signed for alice
    const aliceToken = storedRecord<{ ecash: { counter: number } }>(networkDir(alice.dir), 'credit-user', alice.contractId)!;
    expect(aliceToken.ecash.counter).toBeGreaterThan(0);
    const signedBefore = JSON.parse(readFileSync(offerPath, 'utf8'));
    expect(signedBefore.ecash.keyset_id).toBe(keyset.id);
    // the honest request then goes through
    const ok = await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: JSON.stringify(req), env: { ...ENV, MINT_KEY } });
    expect(ok.status, ok.stderr).toBe(0);
    // a B_ is signed once: the same outputs in carol's own next request, test/lib/credit/ecash.test.ts ('the same B_ in a
    // second request is refused before the nonce is taken; nothing written'); here, across state directories:
    // two wallets on one seed (dan copies carol's wallet seed into a new state directory): the same B_, refused
    const dan = { ...(await openEcashContract(root, mintDir, offerPath, 'dan')), env: carol.env };
    const danReq = JSON.parse(await userRequest(dan, 1000));
    await refuse(danReq, 'E_BLINDED_MESSAGE_REUSED', /already signed/, false);
    // without the ecash seed the mint refuses (exit 2) a request it has not signed yet (dan's, refused above); spawned: the exit-2 sample
    const noSeed = run(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS], { input: JSON.stringify(danReq), env: { ...ENV, MINT_KEY } });
    expect(noSeed.status).toBe(2);
    expect(noSeed.stderr).toMatch(/E_NO_ECASH_SEED/);
  }, 120_000);

  it('a mint run with another ecash seed is refused before it signs (its keyset is not the offer\'s); nothing written', async () => {
    const req = await userRequest(alice, 1000); // alice's next payment (her last in this file)
    const before = snapshot(mintDir);
    const r = await runInProcess(['sign-update', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS, ...ECASH], { input: req, env: { ...ENV, MINT_KEY, ECASH_SEED: 'ANOTHER' } });
    expect(snapshot(mintDir)).toEqual(before);
    expect(r.status).toBe(4); // a refusal (issue 41: E_WRONG_KEY is exit 4 wherever it is thrown)
    expect(r.stderr).toMatch(/E_WRONG_KEY: this ecash seed does not give keyset 01/);
  });

  it('kill -9 of a streaming mint: every receipt ever printed comes back byte for byte, signatures included; issued = cumulative', async () => {
    const dave = await openEcashContract(root, mintDir, offerPath, 'dave');
    const seen = new Map<string, string>();
    let cumulative = 0;
    const random = seeded(0xdead);
    // Two rounds: the first state, and a state whose predecessor came back from kills. Each round kills at
    // every point; random kill points over many rounds and users are test/e2e/mint-stream-crash.test.ts's.
    for (let round = 0; round < 2; round++) {
      const amount = round === 0 ? 1000 : 100 + Math.floor(random() * 3000);
      const line = (await userRequest(dave, amount)).trim().split('\n').join('');
      const input = JSON.stringify(JSON.parse(line)) + '\n';
      let receipt: string | undefined;
      // killed at a few points — right away, after a little while, right after it answered — then left to finish
      for (const when of ['start', 'soon', 'answered', 'finish'] as const) {
        const s = new MintStream(mintDir, { ...ENV, MINT_KEY }, [...PAY_FLAGS, ...ECASH]);
        s.write(input);
        if (when === 'start') await s.kill();
        else if (when === 'soon') {
          await new Promise((res) => setTimeout(res, 50 + Math.floor(random() * 150)));
          await s.kill();
        } else if (when === 'answered') {
          await s.until(() => s.lines().length > 0, 'an answer');
          await s.kill();
        } else {
          const end = await s.end();
          expect(end.status, s.stderr).toBe(0);
        }
        for (const l of s.lines()) {
          const m = JSON.parse(l);
          expect(m.type, l).toBe('credit/receipt');
          const key = `${m.contract_id}:${m.state}`;
          if (seen.has(key)) expect(l).toBe(seen.get(key));
          else seen.set(key, l);
          receipt = l;
        }
      }
      expect(receipt).toBeDefined();
      expect(JSON.parse(receipt!).signatures.length).toBeGreaterThan(0);
      cumulative += amount;
      const tokenPath = join(root, `dave-${round}.txt`);
      message(await pipelineInProcess([userStage(dave, dave.env, 'sign-update', '--role', 'user', ...WALLET, '--token-out', tokenPath)], receipt!), 'credit/balance', `dave ${round}`);
      expect(checkToken(readFileSync(tokenPath, 'utf8').trim(), keyset)).toBe(amount);
    }
    const list = JSON.parse((await runInProcess(['credit', 'list', '--state-dir', mintDir, '--tip-height', '1001'], { env: ENV })).stdout);
    const row = list.contracts.find((c: Msg) => c.contract_id === dave.contractId);
    expect(row.ecash_issued_sat).toBe(cumulative);
    expect(row.cumulative_sat).toBe(cumulative);
  }, 240_000);
});
