/**
 * Credit-issued ecash at real Nutshell 0.20.3 mints (issue 36): the built CLI issues the
 * tokens (`sign-update --role user | --role mint --stream | --role user --token-out`), and
 * each mint, started with the same MINT_PRIVATE_KEY, swaps them (POST /v1/swap, outputs
 * blinded and DLEQ-checked by cashu-ts, the input fee paid from the swapped amount).
 *
 *   mint                            its keyset                     run
 *   fresh default 0.20.3 (fee 100)  01884a74… (v01), then index 1  20 payments, a rotation after the 10th (mint-cli next-keyset,
 *                                                                   then credit ecash follow while the credit mint streams)
 *   fresh, MINT_INPUT_FEE_PPK=0     01d8a630… (v01, no fee)         20 payments
 *   upgraded from 0.19              009a1f29… (v00)                 20 payments
 *
 * Then: the same tokens swapped again are refused as spent (and /v1/checkstate says SPENT);
 * a wrong seed, path or fee is refused before any token exists, naming it; and a wallet
 * that lost its tokens (cashu-ts, its NUT-13 seed only) restores them through the credit
 * mint's NUT-09 answers — Nutshell's own /v1/restore knows none — and they swap at the
 * fee-0 mint (a v01 keyset) and the upgraded one (v00). Mints start in
 * parallel from one venv (test/nutshell/nutshell.ts); the three runs go at once. The user's side
 * of most payments and opens, and four of the five refusals, run the built bundle in this process
 * (test/e2e/in-process.ts); the process-boundary samples stay spawned (see `inThisProcess`).
 * Skipped, visibly, without NUTSHELL (.ci/run sets it when ../shared/nutshell exists).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { hasState, networkDir, withStateDb } from '../state.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { nutshellKeyset } from '../independent/cashu.ts';
import { pipeline, type Run, type Stage } from '../e2e/cli.ts';
import { MINT_KEY, MintStream, PAYOUT, PAY_FLAGS, REFUND, fundingPsbt, message, mintStage, userStage, type Msg } from '../e2e/stream-credit.ts';
import { JSONInt, Mint, Wallet, getDecodedToken, getEncodedToken } from '@cashu/cashu-ts';
import { findNutshell, getJson, nutshellVenv, postJson, proofStates, startNutshell, swapToken, type NutshellMint } from './nutshell.ts';
import { pipelineInProcess } from '../e2e/in-process.ts';

const NUTSHELL = findNutshell();
const TITLE = NUTSHELL
  ? `credit-issued ecash at real Nutshell 0.20.3 mints (${NUTSHELL})`
  : 'credit-issued ecash at real Nutshell 0.20.3 mints — SKIPPED: NUTSHELL is unset (.ci/run sets it when ../shared/nutshell exists)';
if (!NUTSHELL) console.warn(`[nutshell] ${TITLE}`);

const SEED = 'offchain nutshell suite seed';
const ENV = { ECASH_SEED: SEED, OFFCHAIN_TEST_SEED: 'nutshell-suite' };
const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
const PAYMENTS = 20;
/** Amounts ≥ 400 sat: the first state pays the mint more than dust, and a fee (1 sat per 10 proofs at 100 ppk) never eats a token whole. */
const amountOf = (run: number, i: number) => 400 + ((i * 7919 + run * 104729) % 9000);

type Run3 = { name: string; mint: NutshellMint; dir: string; mintDir: string; tokens: string[]; receipts: Msg[] };

/** `a | b | c` as real processes (test/e2e/cli.ts pipeline). */
const spawned = (stages: Stage[], input: string) => pipeline(stages, input);

/**
 * The same stages run in this process (test/e2e/in-process.ts), each one's stdout the next one's
 * input, as the pipe would carry it: for the steps whose point is what they answer (the 60 payments'
 * user side). The file keeps spawned samples of each: the default run's first payment, the open,
 * payments and restores at the upgraded mint in the restore test, the seed refusal pair, every --stream mint.
 */
const inThisProcess = (stages: Stage[], input: string): Promise<Run[]> => pipelineInProcess(stages, input);

type Exec = (stages: Stage[], input: string) => Promise<Run[]>;

