import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawTx, Transaction } from '@scure/btc-signer';
import { OffchainError, RefusedError, UsageError } from '../../../src/lib/errors.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { RpcChainSource } from '../../../src/lib/chain/rpc.ts';
import { RpcError } from '../../../src/lib/chain/rpc-client.ts';
import { resolveRpcConfig } from '../../../src/lib/chain/rpc-config.ts';
import type { RpcConfig } from '../../../src/lib/chain/rpc-config.ts';
import type { Network } from '../../../src/lib/network.ts';
import { tempDir } from '../../helpers.ts';
import { refusalAsync } from '../../setup/refusal.ts';
import { CLOSED_PORT, startFakeCore } from './fake-core.ts';
import type { FakeCore, FakeCoreOptions, Handler } from './fake-core.ts';

const USER = 'alice';
const PASSWORD = 'pw-9f8e7d6c5b4a-SECRET';
const TXID = 'ab'.repeat(32);
const BLOCK = '00'.repeat(4) + 'cd'.repeat(28);

const chainInfo = (chain = 'regtest'): Handler => () => ({
  chain,
  blocks: 812_345,
  headers: 812_345,
  bestblockhash: BLOCK,
  mediantime: 1_700_000_123,
  initialblockdownload: false,
});

let servers: FakeCore[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  cleanups.splice(0).forEach((f) => f());
});

async function fake(handlers: Record<string, Handler>, opts: Partial<FakeCoreOptions> = {}): Promise<FakeCore> {
  const core = await startFakeCore({ user: USER, password: PASSWORD, handlers: { getblockchaininfo: chainInfo(), ...handlers }, ...opts });
  servers.push(core);
  return core;
}

function config(core: { url: string }, over: Partial<RpcConfig> = {}, network: Network = 'regtest'): RpcConfig {
  return { url: core.url, network, auth: { user: USER, password: PASSWORD }, timeoutMs: 5_000, ...over };
}

async function failure(p: Promise<unknown>): Promise<OffchainError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(OffchainError);
    const err = e as OffchainError;
    // Whatever went wrong, the password never leaks.
    expect(err.message).not.toContain(PASSWORD);
    expect(JSON.stringify(err.detail ?? {})).not.toContain(PASSWORD);
    expect(String(err.stack)).not.toContain(PASSWORD);
    return err;
  }
  throw new Error('expected a failure');
}

/** A segwit transaction (one input with a witness) and its txid from btc-signer. */
function segwitTx(): { raw: Uint8Array; txid: string } {
  const raw = RawTx.encode({
    version: 2,
    segwitFlag: true,
    inputs: [{ txid: fromHex('11'.repeat(32)), index: 1, finalScriptSig: new Uint8Array(), sequence: 0xfffffffd }],
    outputs: [{ amount: 90_000n, script: fromHex('5120' + '22'.repeat(32)) }],
    witnesses: [[fromHex('33'.repeat(64))]],
    lockTime: 812_000,
  });
  return { raw, txid: Transaction.fromRaw(raw, { allowUnknownOutputs: true }).id };
}

