/**
 * The peer's current commitment is mined with an HTLC it offered, whose preimage the party holds;
 * the peer's own timeout of that HTLC sits unconfirmed in the node's mempool. The claim is not
 * dropped: it replaces the timeout (BIP-125: it pays all the timeout and its descendants pay plus
 * the incremental relay fee on its own size) within the budget. Fake node, real channel record.
 */
import { describe, expect, it } from 'vitest';
import { Transaction } from '@scure/btc-signer';
import { channelRound, type ChannelHost } from '../../../src/topics/watch/channel.ts';
import type { Round } from '../../../src/topics/watch/credit.ts';
import type { ChannelWatch } from '../../../src/topics/watch/state.ts';
import { fromHex, toHex } from '../../../src/lib/bytes.ts';
import { claimFromPeerCommitment } from '../../../src/lib/bolt3/party-claim.ts';
import { A, upTo } from '../bolt3/two-parties.ts';

const H = (n: number) => n.toString(16).padStart(64, '0');
const DEST = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(9));
const PEER = Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3));

describe('a preimage claim against the peer\'s unconfirmed HTLC timeout', () => {
  it('replaces the timeout within the budget instead of giving the HTLC up', async () => {
    const p = upTo(2);
    const rec = p.a;
    const current = rec.remote_signed.at(-1)!.txid;
    // Alice's state 2 receives hash(21) = sha256(0x15): on Bob's commitment Bob offered it, Alice claims it with 0x15.
    const preimage = Uint8Array.of(21);
    const claim = (claimFromPeerCommitment(rec, current, { htlcBasepointSecret: A.htlc, preimages: [preimage], destinationScript: DEST, feeratePerKw: 253 }).transactions as { kind: string; vout: number }[])
      .find((t) => t.kind === 'htlc-claim')!;
    const timeout = new Transaction({ allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true, lockTime: 503 });
    timeout.addOutput({ script: PEER, amount: 4000n });
    timeout.addInput({ txid: fromHex(current), index: claim.vout, finalScriptWitness: [new Uint8Array(72), new Uint8Array(0), new Uint8Array(40)] });
    const timeoutTxid = H(77);
    const sent: string[] = [];
    let store: ChannelWatch = { sent: {} };
    const chain = {
      mempoolSpender: async (txid: string, vout: number) => (txid === rec.channel.funding_txid ? undefined : txid === current && vout === claim.vout ? timeoutTxid : undefined),
      utxo: async (txid: string) => (txid === current ? { txid, vout: 0, value: 1n, scriptPubKey: '', confirmations: 3 } : null),
      txConfirmations: async (txid: string) => (txid === current || txid === rec.channel.funding_txid ? 3 : null),
      rawTransaction: async (txid: string) => (txid === timeoutTxid ? timeout.toBytes(true, true) : fromHex('00')),
      blockSpender: async (_h: string, txid: string) => (txid === rec.channel.funding_txid ? current : undefined),
      blockHeader: async (hash: string) => ({ height: 0, prev: hash }),
      mempoolPolicy: async () => ({ minRelayFeeRate: 1000, mempoolMinFeeRate: 1000, incrementalRelayFeeRate: 1000 }),
      estimateFeeRate: async () => 1000,
      mempoolEntry: async (txid: string) => (txid === timeoutTxid ? { fee: 500n, vsize: 160 } : null),
      mempoolEviction: async (txid: string) => (txid === timeoutTxid ? { descendantFee: 800n, descendantVsize: 300, chunkFee: 500n, chunkWeight: 640 } : null),
      broadcast: async (raw: Uint8Array) => { sent.push(toHex(raw)); return H(sent.length); },
    };
    const records = { channel: async () => structuredClone(store), setChannel: async (_id: string, c: ChannelWatch) => { store = structuredClone(c); } };
    const round: Round = { tip: 600, block: H(600), dryRun: false, offline: false, chain: chain as never, records: records as never, connected: [H(600)] };
    const host: ChannelHost = {
      channels: async () => [{ id: `${rec.channel.funding_txid}:${rec.channel.funding_vout}`, record: rec }],
      revocationKey: async () => A.revocation.slice(), htlcKey: async () => ({ secret: A.htlc.slice(), preimages: [preimage.slice()] }),
      destination: { script: DEST, dustSat: 294 }, limits: { maxFeeRate: 50, maxFeeShare: 0.5 }, done: new Set(),
    };
    const [d] = await channelRound(host, round);
    expect(d!.error, JSON.stringify(d)).toBeUndefined();
    const claimTx = sent.map((h) => Transaction.fromRaw(fromHex(h), { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true }))
      .find((t) => toHex(t.getInput(0).txid!) === current && t.getInput(0).index === claim.vout);
    expect(claimTx, JSON.stringify(d)).toBeDefined();
    // Rules 3 and 4: at least what it evicts (800) plus the incremental relay fee on its own size.
    const fee = 5_001 - Number(claimTx!.getOutput(0).amount!);
    expect(fee).toBeGreaterThanOrEqual(800 + Math.ceil(claimTx!.vsize));
    expect(fee).toBeLessThanOrEqual(Math.floor(0.5 * 5_001));
  });
});
