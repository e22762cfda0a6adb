/**
 * A credit user pays a running mint service through `--peer URL` (issue 39, "done when"):
 * one `offchain serve mint` (SQLite), spawned from the built CLI, and one user who opens a
 * contract, pays, rolls over, pays on, recovers a payment across a kill -9 of the service,
 * and closes — each step one invocation. Beside it the same life as today's pipes (one-shot
 * mint and user steps, in-process), on their own directories; the results must agree: the
 * same balances byte for byte, the same contract ids, refund, rollover and close txids, the
 * mint's stored view (`credit list`) the same, and every signed transaction checked by the
 * independent verifier (test/independent/: its own parser, BIP-341 sighash and BIP-340 on
 * a library the CLI is not using, against output keys derived in test code).
 *
 * Also: a refusal through --peer is the one-shot mint's (code, exit code, one stderr line,
 * nothing on stdout); a request whose answer was lost is answered the same bytes by the
 * service restarted after kill -9, and the user's command that met the service down
 * (E_PEER_UNREACHABLE) is safe to run again.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { getDecodedToken, hasValidDleq } from '@cashu/cashu-ts';
import { hex } from '@scure/base';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { verifyKeyPathSpend } from '../independent/verify.ts';
import { fileSnapshot, tempDir } from '../helpers.ts';
import type { Run } from './cli.ts';
import { serveMint, stopService, stopService as stop, type Service } from './serve-process.ts';
import { MINT_KEY, PAYOUT, REFUND } from './stream-credit.ts';
import { USER_KEY, fixturePath } from './fixtures.ts';
import { runAsync } from './process.ts';
import { pipelineInProcess, runInProcess } from './in-process.ts';

const FUNDING = fixturePath('credit/funding.psbt');
/** The contract's output key: KeyAgg of the sorted fixture keys and TapTweak, in test code. */
const CONTRACT = musigTaprootOutput([publicKeyOf(hex.decode(USER_KEY)), publicKeyOf(hex.decode(MINT_KEY))]);
const TIP = ['--tip-height', '1000'];

type Msg = Record<string, any>;

const MINT_ARGS = (dir: string) => ['--key-env', 'MINT_KEY', '--state-dir', dir, ...TIP, '--confirmations', '1'];
function parties(root: string) {
  const mintDir = join(root, 'mint');
  const userDir = join(root, 'user');
  return {
    mintDir,
    userDir,
    mint: (...args: string[]) => ({ args: [...args, '--key-env', 'MINT_KEY', '--state-dir', mintDir], env: { MINT_KEY } }),
    user: (...args: string[]) => ({ args: [...args, '--key-env', 'USER_KEY', '--state-dir', userDir], env: { USER_KEY } }),
  };
}

/** Every stage exited 0; the last one's stdout is one message of `type`. */
function ok(results: Run[] | Run, type: string): { text: string; msg: Msg } {
  const list = Array.isArray(results) ? results : [results];
  list.forEach((r, i) => expect(r.status, `stage ${i} failed: ${r.stderr}`).toBe(0));
  const text = list.at(-1)!.stdout;
  const msg = JSON.parse(text) as Msg;
  expect(msg.type, text).toBe(type);
  return { text, msg };
}

