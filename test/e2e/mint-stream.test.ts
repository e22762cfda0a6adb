/**
 * The mint's streaming mode (`sign-update --role mint --stream`, src/commands/
 * credit/sign-update.ts) through the built CLI: several users, each with its own key, state
 * directory and contract, send their update requests as JSON Lines into ONE mint
 * process that stays up across rounds (a user needs the mint's receipt — its next
 * nonce — before its next request, so each round carries one request per contract).
 *
 * Checked for every line: each non-blank input line gets exactly one output line, in
 * input order; a request gets the receipt of its own contract and state, with the txid
 * of the state the request asked for (read from its PSBT by test code); a bad line gets
 * a `credit/error` line with its line number, code and exit code, and the stream goes
 * on. Every receipt is then fed to its user (`sign-update --role user`), who must accept
 * it. After the last round each contract's exit (`exit-credit`) carries the latest
 * receipt's state, and its signature checks with the independent verifier.
 *
 * Backends: the run above is on noble; the same input replayed from the same starting
 * state on native and libsecp256k1 (each skipped, visibly, where test code cannot load it) must
 * print byte-identical receipts and exits under OFFCHAIN_TEST_SEED.
 *
 * The contracts are opened and the users make their requests and take their receipts in
 * this process (stream-credit-here.ts: the built bundle's `main`, ~10 ms a step instead of
 * a ~0.15 CPU-s node process): the mint's processes are the point here, and they stay
 * processes; credit-ecash.test.ts and credit-lifecycle.test.ts run the users' steps spawned.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { tempDir } from '../helpers.ts';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { answerSignedBy } from '../independent/answer.ts';
import { publicKeyOf } from '../independent/keys.ts';
import { hex } from '@scure/base';
import { pipeline } from './cli.ts';
import { OPTIONAL_BACKENDS, installed } from '../setup/backends.ts';
import {
  CAPACITY, MINT_KEY, MintStream, message, mintStage, requestTxid, type Msg, type Parties, type User,
} from './stream-credit.ts';
import { applyReceiptHere, openContractsHere, payRequestHere } from './stream-credit-here.ts';

const SEED = 'mint-stream';
const ENV = { OFFCHAIN_TEST_SEED: SEED };
const RECEIPT_KEYS = ['amount_sat', 'contract_id', 'cumulative_sat', 'mint_signature', 'network', 'next_nonce', 'state', 'txid', 'type', 'version'];
/** The mint's key, x-only: its receipts are signed with it (docs/credit.md, "Signed answers"). */
const MINT_XONLY = publicKeyOf(hex.decode(MINT_KEY)).subarray(1);
const ERROR_KEYS = ['code', 'exit_code', 'line', 'message', 'network', 'type', 'version'];

/**
 * Which optional backends the replays below run on: those test code can import
 * (../setup/backends.ts) — never what the CLI reports, so a CLI that silently falls
 * back to noble fails the replay (its banner names noble) instead of skipping it.
 */
const AVAILABLE = Object.fromEntries(await Promise.all(OPTIONAL_BACKENDS.map(async (b) => [b, await installed(b)] as const)));

/** What one non-blank input line must be answered with. */
type Expected =
  | { receipt: { user: User; request: Msg } }
  | { error: { code: string; exitCode: number; message: RegExp } };

type Line = { text: string; expect?: Expected };

function expectReceipt(text: string, user: User, request: Msg): Msg {
  const r = JSON.parse(text) as Msg;
  expect(Object.keys(r).sort(), text).toEqual(RECEIPT_KEYS);
  expect(r, text).toMatchObject({
    type: 'credit/receipt', version: 1, network: 'regtest', contract_id: user.contractId, state: request.state,
    amount_sat: request.amount_sat, cumulative_sat: request.cumulative_sat, txid: requestTxid(request),
  });
  expect(r.next_nonce.state).toBe(request.state + 1);
  expect(r.next_nonce.pubnonce).toMatch(/^0[23][0-9a-f]{64}0[23][0-9a-f]{64}$/);
  expect(answerSignedBy(r, MINT_XONLY), `${text}: the mint's signature`).toBe(true);
  return r;
}

