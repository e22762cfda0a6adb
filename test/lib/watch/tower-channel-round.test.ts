/**
 * Review (adversarial, the cheater who can write into the tower's directory): the tower's channel
 * round (src/topics/watch/tower-channel.ts) over a fake node, on a real breach
 * (test/lib/bolt3/tower-breach.ts). Pure: no bitcoind.
 *
 * Bob knows his revoked commitment's txid, so he opens Alice's blob (the key is SHA256 of it) and
 * seals what he likes under the same locator. He cannot sign as Alice, but he can re-seal a part
 * of what she signed: each rung he keeps still verifies.
 * 1. A decoy holding only the lowest rung of each of Alice's ladders (one output left out), in a
 *    file read before hers: the tower must still send her top rungs at the last block, on every output.
 * 2. A decoy of her HTLC ladders alone under a to_self_delay of its own (only a to_local script
 *    checks it): the deadline must still be the one her to_local script fixes.
 * 3. A decoy identical to Alice's but with a second stage of junk naming the cheater's real HTLC
 *    transaction: once that transaction is mined, the breach's other ladders must still be sent.
 */
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { sealAppointment } from '../../../src/lib/bolt3/appointment.ts';
import { justiceLadders, openBreach, type JusticeLadders } from '../../../src/lib/bolt3/tower-justice.ts';
import type { LadderPlan } from '../../../src/lib/bolt3/tower-ladder.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { towerChannelRound, type ChannelExport } from '../../../src/topics/watch/tower-channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { TowerBreach } from '../../../src/topics/watch/state.ts';
import { A } from '../bolt3/two-parties.ts';
import { DEST, breached } from '../bolt3/tower-breach.ts';

const PLAN: LadderPlan = { destinationScript: DEST, minRate: 1000, maxRate: 20_000, maxFeeShare: 0.5, rungs: 4, incrementalRate: 100 };
const b = breached('legacy');
const real = justiceLadders(b.record, b.revoked.txid, A.revocation, PLAN)!;
const H = (n: number) => n.toString(16).padStart(64, '0');
const idOf = (hex: string) => Transaction.fromRaw(fromHex(hex), { allowUnknownOutputs: true, disableScriptCheck: true }).id;

const exportOf = (file: string, l: JusticeLadders): ChannelExport => {
  const { locator, blob } = sealAppointment(b.revoked.txid, deflateRawSync(new TextEncoder().encode(JSON.stringify(l))));
  return { file, digest: file, blobs: new Map([[locator, [blob]]]) };
};

type Fake = { sent: string[]; breaches: Map<string, TowerBreach>; mined: Map<string, string>; spent: Set<string> };
/** A round at `tip`, the revoked commitment `confirmations` deep; `mined`: other transactions in blocks (txid → hex), `spent`: outpoints gone. */
function round(f: Fake, tip: number, confirmations: number): Round {
  const chain = {
    blockTxids: async () => ({ txids: [b.revoked.txid] }),
    blockHeader: async (hash: string) => ({ prev: hash === H(tip) ? null : null }),
    rawTransaction: async (txid: string) => fromHex(txid === b.revoked.txid ? b.revoked.hex : f.mined.get(txid)!),
    txConfirmations: async (txid: string) => (txid === b.revoked.txid ? confirmations : f.mined.has(txid) ? 1 : null),
    mempoolSpender: async () => undefined,
    utxo: async (txid: string, vout: number) => (f.spent.has(`${txid}:${vout}`) ? null : { txid, vout, value: 1n, scriptPubKey: '', confirmations }),
    mempoolEviction: async () => undefined,
    mempoolEntry: async () => null,
    mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 100 }),
    estimateFeeRate: async () => 1000,
    broadcast: async (raw: Uint8Array) => { f.sent.push(toHex(raw)); return idOf(toHex(raw)); },
  };
  const records = {
    towerScanned: async () => new Set<string>(),
    setTowerScanned: async () => {},
    towerBreaches: async () => new Map(f.breaches),
    setTowerBreach: async (x: TowerBreach) => { f.breaches.set(x.breach.commitment, structuredClone(x)); },
  };
  return { tip, block: H(tip), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(tip)] };
}

const fake = (): Fake => ({ sent: [], breaches: new Map(), mined: new Map(), spent: new Set() });