describe('a user pays a mint service through --peer', () => {
  const piped = tempDir('offchain-serve-user-piped-');
  const served = tempDir('offchain-serve-user-peer-');
  const P = parties(piped.path);
  const S = parties(served.path);
  let svc: Service | undefined;
  const peer = () => ['--peer', svc!.url];
  /** The user's one-step command through the service (in this process: the service is the process under test). */
  const viaPeer = (...args: string[]) => {
    const stage = S.user(...args, ...peer());
    return runInProcess(stage.args, { env: stage.env });
  };
  const viaPipe = (...stages: { args: string[]; env?: Record<string, string> }[]) => pipelineInProcess(stages);

  beforeAll(async () => {
    for (const party of [P, S]) {
      const offer = await runInProcess(party.mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT).args, { env: { MINT_KEY } });
      ok(offer, 'credit/offer');
      if (party === P) writeFileSync(join(piped.path, 'offer.json'), offer.stdout);
    }
    svc = await serveMint(MINT_ARGS(S.mintDir), { MINT_KEY });
  }, 60_000);

  afterAll(async () => {
    expect(await stop(svc)).toBe(0);
    piped.cleanup();
    served.cleanup();
  }, 30_000);

  let rolloverTxid = '';
  let nextCapacity = 0n;

  it('open-credit --peer takes the service\'s offer, sends the open-request and prints credit/opened', async () => {
    const openArgs = [...TIP, '--expiry', '+4320', '--refund-address', REFUND, '--in', FUNDING];
    const p = ok(await viaPipe(
      P.user('open-credit', '--role', 'user', '--offer', join(piped.path, 'offer.json'), ...openArgs),
      P.mint('open-credit', '--role', 'mint', ...TIP),
      P.user('open-credit', '--role', 'user'),
    ), 'credit/opened').msg;
    const s = ok(await viaPeer('open-credit', '--role', 'user', ...openArgs), 'credit/opened').msg;
    // The same contract and refund; the signatures differ only by the parties' nonces.
    expect(s.contract_id).toBe(p.contract_id);
    expect(s.address).toBe(p.address);
    expect(s.refund.txid).toBe(p.refund.txid);
    expect(s.refund.final_from_height).toBe(5321);
    expect(s.funding_psbt).toBe(p.funding_psbt);
    for (const m of [p, s]) {
      const tx = verifyKeyPathSpend(m.refund.hex, [{ amount: 1_000_000n, script: CONTRACT.script }], CONTRACT.outputKey);
      expect(tx.lockTime).toBe(5320);
    }
  }, 60_000);

  const pay = async (amount: number) => {
    const p = ok(await viaPipe(
      P.user('sign-update', '--role', 'user', '--amount', String(amount)),
      P.mint('sign-update', '--role', 'mint', ...TIP, '--confirmations', '1'),
      P.user('sign-update', '--role', 'user'),
    ), 'credit/balance');
    const s = ok(await viaPeer('sign-update', '--role', 'user', '--amount', String(amount)), 'credit/balance');
    expect(s.text, 'the same balance, byte for byte').toBe(p.text);
    return s.msg;
  };

  it('sign-update --peer pays: each balance is the piped flow\'s, byte for byte', async () => {
    await pay(10_000);
    await pay(25_000);
    const b = await pay(40_000);
    expect(b).toMatchObject({ state: 3, cumulative_sat: 75_000 });
  }, 60_000);

  it('rollover --peer runs both rounds in one invocation: the same rollover and next refund as the pipe\'s, validly signed', async () => {
    const args = ['--expiry', '+4322', ...TIP];
    const p = ok(await viaPipe(
      P.user('rollover', '--role', 'user', ...args),
      P.mint('rollover', '--role', 'mint', ...TIP),
      P.user('rollover', '--role', 'user'),
      P.mint('rollover', '--role', 'mint', ...TIP),
      P.user('rollover', '--role', 'user'),
    ), 'credit/rolled-over').msg;
    const s = ok(await viaPeer('rollover', '--role', 'user', ...args), 'credit/rolled-over').msg;
    expect(s.new_contract_id).toBe(p.new_contract_id);
    expect(s.rollover.txid).toBe(p.rollover.txid);
    expect(s.refund.txid).toBe(p.refund.txid);
    expect(s.rollover.complete).toBe(true);
    rolloverTxid = s.rollover.txid;
    for (const m of [p, s]) {
      const tx = verifyKeyPathSpend(m.rollover.hex, [{ amount: 1_000_000n, script: CONTRACT.script }], CONTRACT.outputKey);
      expect(tx.txid).toBe(m.rollover.txid);
      const next = tx.outputs[1]!;
      expect(hex.encode(next.script)).toBe(hex.encode(CONTRACT.script));
      verifyKeyPathSpend(m.refund.hex, [{ txid: m.rollover.txid, vout: 1, amount: next.amount, script: CONTRACT.script }], CONTRACT.outputKey);
      nextCapacity = next.amount;
    }
    expect((await pay(20_000)).cumulative_sat).toBe(20_000);
  }, 60_000);

  it('a payment whose answer was lost: the service killed -9 and restarted answers the same bytes; the user\'s command that met it down (E_PEER_UNREACHABLE) is run again safely', async () => {
    // The user's request, sent and answered, the answer never applied (the user step lost it).
    const request = await runInProcess(S.user('sign-update', '--role', 'user', '--amount', '30000').args, { env: { USER_KEY } });
    ok(request, 'credit/update-request');
    const post = (url: string) => fetch(`${url}/v1/credit/update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request.stdout });
    const first = await post(svc!.url);
    expect(first.status).toBe(200);
    const answered = Buffer.from(await first.arrayBuffer());
    expect(JSON.parse(answered.toString()).type).toBe('credit/receipt');
    const port = svc!.port;
    await stop(svc, 'SIGKILL');

    // The service down: every attempt refused, the user's command says so and writes nothing more.
    const down = await runAsync(S.user('sign-update', '--role', 'user', '--amount', '30000', '--peer', svc!.url, '--peer-timeout', '2').args, { env: { USER_KEY } });
    expect(down.status, down.stderr).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr.trim().split('\n').at(-1)).toMatch(/^offchain: error E_PEER_UNREACHABLE: /);

    svc = await serveMint(MINT_ARGS(S.mintDir), { MINT_KEY }, port);
    const again = await post(svc.url);
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(answered), 'the stored answer, byte for byte').toBe(true);

    // Run again: the pending request resent unchanged, its stored receipt applied.
    expect(await pay(30000)).toMatchObject({ state: 2, cumulative_sat: 50_000 });
  }, 90_000);

  it('credit abandon --peer: a request never sent is abandoned (nonce burned, a fresh one), one the mint signed is answered with its receipt — as the pipe\'s', async () => {
    const request = (party: ReturnType<typeof parties>, amount: number) => runInProcess(party.user('sign-update', '--role', 'user', '--amount', String(amount)).args, { env: { USER_KEY } });
    const abandonPiped = () => viaPipe(P.user('credit', 'abandon', '--role', 'user', '--start'), P.mint('credit', 'abandon', '--role', 'mint'), P.user('credit', 'abandon', '--role', 'user'));
    // Never sent: nothing was signed at that state.
    ok(await request(P, 7000), 'credit/update-request');
    ok(await request(S, 7000), 'credit/update-request');
    const neverSent = ok(await abandonPiped(), 'credit/balance');
    const s1 = ok(await viaPeer('credit', 'abandon', '--role', 'user', '--start'), 'credit/balance');
    expect(s1.text).toBe(neverSent.text);
    expect(s1.msg).toMatchObject({ state: 2, cumulative_sat: 50_000 });
    // Signed by the mint, its answer lost: the abandon brings the receipt, applied.
    const p2 = ok(await request(P, 8000), 'credit/update-request');
    ok(await runInProcess(P.mint('sign-update', '--role', 'mint', ...TIP, '--confirmations', '1').args, { env: { MINT_KEY }, input: p2.text }), 'credit/receipt'); // the answer lost
    const q = ok(await request(S, 8000), 'credit/update-request');
    const lost = await fetch(`${svc!.url}/v1/credit/update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: q.text });
    expect(lost.status).toBe(200);
    const signedPiped = ok(await abandonPiped(), 'credit/balance');
    const s2 = ok(await viaPeer('credit', 'abandon', '--role', 'user', '--start'), 'credit/balance');
    expect(s2.text).toBe(signedPiped.text);
    expect(s2.msg).toMatchObject({ state: 3, cumulative_sat: 58_000 });
  }, 60_000);

  it('sign-update --peer takes up an abandon begun before (a run stopped half-way): the answer applied, the same payment signed again', async () => {
    const begin = async (party: ReturnType<typeof parties>) => {
      ok(await runInProcess(party.user('sign-update', '--role', 'user', '--amount', '3000').args, { env: { USER_KEY } }), 'credit/update-request');
      ok(await runInProcess(party.user('credit', 'abandon', '--role', 'user', '--start').args, { env: { USER_KEY } }), 'credit/abandon');
    };
    await begin(P);
    await begin(S);
    // The pipe: the abandon's answer fed, then the payment made again.
    // (--start again prints the abandon already signed, as sent the first time.)
    ok(await viaPipe(P.user('credit', 'abandon', '--role', 'user', '--start'), P.mint('credit', 'abandon', '--role', 'mint'), P.user('credit', 'abandon', '--role', 'user')), 'credit/balance');
    expect(await pay(3000)).toMatchObject({ state: 4, cumulative_sat: 61_000 });
  }, 60_000);

  it('--peer is refused before anything is written where it does not belong, and with credentials in the URL', async () => {
    const before = fileSnapshot(S.userDir);
    const cases: [string[], string][] = [
      [S.mint('sign-update', '--role', 'mint', '--peer', svc!.url).args, 'E_USAGE'],
      [S.user('sign-update', '--role', 'user', '--peer', svc!.url).args, 'E_USAGE'],
      [S.user('close-credit', '--role', 'user', '--peer', svc!.url).args, 'E_USAGE'],
      [S.user('rollover', '--role', 'user', '--peer', svc!.url).args, 'E_USAGE'],
      [S.user('credit', 'abandon', '--role', 'user', '--peer', svc!.url).args, 'E_USAGE'],
      [S.mint('open-credit', '--role', 'mint', '--publish', '--peer', svc!.url).args, 'E_USAGE'],
      [S.user('sign-update', '--role', 'user', '--amount', '1000', '--peer', svc!.url.replace('http://', 'http://user:secret@')).args, 'E_SECRET_ON_ARGV'],
      [S.user('sign-update', '--role', 'user', '--amount', '1000', '--peer', 'ftp://127.0.0.1/').args, 'E_USAGE'],
    ];
    for (const [args, code] of cases) {
      const r = await runInProcess(args, { env: { USER_KEY, MINT_KEY }, input: '{"type":"credit/receipt","version":1,"network":"regtest"}' });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^offchain: error ${code}: `));
    }
    expect(fileSnapshot(S.userDir)).toEqual(before);
  }, 60_000);

  it('close-credit --peer: the same close as the pipe\'s, validly signed; both mints store the same contracts', async () => {
    const p = ok(await viaPipe(
      P.user('close-credit', '--role', 'user', '--start'),
      P.mint('close-credit', '--role', 'mint'),
      P.user('close-credit', '--role', 'user'),
    ), 'credit/closed').msg;
    const s = ok(await viaPeer('close-credit', '--role', 'user', '--start'), 'credit/closed').msg;
    expect(s.txid).toBe(p.txid);
    expect(s.cumulative_sat).toBe(61_000);
    for (const m of [p, s]) verifyKeyPathSpend(m.hex, [{ txid: rolloverTxid, vout: 1, amount: nextCapacity, script: CONTRACT.script }], CONTRACT.outputKey);
    // The mint's stored view (credit list: read-only, beside the running service).
    const list = async (dir: string) => ok(await runInProcess(['credit', 'list', '--state-dir', dir, ...TIP]), 'credit/contracts').text;
    expect(await list(S.mintDir)).toBe(await list(P.mintDir));
  }, 60_000);

  it('a refusal through --peer is the one-shot mint\'s: its code and exit code, one line on stderr, nothing on stdout', async () => {
    // Another user directory opens on the same funding outpoint (another expiry: another contract).
    const other = tempDir('offchain-serve-user-other-');
    try {
      const O = parties(other.path);
      const args = ['open-credit', '--role', 'user', ...TIP, '--expiry', '+4000', '--refund-address', REFUND, '--in', FUNDING];
      const oneShot = await viaPipe(O.user(...args, '--offer', join(piped.path, 'offer.json')), P.mint('open-credit', '--role', 'mint', ...TIP));
      const refusal = oneShot[1]!;
      expect(refusal.status).toBe(4);
      const code = /^offchain: error (E_[A-Z_]+): /.exec(refusal.stderr)![1];
      expect(code).toBe('E_FUNDING_IN_USE');
      // A process, as an operator's shell runs it.
      const stage = parties(join(other.path, 'peer')).user(...args, '--peer', svc!.url);
      const r = await runAsync(stage.args, { env: stage.env });
      expect(r.status, r.stderr).toBe(4);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^offchain: error ${code}: `));
    } finally {
      other.cleanup();
    }
  }, 60_000);
});

