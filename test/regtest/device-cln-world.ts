/**
 * The device ↔ gateway world on real Core Lightning, set up once for test/regtest/device-cln.test.ts
 * (the gateway's commands) and test/regtest/serve-gateway-cln.test.ts (`serve gateway`): one bitcoind
 * -regtest, the gateway's and the payee's lightningd (the payee with the hold plugin), the gateway's
 * 1 000 000 sat unannounced channel to the payee, the terms and the device's policy, and the device's
 * credit channel (device = user, gateway = mint) funded on the node and mined. Each test file keeps
 * its own assertions; this only builds what they both stand on.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { ClnRpc } from '../../src/lib/lightning/cln-rpc.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { networkDir, record as storedRecord } from '../state.ts';
import type { Stage } from '../e2e/cli.ts';
import { MINT_KEY, USER_KEY } from '../e2e/fixture-files.ts';
import { findBitcoind } from './bitcoind.ts';
import { findLightningd, startLightningd, waitFor, type Lightningd } from './lightningd.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, messageOf } from './offchain-cli.ts';
import { offchainInProcess as offchain } from './in-process-cli.ts';

export type Msg = Record<string, any>;

export const BITCOIND = findBitcoind();
export const LIGHTNINGD = findLightningd();
export const RUN = BITCOIND !== undefined && LIGHTNINGD !== undefined;
/** The describe title, with the visible skip reason when a peer is missing (also warned). */
export function worldTitle(what: string): string {
  const title = RUN ? `${what} (${LIGHTNINGD})` : `${what} — SKIPPED: ${LIGHTNINGD ? 'no bitcoind (BITCOIND)' : 'LIGHTNINGD is unset'}`;
  if (!RUN) console.warn(`[regtest] ${title}`);
  return title;
}

export const CAPACITY = 2_000_000n;
export const TERMS = { fee_base_msat: 1000, fee_ppm: 2000, cltv_budget_blocks: 10, claim_margin_blocks: 6 };
export const HTLC_BLOCKS = 40;
const HOLD_PLUGIN = join(ROOT, 'test/regtest/cln-plugins/hold-htlc.cjs');
/** The HTLC amount by the terms (base + ppm rounded up, the sum rounded up to the sat): the test's own arithmetic. */
export const htlcSat = (msat: bigint) => Number((msat + 1000n + (msat * 2000n + 999_999n) / 1_000_000n + 999n) / 1000n);

export interface DeviceClnWorld {
  n: FundedNode;
  gw: Lightningd;
  payee: Lightningd;
  work: { path: string; cleanup: () => void };
  mintDir: string;
  userDir: string;
  contractId: string;
  /** The gateway node's lightning-rpc socket. */
  socket: string;
  /** The test's own calls go over the sockets (no lightning-cli process per call). */
  gwRpc: ClnRpc;
  payeeRpc: ClnRpc;
  terms: string;
  policy: string;
  /** Writes `text` to `name` in the work dir; returns its path. */
  file(name: string, text: string): string;
  device(...args: string[]): Stage;
  gateway(...args: string[]): Stage;
  /** The device's record (its credit contract file). */
  deviceRecord(): Msg;
  /** Stops both lightningd (one may be stopped already), bitcoind, and removes the work dir. */
  stop(): Promise<void>;
}

