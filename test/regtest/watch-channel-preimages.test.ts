/**
 * `offchain watch` claims a BOLT 2/3 channel party's HTLCs with preimages it learns while it runs
 * (issue 71, docs/watch.md "Preimages learnt while the watcher runs"), on a real `bitcoind -regtest`:
 * 1. --preimage-dir: a long-running watcher started with no preimage; Alice's own commitment with an
 *    HTLC she receives is mined; a preimage file dropped into the directory between two rounds (beside a
 *    FIFO and a file of bad hex) — her HTLC-success is sent at the next round and mined; the log names
 *    the bad files, never a preimage.
 * 2. Learnt on chain (the forwarding case): Alice offered Bob an HTLC on one channel and received one
 *    of the same payment_hash on another. Bob closes the first and claims her HTLC with his
 *    HTLC-success, which carries the preimage; Alice's watcher, given no preimage, learns it from that
 *    witness, stores it, and claims the other channel's HTLC with it, mined by Core.
 * Skipped, visibly, without bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../src/lib/bytes.ts';
import { findBitcoind } from './bitcoind.ts';
import { BIN, assertBuilt, describeRun, offchain } from './offchain-cli.ts';
import { ENV, channels, nodeViews } from './bolt3-channels.ts';
import { tempDir } from '../helpers.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `offchain watch claims HTLCs with preimages learnt while it runs on bitcoind -regtest (${BITCOIND})`
  : 'offchain watch claims HTLCs with preimages learnt while it runs on bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const DELAY = 10;
type Decision = { kind: string; contract: string; action: string; deadline: number; reason: string; txid?: string; error?: string };

describe.skipIf(!BITCOIND)(TITLE, () => {
  let n: FundedNode;
  const tmp = tempDir('offchain-regtest-watch-preimages-');
  const { rpc, verbose, sat, spenderOf } = nodeViews(() => n);
  const { openChannel, htlc } = channels({ node: () => n, dir: tmp.path, delay: DELAY, fundingSat: 1_000_000 });
  /** The preimage of htlc(…, b, …): SHA256 of the byte b (its payment_hash is SHA256 of that). */
  const preimageOf = (b: number) => toHex(sha256(Uint8Array.of(b)));
  const watchArgs = (dir: string, extra: string[]) => ['watch', '--state-dir', dir, ...n.chain(), '--revocation-key-env', 'A_REVOCATION', '--htlc-key-env', 'A_HTLC', '--sweep-to', n.sweepTo, '--max-fee-rate', '20', ...extra];

  beforeAll(async () => {
    assertBuilt();
    n = await startFundedNode(BITCOIND!, 'watch-preimages');
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    tmp.cleanup();
  });

  it('--preimage-dir: a preimage dropped into the directory between two rounds of a long-running watcher (beside a FIFO and bad hex) — Alice\'s HTLC-success sent at the next round and mined; the bad files said by name, no preimage in the log', async () => {
    const dirs = { alice: join(tmp.path, 'alice1'), bob: join(tmp.path, 'bob1') };
    const drop = join(tmp.path, 'drop');
    mkdirSync(drop);
    const ch = await openChannel(dirs);
    const t0 = await n.tip();
    await ch.update(0, 500_000, 500_000, []);
    await ch.update(1, 480_000, 500_000, [htlc('received', 20_000, 11, t0 + 40)]);
    const own = (await ch.alicesCommitment()) as unknown as { txid: string; hex: string };
    await n.acceptAndMine(own.hex);
    const htlcVout = (await verbose(own.txid)).vout.find((o) => sat(o.value) === 20_000)!.n;
    let log = '';
    const child = spawn(process.execPath, [BIN, ...watchArgs(dirs.alice, ['--preimage-dir', drop, '--interval', '0.1'])], { env: { ...process.env, ...ENV, OFFCHAIN_CONFIG: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = async (what: string, ok: () => Promise<boolean> | boolean) => {
      for (let i = 0; i < 300; i++) {
        if (await ok()) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`${what} — not within 30 s; the watcher's log:\n${log}`);
    };
    try {
      await until('a first round', () => log.includes('"event":"round"'));
      // No preimage: her HTLC-success waits (its cltv_expiry is far).
      await until(`the channel's decision`, () => log.includes(ch.id));
      expect(await spenderOf(own.txid, htlcVout)).toBeUndefined();
      // Between two rounds: a FIFO, bad hex, and the preimage (written elsewhere and renamed in, as a file should be).
      execFileSync('mkfifo', [join(drop, 'a-fifo')]);
      writeFileSync(join(drop, 'b-bad'), 'not a preimage', { mode: 0o600 });
      writeFileSync(join(tmp.path, 'c-payment.tmp'), `${preimageOf(11)}\n`, { mode: 0o600 });
      renameSync(join(tmp.path, 'c-payment.tmp'), join(drop, 'c-payment'));
      await n.mine(1);
      await until('the HTLC-success in the mempool', async () => (await spenderOf(own.txid, htlcVout)) !== undefined);
      const success = (await spenderOf(own.txid, htlcVout))!;
      await n.mine(1);
      expect((await verbose(success)).confirmations).toBe(1);
      // Its one output is Alice's delayed output (a P2WSH), the HTLC less the second stage's fee.
      expect((await verbose(success)).vout).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(log).toMatch(/--preimage-dir \S*a-fifo skipped/);
    expect(log).toMatch(/--preimage-dir \S*b-bad skipped: not a preimage file \(E_BAD_PREIMAGE/);
    expect(log.split('a-fifo skipped').length - 1, 'said once, not at every round').toBe(1);
    expect(log).not.toContain(preimageOf(11));
  }, 90_000);

  it('learnt on chain, the forwarding case: Bob claims the HTLC Alice offered him with his HTLC-success; her watcher, given no preimage, reads it from that witness, stores it, and claims the HTLC of the same payment_hash on her other channel, mined by Core', async () => {
    const dirs = { alice: join(tmp.path, 'alice2'), bob: join(tmp.path, 'bob2') };
    const t0 = await n.tip();
    // Downstream: Alice offered Bob 30,000 sat; upstream: she received 31,000 sat of the same payment_hash, which expires later.
    const down = await openChannel(dirs);
    await down.update(0, 500_000, 500_000, []);
    await down.update(1, 470_000, 500_000, [htlc('offered', 30_000, 21, t0 + 30)]);
    const up = await openChannel(dirs);
    await up.update(0, 500_000, 500_000, []);
    await up.update(1, 500_000, 469_000, [htlc('received', 31_000, 21, t0 + 60)]);
    // Upstream's own commitment of Alice's mined (she holds no preimage: nothing to send but later her to_local).
    const own = (await up.alicesCommitment()) as unknown as { txid: string; hex: string };
    await n.acceptAndMine(own.hex);
    const upVout = (await verbose(own.txid)).vout.find((o) => sat(o.value) === 31_000)!.n;
    const once = async () => {
      const r = await offchain([...watchArgs(dirs.alice, []), '--once'], { env: ENV });
      expect(r.status, describeRun(r)).toBe(0);
      return { report: JSON.parse(r.stdout) as { decisions: Decision[] }, stderr: r.stderr };
    };
    const first = await once();
    expect(first.report.decisions.find((d) => d.contract === up.id)!.error).toBeUndefined();
    expect(await spenderOf(own.txid, upVout)).toBeUndefined();
    // Bob closes downstream with his commitment and claims Alice's HTLC with the preimage (his HTLC-success).
    const preimageFile = join(tmp.path, 'bob-preimage-21.hex');
    writeFileSync(preimageFile, preimageOf(21), { mode: 0o600 });
    const bobs = await down.bobsCommitment(['--preimage-file', preimageFile]);
    const bobsSuccess = bobs.htlc_txs.find((h) => h.kind === 'htlc-success');
    expect(bobsSuccess?.hex, JSON.stringify(bobs.htlc_txs)).toBeDefined();
    await rpc('sendrawtransaction', [bobs.hex]);
    await n.acceptAndMine(bobsSuccess!.hex!);
    // Round 2: the spender of her offered HTLC's output read, the preimage learnt, stored, said (its payment_hash, never the preimage).
    const hash = toHex(sha256(sha256(Uint8Array.of(21))));
    const second = await once();
    expect(second.stderr).toContain(`the preimage of payment_hash ${hash} learnt from ${bobsSuccess!.txid}`);
    expect(second.stderr).not.toContain(preimageOf(21));
    // Round 3: upstream's HTLC-success sent with it, at once (its cltv_expiry is far), and mined.
    const third = await once();
    const d = third.report.decisions.find((x) => x.contract === up.id)!;
    expect(d, JSON.stringify(third.report)).toMatchObject({ action: 'sweep' });
    const success = await spenderOf(own.txid, upVout);
    expect(success).toBeDefined();
    await n.mine(1);
    expect((await verbose(success!)).confirmations).toBe(1);
    // commitment list shows what was learnt, by payment_hash.
    const listed = await offchain(['commitment', 'list', '--state-dir', dirs.alice, ...n.chain()], { env: {} });
    expect(listed.status, describeRun(listed)).toBe(0);
    expect(JSON.parse(listed.stdout).preimages_learnt).toEqual([{ payment_hash: hash, txid: bobsSuccess!.txid, channel_id: down.id }]);
  }, 120_000);
});
