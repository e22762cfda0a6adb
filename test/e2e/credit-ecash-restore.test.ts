/**
 * Restore and recovery through the built CLI (issue 36, deliver 2 and 4):
 * - cashu-ts's wallet, given only its seed, restores every credit-issued token: its
 *   /v1/restore is `credit ecash restore` run as a child process on the bytes it sends;
 *   the proofs it gets back are the ones the user was paid (the test-code Nutshell mint
 *   accepts each);
 * - a receipt whose ecash the mint got wrong, twice (a relay's change is refused before:
 *   E_RECEIPT_FORGED): the user's contract is not frozen — the abandon settles the payment unpaid, the next payment is refused (E_ECASH_UNPAID, exit 4,
 *   nothing written), and `credit ecash claim --start | credit ecash restore | credit ecash
 *   claim` pays it: the token redeems and payments resume.
 *
 * Through processes: the first contract's open and payments, the restores cashu-ts asks
 * for it, the refused receipt (sign-update exit 4) and the claim's pipe. The single steps of
 * the abandon, the refused next payment, and the whole rotated contract (its open, payments,
 * follow and restores) run the same built bundle's `main` in this process (in-process.ts,
 * ~10 ms a step instead of a ~0.15 CPU-s node process): what they check is what the
 * commands answer.
 */
import { pbkdf2Sync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JSONInt, Mint, Wallet, getDecodedToken } from '@cashu/cashu-ts';
import { hex } from '@scure/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { nutshellAccepts, nutshellKeyset } from '../independent/cashu.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { snapshot } from '../lib/credit/tamper.ts';
import { signedAs } from '../independent/answer.ts';
import { pipeline, run } from './cli.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';
import { MINT_KEY, PAYOUT, PAY_FLAGS, REFUND, fundingPsbt, message, mintStage, type Msg, userStage } from './stream-credit.ts';

const SEED = 'TEST_PRIVATE_KEY';
const NUTSHELL = nutshellKeyset(SEED);
const MINT_URL = 'http://127.0.0.1:3338';
// A wallet's BIP-39 seed (from the NUT-13 vectors' mnemonic, by node:crypto): cashu-ts restores from it.
const WALLET_SEED = new Uint8Array(pbkdf2Sync(Buffer.from('half depart obvious quality work element tank gorilla view sugar picture humble'), Buffer.from('mnemonic'), 2048, 64, 'sha512'));
const ENV = { ECASH_SEED: SEED, WALLET_SEED: hex.encode(WALLET_SEED), OFFCHAIN_TEST_SEED: 'credit-ecash-restore' };
const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
const WALLET = ['--wallet-seed-env', 'WALLET_SEED'];

const accepted = (p: { amount: unknown; secret: string; C: string }) => nutshellAccepts(NUTSHELL, { id: NUTSHELL.id, amount: BigInt(String(p.amount)), secret: p.secret, C: p.C });