export async function startDeviceClnWorld(prefix: string): Promise<DeviceClnWorld> {
  assertBuilt();
  const work = tempDir(prefix);
  const mintDir = join(work.path, 'mint');
  const userDir = join(work.path, 'user');
  const file = (name: string, text: string) => {
    const p = join(work.path, name);
    writeFileSync(p, text);
    return p;
  };
  const n = await startFundedNode(BITCOIND!, 'miner').catch((e) => {
    work.cleanup();
    throw e;
  });
  const nodes: Lightningd[] = []; // each lightningd as it starts, so a failed start stops the other one
  const stop = async () => {
    await Promise.allSettled(nodes.map((l) => l.stop()));
    await n.stop();
    work.cleanup();
  };
  try {
    return await build();
  } catch (e) {
    await stop(); // a half-built world leaves no process or directory behind
    throw e;
  }

  async function build(): Promise<DeviceClnWorld> {
    // The payee's hold plugin, run by this very node binary (whatever PATH lightningd gets).
    const plugin = join(work.path, 'hold-htlc');
    writeFileSync(plugin, `#!/bin/sh\nexec '${process.execPath}' '${HOLD_PLUGIN}'\n`, { mode: 0o755 });
    const started = (l: Lightningd) => (nodes.push(l), l);
    const [gw, payee] = await Promise.all([
      startLightningd(LIGHTNINGD!, n.node, 'gateway').then(started),
      startLightningd(LIGHTNINGD!, n.node, 'payee', 30_000, [`--plugin=${plugin}`]).then(started),
    ]);
    const socket = join(gw.dir, 'regtest', 'lightning-rpc');
    const gwRpc = new ClnRpc(socket);
    const payeeRpc = new ClnRpc(join(payee.dir, 'regtest', 'lightning-rpc'));
    // The gateway's Lightning channel to the payee: 1 000 000 sat, unannounced.
    const addr = (await gw.call<{ p2tr: string }>('newaddr', { addresstype: 'p2tr' })).p2tr;
    await n.wallet.call('sendtoaddress', [addr, 1]);
    await n.mine(1);
    await waitFor('the gateway node sees its coin', async () => ((await gw.call<{ outputs: { status: string }[] }>('listfunds')).outputs.some((o) => o.status === 'confirmed') ? true : undefined));
    await gw.call('connect', { id: payee.id, host: '127.0.0.1', port: payee.port });
    await gw.call('fundchannel', { id: payee.id, amount: 1_000_000, announce: false });
    await n.mine(6);
    await waitFor('the channel is normal', async () => ((await gw.call<{ channels: { state: string }[] }>('listpeerchannels')).channels.some((c) => c.state === 'CHANNELD_NORMAL') ? true : undefined));

    const terms = file('terms.json', JSON.stringify({ ...TERMS }));
    const policy = file('policy.json', JSON.stringify({
      max_payment_msat: 1_500_000_000, max_daily_msat: 10_000_000_000, max_fee_base_msat: 1000, max_fee_ppm: 5000,
      allowed_payees: [payee.id], htlc_expiry_blocks: HTLC_BLOCKS, claim_margin_blocks: TERMS.claim_margin_blocks,
    }));

    // The device's channel: a credit contract (device = user, gateway = mint) funded on the same node. Setup, run
    // in the test process (the same bundle's `main`, ~10 ms a step instead of a ~0.15 CPU-s process); the tolls
    // are processes, and the open as processes is test/regtest/device-cli.test.ts's channel A.
    const env = { MINT_KEY, USER_KEY };
    const key = messageOf<{ p2tr_address: string }>(await offchain(['key', 'show', '--key-env', 'MINT_KEY'], { env }), 'key/public');
    const offer = messageOf<Msg>(await offchain(['open-credit', '--role', 'mint', '--publish', '--payout-address', key.p2tr_address, '--min-expiry', '5', '--max-expiry', '200', '--safety-margin', '3', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], { env }), 'credit/offer');
    const offerFile = file('offer.json', JSON.stringify(offer));
    const address = messageOf<{ address: string }>(await offchain(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir, ...n.chain()], { env, input: JSON.stringify(offer) }), 'credit/address');
    const created = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], [{ [address.address]: satsToBtc(CAPACITY) }], 0, { change_type: 'bech32m', replaceable: false }]);
    const refund = await n.wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const request = messageOf<Msg>(await offchain(['open-credit', '--role', 'user', '--offer', offerFile, '--expiry', '+150', '--refund-address', refund, '--key-env', 'USER_KEY', '--state-dir', userDir, ...n.chain()], { env, input: created.psbt }), 'credit/open-request');
    const contractId = request.contract_id as string;
    const accept = messageOf<Msg>(await offchain(['open-credit', '--role', 'mint', '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], { env, input: JSON.stringify(request) }), 'credit/open-accept');
    const opened = messageOf<Msg>(await offchain(['open-credit', '--role', 'user', '--key-env', 'USER_KEY', '--state-dir', userDir, ...n.chain()], { env, input: JSON.stringify(accept) }), 'credit/opened');
    const signed = await n.wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [opened.funding_psbt]);
    const final = await n.node.rpc.call<{ hex: string }>('finalizepsbt', [signed.psbt]);
    await n.acceptAndMine(final.hex);

    return {
      n, gw, payee, work, mintDir, userDir, contractId, socket, gwRpc, payeeRpc, terms, policy, file,
      device: (...args) => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } }),
      gateway: (...args) => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...n.chain()], env: { MINT_KEY } }),
      deviceRecord: () => storedRecord<Msg>(networkDir(userDir), 'credit-user', contractId)!,
      stop,
    };
  }
}
