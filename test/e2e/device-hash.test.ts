/**
 * One payment per hash per device (issue 37, finding 2) through the built CLI: a device with
 * two channels in one state directory — to two gateways (the demo gateway and a second one
 * with another key), or to one gateway (one state directory) — pays a payment hash on one
 * channel only. Each party its own process; every refusal exits 4 with one coded line, prints
 * nothing and leaves the device's state directory byte-identical.
 *
 *   - two `device pay` processes at once, X on A and X on B: the device's one state-directory
 *     lock serialises them, exactly one signs (before the fix: both);
 *   - the reported attack: invoice X in flight on channel A, `device pay` X on channel B
 *     (exit 0 before the fix: both gateways could then settle with the one preimage) —
 *     refused E_PAYMENT_ON_OTHER_CHANNEL; once X is settled on A, E_ALREADY_PAID;
 *   - `device settle` checks the other channels: with X in flight on both (a record written
 *     before the pay check, put in place through the store's API), one gateway settles A and
 *     then B with the same preimage: the device signs the first settle only (E_ALREADY_PAID).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '@scure/base';
import { Address, OutScript, Transaction } from '@scure/btc-signer';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { ALICE_KEY, MINT_KEY, USER_KEY, openDemoChannel } from './fixtures.ts';
import { pipeline, type Run, type Stage } from './cli.ts';
import { NOW, invoice, paymentHash, preimage } from '../lib/device/world.ts';
import { StateDb } from '../../src/lib/store/sqlite/database.ts';
import { ContractBook } from '../../src/lib/store/sqlite/records.ts';
import { networkDir, record as storedRecord, records } from '../state.ts';
import type { UserContractRecord } from '../../src/lib/credit/ports.ts';
import * as device from '../../src/lib/device/device.ts';
import { keyPair, parseSecretKey } from '../../src/lib/keys/keys.ts';

const TIP = '1000';
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');
const POLICY = join(ROOT, 'fixtures/policies/device.json');

const roots: { cleanup: () => void }[] = [];
afterAll(() => roots.forEach((r) => r.cleanup()));

const code = (r: Run) => /^offchain: error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1];
function refused(r: Run, expected: string): void {
  expect({ status: r.status, code: code(r), stdout: r.stdout, lines: r.stderr.trim().split('\n').length }, r.stderr).toEqual({ status: 4, code: expected, stdout: '', lines: 1 });
}
function ok(r: Run, type: string): Record<string, any> {
  expect(r.status, r.stderr).toBe(0);
  const m = JSON.parse(r.stdout) as Record<string, any>;
  expect(m.type).toBe(type);
  return m;
}
type Gateway = { dir: string; env: Record<string, string>; key: string };
const one = async (s: Stage, input = ''): Promise<Run> => (await pipeline([s], input))[0]!;

/**
 * The device (root/user) with channel A to the demo gateway (root/mint, MINT key), and channel
 * B opened in the same device directory: to a second gateway (root/mint2, ALICE key) or, with
 * `sameGateway`, to the demo gateway again (root/mint). B's funding is a PSBT the test writes
 * as the device's wallet would (another input than A's).
 */
/** Channel A as fixtures/credit/open-demo.sh leaves it, opened once per file (deterministic: OFFCHAIN_TEST_SEED=demo); each test copies it. */
let openedA: string | undefined;

