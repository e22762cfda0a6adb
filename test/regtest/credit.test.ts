/**
 * Optional integration suite (BRIEF §3.1, §5): the credit contract's whole life against a
 * real `bitcoind -regtest`, every protocol step run as the built CLI (`node bin/run.js`)
 * with `--rpc-url` and the node's cookie, so the mint asks the node for the tip and the
 * funding's confirmations. Runs when `bitcoind` is on PATH or BITCOIND names it; otherwise
 * the suite is skipped and its title (and a warning line) says why.
 *
 * Timeline (heights are read from the node, not assumed): mine 110 blocks to a bech32m
 * wallet; contract A opens (refund verified before the wallet signs the funding), takes
 * payments, and its refund is rejected as "non-final" at expiry − 1 and accepted at expiry;
 * contract B takes payments and the mint exits with its latest state plus a CPFP child,
 * accepted as a package and mined well before B's expiry, after which B's (final) refund is
 * rejected because its input is spent. Every transaction we produce goes through
 * testmempoolaccept before it is broadcast.
 *
 * Contract A's open, first payment (with its refusals), exits and refund are processes; its
 * later payments, and the opens and payments that only set up the later tests (contracts B
 * to E), run in the test process (test/regtest/in-process-steps.ts); the steps those tests
 * are about, and every refusal, as processes.
 *
 * Written against Bitcoin Core v30's RPC reference (doc/release-notes and the RPC help of
 * bitcoincore.org/en/doc/30.0.0/rpc/); what each check relies on is cited where it is used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { decodeAddress } from '../../src/lib/address.ts';
import { concatBytes, equalBytes, fromHex, toHex } from '../../src/lib/bytes.ts';
import { btcToSats, satsToBtc } from '../../src/lib/chain/amount.ts';
import { RpcChainSource, computeTxid } from '../../src/lib/chain/rpc.ts';
import { RpcError } from '../../src/lib/chain/rpc-client.ts';
import type { RpcClient } from '../../src/lib/chain/rpc-client.ts';
import type { MempoolAcceptResult } from '../../src/lib/chain/types.ts';
import { makeContract } from '../../src/lib/credit/terms.ts';
import { buildState } from '../../src/lib/credit/transactions.ts';
import { buildExit } from '../../src/lib/credit/exit.ts';
import { userSignAgainst } from '../../src/lib/credit/signing.ts';
import { keyPair } from '../../src/lib/keys/keys.ts';
import { nonceGen } from '../../src/lib/musig/bip327.ts';
import { readMusigInput } from '../../src/lib/musig/psbt-keypath.ts';
import { parsePsbt, serializePsbt } from '../../src/lib/psbt/parse.ts';
import { p2trScript, taprootOutput } from '../../src/lib/taproot/taproot.ts';
import { ROOT, loadVector, tempDir } from '../helpers.ts';
import { parseTx } from '../independent/tx.ts';
import { findBitcoind, startBitcoind } from './bitcoind.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { musigTaprootOutput, p2trScript as independentP2tr, publicKeyOf } from '../independent/keys.ts';
import type { Bitcoind } from './bitcoind.ts';
import { assertBuilt, describeRun, errorCode, messageOf, offchain } from './offchain-cli.ts';
import type { CliRun } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';

// The fixture keys (regtest only; never fund them elsewhere), passed by environment as an operator would.
const fixtureKey = (name: string) => readFileSync(join(ROOT, 'fixtures', 'keys', `${name}.key`), 'utf8').trim();
const MINT_KEY = fixtureKey('mint');
const USER_KEY = fixtureKey('user');
const NON_FINAL_SEQUENCE = 0xfffffffd;

// ---------------------------------------------------------------------------------------------
// Shapes of what the CLI prints (only the fields this suite reads).

type Offer = {
  type: 'credit/offer'; mint_pubkey: string; payout_address: string; min_fee_rate: number; safety_margin_blocks: number;
  min_confirmations: number; min_expiry_blocks: number; max_expiry_blocks: number;
};
type AddressMsg = { address: string; descriptor: string; output_key: string; user_pubkey: string; mint_pubkey: string };
type Terms = {
  user_pubkey: string; mint_pubkey: string; capacity_sat: number; funding: { txid: string; vout: number }; expiry_height: number;
  refund_address: string; change_address: string; payout_address: string; fee_rate: number;
};
type OpenRequest = { contract_id: string; contract: Terms; funding_psbt: string; refund_psbt: string };
type OpenAccept = { contract_id: string; refund_psbt: string; next_nonce: { state: number; pubnonce: string } };
type Opened = { contract_id: string; address: string; funding_psbt: string; refund: { txid: string; hex: string; final_from_height: number } };
type UpdateRequest = { contract_id: string; state: number; amount_sat: number; cumulative_sat: number; psbt: string };
type Receipt = { contract_id: string; state: number; amount_sat: number; cumulative_sat: number; txid: string; next_nonce: { state: number } };
type Balance = { contract_id: string; state: number; cumulative_sat: number; spendable_sat: number; expiry_height: number };
type ExitMsg = {
  contract_id: string; state: number; cumulative_sat: number; deadline_height: number;
  state_tx: { txid: string; hex: string; vsize: number; fee_sat: number };
  child: { txid: string; complete: boolean; psbt: string; hex?: string; package_fee_rate: number };
};
type RefundMsg = { contract_id: string; txid: string; hex: string; final: boolean; final_from_height: number };
type ContractsMsg = { tip_height: number; contracts: { contract_id: string; status: string; state: number; cumulative_sat: number; blocks_to_expiry: number; must_exit: boolean; next: string; refund?: { txid: string; confirmations: number } }[] };

/** A contract as the suite follows it. */
type Contract = {
  id: string;
  terms: Terms;
  capacity: bigint;
  script: Uint8Array;
  fundingTxid: string;
  fundingVout: number;
  request: OpenRequest;
  accept: OpenAccept;
  opened: Opened;
  /** The last update-request the mint receipted. */
  lastUpdate?: UpdateRequest;
};

// ---------------------------------------------------------------------------------------------
// Core's decodepsbt (v30 RPC help): inputs[].witness_utxo {amount (BTC), scriptPubKey {hex,
// type, address}}, taproot_internal_key, unknown {key hex → value hex}; BIP-373 fields, where
// the node knows them, as musig2_participant_pubkeys [{aggregate_pubkey, participant_pubkeys}],
// musig2_pubnonces [{participant_pubkey, aggregate_pubkey, leaf_hash?, pubnonce}] and
// musig2_partial_sigs [{participant_pubkey, aggregate_pubkey, leaf_hash?, partial_sig}] (the
// names Core's own functional test wallet_musig.py reads).

type DecodedInput = {
  witness_utxo?: { amount: number; scriptPubKey: { hex: string; type: string } };
  taproot_internal_key?: string;
  musig2_participant_pubkeys?: { aggregate_pubkey: string; participant_pubkeys: string[] }[];
  musig2_pubnonces?: { participant_pubkey: string; aggregate_pubkey: string; leaf_hash?: string; pubnonce: string }[];
  musig2_partial_sigs?: { participant_pubkey: string; aggregate_pubkey: string; leaf_hash?: string; partial_sig: string }[];
  unknown?: Record<string, string>;
};
type DecodedPsbt = {
  tx: { txid: string; version: number; locktime: number; vin: { txid: string; vout: number; sequence: number }[]; vout: { scriptPubKey: { address?: string } }[] };
  inputs: DecodedInput[];
  fee?: number;
};

