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

// A wallet's walletcreatefundedpsbt answer as `package child --wallet-psbt` reads it: one made-up P2WPKH coin of
// 50,000 sat and one output of 40,000 sat back to the wallet (a P2WPKH with its BIP-32 derivation, as Core marks its own).
const walletKey = Uint8Array.from(Buffer.from('02' + '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'));
const walletScript = Uint8Array.from(Buffer.from('0014' + '751e76e8199196d454941c45d1b3a323f1433bd6', 'hex'));
const wallet = new Transaction({ version: 2 });
wallet.addInput({ txid: '6a'.repeat(32), index: 1, sequence: 0xfffffffd, witnessUtxo: { script: walletScript, amount: 50_000n }, bip32Derivation: [[walletKey, { fingerprint: 0x1c4aec8a, path: [0x80000054, 0x80000001, 0x80000000, 0, 0] }]] });
wallet.addOutput({ script: walletScript, amount: 40_000n, bip32Derivation: [[walletKey, { fingerprint: 0x1c4aec8a, path: [0x80000054, 0x80000001, 0x80000000, 1, 0] }]] });
writeFileSync('fixtures/truc/walletcreatefundedpsbt.answer', JSON.stringify({ psbt: base64.encode(wallet.toPSBT()), fee: 0.0001, changepos: -1 }, null, 2) + '\n');
