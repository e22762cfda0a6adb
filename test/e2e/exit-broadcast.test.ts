/**
 * `exit-credit --broadcast` through the built CLI against a fake Bitcoin Core
 * (test/lib/chain/fake-core.ts): the mint's latest state and its CPFP child are
 * submitted together with `submitpackage`, and the command reports what the node did.
 *
 *   - the node rejects the package (Core ≥ 28: `package_msg` ≠ "success", per-tx
 *     errors, in a successful RPC reply) → exit 4, E_BROADCAST_REJECTED, nothing on
 *     stdout, the node's reasons in the one line on stderr;
 *   - the node accepts it → exit 0, the exit message on stdout, and what was submitted
 *     is exactly the state and child printed;
 *   - the node refuses the call itself (no such RPC, wrong credentials, nothing
 *     listening, another chain) → that chain error's code and exit code, nothing on
 *     stdout;
 *   - no node at all (offline) → exit 2, E_CHAIN_OFFLINE.
 *
 * A failed broadcast the node provably did not take changes no state: after each failure
 * the mint's state directory is byte-identical to before and `credit list` shows the
 * contract open, not exiting; a payment is still served. After a refusal the node is asked
 * (gettxout, mempool included) whether the funding output is unspent: one it says is spent
 * — the state taken and only its child refused — leaves the contract frozen. The accepted
 * package freezes the contract (`credit list`: exiting, a later payment E_CONTRACT_FROZEN).
 *
 * The contract: one user, opened offline, one payment of 42,000 sat; the payout is the
 * mint key's own P2TR address, so exit-credit signs the child.
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { fileSnapshot, tempDir } from '../helpers.ts';
import { parseTx } from '../independent/tx.ts';
import { blockchainInfo, CLOSED_PORT, startFakeCore, submitPackageReply, type FakeCore, type Handler } from '../lib/chain/fake-core.ts';
import { pipeline, type Run } from './cli.ts';
import { PAY_FLAGS, message, mintStage, type Parties } from './stream-credit.ts';
import { applyReceiptHere, openContractsHere, payRequestHere } from './stream-credit-here.ts';
import { pipelineInProcess } from './in-process.ts';

const RPC_USER = 'offchain-test';
const RPC_PASSWORD = 'fake-core-password-0123456789';
const PAYMENT = 42_000;

describe('exit-credit --broadcast against a fake Bitcoin Core', () => {
  let dir: { path: string; cleanup: () => void };
  let p: Parties;
  let receipt: Record<string, any>;
  let core: FakeCore | undefined;
  let before: Record<string, string>;
  /** The mint's directory after the first payment, for the cases that leave it frozen (each on a copy). */
  let pristine: string;

  beforeAll(async () => {
    dir = tempDir('offchain-exit-broadcast-');
    // The contract and its payment: setup, in this process (stream-credit-here.ts); exit-credit is the process under test.
    p = await openContractsHere(dir.path, 1, {}, 'exit-broadcast');
    const request = await payRequestHere(p.users[0]!, PAYMENT, {});
    receipt = message(await pipelineInProcess([mintStage(p.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], request.line), 'credit/receipt', 'payment').msg;
    await applyReceiptHere(p.users[0]!, JSON.stringify(receipt), {});
    before = fileSnapshot(p.mintDir, { locks: true });
    pristine = join(dir.path, 'mint-after-payment');
    cpSync(p.mintDir, pristine, { recursive: true });
  });
  afterAll(() => dir?.cleanup());
  afterEach(async () => {
    await core?.close();
    core = undefined;
  });

  /** The funding output, unspent (gettxout, mempool included), as a node that holds it answers. */
  const unspent: Handler = () => ({ bestblock: '00'.repeat(32), confirmations: 6, value: 0.001, scriptPubKey: { hex: '5120' + '11'.repeat(32) }, coinbase: false });

  /** A fake regtest node with these handlers (getblockchaininfo answers regtest unless replaced). */
  async function node(handlers: Record<string, Handler>): Promise<FakeCore> {
    core = await startFakeCore({ user: RPC_USER, password: RPC_PASSWORD, handlers: { getblockchaininfo: () => blockchainInfo('regtest'), ...handlers } });
    return core;
  }

  /** exit-credit --broadcast pointed at `url` with user/password credentials from the environment. */
  async function broadcast(url: string, password = RPC_PASSWORD): Promise<Run> {
    const stage = mintStage(p.mintDir, { OFFCHAIN_RPC_USER: RPC_USER, OFFCHAIN_RPC_PASSWORD: password }, 'exit-credit', '--fee-rate', '3', '--broadcast', '--rpc-url', url);
    const [r] = await pipeline([stage], '');
    return r!;
  }

  /** Refused: the one code on the one stderr line, the exit code, nothing on stdout. */
  function refused(r: Run, exitCode: number, code: string): string {
    expect(r.stdout).toBe('');
    expect(r.status, r.stderr).toBe(exitCode);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^offchain: error ${code}: `));
    return lines[0]!;
  }

  /** The contract's row in `credit list` (offline, tip 1001; a view asked after every step: in this process). */
  async function listed(): Promise<Record<string, any>> {
    const list = message(await pipelineInProcess([mintStage(p.mintDir, {}, 'credit', 'list', '--tip-height', '1001')], ''), 'credit/contracts', 'credit list').msg;
    expect(list.contracts).toHaveLength(1);
    return list.contracts[0];
  }

  /** Nothing changed: the mint's files byte for byte, and the contract still open, not exiting. */
  async function unchanged(): Promise<void> {
    expect(fileSnapshot(p.mintDir, { locks: true })).toEqual(before);
    const row = await listed();
    expect(row.status).toBe('open');
    expect(row.exit).toBeUndefined();
  }

  /** The package the node was sent: one submitpackage call with [state hex, child hex]. */
  function submitted(): string[] {
    const calls = core!.requests.filter((r) => r.body.method === 'submitpackage');
    expect(calls).toHaveLength(1);
    const [txs, ...rest] = calls[0]!.body.params as [string[]];
    expect(rest).toEqual([0.1]); // maxfeerate: the fee guard's --max-fee-rate (default 10,000 sat/vB = 0.1 BTC/kvB), as package submit

    expect(txs).toHaveLength(2);
    return txs;
  }

  /** The state (the latest receipt's, spending the funding) and its child (spending the state's payout). */
  function expectExitPackage(txs: string[]): void {
    const [state, child] = txs.map((t) => parseTx(t));
    const u = p.users[0]!;
    expect(state!.txid).toBe(receipt.txid);
    expect(state!.inputs.map((i) => [i.txid, i.vout])).toEqual([[u.funding.txid, u.funding.vout]]);
    expect(state!.outputs[0]!.amount).toBe(BigInt(receipt.cumulative_sat));
    expect(child!.inputs.map((i) => [i.txid, i.vout])).toEqual([[receipt.txid, 0]]);
    expect([state!.version, child!.version]).toEqual([3, 3]);
  }

  it('a package the node rejects: exit 4, E_BROADCAST_REJECTED with the node\'s reasons on one stderr line, nothing on stdout', async () => {
    const STATE_ERROR = 'bad-txns-inputs-missingorspent';
    const CHILD_ERROR = 'min relay fee not met, 0 < 110';
    await node({
      submitpackage: (params) => {
        const txs = (params[0] as string[]).map((t) => parseTx(t));
        return submitPackageReply(txs, [STATE_ERROR, CHILD_ERROR]);
      },
      gettxout: unspent,
    });
    const line = refused(await broadcast(core!.url), 4, 'E_BROADCAST_REJECTED');
    // Asked after the refusal: the funding output, mempool included.
    expect(core!.requests.filter((r) => r.body.method === 'gettxout').map((r) => r.body.params)).toEqual([[p.users[0]!.funding.txid, p.users[0]!.funding.vout, true]]);
    const txs = submitted();
    expectExitPackage(txs);
    const [state, child] = txs.map((t) => parseTx(t));
    expect(line).toContain('transaction failed');
    expect(line).toContain(`${state!.txid}: ${STATE_ERROR}`);
    expect(line).toContain(`${child!.txid}: ${CHILD_ERROR}`);
    expect(line).not.toContain(RPC_PASSWORD);
    await unchanged();
  });

  it('a node without submitpackage (RPC error -32601): exit 1, E_RPC_ERROR naming the method, nothing on stdout', async () => {
    await node({ gettxout: unspent }); // the fake answers any method it has no handler for with -32601 "Method not found"
    const line = refused(await broadcast(core!.url), 1, 'E_RPC_ERROR');
    expect(line).toMatch(/submitpackage.*Method not found.*-32601/);
    // First the pin lookup (src/lib/credit/exit.ts exitPin: a node without gettxspendingprevout cannot say, and no pin is known).
    expect(core!.requests.map((r) => r.body.method).filter((m) => m !== 'getblockchaininfo')).toEqual(['gettxspendingprevout', 'submitpackage', 'gettxout']);
    await unchanged();
  });

  it('wrong credentials (HTTP 401): exit 2, E_RPC_AUTH, nothing sent past the refusal and nothing on stdout', async () => {
    await node({ submitpackage: () => submitPackageReply([]) });
    const line = refused(await broadcast(core!.url, 'not-the-password'), 2, 'E_RPC_AUTH');
    expect(line).not.toContain('not-the-password');
    expect(core!.requests).toHaveLength(0); // the fake records only authenticated calls
    await unchanged();
  });

  it('nothing listening at --rpc-url: exit 1, E_RPC_UNREACHABLE, nothing on stdout', async () => {
    const port = CLOSED_PORT;
    const line = refused(await broadcast(`http://127.0.0.1:${port}/`), 1, 'E_RPC_UNREACHABLE');
    expect(line).toContain(`127.0.0.1:${port}`);
    await unchanged();
  });

  it("a refusal after which the node says the funding output is spent and the state in its mempool (Core took the state and refused only its child), or cannot say: the contract stays frozen, and the error says so", async () => {
    const inMempool: Handler = () => ({ txid: receipt.txid }); // no confirmations field: a mempool transaction
    for (const [name, gettxout, getrawtransaction] of [['spent', () => null, inMempool], ['no answer', undefined, undefined]] as const) {
      const copy = join(dir.path, `mint-${name.replace(' ', '-')}`);
      rmSync(copy, { recursive: true, force: true });
      cpSync(pristine, copy, { recursive: true });
      await node({ submitpackage: (params) => submitPackageReply((params[0] as string[]).map((t) => parseTx(t)), [undefined, 'min relay fee not met, 0 < 110']), ...(gettxout ? { gettxout } : {}), ...(getrawtransaction ? { getrawtransaction } : {}) });
      const [r] = await pipeline([mintStage(copy, { OFFCHAIN_RPC_USER: RPC_USER, OFFCHAIN_RPC_PASSWORD: RPC_PASSWORD }, 'exit-credit', '--fee-rate', '3', '--broadcast', '--rpc-url', core!.url)], '');
      const line = refused(r!, 4, 'E_BROADCAST_REJECTED');
      expect(line, name).toMatch(/the node holds the exit's state in its mempool, or cannot say: contract [0-9a-f]{64} stays frozen \(exiting\)/);
      const list = message(await pipelineInProcess([mintStage(copy, {}, 'credit', 'list', '--tip-height', '1001')], ''), 'credit/contracts', 'credit list').msg;
      expect(list.contracts[0], name).toMatchObject({ status: 'exiting', exit: { state: 1, txid: receipt.txid } });
      await core!.close();
      core = undefined;
    }
  });

  it('a node on another chain (main): exit 4, E_NETWORK_MISMATCH, and no package is sent', async () => {
    await node({ getblockchaininfo: () => blockchainInfo('main'), submitpackage: () => submitPackageReply([]) });
    refused(await broadcast(core!.url), 4, 'E_NETWORK_MISMATCH');
    expect(core!.requests.map((r) => r.body.method)).toEqual(['getblockchaininfo']);
    await unchanged();
  });

  it('no node at all (offline): exit 2, E_CHAIN_OFFLINE, and the contract is not frozen', async () => {
    const [r] = await pipeline([mintStage(p.mintDir, {}, 'exit-credit', '--fee-rate', '3', '--broadcast')], '');
    refused(r!, 2, 'E_CHAIN_OFFLINE');
    await unchanged();
  });

  it('the fee guard: --fee-rate above --max-fee-rate (default 10,000 sat/vB, Core\'s maxfeerate) is refused before anything is built', async () => {
    const [r] = await pipeline([mintStage(p.mintDir, {}, 'exit-credit', '--fee-rate', '10001', '--dry-run')], '');
    const line = refused(r!, 4, 'E_FEE_TOO_HIGH');
    expect(line).toContain('--max-fee-rate 10000 sat/vB, --max-fee-share 0.5');
    await unchanged();
  });

  it('the fee guard: a child costing over half the mint\'s payout is refused (exit 4), also with --broadcast (nothing sent); --max-fee-share lets it through', async () => {
    // At 120 sat/vB the ~265 vB package costs ~31,800 sat, ~76% of the 42,000 sat payout it comes out of: refused.
    await node({ submitpackage: (params) => submitPackageReply((params[0] as string[]).map((t) => parseTx(t))) });
    const stage = mintStage(p.mintDir, { OFFCHAIN_RPC_USER: RPC_USER, OFFCHAIN_RPC_PASSWORD: RPC_PASSWORD }, 'exit-credit', '--fee-rate', '120', '--broadcast', '--rpc-url', core!.url);
    const line = refused((await pipeline([stage], ''))[0]!, 4, 'E_FEE_TOO_HIGH');
    expect(line).toMatch(/of the 42000 sat it moves\), above the limit \(--max-fee-rate 10000 sat\/vB, --max-fee-share 0\.5\); raise --max-fee-share/);
    expect(core!.requests.filter((q) => q.body.method === 'submitpackage')).toHaveLength(0);
    await unchanged();
    const [dry] = await pipeline([mintStage(p.mintDir, {}, 'exit-credit', '--fee-rate', '120', '--max-fee-share', '0.9', '--dry-run')], '');
    expect(dry!.status, dry!.stderr).toBe(0);
    await unchanged(); // --dry-run freezes nothing
  });

  it('after every failed broadcast the mint still serves the contract: the next payment gets a receipt', async () => {
    const request = await payRequestHere(p.users[0]!, PAYMENT + 1000, {});
    receipt = message(await pipeline([mintStage(p.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], request.line), 'credit/receipt', 'second payment').msg;
    expect(receipt).toMatchObject({ state: 2, cumulative_sat: 2 * PAYMENT + 1000 });
    await applyReceiptHere(p.users[0]!, JSON.stringify(receipt), {});
  });

  it('a package the node accepts: exit 0, and stdout is the exit whose state and child are exactly what was submitted', async () => {
    await node({ submitpackage: (params) => submitPackageReply((params[0] as string[]).map((t) => parseTx(t))) });
    const r = await broadcast(core!.url);
    expect(r.status, r.stderr).toBe(0);
    const exit = message([r], 'credit/exit', 'exit-credit --broadcast').msg;
    const txs = submitted();
    expectExitPackage(txs);
    expect(txs).toEqual([exit.state_tx.hex, exit.child.hex]);
    expect(exit).toMatchObject({ contract_id: p.users[0]!.contractId, state: 2, cumulative_sat: 2 * PAYMENT + 1000 });
    // Accepted: now, and only now, the contract is frozen and shown exiting with that state.
    const row = await listed();
    expect(row).toMatchObject({ status: 'exiting', exit: { state: 2, txid: receipt.txid } });
    expect(row.next).toContain('wait for the exit');
    const request = await payRequestHere(p.users[0]!, 1000, {});
    const [refusedPay] = await pipeline([mintStage(p.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], request.line);
    refused(refusedPay!, 4, 'E_CONTRACT_FROZEN');
  });
});