describe('RpcChainSource — request shape and authentication', () => {
  it('POSTs JSON-RPC 2.0 with Basic auth from user/password', async () => {
    const core = await fake({});
    const tip = await new RpcChainSource(config(core)).tip();
    expect(tip).toEqual({ height: 812_345, medianTimePast: 1_700_000_123, hash: BLOCK });
    const [req] = core.requests;
    expect(req!.method).toBe('POST');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers.authorization).toBe(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    expect(req!.body).toEqual({ jsonrpc: '2.0', id: 1, method: 'getblockchaininfo', params: [] });
  });

  it('reads Basic auth from the cookie file, on every call', async () => {
    const core = await fake({});
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const cookie = join(dir.path, '.cookie');
    writeFileSync(cookie, `${USER}:${PASSWORD}\n`);
    const rpc = resolveRpcConfig({ url: core.url, cookieFile: cookie, env: {}, network: 'regtest', home: dir.path });
    const source = new RpcChainSource(rpc);
    await source.tip();
    expect(core.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
    // bitcoind restarted with a new cookie: the next call must use it (and fail here).
    writeFileSync(cookie, `__cookie__:0123abcd\n`);
    expect((await failure(source.tip())).code).toBe('E_RPC_AUTH');
  });

  it('a missing or malformed cookie file is E_RPC_COOKIE with a hint', async () => {
    const core = await fake({});
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const missing = await failure(new RpcChainSource(config(core, { auth: { cookieFile: join(dir.path, 'nope') } })).tip());
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing.code).toBe('E_RPC_COOKIE');
    expect(missing.message).toMatch(/ENOENT.*is bitcoind running for regtest/);
    // issue 41: the ways to name the cookie, the environment variable and the configuration key among them
    expect(missing.message).toMatch(/--rpc-cookie FILE \(or \$OFFCHAIN_RPC_COOKIE, or rpc_cookie= in the configuration file\)/);
    const bad = join(dir.path, 'bad');
    writeFileSync(bad, 'no-colon-here');
    expect((await failure(new RpcChainSource(config(core, { auth: { cookieFile: bad } })).tip())).code).toBe('E_RPC_COOKIE');
    expect(core.requests).toHaveLength(0);
  });

  it('HTTP 401 is E_RPC_AUTH and never shows the password', async () => {
    const core = await startFakeCore({ user: USER, password: 'the-real-one', handlers: {} });
    servers.push(core);
    const e = await failure(new RpcChainSource(config(core)).tip());
    expect(e.code).toBe('E_RPC_AUTH');
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/HTTP 401/);
  });
});

