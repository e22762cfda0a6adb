/**
 * A relay between the user and its mint (a wrong or hostile `--peer`): the built CLI's
 * `sign-update --peer` against a tiny HTTP proxy in this test, in front of a real
 * `offchain serve mint` (docs/credit.md, "Signed answers"). Before answers were signed the
 * user took, exit 0, a receipt the relay invented (the mint never saw the payment) and a
 * real one with its next_nonce swapped — and its next payment, `credit abandon --start
 * --peer` and `close-credit --start --peer` were then refused by the real mint: only the
 * unilateral exits were left.
 *
 * Now each is refused E_RECEIPT_FORGED (exit 4, one line on stderr, nothing on stdout), the
 * user's store byte for byte as the request left it (the same answer piped to `sign-update
 * --role user` leaves it byte for byte too), and the user's next run against the real mint
 * completes that payment; the contract goes on with it (a further payment, the close).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { base64 } from '@scure/base';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { fileSnapshot, tempDir } from '../helpers.ts';
import { psbtUnsignedTx } from '../independent/tx.ts';
import { serveMint, stopService, type Service } from './serve-process.ts';
import { MINT_KEY, PAYOUT, REFUND } from './stream-credit.ts';
import { USER_KEY, fixturePath } from './fixtures.ts';
import { runAsync, type TimedRun } from './process.ts';

type Msg = Record<string, any>;
const TIP = ['--tip-height', '1000'];

/** A public nonce the mint never issued: two points of the relay's own. */
const relayNonce = (k: number) => [k, k + 1].map((x) => Buffer.from(secp256k1.getPublicKey(Uint8Array.from(Buffer.alloc(32, x)), true)).toString('hex')).join('');

/**
 * The relay: forwards to the mint, or answers in its stead. `invent`: a receipt for the
 * request it got, made up (the mint never sees it); `swap`: the mint's real receipt with
 * another next nonce; `pass`: the mint's answer as it is.
 */
