/**
 * The whole life of a credit contract (BRIEF §3.1) through the built CLI: the mint and
 * the user are separate `offchain` processes, each with its own --state-dir, and every
 * step pipes one party's stdout into the other's stdin (test/e2e/cli.ts `pipeline()`).
 *
 *   offer → address → open-request → open-accept → opened (refund verified)
 *   → payments (update-request → receipt → balance), one of them retried
 *   → rollover in two rounds (the new refund verified before the user signs anything)
 *   → payments on the new contract → cooperative close
 *   → the mint's exits (exit-credit) and the user's refund (refund-credit).
 *
 * Every final transaction — refund, each state the mint stores (`latest.hex` of its
 * record, read from its state directory), rollover, close, exit state and CPFP child,
 * the new contract's refund — is checked by the independent verifier
 * (test/independent/verify.ts): test code parses it and computes the BIP-341 sighash
 * from the prevout this test knows, and BIP-340 Verify runs on an implementation the
 * CLI is not using (BIP-340 written in test code), against output keys
 * derived in test code from the fixture secret keys (KeyAgg of the sorted keys and
 * TapTweak for the contract, TapTweak alone for the mint's payout) — never through
 * src/lib/credit, src/lib/musig or the libraries the product signs with.
 *
 * The first describe is the narrated flow, every step a real process. The exits and the
 * rollover's signing order open their contract and make their honest steps with the same
 * built bundle's `main` in this process (in-process-pipeline.ts; ~10 ms a step instead of
 * a ~0.15 CPU-s node process) and keep through processes one sample of each command's
 * refusal (sign-update exit 2, refund-credit exit 4, rollover exit 4) and the refund a
 * monitoring job prints.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, OutScript, Transaction } from '@scure/btc-signer';
import { base64, hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf, singleKeyTaprootOutput } from '../independent/keys.ts';
import { parseTx, psbtUnsignedTx } from '../independent/tx.ts';
import { verifyKeyPathSpend, type VerifiedSpend } from '../independent/verify.ts';
import { answerSignedBy } from '../independent/answer.ts';
import { ROOT, fileSnapshot, tempDir } from '../helpers.ts';
import { pipeline, type Run, type Stage } from './cli.ts';
import { pipelineInProcess } from './in-process.ts';
import { mintRecord as storedMintRecord, networkDir } from '../state.ts';

// ---------------------------------------------------------------------------------
// Fixtures and the independent view of the contract key
// ---------------------------------------------------------------------------------

const fixture = (p: string) => readFileSync(join(ROOT, 'fixtures', p), 'utf8').trim();
const MINT_KEY = fixture('keys/mint.key');
const USER_KEY = fixture('keys/user.key');
const FUNDING_PSBT = fixture('credit/funding.psbt');
const MINT_PUB = publicKeyOf(hex.decode(MINT_KEY));
const USER_PUB = publicKeyOf(hex.decode(USER_KEY));

const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
/** The mint's payout: the mint key's own P2TR address, so exit-credit signs the CPFP child. */
const PAYOUT = 'bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte';
const REFUND = 'bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j';
/** A change address distinct from the refund address, so each output is told apart. */
const CHANGE = Address(REGTEST).encode(OutScript.decode(singleKeyTaprootOutput(publicKeyOf(hex.decode(fixture('keys/alice.key')))).script));

const SEQUENCE = 0xfffffffd;
const scriptOf = (address: string) => OutScript.encode(Address(REGTEST).decode(address));

/** The contract's output: BIP-327 KeyAgg of the sorted fixture keys, BIP-341 TapTweak (test code). */
const CONTRACT = musigTaprootOutput([USER_PUB, MINT_PUB]);
const CONTRACT_OUTPUT_KEY = CONTRACT.outputKey;
const CONTRACT_SCRIPT = CONTRACT.script;
/** The mint's payout output (its own key, tweaked): what the CPFP child is signed for. */
const MINT_OUTPUT = singleKeyTaprootOutput(MINT_PUB);
const MINT_OUTPUT_KEY = MINT_OUTPUT.outputKey;

// ---------------------------------------------------------------------------------
// The independent verifier
// ---------------------------------------------------------------------------------

type Prevout = { txid: string; vout: number; script: Uint8Array; amount: bigint; outputKey: Uint8Array };
type Output = { script: Uint8Array; amount: bigint };
type Expect = { version: number; lockTime: number; outputs: Output[]; feeRate: number };

/**
 * Check every input's key-path signature with the independent verifier (its own parser
 * and BIP-341 sighash over the prevouts given here, SIGHASH_DEFAULT only, each prevout
 * OP_1 <its output key>), then the shape against what the test expects. Returns the
 * parsed transaction, its txid, vsize and fee.
 */