describe('the tower\'s channel round, as the cheater writing into its directory', () => {
  it('a decoy of Alice\'s lowest rungs only (an output left out), read before her file: her top rungs still go at the last block, on every output', async () => {
    const decoy: JusticeLadders = { ...real, outputs: real.outputs.slice(1).map((o) => ({ rungs: [o.rungs[0]!] })) };
    expect(real.outputs.every((o) => o.rungs.length > 1)).toBe(true);
    const f = fake();
    // The commitment 29 blocks deep with to_self_delay 30: the next block is the last that can mine a rung.
    const [d] = await towerChannelRound({ exports: async () => [exportOf('aaa-decoy.json', decoy), exportOf('alice.json', real)] }, round(f, 1000, 29));
    expect(d!.action).toBe('penalty');
    expect(f.sent.map(idOf).sort()).toEqual(real.outputs.map((o) => idOf(o.rungs.at(-1)!)).sort());
  });

  it('a decoy of Alice\'s HTLC ladders under a to_self_delay of its own (no to_local script checks it there): the deadline is still hers', async () => {
    const verifies = (o: JusticeLadders['outputs'][number]) => {
      try {
        return openBreach(b.revoked.hex, exportOf('x', { v: 1, to_self_delay: 1000, outputs: [o] }).blobs.values().next().value![0]!, 'x') !== undefined;
      } catch {
        return false; // to_local: its script's delay is 30
      }
    };
    const htlcOnly = real.outputs.filter(verifies);
    expect(htlcOnly.length).toBe(real.outputs.length - 1);
    const f = fake();
    await towerChannelRound({ exports: async () => [exportOf('aaa-decoy.json', { v: 1, to_self_delay: 1000, outputs: htlcOnly }), exportOf('alice.json', real)] }, round(f, 1000, 29));
    expect(f.sent.map(idOf).sort()).toEqual(real.outputs.map((o) => idOf(o.rungs.at(-1)!)).sort());
  });

  it('a decoy with a second stage of junk on the cheater\'s real HTLC transaction: once it is mined, the other ladders still go', async () => {
    const [vout, htlcHex] = [...b.htlcHex.entries()][0]!;
    const htlcTxid = idOf(htlcHex);
    const withSecond = real.outputs.findIndex((o) => o.second_stage && idOf(o.rungs[0]!) && Transaction.fromRaw(fromHex(o.rungs[0]!), { allowUnknownOutputs: true, disableScriptCheck: true }).getInput(0).index === vout);
    expect(withSecond).toBeGreaterThanOrEqual(0);
    // Junk: Alice's own first-stage rung of another output with its input pointed at the HTLC transaction (it spends htlcTxid:0, signed by nobody there).
    const junk = Transaction.fromRaw(fromHex(real.outputs[0]!.rungs[0]!), { allowUnknownOutputs: true, disableScriptCheck: true });
    junk.updateInput(0, { txid: fromHex(htlcTxid), index: 0 }, true);
    const decoy: JusticeLadders = { ...real, outputs: real.outputs.map((o, i) => (i === withSecond ? { rungs: o.rungs, second_stage: { rungs: [junk.hex] } } : o)) };
    const f = fake();
    f.mined.set(htlcTxid, htlcHex);
    f.spent.add(`${b.revoked.txid}:${vout}`);
    const ds = await towerChannelRound({ exports: async () => [exportOf('aaa-decoy.json', decoy), exportOf('alice.json', real)] }, round(f, 1000, 29));
    expect(ds[0]!.error).toBeUndefined();
    const others = real.outputs.filter((_, i) => i !== withSecond).map((o) => idOf(o.rungs.at(-1)!));
    // The HTLC transaction mined at this tip: its window has just opened, Alice's lowest second-stage rung goes.
    const secondLow = idOf(real.outputs[withSecond]!.second_stage!.rungs[0]!);
    expect(f.sent.map(idOf).sort()).toEqual([...others, secondLow].sort());
  });
});

describe('the tower\'s directory, as anyone who can write into it', () => {
  it('a FIFO or a link to an endless device named *.json is skipped and said, never read: the round goes on to the export beside it', async () => {
    const { mkdtempSync, symlinkSync, writeFileSync, rmSync } = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { towerExport } = await import('../../../src/lib/bolt3/tower-justice.ts');
    const { readTowerFiles } = await import('../../../src/topics/watch/tower.ts');
    const dir = mkdtempSync(join(tmpdir(), 'tower-dir-'));
    try {
      execFileSync('mkfifo', [join(dir, 'a-fifo.json')]);
      symlinkSync('/dev/zero', join(dir, 'b-zero.json'));
      writeFileSync(join(dir, 'c-alice.json'), JSON.stringify(towerExport(b.record, 'regtest', A.revocation, PLAN).message));
      const warned: string[] = [];
      const files = await Promise.race([
        readTowerFiles(dir, 'regtest', (m) => warned.push(m)),
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 3000).unref()),
      ]);
      expect(files).not.toBe('hung');
      expect((files as Awaited<ReturnType<typeof readTowerFiles>>).channels.map((c) => c.file)).toEqual([join(dir, 'c-alice.json')]);
      expect(warned.join('\n')).toMatch(/a-fifo\.json skipped: .*not a regular file/);
      expect(warned.join('\n')).toMatch(/b-zero\.json skipped: .*not a regular file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