async function twoChannels(o: { sameGateway: boolean }) {
  if (!openedA) {
    const t = tempDir('offchain-device-hash-a-');
    roots.push(t);
    openDemoChannel(t.path);
    openedA = t.path;
  }
  const root = tempDir('offchain-device-hash-');
  roots.push(root);
  cpSync(openedA, root.path, { recursive: true });
  const a = (JSON.parse(readFileSync(join(root.path, 'opened.json'), 'utf8')) as { contract_id: string }).contract_id;
  const gwA: Gateway = { dir: join(root.path, 'mint'), env: { MINT_KEY }, key: 'MINT_KEY' };
  const gwB: Gateway = o.sameGateway ? gwA : { dir: join(root.path, 'mint2'), env: { ALICE_KEY }, key: 'ALICE_KEY' };
  const dev = (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'user')], env: { USER_KEY } });
  const gw = (g: Gateway, ...args: string[]): Stage => ({ args: [...args, '--key-env', g.key, '--state-dir', g.dir], env: g.env });
  let offer = join(root.path, 'offer.json');
  if (!o.sameGateway) {
    offer = join(root.path, 'offer2.json');
    const published = await one(gw(gwB, 'open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT));
    ok(published, 'credit/offer');
    writeFileSync(offer, published.stdout);
  }
  const address = ok(await one(dev('open-credit', '--role', 'user'), readFileSync(offer, 'utf8')), 'credit/address').address as string;
  const funding = new Transaction({ version: 2 });
  funding.addInput({ txid: 'f1'.repeat(32), index: 0, witnessUtxo: { script: hex.decode('0014' + '99'.repeat(20)), amount: 1_010_000n } });
  funding.addOutput({ script: OutScript.encode(Address(REGTEST).decode(address)), amount: 1_000_000n });
  funding.addOutput({ script: hex.decode('0014' + '99'.repeat(20)), amount: 9_000n });
  const psbt = join(root.path, 'funding2.psbt');
  writeFileSync(psbt, funding.toPSBT());
  const opened = await pipeline([
    dev('open-credit', '--role', 'user', '--offer', offer, '--tip-height', TIP, '--expiry', '+4320', '--refund-address', REFUND, '--in', psbt),
    gw(gwB, 'open-credit', '--role', 'mint', '--tip-height', TIP),
    dev('open-credit', '--role', 'user'),
  ], '');
  const b = ok(opened[2]!, 'credit/opened').contract_id as string;
  expect(b).not.toBe(a);

  const file = (name: string, text: string, mode = 0o644) => {
    const p = join(root.path, name);
    writeFileSync(p, text + '\n', { mode });
    chmodSync(p, mode);
    return p;
  };
  const chain = ['--tip-height', TIP, '--confirmations', '1'];
  return {
    root, a, b, gwA, gwB, dev, gw, chain, file,
    userDir: join(root.path, 'user'),
    devicePay: (contract: string, inv: string) => dev('device', 'pay', '--contract', contract, '--invoice', inv, '--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP),
    gatewayPay: (g: Gateway) => gw(g, 'gateway', 'pay', '--terms', TERMS, '--now', String(NOW), ...chain),
    /** gateway settle (contract, preimage k) → device settle → gateway complete → device receipt. */
    settle: (g: Gateway, contract: string, k: number) => pipeline([
      gw(g, 'gateway', 'settle', '--contract', contract, '--preimage-file', file(`preimage-${k}-${contract.slice(0, 8)}`, hex.encode(preimage(k)), 0o600)),
      dev('device', 'settle'), gw(g, 'gateway', 'complete', ...chain), dev('device', 'receipt'),
    ], ''),
  };
}

/** Write a user's record through the store's API (ContractBook on its state.sqlite, one step), as the CLI writes it. */
async function putUserRecord(dir: string, r: UserContractRecord): Promise<void> {
  const db = StateDb.open(dir, { create: false })!;
  try {
    const book = new ContractBook<UserContractRecord>(async () => db, 'credit-user', dir);
    await book.exclusive(() => book.put(r));
  } finally {
    db.close();
  }
}

describe('one payment per hash per device, through the CLI', () => {
  it('two gateways: device pay of one invoice on channels A and B at once — the device\'s one lock serialises them, exactly one signs; again on the other channel refused while in flight, E_ALREADY_PAID once settled; nothing written', async () => {
    const t = await twoChannels({ sameGateway: false });
    const x = t.file('x.bolt11', invoice(0, 2_000_000n));
    // Two processes at once (before the fix both signed: two gateways could then settle X with one preimage).
    const raced = await Promise.all([one(t.devicePay(t.a, x)), one(t.devicePay(t.b, x))]);
    const signed = raced.filter((r) => r.status === 0);
    expect(signed, raced.map((r) => r.stderr).join(' | ')).toHaveLength(1);
    refused(raced.find((r) => r.status !== 0)!, 'E_PAYMENT_ON_OTHER_CHANNEL');
    const request = JSON.parse(signed[0]!.stdout) as { contract_id: string };
    const [won, lost] = request.contract_id === t.a ? [{ id: t.a, gw: t.gwA }, { id: t.b, gw: t.gwB }] : [{ id: t.b, gw: t.gwB }, { id: t.a, gw: t.gwA }];
    // The device's records: the hash in flight on exactly the channel whose process signed.
    const book = records<UserContractRecord>(networkDir(t.userDir), 'credit-user').map((r) => r.record);
    expect(book.filter((r) => r.device?.in_flight).map((r) => r.contract_id)).toEqual([won.id]);
    ok(await one(t.gatewayPay(won.gw), signed[0]!.stdout), 'gateway/job');
    // Later, one at a time: the same invoice, and the same hash in another invoice, on the other channel.
    const before = fileSnapshot(t.userDir, { locks: true, sqliteRows: true });
    refused(await one(t.devicePay(lost.id, x)), 'E_PAYMENT_ON_OTHER_CHANNEL');
    refused(await one(t.devicePay(lost.id, t.file('x2.bolt11', invoice(7, 3_000_000n, { hash: paymentHash(0) })))), 'E_PAYMENT_ON_OTHER_CHANNEL');
    expect(fileSnapshot(t.userDir, { locks: true, sqliteRows: true })).toEqual(before);
    // Settled on its channel: then the refusal says it was paid.
    ok((await t.settle(won.gw, won.id, 0))[3]!, 'credit/balance');
    const settled = fileSnapshot(t.userDir, { locks: true, sqliteRows: true });
    refused(await one(t.devicePay(lost.id, x)), 'E_ALREADY_PAID');
    expect(fileSnapshot(t.userDir, { locks: true, sqliteRows: true })).toEqual(settled);
    // Control: the other channel pays another invoice through its gateway.
    const [p, job] = await pipeline([t.devicePay(lost.id, t.file('y.bolt11', invoice(1, 2_000_000n))), t.gatewayPay(lost.gw)], '');
    expect(p!.status, p!.stderr).toBe(0);
    expect(ok(job!, 'gateway/job').contract_id).toBe(lost.id);
  }, 120_000);

  it('one gateway on both channels: X in flight on A is refused on B; with X in flight on both (a record from before the pay check, put in place through the store\'s API) the gateway settles both with the one preimage — device settle signs the first only (E_ALREADY_PAID), nothing written', async () => {
    const t = await twoChannels({ sameGateway: true });
    const x = t.file('x.bolt11', invoice(0, 2_000_000n));
    ok((await pipeline([t.devicePay(t.a, x), t.gatewayPay(t.gwA)], ''))[1]!, 'gateway/job');
    const before = fileSnapshot(t.userDir, { locks: true, sqliteRows: true });
    refused(await one(t.devicePay(t.b, x)), 'E_PAYMENT_ON_OTHER_CHANNEL');
    expect(fileSnapshot(t.userDir, { locks: true, sqliteRows: true })).toEqual(before);
    // Channel B's record as the code before the fix left it: X paid on B too (device pay
    // without the other channels), written through the store's API; its gateway co-signs it.
    const recB = storedRecord<UserContractRecord>(networkDir(t.userDir), 'credit-user', t.b)!;
    const d0: Parameters<typeof device.pay>[0] = {
      network: 'regtest', contract_id: t.b, contract: recB.contract, state: recB.confirmed.state, settled_sat: recB.confirmed.cumulative_sat,
      gateway_nonce: recB.mint_nonce!, paid: [], day: { date: '', spent_msat: '0' },
    };
    const policy = JSON.parse(readFileSync(POLICY, 'utf8'));
    const terms = JSON.parse(readFileSync(TERMS, 'utf8'));
    const legacy = device.pay(d0, keyPair(parseSecretKey(USER_KEY, 'regtest')), { invoice: invoice(0, 2_000_000n), policy, gateway: terms, now: NOW, tip: Number(TIP) });
    await putUserRecord(networkDir(t.userDir), { ...recB, device: legacy.record });
    ok(await one(t.gatewayPay(t.gwB), JSON.stringify(legacy.message)), 'gateway/job');
    // The gateway settles A (the device signs), then B with the same preimage.
    ok((await t.settle(t.gwA, t.a, 0))[3]!, 'credit/balance');
    const notice = await one(t.gw(t.gwB, 'gateway', 'settle', '--contract', t.b, '--preimage-file', t.file('preimage-b', hex.encode(preimage(0)), 0o600)));
    ok(notice, 'gateway/settle');
    const settled = fileSnapshot(t.userDir, { locks: true, sqliteRows: true });
    refused(await one(t.dev('device', 'settle'), notice.stdout), 'E_ALREADY_PAID');
    expect(fileSnapshot(t.userDir, { locks: true, sqliteRows: true })).toEqual(settled);
  }, 120_000);
});