function verifyTx(rawHex: string, prevouts: Prevout[], want: Expect): { txid: string; vsize: number; fee: bigint; tx: VerifiedSpend } {
  const tx = verifyKeyPathSpend(rawHex, prevouts, prevouts.map((p) => p.outputKey));
  expect(tx.version, 'version').toBe(want.version);
  expect(tx.lockTime, 'nLockTime').toBe(want.lockTime);
  tx.inputs.forEach((input, i) => expect(input.sequence, `input ${i} nSequence`).toBe(SEQUENCE));
  expect(tx.outputs.length, 'outputs').toBe(want.outputs.length);
  want.outputs.forEach((o, i) => {
    const got = tx.outputs[i]!;
    expect(hex.encode(got.script), `output ${i} script`).toBe(hex.encode(o.script));
    expect(got.amount, `output ${i} amount`).toBe(o.amount);
  });
  const fee = prevouts.reduce((a, p) => a + p.amount, 0n) - want.outputs.reduce((a, o) => a + o.amount, 0n);
  expect(Number(fee), `fee ≥ ${want.feeRate} sat/vB × ${tx.vsize} vB`).toBeGreaterThanOrEqual(Math.ceil(want.feeRate * tx.vsize));
  return { txid: tx.txid, vsize: tx.vsize, fee, tx };
}

/** The one signature of a single-input key-path spend, as hex. */
const signatureOf = (rawHex: string) => hex.encode(parseTx(rawHex).inputs[0]!.witness[0]!);

// ---------------------------------------------------------------------------------
// Parties, messages, state on disk
// ---------------------------------------------------------------------------------

type Terms = {
  capacity_sat: number; change_address: string; expiry_height: number; fee_rate: number; funding: { txid: string; vout: number };
  mint_pubkey: string; payout_address: string; refund_address: string; user_pubkey: string;
};
type MintRecord = {
  contract_id: string; status: string; next_state: number; contract: Terms;
  latest?: { state: number; cumulative_sat: number; txid: string; hex: string; receipt: Record<string, unknown> };
  settlement?: { kind: string; state: number; txid: string };
};
type Msg = Record<string, any>;

function parties(root: string) {
  const mintDir = join(root, 'mint');
  const userDir = join(root, 'user');
  return {
    mintDir,
    userDir,
    mint: (...args: string[]): Stage => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir], env: { MINT_KEY } }),
    user: (...args: string[]): Stage => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } }),
    record: (id: string): Promise<MintRecord> => mintRecord(networkDir(mintDir), id),
  };
}

/**
 * The mint's stored record of contract `id`, read through the mint's own store
 * (src/lib/store/sqlite/mint.ts, on its state.sqlite, as the CLI opens it) rather than from
 * the database's rows, which are the store's business; the mint's key opens its sealed states,
 * as its commands do.
 */
async function mintRecord(dir: string, id: string): Promise<MintRecord> {
  const record = await storedMintRecord<MintRecord>(dir, id, hex.decode(MINT_KEY));
  if (!record) throw new Error(`the mint in ${dir} has no record of contract ${id}`);
  return record;
}

/** Every stage exits 0; the last stage's stdout is one JSON message of `type`. */
function ok(results: Run[], type: string): { text: string; msg: Msg } {
  results.forEach((r, i) => expect(r.status, `stage ${i} failed: ${r.stderr}`).toBe(0));
  const text = results.at(-1)!.stdout;
  const msg = JSON.parse(text) as Msg;
  expect(msg.type).toBe(type);
  expect(msg.network).toBe('regtest');
  return { text, msg };
}

/** The last stage refused: its exit code and code, one line on stderr, nothing on stdout. */
function refused(results: Run[], exitCode: number, code: string): Run {
  const r = results.at(-1)!;
  expect(r.status, r.stderr).toBe(exitCode);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(new RegExp(`error ${code}: `));
  return r;
}

const RECEIPT_KEYS = ['amount_sat', 'contract_id', 'cumulative_sat', 'mint_signature', 'network', 'next_nonce', 'state', 'txid', 'type', 'version'];

/**
 * The mint's answer to a payment carries no signature on the state: exactly the receipt
 * fields, no PSBT/hex/signature-looking field or value but `mint_signature` — the mint
 * key's signature over the receipt itself (docs/credit.md, "Signed answers"), checked by
 * test code — and not the state's signature nor either half of it.
 */
