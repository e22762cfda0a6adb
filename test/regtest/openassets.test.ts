/**
 * Open Assets on Bitcoin Core (regtest): a Core wallet funds our P2PKH key; we build and
 * sign an issuance (100 units, marker with a u= pointer) and a transfer (60 + 40) here,
 * Core accepts and mines both, and `decode-openassets --rpc-url` colors the transfer
 * back to its issuance through the node (getrawtransaction; the harness runs -txindex).
 * Expected asset IDs are computed independently (test/independent/base58check.ts: test-code
 * base58, node:crypto hashes), not by the code under test nor its @scure/base base58check.
 * Also Colu: an issuance and a transfer built here, mined, and colored by `--protocol colu` through the node. Skips visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, TEST_NETWORK, p2pkh } from '@scure/btc-signer';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { btcToSats } from '../../src/lib/chain/amount.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import type { RpcClient } from '../../src/lib/chain/rpc-client.ts';
import { tempDir } from '../helpers.ts';
import { base58checkEncode, hash160 } from '../independent/base58check.ts';
import { findBitcoind, startBitcoind, type Bitcoind } from './bitcoind.ts';
import { assertBuilt, describeRun, offchain } from './offchain-cli.ts';

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `Open Assets issuance and transfer against bitcoind -regtest (${BITCOIND})`
  : 'Open Assets issuance and transfer against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const ISSUER = keyPair(new Uint8Array(32).fill(0x61));
const HOLDER = keyPair(new Uint8Array(32).fill(0x62));
const REGTEST = { ...TEST_NETWORK, bech32: 'bcrt' };
/** Independent asset ID: base58check(115 || RIPEMD160(SHA256(script))). */
const assetIdOf = (script: Uint8Array) => base58checkEncode(Uint8Array.from([115, ...hash160(script)]));
const opReturn = (payloadHex: string) => fromHex(`6a${(payloadHex.length / 2).toString(16).padStart(2, '0')}${payloadHex}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let node: Bitcoind;
  let wallet: RpcClient;
  let work: { path: string; cleanup: () => void } | undefined;
  let miner: string;
  const issuerOut = p2pkh(ISSUER.publicKey, REGTEST);
  const holderOut = p2pkh(HOLDER.publicKey, REGTEST);
  const raw: Record<string, string> = {};

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-oa-');
    node = await startBitcoind(BITCOIND!);
    await node.rpc.call('createwallet', ['oa-funder']);
    wallet = node.rpc.forWallet('oa-funder');
    miner = await wallet.call<string>('getnewaddress', ['', 'bech32m']);
    await node.rpc.call('generatetoaddress', [101, miner]);
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    work?.cleanup();
  });

  const spendable = (t: Transaction, prevHex: string, vout: number) => t.addInput({ txid: Transaction.fromRaw(fromHex(prevHex), { allowUnknownOutputs: true }).id, index: vout, nonWitnessUtxo: fromHex(prevHex) });

  it('issues 100 units from a Core-funded P2PKH output and transfers 60 + 40; Core accepts and mines both', async () => {
    const fundTxid = await wallet.call<string>('sendtoaddress', [issuerOut.address!, 0.01]);
    await node.rpc.call('generatetoaddress', [1, miner]);
    raw.fund = await node.rpc.call<string>('getrawtransaction', [fundTxid, false]);
    const fund = Transaction.fromRaw(fromHex(raw.fund), { allowUnknownOutputs: true });
    let vout = -1;
    for (let i = 0; i < fund.outputsLength; i++) if (toHex(fund.getOutput(i).script!) === toHex(issuerOut.script)) vout = i;
    expect(vout).toBeGreaterThanOrEqual(0);
    const funded = fund.getOutput(vout).amount!;
    expect(funded).toBe(btcToSats('0.01'));

    const iss = new Transaction({ allowUnknownOutputs: true });
    spendable(iss, raw.fund, vout);
    iss.addOutput({ script: issuerOut.script, amount: 1000n });
    iss.addOutput({ script: opReturn('4f41010001641b753d68747470733a2f2f6370722e736d2f466f796b777248365559'), amount: 0n }); // [100], u=https://cpr.sm/FoykwrH6UY
    iss.addOutput({ script: issuerOut.script, amount: funded - 1000n - 2000n });
    iss.sign(ISSUER.secretKey);
    iss.finalize();
    raw.issuance = iss.hex;
    expect(await node.rpc.call<string>('sendrawtransaction', [iss.hex])).toBe(iss.id);

    const xfer = new Transaction({ allowUnknownOutputs: true });
    spendable(xfer, raw.issuance, 0);
    spendable(xfer, raw.issuance, 2);
    xfer.addOutput({ script: opReturn('4f410100023c2800'), amount: 0n }); // [60, 40]
    xfer.addOutput({ script: holderOut.script, amount: 1000n });
    xfer.addOutput({ script: issuerOut.script, amount: 1000n });
    xfer.addOutput({ script: issuerOut.script, amount: funded - 3000n - 1000n - 2000n });
    xfer.sign(ISSUER.secretKey);
    xfer.finalize();
    raw.transfer = xfer.hex;
    expect(await node.rpc.call<string>('sendrawtransaction', [xfer.hex])).toBe(xfer.id);
    await node.rpc.call('generatetoaddress', [1, miner]);
    const info = await node.rpc.call<{ confirmations?: number }>('getrawtransaction', [xfer.id, 1]);
    expect(info.confirmations).toBe(1);
  }, 60_000);

  it('decode-openassets colors the transfer back to its issuance through the node', async () => {
    const chain = ['--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile];
    const r = await offchain(['decode-openassets', '--network', 'regtest', '--tx', raw.transfer!, ...chain]);
    expect(r.status, describeRun(r)).toBe(0);
    const m = JSON.parse(r.stdout);
    const asset = assetIdOf(issuerOut.script);
    expect(asset.startsWith('o')).toBe(true);
    expect(m.status).toBe('colored');
    expect(m.outputs.map((o: any) => [o.type, o.asset_id, o.asset_quantity])).toEqual([
      ['marker', null, '0'], ['transfer', asset, '60'], ['transfer', asset, '40'], ['transfer', null, '0'],
    ]);
    expect(m.outputs[1].address).toBe(holderOut.address);
    const iss = JSON.parse((await offchain(['decode-openassets', '--network', 'regtest', '--tx', raw.issuance!, ...chain])).stdout);
    expect(iss.marker).toMatchObject({ asset_quantities: ['100'], asset_definition_url: 'https://cpr.sm/FoykwrH6UY' });
    expect(iss.outputs[0]).toMatchObject({ type: 'issuance', asset_id: asset, asset_quantity: '100' });
  }, 60_000);

  it('an ancestor the node does not have is named, with the -txindex hint', async () => {
    const t = new Transaction({ allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true });
    const ghost = 'ab'.repeat(32);
    t.addInput({ txid: ghost, index: 0 });
    t.addOutput({ script: opReturn('4f41010000' + '00'), amount: 0n });
    const r = await offchain(['decode-openassets', '--network', 'regtest', '--tx', toHex(t.unsignedTx), '--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile]);
    expect(r.status, describeRun(r)).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m).toMatchObject({ status: 'undecided', missing_ancestors: [ghost] });
    expect(m.hint_if_missing).toMatch(/-txindex/);
  }, 60_000);

  it('Colu: an issuance of 10 units and a transfer of 3 + 7 built here are mined; --protocol colu colors them through the node', async () => {
    const fundTxid = await wallet.call<string>('sendtoaddress', [issuerOut.address!, 0.01]);
    await node.rpc.call('generatetoaddress', [1, miner]);
    const fundHex = await node.rpc.call<string>('getrawtransaction', [fundTxid, false]);
    const fund = Transaction.fromRaw(fromHex(fundHex), { allowUnknownOutputs: true });
    let vout = -1;
    for (let i = 0; i < fund.outputsLength; i++) if (toHex(fund.getOutput(i).script!) === toHex(issuerOut.script)) vout = i;
    const funded = fund.getOutput(vout).amount!;
    // cc-transaction's vector payload 434302050a60: issue 10, divisibility 3, unlocked, aggregatable, no payments → all to the last output
    const iss = new Transaction({ allowUnknownOutputs: true });
    spendable(iss, fundHex, vout);
    iss.addOutput({ script: opReturn('434302050a60'), amount: 0n });
    iss.addOutput({ script: issuerOut.script, amount: funded - 2000n });
    iss.sign(ISSUER.secretKey);
    iss.finalize();
    expect(await node.rpc.call<string>('sendrawtransaction', [iss.hex])).toBe(iss.id);
    // transfer: payments 3 → output 0 and 7 → output 1 (0x00 0x03, 0x01 0x07)
    const xfer = new Transaction({ allowUnknownOutputs: true });
    spendable(xfer, iss.hex, 1);
    xfer.addOutput({ script: holderOut.script, amount: 1000n });
    xfer.addOutput({ script: issuerOut.script, amount: funded - 2000n - 1000n - 2000n });
    xfer.addOutput({ script: opReturn('4343021500030107'), amount: 0n });
    xfer.sign(ISSUER.secretKey);
    xfer.finalize();
    expect(await node.rpc.call<string>('sendrawtransaction', [xfer.hex])).toBe(xfer.id);
    await node.rpc.call('generatetoaddress', [1, miner]);

    const r = await offchain(['decode-openassets', '--network', 'regtest', '--protocol', 'colu', '--tx', xfer.hex, '--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile]);
    expect(r.status, describeRun(r)).toBe(0);
    const m = JSON.parse(r.stdout);
    // independent Colu unlocked ID: base58check(0x2e37 || hash160(issuing script) || divisibility 0x0003)
    const asset = base58checkEncode(Uint8Array.from([0x2e, 0x37, ...hash160(issuerOut.script), 0x00, 0x03]));
    expect(m.flow).toEqual({ status: 'colored', overflow: false });
    expect(m.outputs.map((o: any) => o.assets.map((a: any) => [a.assetId, a.amount, a.issueTxid]))).toEqual([[[asset, '3', iss.id]], [[asset, '7', iss.id]], []]);
  }, 60_000);
});
