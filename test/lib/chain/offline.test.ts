import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/lib/errors.ts';
import { OfflineChainSource } from '../../../src/lib/chain/offline.ts';
import { explainFinality, isFinalAtTip } from '../../../src/lib/chain/finality.ts';
import type { UtxoInfo } from '../../../src/lib/chain/types.ts';
import { refusal } from '../../setup/refusal.ts';

const TXID = 'ab'.repeat(32);
const utxo: UtxoInfo = { txid: TXID, vout: 1, value: 50_000n, scriptPubKey: new Uint8Array([0x51, 0x20]), confirmations: 6 };

async function usage(p: Promise<unknown>, code: string): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  expect((e as UsageError).code).toBe(code);
  expect((e as UsageError).exitCode).toBe(2);
  return e as UsageError;
}

describe('OfflineChainSource', () => {
  it('answers what it was told', async () => {
    const raw = new Uint8Array([2, 0, 0, 0]);
    const source = new OfflineChainSource({
      tipHeight: 900,
      tipMedianTimePast: 1_700_000_000,
      tipHash: 'cd'.repeat(32),
      utxos: [utxo],
      spent: [{ txid: 'ef'.repeat(32), vout: 0 }],
      rawTransactions: new Map([[TXID, raw]]),
    });
    expect(source.kind).toBe('offline');
    expect(await source.tip()).toEqual({ height: 900, medianTimePast: 1_700_000_000, hash: 'cd'.repeat(32) });
    expect(await source.utxo(TXID, 1)).toBe(utxo);
    expect(await source.utxo(TXID.toUpperCase(), 1)).toBe(utxo);
    expect(await source.utxo('ef'.repeat(32), 0)).toBeNull();
    expect(await source.rawTransaction(TXID)).toBe(raw);
  });

  it('refuses what it was not told, naming the flag to pass', async () => {
    const source = new OfflineChainSource();
    const tip = await usage(source.tip(), 'E_CHAIN_UNKNOWN');
    expect(tip.message).toBe('offline: the chain tip is unknown; pass --tip-height (and --tip-mtp for time locks) or --rpc-url');
    const u = await usage(source.utxo(TXID, 7), 'E_CHAIN_UNKNOWN');
    expect(u.message).toContain(`--confirmations ${TXID}:7=N`);
    expect(u.message).toContain('--rpc-url');
    await usage(source.rawTransaction(TXID), 'E_CHAIN_UNKNOWN');
  });

  it('with only a height: height locks work, reading the MTP throws E_CHAIN_UNKNOWN', async () => {
    const tip = await new OfflineChainSource({ tipHeight: 1000 }).tip();
    expect(tip.height).toBe(1000);
    expect(isFinalAtTip({ lockTime: 1000, inputs: [{ sequence: 0xfffffffd }] }, tip)).toBe(true);
    expect(explainFinality({ lockTime: 1005, inputs: [{ sequence: 0xfffffffd }] }, tip)).toContain('5 more blocks');
    const unknownTime = "offline: the tip's median-time-past is unknown; pass --tip-mtp or --rpc-url";
    expect(refusal(() => tip.medianTimePast, 'E_CHAIN_UNKNOWN', 2).message).toBe(unknownTime);
    expect(refusal(() => isFinalAtTip({ lockTime: 1_700_000_000, inputs: [{ sequence: 0 }] }, tip), 'E_CHAIN_UNKNOWN', 2).message).toBe(unknownTime);
    // Spreading or serialising the tip cannot silently drop the unknown time either.
    expect(refusal(() => ({ ...tip }), 'E_CHAIN_UNKNOWN', 2).message).toBe(unknownTime);
  });

  it('mempool and broadcast need a node', async () => {
    const source = new OfflineChainSource({ tipHeight: 1 });
    expect((await usage(source.testMempoolAccept([new Uint8Array(1)]), 'E_CHAIN_OFFLINE')).message).toMatch(/--rpc-url.*testmempoolaccept/);
    expect((await usage(source.broadcast(new Uint8Array(1)), 'E_CHAIN_OFFLINE')).message).toMatch(/sendrawtransaction/);
    await usage(source.submitPackage([new Uint8Array(1)]), 'E_CHAIN_OFFLINE');
  });

  it('uses the CLI\'s own flag names when given', async () => {
    const source = new OfflineChainSource({ flags: { tipHeight: '--height', rpcUrl: '--node' } });
    expect((await usage(source.tip(), 'E_CHAIN_UNKNOWN')).message).toMatch(/pass --height .* or --node$/);
  });

  it('validates the facts it is given', () => {
    refusal(() => new OfflineChainSource({ tipHeight: -1 }), 'E_BAD_TIP', 2);
    refusal(() => new OfflineChainSource({ tipHeight: 1.5 }), 'E_BAD_TIP', 2);
    refusal(() => new OfflineChainSource({ tipHeight: 500_000_000 }), 'E_BAD_TIP', 2);
    refusal(() => new OfflineChainSource({ tipMedianTimePast: -5 }), 'E_BAD_TIP', 2);
    refusal(() => new OfflineChainSource({ utxos: [{ ...utxo, confirmations: -1 }] }), 'E_BAD_CONFIRMATIONS', 2);
  });
});
