/**
 * `offchain watch --tower DIR`, a keyless watchtower, punishes a revoked BOLT 3 commitment for a
 * channel party that went offline, on a real `bitcoind -regtest` (issue 71 item 5, the channel half).
 * Alice and Bob open a legacy channel and advance it (the CLI's `commitment` steps); Bob keeps his
 * commitment 1 (an HTLC each way) and revokes it. Alice exports (`commitment tower-export`: her
 * justice ladders, encrypted under each revoked commitment's txid), drops the file into the tower's
 * directory and is never heard of again. Bob, who knows his commitment's txid, drops a decoy under
 * its locator (his own HTLC-timeout dressed as justice, sealed under the real key) beside junk
 * files. Only the tower runs — no key, its own state directory, a wallet it never spends.
 *
 * - Bob's revoked commitment is mined: the tower matches it in the block, skips the decoy (said),
 *   opens Alice's appointment and sends a rung of each ladder, paying Alice's address.
 * - A fee spike (Core's prioritisetransaction takes the rungs' fee away from the block template):
 *   each block the tower climbs a rung (a valid replacement), never above Alice's cap.
 * - Bob's HTLC-timeout (final at its cltv_expiry) replaces the tower's rung on his HTLC and is
 *   mined: the tower sends Alice's second-stage ladder on its output (a legacy channel: its txid
 *   was fixed in advance).
 * - The spike ends: every rung mined by the deadline (the commitment's height + to_self_delay − 1),
 *   paying Alice's address; then `done`. The tower's wallet is untouched throughout.
 * - A second channel's breach mined before Alice's export of it reached the tower: found in the
 *   blocks below the tip when the export arrives, and punished.
 *
 * Every watcher round is the built CLI, spawned with no key in its environment. Skipped, visibly,
 * without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { base64 } from '@scure/base';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { sealAppointment } from '../../src/lib/bolt3/appointment.ts';
import { Value } from '@sinclair/typebox/value';
import { WatchReportSchema } from '../../src/lib/watch/schemas.ts';
import { tempDir } from '../helpers.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, messageOf, offchain } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import { ENV, channels, nodeViews } from './bolt3-channels.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch --tower punishes a revoked BOLT 3 commitment for an offline party on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch --tower (channel half) on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

/**
 * The delay on Bob's commitments (Alice imposes it): the punishment window. Long enough that the
 * deadline schedule alone (regtest has no estimate: from the relay floor to the top rung over the
 * window) would not reach the next rung in one block: each climb below is the tower's rung up for
 * a block that passed without mining its rung.
 */
const DELAY = 60;
const FUNDING_SAT = 1_000_000;
/** Alice's cap on every rung, sat/vB, and her ladder's rungs. */
const CAP = 20;
const RUNGS = 6;

