/**
 * BOLT 3 transactions as PSBTs: read back by the project's PSBT reader, they carry the
 * spent output, its witness script and the partial signatures with their own sighash
 * bytes; a generic BIP-174 finalizer (@scure/btc-signer's, for the 2-of-2) turns the
 * commitment PSBT into the spec's signed commitment byte for byte; version-3 zero-fee
 * commitments with their P2A anchor go through too.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { parsePsbt } from '../../../src/lib/psbt/parse.ts';
import { buildCommitment } from '../../../src/lib/bolt3/commitment.ts';
import { ANCHORS, LEGACY, ZERO_FEE } from '../../../src/lib/bolt3/formats.ts';
import { buildHtlcTransactions } from '../../../src/lib/bolt3/htlc-tx.ts';
import { commitmentPsbt, htlcPsbt } from '../../../src/lib/bolt3/psbt.ts';
import { signCommitment, signHtlcTransaction } from '../../../src/lib/bolt3/sign.ts';
import { C, F, channel, htlcIndicesFor, secrets, state } from './appendix-c.ts';

const fiveHtlcs = C.test_vectors[1];

describe('BOLT 3 PSBTs', () => {
  it('example: the Appendix C commitment as a PSBT, finalized by a generic 2-of-2 finalizer, is the spec\'s signed commitment', () => {
    const c = buildCommitment(channel(LEGACY), state(BigInt(fiveHtlcs.to_local_msat), BigInt(fiveHtlcs.to_remote_msat), 0, htlcIndicesFor(fiveHtlcs.name)));
    const local = signCommitment(c, secrets.localFunding);
    const remote = signCommitment(c, secrets.remoteFunding);
    const tx = parsePsbt(commitmentPsbt(c, { local, remote }));
    expect(tx.id).toBe(c.txid);
    const input = tx.getInput(0);
    expect(input.witnessUtxo!.amount).toBe(10_000_000n);
    expect(toHex(input.witnessScript!)).toBe(C.keys.funding_witness_script);
    expect(input.partialSig!.map(([k, s]) => [toHex(k), toHex(s)])).toEqual(
      expect.arrayContaining([
        [C.keys.local_funding_pubkey, fiveHtlcs.local_signature + '01'],
        [C.keys.remote_funding_pubkey, fiveHtlcs.remote_signature + '01'],
      ]),
    );
    tx.finalize();
    expect(tx.hex).toBe(fiveHtlcs.expected_commit_tx_hex);
  });

  it('an anchors HTLC transaction carries the remote SINGLE|ANYONECANPAY and the local ALL signature on one input', () => {
    const spec = F.test_vectors[2];
    const c = buildCommitment(channel(ANCHORS, BigInt(spec.DustLimitSatoshis)), state(BigInt(spec.LocalBalance), BigInt(spec.RemoteBalance), spec.FeePerKw, htlcIndicesFor(spec.Name)));
    const h = buildHtlcTransactions(c)[0]!;
    const remote = signHtlcTransaction(h, secrets.remoteHtlcPrivkey, 'remote');
    const local = signHtlcTransaction(h, secrets.localHtlcPrivkey, 'local');
    expect(toHex(remote)).toBe(spec.HtlcDescs[0].RemoteSigHex);
    const tx = parsePsbt(htlcPsbt(h, { local, remote }));
    const input = tx.getInput(0);
    expect(input.txid && toHex(input.txid)).toBe(c.txid);
    expect(input.sequence).toBe(1);
    expect(input.witnessUtxo!.amount).toBe(h.spentAmountSat);
    expect(input.witnessScript).toEqual(h.spentWitnessScript);
    expect(input.sighashType).toBeUndefined();
    const byKey = new Map(input.partialSig!.map(([k, s]) => [toHex(k), s.at(-1)]));
    expect(byKey.get(C.keys.remote_htlcpubkey)).toBe(0x83);
    expect(byKey.get(C.keys.local_htlcpubkey)).toBe(0x01);
  });

  it('a version-3 zero-fee commitment with its P2A anchor', () => {
    const c = buildCommitment(channel(ZERO_FEE), state(7_000_000_000n, 3_000_000_000n, 0, []));
    const tx = parsePsbt(commitmentPsbt(c));
    expect(tx.version).toBe(3);
    expect(tx.id).toBe(c.txid);
    expect(toHex(tx.getOutput(0).script!)).toBe('51024e73');
    expect(tx.getInput(0).partialSig ?? []).toEqual([]);
  });
});
