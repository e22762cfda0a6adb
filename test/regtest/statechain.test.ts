/**
 * Statechain coins against a real `bitcoind -regtest` (issue 13), every step through the
 * built CLI with the node as chain source:
 * - a deposit funded from a Core wallet (fundrawtransaction → backup 1 co-signed →
 *   signrawtransactionwithwallet: the txid backup 1 spends does not change), refused for
 *   transfer while the deposit is only in the mempool, then withdrawn cooperatively:
 *   accepted and mined;
 * - a second coin (funded from a walletcreatefundedpsbt PSBT; a second payment to its
 *   address is reported to the receiver) moved Alice → Bob → Carol: at each owner's locktime minus one its
 *   backup is rejected `non-final`; at Carol's locktime hers is accepted while Bob's and
 *   Alice's are still `non-final` — the newest owner exits first — and Carol's backup,
 *   bumped by a CPFP child, is submitted as a package with submitpackage and mined;
 * - the channel (seed 001): Alice hands a coin to the pair Alice+Bob, its backup paying a
 *   BOLT 3 funding output: that backup is non-final one block early, then mined, and the
 *   channel's first commitment spending it is mined;
 * - the pair's virtual close: Alice+Bob sign three-party to hand a coin to Bob alone; his
 *   backup is final while the pair's is not, and is mined;
 * - the pair's cooperative withdrawal, signed three-party: accepted and mined;
 * - (issue 22) an operator's amount lie refused before funding, nothing written; a
 *   withdrawal whose broadcast the node refused, kept, re-broadcast and mined.
 *
 * The tests run in two lanes at once, each with its own nodes and state directories and its
 * tests in order: on two cores the file takes about as long as its longer lane.
 *
 * The narrated flows spawn the built CLI at every step (the first deposit and its cooperative
 * withdrawal, the PSBT deposit and the Alice → Bob → Carol transfers, the channel's joint
 * hand-over, the virtual close, the pair's withdrawal) as does every refusal; the deposits and
 * hand-overs the other tests only stand on, and their steps that are not refused (a withdrawal,
 * statechain-backup, package child / submit), run the same bundle's `main` in-process
 * (in-process-cli.ts), ~10 ms a step instead of a node process. Whatever they produce is still
 * accepted and mined by Core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { coinKey, coinSighash, parseTransaction } from '../../src/lib/statechain/coin.ts';
import { nonceGen, partialSign } from '../../src/lib/statechain/signer.ts';
import { signStatement } from '../../src/lib/statechain/statement.ts';
import type { Statement } from '../../src/lib/statechain/schemas.ts';
import { join } from 'node:path';
import { satsToBtc } from '../../src/lib/chain/amount.ts';
import { tempDir } from '../helpers.ts';
import { bytesOf, hexOf, parseTx } from '../independent/tx.ts';
import { publicKeyOf } from '../independent/secp256k1.ts';
import { taprootOutput } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { KEYS, operatorRecord, ownerDocs, stateSnapshot as snapshot } from '../e2e/statechain-flow.ts';
import { findBitcoind } from './bitcoind.ts';
import { startFundedNode, type FundedNode } from './funded-node.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain, type CliRun } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';
import { LEGACY, buildCommitment, finalizeCommitment, fundingOutput, perCommitmentPoint, pointOf, signCommitment, generateFromSeed } from '../../src/lib/bolt3/index.ts';
import { scriptAddress } from '../../src/lib/address.ts';
import { checkChannelOnCoin } from '../../src/lib/statechain/channel.ts';
import { requireBumpable } from '../../src/lib/statechain/withdrawal.ts';
import { Transaction } from '@scure/btc-signer';

/** Anchored backup terms (a zero-fee backup with a P2A anchor), as four tests deposit under them. */
const ANCHORED = ['--interval', '5', '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '0', '--anchor', '--margin', '2'];

const BITCOIND = findBitcoind();
const TITLE = BITCOIND ? `statechains against bitcoind -regtest (${BITCOIND})` : 'statechains against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

const TERMS = ['--interval', '5', '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '400', '--margin', '2'];
/** Regtest's terms are below an owner's default floor (interval 6, margin 6): its owners lower their floor to match, explicitly. */
const FLOOR = ['--min-interval', '5', '--min-margin', '2'];
const withFloor = (args: string[]) => (['statechain-deposit', 'statechain-transfer', 'statechain-verify'].includes(args[0]!) ? [...args, ...FLOOR] : args);
type Coin = { coin_id: string; outpoint: string; amount_sat: number; backups: string[]; latest_locktime: number; statement: { aggregate: string; address: string } };
type Spend = { hex: string; txid: string; child_hex?: string; broadcast?: unknown };

/** What a lane's steps run against: its node now (a test may point it at another node of the lane) and its state root. */
type Lane = { n: FundedNode; root: string };
/** How a step runs: the built CLI spawned (the narrated flows, every refusal), or its `main` in-process (setup a test repeats). */
type Runner = typeof offchain;

describe.skipIf(!BITCOIND)(TITLE, () => {
  let work: { path: string; cleanup: () => void };
  const operatorPub = hexOf(publicKeyOf(bytesOf(KEYS.OPERATOR_KEY!)));

  beforeAll(() => {
    assertBuilt();
    work = tempDir('offchain-regtest-sc-');
  });
  afterAll(() => work?.cleanup());

  /** Each party's steps through the built CLI against the lane's node, in the lane's own state directories. */
  const flows = (L: Lane) => {
    const as = (who: string, args: string[], input = '', run: Runner = offchain) =>
      run([...withFloor(args), '--key-env', who, '--state-dir', join(L.root, who), ...L.n.chain()], { input, env: KEYS });
    const step = async <T = Record<string, unknown>>(who: string, args: string[], input = '', type?: string, run: Runner = offchain) => {
      const r = await as(who, args, input, run);
      messageOf(r, type);
      return { text: r.stdout, msg: JSON.parse(r.stdout) as T };
    };
    const expectRefused = (r: CliRun, code: string) =>
      expect({ status: r.status, code: errorCode(r), stdout: r.stdout }, describeRun(r)).toEqual({ status: 4, code, stdout: '' });

    /**
     * Steps 1–5 of a deposit funded by the wallet — a raw transaction from
     * fundrawtransaction, or walletcreatefundedpsbt's PSBT as is — signed by the wallet only
     * after backup 1; returns the signed funding's hex too.
     */
    const deposit = async (owner: string, sat: bigint, form: 'raw' | 'psbt' = 'raw', terms = TERMS, run: Runner = offchainInProcess) => {
      const req = await step(owner, ['statechain-deposit', '--start', '--operator-key', operatorPub], '', undefined, run);
      const offer = await step<{ coin_id: string; statement: { address: string } }>('OPERATOR_KEY', ['statechain-deposit', ...terms], req.text, undefined, run);
      const outputs = [{ [offer.msg.statement.address]: satsToBtc(sat) }];
      const fundingFile = join(L.root, `${offer.msg.coin_id}.funding`);
      let sign: () => Promise<{ hex: string; complete: boolean }>;
      if (form === 'raw') {
        const funded = await L.n.wallet.call<{ hex: string }>('fundrawtransaction', [await L.n.wallet.call<string>('createrawtransaction', [[], outputs])]);
        writeFileSync(fundingFile, funded.hex);
        sign = () => L.n.wallet.call('signrawtransactionwithwallet', [funded.hex]);
      } else {
        const { psbt } = await L.n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[], outputs]);
        writeFileSync(fundingFile, psbt);
        sign = async () => L.n.wallet.call('finalizepsbt', [(await L.n.wallet.call<{ psbt: string }>('walletprocesspsbt', [psbt])).psbt]);
      }
      const backup = await step(owner, ['statechain-deposit', '--funding', fundingFile, '--operator-key', operatorPub], offer.text, undefined, run);
      const cosigned = await step('OPERATOR_KEY', ['statechain-deposit'], backup.text, undefined, run);
      const coin = await step<Coin>(owner, ['statechain-deposit'], cosigned.text, 'statechain/coin', run);
      const signed = await sign();
      expect(signed.complete).toBe(true);
      // Backup 1 was signed for the unsigned funding's txid: signing (segwit inputs) keeps it.
      expect(parseTx(signed.hex).txid).toBe(coin.msg.outpoint.split(':')[0]);
      return { coinId: offer.msg.coin_id, coin: coin.msg, fundingHex: signed.hex };
    };

    /** Alice (sender) hands the coin to the pair Alice+Bob through the joint steps; both parts record it. `accept`: flags for each part's accepting step (e.g. --allow-unanchored). */
    const pairReceives = async (coinId: string, extra: string[] = [], accept: string[] = [], run: Runner = offchainInProcess) => {
      const start = ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub, ...extra];
      const part = await step('BOB_KEY', [...start, '--joint-part'], '', undefined, run);
      const partFile = join(L.root, `${coinId}.part.json`);
      writeFileSync(partFile, part.text);
      const req = await step('ALICE_KEY', [...start, '--joint-with', partFile], '', undefined, run);
      const sign = await step('ALICE_KEY', ['statechain-transfer'], req.text, undefined, run);
      const cos = await step('OPERATOR_KEY', ['statechain-transfer'], sign.text, undefined, run);
      const pkg = await step('ALICE_KEY', ['statechain-transfer'], cos.text, undefined, run);
      const handoff = await step('ALICE_KEY', ['statechain-transfer', ...accept], pkg.text, 'statechain/joint-handoff', run);
      const t2 = await step('BOB_KEY', ['statechain-transfer', ...accept], handoff.text, 'statechain/joint-t2', run);
      const acc = await step('ALICE_KEY', ['statechain-transfer'], t2.text, undefined, run);
      const done = await step('OPERATOR_KEY', ['statechain-transfer'], acc.text, undefined, run);
      await step('ALICE_KEY', ['statechain-transfer'], done.text, 'statechain/coin', run);
      return { coin: (await step<Coin>('BOB_KEY', ['statechain-transfer'], done.text, 'statechain/coin', run)).msg };
    };

    const transfer = async (coinId: string, sender: string, receiver: string, run: Runner = offchainInProcess) => {
      const req = await step(receiver, ['statechain-transfer', '--start', '--coin', coinId, '--operator-key', operatorPub], '', undefined, run);
      const sign = await step(sender, ['statechain-transfer'], req.text, undefined, run);
      const cos = await step('OPERATOR_KEY', ['statechain-transfer'], sign.text, undefined, run);
      const pkg = await step(sender, ['statechain-transfer'], cos.text, undefined, run);
      const verified = await step<{ confirmations: number; transfers_remaining: number; anchor?: boolean; backup_fee_sat?: number; backup_value_sat?: number; other_deposits?: { outpoint: string; amount_sat: number }[] }>(receiver, ['statechain-verify'], pkg.text, 'statechain/verified', run);
      const acc = await step(receiver, ['statechain-transfer'], pkg.text, undefined, run);
      const done = await step('OPERATOR_KEY', ['statechain-transfer'], acc.text, undefined, run);
      return { verified: verified.msg, coin: (await step<Coin>(receiver, ['statechain-transfer'], done.text, 'statechain/coin', run)).msg };
    };
    return { as, step, expectRefused, deposit, pairReceives, transfer };
  };

  // Two lanes, run at once (a suite each, its tests in order): each lane mines only its own nodes
  // and writes only its own state directories, so neither moves the other's chain tip between a
  // "one block early" check and the block after it. The split halves the file's wall time on two cores.

  describe('lane one: a node at the default relay floor, one at 1 sat/vB, one at 20 sat/vB', { concurrent: true }, () => {
    const L = { root: '' } as Lane;
    let n: FundedNode;
    let root: string;
    let floorNode: FundedNode;
    let highFeeNode: FundedNode;
    const { as, step, expectRefused, deposit, pairReceives, transfer } = flows(L);

    beforeAll(async () => {
      root = L.root = join(work.path, 'one');
      // The floor node (issue 37) and the high-fee node (issue 24) start beside the lane's node, not inside their tests.
      [n, floorNode, highFeeNode] = await Promise.all([
        startFundedNode(BITCOIND!, 'statechain-funder'),
        startFundedNode(BITCOIND!, 'statechain-floor', ['-minrelaytxfee=0.00001']),
        startFundedNode(BITCOIND!, 'statechain-highfee', ['-minrelaytxfee=0.0002']),
      ]);
      L.n = n;
    }, 180_000);
    afterAll(async () => {
      await Promise.allSettled([n, floorNode, highFeeNode].map((x) => x?.stop()));
    });

    it.sequential('a deposit from a Core wallet: not transferable while in the mempool; withdrawn cooperatively, accepted and mined', async () => {
      const d = await deposit('ALICE_KEY', 150_000n, 'raw', TERMS, offchain); // spawned: the narrated deposit
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      // Mempool only: the operator will not co-sign a transfer.
      const req = await step('BOB_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', operatorPub]);
      const sign = await step('ALICE_KEY', ['statechain-transfer'], req.text);
      expectRefused(await as('OPERATOR_KEY', ['statechain-transfer'], sign.text), 'E_DEPOSIT_UNCONFIRMED');
      await n.mine(2);

      const w1 = await step('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, '--to', n.sweepTo, '--fee-rate', '3']);
      const w2 = await step('OPERATOR_KEY', ['statechain-withdraw'], w1.text);
      const spend = (await step<Spend>('ALICE_KEY', ['statechain-withdraw'], w2.text, 'statechain/spend')).msg;
      const out = parseTx(d.fundingHex).outputs[Number(d.coin.outpoint.split(':')[1])]!;
      verifyKeyPathSpend(spend.hex, [{ amount: out.amount, script: out.script }], taprootOutput(bytesOf(d.coin.statement.aggregate).subarray(1)).outputKey);
      await n.acceptAndMine(spend.hex);
      // The same request again (a lost answer) is answered the same: no second signature.
      expect((await as('OPERATOR_KEY', ['statechain-withdraw'], w1.text)).stdout).toBe(w2.text);
      // And the closed coin moves no more.
      expectRefused(await as('OPERATOR_KEY', ['statechain-transfer'], sign.text), 'E_COIN_WITHDRAWN');
    });

    it.sequential('the amount lie: an operator that signs backup 1 for 1 sat less than the funding is refused before funding, nothing written; the honest answer is mined-valid', async () => {
      const req = await step('DAVE_KEY', ['statechain-deposit', '--start', '--operator-key', operatorPub]);
      const offer = await step<{ coin_id: string; statement: { address: string } }>('OPERATOR_KEY', ['statechain-deposit', ...TERMS], req.text);
      const funded = await n.wallet.call<{ hex: string }>('fundrawtransaction', [await n.wallet.call<string>('createrawtransaction', [[], [{ [offer.msg.statement.address]: satsToBtc(100_000n) }]])]);
      const file = join(root, 'lie.funding');
      writeFileSync(file, funded.hex);
      const backup = await step<{ backup_tx: string }>('DAVE_KEY', ['statechain-deposit', '--funding', file], offer.text);
      const honest = await step<Record<string, unknown> & { statement: Statement; owner_pubnonce: string }>('OPERATOR_KEY', ['statechain-deposit'], backup.text);
      // The operator's lie, made as a dishonest operator would: its statement says 99,999 sat and is
      // re-signed with its key; its partial signature is over backup 1 spending 99,999 sat.
      const op = operatorRecord(root, offer.msg.coin_id);
      const { operator_sig: _sig, ...body } = { ...honest.msg.statement, amount_sat: 99_999 };
      const statement = signStatement(body, keyPair(bytesOf(KEYS.OPERATOR_KEY!)), { deterministic: true, bytes: (len: number) => new Uint8Array(len) });
      const tx = parseTransaction(backup.msg.backup_tx, 'backup 1');
      tx.updateInput(0, { witnessUtxo: { script: coinKey(bytesOf(body.owner_share), bytesOf(body.operator_share)).script, amount: 99_999n } }, true);
      const n1 = nonceGen(new Uint8Array(64).fill(3));
      const psig = partialSign({ shares: [bytesOf(body.owner_share), bytesOf(body.operator_share)], pubnonces: [bytesOf(honest.msg.owner_pubnonce), n1.pubnonce], msg: coinSighash(tx) }, 1, n1.secnonce, bytesOf(op.share_secret));
      const lie = { ...honest.msg, statement, operator_pubnonce: hexOf(n1.pubnonce), operator_psig: hexOf(psig) };
      const before = snapshot(join(root, 'DAVE_KEY'));
      expectRefused(await as('DAVE_KEY', ['statechain-deposit'], JSON.stringify(lie)), 'E_BAD_STATEMENT');
      expect(snapshot(join(root, 'DAVE_KEY'))).toEqual(before);
      // The honest answer still finishes backup 1 (the nonce was not spent by the refusal).
      const coin = await step<Coin>('DAVE_KEY', ['statechain-deposit'], honest.text, 'statechain/coin');
      expect(coin.msg.amount_sat).toBe(100_000);
    });

    it.sequential('a withdrawal whose broadcast the node refused is kept: printed again, re-broadcast once its deposit is on chain, accepted and mined', async () => {
      const d = await deposit('ALICE_KEY', 110_000n); // the funding is signed but not yet broadcast
      const to = ['--to', n.sweepTo, '--fee-rate', '3'];
      const w1 = await step('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, ...to], '', undefined, offchainInProcess);
      const w2 = await step('OPERATOR_KEY', ['statechain-withdraw'], w1.text, undefined, offchainInProcess);
      // The node refuses it: its input (the deposit) is not on chain yet.
      const refusedRun = await as('ALICE_KEY', ['statechain-withdraw', '--broadcast'], w2.text);
      expect({ status: refusedRun.status === 0, stdout: refusedRun.stdout }, describeRun(refusedRun)).toEqual({ status: false, stdout: '' });
      expect(refusedRun.stderr).toContain('is kept');
      const spend = (await step<Spend>('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId], '', 'statechain/spend', offchainInProcess)).msg;
      // Printed again by the spawned CLI: the same spend as the in-process one printed.
      expect((await step<Spend>('ALICE_KEY', ['statechain-withdraw'], w2.text, 'statechain/spend')).msg.hex).toBe(spend.hex);
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      await n.mine(1);
      const sent = (await step<Spend>('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, '--broadcast'], '', 'statechain/spend', offchainInProcess)).msg;
      expect(sent.broadcast).toEqual({ txid: spend.txid });
      await n.mine(1);
      const mined = await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [spend.txid, true]);
      expect(mined.confirmations).toBe(1);
    });

    it.sequential('issue 37, finding 5: at a node floor (1 sat/vB) above the rate asked (0.5), the withdrawal is refused before anything is signed; signed offline, it is refused alone and bumped through its anchor from a wallet (package child, package submit): mined', async () => {
      const normal = n;
      n = L.n = floorNode;
      try {
        const d = await deposit('ALICE_KEY', 80_000n);
        await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
        await n.mine(2);
        const to = ['--to', n.sweepTo, '--fee-rate', '0.5'];
        // The node named (--rpc-url): refused at the owner's first step (before: co-signed, the coin closed); nothing written anywhere.
        const dirs = ['ALICE_KEY', 'OPERATOR_KEY'].map((who) => join(root, who));
        const before = dirs.map(snapshot);
        expectRefused(await as('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId, ...to]), 'E_FEE_TOO_LOW');
        expect(dirs.map(snapshot)).toEqual(before);

        // Offline (no node to ask), the owner may still ask 0.5: the operator co-signs it — a withdrawal it can count on being bumped.
        const offline = await offchainInProcess(['statechain-withdraw', '--coin', d.coinId, ...to, '--key-env', 'ALICE_KEY', '--state-dir', join(root, 'ALICE_KEY')], { env: KEYS });
        messageOf(offline, 'statechain/withdraw-request');
        const cos = await step('OPERATOR_KEY', ['statechain-withdraw'], offline.stdout, undefined, offchainInProcess);
        const refusedAlone = await as('ALICE_KEY', ['statechain-withdraw', '--broadcast'], cos.text);
        expectRefused(refusedAlone, 'E_BROADCAST_REJECTED');
        expect(refusedAlone.stderr).toContain('min relay fee not met');
        const spend = await step<Spend>('ALICE_KEY', ['statechain-withdraw', '--coin', d.coinId], '', 'statechain/spend', offchainInProcess);
        const w = parseTx(spend.msg.hex);
        expect([w.version, hexOf(w.outputs[1]!.script), w.outputs[1]!.amount]).toEqual([3, '51024e73', 240n]);
        expect(await n.mempool(spend.msg.hex)).toMatchObject({ allowed: false, 'reject-reason': 'min relay fee not met' });

        // Issue 37 review: a stranger who saw it spends the anchor first — its 240 sat the whole fee of a child paying to
        // OP_RETURN, no coin of its own — and gets the pair into the mempool at ~1.6 sat/vB: TRUC's one child is taken.
        const stranger = new Transaction({ version: 3, allowUnknownOutputs: true });
        stranger.addInput({ txid: spend.msg.txid, index: 1, sequence: 0xffff_fffd });
        stranger.addOutput({ script: bytesOf('6a08' + '5e'.repeat(8)), amount: 0n });
        const strangerHex = hexOf(stranger.toBytes(true, true));
        const pinned = await n.node.rpc.call<{ package_msg: string }>('submitpackage', [[spend.msg.hex, strangerHex]]);
        expect(pinned.package_msg).toBe('success');
        const strangerFile = join(root, `${d.coinId}.floor.stranger.hex`);
        writeFileSync(strangerFile, strangerHex);

        // Anyone holding it still bumps it: a child spending the anchor and a wallet coin, the package at 5 sat/vB, replacing the stranger's.
        const spendFile = join(root, `${d.coinId}.floor.spend.json`);
        writeFileSync(spendFile, spend.text);
        const walletFile = join(root, `${d.coinId}.floor.wallet.json`);
        const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
        writeFileSync(walletFile, JSON.stringify(await n.wallet.call('walletcreatefundedpsbt', [[], [{ [own]: satsToBtc(20_000n) }], 0, { fee_rate: 2 }])));
        const child = await offchainInProcess(['package', 'child', '--parent', spendFile, '--wallet-psbt', walletFile, '--fee-rate', '5', '--replaces', strangerFile, '--network', 'regtest', ...n.chain()]);
        const childMsg = messageOf<{ psbt: string; child: { txid: string } }>(child, 'package/child');
        const childFile = join(root, `${d.coinId}.floor.child.json`);
        writeFileSync(childFile, child.stdout);
        const signedFile = join(root, `${d.coinId}.floor.signed.json`);
        writeFileSync(signedFile, JSON.stringify(await n.wallet.call('walletprocesspsbt', [childMsg.psbt])));
        messageOf(await offchainInProcess(['package', 'submit', '--parent', childFile, '--child', signedFile, '--network', 'regtest', ...n.chain()]), 'package/submitted');
        await n.mine(1);
        for (const txid of [spend.msg.txid, childMsg.child.txid]) {
          expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations).toBe(1);
        }
        // The stranger's child was replaced: neither mined nor waiting.
        await expect(n.node.rpc.call('getrawtransaction', [stranger.id, 1])).rejects.toThrow();
      } finally {
        n = L.n = normal;
      }
    });

    it.sequential('issue 37 review: the operator\'s bumpable rule against Core — each withdrawal shape it refuses, Core refuses for its own reason (non-final, non-BIP68-final, tx-size-small, scriptpubkey); each it co-signs passes every rule but the missing signature', async () => {
      // The coin a withdrawal spends: any confirmed 60,000 sat key-path (P2TR) output, as a statechain coin is. Nothing here is
      // signed, so Core sees that shape with an empty witness; a deposit through the CLI would add nothing to what is checked.
      const { txid, vout } = await n.fund(await n.wallet.call<string>('getnewaddress', ['', 'bech32m']), 60_000n);
      const dest = bytesOf('0014' + '42'.repeat(20));
      const P2A = bytesOf('51024e73');
      const shape = (o: { lockTime?: number; sequence?: number; outputs: [Uint8Array, bigint][] }) => {
        const tx = new Transaction({ version: 3, lockTime: o.lockTime ?? 0, allowUnknownOutputs: true });
        tx.addInput({ txid, index: vout, sequence: o.sequence ?? 0xffff_fffd });
        for (const [script, amount] of o.outputs) tx.addOutput({ script, amount });
        return tx;
      };
      const pay = 60_000n - 240n - 500n;
      const cases: [string, Transaction, string | null][] = [
        ['the template', shape({ outputs: [[dest, pay], [P2A, 240n]] }), null],
        ['a data carrier beside it', shape({ outputs: [[dest, pay], [P2A, 240n], [bytesOf('6a02abcd'), 0n]] }), null],
        ['to a witness version 2 program', shape({ outputs: [[bytesOf('5202abcd'), pay], [P2A, 240n]] }), null],
        ['a locktime', shape({ lockTime: 1_000_000, outputs: [[dest, pay], [P2A, 240n]] }), 'non-final'],
        ['a relative lock', shape({ sequence: 0x0000_ffff, outputs: [[dest, pay], [P2A, 240n]] }), 'non-BIP68-final'],
        ['the coin as fee, a P2A alone', shape({ outputs: [[P2A, 240n]] }), 'tx-size-small'],
        ['a v0 program of 3 bytes', shape({ outputs: [[bytesOf('0003010203'), pay], [P2A, 240n]] }), 'scriptpubkey'],
        ['OP_RETURN OP_NOP', shape({ outputs: [[dest, pay], [P2A, 240n], [bytesOf('6a61'), 0n]] }), 'scriptpubkey'],
      ];
      for (const [name, tx, coreReason] of cases) {
        const core = await n.mempool(hexOf(tx.unsignedTx));
        let refused: string | null = null;
        try {
          requireBumpable(tx, 60_000n);
        } catch (e) {
          refused = (e as { code?: string }).code ?? String(e);
        }
        if (coreReason === null) {
          // Everything Core checks before scripts passed: what stops it is the signature only the owner and operator can add.
          expect(core['reject-reason'], name).toMatch(/script-verify-flag-failed|witness/i);
          expect(refused, name).toBeNull();
        } else {
          expect(core['reject-reason'], name).toBe(coreReason);
          expect(refused, name).toBe('E_WITHDRAWAL_UNBUMPABLE');
        }
      }
    });

    it.sequential('a funding PSBT with a P2SH-wrapped input is refused: signing it would change the txid backup 1 spends', async () => {
      const wrapped = await n.wallet.call<string>('getnewaddress', ['', 'p2sh-segwit']);
      const coin = await n.fund(wrapped, 200_000n);
      const req = await step('DAVE_KEY', ['statechain-deposit', '--start', '--operator-key', operatorPub]);
      const offer = await step<{ statement: { address: string } }>('OPERATOR_KEY', ['statechain-deposit', ...TERMS], req.text);
      const { psbt } = await n.wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [[coin], [{ [offer.msg.statement.address]: satsToBtc(100_000n) }], 0, { add_inputs: false }]);
      const file = join(root, 'wrapped.psbt');
      writeFileSync(file, psbt);
      expectRefused(await as('DAVE_KEY', ['statechain-deposit', '--funding', file], offer.text), 'E_FUNDING_MALLEABLE');
    });

    // Alice → Bob → Carol in two tests (the second goes on from the coin the first moved): the transfers, then the exits.
    let abc: { coinId: string; backups: { hex: string; lockTime: number }[] } | undefined;
    it.sequential('Alice → Bob → Carol: a second payment to the coin\'s address is reported to Bob; each owner\'s backup is final 5 blocks before the previous one', async () => {
      const d = await deposit('ALICE_KEY', 120_000n, 'psbt', TERMS, offchain); // spawned: the narrated PSBT deposit and transfers
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      // Someone pays the coin's address a second time: no backup covers it, and the receiver is told.
      const second = await n.fund(d.coin.statement.address, 7_000n);
      await n.mine(1);
      const toBob = await transfer(d.coinId, 'ALICE_KEY', 'BOB_KEY', offchain);
      expect(toBob.verified.confirmations).toBe(2);
      expect(toBob.verified.other_deposits).toEqual([{ outpoint: `${second.txid}:${second.vout}`, amount_sat: 7_000, confirmations: 2 }]);
      const toCarol = await transfer(d.coinId, 'BOB_KEY', 'CAROL_KEY', offchain);
      const [alice, bob, carol] = toCarol.coin.backups.map((hex) => ({ hex, lockTime: parseTx(hex).lockTime }));
      expect([alice!.lockTime - bob!.lockTime, bob!.lockTime - carol!.lockTime]).toEqual([5, 5]);
      abc = { coinId: d.coinId, backups: [alice!, bob!, carol!] };
    });

    it.sequential('Alice → Bob → Carol, then: the newest backup is final first; Carol exits by a CPFP package, mined', async () => {
      expect(abc, 'the transfers (the test before) did not finish').toBeDefined();
      const { coinId } = abc!;
      const [alice, bob, carol] = abc!.backups;
      // One block before Carol's locktime: hers is non-final (as are the older ones).
      await n.mine(carol!.lockTime - 1 - (await n.tip()));
      for (const b of [carol!, bob!, alice!]) expect(await n.mempool(b.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
      expectRefused(await as('CAROL_KEY', ['statechain-backup', '--coin', coinId]), 'E_NOT_FINAL');
      await n.mine(1);
      expect(await n.mempool(carol!.hex)).toMatchObject({ allowed: true });
      for (const b of [bob!, alice!]) expect(await n.mempool(b.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });

      const spend = (await step<Spend>('CAROL_KEY', ['statechain-backup', '--coin', coinId, '--to', n.sweepTo, '--fee-rate', '20', '--broadcast'], '', 'statechain/spend')).msg;
      expect(spend.txid).toBe(parseTx(carol!.hex).txid);
      expect(spend.child_hex).toBeDefined();
      // The node's answer read as package submit reads it (snake_case, each transaction by its wtxid; statechain.spend.json).
      expect(spend.broadcast).toMatchObject({ package_msg: 'success', parent: { txid: spend.txid }, child: { txid: parseTx(spend.child_hex!).txid }, replaced_transactions: [] });
      await n.mine(1);
      for (const txid of [spend.txid, parseTx(spend.child_hex!).txid]) {
        expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations).toBe(1);
      }
      // The coin's output is gone: Bob's backup can never confirm now.
      expect(await n.mempool(bob!.hex)).toMatchObject({ allowed: false });
    });

    it.sequential('a channel on the coin: the pair Alice+Bob receives it, its backup paying the channel\'s funding output; it and the first BOLT 3 commitment are mined', async () => {
      // Alice's and Bob's channel keys (test keys), and the channel's BOLT 3 funding output.
      const sec = (b: number) => new Uint8Array(32).fill(b);
      const keys = (o: number) => ({ fundingPubkey: pointOf(sec(o + 1)), revocationBasepoint: pointOf(sec(o + 2)), paymentBasepoint: pointOf(sec(o + 3)), delayedPaymentBasepoint: pointOf(sec(o + 4)), htlcBasepoint: pointOf(sec(o + 5)) });
      const alice = keys(0x10);
      const bob = keys(0x20);
      const funding = fundingOutput(alice.fundingPubkey, bob.fundingPubkey, 0n);
      const d = await deposit('ALICE_KEY', 90_000n);
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      await n.mine(2);
      // The coin goes to the pair Alice+Bob (O = A + B), its backup paying the channel's funding. Old terms (a one-output
      // backup with its fixed fee, mined alone here): each part takes them only with --allow-unanchored, accepting the fee risk.
      const coin = (await pairReceives(d.coinId, ['--backup-address', scriptAddress(funding.script, 'regtest')!], ['--allow-unanchored'], offchain)).coin; // spawned: the narrated joint hand-over
      const [aliceBackup, channelFunding] = coin.backups.map((hex) => parseTx(hex));
      expect(hexOf(channelFunding!.outputs[0]!.script)).toBe(hexOf(funding.script));
      checkChannelOnCoin({ fundingLocktime: channelFunding!.lockTime, previousLocktime: aliceBackup!.lockTime, toSelfDelay: 6, htlcExpiries: [] });

      // The first commitment (Alice's, legacy format) spends the funding backup's output.
      const params = {
        format: LEGACY, fundingOutpoint: { txid: channelFunding!.txid, vout: 0 }, fundingSatoshis: channelFunding!.outputs[0]!.amount,
        opener: 'local' as const, local: alice, remote: bob, toSelfDelay: 6, dustLimitSatoshis: 546n,
      };
      const perCommitment = perCommitmentPoint(generateFromSeed(sec(0x33), 2 ** 48 - 1));
      const total = channelFunding!.outputs[0]!.amount * 1000n;
      const commitment = buildCommitment(params, { commitmentNumber: 0, perCommitmentPoint: perCommitment, toLocalMsat: total - 20_000_000n, toRemoteMsat: 20_000_000n, feeratePerKw: 253, htlcs: [] });
      const first = finalizeCommitment(commitment, signCommitment(commitment, sec(0x11)), signCommitment(commitment, sec(0x21)));

      await n.mine(channelFunding!.lockTime - 1 - (await n.tip()));
      expect(await n.mempool(coin.backups[1]!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
      await n.mine(1);
      await n.acceptAndMine(coin.backups[1]!);
      await n.acceptAndMine(first.hex);
      // Alice's own backup can never confirm now: the coin is in the channel.
      expect(await n.mempool(coin.backups[0]!)).toMatchObject({ allowed: false });
    });

    // Split in two tests (one coin each) on the lane's high-fee node: old terms, then anchored terms.
    for (const anchored of [false, true]) {
      it.sequential(anchored ? 'old terms\' limitation answered (issue 24): under anchored terms at the same fees the pair wins the same race — its backup, bumped by package child, is mined; the previous owner\'s older backup, bumped from its share\'s output, is refused' : 'old terms, the documented limitation (issue 24): fees above the terms\' backup fee, the pair\'s backup cannot be bumped by anyone — the previous owner\'s older backup, bumped from its share\'s output, confirms and takes the coin', async () => {
        // "Fees have risen": a node whose relay floor (20 sat/vB) is above what the terms' 400 sat backup fee pays (~3.6 sat/vB).
        const normal = n;
        n = L.n = highFeeNode;
        try {
          const { backupWithChild } = await import('../../src/lib/statechain/owner.ts');
          type OwnerRecord = Parameters<typeof backupWithChild>[0];
          const terms = anchored ? ANCHORED : TERMS;
          const d = await deposit('ALICE_KEY', 60_000n, 'raw', terms);
          await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
          await n.mine(2);
          // Old terms are refused by a pair by default (E_BACKUP_UNBUMPABLE: this very race); the limitation is shown with the opt-in.
          const coin = (await pairReceives(d.coinId, [], anchored ? [] : ['--allow-unanchored'])).coin;
          const [alice, pair] = coin.backups.map((hex) => ({ hex, tx: parseTx(hex) }));
          // The previous owner (Alice, who sent the coin to the pair) still holds her own older backup and its key.
          const aliceRecord = ownerDocs<OwnerRecord>(root, 'ALICE_KEY').get(`coin-${d.coinId}`)!;
          await n.mine(alice!.tx.lockTime - (await n.tip()));
          // Both backups are final now. The pair's alone: below the floor (old terms) or zero fee (anchored).
          expect(await n.mempool(pair!.hex)).toMatchObject({ allowed: false, 'reject-reason': 'min relay fee not met' });
          if (!anchored) {
            // Nobody can bump the pair's backup: it pays the pair's key O = A + B (no part signs alone) and has no anchor.
            expect(pair!.tx.outputs).toHaveLength(1);
            const r = await as('BOB_KEY', ['statechain-backup', '--coin', d.coinId, '--to', n.sweepTo, '--fee-rate', '30']);
            expectRefused(r, 'E_NO_CHILD');
          } else {
            // Either part bumps the pair's anchored backup from its own wallet (package child, then package submit).
            const spend = await step('BOB_KEY', ['statechain-backup', '--coin', d.coinId], '', 'statechain/spend', offchainInProcess);
            const spendFile = join(root, `${d.coinId}.race.spend.json`);
            writeFileSync(spendFile, spend.text);
            const walletFile = join(root, `${d.coinId}.race.wallet.json`);
            const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
            writeFileSync(walletFile, JSON.stringify(await n.wallet.call('walletcreatefundedpsbt', [[], [{ [own]: satsToBtc(20_000n) }], 0, { fee_rate: 25 }])));
            const child = await offchainInProcess(['package', 'child', '--parent', spendFile, '--wallet-psbt', walletFile, '--fee-rate', '30', '--network', 'regtest', ...n.chain()]);
            const childMsg = messageOf<{ psbt: string; child: { txid: string } }>(child, 'package/child');
            const childFile = join(root, `${d.coinId}.race.child.json`);
            writeFileSync(childFile, child.stdout);
            const signedFile = join(root, `${d.coinId}.race.signed.json`);
            writeFileSync(signedFile, JSON.stringify(await n.wallet.call('walletprocesspsbt', [childMsg.psbt])));
            messageOf(await offchainInProcess(['package', 'submit', '--parent', childFile, '--child', signedFile, '--network', 'regtest', ...n.chain()]), 'package/submitted');
          }
          // The previous owner races with her older backup, bumped from her share's output at 30 sat/vB (the one child builder).
          const cheat = backupWithChild(aliceRecord, { destination: bytesOf(hexOf(parseTx(coin.backups[0]!).outputs[0]!.script)), feeRate: 30, feeLimits: { maxFeeRate: 10_000, maxFeeShare: 0.5 } }, new Uint8Array(32));
          expect(cheat.backup.id).toBe(alice!.tx.txid);
          const answer = await n.node.rpc.call<{ package_msg: string }>('submitpackage', [[cheat.hex, cheat.childHex!]]);
          await n.mine(1);
          const confirmed = async (txid: string) => ((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1]).catch(() => ({ confirmations: 0 }))).confirmations ?? 0);
          if (!anchored) {
            // Old terms: the previous owner's backup is mined and the coin is hers; the pair's backup can never confirm.
            expect(answer.package_msg).toBe('success');
            expect(await confirmed(alice!.tx.txid)).toBe(1);
            expect(await n.mempool(pair!.hex)).toMatchObject({ allowed: false });
          } else {
            // Anchored: the pair's package was in first; the previous owner's conflicting backup is refused, the pair's is mined.
            expect(answer.package_msg).not.toBe('success');
            expect(await confirmed(pair!.tx.txid)).toBe(1);
            expect(await confirmed(alice!.tx.txid)).toBe(0);
          }
        } finally {
          n = L.n = normal;
        }
      });
    }
  });
  describe('lane two: a node at the default relay floor', { concurrent: true }, () => {
    const L = { root: '' } as Lane;
    let n: FundedNode;
    let root: string;
    const { as, step, expectRefused, deposit, pairReceives, transfer } = flows(L);

    beforeAll(async () => {
      root = L.root = join(work.path, 'two');
      n = L.n = await startFundedNode(BITCOIND!, 'statechain-funder-2');
    }, 180_000);
    afterAll(async () => {
      await n?.stop();
    });

    // One test per part that bumps (one coin each).
    for (const bumper of ['ALICE_KEY', 'BOB_KEY']) {
      it.sequential(`anchored backups (issue 24): the pair\'s zero-fee backup, refused alone, is bumped by ${bumper === 'ALICE_KEY' ? 'Alice' : 'Bob'} (either part) from its own wallet with package child, and mined before the previous owner\'s backup is final`, async () => {
        const d = await deposit('ALICE_KEY', 60_000n, 'raw', ANCHORED);
        await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
        await n.mine(2);
        const coin = (await pairReceives(d.coinId)).coin;
        const [alice, pair] = coin.backups.map((hex) => ({ hex, tx: parseTx(hex) }));
        // Both backups: the coin less nothing, and a 0-sat pay-to-anchor (OP_1 <4e73>).
        for (const b of [alice!, pair!]) expect(b.tx.outputs.map((o) => [o.amount, hexOf(o.script).length])).toEqual([[60_000n, 68], [0n, 8]]);
        expect(hexOf(pair!.tx.outputs[1]!.script)).toBe('51024e73');
        expect(alice!.tx.lockTime - pair!.tx.lockTime).toBe(5);

        await n.mine(pair!.tx.lockTime - (await n.tip()));
        // Final, but zero fee: the node will not take the pair's backup alone — nor, yet, Alice's older one.
        expect(await n.mempool(pair!.hex)).toMatchObject({ allowed: false, 'reject-reason': 'min relay fee not met' });
        expect(await n.mempool(alice!.hex)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });

        // Either part prints the pair's backup from its own state and bumps it from a wallet.
        const spend = await step<Spend>(bumper, ['statechain-backup', '--coin', d.coinId], '', 'statechain/spend', offchainInProcess);
        expect(spend.msg.txid).toBe(pair!.tx.txid);
        const spendFile = join(root, `${d.coinId}.${bumper}.spend.json`);
        writeFileSync(spendFile, spend.text);
        const walletFile = join(root, `${d.coinId}.${bumper}.wallet.json`);
        const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
        writeFileSync(walletFile, JSON.stringify(await n.wallet.call('walletcreatefundedpsbt', [[], [{ [own]: satsToBtc(20_000n) }], 0, { fee_rate: 1 }])));
        const child = await offchainInProcess(['package', 'child', '--parent', spendFile, '--wallet-psbt', walletFile, '--fee-rate', '10', '--network', 'regtest', ...n.chain()]);
        const childMsg = messageOf<{ psbt: string; child: { txid: string } }>(child, 'package/child');
        const childFile = join(root, `${d.coinId}.${bumper}.child.json`);
        writeFileSync(childFile, child.stdout);
        const signedFile = join(root, `${d.coinId}.${bumper}.signed.json`);
        writeFileSync(signedFile, JSON.stringify(await n.wallet.call('walletprocesspsbt', [childMsg.psbt])));
        messageOf(await offchainInProcess(['package', 'submit', '--parent', childFile, '--child', signedFile, '--network', 'regtest', ...n.chain()]), 'package/submitted');
        await n.mine(1);
        for (const txid of [pair!.tx.txid, childMsg.child.txid]) {
          expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [txid, 1])).confirmations).toBe(1);
        }
        // Alice's backup, final only now, can never confirm: the coin went to the pair's.
        await n.mine(alice!.tx.lockTime - (await n.tip()));
        expect(await n.mempool(alice!.hex)).toMatchObject({ allowed: false });
      });
    }

    it.sequential('an anchored backup of a single owner: statechain-backup --to --fee-rate spends its output and its anchor (ephemeral dust) in one child; the package is checked, submitted and mined', async () => {
      const d = await deposit('ALICE_KEY', 50_000n, 'raw', ANCHORED);
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      await n.mine(2);
      // Bob verifies the anchored chain (statechain-verify says so) and takes the coin.
      const toBob = await transfer(d.coinId, 'ALICE_KEY', 'BOB_KEY');
      expect(toBob.verified).toMatchObject({ anchor: true, backup_fee_sat: 0, backup_value_sat: 50_000 });
      const backup = parseTx(toBob.coin.backups[1]!);
      await n.mine(backup.lockTime - (await n.tip()));
      const spend = (await step<Spend>('BOB_KEY', ['statechain-backup', '--coin', d.coinId, '--to', n.sweepTo, '--fee-rate', '3', '--broadcast'], '', 'statechain/spend', offchainInProcess)).msg;
      const child = parseTx(spend.child_hex!);
      expect(child.inputs.map((i) => [i.txid, i.vout])).toEqual([[backup.txid, 0], [backup.txid, 1]]);
      expect(spend.broadcast).toMatchObject({ package_msg: 'success', parent: { txid: backup.txid }, child: { txid: child.txid, wtxid: child.wtxid } });
      await n.mine(1);
      expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [child.txid, 1])).confirmations).toBe(1);
    });

    it.sequential('review: the previous owner\'s older anchored backup, bumped from its own wallet and mined, wins the race; the current owner\'s statechain-backup --broadcast is refused (exit 4, E_BROADCAST_REJECTED), not printed as sent', async () => {
      const d = await deposit('ALICE_KEY', 50_000n, 'raw', ANCHORED);
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      await n.mine(2);
      const toBob = await transfer(d.coinId, 'ALICE_KEY', 'BOB_KEY');
      const [alice, bob] = toBob.coin.backups.map((hex) => ({ hex, tx: parseTx(hex) }));
      // Bob sleeps past his head start: Alice's older backup is final too, and she bumps it with package child.
      await n.mine(alice!.tx.lockTime - (await n.tip()));
      const parentFile = join(root, `${d.coinId}.alice-backup.hex`);
      writeFileSync(parentFile, alice!.hex);
      const walletFile = join(root, `${d.coinId}.alice-wallet.json`);
      const own = await n.wallet.call<string>('getnewaddress', ['', 'bech32']);
      writeFileSync(walletFile, JSON.stringify(await n.wallet.call('walletcreatefundedpsbt', [[], [{ [own]: satsToBtc(20_000n) }], 0, { fee_rate: 1 }])));
      const child = messageOf<{ psbt: string }>(await offchainInProcess(['package', 'child', '--parent', parentFile, '--wallet-psbt', walletFile, '--fee-rate', '10', '--network', 'regtest', ...n.chain()]), 'package/child');
      const childFile = join(root, `${d.coinId}.alice-child.json`);
      writeFileSync(childFile, JSON.stringify(child));
      const signedFile = join(root, `${d.coinId}.alice-signed.json`);
      writeFileSync(signedFile, JSON.stringify(await n.wallet.call('walletprocesspsbt', [child.psbt])));
      messageOf(await offchainInProcess(['package', 'submit', '--parent', childFile, '--child', signedFile, '--network', 'regtest', ...n.chain()]), 'package/submitted');
      await n.mine(1);
      expect((await n.node.rpc.call<{ confirmations?: number }>('getrawtransaction', [alice!.tx.txid, 1])).confirmations).toBe(1);
      // Bob wakes up: his package cannot go in (the coin is spent); he must be told, not shown a "broadcast".
      const r = await as('BOB_KEY', ['statechain-backup', '--coin', d.coinId, '--to', n.sweepTo, '--fee-rate', '3', '--broadcast']);
      expectRefused(r, 'E_BROADCAST_REJECTED');
      expect((await n.mempool(bob!.hex))['allowed']).toBe(false);
    });

    it.sequential('the pair\'s virtual close: Alice+Bob sign three-party to hand the coin to Bob alone; his backup is final first and mined', async () => {
      const d = await deposit('ALICE_KEY', 80_000n);
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      await n.mine(2);
      // Old terms (Bob's one-output backup, mined alone below): the pair takes them with --allow-unanchored.
      await pairReceives(d.coinId, [], ['--allow-unanchored']);
      const req = await step('BOB_KEY', ['statechain-transfer', '--start', '--coin', d.coinId, '--operator-key', operatorPub]);
      const nonce = await step('BOB_KEY', ['statechain-transfer'], req.text, 'statechain/joint-nonce');
      const sign = await step('ALICE_KEY', ['statechain-transfer'], nonce.text);
      const cos = await step('OPERATOR_KEY', ['statechain-transfer'], sign.text);
      const jointSign = await step('ALICE_KEY', ['statechain-transfer'], cos.text, 'statechain/joint-sign');
      const pkg = await step('BOB_KEY', ['statechain-transfer'], jointSign.text, 'statechain/transfer-package');
      const acc = await step('BOB_KEY', ['statechain-transfer'], pkg.text);
      const done = await step('OPERATOR_KEY', ['statechain-transfer'], acc.text);
      const coin = (await step<Coin>('BOB_KEY', ['statechain-transfer'], done.text, 'statechain/coin')).msg;
      expect(coin.backups).toHaveLength(3);
      const [first, pair, bob] = coin.backups.map((hex) => parseTx(hex));
      expect(first!.lockTime - pair!.lockTime).toBe(5);
      expect(pair!.lockTime - bob!.lockTime).toBe(5);
      // Bob's backup (made by the three-party signature) is the first that can confirm.
      await n.mine(bob!.lockTime - 1 - (await n.tip()));
      expect(await n.mempool(coin.backups[2]!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
      expect(await n.mempool(coin.backups[1]!)).toMatchObject({ allowed: false, 'reject-reason': 'non-final' });
      await n.mine(1);
      await n.acceptAndMine(coin.backups[2]!);
      expect(await n.mempool(coin.backups[1]!)).toMatchObject({ allowed: false });
    });

    it.sequential('the pair withdraws cooperatively: B\'s nonce, A\'s request with the same destination, the three-party signature; accepted and mined', async () => {
      // Anchored terms: the pair takes them by default (only the cooperative spend is mined here).
      const d = await deposit('ALICE_KEY', 70_000n, 'raw', ['--interval', '5', '--initial-lock', '+40', '--min-confirmations', '2', '--backup-fee', '0', '--anchor', '--margin', '2']);
      await n.node.rpc.call('sendrawtransaction', [d.fundingHex]);
      await n.mine(2);
      await pairReceives(d.coinId);
      const to = ['--to', n.sweepTo, '--fee-rate', '2'];
      const nonce = await step('BOB_KEY', ['statechain-withdraw', '--coin', d.coinId, ...to], '', 'statechain/joint-withdraw-nonce');
      const req = await step('ALICE_KEY', ['statechain-withdraw', ...to], nonce.text, 'statechain/withdraw-request');
      const cos = await step('OPERATOR_KEY', ['statechain-withdraw'], req.text);
      const sign = await step('ALICE_KEY', ['statechain-withdraw'], cos.text, 'statechain/joint-withdraw-sign');
      const spend = (await step<Spend>('BOB_KEY', ['statechain-withdraw'], sign.text, 'statechain/spend')).msg;
      await n.acceptAndMine(spend.hex);
    });
  });
});
