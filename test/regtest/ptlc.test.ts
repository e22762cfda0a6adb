/**
 * A PTLC against a real `bitcoind -regtest` (issue 9): created, funded by a Core wallet,
 * pre-signed by payer and payee in four piped steps of the built CLI, claimed by the key
 * path with the adapted signature — accepted and mined, one ordinary-looking taproot
 * spend — and t read back by the payer from the mined claim through the node. Another
 * PTLC is refunded through its CLTV leaf: rejected non-final one block early, then mined.
 * Core derives the PTLC's address from the descriptor we print.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain, type CliRun } from './offchain-cli.ts';

const fixtureKey = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const KEYS = { ALICE_KEY: fixtureKey('alice'), BOB_KEY: fixtureKey('bob') }; // Alice pays, Bob is paid
const pub = (secretHex: string) => toHex(publicKeyOf(fromHex(secretHex)));

type Created = { address: string; descriptor: string; point: string; locktime: number };
type Presign = { next: string; pre_signature?: string };
type Spend = { hex: string; txid: string; locktime: number };

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `PTLCs against bitcoind -regtest (${BITCOIND})` : 'PTLCs against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };

  const run = (args: string[], input = '') => offchain(args, { input, env: KEYS });
  const chain = () => n.chain();
  const fund = async (address: string) => {
    const o = await n.fund(address, 60_000n);
    return `${o.txid}:${o.vout}`;
  };
  const expectRefused = (r: CliRun, code: string) =>
    expect({ status: r.status, code: errorCode(r), stdout: r.stdout }, describeRun(r)).toEqual({ status: 4, code, stdout: '' });
  const create = async (locktime: number, secretFile: string) => {
    const created = messageOf<Created>(await run(['ptlc', 'create', '--payer', pub(KEYS.ALICE_KEY), '--payee', pub(KEYS.BOB_KEY), '--locktime', String(locktime), '--secret-out', secretFile]), 'ptlc/created');
    const file = join(work.path, `ptlc-${locktime}.json`);
    writeFileSync(file, JSON.stringify(created));
    return { created, file };
  };

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-ptlc-');
    n = await startFundedNode(BITCOIND!, 'ptlc-funder');
  }, 180_000);

  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('pre-signed in four piped steps, claimed by the key path with the adapted signature and mined; the payer reads t from the mined claim', async () => {
    const secret = join(work.path, 'bob.secret');
    const { created, file } = await create((await n.tip()) + 50, secret);
    expect(await n.node.rpc.call<string[]>('deriveaddresses', [created.descriptor])).toEqual([created.address]);
    const outpoint = await fund(created.address);
    const as = (who: 'ALICE_KEY' | 'BOB_KEY') => ['ptlc', 'presign', '--key-env', who, '--state-dir', join(work.path, who), '--ptlc', file];
    const s1 = await run(['ptlc', 'presign', '--key-env', 'BOB_KEY', '--state-dir', join(work.path, 'BOB_KEY'), '--outpoint', outpoint, '--to', n.sweepTo, '--fee-rate', '2', ...chain()], JSON.stringify(created));
    expect(messageOf<Presign>(s1, 'ptlc/presign').next).toBe('payer');
    const s2 = await run(as('ALICE_KEY'), s1.stdout);
    expect(messageOf<Presign>(s2, 'ptlc/presign').next).toBe('payee');
    const s3 = await run(as('BOB_KEY'), s2.stdout);
    const presigned = messageOf<Presign>(s3, 'ptlc/presign');
    expect(presigned.pre_signature).toMatch(/^[0-9a-f]{128}$/);
    expect(messageOf<Presign>(await run(as('ALICE_KEY'), s3.stdout), 'ptlc/presign').next).toBe('claim');

    const presignedFile = join(work.path, 'presigned.json');
    writeFileSync(presignedFile, s3.stdout);
    const claim = messageOf<Spend>(await run(['ptlc', 'claim', '--in', presignedFile, '--secret-file', secret]), 'ptlc/spend');
    const txid = await n.acceptAndMine(claim.hex);
    // The claim on chain: one key-path input with a single 64-byte signature, like any taproot spend.
    const mined = await n.node.rpc.call<{ vin: { txinwitness: string[] }[] }>('getrawtransaction', [txid, 1]);
    expect(mined.vin[0]!.txinwitness.map((w) => w.length)).toEqual([128]);

    const extracted = join(work.path, 'alice.t');
    const out = messageOf<{ claim_txid: string }>(
      await run(['ptlc', 'extract', '--in', presignedFile, '--ptlc', file, '--claim-txid', txid, '--secret-out', extracted, ...chain()]),
      'ptlc/extracted',
    );
    expect(out.claim_txid).toBe(txid);
    expect(readFileSync(extracted, 'utf8')).toBe(readFileSync(secret, 'utf8'));
    expect(toHex(publicKeyOf(fromHex(readFileSync(extracted, 'utf8').trim())))).toBe(created.point);
  });

  it('refunded by the CLTV leaf: non-final one block early, mined at the locktime', async () => {
    const locktime = (await n.tip()) + 4;
    const { created } = await create(locktime, join(work.path, 'refund.secret'));
    const outpoint = await fund(created.address);
    const refund = (...extra: string[]) =>
      run(['ptlc', 'refund', '--key-env', 'ALICE_KEY', '--outpoint', outpoint, '--to', n.sweepTo, '--fee-rate', '2', ...extra, ...chain()], JSON.stringify(created));
    await n.mine(locktime - 1 - (await n.tip()));
    expectRefused(await refund(), 'E_NOT_FINAL');
    const early = messageOf<Spend>(await refund('--any-time'), 'ptlc/spend');
    expect(early.locktime).toBe(locktime);
    expect(await n.mempool(early.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
    await n.mine(1);
    await n.acceptAndMine(messageOf<Spend>(await refund(), 'ptlc/spend').hex);
  });
});