/** Publish a credit mint against the Nutshell mint's live answers, open one contract, keep the user's party. */
async function openAgainst(root: string, name: string, url: string, exec: Exec = spawned) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const mintDir = join(dir, 'mint');
  const offer = message(await exec([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', url, ...ECASH, '--ecash-keysets', url)], ''), 'credit/offer', `${name}: publish`);
  const offerPath = join(dir, 'offer.json');
  writeFileSync(offerPath, offer.text);
  const key = hex.encode(Buffer.from(`nutshell user ${name}`.padEnd(32, '.').slice(0, 32)));
  const user = { key, dir: join(dir, 'user') };
  const output = musigTaprootOutput([publicKeyOf(hex.decode(key)), publicKeyOf(hex.decode(MINT_KEY))]);
  const env = { ...ENV, WALLET_SEED: Buffer.from(name.padEnd(64, '#')).toString('hex') };
  message(await exec([
    userStage(user, env, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--refund-address', REFUND),
    mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
    userStage(user, env, 'open-credit', '--role', 'user'),
  ], fundingPsbt(output.script, `nutshell ${name}`)), 'credit/opened', `${name}: open`);
  return { dir, mintDir, user, env, offer: offer.msg };
}

/**
 * The twenty payments through the streaming credit mint (a process); the user's side in this process
 * but for `spawnFirst` (its first request and receipt as processes); `between(i)` runs after payment i (a rotation).
 */
async function twentyPayments(root: string, name: string, index: number, mint: NutshellMint, between?: (i: number, mintDir: string) => Promise<void>, spawnFirst = false): Promise<Run3> {
  const { dir, mintDir, user, env } = await openAgainst(root, name, mint.url, inThisProcess);
  const stream = new MintStream(mintDir, ENV, [...PAY_FLAGS, ...ECASH]);
  const tokens: string[] = [];
  const receipts: Msg[] = [];
  try {
    for (let i = 0; i < PAYMENTS; i++) {
      const exec = spawnFirst && i === 0 ? spawned : inThisProcess;
      const req = message(await exec([userStage(user, env, 'sign-update', '--role', 'user', '--amount', String(amountOf(index, i)), '--wallet-seed-env', 'WALLET_SEED')], ''), 'credit/update-request', `${name}: request ${i}`);
      stream.write(JSON.stringify(req.msg) + '\n');
      await stream.until(() => stream.lines().length > i, `${name}: receipt ${i}`, 60_000);
      const receipt = stream.lines()[i]!;
      receipts.push(JSON.parse(receipt));
      const tokenPath = join(dir, `token-${i}.txt`);
      message(await exec([userStage(user, env, 'sign-update', '--role', 'user', '--wallet-seed-env', 'WALLET_SEED', '--token-out', tokenPath)], receipt), 'credit/balance', `${name}: receipt ${i} applied`);
      tokens.push(readFileSync(tokenPath, 'utf8').trim());
      if (between) await between(i, mintDir);
    }
  } finally {
    const end = await stream.end();
    if (end.status !== 0) throw new Error(`${name}: the stream ended ${JSON.stringify(end)}: ${stream.stderr}`);
  }
  return { name, mint, dir, mintDir, tokens, receipts };
}

/** Every token swapped at its mint: all accepted, each for its amount less the input fee its keysets announce. */
async function swapAll(r: Run3): Promise<{ amount: number; fees: number }> {
  let amount = 0;
  let fees = 0;
  for (const [i, token] of r.tokens.entries()) {
    const s = await swapToken(r.mint.url, token);
    expect(s.status, `${r.name}: token ${i}: ${JSON.stringify(s.body)}`).toBe(200);
    expect(s.amount).toBe(amountOf(['default', 'fee0', 'upgraded'].indexOf(r.name), i));
    const outputs = (s.body.signatures as { amount: number }[]).reduce((a, x) => a + x.amount, 0);
    expect(outputs).toBe(s.amount - s.fee);
    expect(s.fee).toBe(r.name === 'fee0' ? 0 : Math.ceil(s.inputs / 10));
    amount += s.amount;
    fees += s.fee;
  }
  return { amount, fees };
}

describe.skipIf(!NUTSHELL)(TITLE, () => {
  const tmp = tempDir('offchain-nutshell-');
  const mints: NutshellMint[] = [];
  let fresh: NutshellMint;
  let fee0: NutshellMint;
  let upgraded: NutshellMint;
  let runs: Run3[];

  beforeAll(async () => {
    const venv = await nutshellVenv(NUTSHELL!);
    const started = await Promise.allSettled([
      startNutshell(NUTSHELL!, venv, { seed: SEED }),
      startNutshell(NUTSHELL!, venv, { seed: SEED, inputFeePpk: 0 }),
      startNutshell(NUTSHELL!, venv, { seed: SEED, keysetIdVersion: 'v1' }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') mints.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    [fresh, fee0, upgraded] = mints as [NutshellMint, NutshellMint, NutshellMint];
  }, 240_000);

  afterAll(async () => {
    console.info(`[nutshell] the mints' own CPU (not in a \`time\` of this run: start.sh leaves them to init): ${mints.map((m) => `${m.cpuSeconds()} s`).join(', ')}`);
    await Promise.all(mints.map((m) => m.stop()));
    tmp.cleanup();
  });

  it('what each mint announces: a fresh one a v01 id committing to fee 100 or to no fee, the upgraded one its v00 id (the keys are the same)', async () => {
    const ids = await Promise.all([fresh, fee0, upgraded].map(async (m) => (await getJson(`${m.url}/v1/keysets`)).keysets));
    const independent = nutshellKeyset(SEED);
    expect(ids[0]).toEqual([{ id: independent.id, unit: 'sat', active: true, input_fee_ppk: 100, final_expiry: null }]);
    expect(ids[1]).toEqual([{ id: nutshellKeyset(SEED, "m/0'/0'/0'", { inputFeePpk: 0 }).id, unit: 'sat', active: true, input_fee_ppk: 0, final_expiry: null }]);
    expect(ids[2]).toEqual([{ id: nutshellKeyset(SEED, "m/0'/0'/0'", { idVersion: '00' }).id, unit: 'sat', active: true, input_fee_ppk: 100, final_expiry: null }]);
  });

  it('a wrong seed, path or fee is refused before any token is issued, naming it (publish and check, exit 4, nothing written)', async () => {
    // The seed's refusal by both commands as processes (the coded line, exit 4, empty stdout at the process boundary); the other four in this process.
    const bad = async (label: string, extra: string[], env: Record<string, string>, exec: Exec = inThisProcess) => {
      const dir = join(tmp.path, `refused-${label}`);
      const [publish, check] = await Promise.all([
        exec([mintStage(dir, env, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', fresh.url, ...ECASH, '--ecash-keysets', fresh.url, ...extra)], ''),
        exec([{ args: ['credit', 'ecash', 'check', ...ECASH, '--ecash-keysets', fresh.url, ...extra], env }], ''),
      ]);
      for (const r of [publish[0]!, check[0]!] as Run[]) {
        expect(r.status, r.stderr).toBe(4);
        expect(r.stdout).toBe('');
        const line = r.stderr.split('\n').filter((l) => l.startsWith('offchain: error'));
        expect(line).toHaveLength(1);
        expect(/^offchain: error (E_[A-Z0-9_]+): /.exec(line[0]!)![1]).toBe('E_ECASH_KEYSET_MISMATCH');
        expect(line[0]).toMatch(new RegExp(`^offchain: error E_ECASH_KEYSET_MISMATCH: ${label}: `));
      }
      // No offer stored: no state database, or one without the offer document.
      const d = networkDir(dir);
      expect(hasState(d) && withStateDb(d, (db) => db.sql.prepare("SELECT 1 FROM meta WHERE key = 'doc:offer'").get() !== undefined)).toBe(false);
      return check[0]!.stderr;
    };
    await Promise.all([
      bad('seed', [], { ...ENV, ECASH_SEED: 'not the mint\'s seed' }, spawned),
      bad('path', ['--ecash-path', "m/0'/1'/0'"], ENV),
      bad('index', ['--ecash-path', "m/0'/0'/4'"], ENV),
      bad('fee', ['--ecash-input-fee-ppk', '0'], ENV),
      bad('id version', ['--ecash-id-version', '00'], ENV),
    ]);
    // and equal with the right settings
    const ok = await inThisProcess([{ args: ['credit', 'ecash', 'check', ...ECASH, '--ecash-keysets', fresh.url, '--ecash-input-fee-ppk', '100'], env: ENV }], '');
    expect(ok[0]!.status, ok[0]!.stderr).toBe(0);
    expect(JSON.parse(ok[0]!.stdout)).toMatchObject({ type: 'credit/ecash-check', equal: true, keyset: { id: nutshellKeyset(SEED).id, path: "m/0'/0'/0'", input_fee_ppk: 100 } });
  }, 120_000);

  it('three 20-payment runs at once, one with a rotation after its 10th payment: every token swaps at its mint, the fee paid from the amount', async () => {
    let rotatedTo = '';
    const rotation = async (i: number, mintDir: string) => {
      if (i !== 9) return;
      await fresh.rotate(100);
      const follow = await spawned([mintStage(mintDir, ENV, 'credit', 'ecash', 'follow', ...ECASH, '--ecash-keysets', fresh.url)], '');
      const followed = message(follow, 'credit/ecash-keysets', 'follow').msg;
      expect(followed).toMatchObject({ changed: true, added: [followed.active] });
      rotatedTo = followed.active;
    };
    runs = await Promise.all([
      twentyPayments(tmp.path, 'default', 0, fresh, rotation, true),
      twentyPayments(tmp.path, 'fee0', 1, fee0),
      twentyPayments(tmp.path, 'upgraded', 2, upgraded),
    ]);
    // The rotation, as the credit mint and the user saw it: payment 11 under the keyset the contract knew, announcing
    // the new one (index 1, reproduced by test code); payments 12–20 under it. The old keyset is inactive, still listed.
    const idOf = (r: Msg) => [...new Set((r.signatures as { id: string }[]).map((s) => s.id))];
    const [def] = runs;
    const index1 = nutshellKeyset(SEED, "m/0'/0'/1'");
    expect(def!.receipts.slice(0, 11).map(idOf)).toEqual(Array(11).fill([nutshellKeyset(SEED).id]));
    expect(def!.receipts[10]!.next_keyset).toMatchObject({ id: rotatedTo, input_fee_ppk: 100, final_expiry: 0 });
    expect(def!.receipts[10]!.next_keyset.keys).toEqual(Object.fromEntries(index1.publicKeys));
    expect(def!.receipts.slice(11).map(idOf)).toEqual(Array(9).fill([rotatedTo]));
    expect(def!.receipts.filter((r) => r.next_keyset).length).toBe(1);
    const listed = (await getJson(`${fresh.url}/v1/keysets`)).keysets;
    expect(listed.map((k: Msg) => [k.id, k.active])).toEqual([[nutshellKeyset(SEED).id, false], [rotatedTo, true]]);
    const swapped = await Promise.all(runs.map(swapAll));
    // What each mint's own accounting shows (its management RPC): it never signed these tokens, so its liability
    // ("balance": promises signed − proofs spent) is not up by what it now owes; the swaps leave it at −Σ fees.
    for (const [i, r] of runs.entries()) {
      const books = await r.mint.accounting();
      const balance = books.reduce((a, k) => a + k.balance, 0);
      const fees = books.reduce((a, k) => a + k.fees_paid, 0);
      expect(fees, r.name).toBe(swapped[i]!.fees);
      expect(balance + swapped[i]!.fees, r.name).toBe(0); // liability = −Σ fees
      console.info(`[nutshell] ${r.name}: ${PAYMENTS} tokens, ${swapped[i]!.amount} sat swapped, ${swapped[i]!.fees} sat of input fees; the mint's liability ${balance}, fees_paid ${fees}`);
    }
  }, 480_000); // ~50 s where the machine is its own; 120–170 s measured at load average 17–23

  it('the same tokens swapped again: refused as spent (code 11001), and /v1/checkstate says SPENT for every proof', async () => {
    for (const r of runs) {
      for (const i of [0, 10, 19]) {
        const again = await swapToken(r.mint.url, r.tokens[i]!);
        expect(again.status, `${r.name} token ${i}`).toBe(400);
        expect(again.body).toMatchObject({ code: 11001 });
        expect(new Set(await proofStates(r.mint.url, r.tokens[i]!))).toEqual(new Set(['SPENT']));
      }
    }
  }, 120_000);

  // NUT-09 (issue 36, Deliver 4): the Nutshell mint never saw credit-issued outputs, so its own
  // /v1/restore answers nothing for them; the credit mint's `credit ecash restore` does.
  it('restore: a wallet that lost its tokens restores them from its NUT-13 seed through the credit mint\'s NUT-09 answers (cashu-ts), and they swap here; Nutshell\'s own /v1/restore knows none of them', async () => {
    const restoreAt = async (name: string, m: NutshellMint, fee: (inputs: number) => number, exec: Exec) => {
      const { dir, mintDir, user, env, offer } = await openAgainst(tmp.path, name, m.url, exec);
      const lost: string[] = [];
      for (const [n, amount] of [1000, 437, 2500].entries()) {
        const tokenPath = join(dir, `lost-${n}.txt`);
        message(await exec([
          userStage(user, env, 'sign-update', '--role', 'user', '--amount', String(amount), '--wallet-seed-env', 'WALLET_SEED'),
          mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH),
          userStage(user, env, 'sign-update', '--role', 'user', '--wallet-seed-env', 'WALLET_SEED', '--token-out', tokenPath),
        ], ''), 'credit/balance', `${name}: payment ${n}`);
        lost.push(readFileSync(tokenPath, 'utf8').trim());
      }
      // The wallet keeps only its seed. Its mint is the Nutshell mint (keysets and keys read from it), but for /v1/restore,
      // which the built credit mint answers on the bytes cashu-ts sends; the same body sent to Nutshell is answered too.
      const nutshellAnswers: number[] = [];
      const customRequest = async ({ endpoint, requestBody }: { endpoint: string; requestBody?: Record<string, unknown> }) => {
        if (new URL(endpoint).pathname !== '/v1/restore') return getJson(endpoint);
        const own = await postJson(`${m.url}/v1/restore`, requestBody);
        expect(own.status).toBe(200);
        nutshellAnswers.push(own.body.signatures.length);
        const r = await exec([{ args: ['credit', 'ecash', 'restore', '--state-dir', mintDir, ...ECASH], env: ENV }], JSONInt.stringify(requestBody) ?? '');
        expect(r[0]!.status, r[0]!.stderr).toBe(0);
        return JSON.parse(r[0]!.stdout);
      };
      const wallet = new Wallet(new Mint(m.url, { customRequest: customRequest as never }), { unit: 'sat', bip39seed: Buffer.from(env.WALLET_SEED!, 'hex') });
      await wallet.loadMint();
      const keysetId = offer.ecash.keyset_id as string;
      const restored = await wallet.restore(0, 40, { keysetId });
      const kept = lost.flatMap((t) => getDecodedToken(t, [keysetId]).proofs);
      expect(restored.proofs.map((p) => [p.id, p.secret, p.C, String(p.amount)]), name).toEqual(kept.map((p) => [p.id, p.secret, p.C, String(p.amount)]));
      expect(nutshellAnswers.length).toBeGreaterThan(0);
      expect(nutshellAnswers.every((n) => n === 0), `${name}: Nutshell's own restore answered ${nutshellAnswers}`).toBe(true);
      // the restored proofs are unspent, and swap here
      const token = getEncodedToken({ mint: m.url, unit: 'sat', proofs: restored.proofs });
      expect(new Set(await proofStates(m.url, token))).toEqual(new Set(['UNSPENT']));
      const s = await swapToken(m.url, token);
      expect(s.status, `${name}: ${JSON.stringify(s.body)}`).toBe(200);
      expect([s.amount, s.fee]).toEqual([1000 + 437 + 2500, fee(s.inputs)]);
      expect(new Set(await proofStates(m.url, token))).toEqual(new Set(['SPENT']));
      console.info(`[nutshell] ${name}: ${restored.proofs.length} proofs (${s.amount} sat) restored from the wallet's seed through credit ecash restore under ${keysetId.slice(0, 16)}…, swapped (fee ${s.fee} sat)`);
    };
    await Promise.all([
      // the v01 one in this process; the v00 one as processes (the 3-process pipe per payment, credit ecash restore answering cashu-ts)
      restoreAt('restore-fee0', fee0, () => 0, inThisProcess), // NUT-13 for a v01 keyset (HMAC-SHA256)
      restoreAt('restore-upgraded', upgraded, (n) => Math.ceil(n / 10), spawned), // NUT-13 for a v00 keyset (BIP-32), fee 100
    ]);
  }, 300_000);
});
