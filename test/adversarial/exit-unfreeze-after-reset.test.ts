/**
 * REGRESSION (built CLI) — found by the adversarial review of the one store: the mint's exit
 * (CreditCommand.mintExit, src/topics/credit/command.ts) commits the freeze, submits the
 * package, and takes the freeze back only when the node provably did not take it (`notTaken`).
 * It used to count any E_RPC_UNREACHABLE but a timeout as proof — so a connection reset AFTER
 * the request reached the node (bitcoind accepted the package and died, or a proxy on the way
 * dropped the answer) unfroze the contract, and the mint went on signing later states that the
 * exit in the node's mempool (an older state) would leave unpaid once it confirmed.
 *
 * Now only a connection never made (refused, no address, no route) or a node's answer of no
 * counts. Here a fake Core records the package it is sent (what it "accepted"), then destroys
 * the connection without answering: exit-credit fails E_RPC_UNREACHABLE saying the contract
 * stays frozen, `credit list` shows it exiting with that state, and the next payment is refused
 * E_CONTRACT_FROZEN.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { tempDir } from '../helpers.ts';
import { blockchainInfo } from '../lib/chain/fake-core.ts';
import { pipeline } from '../e2e/cli.ts';
import { PAY_FLAGS, applyReceipt, message, mintStage, openContracts, payRequest } from '../e2e/stream-credit.ts';

const USER = 'offchain-test';
const PASSWORD = 'fake-core-password-0123456789';

describe('exit-credit --broadcast: a connection reset after the node took the package', () => {
  const dir = tempDir('offchain-adv-exit-reset-');
  let server: Server | undefined;
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    dir.cleanup();
  });

  it('is not taken for "not taken": the contract stays frozen with the state the node holds, and no later state is signed', async () => {
    const p = await openContracts(dir.path, 1, {}, 'exit-reset');
    const u = p.users[0]!;
    const { line } = await payRequest(u, 42_000, {});
    const first = message(await pipeline([mintStage(p.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], line), 'credit/receipt', 'pay').msg;
    await applyReceipt(u, JSON.stringify(first), {});

    const accepted: string[][] = [];
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        const body = JSON.parse(text) as { id: unknown; method: string; params: unknown[] };
        if (body.method === 'submitpackage') {
          accepted.push(body.params[0] as string[]); // in the mempool, relayed…
          req.socket.destroy(); // …and the answer never comes back
          return;
        }
        const result = body.method === 'getblockchaininfo' ? blockchainInfo('regtest') : null;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', result, id: body.id }) + '\n');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    const [exit] = await pipeline([mintStage(p.mintDir, { OFFCHAIN_RPC_USER: USER, OFFCHAIN_RPC_PASSWORD: PASSWORD }, 'exit-credit', '--fee-rate', '3', '--broadcast', '--rpc-url', url)], '');
    expect(exit!.status).not.toBe(0);
    expect(exit!.stdout).toBe('');
    expect(exit!.stderr.trim().split('\n')).toHaveLength(1);
    expect(exit!.stderr).toMatch(/E_RPC_UNREACHABLE.*stays frozen/);
    // The node holds the exit with the state of the first payment.
    expect(accepted).toHaveLength(1);

    // The contract is exiting with that state…
    const list = message(await pipeline([mintStage(p.mintDir, {}, 'credit', 'list', '--tip-height', '1001')], ''), 'credit/contracts', 'list').msg;
    expect(list.contracts[0].status).toBe('exiting');
    expect(list.contracts[0].exit.state).toBe(first.state);
    // …and the mint signs no later state.
    const next = await payRequest(u, 10_000, {});
    const [refused] = await pipeline([mintStage(p.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], next.line);
    expect(refused!.status).not.toBe(0);
    expect(refused!.stdout).toBe('');
    expect(refused!.stderr).toMatch(/E_CONTRACT_FROZEN/);
  });
  it('a redirect (a proxy answering 307 after it took the POST) is not followed, and is not taken for "never sent": the contract stays frozen', async () => {
    const p = await openContracts(join(dir.path, 'redirect'), 1, {}, 'exit-redirect');
    const u = p.users[0]!;
    const { line } = await payRequest(u, 42_000, {});
    const first = message(await pipeline([mintStage(p.mintDir, {}, 'sign-update', '--role', 'mint', ...PAY_FLAGS)], line), 'credit/receipt', 'pay').msg;
    await applyReceipt(u, JSON.stringify(first), {});
    const taken: string[][] = [];
    const proxy = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        const body = JSON.parse(text) as { id: unknown; method: string; params: unknown[] };
        if (body.method === 'submitpackage') {
          taken.push(body.params[0] as string[]); // sent on to the node…
          res.writeHead(307, { Location: 'http://127.0.0.1:1/' }).end(); // …and the caller pointed at a port fetch refuses
          return;
        }
        const result = body.method === 'getblockchaininfo' ? blockchainInfo('regtest') : null;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', result, id: body.id }) + '\n');
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
      const [exit] = await pipeline([mintStage(p.mintDir, { OFFCHAIN_RPC_USER: USER, OFFCHAIN_RPC_PASSWORD: PASSWORD }, 'exit-credit', '--fee-rate', '3', '--broadcast', '--rpc-url', url)], '');
      expect(exit!.status).not.toBe(0);
      expect(exit!.stdout).toBe('');
      expect(exit!.stderr).toMatch(/E_RPC_UNREACHABLE.*stays frozen/);
      expect(taken).toHaveLength(1);
      const list = message(await pipeline([mintStage(p.mintDir, {}, 'credit', 'list', '--tip-height', '1001')], ''), 'credit/contracts', 'list').msg;
      expect(list.contracts[0]).toMatchObject({ status: 'exiting', exit: { state: first.state } });
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