describe('a user paid in ecash through --peer', () => {
  const tmp = tempDir('offchain-serve-user-ecash-');
  const E = parties(tmp.path);
  const MINT_URL = 'http://127.0.0.1:3338';
  const ENV = { MINT_KEY, USER_KEY, ECASH_SEED: 'TEST_PRIVATE_KEY', WALLET_SEED: 'a7'.repeat(64) };
  let svc: Service | undefined;

  beforeAll(async () => {
    ok(await runInProcess(E.mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT, '--mint-url', MINT_URL, '--ecash-seed-env', 'ECASH_SEED').args, { env: ENV }), 'credit/offer');
    svc = await serveMint([...MINT_ARGS(E.mintDir), '--ecash-seed-env', 'ECASH_SEED'], ENV);
    ok(await runInProcess(E.user('open-credit', '--role', 'user', '--peer', svc.url, ...TIP, '--refund-address', REFUND, '--in', FUNDING).args, { env: ENV }), 'credit/opened');
  }, 60_000);

  afterAll(async () => {
    expect(await stopService(svc)).toBe(0);
    tmp.cleanup();
  }, 30_000);

  it('without --token-out the payment is refused before it is signed (nothing written); with it, the token is the amount, each proof\'s DLEQ valid (cashu-ts)', async () => {
    const pay = (...extra: string[]) => runInProcess(E.user('sign-update', '--role', 'user', '--amount', '1000', '--wallet-seed-env', 'WALLET_SEED', '--peer', svc!.url, ...extra).args, { env: ENV });
    const before = fileSnapshot(E.userDir);
    const refused = await pay();
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^offchain: error E_USAGE: .*--token-out/);
    expect(fileSnapshot(E.userDir), 'nothing signed, nothing written').toEqual(before);

    const tokenPath = join(tmp.path, 'token.txt');
    const balance = ok(await pay('--token-out', tokenPath), 'credit/balance').msg;
    expect(balance).toMatchObject({ state: 1, cumulative_sat: 1000, ecash: { issued_sat: 1000, this_payment_sat: 1000, token_out: tokenPath } });
    const keyset = JSON.parse((await runInProcess(['credit', 'keyset', '--ecash-seed-env', 'ECASH_SEED'], { env: ENV })).stdout).keysets[0];
    const token = getDecodedToken(readFileSync(tokenPath, 'utf8').trim(), [keyset.id]);
    expect(token.mint).toBe(MINT_URL);
    expect(token.proofs.reduce((s, p) => s + Number(p.amount.toString()), 0)).toBe(1000);
    for (const p of token.proofs) expect(hasValidDleq(p, keyset as never), `DLEQ of a ${p.amount} proof`).toBe(true);
  }, 60_000);

  it('credit abandon --peer of an ecash payment without --token-out is refused before the abandon is signed (its answer may be the receipt, with the token)', async () => {
    ok(await runInProcess(E.user('sign-update', '--role', 'user', '--amount', '500', '--wallet-seed-env', 'WALLET_SEED').args, { env: ENV }), 'credit/update-request');
    const abandon = (...extra: string[]) => runInProcess(E.user('credit', 'abandon', '--role', 'user', '--start', '--wallet-seed-env', 'WALLET_SEED', '--peer', svc!.url, ...extra).args, { env: ENV });
    const before = fileSnapshot(E.userDir);
    const refused = await abandon();
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^offchain: error E_USAGE: .*--token-out/);
    expect(fileSnapshot(E.userDir)).toEqual(before);
    // Never sent: the mint burns its nonce and issues a fresh one; no token.
    expect(ok(await abandon('--token-out', join(tmp.path, 'unused.txt')), 'credit/balance').msg).toMatchObject({ state: 1, cumulative_sat: 1000 });
  }, 60_000);
});

