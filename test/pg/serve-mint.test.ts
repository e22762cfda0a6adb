/**
 * `serve mint` on PostgreSQL (the built CLI, spawned): several services on one store, each
 * sealing the nonces it issues under its own key (src/lib/store/pg/mint-store.ts, the restore
 * rule). A contract is served by the service its requests reach — a load balancer hashes the
 * Offchain-Contract header `--peer` sends — and another service refuses that contract's nonce
 * (E_NONCE_ELSEWHERE, 409, exit 5), writing nothing; the same request at the service that issued
 * the nonce is answered. `--nonce-epoch process`, kept for the scripts that name it, changes
 * nothing.
 *
 * Re-staged from "the host's services share its nonces" (host epochs, gone): a contract opened
 * through one service was paid through the others; now only through its own.
 */
import { expect, it } from 'vitest';
import { PAY_FLAGS, MINT_KEY } from '../e2e/stream-credit.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { describePostgres } from './fixture.ts';
import { pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';
import { dba, rows } from './rewind.ts';

describePostgres('serve mint on PostgreSQL: each service signs with the nonces it issued', (fx) => {
  it('opened and paid through service A; service B refuses the contract\'s nonce (409 E_NONCE_ELSEWHERE), nothing written; the same request at A is answered; --nonce-epoch process is a no-op', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'serve_mint', fx.root);
    const args = ['--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS];
    const [a, b] = await Promise.all([ServeMintProcess.start(args, { ...env, MINT_KEY }), ServeMintProcess.start([...args, '--nonce-epoch', 'process'], { ...env, MINT_KEY })]);
    const db = await dba(fx.server, env['OFFCHAIN_STORE_URL']!);
    try {
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'serve', 0);
      const accept = await a.post('/v1/credit/open', line);
      expect(accept.status, accept.text).toBe(200);
      await userOpened(user, accept.text);
      for (const amount of [1000, 2000]) {
        const pay = await userPays(user, amount);
        const receipt = await a.post('/v1/credit/update', pay.line);
        expect(receipt.status, receipt.text).toBe(200);
        expect(JSON.parse(receipt.text)).toMatchObject({ type: 'credit/receipt', contract_id: user.contractId, state: pay.msg.state });
        await userTakesReceipt(user, receipt.text);
      }
      // B holds no key for A's nonce: refused, retryable, nothing written.
      const pay = await userPays(user, 500);
      const before = await rows(db);
      const refused = await b.post('/v1/credit/update', pay.line);
      expect(refused.status, refused.text).toBe(409);
      expect(JSON.parse(refused.text)).toMatchObject({ type: 'credit/error', code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
      expect(JSON.parse(refused.text).message).toContain(`pid ${a.child.pid} on `);
      expect(await rows(db), 'a refusal writes nothing').toBe(before);
      // The same request at the service that issued the nonce: answered.
      const served = await a.post('/v1/credit/update', pay.line);
      expect(served.status, served.text).toBe(200);
      await userTakesReceipt(user, served.text);
      expect(JSON.parse(served.text)).toMatchObject({ type: 'credit/receipt', cumulative_sat: 3500 });
    } finally {
      await db.end();
      for (const s of [a, b]) expect((await s.stop()).status, s.stderr).toBe(0);
    }
  }, 120_000);
});