/** The BIP-373 content of input 0, as plain hex, in a canonical order. */
type MusigView = {
  participants: { aggregate_pubkey: string; participant_pubkeys: string[] }[];
  pubnonces: { participant_pubkey: string; aggregate_pubkey: string; pubnonce: string }[];
  partial_sigs: { participant_pubkey: string; aggregate_pubkey: string; partial_sig: string }[];
};

const canonical = <T>(list: T[]): T[] => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** What our PSBT carries, read back with the project's own parser. */
function ourMusig(psbtB64: string): MusigView {
  const input = parsePsbt(base64.decode(psbtB64)).getInput(0);
  return {
    participants: (input.musig2ParticipantPubkeys ?? []).map(([agg, parts]) => ({ aggregate_pubkey: toHex(agg), participant_pubkeys: parts.map(toHex) })),
    pubnonces: canonical((input.musig2PubNonce ?? []).map(([k, v]) => ({ participant_pubkey: toHex(k.participantPubkey), aggregate_pubkey: toHex(k.aggregatePubkey), pubnonce: toHex(v) }))),
    partial_sigs: canonical((input.musig2PartialSig ?? []).map(([k, v]) => ({ participant_pubkey: toHex(k.participantPubkey), aggregate_pubkey: toHex(k.aggregatePubkey), partial_sig: toHex(v) }))),
  };
}

// ---------------------------------------------------------------------------------------------

describe('BIP-373 keydata of the credit PSBTs (no node needed)', () => {
  // BIP-373: the keydata of PSBT_IN_MUSIG2_PUB_NONCE / PSBT_IN_MUSIG2_PARTIAL_SIG is the
  // participant's key followed by the key being signed for — for a key-path spend whose
  // *internal* key is the aggregate, the taproot OUTPUT key (33-byte plain form). The BIP's
  // own vector "Spend of a Taproot output where the internal key is a MuSig2 Aggregate
  // Pubkey / With all pubnonces" keys every nonce by 032967d2…, the output key of the
  // aggregate 030b58e3…. A BIP-373 signer (e.g. a Core wallet) looks its nonces up that way.
  const mint = keyPair(fromHex(MINT_KEY));
  const user = keyPair(fromHex('22'.repeat(32)));

  it('an update state keys its nonces and partial signature by the taproot output key (BIP-373), not the untweaked aggregate', () => {
    const c = makeContract({
      network: 'regtest', userPubkey: user.publicKey, mintPubkey: mint.publicKey, capacity: 1_000_000n, funding: { txid: '11'.repeat(32), vout: 0 },
      expiryHeight: 1000, refundScript: taprootOutput(user.xOnly).script, changeScript: taprootOutput(user.xOnly).script,
      payoutScript: taprootOutput(mint.xOnly).script, feeRate: 1,
    });
    const tx = buildState(c, 10_000n);
    const { pubnonce } = nonceGen(mint.publicKey, mint.secretKey, c.key.output.outputKey, undefined, undefined, new Uint8Array(32).fill(9));
    userSignAgainst(tx, 0, user, mint.publicKey, { state: 1, pubnonce: toHex(pubnonce) });
    const view = ourMusig(base64.encode(serializePsbt(tx)));
    expect(view.pubnonces).toHaveLength(2);
    expect(view.partial_sigs).toHaveLength(1);
    const outputKey33 = toHex(concatBytes(new Uint8Array([0x02 + c.key.output.parity]), c.key.output.outputKey));
    for (const entry of [...view.pubnonces, ...view.partial_sigs]) expect(entry.aggregate_pubkey).toBe(outputKey33);
  });

  it('readMusigInput finds every nonce and partial signature of the BIP-373 internal-key vectors', () => {
    const vectors = loadVector<{ valid: { cases: { description: string; hex: string }[] } }>('bips/bip-0373/musig2-psbt-test-vectors.json');
    const find = (suffix: string) => vectors.valid.cases.find((v) => v.description === `Spend of a Taproot output where the internal key is a MuSig2 Aggregate Pubkey / ${suffix}`)!;
    const withNonces = readMusigInput(parsePsbt(fromHex(find('With all pubnonces').hex)), 0);
    const withSigs = readMusigInput(parsePsbt(fromHex(find('With all partial signatures').hex)), 0);
    expect(withNonces.pubnonces.filter(Boolean)).toHaveLength(3);
    expect(withSigs.partialSigs.filter(Boolean)).toHaveLength(3);
  });
});

// ---------------------------------------------------------------------------------------------

const BITCOIND = findBitcoind();
const TITLE = BITCOIND
  ? `credit contract against bitcoind -regtest (${BITCOIND})`
  : 'credit contract against bitcoind -regtest — SKIPPED: no bitcoind on PATH and BITCOIND is unset';
// Say so in the run's output too, not only in verbose listings.
if (!BITCOIND) console.warn(`[regtest] ${TITLE}`);