describe('a service\'s answer is read as one from a pipe (a peer that answers wrongly; transport only, no mint behind it)', () => {
  const tmp = tempDir('offchain-serve-user-answers-');
  const U = parties(tmp.path);
  let server: Server;
  let url = '';
  let answer: { status: number; body: string } = { status: 200, body: '' };
  const seen: { body: string; contract: string | undefined }[] = [];
  let contractId = '';

  beforeAll(async () => {
    const offer = ok(await runInProcess(U.mint('open-credit', '--role', 'mint', '--publish', '--payout-address', PAYOUT).args, { env: { MINT_KEY } }), 'credit/offer');
    writeFileSync(join(tmp.path, 'offer.json'), offer.text);
    contractId = ok(await pipelineInProcess([
      U.user('open-credit', '--role', 'user', '--offer', join(tmp.path, 'offer.json'), ...TIP, '--refund-address', REFUND, '--in', FUNDING),
      U.mint('open-credit', '--role', 'mint', ...TIP),
      U.user('open-credit', '--role', 'user'),
    ]), 'credit/opened').msg.contract_id;
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
        seen.push({ body, contract: req.headers['offchain-contract'] as string | undefined });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await new Promise((res) => server.close(res));
    tmp.cleanup();
  });

  it('another network, not JSON, another message, a receipt not the mint\'s: each refused with the pipe\'s code, nothing printed, the request resent byte for byte', async () => {
    const receipt = (network: string) => JSON.stringify({
      type: 'credit/receipt', version: 1, network, amount_sat: 1000, contract_id: contractId, cumulative_sat: 1000,
      next_nonce: { pubnonce: `02${'11'.repeat(32)}03${'22'.repeat(32)}`, state: 2 }, state: 1, txid: 'ab'.repeat(32),
    });
    const cases: [{ status: number; body: string }, number, string][] = [
      [{ status: 200, body: receipt('testnet') }, 4, 'E_NETWORK_MISMATCH'],
      [{ status: 200, body: 'ok' }, 1, 'E_PEER_ANSWER'],
      [{ status: 200, body: JSON.stringify({ type: 'credit/closed', version: 1, network: 'regtest' }) }, 3, 'E_WRONG_MESSAGE'],
      [{ status: 200, body: receipt('regtest') }, 4, 'E_RECEIPT_FORGED'],
      [{ status: 422, body: JSON.stringify({ type: 'credit/error', version: 1, network: 'regtest', code: 'E_TOO_CLOSE_TO_EXPIRY', exit_code: 4, message: 'refused' }) }, 4, 'E_TOO_CLOSE_TO_EXPIRY'],
    ];
    let after: Record<string, string> | undefined;
    for (const [given, exit, code] of cases) {
      answer = given;
      const r = await runInProcess(U.user('sign-update', '--role', 'user', '--amount', '1000', '--peer', url).args, { env: { USER_KEY } });
      expect(r.status, `${code}: ${r.stderr}`).toBe(exit);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^offchain: error ${code}: `));
      // The request was written once, before it first left; no answer moved the record.
      after ??= fileSnapshot(U.userDir);
      expect(fileSnapshot(U.userDir)).toEqual(after);
    }
    expect(seen).toHaveLength(cases.length);
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ type: 'credit/update-request', contract_id: contractId, state: 1, cumulative_sat: 1000 });
    for (const s of seen) {
      expect(s.body, 'the same request, byte for byte').toBe(seen[0]!.body);
      expect(s.contract).toBe(contractId);
    }
  }, 60_000);
});