describe('sign-update --role mint --stream: three users, one mint process, receipts line by line', () => {
  let dir: { path: string; cleanup: () => void };
  let p: Parties;
  let pristineMint: string;
  let stream: MintStream;
  /** Everything written to the stream, for the replays on other backends. */
  let fed = '';
  let lineNumber = 0;
  let answered = 0;
  /** The latest receipt each user accepted, and the requests it sent. */
  const latest = new Map<number, Msg>();
  const sent = new Map<number, Msg[]>();
  let noble: { stdout: string; exits: string[] };

  beforeAll(async () => {
    dir = tempDir('offchain-mint-stream-');
    p = await openContractsHere(join(dir.path, 'noble'), 3, ENV, 'mint-stream');
    pristineMint = join(dir.path, 'pristine-mint');
    cpSync(p.mintDir, pristineMint, { recursive: true });
    stream = new MintStream(p.mintDir, { ...ENV, OFFCHAIN_SECP256K1: 'noble' });
  });
  afterAll(async () => {
    if (stream?.alive) await stream.kill();
    dir?.cleanup();
  });

  /** Each user's next request (all users at once), remembered per user. */
  async function requests(amounts: number[]): Promise<Msg[]> {
    const out = await Promise.all(p.users.map((u, i) => payRequestHere(u, amounts[i]!, ENV)));
    out.forEach((r, i) => sent.set(i, [...(sent.get(i) ?? []), r.msg]));
    return out.map((r) => r.msg);
  }

  const pay = (user: User, request: Msg): Line => ({ text: JSON.stringify(request), expect: { receipt: { user, request } } });
  const bad = (text: string, code: string, exitCode: number, message: RegExp): Line => ({ text, expect: { error: { code, exitCode, message } } });
  const blank = (text = ''): Line => ({ text });

  /**
   * Write `lines` to the running stream, wait for one answer per non-blank line, check
   * each against what it must be, and return the receipts by user.
   */
  async function round(lines: Line[]): Promise<Map<number, string>> {
    const chunk = lines.map((l) => `${l.text}\n`).join('');
    fed += chunk;
    const numbered = lines.map((l) => ({ ...l, line: ++lineNumber })).filter((l) => l.expect);
    const before = answered;
    stream.write(chunk);
    await stream.until(() => stream.lines().length >= before + numbered.length, `${numbered.length} answers`);
    answered += numbered.length;
    const out = stream.lines().slice(before, before + numbered.length);
    const receipts = new Map<number, string>();
    numbered.forEach((l, i) => {
      const text = out[i]!;
      const e = l.expect!;
      if ('receipt' in e) {
        expectReceipt(text, e.receipt.user, e.receipt.request);
        receipts.set(e.receipt.user.index, text);
      } else {
        const got = JSON.parse(text) as Msg;
        expect(Object.keys(got).sort(), text).toEqual(ERROR_KEYS);
        expect(got, `input line ${l.line}`).toMatchObject({ type: 'credit/error', version: 1, network: 'regtest', line: l.line, code: e.error.code, exit_code: e.error.exitCode });
        expect(got.message).toMatch(e.error.message);
      }
    });
    return receipts;
  }

  /** Every user takes its receipt; each balance says the state and cumulative the receipt did. */
  async function accept(receipts: Map<number, string>): Promise<void> {
    expect([...receipts.keys()].sort()).toEqual(p.users.map((u) => u.index));
    const balances = await Promise.all(p.users.map((u) => applyReceiptHere(u, receipts.get(u.index)!, ENV)));
    balances.forEach((b, i) => {
      const r = JSON.parse(receipts.get(i)!) as Msg;
      expect(b).toMatchObject({ contract_id: p.users[i]!.contractId, state: r.state, cumulative_sat: r.cumulative_sat });
      latest.set(i, r);
    });
  }

  it('round 1: a receipt per request in input order; an unknown contract, another network and blank lines are answered or skipped without stopping it', async () => {
    const [a, b, c] = await requests([1_000, 2_000, 3_000]);
    const unknown = { ...a!, contract_id: createHash('sha256').update('no such contract').digest('hex') };
    const testnet = { ...b!, network: 'testnet' };
    const receipts = await round([
      bad(JSON.stringify(unknown), 'E_UNKNOWN_CONTRACT', 4, new RegExp(unknown.contract_id)),
      pay(p.users[0]!, a!),
      blank(),
      pay(p.users[1]!, b!),
      bad(JSON.stringify(testnet), 'E_NETWORK_MISMATCH', 4, /line 5 .*regtest/),
      blank('   '),
      pay(p.users[2]!, c!),
    ]);
    expect(stream.stderr).toContain('mint streaming on the noble secp256k1 backend');
    await accept(receipts);
    expect([...latest.values()].map((r) => [r.state, r.cumulative_sat])).toEqual([[1, 1_000], [1, 2_000], [1, 3_000]]);
  });

  it('round 2: an old request again gets E_NONCE_USED (exit 5: its nonce is spent, and its words say nothing of the contract), a retried request the same receipt byte for byte, a message of another type E_WRONG_MESSAGE', async () => {
    const [a, b, c] = await requests([500, 600, 700]);
    const firstOfA = sent.get(0)![0]!;
    const receipts = await round([
      pay(p.users[1]!, b!),
      pay(p.users[0]!, a!),
      bad(JSON.stringify(firstOfA), 'E_NONCE_USED', 5, /nonce this request is signed against has already been used/),
      pay(p.users[1]!, b!), // the same request again, in the same batch
      bad(JSON.stringify(latest.get(2)), 'E_WRONG_MESSAGE', 3, /credit\/update-request.*credit\/receipt/),
      pay(p.users[2]!, c!),
    ]);
    const answers = stream.lines().slice(-6);
    expect(answers[3]).toBe(answers[0]); // the retry: the stored receipt, not a second signature
    await accept(receipts);
    expect([...latest.values()].map((r) => [r.state, r.cumulative_sat])).toEqual([[2, 1_500], [2, 2_600], [2, 3_700]]);
  });

  it('round 3: requests in another order than the users were opened, each answered for its own contract; a line that is not JSON gets E_MALFORMED_JSON and the stream goes on', async () => {
    const [a, b, c] = await requests([10, 20, 30]);
    const receipts = await round([pay(p.users[2]!, c!), bad('not json', 'E_MALFORMED_JSON', 3, /line \d+ is not valid JSON/), pay(p.users[0]!, a!), pay(p.users[1]!, b!)]);
    await accept(receipts);
    expect([...latest.values()].map((r) => [r.state, r.cumulative_sat])).toEqual([[3, 1_510], [3, 2_620], [3, 3_730]]);
  });

  it('EOF ends the stream with exit 0 and nothing more on stdout; each contract exits with its latest receipt\'s state, validly signed', async () => {
    const { status, signal } = await stream.end();
    expect([status, signal], stream.stderr).toEqual([0, null]);
    expect(stream.stdout.endsWith('\n')).toBe(true);
    expect(stream.lines()).toHaveLength(answered);
    const exits = await exitAll(p.mintDir, p.users, latest);
    noble = { stdout: stream.stdout, exits };
  });

  for (const backend of OPTIONAL_BACKENDS) {
    it.skipIf(!AVAILABLE[backend])(`on ${backend} (SKIPPED only if test code cannot import it): the same input from the same state prints byte-identical receipts and exits`, async () => {
      expect(noble, 'the noble run must have completed').toBeDefined();
      const mintDir = join(dir.path, backend, 'mint');
      cpSync(pristineMint, mintDir, { recursive: true });
      const replay = new MintStream(mintDir, { ...ENV, OFFCHAIN_SECP256K1: backend });
      replay.write(fed);
      const { status } = await replay.end();
      expect(status, replay.stderr).toBe(0);
      expect(replay.stderr).toContain(`mint streaming on the ${backend} secp256k1 backend`);
      expect(replay.stdout).toBe(noble.stdout);
      // The exit transactions carry the final signatures the stream's backend made.
      expect(await exitAll(mintDir, p.users, latest, backend)).toEqual(noble.exits);
    });
  }

  /**
   * `exit-credit` for every contract: the state is the latest receipt's, and its
   * signature verifies for the contract key test code derived, on an implementation
   * the stream (on `backend`) did not use. Returns the exit messages' text.
   */
  async function exitAll(mintDir: string, users: User[], receipts: Map<number, Msg>, backend = 'noble'): Promise<string[]> {
    const verifier = await independentSchnorr(productBackends({ OFFCHAIN_SECP256K1: backend }));
    const exits = await Promise.all(users.map((u) => pipeline([mintStage(mintDir, ENV, 'exit-credit', '--fee-rate', '2', '--contract', u.contractId)], '')));
    return exits.map((r, i) => {
      const exit = message(r, 'credit/exit', `exit of contract ${i}`);
      const receipt = receipts.get(i)!;
      expect(exit.msg).toMatchObject({ contract_id: users[i]!.contractId, state: receipt.state, cumulative_sat: receipt.cumulative_sat });
      expect(exit.msg.state_tx.txid).toBe(receipt.txid);
      const u = users[i]!;
      const spend = verifyKeyPathSpend(exit.msg.state_tx.hex, [{ amount: CAPACITY, script: u.script, txid: u.funding.txid, vout: u.funding.vout }], u.outputKey, { verifier });
      expect(spend.txid).toBe(receipt.txid);
      expect(spend.outputs[0]!.amount).toBe(BigInt(receipt.cumulative_sat));
      return exit.text;
    });
  }
});
