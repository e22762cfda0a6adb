/**
 * The preimages a channel party's watcher learns while it runs (src/lib/watch/preimages.ts,
 * src/topics/watch/preimages.ts), named after the module's invariants: a preimage is used only if
 * its SHA256 matches; a bad file never stops the others; nothing secret is logged.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../../src/lib/bytes.ts';
import { OffchainError } from '../../../src/lib/errors.ts';
import { MAX_PREIMAGE_FILE, learntPreimageOf, preimageOfText, revealedPreimage } from '../../../src/lib/watch/preimages.ts';
import { PreimageSource, readPreimageDir } from '../../../src/topics/watch/preimages.ts';
import { readTowerFiles } from '../../../src/topics/watch/tower.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import { tempDir } from '../../helpers.ts';

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const enc = (s: string) => new TextEncoder().encode(s);

describe('a preimage is used only if its SHA256 matches', () => {
  it('a witness item is revealed for a payment_hash only when it hashes to it: the true preimage anywhere among junk is found, junk alone never', () => {
    fc.assert(fc.property(bytes32, fc.array(fc.oneof(bytes32, fc.uint8Array({ maxLength: 80 })), { maxLength: 6 }), fc.nat(), (preimage, junk, at) => {
      const hash = sha256(preimage);
      const others = junk.filter((j) => toHex(j) !== toHex(preimage));
      expect(revealedPreimage(others, hash)).toBeUndefined();
      const witness = [...others];
      witness.splice(at % (others.length + 1), 0, preimage);
      expect(toHex(revealedPreimage(witness, hash)!)).toBe(toHex(preimage));
    }));
  });

  it('a stored learnt record is one only if its preimage opens the payment hash it is kept under', () => {
    fc.assert(fc.property(bytes32, bytes32, (p, q) => {
      const rec = { preimage: toHex(p), txid: 'ab'.repeat(32), channel: `${'cd'.repeat(32)}:0`, outpoint: `${'ef'.repeat(32)}:2`, tip: 100 };
      expect(learntPreimageOf(toHex(sha256(p)), rec)).toEqual(rec);
      if (toHex(p) !== toHex(q)) expect(learntPreimageOf(toHex(sha256(q)), rec)).toBeUndefined();
    }));
    expect(learntPreimageOf(toHex(sha256(new Uint8Array(32))), null)).toBeUndefined();
  });

  it('a preimage file holds exactly 64 hex digits (whitespace around them ignored); any other text is E_BAD_PREIMAGE, its message holding none of the text', () => {
    fc.assert(fc.property(bytes32, fc.constantFrom('', '\n', ' \r\n'), (p, ws) => {
      expect(toHex(preimageOfText(enc(`${ws}${toHex(p).toUpperCase()}${ws}`)))).toBe(toHex(p));
    }));
    const wrongLength = fc.uint8Array({ minLength: 4, maxLength: 80 }).filter((b) => b.length !== 32).map(toHex);
    fc.assert(fc.property(fc.oneof(wrongLength, fc.string({ minLength: 8, maxLength: 200 })), (text) => {
      fc.pre(!/^\s*[0-9a-fA-F]{64}\s*$/.test(text));
      try {
        preimageOfText(enc(text));
        expect.unreachable('accepted');
      } catch (e) {
        expect((e as OffchainError).code).toBe('E_BAD_PREIMAGE');
        expect((e as Error).message).not.toContain(text.trim());
      }
    }));
  });
});

describe('--preimage-dir: a bad file never stops the others; nothing secret is logged', () => {
  const good = [sha256(Uint8Array.of(1)), sha256(Uint8Array.of(2))];
  const secretTexts = [...good.map(toHex), 'zz'.repeat(32), toHex(sha256(Uint8Array.of(3)))];

  function dropDir() {
    const t = tempDir('offchain-preimage-dir-');
    const dir = t.path;
    writeFileSync(join(dir, 'a-good'), `${secretTexts[0]}\n`, { mode: 0o600 });
    execFileSync('mkfifo', [join(dir, 'b-fifo')]);
    symlinkSync('/dev/zero', join(dir, 'c-zero'));
    writeFileSync(join(dir, 'd-big'), 'a'.repeat(MAX_PREIMAGE_FILE + 1), { mode: 0o600 });
    writeFileSync(join(dir, 'e-bad-hex'), secretTexts[2]!, { mode: 0o600 });
    writeFileSync(join(dir, 'f-readable-by-others'), secretTexts[3]!, { mode: 0o600 });
    chmodSync(join(dir, 'f-readable-by-others'), 0o644);
    mkdirSync(join(dir, 'g-subdir'));
    writeFileSync(join(dir, 'h-good'), secretTexts[1]!, { mode: 0o600 });
    return t;
  }

  it('the two good files are read past a FIFO, a link to /dev/zero, a file too big, bad hex, a file others may read and a directory — each said once, by name, never by content — and the read never hangs', async () => {
    const t = dropDir();
    try {
      const warned: string[] = [];
      const got = await Promise.race([readPreimageDir(t.path, (m) => warned.push(m)), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 3000).unref())]);
      expect(got).not.toBe('hung');
      expect((got as Uint8Array[]).map(toHex)).toEqual(good.map(toHex));
      expect(warned).toHaveLength(6);
      for (const [i, name] of ['b-fifo', 'c-zero', 'd-big', 'e-bad-hex', 'f-readable-by-others', 'g-subdir'].entries()) expect(warned[i]).toContain(join(t.path, name));
      expect(warned[2]).toMatch(/E_BAD_PREIMAGE: \d+ bytes, more than is read here/);
      expect(warned[4]).toMatch(/E_SECRET_FILE_PERMISSIONS/);
      for (const s of secretTexts) expect(warned.join('\n')).not.toContain(s);
    } finally {
      t.cleanup();
    }
  });

  it('a directory gone while the watcher runs is said, and the round goes on with no preimage from it', async () => {
    const warned: string[] = [];
    expect(await readPreimageDir('/nonexistent/preimages', (m) => warned.push(m))).toEqual([]);
    expect(warned).toEqual([expect.stringMatching(/--preimage-dir \/nonexistent\/preimages: not a directory the watcher can read \(ENOENT\)/)]);
  });

  it('a directory flooded with files (anyone who may write into it) never stalls a round nor fills memory: at most `max` files read a round, the flood said once', async () => {
    const t = tempDir('offchain-preimage-flood-');
    try {
      for (let i = 0; i < 8; i++) writeFileSync(join(t.path, `junk-${i}`), 'zz', { mode: 0o600 });
      const warned: string[] = [];
      await readPreimageDir(t.path, (m) => warned.push(m), 5);
      expect(warned.filter((m) => m.includes('skipped'))).toHaveLength(5);
      expect(warned.filter((m) => m.includes('holds more than 5 files'))).toHaveLength(1);
    } finally {
      t.cleanup();
    }
  });

  it('a file\'s name is said on one line whatever it holds (a newline or a terminal escape in a name forges no log line): the preimage dir\'s and the tower\'s', async () => {
    const t = tempDir('offchain-preimage-names-');
    try {
      const forged = 'x\noffchain: warning: channel 00:0: the preimage of payment_hash 11 learnt\u001b[2K\r.json';
      writeFileSync(join(t.path, forged), 'not hex', { mode: 0o600 });
      const warned: string[] = [];
      await readPreimageDir(t.path, (m) => warned.push(m));
      await readTowerFiles(t.path, 'regtest', (m) => warned.push(m));
      expect(warned).toHaveLength(2);
      for (const line of warned) expect(line).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(warned[0]).toContain('x\\u000aoffchain: warning');
    } finally {
      t.cleanup();
    }
  });

  it('a bad file is said once while it stays (names that come and go are not remembered forever): removed and put back, it is said again', async () => {
    const t = tempDir('offchain-preimage-forget-');
    try {
      const round = { records: { preimagesLearnt: async () => new Map() } } as unknown as Round;
      const said: string[] = [];
      const source = new PreimageSource([], { dir: t.path, say: (m) => said.push(m) });
      writeFileSync(join(t.path, 'bad'), 'not hex', { mode: 0o600 });
      await source.refresh(round);
      await source.refresh(round);
      expect(said).toHaveLength(1);
      rmSync(join(t.path, 'bad'));
      await source.refresh(round);
      writeFileSync(join(t.path, 'bad'), 'not hex', { mode: 0o600 });
      await source.refresh(round);
      expect(said).toHaveLength(2);
    } finally {
      t.cleanup();
    }
  });

  it('a learnt record whose preimage does not open its payment hash (a hand-written or damaged row) is never used, and said once — not a silent gap', async () => {
    const t = tempDir('offchain-preimage-forged-');
    try {
      const { openState } = await import('../../../src/lib/store/sqlite/open.ts');
      const { Records } = await import('../../../src/lib/store/sqlite/records.ts');
      const { WatchRecords } = await import('../../../src/topics/watch/state.ts');
      const db = openState(t.path, { create: true })!;
      const hash = toHex(sha256(Uint8Array.of(5)));
      const forged = 'ab'.repeat(32); // not its preimage
      const rows = new Records<unknown>(db, 'watch');
      await db.step(() => rows.put(`preimage-${hash}`, { preimage: forged, txid: 'cd'.repeat(32), channel: 'c', outpoint: 'o', tip: 1 }));
      const round = { offline: false, records: new WatchRecords(async () => db) } as unknown as Round;
      const said: string[] = [];
      const source = new PreimageSource([], { say: (m) => said.push(m) });
      await source.refresh(round);
      await source.refresh(round);
      expect(source.copies()).toEqual([]);
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(`preimage-${hash}`);
      expect(said[0]).not.toContain(forged);
      db.close();
    } finally {
      t.cleanup();
    }
  });

  it('read again at every round: a file dropped between rounds is held from the next round on, the learnt ones from the store beside it; each bad file said once across rounds; the last round\'s copies zeroed', async () => {
    const t = tempDir('offchain-preimage-source-');
    try {
      const learnt = sha256(Uint8Array.of(9));
      const round = { records: { preimagesLearnt: async () => new Map([[toHex(sha256(learnt)), { preimage: toHex(learnt), txid: 'ab'.repeat(32), channel: 'c', outpoint: 'o', tip: 1 }]]) } } as unknown as Round;
      const said: string[] = [];
      const given = sha256(Uint8Array.of(7));
      const source = new PreimageSource([given], { dir: t.path, say: (m) => said.push(m) });
      writeFileSync(join(t.path, 'bad'), 'not hex', { mode: 0o600 });
      await source.refresh(round);
      expect(source.copies().map(toHex)).toEqual([toHex(given), toHex(learnt)]);
      writeFileSync(join(t.path, 'new'), toHex(good[0]!), { mode: 0o600 });
      const held = source.copies();
      await source.refresh(round);
      expect(source.copies().map(toHex)).toEqual([toHex(given), toHex(good[0]!), toHex(learnt)]);
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(join(t.path, 'bad'));
      // A copy handed out is the caller's: the source's own refresh never touches it.
      expect(toHex(held[1]!)).toBe(toHex(learnt));
    } finally {
      t.cleanup();
    }
  });
});

describe('learnt on chain: the peer\'s claim of an HTLC the party offered (fake node, real channel record)', async () => {
  const { Transaction } = await import('@scure/btc-signer');
  const { fromHex } = await import('../../../src/lib/bytes.ts');
  const { closingCommitment } = await import('../../../src/lib/bolt3/party.ts');
  const { aliceState, upTo, updateTo } = await import('../bolt3/two-parties.ts');
  // Alice's state 2 offers one HTLC whose preimage is 32 bytes (BOLT 3's offered script checks OP_SIZE 32).
  const preimage = sha256(Uint8Array.of(42));
  const hash = toHex(sha256(preimage));
  const state = aliceState(2, 1);
  state.htlcs[0]!.payment_hash = hash;
  const rec = updateTo(upTo(1), state).a;
  const own = rec.local!.txid;
  const vout = [...closingCommitment(rec, own)!.c.outputs.entries()].find(([, o]) => o.kind === 'offered_htlc')![0];
  const id = `${rec.channel.funding_txid}:${rec.channel.funding_vout}`;
  const SPEND = 'ee'.repeat(32);

  /** One round at tip 600 where the peer's spend of Alice's offered HTLC output on her own commitment carries `witness`. */
  async function learnt(witness: Uint8Array[]) {
    const spend = new Transaction({ allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    spend.addOutput({ script: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3)), amount: 4000n });
    spend.addInput({ txid: fromHex(own), index: vout, finalScriptWitness: witness });
    const events: string[] = [];
    const stored = new Map<string, unknown>();
    const round = {
      tip: 600, block: 'ab'.repeat(32), dryRun: false, offline: false, connected: [],
      chain: {
        mempoolSpender: async (txid: string, v: number) => (txid === own && v === vout ? SPEND : undefined),
        rawTransaction: async (txid: string) => (txid === SPEND ? spend.toBytes(true, true) : fromHex('00')),
        txConfirmations: async () => 0,
        utxo: async () => null,
      },
      records: {
        channel: async () => ({ spender: own, sent: {} }),
        preimagesLearnt: async () => new Map(),
        setPreimageLearnt: async (h: string, p: unknown) => { events.push(`stored ${h}`); stored.set(h, p); },
      },
    } as unknown as Round;
    const source = new PreimageSource([], { say: (m) => events.push(`said ${m}`) });
    await source.learn(round, [{ id, record: rec }]);
    return { events, stored };
  }

  it('its preimage, among the signature and the script, is stored (it opens the payment_hash) before it is said, by payment_hash, never itself', async () => {
    const { events, stored } = await learnt([new Uint8Array(72).fill(1), preimage, new Uint8Array(133).fill(2)]);
    expect(events[0]).toBe(`stored ${hash}`);
    expect(events[1]).toMatch(new RegExp(`^said channel ${id}: the preimage of payment_hash ${hash} learnt from ${SPEND}`));
    expect(stored.get(hash)).toEqual({ preimage: toHex(preimage), txid: SPEND, channel: id, outpoint: `${own}:${vout}`, tip: 600 });
    expect(events.join('\n')).not.toContain(toHex(preimage));
  });

  it('a claim mined in a block whose round could not read it (the node failed a call) is read at the next round, the view moved on: the preimage never lost to one failed call', async () => {
    const spend = new Transaction({ allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    spend.addOutput({ script: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3)), amount: 4000n });
    spend.addInput({ txid: fromHex(own), index: vout, finalScriptWitness: [new Uint8Array(72).fill(1), preimage, new Uint8Array(133).fill(2)] });
    const BLOCK = 'bb'.repeat(32);
    const stored = new Map<string, unknown>();
    const said: string[] = [];
    let failing = true;
    const round = (tip: number, connected: string[]) => ({
      tip, block: 'ab'.repeat(32), dryRun: false, offline: false, connected,
      chain: {
        mempoolSpender: async () => undefined,
        utxo: async () => null,
        blockSpender: async (hash: string, txid: string, v: number) => (hash === BLOCK && txid === own && v === vout ? SPEND : undefined),
        rawTransaction: async (txid: string) => {
          if (failing) throw new OffchainError('E_RPC', 'the node is busy');
          return txid === SPEND ? spend.toBytes(true, true) : fromHex('00');
        },
        txConfirmations: async () => 1,
      },
      records: {
        channel: async () => ({ spender: own, sent: {} }),
        preimagesLearnt: async () => new Map(stored as Map<string, never>),
        setPreimageLearnt: async (h: string, p: unknown) => { stored.set(h, p); },
      },
    } as unknown as Round);
    const source = new PreimageSource([], { say: (m) => said.push(m) });
    await source.learn(round(600, [BLOCK]), [{ id, record: rec }]);
    expect(stored.size).toBe(0);
    expect(said[0]).toMatch(/read again at the next/);
    failing = false;
    await source.learn(round(601, ['cc'.repeat(32)]), [{ id, record: rec }]);
    expect([...stored.keys()]).toEqual([hash]);
  });

  it('a read that keeps failing (a block the node cannot give: pruned) is retried a few rounds, then given up and said: its blocks never pile up, the rounds after read their own', async () => {
    const said: string[] = [];
    const pruned = '0'.repeat(64);
    const round = (i: number) => ({
      tip: 600 + i, block: 'ab'.repeat(32), dryRun: false, offline: false, connected: [i.toString(16).padStart(64, '0')],
      chain: {
        mempoolSpender: async () => undefined,
        utxo: async () => null,
        blockSpender: async (hash: string) => { if (hash === pruned) throw new OffchainError('E_RPC', 'Block not available (pruned data)'); return undefined; },
        txConfirmations: async () => 1,
      },
      records: { channel: async () => ({ spender: own, sent: {} }), preimagesLearnt: async () => new Map(), setPreimageLearnt: async () => {} },
    } as unknown as Round);
    const source = new PreimageSource([], { say: (m) => said.push(m) });
    for (let i = 0; i < 20; i++) await source.learn(round(i), [{ id, record: rec }]);
    expect(said.filter((m) => /given up/.test(m))).toHaveLength(1);
    said.length = 0;
    await source.learn(round(20), [{ id, record: rec }]);
    expect(said).toEqual([]);
  });

  it('a channel done before the round (its outputs taken, 6 deep) is not read again — a restart after a day away read every new block for each of its HTLC outputs — but one done by this round\'s turn still is', async () => {
    const spend = new Transaction({ allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    spend.addOutput({ script: Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3)), amount: 4000n });
    spend.addInput({ txid: fromHex(own), index: vout, finalScriptWitness: [new Uint8Array(72).fill(1), preimage] });
    const blocks = Array.from({ length: 144 }, (_, i) => i.toString(16).padStart(64, '0'));
    let getblocks = 0;
    let claimIn: string | undefined; // the block holding the peer's claim, if one of those new to the view
    const stored = new Map<string, unknown>();
    let done: { spender: string; height: number } | undefined;
    const round = {
      tip: 744, block: blocks.at(-1), dryRun: false, offline: false, connected: blocks,
      chain: {
        mempoolSpender: async () => undefined,
        utxo: async () => null,
        blockSpender: async (hash: string) => { getblocks++; return hash === claimIn ? SPEND : undefined; },
        rawTransaction: async () => spend.toBytes(true, true),
        txConfirmations: async () => 144,
      },
      records: {
        channel: async () => ({ spender: own, sent: {}, ...(done ? { done } : {}) }),
        preimagesLearnt: async () => new Map(),
        setPreimageLearnt: async (h: string, p: unknown) => { stored.set(h, p); },
      },
    } as unknown as Round;
    const channels = [{ id, record: rec }];
    done = { spender: own, height: 590 };
    const settled = new PreimageSource([], { say: () => {} });
    await settled.refresh(round, channels);
    await settled.learn(round, channels);
    expect([getblocks, stored.size]).toEqual([0, 0]);
    done = undefined;
    claimIn = blocks[0];
    const fresh = new PreimageSource([], { say: () => {} });
    await fresh.refresh(round, channels);
    done = { spender: own, height: 590 }; // this round's turn found it all 6 deep: the claim may be in a block new to this round
    await fresh.learn(round, channels);
    expect([...stored.keys()]).toEqual([hash]);
  });

  it('a 32-byte item that does not open the payment_hash (the party\'s own timeout, a forged witness) is nothing learnt', async () => {
    await fc.assert(fc.asyncProperty(bytes32, async (junk) => {
      fc.pre(toHex(junk) !== toHex(preimage));
      const { events, stored } = await learnt([new Uint8Array(72), junk, new Uint8Array(0)]);
      expect([events, stored.size]).toEqual([[], 0]);
    }), { numRuns: 20 });
  });
});
