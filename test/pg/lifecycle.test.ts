/**
 * A contract's whole life through `sign-update --stream` on a PostgreSQL mint: with that
 * store a mint nonce is usable only by the process that issued it, so the stream serves
 * open-requests, update-requests and close-requests (and abandons, tested in
 * restore.test.ts). One process: open, two payments, a cooperative close, the close
 * request replayed (the same answer, byte for byte), the close transaction verified by
 * the independent verifier; and a one-shot `close-credit --role mint` on the same store is
 * refused before it touches the store (E_STORE_ONE_SHOT, exit 2): a one-shot process holds no
 * key for the nonce the stream issued.
 */
import { expect, it } from 'vitest';
import { independentSchnorr, productBackends } from '../independent/schnorr.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { pipeline } from '../e2e/cli.ts';
import { CAPACITY, message, mintStage, userStage, type Msg } from '../e2e/stream-credit.ts';
import { describePostgres } from './fixture.ts';
import { Cluster, pgMint, userOpenRequest, userOpened, userPays, userTakesReceipt } from './mint-cluster.ts';


describePostgres("a contract's life through one stream on PostgreSQL", (fx) => {

  it('open, pay, close through the stream; the close replayed; a one-shot mint close on the store is refused E_STORE_ONE_SHOT', async () => {
    const { env, mintDir, offerPath } = await pgMint(fx.server, 'life', fx.root);
    const cluster = new Cluster(1, mintDir, env);
    const parse = (t: string) => JSON.parse(t) as Msg;
    const { user, line } = await userOpenRequest(fx.root, offerPath, 'life', 0);
    const accept = await cluster.ask(0, line);
    expect(parse(accept).type, accept).toBe('credit/open-accept');
    await userOpened(user, accept);
    for (const amount of [5000, 7000]) {
      const r = await userPays(user, amount);
      const a = await cluster.ask(0, r.line);
      expect(parse(a).type, a).toBe('credit/receipt');
      await userTakesReceipt(user, a);
    }
    const close = message(await pipeline([userStage(user, {}, 'close-credit', '--role', 'user', '--start')], ''), 'credit/close-request', 'close request');
    const closeLine = JSON.stringify(close.msg);
    // A one-shot mint process on the same store: refused up front, nothing on stdout.
    const oneShot = await pipeline([mintStage(mintDir, env, 'close-credit', '--role', 'mint')], closeLine);
    expect([oneShot[0]!.status, oneShot[0]!.stdout]).toEqual([2, '']);
    expect(oneShot[0]!.stderr).toMatch(/^offchain: error E_STORE_ONE_SHOT: /);
    const closed = await cluster.ask(0, closeLine);
    expect(parse(closed)).toMatchObject({ type: 'credit/closed', contract_id: user.contractId, cumulative_sat: 12000 });
    expect(await cluster.ask(0, closeLine)).toBe(closed);
    message(await pipeline([userStage(user, {}, 'close-credit', '--role', 'user')], closed), 'credit/closed', 'the user takes the close');
    expect((await cluster.end()).map((e) => e.status)).toEqual([0]);
    const verifier = await independentSchnorr(productBackends({}));
    const spend = verifyKeyPathSpend(parse(closed).hex, [{ amount: CAPACITY, script: user.script, txid: user.funding.txid, vout: user.funding.vout }], user.outputKey, { verifier });
    expect(spend.txid).toBe(parse(closed).txid);
  }, 300_000);
}, { prefix: 'offchain-pg-life-' });