function expectNoMintSignature(receiptText: string, stateSignatureHex: string): void {
  const { mint_signature: answerSig, ...receipt } = JSON.parse(receiptText) as Msg;
  expect(Object.keys({ ...receipt, mint_signature: answerSig }).sort()).toEqual(RECEIPT_KEYS);
  expect(answerSignedBy({ ...receipt, mint_signature: answerSig }, MINT_PUB.subarray(1)), 'the mint key\'s signature over the receipt').toBe(true);
  expect(answerSig).not.toBe(stateSignatureHex);
  expect(Object.keys(receipt.next_nonce).sort()).toEqual(['pubnonce', 'state']);
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      expect(v, path).not.toMatch(/^cHNidP8/); // a base64 PSBT
      expect(v.length === 64 || v.length === 66 * 2 || !/^[0-9a-f]+$/.test(v), `${path}: only ids (32 bytes) and the nonce (66 bytes) are hex`).toBe(true);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        expect(k, path).not.toMatch(/psbt|hex|sig/i);
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(receipt, '$');
  expect(receiptText).not.toContain(stateSignatureHex);
  expect(receiptText).not.toContain(stateSignatureHex.slice(0, 64)); // R
  expect(receiptText).not.toContain(stateSignatureHex.slice(64)); // s
}

/** The funding output of a contract, as the verifier's prevout. */
const fundingPrevout = (t: Terms): Prevout => ({ txid: t.funding.txid, vout: t.funding.vout, script: CONTRACT_SCRIPT, amount: BigInt(t.capacity_sat), outputKey: CONTRACT_OUTPUT_KEY });

function verifyRefund(rawHex: string, t: Terms) {
  const capacity = BigInt(t.capacity_sat);
  const amount = parseTx(rawHex).outputs[0]!.amount;
  expect(amount).toBeLessThan(capacity);
  return verifyTx(rawHex, [fundingPrevout(t)], { version: 2, lockTime: t.expiry_height, outputs: [{ script: scriptOf(t.refund_address), amount }], feeRate: t.fee_rate });
}

/** A stored state: TRUC, no lock, the mint exactly its cumulative amount, the user the rest less the fee. */
function verifyState(rawHex: string, t: Terms, cumulative: number) {
  const change = parseTx(rawHex).outputs[1]!.amount;
  const v = verifyTx(rawHex, [fundingPrevout(t)], {
    version: 3, lockTime: 0, feeRate: t.fee_rate,
    outputs: [{ script: scriptOf(t.payout_address), amount: BigInt(cumulative) }, { script: scriptOf(t.change_address), amount: change }],
  });
  expect(v.fee).toBe(BigInt(t.capacity_sat) - BigInt(cumulative) - change);
  expect(Number(v.fee)).toBeLessThanOrEqual(Math.ceil(t.fee_rate * (v.vsize + 1))); // the user pays the fee, not more
  return v;
}

/** The mint's exit: its latest state exactly as stored, and a v3 CPFP child from its payout. */
function verifyExit(exit: Msg, record: MintRecord, feeRate: number) {
  const t = record.contract;
  expect(exit.contract_id).toBe(record.contract_id);
  expect(exit.state).toBe(record.latest!.state);
  expect(exit.cumulative_sat).toBe(record.latest!.cumulative_sat);
  expect(exit.deadline_height).toBe(t.expiry_height);
  expect(exit.state_tx.hex).toBe(record.latest!.hex);
  const state = verifyState(exit.state_tx.hex, t, record.latest!.cumulative_sat);
  expect(exit.state_tx.txid).toBe(state.txid);
  expect(exit.state_tx.vsize).toBe(state.vsize);
  expect(BigInt(exit.state_tx.fee_sat)).toBe(state.fee);
  expect(exit.child.complete).toBe(true);
  const payoutScript = scriptOf(t.payout_address);
  expect(hex.encode(payoutScript)).toBe(hex.encode(MINT_OUTPUT.script));
  const childAmount = parseTx(exit.child.hex).outputs[0]!.amount;
  const payout = BigInt(record.latest!.cumulative_sat);
  const child = verifyTx(exit.child.hex, [{ txid: state.txid, vout: 0, script: payoutScript, amount: payout, outputKey: MINT_OUTPUT_KEY }], {
    version: 3, lockTime: 0, feeRate: 0, outputs: [{ script: payoutScript, amount: childAmount }],
  });
  expect(exit.child.txid).toBe(child.txid);
  expect(child.vsize).toBeLessThanOrEqual(1000); // a TRUC child
  // The mint pays the child's fee out of its payout; the pair reaches the asked rate.
  expect(Number(state.fee + child.fee) / (state.vsize + child.vsize)).toBeGreaterThanOrEqual(feeRate);
  expect(Transaction.fromPSBT(base64.decode(exit.child.psbt)).id).toBe(child.txid);
}

// ---------------------------------------------------------------------------------
// The lifecycle
// ---------------------------------------------------------------------------------