describe('restore and recovery through the CLI', () => {
  const tmp = tempDir('offchain-ecash-restore-');
  const root = tmp.path;
  const mintDir = join(root, 'mint');
  const key = hex.encode(Uint8Array.from(Buffer.from('restoring user'.padEnd(32, '.'))));
  const user = { key, dir: join(root, 'user') };
  const paid: string[] = [];
  let keyset: { id: string; unit: string; input_fee_ppk: number; keys: Record<string, string> };
  afterAll(() => tmp.cleanup());

  const pay = async (amount: number, n: number) => {
    const tokenPath = join(root, `token-${n}.txt`);
    message(await pipeline([
      userStage(user, ENV, 'sign-update', '--role', 'user', '--amount', String(amount), ...WALLET),
      mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH),
      userStage(user, ENV, 'sign-update', '--role', 'user', ...WALLET, '--token-out', tokenPath),
    ], ''), 'credit/balance', `payment ${n}`);
    paid.push(readFileSync(tokenPath, 'utf8').trim());
  };

  beforeAll(async () => {
    const offer = message(await pipeline([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', MINT_URL, ...ECASH)], ''), 'credit/offer', 'offer');
    writeFileSync(join(root, 'offer.json'), offer.text);
    keyset = JSON.parse(run(['credit', 'keyset', ...ECASH], { env: ENV }).stdout).keysets[0];
    const output = musigTaprootOutput([publicKeyOf(hex.decode(key)), publicKeyOf(hex.decode(MINT_KEY))]);
    message(await pipeline([
      userStage(user, ENV, 'open-credit', '--role', 'user', '--offer', join(root, 'offer.json'), '--tip-height', '1000', '--refund-address', REFUND),
      mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
      userStage(user, ENV, 'open-credit', '--role', 'user'),
    ], fundingPsbt(output.script, 'ecash restore')), 'credit/opened', 'open');
    for (const [n, amount] of [1000, 37, 2500].entries()) await pay(amount, n);
  }, 120_000);

  it('cashu-ts restores every credit-issued proof from its seed, its /v1/restore answered by `credit ecash restore`', async () => {
    const restores: number[] = [];
    const customRequest = async ({ endpoint, requestBody }: { endpoint: string; requestBody?: Record<string, unknown> }) => {
      const path = new URL(endpoint).pathname;
      if (path === '/v1/info') return { name: 'credit mint', version: 'offchain', nuts: { 9: { supported: true }, 12: { supported: true } } };
      if (path === '/v1/keysets') return { keysets: [{ id: keyset.id, unit: 'sat', active: true, input_fee_ppk: keyset.input_fee_ppk }] };
      if (path === '/v1/keys' || path === `/v1/keys/${keyset.id}`) return { keysets: [{ ...keyset, active: true }] };
      if (path === '/v1/restore') {
        // the bytes cashu-ts POSTs — its own serialiser, the one its HTTP request uses — into the built CLI
        const body = JSONInt.stringify(requestBody);
        const r = run(['credit', 'ecash', 'restore', '--state-dir', mintDir, ...ECASH], { input: body, env: ENV });
        expect(r.status, r.stderr).toBe(0);
        restores.push(JSON.parse(r.stdout).signatures.length);
        return JSON.parse(r.stdout);
      }
      throw new Error(`unexpected ${path}`);
    };
    const wallet = new Wallet(new Mint(MINT_URL, { customRequest: customRequest as never }), { unit: 'sat', bip39seed: WALLET_SEED });
    await wallet.loadMint();
    const restored = await wallet.restore(0, 30, { keysetId: keyset.id });
    const kept = paid.flatMap((t) => getDecodedToken(t, [keyset.id]).proofs);
    expect(restored.proofs.map((p) => [p.secret, p.C, String(p.amount)])).toEqual(kept.map((p) => [p.secret, p.C, String(p.amount)]));
    for (const p of restored.proofs) expect(accepted(p)).toBe(true);
    expect(restores).toEqual([kept.length]);
    // a batch past the last counter: nothing
    expect((await wallet.restore(30, 30, { keysetId: keyset.id })).proofs).toEqual([]);
  }, 120_000);

  it('a receipt whose ecash the mint got wrong, twice: settled unpaid (not frozen), the next payment refused, then claimed through the mint\'s restore; payments resume', async () => {
    // The first DLEQ's s replaced by its e: by a relay (unsigned), or in the mint's own answer (signed by its key).
    const changed = (text: string) => {
      const m = JSON.parse(text);
      m.signatures[0].dleq.s = m.signatures[0].dleq.e;
      return m;
    };
    const relay = (text: string) => JSON.stringify(changed(text));
    const faulty = (text: string) => JSON.stringify(signedAs(changed(text), hex.decode(MINT_KEY)));
    const req = message(await pipelineInProcess([userStage(user, ENV, 'sign-update', '--role', 'user', '--amount', '640', ...WALLET)], ''), 'credit/update-request', 'request').text;
    const receipt = message(await pipelineInProcess([mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH)], req), 'credit/receipt', 'receipt').text;
    const forged = run(['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', user.dir, ...WALLET, '--token-out', join(root, 'x.txt')], { input: relay(receipt), env: { ...ENV, USER_KEY: key } });
    expect(forged.status).toBe(4);
    expect(forged.stderr).toMatch(/^offchain: error E_RECEIPT_FORGED: /m);
    const refused = run(['sign-update', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', user.dir, ...WALLET, '--token-out', join(root, 'x.txt')], { input: faulty(receipt), env: { ...ENV, USER_KEY: key } });
    expect(refused.status).toBe(4);
    expect(refused.stderr).toMatch(/^offchain: error E_BAD_DLEQ: .*settle this payment without its ecash: offchain credit abandon --role user --start/m);
    const start = message(await pipelineInProcess([userStage(user, ENV, 'credit', 'abandon', '--role', 'user', '--start')], ''), 'credit/abandon', 'abandon').text;
    const answer = message(await pipelineInProcess([mintStage(mintDir, ENV, 'credit', 'abandon', '--role', 'mint')], start), 'credit/receipt', 'abandon answer').text;
    const settled = message(await pipelineInProcess([userStage(user, ENV, 'credit', 'abandon', '--role', 'user', ...WALLET, '--token-out', join(root, 'y.txt'))], faulty(answer)), 'credit/balance', 'settled').msg;
    expect(settled.ecash).toMatchObject({ unpaid_sat: 640, unpaid_state: 4 });
    // the next payment is refused: nothing written
    const before = snapshot(user.dir);
    const next = await runInProcess(['sign-update', '--role', 'user', '--amount', '10', '--key-env', 'USER_KEY', '--state-dir', user.dir, ...WALLET], { input: '', env: { ...ENV, USER_KEY: key } });
    expect(next.status).toBe(4);
    expect(next.stdout).toBe('');
    expect(/^offchain: error (E_[A-Z0-9_]+): /m.exec(next.stderr)?.[1]).toBe('E_ECASH_UNPAID');
    expect(snapshot(user.dir)).toEqual(before);
    // the claim, piped: user → mint's restore → user
    const tokenPath = join(root, 'claimed.txt');
    const balance = message(await pipeline([
      userStage(user, ENV, 'credit', 'ecash', 'claim', '--start'),
      { args: ['credit', 'ecash', 'restore', '--state-dir', mintDir, ...ECASH], env: ENV },
      userStage(user, ENV, 'credit', 'ecash', 'claim', ...WALLET, '--token-out', tokenPath),
    ], ''), 'credit/balance', 'claimed').msg as Msg;
    expect(balance.ecash).toMatchObject({ this_payment_sat: 640, issued_sat: 1000 + 37 + 2500 + 640 });
    expect(balance.ecash.unpaid_sat).toBeUndefined();
    const claimed = getDecodedToken(readFileSync(tokenPath, 'utf8').trim(), [keyset.id]).proofs;
    expect(claimed.reduce((s, p) => s + Number(String(p.amount)), 0)).toBe(640);
    for (const p of claimed) expect(accepted(p)).toBe(true);
    await pay(5, 9); // payments resume
    expect(getDecodedToken(paid.at(-1)!, [keyset.id]).proofs.every(accepted)).toBe(true);
  }, 120_000);
});

/**
 * Restore after the ecash mint rotated: the credit mint signed under two keysets (the old
 * one, then — after `credit ecash follow` — the new one, the switching payment under the old
 * one announcing it), and `credit ecash restore` answers for both. The ecash mint's answers
 * are a real Nutshell 0.20.3's restarted at the next index (test/vectors/nutshell/
 * default-restarted-index-1: both keysets active, the higher one issued under); cashu-ts's
 * wallet reads them, restores each keyset from its seed, and test code's Nutshell derivation
 * (index 0 and 1) accepts every proof.
 */
describe('restore across a rotation, through the CLI', () => {
  const tmp = tempDir('offchain-ecash-restore-rotated-');
  const root = tmp.path;
  const mintDir = join(root, 'mint');
  const user = { key: hex.encode(Uint8Array.from(Buffer.from('rotating user'.padEnd(32, '.')))), dir: join(root, 'user') };
  const vectors = join(ROOT, 'test/vectors/nutshell/default-restarted-index-1');
  afterAll(() => tmp.cleanup());

  it('payments under the old keyset and the new one: cashu-ts restores both from its seed, each answer byte for byte the receipt\'s', async () => {
    const keysets = JSON.parse(readFileSync(join(vectors, 'keysets.json'), 'utf8'));
    const keys = JSON.parse(readFileSync(join(vectors, 'keys.json'), 'utf8'));
    const [OLD, NEW] = keysets.keysets.map((k: { id: string }) => k.id) as [string, string];
    // the keysets are Nutshell's test seed at index 0 and 1 (test code's derivation, ids in the spec's form)
    const byIndex = [nutshellKeyset(SEED, "m/0'/0'/0'"), nutshellKeyset(SEED, "m/0'/0'/1'")];
    expect(byIndex.map((k) => k.id)).toEqual([OLD, NEW]);
    const offer = message(await pipelineInProcess([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', MINT_URL, ...ECASH)], ''), 'credit/offer', 'offer');
    expect(offer.msg.ecash.keyset_id).toBe(OLD);
    writeFileSync(join(root, 'offer.json'), offer.text);
    const output = musigTaprootOutput([publicKeyOf(hex.decode(user.key)), publicKeyOf(hex.decode(MINT_KEY))]);
    message(await pipelineInProcess([
      userStage(user, ENV, 'open-credit', '--role', 'user', '--offer', join(root, 'offer.json'), '--tip-height', '1000', '--refund-address', REFUND),
      mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
      userStage(user, ENV, 'open-credit', '--role', 'user'),
    ], fundingPsbt(output.script, 'ecash restore rotated')), 'credit/opened', 'open');
    const receipts: Msg[] = [];
    const tokens: string[] = [];
    const pay = async (amount: number) => {
      const n = tokens.length;
      const req = message(await pipelineInProcess([userStage(user, ENV, 'sign-update', '--role', 'user', '--amount', String(amount), ...WALLET)], ''), 'credit/update-request', `request ${n}`).text;
      const receipt = message(await pipelineInProcess([mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH)], req), 'credit/receipt', `receipt ${n}`);
      receipts.push(receipt.msg);
      const tokenPath = join(root, `token-${n}.txt`);
      message(await pipelineInProcess([userStage(user, ENV, 'sign-update', '--role', 'user', ...WALLET, '--token-out', tokenPath)], receipt.text), 'credit/balance', `payment ${n}`);
      tokens.push(readFileSync(tokenPath, 'utf8').trim());
    };
    await pay(1000);
    await pay(37);
    const followed = message(await pipelineInProcess([mintStage(mintDir, ENV, 'credit', 'ecash', 'follow', ...ECASH, '--ecash-keysets', join(vectors, 'keysets.json'), '--ecash-keys', join(vectors, 'keys.json'))], ''), 'credit/ecash-keysets', 'follow').msg;
    expect([followed.active, followed.added]).toEqual([NEW, [NEW]]);
    await pay(600); // under the keyset the contract knew, announcing the new one
    await pay(2500); // under the new one
    const idsOf = (r: Msg) => [...new Set((r.signatures as { id: string }[]).map((s) => s.id))];
    expect(receipts.map(idsOf)).toEqual([[OLD], [OLD], [OLD], [NEW]]);
    expect(receipts.map((r) => r.next_keyset?.id)).toEqual([undefined, undefined, NEW, undefined]);

    const restored: Record<string, string[]> = {};
    const customRequest = async ({ endpoint, requestBody }: { endpoint: string; requestBody?: Record<string, unknown> }) => {
      const path = new URL(endpoint).pathname;
      if (path === '/v1/info') return { name: 'credit mint', version: 'offchain', nuts: { 9: { supported: true }, 12: { supported: true } } };
      if (path === '/v1/keysets') return keysets;
      if (path === '/v1/keys') return keys;
      const one = /^\/v1\/keys\/([0-9a-f]+)$/.exec(path);
      if (one) return { keysets: keys.keysets.filter((k: { id: string }) => k.id === one[1]) };
      if (path === '/v1/restore') {
        const r = await runInProcess(['credit', 'ecash', 'restore', '--state-dir', mintDir, ...ECASH], { input: JSONInt.stringify(requestBody), env: ENV });
        expect(r.status, r.stderr).toBe(0);
        const answer = JSON.parse(r.stdout);
        for (const s of answer.signatures) (restored[s.id] ??= []).push(s.C_);
        return answer;
      }
      throw new Error(`unexpected ${path}`);
    };
    const wallet = new Wallet(new Mint(MINT_URL, { customRequest: customRequest as never }), { unit: 'sat', bip39seed: WALLET_SEED });
    await wallet.loadMint();
    for (const [i, id] of [OLD, NEW].entries()) {
      const got = await wallet.restore(0, 30, { keysetId: id });
      const kept = tokens.flatMap((t) => getDecodedToken(t, [OLD, NEW]).proofs).filter((p) => p.id === id);
      expect(kept.length, id).toBeGreaterThan(0);
      expect(got.proofs.map((p) => [p.id, p.secret, p.C, String(p.amount)]), id).toEqual(kept.map((p) => [p.id, p.secret, p.C, String(p.amount)]));
      for (const p of got.proofs) expect(nutshellAccepts(byIndex[i]!, { id, amount: BigInt(String(p.amount)), secret: p.secret, C: p.C })).toBe(true);
    }
    // the answers are the receipts' blind signatures, byte for byte, under the keyset each was signed under
    const signed = receipts.flatMap((r) => r.signatures as { id: string; C_: string }[]);
    expect(restored).toEqual({ [OLD]: signed.filter((s) => s.id === OLD).map((s) => s.C_), [NEW]: signed.filter((s) => s.id === NEW).map((s) => s.C_) });
  }, 120_000);
});