type Decision = { kind: string; contract: string; action: string; deadline: number; blocks_left: number; reason: string; fee_rate?: number; txid?: string; error?: string; shortfall?: string };
type Report = { type: string; tip: { height: number }; decisions: Decision[]; summary: { errors: number } };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-tower-channel-');
  const { rpc, verbose, mempool, outbid, justiceInMempool, feeRate } = nodeViews(() => n);
  const towerDir = join(tmp.path, 'tower-drop');
  const towerState = join(tmp.path, 'tower-state');
  const dirs = { alice: join(tmp.path, 'alice'), bob: join(tmp.path, 'bob') };
  const { openChannel, revokedWithHtlcs } = channels({ node: () => n, dir: tmp.path, delay: DELAY, fundingSat: FUNDING_SAT });

  /** One round of the tower, as cron would run it: the built CLI, spawned with no key in its environment. */
  const tower = async (): Promise<{ report: Report; stderr: string }> => {
    const r = await offchain(['watch', '--tower', towerDir, '--state-dir', towerState, '--rpc-wallet', 'tower', '--max-fee-rate', '5', ...n.chain(), '--once'], { env: {} });
    expect(r.status, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect([...Value.Errors(WatchReportSchema, report)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    return { report, stderr: r.stderr };
  };
  const channelDecisions = (r: Report) => r.decisions.filter((d) => d.kind === 'tower-channel');
  /** The tower's rungs in the mempool (paying only Alice's address), by the outpoint each takes. */
  const rungsInMempool = async () => (await justiceInMempool()).sort((a, b) => `${a.vin[0]!.txid}:${a.vin[0]!.vout}`.localeCompare(`${b.vin[0]!.txid}:${b.vin[0]!.vout}`));
  const towerCoins = async () => (await n.node.rpc.forWallet('tower').call<{ txid: string; vout: number }[]>('listunspent', [0])).map((u) => `${u.txid}:${u.vout}`).sort();

  let channel: Awaited<ReturnType<typeof openChannel>>;
  let revoked: Awaited<ReturnType<Awaited<ReturnType<typeof openChannel>>['bobsCommitment']>>;
  let bobsCltv: number;
  let walletBefore: string[];

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'watch-tower-channel');
    mkdirSync(towerDir);
    // The tower's wallet, with a coin it must never spend on anyone's justice.
    await rpc('createwallet', ['tower']);
    await n.wallet.call('sendtoaddress', [await n.node.rpc.forWallet('tower').call<string>('getnewaddress'), satsToBtc(20_000n)]);
    await n.mine(1);
    walletBefore = await towerCoins();
    expect(walletBefore).toHaveLength(1);
    ({ channel, revoked, bobsCltv } = await revokedWithHtlcs(dirs));
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    tmp.cleanup();
  });

  it('Alice exports her justice ladders (no key, nothing readable) and goes offline; Bob drops a decoy under his commitment\'s locator beside junk', async () => {
    const r = await offchainInProcess(['commitment', 'tower-export', '--channel-id', channel.id, '--key-env', 'A_REVOCATION', '--sweep-to', n.sweepTo, '--max-fee-rate', String(CAP), '--rungs', String(RUNGS), '--state-dir', dirs.alice], { env: ENV });
    const m = messageOf<{ appointments: { locator: string; blob: string }[] }>(r, 'bolt3/tower-justice');
    expect(m.appointments).toHaveLength(3); // Bob revoked 0, 1 and 2
    expect(m.appointments.map((a) => a.locator)).toContain(revoked.txid.slice(0, 32));
    for (const secret of Object.values(ENV)) expect(r.stdout).not.toContain(secret);
    for (const clear of [channel.id.split(':')[0]!, revoked.txid, n.sweepTo]) expect(r.stdout).not.toContain(clear);
    writeFileSync(join(towerDir, '.alice.part'), r.stdout);
    renameSync(join(towerDir, '.alice.part'), join(towerDir, 'alice.json'));
    // Bob's decoy, tried first (file order): his HTLC-timeout as a "rung", sealed under the real txid — he knows it.
    const timeout = revoked.htlc_txs.find((h) => h.kind === 'htlc-timeout')!;
    const decoy = { v: 1, to_self_delay: DELAY, outputs: [{ rungs: [timeout.hex!] }] };
    const { locator, blob } = sealAppointment(revoked.txid, deflateRawSync(new TextEncoder().encode(JSON.stringify(decoy))));
    writeFileSync(join(towerDir, 'aaa-decoy.json'), JSON.stringify({ type: 'bolt3/tower-justice', version: 1, network: 'regtest', appointments: [{ locator, blob: base64.encode(blob) }], next: '' }));
    writeFileSync(join(towerDir, 'junk-text.json'), 'not json at all');
    writeFileSync(join(towerDir, 'junk-type.json'), JSON.stringify({ type: 'bolt3/penalties', version: 1, network: 'regtest' }));
    writeFileSync(join(towerDir, 'junk-schema.json'), JSON.stringify({ type: 'bolt3/tower-justice', version: 1, network: 'regtest', appointments: [{ locator: 'zz', blob: '' }], next: '' }));

    const { report, stderr } = await tower();
    // Nothing on chain yet: the tower knows nothing of the channel, decides nothing for it; the junk is said, once each, and skipped.
    expect(channelDecisions(report)).toEqual([]);
    expect(report.summary.errors).toBe(0);
    for (const f of ['junk-text.json', 'junk-type.json', 'junk-schema.json']) expect(stderr).toMatch(new RegExp(`${f} skipped`));
    // Alice's file and Bob's decoy read as exports (the decoy is found out only when its commitment is on chain).
    expect(stderr).not.toMatch(/alice\.json|aaa-decoy\.json/);
    expect(await mempool()).toEqual([]);
  }, 120_000);

  it('Bob\'s revoked commitment is mined: the tower skips his decoy, sends Alice\'s rungs; a fee spike makes it climb a rung each block; Bob\'s HTLC-timeout gets its second-stage ladder; all mined by the deadline, paying Alice; then done', async () => {
    await rpc('sendrawtransaction', [revoked.hex]);
    await n.mine(1);
    const H = await n.tip();
    expect((await verbose(revoked.txid)).confirmations).toBe(1);
    const deadline = H + DELAY - 1;

    const first = await tower();
    const d0 = channelDecisions(first.report);
    expect(d0, first.stderr).toHaveLength(1);
    expect(d0[0]).toMatchObject({ contract: revoked.txid, action: 'penalty', deadline });
    expect(d0[0]!.error).toBeUndefined();
    expect(first.stderr).toMatch(/aaa-decoy\.json: the appointment for [0-9a-f]{64} skipped: E_BAD_TOWER_EXPORT: .*revocation/);
    // One rung per revocable output: to_local and both HTLCs, each one input of the commitment, paying Alice.
    let rungs = await rungsInMempool();
    expect(rungs.map((t) => t.vin[0]!.txid)).toEqual([revoked.txid, revoked.txid, revoked.txid]);
    let rates = await Promise.all(rungs.map((t) => feeRate(t.txid)));
    for (const r of rates) expect(r).toBeLessThanOrEqual(CAP);

    // The spike: two blocks leave the rungs out; each round the tower climbs a rung, replacing the one below.
    const spiked: string[] = [];
    for (let block = 0; block < 2; block++) {
      for (const t of rungs) await outbid(t.txid), spiked.push(t.txid);
      await n.mine(1);
      const r = await tower();
      const d = channelDecisions(r.report)[0]!;
      expect(d, JSON.stringify(d)).toMatchObject({ action: 'rebid', deadline });
      expect(d.error).toBeUndefined();
      const now = await rungsInMempool();
      expect(now.map((t) => `${t.vin[0]!.txid}:${t.vin[0]!.vout}`)).toEqual(rungs.map((t) => `${t.vin[0]!.txid}:${t.vin[0]!.vout}`));
      const higher = await Promise.all(now.map((t) => feeRate(t.txid)));
      higher.forEach((r, i) => {
        expect(r, `output ${i}: ${rates[i]} → ${r}`).toBeGreaterThan(rates[i]!);
        expect(r).toBeLessThanOrEqual(CAP);
      });
      rungs = now;
      rates = higher;
    }

    // Bob's HTLC-timeout is final now: it replaces the (spiked) rung on his HTLC, and a miner takes it alone.
    expect(await n.tip()).toBeGreaterThanOrEqual(bobsCltv);
    const timeout = revoked.htlc_txs.find((h) => h.kind === 'htlc-timeout')!;
    for (const t of rungs) await outbid(t.txid), spiked.push(t.txid);
    await rpc('sendrawtransaction', [timeout.hex]);
    await rpc('generateblock', [n.miner, [timeout.txid]]);
    expect((await verbose(timeout.txid)).confirmations).toBe(1);
    const H2 = await n.tip();
    const third = await tower();
    const d2 = channelDecisions(third.report)[0]!;
    expect(d2.error, JSON.stringify(d2)).toBeUndefined();
    // The second stage's ladder is new (its first send): the decision is the penalty's again.
    expect(['penalty', 'rebid']).toContain(d2.action);
    const withSecond = await rungsInMempool();
    expect(withSecond.some((t) => t.vin[0]!.txid === timeout.txid && t.vin[0]!.vout === 0), JSON.stringify(withSecond.map((t) => t.vin))).toBe(true);

    // The spike ends: Core forgets what it took away; the next block mines every rung, before the deadline.
    for (const txid of spiked) await rpc('prioritisetransaction', [txid, 0, 100_000_000]);
    await n.mine(1);
    expect(await mempool()).toEqual([]);
    const tip = await n.tip();
    expect(tip).toBeLessThanOrEqual(deadline);
    expect(tip).toBeLessThanOrEqual(H2 + DELAY - 1);
    const block = await rpc<{ tx: string[] }>('getblock', [await rpc<string>('getbestblockhash'), 1]);
    const mined = (await Promise.all(block.tx.map(verbose))).filter((t) => t.vout.length === 1 && t.vout[0]!.scriptPubKey.address === n.sweepTo);
    // to_local and the HTLC Bob received (both on the commitment), and the output of Bob's HTLC-timeout: all Alice's.
    expect(mined.map((t) => `${t.vin[0]!.txid === revoked.txid ? 'commitment' : t.vin[0]!.txid === timeout.txid ? 'timeout' : 'other'}`).sort()).toEqual(['commitment', 'commitment', 'timeout']);

    // Six deep: done; nothing is sent again.
    await n.mine(6);
    const last = await tower();
    expect(channelDecisions(last.report)[0]).toMatchObject({ action: 'done', contract: revoked.txid });
    expect(await mempool()).toEqual([]);
    // The tower's wallet paid for nothing.
    expect(await towerCoins()).toEqual(walletBefore);
  }, 240_000);

  it('a breach mined before the party\'s export reached the tower is found in the blocks below the tip (once per export) and punished', async () => {
    const dirs2 = { alice: join(tmp.path, 'alice2'), bob: join(tmp.path, 'bob2') };
    const ch2 = await openChannel(dirs2);
    await ch2.update(0, 600_000, 400_000, []);
    const old = await ch2.bobsCommitment();
    await ch2.update(1, 610_000, 390_000, []);
    await ch2.update(2, 620_000, 380_000, []);
    // Bob cheats; three blocks later Alice's export arrives (she exported late, or the tower was down).
    await rpc('sendrawtransaction', [old.hex]);
    await n.mine(1);
    const H = await n.tip();
    await n.mine(2);
    // The tower has seen those blocks (without the export: nothing to match in them then).
    expect(channelDecisions((await tower()).report).find((x) => x.contract === old.txid)).toBeUndefined();
    await n.mine(1);
    const r = await offchainInProcess(['commitment', 'tower-export', '--channel-id', ch2.id, '--key-env', 'A_REVOCATION', '--sweep-to', n.sweepTo, '--max-fee-rate', String(CAP), '--state-dir', dirs2.alice], { env: ENV });
    messageOf(r, 'bolt3/tower-justice');
    writeFileSync(join(towerDir, 'alice2.json'), r.stdout);
    const { report } = await tower();
    const d = channelDecisions(report).find((x) => x.contract === old.txid);
    expect(d, JSON.stringify(report.decisions)).toMatchObject({ action: 'penalty', deadline: H + DELAY - 1 });
    const rungs = (await rungsInMempool()).filter((t) => t.vin[0]!.txid === old.txid);
    expect(rungs).toHaveLength(1); // Bob's to_local (no HTLC in flight)
    await n.mine(1);
    expect(await mempool()).toEqual([]);
    expect((await verbose(rungs[0]!.txid)).confirmations).toBe(1);
    expect(await towerCoins()).toEqual(walletBefore);
  }, 120_000);
});
