/**
 * Review of issue 36 as the mint's database writer, through the built CLI: the
 * `ecash-keysets` document rewritten in the mint's state.sqlite (the same keys, the same path, under
 * their NUT-02 version-00 id, which a fresh Nutshell 0.20.3 does not know) makes
 * `sign-update --role mint` sign nothing (E_STATE_CORRUPT, exit 3, nothing on stdout), and
 * `credit ecash follow` with the ecash mint's answers rebuilds the document, after which the
 * same request is signed under the mint's own keyset. Before, the mint signed, announced the
 * forged id in its receipt (signed), and the user's next payment was issued under it.
 * (The library-level tests: test/lib/credit/ecash-store-writer.test.ts.)
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { hex } from '@scure/base';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { networkDir, rawDb } from '../state.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { pipeline, run } from './cli.ts';
import { MINT_KEY, PAYOUT, PAY_FLAGS, REFUND, fundingPsbt, message, mintStage, userStage } from './stream-credit.ts';

const SEED = 'TEST_PRIVATE_KEY';
const ENV = { ECASH_SEED: SEED, WALLET_SEED: '5c'.repeat(64), OFFCHAIN_TEST_SEED: 'credit-ecash-store-writer' };
const ECASH = ['--ecash-seed-env', 'ECASH_SEED'];
const WALLET = ['--wallet-seed-env', 'WALLET_SEED'];
const VECTORS = join(ROOT, 'test/vectors/nutshell/default'); // a fresh 0.20.3's /v1/keysets and /v1/keys
const LIVE = ['--ecash-keysets', join(VECTORS, 'keysets.json'), '--ecash-keys', join(VECTORS, 'keys.json')];

/** NUT-02 version 00 by test code: the first 7 bytes of SHA-256 over the keys' bytes, by amount. */
const v00Id = (keys: Record<string, string>) =>
  '00' + createHash('sha256').update(Buffer.concat(Object.entries(keys).sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1)).map(([, k]) => Buffer.from(k, 'hex')))).digest('hex').slice(0, 14);

describe('as the mint\'s database writer, through the CLI: the ecash-keysets document', () => {
  const tmp = tempDir('offchain-ecash-store-writer-');
  const root = tmp.path;
  const mintDir = join(root, 'mint');
  const user = { key: hex.encode(Uint8Array.from(Buffer.from('store writer user'.padEnd(32, '.')))), dir: join(root, 'user') };
  afterAll(() => tmp.cleanup());

  it('rewritten to the v00 id of the same keys: sign-update --role mint is E_STATE_CORRUPT (exit 3, nothing on stdout); credit ecash follow rebuilds it and the same request is signed under the mint\'s keyset', async () => {
    const offer = message(await pipeline([mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', 'http://127.0.0.1:3338', ...ECASH, ...LIVE)], ''), 'credit/offer', 'offer');
    const OLD = offer.msg.ecash.keyset_id as string;
    writeFileSync(join(root, 'offer.json'), offer.text);
    const output = musigTaprootOutput([publicKeyOf(hex.decode(user.key)), publicKeyOf(hex.decode(MINT_KEY))]);
    message(await pipeline([
      userStage(user, ENV, 'open-credit', '--role', 'user', '--offer', join(root, 'offer.json'), '--tip-height', '1000', '--refund-address', REFUND),
      mintStage(mintDir, ENV, 'open-credit', '--role', 'mint', '--tip-height', '1000'),
      userStage(user, ENV, 'open-credit', '--role', 'user'),
    ], fundingPsbt(output.script, 'ecash store writer')), 'credit/opened', 'open');

    // the writer: no seed, only the public keys and NUT-02
    const db = rawDb(networkDir(mintDir));
    const row = db.prepare("SELECT value FROM meta WHERE key = 'doc:ecash-keysets'").get() as { value: string };
    const doc = JSON.parse(row.value) as { active: string; keysets: { id: string; keys: Record<string, string>; active: boolean }[] };
    expect(doc.active).toBe(OLD);
    const old = doc.keysets.find((k) => k.id === OLD)!;
    const alias = v00Id(old.keys);
    const forged = { ...doc, active: alias, keysets: [{ ...old, id: alias, id_version: '00' }, ...doc.keysets.map((k) => ({ ...k, active: false }))] };
    db.prepare("UPDATE meta SET value = ? WHERE key = 'doc:ecash-keysets'").run(JSON.stringify(forged));
    db.close();

    const req = message(await pipeline([userStage(user, ENV, 'sign-update', '--role', 'user', '--amount', '1000', ...WALLET)], ''), 'credit/update-request', 'request').text;
    const refused = run([...mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH).args], { input: req, env: { ...ENV, MINT_KEY } });
    expect(refused.status, refused.stderr).toBe(3);
    expect(refused.stdout).toBe('');
    const errors = refused.stderr.split('\n').filter((l) => l.startsWith('offchain: error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^offchain: error E_STATE_CORRUPT: the store's ecash-keysets document .*credit ecash follow/);

    const followed = message(await pipeline([mintStage(mintDir, ENV, 'credit', 'ecash', 'follow', ...ECASH, ...LIVE)], ''), 'credit/ecash-keysets', 'follow').msg;
    expect(followed.active).toBe(OLD);
    expect(followed.keysets.find((k: { id: string }) => k.id === alias)).toMatchObject({ active: false, listed: false });
    const receipt = message(await pipeline([mintStage(mintDir, ENV, 'sign-update', '--role', 'mint', ...PAY_FLAGS, ...ECASH)], req), 'credit/receipt', 'receipt').msg;
    expect(new Set(receipt.signatures.map((s: { id: string }) => s.id))).toEqual(new Set([OLD]));
    expect(receipt.next_keyset).toBeUndefined();
  }, 120_000);
});