describe.skipIf(!BITCOIND)(TITLE, () => {
  let node: Bitcoind;
  let wallet: RpcClient;
  let source: RpcChainSource;
  let work: { path: string; cleanup: () => void } | undefined;
  let env: Record<string, string>;
  let mintDir: string;
  let userDir: string;
  let offerFile: string;
  let minerAddress: string;
  let refundAddress: string;
  let offer: Offer;
  let addressMsg: AddressMsg;
  let A: Contract;
  let B: Contract;
  let exitB: ExitMsg;

  // -- running the parties ------------------------------------------------------------------
  const chain = () => ['--rpc-url', node.config.url, '--rpc-cookie', node.cookieFile];
  const asMint = (...args: string[]) => [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir, ...chain()];
  const asUser = (...args: string[]) => [...args, '--key-env', 'USER_KEY', '--state-dir', userDir, ...chain()];
  const run = (args: string[], input = '') => offchain(args, { input, env });
  const step = async <T>(args: string[], input: string, type: string) => messageOf<T>(await run(args, input), type);
  type Runner = (args: string[], input?: string) => Promise<CliRun>;
  /**
   * Setup steps — opening contracts B to E and their payments, which the tests after A's are not
   * about, and A's payments after its first — run in the test process (the same bundle's `main`,
   * ~10 ms a step instead of a ~0.15 CPU-s process); contract A's open and first payment are
   * processes, the sample they agree with.
   */
  const inProcess: Runner = (args, input = '') => offchainInProcess(args, { input, env });
  const stepVia = async <T>(via: Runner, args: string[], input: string, type: string) => messageOf<T>(await via(args, input), type);
  /** A refusal (BRIEF §2): exit 4, one coded line on stderr, nothing on stdout. */
  const expectRefused = (r: CliRun, code: string) =>
    expect({ status: r.status, code: errorCode(r), stdout: r.stdout }, describeRun(r)).toEqual({ status: 4, code, stdout: '' });

  // -- the node -------------------------------------------------------------------------------
  const tipHeight = () => node.rpc.call<number>('getblockcount');
  const mineTo = async (height: number) => {
    const n = height - (await tipHeight());
    if (n < 0) throw new Error(`the tip is already past ${height}`);
    if (n > 0) await node.rpc.call('generatetoaddress', [n, minerAddress]);
    expect(await tipHeight()).toBe(height);
  };
  const mine = async (n: number) => mineTo((await tipHeight()) + n);
  /** testmempoolaccept (v30: [{txid, wtxid, allowed, vsize, fees {base}, reject-reason, …}]). */
  const mempoolAccept = async (...hexes: string[]): Promise<MempoolAcceptResult[]> => source.testMempoolAccept(hexes.map((h) => fromHex(h)));
  const decodePsbt = (psbtB64: string) => node.rpc.call<DecodedPsbt>('decodepsbt', [psbtB64]);
  /** getrawtransaction verbosity 1 (needs -txindex for confirmed transactions, which the harness sets). */
  const confirmedAt = async (txid: string): Promise<{ confirmations: number; height: number }> => {
    const info = await node.rpc.call<{ confirmations?: number; blockhash?: string }>('getrawtransaction', [txid, 1]);
    if (!info.blockhash || !info.confirmations) return { confirmations: 0, height: -1 };
    const header = await node.rpc.call<{ height: number }>('getblockheader', [info.blockhash]);
    return { confirmations: info.confirmations, height: header.height };
  };

  /**
   * Core reads the BIP-373 fields of a PSBT we produced exactly as we wrote them: decoded
   * under Core's names when this node knows BIP-373, else kept byte for byte in the input's
   * `unknown` map (key = type byte ‖ keydata). Either way every field must be there.
   */
  const expectCoreReadsMusig = async (psbtB64: string): Promise<'decoded' | 'unknown'> => {
    const ours = ourMusig(psbtB64);
    const input = (await decodePsbt(psbtB64)).inputs[0]!;
    if (input.musig2_participant_pubkeys !== undefined) {
      const core: MusigView = {
        participants: input.musig2_participant_pubkeys.map((p) => ({ aggregate_pubkey: p.aggregate_pubkey, participant_pubkeys: p.participant_pubkeys })),
        pubnonces: canonical((input.musig2_pubnonces ?? []).map((n) => ({ participant_pubkey: n.participant_pubkey, aggregate_pubkey: n.aggregate_pubkey, pubnonce: n.pubnonce }))),
        partial_sigs: canonical((input.musig2_partial_sigs ?? []).map((s) => ({ participant_pubkey: s.participant_pubkey, aggregate_pubkey: s.aggregate_pubkey, partial_sig: s.partial_sig }))),
      };
      // Key-path fields carry no leaf hash.
      for (const e of [...(input.musig2_pubnonces ?? []), ...(input.musig2_partial_sigs ?? [])]) expect(e.leaf_hash).toBeUndefined();
      expect(core).toEqual(ours);
      return 'decoded';
    }
    const expected: Record<string, string> = {};
    for (const p of ours.participants) expected[`1a${p.aggregate_pubkey}`] = p.participant_pubkeys.join('');
    for (const n of ours.pubnonces) expected[`1b${n.participant_pubkey}${n.aggregate_pubkey}`] = n.pubnonce;
    for (const s of ours.partial_sigs) expected[`1c${s.participant_pubkey}${s.aggregate_pubkey}`] = s.partial_sig;
    expect(Object.keys(expected).length).toBeGreaterThan(0);
    expect(input.unknown ?? {}).toMatchObject(expected);
    return 'unknown';
  };

  // -- protocol steps -------------------------------------------------------------------------

  /**
   * Open a contract: the wallet builds an unsigned funding PSBT to the contract address from
   * its bech32m (P2TR) coins; the user opens with it; the mint co-signs the refund; the user
   * completes and verifies it. Nothing is signed or broadcast by the wallet here.
   */
  const openContract = async (expiryBlocks: number, capacity: bigint, via: Runner = inProcess): Promise<Contract> => {
    const tip = await tipHeight();
    // walletcreatefundedpsbt inputs outputs locktime options: outputs as [{address: amount}],
    // amounts as BTC strings (AmountFromValue takes "numeric or string"); change_type bech32m so
    // every coin the wallet owns, and its change, is P2TR; replaceable false: never RBF the funding.
    const created = await wallet.call<{ psbt: string; fee: number; changepos: number }>('walletcreatefundedpsbt', [
      [], [{ [addressMsg.address]: satsToBtc(capacity) }], 0, { change_type: 'bech32m', replaceable: false },
    ]);
    const unsigned = await decodePsbt(created.psbt);
    expect(unsigned.inputs.length).toBeGreaterThan(0);
    for (const input of unsigned.inputs) expect(input.witness_utxo?.scriptPubKey.type).toBe('witness_v1_taproot');

    const request = await stepVia<OpenRequest>(
      via,
      asUser('open-credit', '--role', 'user', '--offer', offerFile, '--expiry', `+${expiryBlocks}`, '--refund-address', refundAddress),
      created.psbt,
      'credit/open-request',
    );
    const terms = request.contract;
    expect(terms.expiry_height).toBe(tip + expiryBlocks); // "+N" resolved against the node's tip
    expect(terms.capacity_sat).toBe(Number(capacity));
    expect(terms.funding.txid).toBe(unsigned.tx.txid);
    expect(unsigned.tx.vout[terms.funding.vout]?.scriptPubKey.address).toBe(addressMsg.address);
    expect(terms.payout_address).toBe(offer.payout_address);

    const accept = await stepVia<OpenAccept>(via, asMint('open-credit', '--role', 'mint'), JSON.stringify(request), 'credit/open-accept');
    expect(accept.contract_id).toBe(request.contract_id);
    const opened = await stepVia<Opened>(via, asUser('open-credit', '--role', 'user'), JSON.stringify(accept), 'credit/opened');
    expect(opened.contract_id).toBe(request.contract_id);
    expect(opened.funding_psbt).toBe(created.psbt); // the PSBT to sign now is the one the refund was built for
    expect(opened.refund.final_from_height).toBe(terms.expiry_height + 1);

    // The refund, checked independently before the funding is signed (BRIEF §3.1).
    const script = decodeAddress(addressMsg.address, 'regtest');
    const refund = Transaction.fromRaw(fromHex(opened.refund.hex), { allowUnknownOutputs: true });
    expect(refund.id).toBe(opened.refund.txid);
    expect(refund.lockTime).toBe(terms.expiry_height);
    expect(refund.inputsLength).toBe(1);
    const input = refund.getInput(0);
    expect({ txid: toHex(input.txid!), vout: input.index, sequence: input.sequence }).toEqual({ ...terms.funding, sequence: NON_FINAL_SEQUENCE });
    expect(refund.outputsLength).toBe(1);
    expect(toHex(refund.getOutput(0).script!)).toBe(toHex(decodeAddress(refundAddress, 'regtest')));
    expect(input.finalScriptWitness).toHaveLength(1);
    // The contract key from the two parties' keys, derived in test code; the sighash and
    // BIP-340 check by the test suite's own verifier (test/independent/).
    const contractKey = musigTaprootOutput([publicKeyOf(fromHex(USER_KEY)), publicKeyOf(fromHex(MINT_KEY))]).outputKey;
    expect(toHex(script)).toBe(toHex(independentP2tr(contractKey)));
    verifyKeyPathSpend(opened.refund.hex, [{ amount: capacity, script: independentP2tr(contractKey), txid: terms.funding.txid, vout: terms.funding.vout }], contractKey);
    // Core agrees it is complete and only early: PreChecks tests finality ("non-final",
    // CheckFinalTxAtTip) before it looks for the inputs, so the missing funding does not show.
    const [early] = await mempoolAccept(opened.refund.hex);
    expect({ allowed: early!.allowed, reason: early!.rejectReason }).toEqual({ allowed: false, reason: 'non-final' });

    return {
      id: request.contract_id, terms, capacity, script, fundingTxid: terms.funding.txid, fundingVout: terms.funding.vout, request, accept, opened,
    };
  };

  /** The wallet signs the funding only now: walletprocesspsbt, finalizepsbt, testmempoolaccept, sendrawtransaction. */
  const fund = async (c: Contract) => {
    const processed = await wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [c.opened.funding_psbt]);
    expect(processed.complete).toBe(true);
    const finalized = await node.rpc.call<{ hex?: string; complete: boolean }>('finalizepsbt', [processed.psbt]);
    expect(finalized.complete).toBe(true);
    const raw = fromHex(finalized.hex!);
    // Segwit inputs only: signing did not change the txid the refund spends.
    expect(await computeTxid(raw)).toBe(c.fundingTxid);
    const [verdict] = await source.testMempoolAccept([raw]);
    expect(verdict).toMatchObject({ txid: c.fundingTxid, allowed: true });
    expect(await source.broadcast(raw)).toBe(c.fundingTxid);
  };

  /** One payment: the user signs, the mint (asking the node) co-signs and stores, the user takes the receipt. */
  const pay = async (c: Contract, amount: number, via: Runner = inProcess) => {
    const request = await stepVia<UpdateRequest>(via, asUser('sign-update', '--role', 'user', '--amount', String(amount), '--contract', c.id), '', 'credit/update-request');
    const receipt = await stepVia<Receipt>(via, asMint('sign-update', '--role', 'mint'), JSON.stringify(request), 'credit/receipt');
    expect(receipt).toMatchObject({ contract_id: c.id, state: request.state, amount_sat: amount, cumulative_sat: request.cumulative_sat });
    expect(receipt.next_nonce.state).toBe(request.state + 1);
    const balance = await stepVia<Balance>(via, asUser('sign-update', '--role', 'user'), JSON.stringify(receipt), 'credit/balance');
    expect(balance).toMatchObject({ contract_id: c.id, state: request.state, cumulative_sat: request.cumulative_sat, expiry_height: c.terms.expiry_height });
    c.lastUpdate = request;
    return { request, receipt, balance };
  };

  /** The mint's latest state and its CPFP child, checked to be what the receipts promised. */
  const exitMessage = async (c: Contract, feeRate: number, extra: string[] = []) => {
    const exit = await step<ExitMsg>(asMint('exit-credit', '--fee-rate', String(feeRate), '--contract', c.id, ...extra), '', 'credit/exit');
    const last = c.lastUpdate!;
    expect(exit).toMatchObject({ contract_id: c.id, state: last.state, cumulative_sat: last.cumulative_sat, deadline_height: c.terms.expiry_height });
    expect(exit.child.complete).toBe(true); // the payout is the mint key's own P2TR address
    const state = Transaction.fromRaw(fromHex(exit.state_tx.hex), { allowUnknownOutputs: true });
    expect(state.id).toBe(exit.state_tx.txid);
    expect({ version: state.version, lockTime: state.lockTime, inputs: state.inputsLength }).toEqual({ version: 3, lockTime: 0, inputs: 1 });
    expect(toHex(state.getInput(0).txid!)).toBe(c.fundingTxid);
    const payout = decodeAddress(offer.payout_address, 'regtest');
    const paid = Array.from({ length: state.outputsLength }, (_, i) => state.getOutput(i)).filter((o) => equalBytes(o.script!, payout));
    expect(paid.map((o) => o.amount)).toEqual([BigInt(last.cumulative_sat)]);
    const child = Transaction.fromRaw(fromHex(exit.child.hex!), { allowUnknownOutputs: true });
    expect(child.id).toBe(exit.child.txid);
    expect(toHex(child.getInput(0).txid!)).toBe(state.id);
    return exit;
  };

  // -------------------------------------------------------------------------------------------

  beforeAll(async () => {
    assertBuilt();
    work = tempDir('offchain-regtest-credit-');
    mintDir = join(work.path, 'mint');
    userDir = join(work.path, 'user');
    offerFile = join(work.path, 'offer.json');
    env = { MINT_KEY, USER_KEY };
    node = await startBitcoind(BITCOIND!);
    source = new RpcChainSource(node.config);
    // v30 creates descriptor wallets only; getnewaddress label address_type.
    await node.rpc.call('createwallet', ['credit-funder']);
    wallet = node.rpc.forWallet('credit-funder');
    minerAddress = await wallet.call<string>('getnewaddress', ['', 'bech32m']);
    refundAddress = await wallet.call<string>('getnewaddress', ['', 'bech32m']);
    // 110 blocks: coinbase maturity is 100, so ten 50-BTC P2TR coinbases are spendable.
    await node.rpc.call('generatetoaddress', [110, minerAddress]);
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
    work?.cleanup();
  });

  it('the mint publishes an offer paying its own P2TR key; the user derives the contract address', async () => {
    const key = await step<{ p2tr_address: string }>(['key', 'show', '--key-env', 'MINT_KEY'], '', 'key/public');
    offer = await step<Offer>(
      asMint('open-credit', '--role', 'mint', '--publish', '--payout-address', key.p2tr_address, '--min-expiry', '5', '--max-expiry', '100', '--safety-margin', '3'),
      '',
      'credit/offer',
    );
    expect(offer).toMatchObject({ payout_address: key.p2tr_address, min_expiry_blocks: 5, max_expiry_blocks: 100, safety_margin_blocks: 3, min_confirmations: 1 });
    writeFileSync(offerFile, JSON.stringify(offer));

    addressMsg = await step<AddressMsg>(asUser('open-credit', '--role', 'user'), JSON.stringify(offer), 'credit/address');
    expect(addressMsg.mint_pubkey).toBe(offer.mint_pubkey);
    expect(toHex(decodeAddress(addressMsg.address, 'regtest'))).toBe(toHex(p2trScript(fromHex(addressMsg.output_key))));
    // Core's own bech32m decoding (validateaddress: isvalid, iswitness, witness_version, witness_program).
    const info = await node.rpc.call<{ isvalid: boolean; witness_version?: number; witness_program?: string }>('validateaddress', [addressMsg.address]);
    expect(info).toMatchObject({ isvalid: true, witness_version: 1, witness_program: addressMsg.output_key });
  });

  it('Core derives the same contract address from the tr(musig(…)) descriptor we print', async (ctx) => {
    let derived: string[];
    try {
      derived = await node.rpc.call<string[]>('deriveaddresses', [addressMsg.descriptor]);
    } catch (e) {
      // RPC_INVALID_ADDRESS_OR_KEY (-5) for a descriptor the node cannot parse; a checksum
      // mismatch is the same code but is our fault, so it fails instead of skipping.
      if (e instanceof RpcError && e.rpcCode === -5 && !/checksum/i.test(e.rpcMessage)) {
        ctx.skip(`this bitcoind does not parse BIP-390 musig() descriptors: ${e.rpcMessage}`);
      }
      throw e;
    }
    expect(derived).toEqual([addressMsg.address]);
  });

  it('contract A opens: unsigned funding PSBT from P2TR coins → refund co-signed and verified before anything is signed', async () => {
    A = await openContract(20, 1_000_000n, run);
    expect(await source.utxo(A.fundingTxid, A.fundingVout)).toBeNull(); // not broadcast: the wallet has not signed
  }, 120_000);

  it('payments: the mint asks the node — refused while the funding is missing or unconfirmed, then accepted', async () => {
    const first = await run(asUser('sign-update', '--role', 'user', '--amount', '10000', '--contract', A.id));
    const request = messageOf<UpdateRequest>(first, 'credit/update-request');
    expectRefused(await run(asMint('sign-update', '--role', 'mint'), first.stdout), 'E_FUNDING_MISSING');

    await fund(A);
    expect((await source.utxo(A.fundingTxid, A.fundingVout))?.confirmations).toBe(0);
    // The user resends the very same signed request until it is answered.
    const resent = await run(asUser('sign-update', '--role', 'user', '--amount', '10000', '--contract', A.id));
    expect(resent.stdout).toBe(first.stdout);
    expectRefused(await run(asMint('sign-update', '--role', 'mint'), resent.stdout), 'E_FUNDING_UNCONFIRMED');

    await mine(1);
    expect(await source.utxo(A.fundingTxid, A.fundingVout)).toMatchObject({ value: A.capacity, confirmations: 1 });
    const receipt = await step<Receipt>(asMint('sign-update', '--role', 'mint'), JSON.stringify(request), 'credit/receipt');
    expect(receipt).toMatchObject({ state: 1, cumulative_sat: 10_000 });
    await step<Balance>(asUser('sign-update', '--role', 'user'), JSON.stringify(receipt), 'credit/balance');
    A.lastUpdate = request;

    // The first payment above is the processes' sample; the next two in the test process.
    const second = await pay(A, 25_000);
    const third = await pay(A, 40_000);
    expect([second.receipt.state, third.receipt.state]).toEqual([2, 3]);
    expect(third.balance.cumulative_sat).toBe(75_000);
    expect(third.balance.spendable_sat).toBeLessThan(second.balance.spendable_sat);
  }, 180_000);

  it("A's latest state and the mint's CPFP child pass testmempoolaccept together (a --dry-run: not broadcast, A not frozen)", async () => {
    const exit = await exitMessage(A, 5, ['--dry-run']);
    const verdicts = await mempoolAccept(exit.state_tx.hex, exit.child.hex!);
    expect(verdicts.map((v) => ({ txid: v.txid, allowed: v.allowed, reason: v.rejectReason }))).toEqual([
      { txid: exit.state_tx.txid, allowed: true, reason: undefined },
      { txid: exit.child.txid, allowed: true, reason: undefined },
    ]);
    expect(verdicts[0]!.fees).toBe(BigInt(exit.state_tx.fee_sat));
    // The state alone pays the contract's fee rate on Core's own vsize.
    expect(Number(verdicts[0]!.fees) / verdicts[0]!.vsize!).toBeGreaterThanOrEqual(A.terms.fee_rate);
    expect(await source.utxo(A.fundingTxid, A.fundingVout)).not.toBeNull(); // still unspent: only tested
  }, 120_000);

  it('decodepsbt accepts every PSBT we hand out, and Core reads our BIP-373 MuSig2 fields as written', async () => {
    const update = A.lastUpdate!;
    const decoded = await decodePsbt(update.psbt);
    const ourTx = parsePsbt(base64.decode(update.psbt));
    expect(decoded.tx).toMatchObject({ txid: ourTx.id, version: 3, locktime: 0 });
    expect(decoded.tx.vin).toMatchObject([{ txid: A.fundingTxid, vout: A.fundingVout, sequence: NON_FINAL_SEQUENCE }]);
    const input = decoded.inputs[0]!;
    expect(input.witness_utxo!.scriptPubKey.hex).toBe(toHex(A.script));
    expect(btcToSats(input.witness_utxo!.amount)).toBe(A.capacity);
    expect(input.taproot_internal_key).toBe(toHex(ourTx.getInput(0).tapInternalKey!));
    let out = 0n;
    for (let i = 0; i < ourTx.outputsLength; i++) out += ourTx.getOutput(i).amount!;
    expect(btcToSats(decoded.fee!)).toBe(A.capacity - out);

    // The update request: both nonces, and only the user's partial signature — the mint never hands out its own.
    const updateView = ourMusig(update.psbt);
    expect(updateView.participants).toHaveLength(1);
    expect([...updateView.participants[0]!.participant_pubkeys].sort()).toEqual([A.terms.user_pubkey, A.terms.mint_pubkey].sort());
    expect(updateView.pubnonces.map((n) => n.participant_pubkey).sort()).toEqual([A.terms.user_pubkey, A.terms.mint_pubkey].sort());
    expect(updateView.partial_sigs.map((s) => s.participant_pubkey)).toEqual([A.terms.user_pubkey]);
    // The refund as the user asks for it (its nonce only) and as the mint returns it (its partial signature).
    const askView = ourMusig(A.request.refund_psbt);
    expect({ nonces: askView.pubnonces.map((n) => n.participant_pubkey), sigs: askView.partial_sigs.length }).toEqual({ nonces: [A.terms.user_pubkey], sigs: 0 });
    const acceptView = ourMusig(A.accept.refund_psbt);
    expect(acceptView.partial_sigs.map((s) => s.participant_pubkey)).toEqual([A.terms.mint_pubkey]);

    const modes = new Set<string>();
    for (const psbt of [update.psbt, A.request.refund_psbt, A.accept.refund_psbt]) modes.add(await expectCoreReadsMusig(psbt));
    expect(modes.size).toBe(1); // one node reads all three the same way
    console.info(`[regtest] this bitcoind ${modes.has('decoded') ? 'decodes the BIP-373 fields (musig2_*)' : 'keeps the BIP-373 fields as unknown'}`);

    // The exit child's PSBT (signed and finalized) decodes too.
    const exit = await exitMessage(A, 5, ['--dry-run']);
    const child = await decodePsbt(exit.child.psbt);
    expect(child.tx.txid).toBe(exit.child.txid);
  }, 120_000);

  it("the mint exits contract B: latest state + CPFP child accepted as a package and mined long before B's expiry", async () => {
    B = await openContract(20, 500_000n);
    await fund(B);
    await mine(1);
    await pay(B, 50_000);
    await pay(B, 70_000);

    exitB = await exitMessage(B, 5);
    const verdicts = await mempoolAccept(exitB.state_tx.hex, exitB.child.hex!);
    expect(verdicts.map((v) => [v.txid, v.allowed, v.rejectReason])).toEqual([
      [exitB.state_tx.txid, true, undefined],
      [exitB.child.txid, true, undefined],
    ]);
    // The pair pays --fee-rate on Core's vsizes.
    const fees = verdicts.reduce((s, v) => s + v.fees!, 0n);
    const vsize = verdicts.reduce((s, v) => s + v.vsize!, 0);
    expect(Number(fees) / vsize).toBeGreaterThanOrEqual(5);

    // submitpackage (v30: {package_msg: "success" when every tx is in the mempool, tx-results
    // keyed by wtxid {txid, vsize, fees, error?}, replaced-transactions}).
    const submitted = await source.submitPackage([fromHex(exitB.state_tx.hex), fromHex(exitB.child.hex!)]);
    expect(submitted.packageMsg).toBe('success');
    expect(submitted.txResults.map((r) => r.txid).sort()).toEqual([exitB.state_tx.txid, exitB.child.txid].sort());
    expect(submitted.txResults.filter((r) => r.error !== undefined)).toEqual([]);
    const pool = await node.rpc.call<string[]>('getrawmempool');
    expect(pool).toEqual(expect.arrayContaining([exitB.state_tx.txid, exitB.child.txid]));
    expect(await source.utxo(B.fundingTxid, B.fundingVout)).toBeNull(); // spent in the mempool

    await mine(1);
    const stateAt = await confirmedAt(exitB.state_tx.txid);
    const childAt = await confirmedAt(exitB.child.txid);
    expect(stateAt.confirmations).toBe(1);
    expect(childAt).toEqual(stateAt);
    expect(stateAt.height).toBeLessThan(B.terms.expiry_height); // must be mined by block `expiry`
    // The exit froze B: the mint signs no later state of it.
    const request = await run(asUser('sign-update', '--role', 'user', '--amount', '1000', '--contract', B.id));
    messageOf<UpdateRequest>(request, 'credit/update-request');
    expectRefused(await run(asMint('sign-update', '--role', 'mint'), request.stdout), 'E_CONTRACT_FROZEN');
  }, 180_000);

  it('the node rejects the mined exit package if it is submitted again (in package_msg, not as an RPC error)', async () => {
    // submitpackage returns PCKG_TX / PCKG_POLICY failures in the result (package_msg =
    // the package state's message; rpc/mempool.cpp), throwing only for malformed input.
    const again = await source.submitPackage([fromHex(exitB.state_tx.hex), fromHex(exitB.child.hex!)]);
    expect(again.packageMsg).not.toBe('success');
  });

  it('exit-credit --broadcast of a package the node rejects (already mined): exit 4, E_BROADCAST_REJECTED, nothing on stdout', async () => {
    const r = await run(asMint('exit-credit', '--fee-rate', '5', '--contract', B.id, '--broadcast'));
    expectRefused(r, 'E_BROADCAST_REJECTED');
    expect(r.stderr).toMatch(/the node did not accept the exit package/);
  });

  it('an exit child takes its parent\'s TRUC-ness: Core refuses a v3 child of an unconfirmed v2 parent (TRUC-violation) and mines the v2 child buildExit makes', async () => {
    // Why states must be v3: a v2 "state" paying the mint (here a wallet transaction, not
    // broadcast) cannot be bumped by the v3 child the mint makes for v3 states.
    const payout = decodeAddress(offer.payout_address, 'regtest');
    const created = await wallet.call<{ psbt: string; fee: number }>('walletcreatefundedpsbt', [[], [{ [offer.payout_address]: satsToBtc(200_000n) }], 0, { change_type: 'bech32m', fee_rate: 1 }]);
    const processed = await wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [created.psbt]);
    const parentHex = (await node.rpc.call<{ hex: string }>('finalizepsbt', [processed.psbt])).hex;
    const parent = Transaction.fromRaw(fromHex(parentHex), { allowUnknownOutputs: true });
    expect(parent.version).toBe(2);
    const outputs = Array.from({ length: parent.outputsLength }, (_, i) => parent.getOutput(i));
    const capacity = outputs.reduce((a, o) => a + o.amount!, 0n) + btcToSats(created.fee);
    const record = {
      contract_id: B.id, network: 'regtest' as const, contract: { ...B.terms, capacity_sat: Number(capacity) }, status: 'open' as const, next_state: 2, open_accept: {},
      latest: { state: 1, cumulative_sat: 200_000, txid: parent.id, hex: parentHex, receipt: {} as never },
    };
    const mint = keyPair(fromHex(MINT_KEY));
    const exit = buildExit(record, mint, { feeRate: 10, auxRand: new Uint8Array(32) }) as { child: { hex: string } };
    const child = Transaction.fromRaw(fromHex(exit.child.hex), { allowUnknownOutputs: true });
    expect(child.version).toBe(2);

    // The same child as v3 (what the exit made before the fix), signed by test code.
    const vout = outputs.findIndex((o) => equalBytes(o.script!, payout));
    const truc = new Transaction({ version: 3 });
    truc.addInput({ txid: parent.id, index: vout, sequence: NON_FINAL_SEQUENCE, witnessUtxo: { script: payout, amount: 200_000n }, tapInternalKey: mint.xOnly });
    truc.addOutput({ script: payout, amount: child.getOutput(0).amount! });
    truc.signIdx(mint.secretKey, 0);
    truc.finalizeIdx(0);
    const refused = await source.submitPackage([fromHex(parentHex), truc.extract()]);
    expect(refused.packageMsg).not.toBe('success');
    const why = `${refused.packageMsg} ${refused.txResults.map((t) => t.error ?? '').join(' ')}`;
    expect(why).toMatch(/TRUC-violation/);

    const accepted = await source.submitPackage([fromHex(parentHex), fromHex(exit.child.hex)]);
    expect(accepted.packageMsg, accepted.txResults.map((t) => t.error ?? '').join(' ')).toBe('success');
    await mine(1);
    expect((await confirmedAt(child.id)).confirmations).toBe(1);
  }, 120_000);

  it('A near expiry: the node-derived tip puts it inside the safety margin — payments refused, credit list says must_exit', async () => {
    const margin = offer.safety_margin_blocks;
    const expiry = A.terms.expiry_height;
    await mineTo(expiry - margin - 1);
    const last = await pay(A, 5_000); // in the test process; the refusal below is a process
    expect(last.receipt).toMatchObject({ state: 4, cumulative_sat: 80_000 });

    await mine(1);
    const request = await run(asUser('sign-update', '--role', 'user', '--amount', '5000', '--contract', A.id));
    messageOf<UpdateRequest>(request, 'credit/update-request');
    expectRefused(await run(asMint('sign-update', '--role', 'mint'), request.stdout), 'E_TOO_CLOSE_TO_EXPIRY');

    const list = await step<ContractsMsg>(asMint('credit', 'list'), '', 'credit/contracts');
    expect(list.tip_height).toBe(expiry - margin);
    expect(list.contracts.find((c) => c.contract_id === A.id)).toMatchObject({ state: 4, cumulative_sat: 80_000, blocks_to_expiry: margin, must_exit: true });
  }, 120_000);

  it("A's refund: refused and rejected as non-final with the tip at expiry − 1, accepted and mined with the tip at expiry", async () => {
    const expiry = A.terms.expiry_height;
    await mineTo(expiry - 1);
    expectRefused(await run(asUser('refund-credit', '--contract', A.id)), 'E_NOT_FINAL');
    const early = await step<RefundMsg>(asUser('refund-credit', '--contract', A.id, '--any-time'), '', 'credit/refund');
    expect(early).toMatchObject({ final: false, txid: A.opened.refund.txid, hex: A.opened.refund.hex, final_from_height: expiry + 1 });
    const [notYet] = await mempoolAccept(early.hex);
    // CheckFinalTxAtTip: nLockTime = expiry is final in block expiry + 1, i.e. once the tip is expiry.
    expect({ txid: notYet!.txid, allowed: notYet!.allowed, reason: notYet!.rejectReason }).toEqual({ txid: early.txid, allowed: false, reason: 'non-final' });
    // sendrawtransaction: RPC_VERIFY_REJECTED (-26) with the same reason.
    const refused = await source.broadcast(fromHex(early.hex)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'E_RPC_ERROR', rpcCode: -26 });
    expect((refused as Error).message).toContain('non-final');

    await mine(1);
    const ready = await step<RefundMsg>(asUser('refund-credit', '--contract', A.id), '', 'credit/refund');
    expect(ready).toMatchObject({ final: true, txid: A.opened.refund.txid, hex: A.opened.refund.hex });
    const [verdict] = await mempoolAccept(ready.hex);
    const refund = Transaction.fromRaw(fromHex(ready.hex), { allowUnknownOutputs: true });
    expect(verdict).toMatchObject({ txid: ready.txid, allowed: true, fees: A.capacity - refund.getOutput(0).amount! });
    expect(Number(verdict!.fees) / verdict!.vsize!).toBeGreaterThanOrEqual(A.terms.fee_rate);
    expect(await source.broadcast(fromHex(ready.hex))).toBe(ready.txid);
    // In the mempool: the mint's exit may still replace it, and credit list says so.
    const racing = (await step<ContractsMsg>(asMint('credit', 'list'), '', 'credit/contracts')).contracts.find((c) => c.contract_id === A.id)!;
    expect(racing).toMatchObject({ status: 'refunding', must_exit: true, refund: { txid: ready.txid, confirmations: 0 } });
    expect(racing.next).toBe(`exit now: the user's refund ${ready.txid} is in the mempool — exit-credit --contract ${A.id} --fee-rate R --broadcast, at a fee that replaces it (BIP-125), or state 4 is lost once it is mined`);
    await mine(1);
    expect(await confirmedAt(ready.txid)).toEqual({ confirmations: 1, height: expiry + 1 });
    expect(await source.utxo(A.fundingTxid, A.fundingVout)).toBeNull();
    expect(await source.utxo(ready.txid, 0)).toMatchObject({ value: refund.getOutput(0).amount, confirmations: 1 });
  }, 120_000);

  it("after A's refund is mined, credit list says so (refunded, nothing to exit), never \"open, exit now\" (issue 71, item 6)", async () => {
    const row = async () => (await step<ContractsMsg>(asMint('credit', 'list'), '', 'credit/contracts')).contracts.find((c) => c.contract_id === A.id)!;
    const minConf = offer.min_confirmations;
    const mined = await confirmedAt(A.opened.refund.txid);
    // Under the required confirmations: refunding, nothing to exit (a mined refund cannot be replaced).
    if (mined.confirmations < minConf) {
      expect(await row()).toMatchObject({ status: 'refunding', must_exit: false, refund: { txid: A.opened.refund.txid, confirmations: mined.confirmations } });
      await mine(minConf - mined.confirmations);
    }
    const done = await row();
    expect(done).toMatchObject({ status: 'refunded', must_exit: false, state: 4, refund: { txid: A.opened.refund.txid, confirmations: (await confirmedAt(A.opened.refund.txid)).confirmations } });
    expect(done.next).toMatch(new RegExp(`^nothing: the user's refund ${A.opened.refund.txid} spent the funding \\(\\d+ confirmations?\\); its states can no longer be exited \\(state 4, 80000 sat, is lost\\)$`));
  }, 120_000);

  it("B's refund, final by now, is rejected because the mint's exit already spent its input", async () => {
    await mineTo(Math.max(await tipHeight(), B.terms.expiry_height));
    const refund = await step<RefundMsg>(asUser('refund-credit', '--contract', B.id), '', 'credit/refund');
    expect(refund).toMatchObject({ final: true, txid: B.opened.refund.txid });
    const [verdict] = await mempoolAccept(refund.hex);
    // Final, so PreChecks reaches the inputs: TX_MISSING_INPUTS, which testmempoolaccept
    // reports as "missing-inputs" (the spent funding is not in the UTXO set).
    expect({ txid: verdict!.txid, allowed: verdict!.allowed, reason: verdict!.rejectReason }).toEqual({ txid: refund.txid, allowed: false, reason: 'missing-inputs' });
    await expect(source.broadcast(fromHex(refund.hex))).rejects.toMatchObject({ code: 'E_RPC_ERROR' });
    expect((await confirmedAt(exitB.state_tx.txid)).height).toBeLessThan(B.terms.expiry_height);
  }, 120_000);

  // Last, because it publishes another offer (the earlier tests use the first one).
  it('a payout to the mint\'s Core wallet: the wallet signs the CPFP child, exit-credit --child --broadcast submits the package and prints the node\'s answer; both mined', async () => {
    const payoutAddress = await wallet.call<string>('getnewaddress', ['', 'bech32m']);
    offer = await step<Offer>(
      asMint('open-credit', '--role', 'mint', '--publish', '--payout-address', payoutAddress, '--min-expiry', '5', '--max-expiry', '100', '--safety-margin', '3'),
      '',
      'credit/offer',
    );
    writeFileSync(offerFile, JSON.stringify(offer));
    const C = await openContract(30, 300_000n);
    await fund(C);
    await mine(1);
    await pay(C, 40_000);

    const exit = await step<ExitMsg>(asMint('exit-credit', '--fee-rate', '5', '--contract', C.id), '', 'credit/exit');
    expect({ complete: exit.child.complete, hex: exit.child.hex }).toEqual({ complete: false, hex: undefined }); // not the mint key's to sign
    const unsigned = await run(asMint('exit-credit', '--fee-rate', '5', '--contract', C.id, '--broadcast'));
    expect({ status: unsigned.status, code: errorCode(unsigned), stdout: unsigned.stdout }, describeRun(unsigned)).toEqual({ status: 2, code: 'E_USAGE', stdout: '' });
    expect(unsigned.stderr).toContain('walletprocesspsbt');

    // walletprocesspsbt psbt (v30: {psbt, complete, hex?}): the wallet owns the payout output and signs its spend.
    const processed = await wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [exit.child.psbt]);
    expect(processed.complete).toBe(true);
    const childFile = join(work!.path, 'wallet-child.json');
    writeFileSync(childFile, JSON.stringify(processed));
    type Sent = ExitMsg & { broadcast: { package_msg: string; tx_results: { txid: string; error?: string }[] } };
    const sent = await step<Sent>(asMint('exit-credit', '--fee-rate', '5', '--contract', C.id, '--child', childFile, '--broadcast'), '', 'credit/exit');
    expect(sent.child.complete).toBe(true);
    expect(sent.state_tx.txid).toBe(exit.state_tx.txid);
    expect(sent.broadcast.package_msg).toBe('success');
    expect(sent.broadcast.tx_results.map((r) => r.txid).sort()).toEqual([sent.state_tx.txid, sent.child.txid].sort());
    expect(sent.broadcast.tx_results.filter((r) => r.error !== undefined)).toEqual([]);
    await mine(1);
    expect((await confirmedAt(sent.state_tx.txid)).confirmations).toBe(1);
    expect((await confirmedAt(sent.child.txid)).confirmations).toBe(1);
  }, 180_000);

  // After the one above: the same offer (payout to the mint's Core wallet).
  it('the same exit through the one package code (issue 24): package child spends the state\'s payout (--spend) and a wallet coin, walletprocesspsbt signs both, package submit; mined', async () => {
    const payoutAddress = offer.payout_address as string;
    const E = await openContract(30, 250_000n);
    await fund(E);
    await mine(1);
    await pay(E, 30_000);
    // exit-credit freezes the contract (no later state is signed) and prints the state; package child bumps it.
    const exit = await step<ExitMsg>(asMint('exit-credit', '--fee-rate', '1', '--contract', E.id), '', 'credit/exit');
    const exitFile = join(work!.path, 'exit-E.json');
    writeFileSync(exitFile, JSON.stringify(exit));
    const payoutScript = (await wallet.call<{ scriptPubKey: string }>('getaddressinfo', [payoutAddress])).scriptPubKey;
    const payoutVout = parseTx(Buffer.from(exit.state_tx.hex, 'hex')).outputs.findIndex((o) => Buffer.from(o.script).toString('hex') === payoutScript);
    expect(payoutVout).toBeGreaterThanOrEqual(0);
    const own = await wallet.call<string>('getnewaddress', ['', 'bech32']);
    const walletFile = join(work!.path, 'wallet-E.json');
    writeFileSync(walletFile, JSON.stringify(await wallet.call('walletcreatefundedpsbt', [[], [{ [own]: satsToBtc(20_000n) }], 0, { fee_rate: 1 }])));
    const child = await run(['package', 'child', '--parent', exitFile, '--spend', String(payoutVout), '--wallet-psbt', walletFile, '--fee-rate', '8', '--network', 'regtest', ...chain()]);
    const childMsg = messageOf<{ psbt: string; child: { txid: string }; parent: { txid: string } }>(child, 'package/child');
    expect(childMsg.parent.txid).toBe(exit.state_tx.txid);
    const childFile = join(work!.path, 'child-E.json');
    writeFileSync(childFile, child.stdout);
    const signedFile = join(work!.path, 'child-E-signed.json');
    writeFileSync(signedFile, JSON.stringify(await wallet.call('walletprocesspsbt', [childMsg.psbt])));
    messageOf(await run(['package', 'submit', '--parent', childFile, '--child', signedFile, '--network', 'regtest', ...chain()]), 'package/submitted');
    await mine(1);
    expect((await confirmedAt(exit.state_tx.txid)).confirmations).toBe(1);
    expect((await confirmedAt(childMsg.child.txid)).confirmations).toBe(1);
  }, 180_000);

  // After the one above: it uses that offer's short windows (5–100 blocks).
  it('a rollover topped up from Core wallet coins of every segwit type (P2WPKH, P2SH-P2WPKH, P2TR) with change, as walletcreatefundedpsbt made it: accepted and mined, the accounting exact', async () => {
    const D = await openContract(30, 200_000n);
    await fund(D);
    await mine(1);
    await pay(D, 20_000);
    // One coin of each type the wallet makes (getnewaddress label address_type).
    const coins: { txid: string; vout: number; type: string }[] = [];
    for (const [type, want] of [['bech32', 'witness_v0_keyhash'], ['p2sh-segwit', 'scripthash'], ['bech32m', 'witness_v1_taproot']] as const) {
      const address = await wallet.call<string>('getnewaddress', ['', type]);
      const txid = await wallet.call<string>('sendtoaddress', [address, satsToBtc(300_000n)]);
      const tx = await wallet.call<{ details: { address: string; vout: number }[] }>('gettransaction', [txid]);
      coins.push({ txid, vout: tx.details.find((d) => d.address === address)!.vout, type: want });
    }
    await mine(1);
    // walletcreatefundedpsbt inputs outputs locktime options: those three coins only, 500 000 sat
    // "to the contract", the rest back as P2WPKH change.
    const created = await wallet.call<{ psbt: string; fee: number; changepos: number }>('walletcreatefundedpsbt', [
      coins.map(({ txid, vout }) => ({ txid, vout })), [{ [addressMsg.address]: satsToBtc(500_000n) }], 0, { add_inputs: false, change_type: 'bech32' },
    ]);
    expect(created.changepos).toBeGreaterThanOrEqual(0);
    const walletPsbt = await decodePsbt(created.psbt);
    expect(walletPsbt.inputs.map((i) => i.witness_utxo?.scriptPubKey.type).sort()).toEqual(coins.map((c) => c.type).sort());
    const walletTx = Transaction.fromPSBT(base64.decode(created.psbt));
    const change = walletTx.getOutput(created.changepos);
    const walletIn = coins.length * 300_000;
    const topUpFile = join(work!.path, 'top-up.psbt');
    writeFileSync(topUpFile, created.psbt);

    // A top-up PSBT paying a stranger is refused before anything is written.
    const stranger = await wallet.call<{ psbt: string }>('walletcreatefundedpsbt', [
      [coins[0]!], [{ [addressMsg.address]: satsToBtc(100_000n) }, { bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080: satsToBtc(50_000n) }], 0, { add_inputs: false, change_type: 'bech32' },
    ]);
    const strangerFile = join(work!.path, 'stranger.psbt');
    writeFileSync(strangerFile, stranger.psbt);
    const refusedTopUp = await run(asUser('rollover', '--role', 'user', '--contract', D.id, '--expiry', '+30', '--top-up', strangerFile));
    expectRefused(refusedTopUp, 'E_TOPUP_OUTPUT');

    type RolloverRequest = { new_contract_id: string; new_contract: Terms; rollover_psbt: string };
    type RolledOver = { new_contract_id: string; rollover: { txid: string; complete: boolean; psbt: string } };
    const r1 = await step<RolloverRequest>(asUser('rollover', '--role', 'user', '--contract', D.id, '--expiry', '+30', '--top-up', topUpFile), '', 'credit/rollover-request');
    const refundRound = await run(asMint('rollover', '--role', 'mint'), JSON.stringify(r1));
    const sign = await run(asUser('rollover', '--role', 'user'), refundRound.stdout);
    const accept = await run(asMint('rollover', '--role', 'mint'), sign.stdout);
    const rolled = await step<RolledOver>(asUser('rollover', '--role', 'user'), accept.stdout, 'credit/rolled-over');
    expect(rolled.rollover.complete).toBe(false); // the wallet's inputs are the wallet's to sign

    // The wallet signs its inputs in the PSBT as we hand it out; Core finalizes it.
    const processed = await wallet.call<{ psbt: string; complete: boolean }>('walletprocesspsbt', [rolled.rollover.psbt]);
    expect(processed.complete).toBe(true);
    const finalized = await node.rpc.call<{ hex?: string; complete: boolean }>('finalizepsbt', [processed.psbt]);
    expect(finalized.complete).toBe(true);
    const raw = fromHex(finalized.hex!);
    expect(await computeTxid(raw)).toBe(rolled.rollover.txid); // segwit only: signing kept the txid the new refund spends
    const [verdict] = await source.testMempoolAccept([raw]);
    expect(verdict, verdict?.rejectReason).toMatchObject({ txid: rolled.rollover.txid, allowed: true });

    // Exact accounting, from the transaction Core accepted: the mint is paid its cumulative amount,
    // the change is the wallet's change untouched, the rest (less Core's counted fee) funds the next contract.
    const tx = Transaction.fromRaw(raw, { allowUnknownOutputs: true });
    expect(tx.inputsLength).toBe(1 + coins.length);
    expect(tx.outputsLength).toBe(3);
    expect(tx.getOutput(0)).toMatchObject({ script: decodeAddress(offer.payout_address, 'regtest'), amount: 20_000n });
    expect(toHex(tx.getOutput(1).script!)).toBe(toHex(D.script));
    expect(tx.getOutput(1).amount).toBe(BigInt(r1.new_contract.capacity_sat));
    expect(toHex(tx.getOutput(2).script!)).toBe(toHex(change.script!));
    expect(tx.getOutput(2).amount).toBe(change.amount);
    const fee = BigInt(verdict!.fees!);
    expect(fee).toBe(D.capacity + BigInt(walletIn) - 20_000n - tx.getOutput(1).amount! - change.amount!);
    // The top-up is what the change does not take back; the fee our estimate set is at least the contract's rate on Core's vsize.
    expect(tx.getOutput(1).amount).toBe(D.capacity - 20_000n + (BigInt(walletIn) - change.amount!) - fee);
    expect(Number(fee) / verdict!.vsize!).toBeGreaterThanOrEqual(D.terms.fee_rate);
    expect(Number(fee) / verdict!.vsize!).toBeLessThan(D.terms.fee_rate * 1.05);

    expect(await source.broadcast(raw)).toBe(rolled.rollover.txid);
    await mine(1);
    expect((await confirmedAt(rolled.rollover.txid)).confirmations).toBe(1);
    // The next contract is funded by the mined rollover and takes payments.
    const next = { ...D, id: rolled.new_contract_id, terms: r1.new_contract };
    const p = await pay(next, 7_000);
    expect(p.receipt).toMatchObject({ state: 1, cumulative_sat: 7_000 });
  }, 240_000);
});