describe('RpcChainSource — answers', () => {
  it('refuses a node on another chain, before any other call', async () => {
    const core = await fake({ getblockchaininfo: chainInfo('main'), sendrawtransaction: () => TXID });
    const source = new RpcChainSource(config(core));
    const e = await failure(source.broadcast(new Uint8Array([1, 2, 3])));
    expect(e).toBeInstanceOf(RefusedError);
    expect(e.code).toBe('E_NETWORK_MISMATCH');
    expect(core.requests.map((r) => r.body.method)).toEqual(['getblockchaininfo']);
    expect((await failure(source.tip())).code).toBe('E_NETWORK_MISMATCH');
  });

  it('checks the chain once per source', async () => {
    const core = await fake({ sendrawtransaction: () => TXID, gettxout: () => null });
    const source = new RpcChainSource(config(core, {}, 'regtest'));
    await source.utxo(TXID, 0);
    await source.utxo(TXID, 1);
    await source.broadcast(new Uint8Array([1]));
    expect(core.requests.map((r) => r.body.method)).toEqual(['getblockchaininfo', 'gettxout', 'gettxout', 'sendrawtransaction']);
  });

  it.each([
    ['0.1', 10_000_000n],
    ['20999999.97690000', 2_099_999_997_690_000n],
    ['0.00000001', 1n],
    ['1.00000000', 100_000_000n],
  ])('gettxout value %s BTC → %i sat', async (valueText, sats) => {
    const spk = '5120' + '44'.repeat(32);
    const core = await fake({
      gettxout: () => ({
        raw: `{"bestblock":"${BLOCK}","confirmations":0,"value":${valueText},"scriptPubKey":{"asm":"","desc":"","hex":"${spk}","type":"witness_v1_taproot"},"coinbase":false}`,
      }),
    });
    const utxo = await new RpcChainSource(config(core)).utxo(TXID, 3);
    expect(utxo).toEqual({ txid: TXID, vout: 3, value: sats, scriptPubKey: fromHex(spk), confirmations: 0 });
    expect(core.requests[1]!.body.params).toEqual([TXID, 3, true]);
  });

  it('gettxout null (spent or unknown) is null; bad txids never reach the node', async () => {
    const core = await fake({ gettxout: () => null });
    const source = new RpcChainSource(config(core));
    expect(await source.utxo(TXID, 0)).toBeNull();
    await refusalAsync(source.utxo('XYZ', 0), 'E_BAD_TXID', 3);
    await refusalAsync(source.utxo(TXID, -1), 'E_BAD_VOUT', 3);
    expect(core.requests).toHaveLength(2);
  });

  it('getrawtransaction returns the bytes, checked against the txid', async () => {
    const { raw, txid } = segwitTx();
    const core = await fake({ getrawtransaction: () => toHex(raw) });
    const source = new RpcChainSource(config(core));
    expect(await source.rawTransaction(txid)).toEqual(raw);
    expect(core.requests[1]!.body.params).toEqual([txid, false]);
    // A node (or proxy) answering with some other transaction is caught.
    expect((await failure(source.rawTransaction(TXID))).code).toBe('E_RPC_PROTOCOL');
  });

  it('getrawtransaction "not found" keeps Core\'s code and hints at -txindex', async () => {
    const core = await fake({
      getrawtransaction: () => ({ error: { code: -5, message: 'No such mempool transaction. Use -txindex or provide a block hash.' } }),
    });
    const e = await failure(new RpcChainSource(config(core)).rawTransaction(TXID));
    expect(e).toBeInstanceOf(RpcError);
    expect(e.code).toBe('E_RPC_ERROR');
    expect((e as RpcError).rpcCode).toBe(-5);
    expect(e.message).toMatch(/No such mempool transaction.*RPC error -5.*-txindex/);
  });

  it('getmempoolentry: the base fee in sat and Core\'s (sigop-adjusted) vsize; not in the mempool is null; an answer without them (an older or odd node) is E_RPC_PROTOCOL, never taken as zero', async () => {
    const core = await fake({
      getmempoolentry: (params) => (params[0] === TXID ? { raw: '{"vsize":1000,"weight":468,"fees":{"base":0.00001000,"modified":0.00001000}}' }
        : params[0] === 'cd'.repeat(32) ? { size: 117, fee: 0.00001 } // Core 0.18's fields: no "vsize", no "fees"
          : params[0] === 'ce'.repeat(32) ? { fees: { base: 0.00001 } }
            : { error: { code: -5, message: 'Transaction not in mempool' } }),
    });
    const source = new RpcChainSource(config(core));
    expect(await source.mempoolEntry(TXID)).toEqual({ fee: 1_000n, vsize: 1_000 });
    expect(await source.mempoolFee(TXID)).toBe(1_000n);
    expect(await source.mempoolEntry('ef'.repeat(32))).toBeNull();
    expect((await failure(source.mempoolEntry('cd'.repeat(32)))).code).toBe('E_RPC_PROTOCOL');
    expect((await failure(source.mempoolEntry('ce'.repeat(32)))).code).toBe('E_RPC_PROTOCOL');
  });

  it('getmempoolentry for a replacement: descendant fee and size, and the chunk (Core 30); a node before cluster mempool gives no chunk: the descendants at the highest feerate their size allows', async () => {
    const core = await fake({
      getmempoolentry: (params) => (params[0] === TXID ? { raw: '{"vsize":96,"weight":381,"descendantsize":96,"chunkweight":381,"fees":{"base":0.000044,"descendant":0.000044,"chunk":0.000044}}' }
        : params[0] === 'cd'.repeat(32) ? { raw: '{"vsize":96,"weight":381,"descendantsize":250,"fees":{"base":0.000044,"descendant":0.00010}}' }
          : params[0] === 'ce'.repeat(32) ? { raw: '{"vsize":96,"fees":{"base":0.000044}}' }
            : { error: { code: -5, message: 'Transaction not in mempool' } }),
    });
    const source = new RpcChainSource(config(core));
    expect(await source.mempoolEviction(TXID)).toEqual({ descendantFee: 4_400n, descendantVsize: 96, chunkFee: 4_400n, chunkWeight: 381 });
    expect(await source.mempoolEviction('cd'.repeat(32))).toEqual({ descendantFee: 10_000n, descendantVsize: 250, chunkFee: 10_000n, chunkWeight: 997 });
    expect((await failure(source.mempoolEviction('ce'.repeat(32)))).code).toBe('E_RPC_PROTOCOL');
    expect(await source.mempoolEviction('ef'.repeat(32))).toBeNull();
  });

  it('gettxspendingprevout: the mempool spender, or undefined', async () => {
    const core = await fake({ gettxspendingprevout: (params) => ((params[0] as { vout: number }[])[0]!.vout === 1 ? [{ txid: TXID, vout: 1, spendingtxid: 'cd'.repeat(32) }] : [{ txid: TXID, vout: 0 }]) });
    const source = new RpcChainSource(config(core));
    expect(await source.mempoolSpender(TXID, 1)).toBe('cd'.repeat(32));
    expect(await source.mempoolSpender(TXID, 0)).toBeUndefined();
  });

  it('getmempoolinfo: minrelaytxfee, mempoolminfee and incrementalrelayfee in sat/kvB; one missing (an older or odd node) is E_RPC_PROTOCOL, never a default', async () => {
    const full = { raw: '{"loaded":true,"mempoolminfee":0.00000777,"minrelaytxfee":0.00000777,"incrementalrelayfee":0.00000333}' };
    expect(await new RpcChainSource(config(await fake({ getmempoolinfo: () => full }))).mempoolPolicy()).toEqual({ minRelayFeeRate: 777, mempoolMinFeeRate: 777, incrementalRelayFeeRate: 333 });
    const noIncremental = await fake({ getmempoolinfo: () => ({ raw: '{"loaded":true,"mempoolminfee":0.00001000,"minrelaytxfee":0.00001000}' }) });
    expect((await failure(new RpcChainSource(config(noIncremental)).mempoolPolicy())).code).toBe('E_RPC_PROTOCOL');
  });

  it('testmempoolaccept maps allowed, reasons, vsize and fees', async () => {
    const core = await fake({
      testmempoolaccept: () => ({
        raw: `[{"txid":"${TXID}","wtxid":"${'ee'.repeat(32)}","allowed":true,"vsize":111,"fees":{"base":0.00001110,"effective-feerate":0.00010000,"effective-includes":[]}},
               {"txid":"${'cd'.repeat(32)}","wtxid":"${'ef'.repeat(32)}","allowed":false,"reject-reason":"non-final","reject-details":"non-final"},
               {"txid":"${'ce'.repeat(32)}","wtxid":"${'ea'.repeat(32)}","package-error":"package-not-validated"}]`,
      }),
    });
    const results = await new RpcChainSource(config(core)).testMempoolAccept([new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])]);
    expect(core.requests[1]!.body.params).toEqual([['01', '02', '03']]);
    expect(results).toEqual([
      { txid: TXID, wtxid: 'ee'.repeat(32), allowed: true, vsize: 111, fees: 1110n },
      { txid: 'cd'.repeat(32), wtxid: 'ef'.repeat(32), allowed: false, rejectReason: 'non-final', rejectDetails: 'non-final' },
      // Not validated because another tx failed: reported as not allowed.
      { txid: 'ce'.repeat(32), wtxid: 'ea'.repeat(32), allowed: false, packageError: 'package-not-validated' },
    ]);
  });

  it('sendrawtransaction returns the txid; a rejection is E_RPC_ERROR with Core\'s code', async () => {
    let reject = false;
    const core = await fake({
      sendrawtransaction: () => (reject ? { error: { code: -26, message: 'non-final' } } : TXID),
    });
    const source = new RpcChainSource(config(core));
    expect(await source.broadcast(new Uint8Array([0xde, 0xad]))).toBe(TXID);
    expect(core.requests[1]!.body.params).toEqual(['dead']);
    reject = true;
    const e = await failure(source.broadcast(new Uint8Array([0xde, 0xad])));
    expect(e).toMatchObject({ code: 'E_RPC_ERROR', exitCode: 1, rpcCode: -26, rpcMessage: 'non-final', method: 'sendrawtransaction' });
    expect(e.detail).toEqual({ method: 'sendrawtransaction', rpcCode: -26, rpcMessage: 'non-final' });
  });

  it('submitpackage results keep submission order and convert fees', async () => {
    const parent = 'a1'.repeat(32);
    const child = 'b2'.repeat(32);
    const core = await fake({
      submitpackage: () => ({
        raw: `{"package_msg":"success","tx-results":{
          "${parent}":{"txid":"${'c1'.repeat(32)}","vsize":150,"fees":{"base":0.00000000}},
          "${child}":{"txid":"${'c2'.repeat(32)}","vsize":120,"fees":{"base":0.00005000,"effective-feerate":0.00018518,"effective-includes":["${parent}","${child}"]}}},
          "replaced-transactions":[]}`,
      }),
    });
    const result = await new RpcChainSource(config(core)).submitPackage([new Uint8Array([1]), new Uint8Array([2])]);
    expect(result).toEqual({
      packageMsg: 'success',
      txResults: [
        { wtxid: parent, txid: 'c1'.repeat(32), vsize: 150, fees: 0n },
        { wtxid: child, txid: 'c2'.repeat(32), vsize: 120, fees: 5000n, effectiveFeeRate: 18518n },
      ],
      replacedTransactions: [],
    });
  });

  it.each([
    ['tcp://127.0.0.1:28332', 'tcp://127.0.0.1:28332'],
    ['tcp://0.0.0.0:28332', 'tcp://127.0.0.1:28332'], // bound on every interface: reached where the RPC is
    ['tcp://*:28332', 'tcp://127.0.0.1:28332'],
    ['tcp://[::]:28332', 'tcp://127.0.0.1:28332'],
    ['tcp://10.0.0.7:28332', 'tcp://10.0.0.7:28332'],
    ['ipc:///var/run/bitcoind/zmq', 'ipc:///var/run/bitcoind/zmq'],
  ])('getzmqnotifications: the node publishes hashblock on %s, reached at %s', async (address, reached) => {
    const core = await fake({
      getzmqnotifications: () => [
        { type: 'pubrawtx', address: 'tcp://127.0.0.1:28333', hwm: 1000 },
        { type: 'pubhashblock', address, hwm: 1000 },
      ],
    });
    expect(await new RpcChainSource(config(core)).hashblockEndpoint()).toBe(reached);
  });

  it('getzmqnotifications: no hashblock among them, none at all, or a node built without ZMQ (Method not found): undefined; not a list: E_RPC_PROTOCOL', async () => {
    const some = await fake({ getzmqnotifications: () => [{ type: 'pubrawblock', address: 'tcp://127.0.0.1:28332', hwm: 1000 }] });
    expect(await new RpcChainSource(config(some)).hashblockEndpoint()).toBeUndefined();
    const none = await fake({ getzmqnotifications: () => [] });
    expect(await new RpcChainSource(config(none)).hashblockEndpoint()).toBeUndefined();
    const without = await fake({}); // the fake answers an unknown method as Core does: -32601
    expect(await new RpcChainSource(config(without)).hashblockEndpoint()).toBeUndefined();
    expect(without.requests.map((r) => r.body.method)).toEqual(['getblockchaininfo', 'getzmqnotifications']);
    const odd = await fake({ getzmqnotifications: () => ({ pubhashblock: 'tcp://127.0.0.1:28332' }) });
    expect((await failure(new RpcChainSource(config(odd)).hashblockEndpoint())).code).toBe('E_RPC_PROTOCOL');
  });
});

