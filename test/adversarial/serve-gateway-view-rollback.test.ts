/**
 * REGRESSION (built CLI) — found by the adversarial review of the one store: `serve gateway
 * --lightning-rpc` used to release answers whose transaction was rolled back, so one mint nonce
 * signed several different close transactions, all handed to the user (three of them gave the
 * gateway's secret key: s = k1 + b·k2 + e·a·x).
 *
 * Why it happened (library level: shared-connection-rollback.test.ts): every POST
 * /v1/gateway/pay whose job was still undecided ran `gatewayInFlight` → `withMintView`, which
 * opened a SECOND SqliteMintStore on the process's ONE shared connection and ended with a ROLLBACK:
 * the service's open group-commit batch was rolled back under it, and its next COMMIT "succeeded"
 * on nothing. Now serve gateway (and serve mint) read through the service's own batch, a view never
 * rolls back a batch it did not begin, and a batch rolled back under its owner fails its COMMIT
 * (E_STATE_WRITE, nothing released).
 *
 * The attack, replayed: the other party is a device AND a credit user of the same gateway. The
 * device keeps one payment in flight (its node says "pending") and replays its device/pay; the
 * scripted node holds each replay's `getinfo` and releases 254 of them, then the user's
 * close-requests (each after one more replay), then the rest — the exact order that, before the
 * fix, had a close answered out of a rolled-back batch in the first round. Now every close
 * answered credit/closed is in the database (the contract closing, its mint nonce consumed), no
 * mint nonce is under two transactions, no close meets "no such savepoint", and a second close
 * of the same state under the same nonce gets the kept transaction back, not a new signature. The rate limit is 0 here for speed only.
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
import { mintStage, REFUND, userStage, fundingPsbt, type Msg } from '../e2e/stream-credit.ts';
import { musigFields } from '../pg/musig-nonce-reuse.ts';
import { musigTaprootOutput, publicKeyOf } from '../independent/keys.ts';
import { NOW, invoice, paymentHash } from '../lib/device/world.ts';
import { toHex } from '../../src/lib/bytes.ts';

const TERMS = join(ROOT, 'fixtures/policies/gateway-terms.json');
const POLICY = join(ROOT, 'fixtures/policies/device.json');
const MINT_KEY = readFileSync(join(ROOT, 'fixtures/keys/mint.key'), 'utf8').trim();
const USER_KEY = readFileSync(join(ROOT, 'fixtures/keys/user.key'), 'utf8').trim();
const MINT_PUB = publicKeyOf(hex.decode(MINT_KEY));
const TIP = '1000';
const ATTACKERS = 12;
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

describe("serve gateway --lightning-rpc: device/pay replays in flight cannot roll back the service's batch", () => {
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
      // 300 replays at once from 127.0.0.1: no per-address cap (its default, 16, would close most of them).
      '--lightning-rpc', socket, '--pay-timeout', '2', '--rate-limit', '0', '--max-connections-per-address', '0', '--operator-listen', '127.0.0.1:0'], { MINT_KEY });
  }, 600_000);

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await new Promise<void>((res) => (node.server ? node.server.close(() => res()) : res()));
    root?.cleanup();
  });

  /**
   * One round: `closes` (close-request messages) sent whole but for their last byte; REPLAYS
   * device/pay replays, each held at the gateway's getinfo by the device's node; then at once,
   * 254 replays released to the service's queue, the closes (each after one more replay), the
   * rest of the replays. The closes' HTTP answers.
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

  const mintNonceOf = (psbt: string): string => toHex(musigFields(base64.decode(psbt)).pubnonces.get(toHex(MINT_PUB))!);

  it('every close answered credit/closed is kept (contract closing, its mint nonce consumed); one transaction per mint nonce; a second close under the nonce gets the kept one back', async () => {
    // The device's toll, in flight (its node says pending): 503 E_PAYMENT_PENDING, the job stored.
    const inv = join(root.path, 'toll.bolt11');
    writeFileSync(inv, invoice(0, 1_000_000n) + '\n');
    const payRun = (await pipeline([{ args: ['device', 'pay', '--invoice', inv, '--policy', POLICY, '--terms', TERMS, '--now', String(NOW), '--tip-height', TIP, '--key-env', 'USER_KEY', '--state-dir', join(root.path, 'user')], env: { USER_KEY } }], ''))[0]!;
    expect(payRun.status, payRun.stderr).toBe(0);
    const pay = payRun.stdout;
    const first = await fetch(`${svc.public}/v1/gateway/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: pay });
    expect([first.status, ((await first.json()) as Msg).code]).toEqual([503, 'E_PAYMENT_PENDING']);

    const txidsByNonce = new Map<string, Set<string>>();
    const kept: { a: Attacker; snapshot: string; N: string; txid: string }[] = [];
    const log: string[] = [];
    let next = 0;
    for (let r = 0; r < 3 && next < attackers.length; r++) {
      const entries: { a: Attacker; snapshot: string; msg: Msg }[] = [];
      while (entries.length < 4 && next < attackers.length) {
        const a = attackers[next++]!;
        const snapshot = `${a.dir}-before-close`;
        cpSync(a.dir, snapshot, { recursive: true });
        entries.push({ a, snapshot, msg: await closeFrom(a, snapshot, '2') });
      }
      const answers = await round(pay, entries.map((e) => e.msg));
      log.push(`round ${r}: ${answers.map((x) => `${x.status} ${x.text.slice(0, 120).replace(/\s+/g, ' ')}`).join(' | ')}`);
      for (const [i, ans] of answers.entries()) {
        const e = entries[i]!;
        expect(ans.text, 'a step of the batch met a rollback it did not make').not.toMatch(/no such savepoint|E_INTERNAL/);
        if (ans.status !== 200) continue;
        const closed = JSON.parse(ans.text) as Msg;
        if (closed.type !== 'credit/closed') continue;
        const N = mintNonceOf(e.msg.psbt as string);
        // Answered ⇒ committed: the database holds the close and the nonce consumed.
        expect(mintRow(mintDir(), e.a.contractId)?.status, `contract ${e.a.contractId} answered closed`).not.toBe('open');
        expect(nonceConsumed(mintDir(), N)).toBe(1);
        const txids = txidsByNonce.get(N) ?? new Set<string>();
        txids.add(closed.txid as string);
        txidsByNonce.set(N, txids);
        kept.push({ a: e.a, snapshot: e.snapshot, N, txid: closed.txid as string });
      }
    }
    expect(kept.length, `the closes went through (${log.join('; ')})`).toBeGreaterThan(0);
    for (const [N, txids] of txidsByNonce) expect(txids.size, `mint nonce ${N.slice(0, 16)}…`).toBe(1);

    // The attacker's next move: another close of the same state at another fee rate, under the same nonce.
    const k = kept[0]!;
    const again = await closeFrom(k.a, k.snapshot, '9');
    expect(mintNonceOf(again.psbt as string)).toBe(k.N);
    const r2 = await fetch(`${svc.public}/v1/credit/close`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(again) });
    const answer = JSON.parse(await r2.text()) as Msg;
    // Refused, or answered with the close the mint kept (the same transaction, re-sent): never a new signature under N.
    if (answer.type === 'credit/closed') expect([r2.status, answer.txid]).toEqual([200, k.txid]);
    else expect(r2.status).toBeGreaterThanOrEqual(400);
  }, 900_000);
});
