/**
 * BOLT 3 Appendix B: the funding transaction. Our code builds the 2-of-2 funding script
 * and its P2WSH output (src/lib/bolt3/scripts.ts, channel.ts), the transaction's
 * serialization, weight and txid (tx.ts), and the fee from the weight (formats.ts). The
 * one input spends a P2PKH coinbase output: signing it is a wallet's job, not BOLT 3's,
 * so @scure/btc-signer signs it here and only its scriptSig is taken.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { fundingOutput } from '../../src/lib/bolt3/channel.ts';
import { feeFromWeight } from '../../src/lib/bolt3/formats.ts';
import { p2wpkh } from '../../src/lib/bolt3/script.ts';
import { fundingScript } from '../../src/lib/bolt3/scripts.ts';
import { serializeTx, txid, weight, type Tx } from '../../src/lib/bolt3/tx.ts';
import { pointOf } from '../../src/lib/bolt3/keys.ts';
import { loadVector } from '../helpers.ts';
import { specPrivkey } from '../lib/bolt3/appendix-c.ts';

const B = loadVector('bolts/bolt03/funding-tx-test-vectors.json');

describe('BOLT 3 Appendix B: funding transaction', () => {
  const local = fromHex(B.local_funding_pubkey);
  const remote = fromHex(B.remote_funding_pubkey);
  const coinbaseKey = specPrivkey(B.chain.block1_coinbase_privkey);
  const funding = fundingOutput(local, remote, BigInt(B.funding_satoshis));

  it('the 2-of-2 funding script, keys in lexicographic order whichever party is local', () => {
    expect(toHex(funding.witnessScript)).toBe(B.funding_witness_script);
    expect(toHex(fundingScript(remote, local))).toBe(B.funding_witness_script);
  });

  it('the funding transaction and txid, byte for byte, its fee 15000 sat/kw of its weight', () => {
    const change = p2wpkh(pointOf(coinbaseKey));
    const unsigned: Tx = {
      version: 2,
      lockTime: 0,
      inputs: [{ txid: B.input_txid, vout: B.input_index, sequence: 0xffffffff }],
      outputs: [
        { amount: funding.amount, script: funding.script },
        { amount: BigInt(B.change_satoshis), script: change },
      ],
    };
    // The wallet's part: sign the P2PKH coinbase input.
    const wallet = new Transaction({ version: 2 });
    wallet.addInput({ txid: B.input_txid, index: B.input_index, nonWitnessUtxo: fromHex(B.chain.block1_coinbase_tx_hex), sequence: 0xffffffff });
    for (const o of unsigned.outputs) wallet.addOutput({ script: o.script, amount: o.amount });
    wallet.sign(coinbaseKey);
    wallet.finalize();
    const scriptSig = wallet.getInput(0).finalScriptSig!;

    const signed: Tx = { ...unsigned, inputs: [{ ...unsigned.inputs[0]!, scriptSig }] };
    expect(toHex(serializeTx(signed))).toBe(B.expected_funding_tx_hex);
    expect(txid(signed)).toBe(B.expected_funding_txid);
    // The change is what is left after the fee BOLT 3's feerate gives for this weight.
    const fee = BigInt(B.input_satoshis) - BigInt(B.funding_satoshis) - BigInt(B.change_satoshis);
    expect(feeFromWeight(B.feerate_per_kw, weight(signed))).toBe(fee);
    expect(fee).toBe(13920n);
  });

  it('the funding txid is the outpoint every commitment vector spends', () => {
    const C = loadVector('bolts/bolt03/commitment-tx-test-vectors.json');
    expect(C.parameters.funding_tx_id).toBe(B.expected_funding_txid);
    expect(C.parameters.funding_output_index).toBe(B.funding_output_index);
  });
});
