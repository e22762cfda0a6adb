/**
 * `serve mint` on PostgreSQL (the built CLI, spawned): several services of one host share the
 * store and, by default (--nonce-epoch host), the host's nonce key under --state-dir — so a
 * contract opened through one is paid through another, as a load balancer would route it. A
 * service started with --nonce-epoch process cannot open a nonce another process issued
 * (E_NONCE_ELSEWHERE, 409): the default is what makes random routing work.
 */
import { expect, it } from 'vitest';
import { PAY_FLAGS, MINT_KEY } from '../e2e/stream-credit.ts';
import { ServeMintProcess } from '../e2e/serve-process.ts';
import { describePostgres } from './fixture.ts';
import { pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';

describePostgres('serve mint on PostgreSQL: the host\'s services share its nonces', (fx) => {
  it('opened through one service, paid through the others; a process-epoch service refuses the host\'s nonce', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'serve_mint', fx.root);
    const args = ['--key-env', 'MINT_KEY', '--state-dir', mintDir, ...PAY_FLAGS];
    const [a, b] = await Promise.all([ServeMintProcess.start(args, { ...env, MINT_KEY }), ServeMintProcess.start(args, { ...env, MINT_KEY })]);
    let own: ServeMintProcess | undefined;
    try {
      const { user, line } = await userOpenRequest(fx.root, offerPath, 'serve', 0);
      const accept = await a.post('/v1/credit/open', line);
      expect(accept.status, accept.text).toBe(200);
      await userOpened(user, accept.text);
      // Its first nonce was issued by A; B opens it (the host's key), then A opens B's.
      for (const [svc, amount] of [[b, 1000], [a, 2000]] as const) {
        const pay = await userPays(user, amount);
        const receipt = await svc.post('/v1/credit/update', pay.line);
        expect(receipt.status, receipt.text).toBe(200);
        expect(JSON.parse(receipt.text)).toMatchObject({ type: 'credit/receipt', contract_id: user.contractId, state: pay.msg.state });
        await userTakesReceipt(user, receipt.text);
      }
      // A service sealing under its own key: the host's nonce is another epoch's.
      own = await ServeMintProcess.start([...args, '--nonce-epoch', 'process'], { ...env, MINT_KEY });
      const pay = await userPays(user, 500);
      const refused = await own.post('/v1/credit/update', pay.line);
      expect(refused.status, refused.text).toBe(409);
      expect(JSON.parse(refused.text)).toMatchObject({ type: 'credit/error', code: 'E_NONCE_ELSEWHERE', exit_code: 5 });
      // The same request through a host-epoch service: answered.
      const served = await b.post('/v1/credit/update', pay.line);
      expect(served.status, served.text).toBe(200);
    } finally {
      for (const s of [a, b, own]) if (s) expect((await s.stop()).status, s.stderr).toBe(0);
    }
  }, 120_000);
});
