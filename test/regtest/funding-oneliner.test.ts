/**
 * Newcomer gap (issue 28 item 7): the documented one-liner that turns a statechain
 * deposit offer into the unsigned funding PSBT a Bitcoin Core wallet makes
 * (docs/statechain.md, `walletcreatefundedpsbt … | jq -r .psbt > funding.psbt`), run AS
 * WRITTEN by bash against bitcoind -regtest — `bitcoin-cli` being a shell function that
 * points the real bitcoin-cli at this node and wallet, as an operator's config would —
 * and the owner's next step takes that PSBT as it is, then the wallet signs it once
 * backup 1 is held and the deposit is accepted and mined.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.ts';
import { KEYS } from '../e2e/statechain-flow.ts';
import { bytesOf, hexOf } from '../independent/tx.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { describeRun, messageOf, offchain } from './offchain-cli.ts';

const BITCOIND = findBitcoind();
const CLI = BITCOIND ? join(dirname(BITCOIND), 'bitcoin-cli') : undefined;
const TITLE = BITCOIND ? 'the funding one-liner of docs/statechain.md against bitcoind -regtest' : 'the funding one-liner — SKIPPED: no bitcoind on PATH and BITCOIND is unset';

/** The block marked as the funding one-liner in docs/statechain.md, verbatim. */
function documentedOneLiner(): string {
  const text = readFileSync(join(ROOT, 'docs/statechain.md'), 'utf8');
  const m = /<!-- illustrative: needs a Bitcoin Core wallet; test\/regtest\/funding-oneliner\.test\.ts[^\n]*-->\n```sh\n([\s\S]*?)```/.exec(text);
  expect(m, 'the one-liner block in docs/statechain.md').not.toBeNull();
  return m![1]!;
}

describe.skipIf(!BITCOIND || !CLI || !existsSync(CLI))(TITLE, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  beforeAll(async () => {
    n = await startFundedNode(BITCOIND!, 'owner');
    work = tempDir('offchain-oneliner-');
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('offer.json → funding.psbt (as written) → the owner takes it → signed, accepted, mined', async () => {
    const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));
    const tip = String(await n.tip());
    const as = (who: string, args: string[], input = '') => offchain([...args, '--key-env', who, '--state-dir', join(work.path, who), '--tip-height', tip], { input, env: KEYS });
    const req = await as('ALICE_KEY', ['statechain-deposit', '--start', '--operator-key', operatorPub]);
    messageOf(req);
    const offer = await as('OPERATOR_KEY', ['statechain-deposit', '--interval', '5', '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '2'], req.stdout);
    messageOf(offer);
    writeFileSync(join(work.path, 'offer.json'), offer.stdout);

    const setup = `bitcoin-cli() { ${JSON.stringify(CLI)} -regtest -rpcport=${n.node.rpcPort} -rpccookiefile=${JSON.stringify(n.node.cookieFile)} -rpcwallet=owner "$@"; }\n`;
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', setup + documentedOneLiner()], { cwd: work.path, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const psbt = readFileSync(join(work.path, 'funding.psbt'), 'utf8').trim();
    expect(psbt).toMatch(/^cHNidP8/);
    const address = (JSON.parse(offer.stdout) as { statement: { address: string } }).statement.address;
    const decoded = await n.node.rpc.call<{ tx: { vout: { value: number; scriptPubKey: { address?: string } }[] } }>('decodepsbt', [psbt]);
    expect(decoded.tx.vout.filter((o) => o.scriptPubKey.address === address).map((o) => o.value)).toEqual([0.001]);

    const floor = ['--min-interval', '5', '--min-margin', '2'];
    const backup = await as('ALICE_KEY', ['statechain-deposit', '--funding', join(work.path, 'funding.psbt'), '--operator-key', operatorPub, ...floor], offer.stdout);
    expect(backup.status, describeRun(backup)).toBe(0);
    const cosigned = await as('OPERATOR_KEY', ['statechain-deposit'], backup.stdout);
    expect(cosigned.status, describeRun(cosigned)).toBe(0);
    const coin = await as('ALICE_KEY', ['statechain-deposit', ...floor], cosigned.stdout);
    messageOf(coin, 'statechain/coin');

    // Backup 1 is held: now the wallet signs the very PSBT the one-liner made; its txid is the one backup 1 spends.
    const signed = await n.wallet.call<{ hex: string; complete: boolean }>('finalizepsbt', [(await n.wallet.call<{ psbt: string }>('walletprocesspsbt', [psbt])).psbt]);
    expect(signed.complete).toBe(true);
    const txid = await n.acceptAndMine(signed.hex);
    expect((JSON.parse(coin.stdout) as { outpoint: string }).outpoint.split(':')[0]).toBe(txid);
  }, 180_000);
});
