/**
 * A zero-fee BOLT 3 channel (option_zero_fee_commitments: a v3 commitment paying no fee,
 * one shared 0-sat pay-to-anchor) on a real `bitcoind -regtest`, through `package check`,
 * `package child` and `package submit` (issue 24 step 4). The commitment and its
 * HTLC-success transaction are built and signed by the library (src/lib/bolt3) with test
 * keys; every package verdict is the CLI's and Core's `submitpackage`'s on the same bytes:
 * - the commitment alone: refused by the node (zero fee);
 * - the commitment + its HTLC-success transaction as the child (it does not spend the
 *   anchor): refused by our checker and by Core with the same whole string
 *   (`missing-ephemeral-spends, …`);
 * - the commitment + a child over 1,000 vB: the same string from both (`TRUC-violation, …`);
 * - the commitment + a child from the wallet (`package child`): accepted; a second one
 *   replaces it by sibling eviction (`--replaces`); mined;
 * - then its HTLC-success transaction at zero fee (the holder's added input paid whole to
 *   its wallet): refused alone, confirmed by a CPFP child `package child --spend` builds.
 * Skipped visibly without a bitcoind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { scriptAddress } from '../../src/lib/address.ts';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { toHex } from '../../src/lib/bytes.ts';
import {
  ZERO_FEE, buildCommitment, buildHtlcTransactions, channelFundingOutput, derivePrivkey, finalizeCommitment, finalizeHtlcTransaction, generateFromSeed,
  perCommitmentPoint, pointOf, serializeTx, signCommitment, signHtlcTransaction, type ChannelParameters, type ChannelPublicKeys, type Tx,
} from '../../src/lib/bolt3/index.ts';
import { tempDir } from '../helpers.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';
import { ANYONE, buildTx, spendAnchor, spendAnyone } from '../lib/truc/build.ts';
import { parseTx } from '../independent/tx.ts';

const BITCOIND = findBitcoind();
const secret = (b: number) => new Uint8Array(32).fill(b);
const party = (base: number) => ({ funding: secret(base), revocation: secret(base + 1), payment: secret(base + 2), delayed: secret(base + 3), htlc: secret(base + 4) });
type Party = ReturnType<typeof party>;
const publicKeys = (p: Party): ChannelPublicKeys => ({
  fundingPubkey: pointOf(p.funding), revocationBasepoint: pointOf(p.revocation), paymentBasepoint: pointOf(p.payment),
  delayedPaymentBasepoint: pointOf(p.delayed), htlcBasepoint: pointOf(p.htlc),
});
const A = party(0x30);
const B = party(0x40);
const SEED = sha256(Uint8Array.of(3, 1, 4));
const PREIMAGE = sha256(Uint8Array.of(8));
const FUNDING_SAT = 1_000_000n;

type Submit = { package_msg: string; 'tx-results': Record<string, { txid: string; error?: string }> };

describe.skipIf(!BITCOIND)(`a zero-fee channel's packages on regtest${BITCOIND ? '' : ' (SKIPPED: no bitcoind; set BITCOIND)'}`, () => {
  let n: FundedNode;
  let work: { path: string; cleanup: () => void };
  let k = 0;
  const file = (name: string, text: string) => {
    const path = join(work.path, `${k++}-${name}`);
    writeFileSync(path, text);
    return path;
  };
  const net = () => ['--network', 'regtest', ...n.chain()];
  /** The whole string our checker says Core will give (the refusal's `Bitcoin Core: "…"`). */
  const predicted = (stderr: string) => /Bitcoin Core: "(.*)"\)$/m.exec(stderr.trim())?.[1];

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-truc-channel-');
    n = await startFundedNode(BITCOIND!, 'truc-channel');
  }, 120_000);
  afterAll(async () => {
    await n?.stop();
    work?.cleanup();
  });

  it('a zero-fee commitment: refused alone; with its HTLC-success as child (anchor unspent) or a child over 1,000 vB, refused by checker and node with the same string; bumped by package child, replaced by a second child (sibling eviction), mined', async () => {
    const base = (outpoint: { txid: string; vout: number }): ChannelParameters => ({
      format: ZERO_FEE, fundingOutpoint: outpoint, fundingSatoshis: FUNDING_SAT, opener: 'local', local: publicKeys(A), remote: publicKeys(B), toSelfDelay: 6, dustLimitSatoshis: 546n,
    });
    const fundingScript = channelFundingOutput(base({ txid: '00'.repeat(32), vout: 0 })).script;
    const funding = await n.fund(scriptAddress(fundingScript, 'regtest')!, FUNDING_SAT);
    const pcp = perCommitmentPoint(generateFromSeed(SEED, 2 ** 48 - 1));
    const tip = await n.tip();
    const c = buildCommitment(base(funding), {
      commitmentNumber: 0, perCommitmentPoint: pcp, toLocalMsat: 600_000_000n, toRemoteMsat: 310_000_000n, feeratePerKw: 0,
      htlcs: [
        { direction: 'offered', amountMsat: 50_000_000n, paymentHash: sha256(Uint8Array.of(9)), cltvExpiry: tip + 100 },
        { direction: 'received', amountMsat: 40_000_000n, paymentHash: sha256(PREIMAGE), cltvExpiry: tip + 120 },
      ],
    });
    const commitment = finalizeCommitment(c, signCommitment(c, A.funding), signCommitment(c, B.funding));
    const parsed = parseTx(Buffer.from(commitment.hex, 'hex'));
    expect(parsed.version).toBe(3);
    const anchor = parsed.outputs.findIndex((o) => toHex(o.script) === '51024e73');
    expect(parsed.outputs[anchor]!.amount).toBe(0n);
    const commitmentFile = file('commitment.hex', commitment.hex);
    const fundingPrevout = `${funding.txid}:${funding.vout}:${FUNDING_SAT}:${toHex(fundingScript)}`;

    // Alone: zero fee.
    expect(await n.mempool(commitment.hex)).toMatchObject({ allowed: false, 'reject-reason': 'min relay fee not met' });

    // Its HTLC-success transaction as the child: it does not spend the 0-sat anchor. It pays a
    // fee of its own from an added input (the remote signs SINGLE|ANYONECANPAY, the holder ALL
    // over everything), so the one rule it breaks is the ephemeral-dust one.
    const anyoneAddress = (await n.node.rpc.call<{ segwit: { address: string } }>('decodescript', ['51'])).segwit.address;
    const feeCoin = await n.fund(anyoneAddress, 50_000n);
    const bare = buildHtlcTransactions(c).find((h) => h.kind === 'htlc-success')!;
    const success = { ...bare, tx: { ...bare.tx, inputs: [...bare.tx.inputs, { txid: feeCoin.txid, vout: feeCoin.vout, sequence: 0xfffffffd }], outputs: [...bare.tx.outputs, { amount: 48_000n, script: ANYONE }] } };
    const final = finalizeHtlcTransaction(
      success, signHtlcTransaction(success, derivePrivkey(A.htlc, pcp), 'local'), signHtlcTransaction(success, derivePrivkey(B.htlc, pcp), 'remote'), PREIMAGE,
    );
    const signedTx: Tx = { ...success.tx, inputs: [final.tx.inputs[0]!, { ...success.tx.inputs[1]!, witness: [Uint8Array.of(0x51)] }] };
    const signedHex = toHex(serializeTx(signedTx));
    const ours = await offchain(['package', 'check', '--parent', commitmentFile, '--prevout', fundingPrevout, '--prevout', `${feeCoin.txid}:${feeCoin.vout}:50000:${toHex(ANYONE)}`, '--child', file('htlc-success.hex', signedHex), '--network', 'regtest']);
    expect([ours.status, errorCode(ours)], describeRun(ours)).toEqual([4, 'E_TRUC_EPHEMERAL_UNSPENT']);
    const core = await n.node.rpc.call<Submit>('submitpackage', [[commitment.hex, signedHex]]);
    const childWtxid = parseTx(Buffer.from(signedHex, 'hex')).wtxid;
    expect(core['tx-results'][childWtxid]?.error).toBe(predicted(ours.stderr));
    expect(predicted(ours.stderr)).toMatch(/^missing-ephemeral-spends, tx [0-9a-f]{64} \(wtxid=[0-9a-f]{64}\) did not spend parent's ephemeral dust$/);

    // A child over 1,000 vB (the anchor and an anyone-can-spend coin, 26 more outputs).
    const coin = await n.fund(anyoneAddress, 100_000n);
    const big = buildTx(3, [spendAnchor(parsed.txid, anchor), spendAnyone(coin.txid, coin.vout)], [{ amount: 100_000n - 40_000n, script: ANYONE }, ...Array.from({ length: 26 }, () => ({ amount: 1_000n, script: ANYONE }))]);
    // (package submit --dry-run: its check before sending, the inputs asked of the node, its getmempoolinfo as policy.)
    const tooBig = await offchain(['package', 'submit', '--dry-run', '--parent', commitmentFile, '--child', file('big.hex', big.hex), ...net()]);
    expect([tooBig.status, errorCode(tooBig)], describeRun(tooBig)).toEqual([4, 'E_TRUC_CHILD_TOO_BIG']);
    const coreBig = await n.node.rpc.call<Submit>('submitpackage', [[commitment.hex, big.hex]]);
    expect(coreBig.package_msg).toBe(predicted(tooBig.stderr));
    expect(coreBig.package_msg).toMatch(/^TRUC-violation, version=3 child tx .* is too big: \d{4} > 1000 virtual bytes$/);

    // package child from the wallet, then a second child replacing it.
    const walletPsbt = async () => {
      const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
      return file('wallet.json', JSON.stringify(await n.wallet.call('walletcreatefundedpsbt', [[], [{ [own]: satsToBtc(30_000n) }], 0, { fee_rate: 1 }])));
    };
    const bump = async (rate: string, extra: string[] = []) => {
      const r = await offchain(['package', 'child', '--parent', commitmentFile, '--prevout', fundingPrevout, '--wallet-psbt', await walletPsbt(), '--fee-rate', rate, ...extra, ...net()]);
      const msg = messageOf<{ psbt: string; child: { txid: string } }>(r, 'package/child');
      const signedChild = file('signed.json', JSON.stringify(await n.wallet.call('walletprocesspsbt', [msg.psbt])));
      return { msg, childMsg: file('child.json', r.stdout), signedChild };
    };
    const first = await bump('3');
    const sent = messageOf<{ package_msg: string }>(await offchain(['package', 'submit', '--parent', first.childMsg, '--child', first.signedChild, ...net()]), 'package/submitted');
    expect(sent.package_msg).toBe('success');
    const second = await bump('3', ['--replaces', first.signedChild]);
    const replaced = messageOf<{ replaced_transactions: string[] }>(await offchain(['package', 'submit', '--parent', second.childMsg, '--child', second.signedChild, ...net()]), 'package/submitted');
    expect(replaced.replaced_transactions).toEqual([first.msg.child.txid]);
    await n.mine(1);
    for (const txid of [c.txid, second.msg.child.txid]) {
      expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations).toBe(1);
    }

    // The HTLC-success transaction of the mined commitment, zero fee (v3): the holder's added
    // input goes whole to the holder's wallet. Refused alone; confirmed by a CPFP child that
    // package child builds from that wallet output (--spend) and the wallet's coins.
    const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
    const ownScript = Uint8Array.from(Buffer.from((await n.wallet.call<{ scriptPubKey: string }>('getaddressinfo', [own])).scriptPubKey, 'hex'));
    const zero = { ...bare, tx: { ...bare.tx, inputs: [...bare.tx.inputs, { txid: feeCoin.txid, vout: feeCoin.vout, sequence: 0xfffffffd }], outputs: [...bare.tx.outputs, { amount: 50_000n, script: ownScript }] } };
    const zeroFinal = finalizeHtlcTransaction(zero, signHtlcTransaction(zero, derivePrivkey(A.htlc, pcp), 'local'), signHtlcTransaction(zero, derivePrivkey(B.htlc, pcp), 'remote'), PREIMAGE);
    const zeroHex = toHex(serializeTx({ ...zero.tx, inputs: [zeroFinal.tx.inputs[0]!, { ...zero.tx.inputs[1]!, witness: [Uint8Array.of(0x51)] }] }));
    expect(await n.mempool(zeroHex)).toMatchObject({ allowed: false, 'reject-reason': 'min relay fee not met' });
    const cpfp = await offchain(['package', 'child', '--parent', file('htlc-success.hex', zeroHex), '--spend', '1', '--wallet-psbt', await walletPsbt(), '--fee-rate', '4', ...net()]);
    const cpfpMsg = messageOf<{ psbt: string; parent: { txid: string }; child: { txid: string } }>(cpfp, 'package/child');
    const cpfpSigned = file('signed.json', JSON.stringify(await n.wallet.call('walletprocesspsbt', [cpfpMsg.psbt])));
    messageOf(await offchain(['package', 'submit', '--parent', file('child.json', cpfp.stdout), '--child', cpfpSigned, ...net()]), 'package/submitted');
    await n.mine(1);
    for (const txid of [cpfpMsg.parent.txid, cpfpMsg.child.txid]) {
      expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations).toBe(1);
    }
  });
});
