/**
 * `signedKeyPathTx` splices the witness into the unsigned transaction's bytes. It must give
 * exactly what btc-signer's finalize-and-extract gives (network bytes and txid), for a state
 * with the usual 64-byte signature and for one with a sighash byte (65 bytes); and the txid
 * must be the hash of the unsigned transaction, which the test computes itself.
 */
import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { signedKeyPathTx } from '../../../src/lib/credit/signing.ts';
import { makeContract } from '../../../src/lib/credit/terms.ts';
import { buildState } from '../../../src/lib/credit/transactions.ts';
import { taprootOutput } from '../../../src/lib/taproot/taproot.ts';
import { MINT, USER } from './world.ts';

const contract = makeContract({
  network: 'regtest', userPubkey: USER.publicKey, mintPubkey: MINT.publicKey, capacity: 100_000n, funding: { txid: 'f0'.repeat(32), vout: 1 },
  expiryHeight: 10_000, refundScript: taprootOutput(USER.xOnly).script, changeScript: taprootOutput(USER.xOnly).script,
  payoutScript: taprootOutput(MINT.xOnly).script, feeRate: 2,
});

describe('signedKeyPathTx', () => {
  it.each([
    ['a 64-byte signature (SIGHASH_DEFAULT)', 64],
    ['a 65-byte signature (a sighash byte)', 65],
  ])('%s: the bytes and txid btc-signer extracts', (_name, length) => {
    const tx = buildState(contract, 6000n);
    const sig = fromHex('5a'.repeat(length - 1) + (length === 65 ? '01' : '5a'));
    const ours = signedKeyPathTx(tx, sig);
    const reference = buildState(contract, 6000n);
    reference.updateInput(0, { finalScriptWitness: [sig] }, true);
    expect(ours.hex).toBe(toHex(reference.extract()));
    expect(ours.txid).toBe(reference.id);
    expect(ours.txid).toBe(toHex(sha256(sha256(tx.unsignedTx)).reverse()));
  });
});
