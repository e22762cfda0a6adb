/**
 * The regtest harness itself, exercised with a stand-in `bitcoind` (fixtures/
 * fake-bitcoind.mjs) so its discovery, start-up wait, cookie auth, stop and cleanup are
 * tested on machines without Bitcoin Core.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcChainSource } from '../../src/lib/chain/rpc.ts';
import { TEST_DIR, tempDir } from '../helpers.ts';
import { findBitcoind, startBitcoind } from './bitcoind.ts';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

/** An executable named `bitcoind` in a temp dir that runs the fake with this Node. */
function fakeBitcoindOnPath(): { dir: string; binary: string } {
  const dir = tempDir('offchain-fakebin-');
  cleanups.push(dir.cleanup);
  const binary = join(dir.path, 'bitcoind');
  const script = join(TEST_DIR, 'regtest', 'fixtures', 'fake-bitcoind.mjs');
  writeFileSync(binary, `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
  chmodSync(binary, 0o755);
  return { dir: dir.path, binary };
}

describe('regtest harness', () => {
  it('findBitcoind: BITCOIND path, BITCOIND name on PATH, bitcoind on PATH, or nothing', () => {
    const { dir, binary } = fakeBitcoindOnPath();
    expect(findBitcoind({ PATH: `/nonexistent:${dir}` })).toBe(binary);
    expect(findBitcoind({ PATH: dir, BITCOIND: 'bitcoind' })).toBe(binary);
    expect(findBitcoind({ PATH: '', BITCOIND: '/opt/core/bin/bitcoind' })).toBe('/opt/core/bin/bitcoind');
    expect(findBitcoind({ PATH: '/nonexistent' })).toBeUndefined();
    expect(findBitcoind({ PATH: '/nonexistent', BITCOIND: '  ' })).toBeUndefined();
  });

  it('starts, waits for RPC via the cookie, serves our RpcChainSource, stops and cleans up', async () => {
    const { binary } = fakeBitcoindOnPath();
    const node = await startBitcoind(binary, [], 20_000);
    try {
      expect(existsSync(node.cookieFile)).toBe(true);
      expect(node.rpcPort).not.toBe(node.p2pPort);
      const tip = await new RpcChainSource(node.config).tip();
      expect(tip.height).toBe(0);
    } finally {
      await node.stop();
    }
    expect(existsSync(node.datadir)).toBe(false);
  });

  it('a bitcoind that exits at start-up fails with its own error text', async () => {
    const { binary } = fakeBitcoindOnPath();
    process.env['FAKE_BITCOIND_FAIL'] = '1';
    try {
      await expect(startBitcoind(binary, [], 20_000)).rejects.toThrow(/did not start: exit code 1[\s\S]*Invalid combination/);
    } finally {
      delete process.env['FAKE_BITCOIND_FAIL'];
    }
  });

  it('a port taken between choosing it and binding it (another run\'s node) is retried on new ports, up to three starts', async () => {
    const { binary, dir } = fakeBitcoindOnPath();
    const count = join(dir, 'starts');
    process.env['FAKE_BITCOIND_PORT_TAKEN'] = `${count} 2`;
    try {
      const node = await startBitcoind(binary, [], 20_000);
      await node.stop();
      expect(readFileSync(count, 'utf8')).toBe('3');
      // Taken three times: the third failure is the error, with bitcoind's words.
      writeFileSync(count, '0');
      process.env['FAKE_BITCOIND_PORT_TAKEN'] = `${count} 3`;
      await expect(startBitcoind(binary, [], 20_000)).rejects.toThrow(/did not start: exit code 1[\s\S]*Unable to bind/);
      expect(readFileSync(count, 'utf8')).toBe('3');
    } finally {
      delete process.env['FAKE_BITCOIND_PORT_TAKEN'];
    }
  });
});