function relay(target: () => string) {
  const state = { mode: 'pass' as 'pass' | 'invent' | 'swap', forwarded: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', async () => {
      const answer = (status: number, text: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(text);
      if (state.mode === 'invent') {
        const r = JSON.parse(body) as Msg;
        return answer(200, JSON.stringify({
          type: 'credit/receipt', version: 1, network: r.network, contract_id: r.contract_id, state: r.state, amount_sat: r.amount_sat,
          cumulative_sat: r.cumulative_sat, txid: psbtUnsignedTx(base64.decode(r.psbt)).txid, next_nonce: { state: r.state + 1, pubnonce: relayNonce(3) },
        }));
      }
      state.forwarded++;
      const upstream = await fetch(`${target()}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json', ...(req.headers['offchain-contract'] ? { 'offchain-contract': String(req.headers['offchain-contract']) } : {}) }, body });
      const text = await upstream.text();
      if (state.mode === 'swap' && upstream.status === 200) {
        const m = JSON.parse(text) as Msg;
        return answer(200, JSON.stringify({ ...m, next_nonce: { ...m.next_nonce, pubnonce: relayNonce(5) } }));
      }
      return answer(upstream.status, text);
    });
  });
  return { server, state };
}

describe('a relay\'s receipt: refused E_RECEIPT_FORGED, nothing written; the next honest payment with the real mint succeeds', () => {
  const tmp = tempDir('offchain-credit-relay-');
  const mintDir = join(tmp.path, 'mint');
  const userDir = join(tmp.path, 'user');
  const mintArgs = ['--key-env', 'MINT_KEY', '--state-dir', mintDir];
  const userArgs = ['--key-env', 'USER_KEY', '--state-dir', userDir];
  let svc: Service | undefined;
  const proxy = relay(() => svc!.url);
  let relayUrl = '';
  let contractId = '';
  const user = (...args: string[]) => runAsync([...args, ...userArgs], { env: { USER_KEY } });
  /** The user's store, byte for byte (SQLite's -shm, the readers' shared-memory index, holds no state). */
  const store = () => Object.fromEntries(Object.entries(fileSnapshot(userDir)).filter(([f]) => !f.endsWith('-shm')));
  const ok = (r: TimedRun, type: string): Msg => {
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as Msg;
    expect(m.type).toBe(type);
    return m;
  };
  const forged = (r: TimedRun) => {
    expect(r.status, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^offchain: error E_RECEIPT_FORGED: the credit\/receipt (is not signed by this contract's mint key|carries no mint_signature)/);
  };
  /** The state the mint holds, as its runbook reads it while it serves (credit list: no key, no lock). */
  const mintState = async (): Promise<number> => {
    const list = ok(await runAsync(['credit', 'list', '--state-dir', mintDir, ...TIP]), 'credit/contracts');
    return (list.contracts as Msg[]).find((c) => c.contract_id === contractId)!.state;
  };

  beforeAll(async () => {
    const offer = ok(await runAsync(['open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, ...mintArgs], { env: { MINT_KEY } }), 'credit/offer');
    writeFileSync(join(tmp.path, 'offer.json'), JSON.stringify(offer));
    svc = await serveMint([...mintArgs, ...TIP, '--confirmations', '1'], { MINT_KEY });
    await new Promise<void>((res) => proxy.server.listen(0, '127.0.0.1', res));
    relayUrl = `http://127.0.0.1:${(proxy.server.address() as { port: number }).port}`;
    const opened = ok(await user('open-credit', '--role', 'user', '--peer', svc.url, ...TIP, '--expiry', '+4320', '--refund-address', REFUND, '--in', fixturePath('credit/funding.psbt')), 'credit/opened');
    contractId = opened.contract_id;
  }, 60_000);

  afterAll(async () => {
    await new Promise((res) => proxy.server.close(res));
    expect(await stopService(svc)).toBe(0);
    tmp.cleanup();
  }, 30_000);

  it('a receipt the relay invented: refused, the store as the request left it; the real mint never saw the payment, and then makes it', async () => {
    proxy.state.mode = 'invent';
    forged(await user('sign-update', '--role', 'user', '--amount', '10000', '--peer', relayUrl));
    // The request was written before it left; the forged answer wrote nothing: run again, byte for byte the same store.
    const after = store();
    forged(await user('sign-update', '--role', 'user', '--amount', '10000', '--peer', relayUrl));
    expect(store()).toEqual(after);
    expect(await mintState()).toBe(0);
    // The next honest run, with the real mint: the same payment (its request resent), then the contract goes on.
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '10000', '--peer', svc!.url), 'credit/balance')).toMatchObject({ state: 1, cumulative_sat: 10000 });
    expect(await mintState()).toBe(1);
  }, 60_000);

  it('the mint\'s real receipt with its next_nonce swapped: refused, through --peer and piped, the store byte for byte; the real mint\'s stored receipt then applies, and the next payment and the close are signed', async () => {
    proxy.state.mode = 'swap';
    const sent = proxy.state.forwarded;
    forged(await user('sign-update', '--role', 'user', '--amount', '5000', '--peer', relayUrl));
    expect(proxy.state.forwarded).toBe(sent + 1);
    expect(await mintState()).toBe(2); // the mint signed state 2; the user never took the swapped nonce
    // Piped: the mint's answer to the pending request (resent through the relay as it is), swapped, fed to the user's last step.
    const before = store();
    const pending = ok(await user('sign-update', '--role', 'user', '--amount', '5000'), 'credit/update-request');
    expect(store()).toEqual(before);
    proxy.state.mode = 'pass';
    const real = await (await fetch(`${relayUrl}/v1/credit/update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(pending) })).json() as Msg;
    expect(real).toMatchObject({ type: 'credit/receipt', state: 2, cumulative_sat: 15000 });
    const swapped = { ...real, next_nonce: { ...real.next_nonce, pubnonce: relayNonce(5) } };
    forged(await runAsync(['sign-update', '--role', 'user', ...userArgs], { env: { USER_KEY }, input: JSON.stringify(swapped) }));
    expect(store()).toEqual(before);
    // The real one, through the real mint: the stored receipt, applied.
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '5000', '--peer', svc!.url), 'credit/balance')).toMatchObject({ state: 2, cumulative_sat: 15000 });
    expect(ok(await user('sign-update', '--role', 'user', '--amount', '2500', '--peer', svc!.url), 'credit/balance')).toMatchObject({ state: 3, cumulative_sat: 17500 });
    const closed = ok(await user('close-credit', '--role', 'user', '--start', '--peer', svc!.url), 'credit/closed');
    expect(closed).toMatchObject({ contract_id: contractId, cumulative_sat: 17500 });
  }, 90_000);
});
