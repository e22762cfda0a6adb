/** How fixtures/truc/ was made (run from the repository root: npx tsx test/lib/truc/make-fixtures.ts): the valid case of the regtest differential test on a made-up coin. */
import { writeFileSync } from 'node:fs';
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { ANYONE, P2A, buildTx, spendAnchor, spendAnyone } from './build.ts';
const coin = { txid: '5f'.repeat(32), vout: 0, amount: 100_000n };
const parent = buildTx(3, [spendAnyone(coin.txid, coin.vout)], [{ amount: coin.amount, script: ANYONE }, { amount: 0n, script: P2A }]);
const child = buildTx(3, [spendAnchor(parent.parsed.txid, 1), spendAnyone(parent.parsed.txid, 0)], [{ amount: coin.amount - 500n, script: ANYONE }]);
const psbt = new Transaction({ version: 3, allowUnknownOutputs: true });
psbt.addOutput({ script: ANYONE, amount: coin.amount });
psbt.addOutput({ script: P2A, amount: 0n });
psbt.addInput({ txid: coin.txid, index: 0, sequence: 0xfffffffd, witnessUtxo: { script: ANYONE, amount: coin.amount }, finalScriptWitness: [Uint8Array.of(0x51)] });
if (Buffer.from(psbt.extract()).toString('hex') !== parent.hex) throw new Error('psbt differs');
writeFileSync('fixtures/truc/parent.hex', parent.hex + '\n');
writeFileSync('fixtures/truc/child.hex', child.hex + '\n');
writeFileSync('fixtures/truc/parent.psbt', base64.encode(psbt.toPSBT()) + '\n');
writeFileSync('fixtures/truc/parent.prevout', `${coin.txid}:0:${coin.amount}:${Buffer.from(ANYONE).toString('hex')}\n`);
console.log(parent.parsed.txid, parent.parsed.vsize, child.parsed.vsize);
