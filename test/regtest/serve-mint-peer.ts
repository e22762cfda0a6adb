/**
 * What test/regtest/serve-user.test.ts and test/regtest/serve-exit.test.ts both stand on: a funded
 * `bitcoind -regtest`, the mint's published offer in its state dir (the service, started by each
 * test its own way, serves it), the user's in-process commands on the node's chain, and the open
 * through `--peer` with a Core wallet's funding PSBT: the refund verified by the independent
 * verifier before the wallet signs and broadcasts the funding. Each test file keeps its own checks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { expect } from 'vitest';
import { tempDir } from '../helpers.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { runInProcess } from '../e2e/in-process.ts';
import type { Run } from '../e2e/cli.ts';
import { MINT_KEY, USER_KEY } from '../e2e/fixtures.ts';
import { PAYOUT, REFUND } from '../e2e/stream-credit.ts';

export { MINT_KEY, USER_KEY };
export const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);

/** The run exited 0 and printed a message of `type`: that message. */
export function ok(r: Run, type: string): Record<string, any> {
  expect(r.status, r.stderr).toBe(0);
  const msg = JSON.parse(r.stdout) as Record<string, any>;
  expect(msg.type, r.stdout).toBe(type);
  return msg;
}

export function mintPeerSetup(prefix: string) {
  const tmp = tempDir(prefix);
  const mintDir = join(tmp.path, 'mint');
  const userDir = join(tmp.path, 'user');
  let node: FundedNode | undefined;
  const user = (...args: string[]) => runInProcess([...args, '--key-env', 'USER_KEY', '--state-dir', userDir, ...node!.chain()], { env: { USER_KEY } });
  return {
    tmp,
    mintDir,
    userDir,
    /** The user's command, in process, on the node's chain. */
    user,
    /** Starts the funded node (`wallet`) and publishes the mint's offer (paid to PAYOUT, the mint key's own P2TR address) in mintDir; `offer`: more publish flags (--safety-margin N). */
    async start(bitcoind: string, wallet: string, offer: string[] = []): Promise<FundedNode> {
      node = await startFundedNode(bitcoind, wallet);
      ok(await runInProcess(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, ...offer, '--key-env', 'MINT_KEY', '--state-dir', mintDir], { env: { MINT_KEY } }), 'credit/offer');
      return node;
    },
    /**
     * The user opens `capacity` through the service at `url` with the wallet's funding PSBT; the refund is
     * verified independently, and only then does the wallet sign the funding (returned, not yet broadcast).
     */
    async openThroughPeer(url: string, capacity: bigint, expiry = '+500', refund = REFUND) {
      const offer = await (await fetch(`${url}/v1/credit/offer`)).text();
      const address = ok(await runInProcess(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir], { env: { USER_KEY }, input: offer }), 'credit/address').address as string;
      const created = await node!.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address]: satsToBtc(capacity) }], 0, { change_type: 'bech32m', replaceable: false }]);
      const psbtFile = join(tmp.path, 'funding.psbt');
      writeFileSync(psbtFile, created.psbt);
      const opened = ok(await user('open-credit', '--role', 'user', '--peer', url, '--expiry', expiry, '--refund-address', refund, '--in', psbtFile), 'credit/opened');
      const funding = verifyKeyPathSpend(opened.refund.hex, [{ amount: capacity, script: CONTRACT.script }], CONTRACT.outputKey).inputs[0]!;
      // Only now does the wallet sign the funding.
      const signed = await node!.wallet.call<{ hex: string; complete: boolean }>('walletprocesspsbt', [created.psbt]);
      return { opened, funding, signed };
    },
    async stop() {
      await node?.stop();
      tmp.cleanup();
    },
  };
}
