/**
 * The mint serves and acts at once (issue 7 item 2): while one `sign-update --stream`
 * process serves payments, the operator lists contracts and exits one — no E_LOCK_HELD,
 * no waiting for the stream to end.
 *
 * - `credit list` is a read-only view: no key, no lock; it shows the last committed
 *   state, so every contract's state it prints is one the stream has committed (a
 *   receipt printed before the list started is at most one state behind what it shows).
 * - `exit-credit` of contract X is one transaction among the stream's (SQLite
 *   BEGIN IMMEDIATE serialises the writers): it exits with X's latest committed state
 *   and freezes X, so the stream answers X's next request with E_CONTRACT_FROZEN, and
 *   never prints a receipt for X past the exited state. The other contracts go on.
 * - The stream stops at its start, with a non-zero exit, when it has no chain source.
 *
 * The contracts are opened and the users make their requests and take their receipts in
 * this process (stream-credit-here.ts: the built bundle's `main`, ~10 ms a step instead of
 * a ~0.15 CPU-s node process): the mint's processes are the point here, and they stay
 * processes; credit-ecash.test.ts and credit-lifecycle.test.ts run the users' steps spawned.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tempDir } from '../helpers.ts';
import { pipeline, type Run } from './cli.ts';
import { MintStream, message, mintStage, type Msg, type Parties } from './stream-credit.ts';
import { applyReceiptHere, openContractsHere, payRequestHere } from './stream-credit-here.ts';

const ENV = { OFFCHAIN_TEST_SEED: 'mint-serves-and-acts' };
const USERS = 4;

describe('the mint lists and exits while it streams', () => {
  const dir = tempDir('offchain-serve-act-');
  let p: Parties;
  let stream: MintStream;
  afterAll(async () => {
    if (stream) await stream.kill();
    dir.cleanup();
  });
  beforeAll(async () => {
    p = await openContractsHere(dir.path, USERS, ENV, 'serve-act');
    stream = new MintStream(p.mintDir, ENV);
  }, 180_000);

  const answers = () => stream.lines().map((l) => JSON.parse(l) as Msg);
  /** Send one request per user (the users' own CLI makes each), and wait for as many answers. */
  async function round(amount: number) {
    const reqs = await Promise.all(p.users.map((u) => payRequestHere(u, amount, ENV)));
    const before = stream.lines().length;
    for (const r of reqs) stream.write(r.line + '\n');
    await stream.until(() => stream.lines().length >= before + reqs.length, `${reqs.length} answers`);
    return answers().slice(before, before + reqs.length);
  }
  /** `credit list` with no key at all: a monitoring job's view. */
  const list = async (): Promise<Run> => (await pipeline([{ args: ['credit', 'list', '--tip-height', '1002', '--state-dir', p.mintDir], env: {} }], '', { timeoutMs: 30_000 }))[0]!;

  it('round 1 is served; meanwhile credit list, with no key, lists every contract without waiting for the stream', async () => {
    const served = await round(1000);
    expect(served.map((a) => [a.type, a.state])).toEqual(p.users.map(() => ['credit/receipt', 1]));
    for (const [i, u] of p.users.entries()) await applyReceiptHere(u, JSON.stringify(served[i]), ENV);
    // The stream is still running, holding its state directory.
    expect(stream.child.exitCode).toBeNull();
    const started = Date.now();
    const r = await list();
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(8_000); // the old lock made it wait 10 s, then fail
    const rows = (JSON.parse(r.stdout) as Msg).contracts as Msg[];
    expect(rows.map((c) => [c.contract_id, c.state, c.cumulative_sat]).sort()).toEqual(p.users.map((u) => [u.contractId, 1, 1000]).sort());
  }, 120_000);

  it('under load: lists taken while a round is served show each contract at a committed state (1 or 2), never a made-up one', async () => {
    const reqs = await Promise.all(p.users.map((u) => payRequestHere(u, 500, ENV)));
    const before = stream.lines().length;
    const lists: Promise<Run>[] = [];
    for (const r of reqs) {
      stream.write(r.line + '\n');
      lists.push(list());
    }
    await stream.until(() => stream.lines().length >= before + reqs.length, 'round 2 answers');
    const served = answers().slice(before);
    expect(served.map((a) => [a.type, a.state])).toEqual(p.users.map(() => ['credit/receipt', 2]));
    for (const [i, u] of p.users.entries()) await applyReceiptHere(u, JSON.stringify(served[i]), ENV);
    for (const r of await Promise.all(lists)) {
      expect(r.status, r.stderr).toBe(0);
      for (const row of (JSON.parse(r.stdout) as Msg).contracts as Msg[]) {
        expect([[1, 1000], [2, 1500]]).toContainEqual([row.state, row.cumulative_sat]);
      }
    }
  }, 120_000);

  it('exit-credit --dry-run prints the package and freezes nothing: the contract is served on', async () => {
    const [x] = p.users;
    const preview = message(await pipeline([mintStage(p.mintDir, {}, 'exit-credit', '--fee-rate', '2', '--contract', x!.contractId, '--dry-run')], ''), 'credit/exit', 'dry run').msg;
    expect(preview).toMatchObject({ contract_id: x!.contractId, state: 2, cumulative_sat: 1500 });
    const served = await round(250);
    expect(served.map((a) => [a.type, a.state])).toEqual(p.users.map(() => ['credit/receipt', 3]));
    for (const [i, u] of p.users.entries()) await applyReceiptHere(u, JSON.stringify(served[i]), ENV);
  }, 120_000);

  it('exit-credit of one contract while the stream runs: its latest state, the contract frozen for the stream, the others served', async () => {
    const [x, ...others] = p.users;
    const started = Date.now();
    const exit = message(await pipeline([mintStage(p.mintDir, {}, 'exit-credit', '--fee-rate', '2', '--contract', x!.contractId)], '', { timeoutMs: 30_000 }), 'credit/exit', 'exit while streaming').msg;
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(exit).toMatchObject({ contract_id: x!.contractId, state: 3, cumulative_sat: 1750 });
    const served = await round(100);
    const byContract = new Map(served.map((a, i) => [p.users[i]!.contractId, a]));
    expect(byContract.get(x!.contractId)).toMatchObject({ type: 'credit/error', code: 'E_CONTRACT_FROZEN', exit_code: 4 });
    expect(byContract.get(x!.contractId)!.message).toMatch(/the mint is exiting it with its state 3/);
    for (const u of others) expect(byContract.get(u.contractId)).toMatchObject({ type: 'credit/receipt', state: 4 });
    // Never a receipt for the exited contract past the exited state.
    const receiptsOfX = answers().filter((a) => a.type === 'credit/receipt' && a.contract_id === x!.contractId);
    expect(Math.max(...receiptsOfX.map((a) => a.state as number))).toBe(3);
    // Running it again (to bump the fee) gives the same state.
    const again = message(await pipeline([mintStage(p.mintDir, {}, 'exit-credit', '--fee-rate', '3', '--contract', x!.contractId)], ''), 'credit/exit', 'exit again').msg;
    expect(again).toMatchObject({ state: 3, state_tx: { txid: exit.state_tx.txid } });
  }, 120_000);

  it('EOF: the stream exits 0', async () => {
    const { status, signal } = await stream.end();
    expect([status, signal], stream.stderr).toEqual([0, null]);
  }, 60_000);

  // On this mint's directory (its contracts open and paid into): no second mint to open for it.
  it('a stream without a chain source stops at its start with a coded configuration error naming --tip-height / --rpc-url, non-zero, printing nothing', async () => {
    const s = new MintStream(p.mintDir, ENV, []); // no --tip-height, no --rpc-url
    const { status } = await s.end();
    expect(status).not.toBe(0);
    expect(s.stdout).toBe('');
    expect(s.stderr).toMatch(/^offchain: error E_[A-Z_]+: .*(--tip-height|--rpc-url)/m);
  }, 120_000);
});