describe('RpcChainSource — failures, each with one code', () => {
  it('legacy JSON-RPC 1.0 errors (HTTP 500 / 404 with an error object) are E_RPC_ERROR', async () => {
    const core = await fake({ gettxout: () => ({ error: { code: -8, message: 'Invalid parameter' } }) }, { style: '1.0' });
    const source = new RpcChainSource(config(core));
    expect(await failure(source.utxo(TXID, 0))).toMatchObject({ code: 'E_RPC_ERROR', rpcCode: -8 });
    const missing = await failure(source.submitPackage([new Uint8Array([1])]));
    expect(missing).toMatchObject({ code: 'E_RPC_ERROR', rpcCode: -32601 });
    expect(missing.message).toMatch(/does not offer submitpackage/);
  });

  it('legacy 1.0 success replies are read too', async () => {
    const core = await fake({ gettxout: () => null }, { style: '1.0' });
    expect(await new RpcChainSource(config(core)).utxo(TXID, 0)).toBeNull();
  });

  it('warm-up (-28) says to retry', async () => {
    const core = await fake({ getblockchaininfo: () => ({ error: { code: -28, message: 'Loading block index…' } }) });
    const e = await failure(new RpcChainSource(config(core)).tip());
    expect(e).toMatchObject({ code: 'E_RPC_ERROR', rpcCode: -28 });
    expect(e.message).toMatch(/retry/);
  });

  it('connection refused is E_RPC_UNREACHABLE', async () => {
    const port = CLOSED_PORT;
    const e = await failure(new RpcChainSource(config({ url: `http://127.0.0.1:${port}/` })).tip());
    expect(e.code).toBe('E_RPC_UNREACHABLE');
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/regtest default: 18443/);
    // Every place the URL can come from, so an operator can set it once (issue 41).
    expect(e.message).toContain('--rpc-url, $OFFCHAIN_RPC_URL or rpc_url= in the configuration file');
    expect(e.detail).toMatchObject({ reason: 'ECONNREFUSED' });
  });

  it('no answer within the timeout is E_RPC_UNREACHABLE (timeout)', async () => {
    const core = await fake({ getblockchaininfo: () => ({ hang: true }) });
    const started = Date.now();
    const e = await failure(new RpcChainSource(config(core, { timeoutMs: 200 })).tip());
    expect(e.code).toBe('E_RPC_UNREACHABLE');
    expect(e.detail).toMatchObject({ reason: 'timeout' });
    expect(e.message).toMatch(/within 200 ms/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('scantxoutset (outputsPaying, what commitment penalty finds a confirmed second stage with) is not cut off at the ordinary deadline: it reads the whole UTXO set, minutes on mainnet (issue 37 review, R4)', async () => {
    const scan = { success: true, txouts: 1, height: 1_001, bestblock: '00'.repeat(32), unspents: [], total_amount: 0 };
    const core = await fake({ scantxoutset: () => ({ delayMs: 600, result: scan }), gettxout: () => ({ delayMs: 600, result: null }) });
    const source = new RpcChainSource(config(core, { timeoutMs: 200 }));
    expect(await source.outputsPaying(new Uint8Array(34))).toEqual([]);
    // Any other call still gives up at the deadline.
    expect((await failure(source.utxo('00'.repeat(32), 0))).detail).toMatchObject({ reason: 'timeout' });
  });

  it('HTTP 403 is E_RPC_AUTH with the -rpcallowip hint', async () => {
    const core = await fake({}, { override: { status: 403, body: '' } });
    const e = await failure(new RpcChainSource(config(core)).tip());
    expect(e.code).toBe('E_RPC_AUTH');
    expect(e.message).toMatch(/rpcallowip/);
  });

  it('something that is not Core (HTML, wrong shapes) is E_RPC_PROTOCOL', async () => {
    const html = await fake({}, { override: { status: 200, body: '<html>hello</html>' } });
    expect((await failure(new RpcChainSource(config(html)).tip())).code).toBe('E_RPC_PROTOCOL');
    const busy = await fake({}, { override: { status: 500, body: 'Work queue depth exceeded' } });
    const e = await failure(new RpcChainSource(config(busy)).tip());
    expect(e.code).toBe('E_RPC_PROTOCOL');
    expect(e.message).toMatch(/Work queue depth exceeded/);
    const odd = await fake({ gettxout: () => ({ value: 'lots', confirmations: 1, scriptPubKey: { hex: '51' } }) });
    expect((await failure(new RpcChainSource(config(odd)).utxo(TXID, 0))).code).toBe('E_RPC_PROTOCOL');
    const noHeight = await fake({ getblockchaininfo: () => ({ chain: 'regtest', mediantime: 1, bestblockhash: BLOCK }) });
    expect((await failure(new RpcChainSource(config(noHeight)).tip())).code).toBe('E_RPC_PROTOCOL');
  });
});