describe('a credit contract from offer to close, through pipes between the two parties', () => {
  let dir: { path: string; cleanup: () => void };
  let p: ReturnType<typeof parties>;
  let offerPath: string;
  let first: Terms;
  let firstId: string;
  let next: Terms;
  let nextId: string;
  let rolloverTxid: string;

  beforeAll(() => {
    dir = tempDir('offchain-credit-life-');
    p = parties(dir.path);
    offerPath = join(dir.path, 'offer.json');
  });
  afterAll(() => dir.cleanup());

  it('the mint publishes an offer; the user derives from it the address this test computes by KeyAgg', async () => {
    const offer = ok(await pipeline([p.mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer');
    expect(offer.msg.mint_pubkey).toBe(hex.encode(MINT_PUB));
    expect(offer.msg.payout_address).toBe(PAYOUT);
    writeFileSync(offerPath, offer.text);
    // The stored offer, republished, piped straight into the user.
    const address = ok(await pipeline([p.mint('open-credit', '--role', 'mint', '--publish'), p.user('open-credit', '--role', 'user')], ''), 'credit/address');
    expect(address.msg.output_key).toBe(hex.encode(CONTRACT_OUTPUT_KEY));
    expect(hex.encode(scriptOf(address.msg.address))).toBe(hex.encode(CONTRACT_SCRIPT));
    expect(address.msg.user_pubkey).toBe(hex.encode(USER_PUB));
    // The wallet's unsigned funding PSBT pays that address.
    const funding = psbtUnsignedTx(base64.decode(FUNDING_PSBT));
    expect(hex.encode(funding.outputs[0]!.script)).toBe(hex.encode(CONTRACT_SCRIPT));
  });

  it('opens: refund co-signed by the mint, completed and verified by the user before any funding is signed', async () => {
    const accept = ok(
      await pipeline(
        [
          p.user('open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', '1000', '--expiry', '+4320', '--refund-address', REFUND, '--change-address', CHANGE),
          p.mint('open-credit', '--role', 'mint', '--tip-height', '1000'),
        ],
        FUNDING_PSBT,
      ),
      'credit/open-accept',
    );
    expect(accept.msg.next_nonce.state).toBe(1);
    firstId = accept.msg.contract_id;
    const opened = ok(await pipeline([p.user('open-credit', '--role', 'user')], accept.text), 'credit/opened');
    expect(opened.msg.contract_id).toBe(firstId);
    expect(opened.msg.funding_psbt).toBe(FUNDING_PSBT); // handed back unsigned: the wallet signs it now

    const record = await p.record(firstId);
    first = record.contract;
    expect(record.status).toBe('open');
    expect(record.latest).toBeUndefined();
    // The funding outpoint and amount as test code reads them from the wallet's PSBT.
    const funding = psbtUnsignedTx(base64.decode(FUNDING_PSBT));
    expect(first).toMatchObject({
      user_pubkey: hex.encode(USER_PUB), mint_pubkey: hex.encode(MINT_PUB), expiry_height: 5320, fee_rate: 1,
      payout_address: PAYOUT, refund_address: REFUND, change_address: CHANGE, funding: { txid: funding.txid, vout: 0 },
    });
    expect(BigInt(first.capacity_sat)).toBe(funding.outputs[0]!.amount);

    const refund = verifyRefund(opened.msg.refund.hex, first);
    expect(opened.msg.refund.txid).toBe(refund.txid);
    expect(opened.msg.refund.final_from_height).toBe(5321);
  });

  const payments = [10_000, 25_000, 40_000];
  it(`pays ${payments.join(', ')} sat: user → mint → user per payment; the mint stores each state fully signed and returns no signature`, async () => {
    let cumulative = 0;
    for (const [i, amount] of payments.entries()) {
      cumulative += amount;
      const receipt = ok(
        await pipeline(
          [
            p.user('sign-update', '--role', 'user', '--amount', String(amount)),
            p.mint('sign-update', '--role', 'mint', '--tip-height', '1001', '--confirmations', '1'),
          ],
          '',
        ),
        'credit/receipt',
      );
      expect(receipt.msg).toMatchObject({ contract_id: firstId, state: i + 1, amount_sat: amount, cumulative_sat: cumulative, next_nonce: { state: i + 2 } });
      const balance = ok(await pipeline([p.user('sign-update', '--role', 'user')], receipt.text), 'credit/balance');
      expect(balance.msg).toMatchObject({ contract_id: firstId, state: i + 1, cumulative_sat: cumulative, expiry_height: 5320 });

      const record = await p.record(firstId);
      expect(record.latest).toMatchObject({ state: i + 1, cumulative_sat: cumulative, txid: receipt.msg.txid });
      const state = verifyState(record.latest!.hex, first, cumulative);
      expect(state.txid).toBe(receipt.msg.txid);
      expect(balance.msg.spendable_sat).toBeLessThan(first.capacity_sat - cumulative);
      expectNoMintSignature(receipt.text, signatureOf(record.latest!.hex));
      expect(balance.text).not.toContain(signatureOf(record.latest!.hex));
    }
  });

  it('a retried request (the receipt was lost) gets the stored receipt, byte for byte, and changes nothing on the mint\'s disk', async () => {
    const pay = () =>
      pipeline([p.user('sign-update', '--role', 'user', '--amount', '5000'), p.mint('sign-update', '--role', 'mint', '--tip-height', '1001', '--confirmations', '1')], '');
    const firstTry = ok(await pay(), 'credit/receipt');
    const before = fileSnapshot(p.mintDir, { locks: true });
    const retry = ok(await pay(), 'credit/receipt'); // the user resends its pending request unchanged
    expect(retry.text).toBe(firstTry.text);
    expect(fileSnapshot(p.mintDir, { locks: true })).toEqual(before); // no nonce issued or consumed, no record rewritten
    const record = await p.record(firstId);
    expect(record.latest!.receipt).toEqual(JSON.parse(retry.text));
    verifyState(record.latest!.hex, first, 80_000);
    expectNoMintSignature(retry.text, signatureOf(record.latest!.hex));
    const balance = ok(await pipeline([p.user('sign-update', '--role', 'user')], retry.text), 'credit/balance');
    expect(balance.msg).toMatchObject({ state: 4, cumulative_sat: 80_000 });
  });

  it('rolls over in two rounds: the mint co-signs the new refund first, the user signs the rollover only once that refund verifies', async () => {
    // Round 1, user → mint: the rollover unsigned, the new refund with the user's nonce.
    const proposal = ok(
      await pipeline([p.user('rollover', '--role', 'user', '--expiry', '+4320', '--tip-height', '1002'), p.mint('rollover', '--role', 'mint', '--tip-height', '1002')], ''),
      'credit/rollover-refund',
    );
    // The mint's first answer is the new refund's partial signature and nothing else; the old contract is not frozen yet.
    expect(Object.keys(proposal.msg).sort()).toEqual(['contract_id', 'network', 'new_contract_id', 'refund_psbt', 'type', 'version']);
    expect(proposal.msg.contract_id).toBe(firstId);
    nextId = proposal.msg.new_contract_id;
    expect((await p.record(firstId)).status).toBe('open');
    // Round 2, user → mint: the refund completed and verified, the rollover signed; the mint completes it.
    const accept = ok(
      await pipeline([p.user('rollover', '--role', 'user'), p.mint('rollover', '--role', 'mint', '--tip-height', '1002')], proposal.text),
      'credit/rollover-accept',
    );
    expect(accept.msg.new_contract_id).toBe(nextId);
    expect(accept.msg.next_nonce.state).toBe(1);
    const rolled = ok(await pipeline([p.user('rollover', '--role', 'user')], accept.text), 'credit/rolled-over');
    expect(rolled.msg).toMatchObject({ contract_id: firstId, new_contract_id: nextId, rollover: { complete: true } });

    const old = await p.record(firstId);
    const fresh = await p.record(nextId);
    next = fresh.contract;
    rolloverTxid = rolled.msg.rollover.txid;
    expect(next).toMatchObject({ funding: { txid: rolloverTxid, vout: 1 }, expiry_height: 5322, user_pubkey: first.user_pubkey, mint_pubkey: first.mint_pubkey });

    // The new refund: spends the rollover's contract output back to the user at the new expiry.
    const refund = verifyRefund(rolled.msg.refund.hex, next);
    expect(rolled.msg.refund.txid).toBe(refund.txid);
    expect(rolled.msg.refund.final_from_height).toBe(5323);

    // The rollover: mint exactly its cumulative 80 000, the new contract the rest less the fee.
    const rollover = verifyTx(rolled.msg.rollover.hex, [fundingPrevout(first)], {
      version: 2, lockTime: 0, feeRate: first.fee_rate,
      outputs: [{ script: scriptOf(PAYOUT), amount: 80_000n }, { script: CONTRACT_SCRIPT, amount: BigInt(next.capacity_sat) }],
    });
    expect(rollover.txid).toBe(rolloverTxid);
    expect(rollover.fee).toBe(BigInt(first.capacity_sat) - 80_000n - BigInt(next.capacity_sat));

    // Frozen, but the old latest state stays for the exit until the rollover confirms.
    expect(old.status).toBe('rolling-over');
    expect(old.settlement).toMatchObject({ kind: 'rollover', state: 5, txid: rolloverTxid });
    expect(old.latest).toMatchObject({ state: 4, cumulative_sat: 80_000 });
    expect(fresh.status).toBe('open');
    const frozen = await pipeline([p.user('sign-update', '--role', 'user', '--amount', '1000', '--contract', firstId)], '');
    refused(frozen, 4, 'E_CONTRACT_FROZEN');
  });

  it('payments on the new contract wait for its funding confirmations (asserted offline), then go through', async () => {
    const pay = (amount: number, confirmations: string) =>
      pipeline([p.user('sign-update', '--role', 'user', '--amount', String(amount)), p.mint('sign-update', '--role', 'mint', '--tip-height', '1003', '--confirmations', confirmations)], '');
    const before = fileSnapshot(p.mintDir, { locks: true });
    refused(await pay(20_000, '0'), 4, 'E_FUNDING_UNCONFIRMED');
    expect(fileSnapshot(p.mintDir, { locks: true })).toEqual(before);

    let cumulative = 0;
    for (const [i, amount] of [20_000, 30_000].entries()) {
      cumulative += amount;
      const receipt = ok(await pay(amount, '1'), 'credit/receipt');
      expect(receipt.msg).toMatchObject({ contract_id: nextId, state: i + 1, cumulative_sat: cumulative });
      ok(await pipeline([p.user('sign-update', '--role', 'user')], receipt.text), 'credit/balance');
      const record = await p.record(nextId);
      const state = verifyState(record.latest!.hex, next, cumulative);
      expect(state.txid).toBe(receipt.msg.txid);
      expectNoMintSignature(receipt.text, signatureOf(record.latest!.hex));
    }
  });

  it('closes cooperatively: the mint gets exactly its cumulative amount, the user the rest less the fee', async () => {
    const closed = ok(await pipeline([p.user('close-credit', '--role', 'user', '--start'), p.mint('close-credit', '--role', 'mint')], ''), 'credit/closed');
    const confirmed = ok(await pipeline([p.user('close-credit', '--role', 'user')], closed.text), 'credit/closed');
    expect(confirmed.text).toBe(closed.text);
    expect(closed.msg).toMatchObject({ contract_id: nextId, cumulative_sat: 50_000 });
    const close = verifyTx(closed.msg.hex, [fundingPrevout(next)], {
      version: 2, lockTime: 0, feeRate: next.fee_rate,
      outputs: [{ script: scriptOf(PAYOUT), amount: 50_000n }, { script: scriptOf(CHANGE), amount: parseTx(closed.msg.hex).outputs[1]!.amount }],
    });
    expect(close.txid).toBe(closed.msg.txid);
    const record = await p.record(nextId);
    expect(record.status).toBe('closing');
    expect(record.settlement).toMatchObject({ kind: 'close', txid: close.txid });
    expect(record.latest).toMatchObject({ state: 2, cumulative_sat: 50_000 }); // kept until the close confirms
  });

  it('until settlement confirms the mint can still exit either contract; credit list flags the one inside its safety margin', async () => {
    // Tip 5177: the old contract (expiry 5320) is 143 blocks away, inside the 144-block margin; the new one (5322) is not.
    const list = ok(await pipeline([p.mint('credit', 'list', '--tip-height', '5177')], ''), 'credit/contracts');
    expect(list.msg.tip_height).toBe(5177);
    // Offline nothing says whether the settlements confirmed: each is shown, without confirmations.
    const closeTxid = (await p.record(nextId)).settlement!.txid;
    expect(list.msg.contracts).toEqual([
      {
        contract_id: firstId, status: 'rolling-over', capacity_sat: first.capacity_sat, cumulative_sat: 80_000, state: 4, expiry_height: 5320,
        blocks_to_expiry: 143, settlement: { kind: 'rollover', txid: rolloverTxid }, must_exit: true,
        next: `exit now: exit-credit --contract ${firstId} --fee-rate R --broadcast (with a node), before block 5320`,
      },
      {
        contract_id: nextId, status: 'closing', capacity_sat: next.capacity_sat, cumulative_sat: 50_000, state: 2, expiry_height: 5322,
        blocks_to_expiry: 145, settlement: { kind: 'close', txid: closeTxid }, must_exit: false,
        next: `wait for the close ${closeTxid} to get 1 confirmation; if it is not mined 144 blocks before expiry, exit-credit --contract ${nextId}`,
      },
    ]);
    for (const [id, rate] of [[firstId, 5], [nextId, 20]] as const) {
      const exit = ok(await pipeline([p.mint('exit-credit', '--fee-rate', String(rate), '--contract', id)], ''), 'credit/exit');
      verifyExit(exit.msg, await p.record(id), rate);
    }
  });
});

describe('unilateral exits of a contract with payments: the mint\'s exit-credit, the user\'s refund-credit', () => {
  let dir: { path: string; cleanup: () => void };
  let p: ReturnType<typeof parties>;
  let id: string;
  let terms: Terms;
  let openedRefund: string;

  beforeAll(async () => {
    dir = tempDir('offchain-credit-exit-');
    p = parties(dir.path);
    const offer = ok(await pipelineInProcess([p.mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer');
    writeFileSync(join(dir.path, 'offer.json'), offer.text);
    const opened = ok(
      await pipelineInProcess(
        [
          p.user('open-credit', '--role', 'user', '--offer', join(dir.path, 'offer.json'), '--tip-height', '1000', '--expiry', '5320', '--refund-address', REFUND),
          p.mint('open-credit', '--role', 'mint', '--tip-height', '1000'),
          p.user('open-credit', '--role', 'user'),
        ],
        FUNDING_PSBT,
      ),
      'credit/opened',
    );
    id = opened.msg.contract_id;
    openedRefund = opened.msg.refund.hex;
    terms = (await p.record(id)).contract;
  });
  afterAll(() => dir.cleanup());

  /** The first payment, offline, without telling the mint the funding's confirmations. */
  const payWithoutConfirmations = async () =>
    refused(await pipeline([p.user('sign-update', '--role', 'user', '--amount', '50000'), p.mint('sign-update', '--role', 'mint', '--tip-height', '1001')], ''), 2, 'E_CHAIN_UNKNOWN');

  it('offline, the mint refuses a payment whose funding status it was not told (exit 2), writing nothing; E_CHAIN_UNKNOWN suggests the flag sign-update accepts ("--confirmations N")', async () => {
    const before = fileSnapshot(p.mintDir, { locks: true });
    const { stderr } = await payWithoutConfirmations();
    expect(fileSnapshot(p.mintDir, { locks: true })).toEqual(before);
    expect(stderr).toMatch(/--confirmations N\b/);
    expect(stderr, 'the hint must be a flag sign-update accepts').not.toMatch(/[0-9a-f]{64}:\d+=N/);
  });

  it('the mint exits with its latest state and a CPFP child it pays for; credit list says when', async () => {
    for (const [i, amount] of [50_000, 70_000].entries()) {
      const receipt = ok(
        await pipelineInProcess(
          [p.user('sign-update', '--role', 'user', '--amount', String(amount)), p.mint('sign-update', '--role', 'mint', '--tip-height', '1001', '--confirmations', '1')],
          '',
        ),
        'credit/receipt',
      );
      expect(receipt.msg.state).toBe(i + 1);
      ok(await pipelineInProcess([p.user('sign-update', '--role', 'user')], receipt.text), 'credit/balance');
    }
    const record = await p.record(id);
    expect(record.latest).toMatchObject({ state: 2, cumulative_sat: 120_000 });
    for (const [tip, mustExit] of [[5175, false], [5176, true]] as const) {
      const list = ok(await pipelineInProcess([p.mint('credit', 'list', '--tip-height', String(tip))], ''), 'credit/contracts');
      expect(list.msg.contracts).toHaveLength(1);
      expect(list.msg.contracts[0]).toMatchObject({ contract_id: id, must_exit: mustExit, blocks_to_expiry: 5320 - tip });
    }
    // Inside the margin the mint takes no more payments: it only exits.
    refused(
      await pipelineInProcess(
        [p.user('sign-update', '--role', 'user', '--amount', '1000'), p.mint('sign-update', '--role', 'mint', '--tip-height', '5176', '--confirmations', '6')],
        '',
      ),
      4,
      'E_TOO_CLOSE_TO_EXPIRY',
    );
    const exit = ok(await pipelineInProcess([p.mint('exit-credit', '--fee-rate', '12')], ''), 'credit/exit');
    verifyExit(exit.msg, await p.record(id), 12);
    expect(exit.msg.child.package_fee_rate).toBeGreaterThanOrEqual(12);
  });

  it('the user\'s refund is refused (exit 4, E_NOT_FINAL) at tip expiry − 1 and printed at tip = expiry', async () => {
    const before = fileSnapshot(p.userDir, { locks: true });
    const early = refused(await pipeline([p.user('refund-credit', '--tip-height', '5319')], ''), 4, 'E_NOT_FINAL');
    expect(early.stderr).toMatch(/5320/);
    expect(fileSnapshot(p.userDir, { locks: true })).toEqual(before);
    const refund = ok(await pipelineInProcess([p.user('refund-credit', '--tip-height', '5320')], ''), 'credit/refund');
    expect(refund.msg).toMatchObject({ contract_id: id, final: true, final_from_height: 5321 });
    expect(refund.msg.hex).toBe(openedRefund);
    const v = verifyRefund(refund.msg.hex, terms);
    expect(refund.msg.txid).toBe(v.txid);
    // The refund returns everything but its own fee to the user (the mint had to exit in time).
    expect(v.fee + v.tx.outputs[0]!.amount).toBe(BigInt(terms.capacity_sat));
    // A monitoring job without the key gets the same refund from the state directory.
    const keyless = ok(await pipeline([{ args: ['refund-credit', '--tip-height', '5320', '--state-dir', p.userDir], env: {} }], ''), 'credit/refund');
    expect(keyless.text).toBe(refund.text);
  });
});

describe('the order of signatures in a rollover: the user\'s funds never move into a contract it cannot exit', () => {
  let dir: { path: string; cleanup: () => void };
  let p: ReturnType<typeof parties>;
  let request: { text: string; msg: Msg };
  let proposal: { text: string; msg: Msg };

  beforeAll(async () => {
    dir = tempDir('offchain-credit-roll-');
    p = parties(dir.path);
    const offer = ok(await pipelineInProcess([p.mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT)], ''), 'credit/offer');
    writeFileSync(join(dir.path, 'offer.json'), offer.text);
    ok(
      await pipelineInProcess(
        [
          p.user('open-credit', '--role', 'user', '--offer', join(dir.path, 'offer.json'), '--tip-height', '1000', '--refund-address', REFUND),
          p.mint('open-credit', '--role', 'mint', '--tip-height', '1000'),
          p.user('open-credit', '--role', 'user'),
        ],
        FUNDING_PSBT,
      ),
      'credit/opened',
    );
    request = ok(await pipelineInProcess([p.user('rollover', '--role', 'user', '--expiry', '+4320', '--tip-height', '1002')], ''), 'credit/rollover-request');
    proposal = ok(await pipelineInProcess([p.mint('rollover', '--role', 'mint', '--tip-height', '1002')], request.text), 'credit/rollover-refund');
  });
  afterAll(() => dir.cleanup());

  it('round 1 leaves nothing broadcastable: the request carries no signature on the rollover, the mint\'s answer no rollover at all', () => {
    const rollover = Transaction.fromPSBT(base64.decode(request.msg.rollover_psbt));
    expect(rollover.getInput(0).musig2PartialSig ?? []).toHaveLength(0);
    expect(rollover.getInput(0).tapKeySig).toBeUndefined();
    expect(proposal.msg.rollover_psbt).toBeUndefined();
    expect(JSON.stringify(proposal.msg)).not.toContain(request.msg.rollover_psbt);
  });

  /** The rollover-refund with the mint's partial signature on the new refund corrupted. */
  function withBadRefundSignature(): string {
    const refund = Transaction.fromPSBT(base64.decode(proposal.msg.refund_psbt));
    const sigs = refund.getInput(0).musig2PartialSig!;
    const mine = sigs.find(([k]) => hex.encode(k.participantPubkey) === hex.encode(MINT_PUB))!;
    const bad = Uint8Array.from(mine[1]);
    bad[31] = bad[31]! ^ 1;
    refund.updateInput(0, { musig2PartialSig: undefined });
    refund.updateInput(0, { musig2PartialSig: [...sigs.filter((e) => e !== mine), [mine[0], bad]] });
    return JSON.stringify({ ...proposal.msg, refund_psbt: base64.encode(refund.toPSBT()) });
  }

  it('a new refund that does not verify: the user refuses (exit 4, blaming the mint\'s key), signs no rollover, writes nothing', async () => {
    const before = fileSnapshot(p.userDir, { locks: true });
    const r = refused(await pipeline([p.user('rollover', '--role', 'user')], withBadRefundSignature()), 4, 'E_BAD_PARTIAL_SIG');
    expect(r.stderr).toContain(hex.encode(MINT_PUB));
    expect(fileSnapshot(p.userDir, { locks: true })).toEqual(before);
  });

  it('with the honest answer the user signs, and only then does the mint hold a valid rollover', async () => {
    const sign = ok(await pipelineInProcess([p.user('rollover', '--role', 'user')], proposal.text), 'credit/rollover-sign');
    const signed = Transaction.fromPSBT(base64.decode(sign.msg.rollover_psbt));
    expect(signed.id).toBe(Transaction.fromPSBT(base64.decode(request.msg.rollover_psbt)).id); // the very transaction approved in round 1
    expect(signed.getInput(0).musig2PartialSig).toHaveLength(1);
    const accept = ok(await pipelineInProcess([p.mint('rollover', '--role', 'mint', '--tip-height', '1002')], sign.text), 'credit/rollover-accept');
    const rolled = ok(await pipelineInProcess([p.user('rollover', '--role', 'user')], accept.text), 'credit/rolled-over');
    expect(rolled.msg.rollover.txid).toBe(signed.id);
  });
});
