/**
 * REGRESSION — the operator's database READER (a monitoring login, a backup): someone who can
 * read `<state-dir>/<network>/state.sqlite` (and its -wal), never write it. docs/state.md
 * "Secrets at rest are sealed": a reader "learns that a secret is there and its length, nothing
 * else". The adversarial review of the one store found two secrets in the clear; fixed:
 *
 * 1. A mint directory of the older layout (which kept its unused secret nonces in the clear, in
 *    its own files), imported by a command without the key — the monitoring job's `credit list`
 *    — keeps them so (`0x00 ‖ secnonce`), no worse than the files they came from, and used to keep
 *    them so until each was taken: a reader who copied one, with the exit that nonce signed on
 *    chain and the user's own partial signature, solved the mint's key (one equation; the solver
 *    is below, BIP-327 written out, nothing from the signing path). Now the mint's first command
 *    with its key seals every one of them (nonces.ts `sealImported`): none is left in the clear,
 *    and its k1 ‖ k2 are no longer bytes of the file or its -wal.
 *
 * 2. The statechain OWNER's share o (`share_secret` of its coin documents) was stored in the
 *    clear (the operator's s sealed): now it is sealed under the owner's key (records.ts
 *    OWNER_SECRETS), the coin's key half unreadable to the reader.
 *
 * 3. Checked and safe from the start: secret nonces issued after the import (a credit payment's,
 *    `musig nonce`'s) and the mint's signed states never appear in the file or its -wal as bytes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { base64, hex } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { ROOT, tempDir } from '../helpers.ts';
import { run } from '../e2e/cli.ts';
import { publicKeyOf } from '../independent/keys.ts';
import { G, encodeCompressed, pointMul } from '../independent/secp256k1.ts';
import { mintKeyFromKnownNonce, musigFields } from '../pg/musig-nonce-reuse.ts';
import { KEYS as SC_KEYS, depositThrough, flow, fundingTo } from '../e2e/statechain-flow.ts';
import { MintStream, applyReceipt, openContracts, payRequest } from '../e2e/stream-credit.ts';
import { Sealer, openFields } from '../../src/lib/store/seal.ts';
import { OWNER_SECRETS } from '../../src/lib/store/sqlite/records.ts';

const V0 = join(ROOT, 'test', 'fixtures', 'state-v0');
const MINT_KEY = readFileSync(join(ROOT, 'fixtures/keys/mint.key'), 'utf8').trim();
const MINT_PUB = publicKeyOf(hex.decode(MINT_KEY));
const USER_KEY = readFileSync(join(ROOT, 'fixtures/keys/user.key'), 'utf8').trim();
const C1 = 'db257f2e4a5b05c0b602d90c17d543fd65ed9426adde8b78992365922323e491';
const PAY = ['--tip-height', '1001', '--confirmations', '1'];

const tmp = tempDir('offchain-adv-reader-');
afterAll(() => tmp.cleanup());

const bytesIn = (file: string, needle: Uint8Array) => existsSync(file) && readFileSync(file).includes(Buffer.from(needle));

describe('a reader of state.sqlite', () => {
  it("an imported mint's unused secret nonces, in the clear as its older files kept them, are sealed by the mint's first command with its key; with them the reader would have had the mint's key", () => {
    const s = join(tmp.path, 'v0');
    cpSync(join(V0, 'credit-mint'), join(s, 'credit-mint'), { recursive: true, filter: (f) => !/-(wal|shm)$/.test(f) });
    const dir = join(s, 'credit-mint');
    // The monitoring job (no key) runs first after the upgrade: its credit list imports the directory.
    const list = run(['credit', 'list', '--tip-height', '1001', '--state-dir', dir]);
    expect(list.status, list.stderr).toBe(0);
    const file = join(dir, 'regtest', 'state.sqlite');
    const unused = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT id, context, pubnonce, sealed FROM nonces WHERE consumed = 0').all() as { id: string; context: string; pubnonce: string; sealed: Buffer }[];
      } finally {
        db.close();
      }
    };
    // Until the mint runs with its key, as in the files they came from: in the clear.
    const before = unused();
    expect(before.length).toBeGreaterThan(1);
    for (const r of before) expect(r.sealed[0], `nonce ${r.id} (${r.context})`).toBe(0x00);
    const c1 = before.find((r) => r.context.includes(`${C1}/state/3`))!;
    const secnonce = new Uint8Array(c1.sealed.subarray(1));

    // The mint's first command with its key: C1's user pays (the mint takes that nonce), and the mint exits with that state.
    const requestText = readFileSync(join(V0, 'credit-messages', 'next-c1-update-request.json'), 'utf8');
    const receipt = run(['sign-update', '--role', 'mint', ...PAY, '--key-env', 'MINT_KEY', '--state-dir', dir], { input: requestText, env: { MINT_KEY } });
    expect(receipt.status, receipt.stderr).toBe(0);
    const exit = run(['credit', 'exit', '--contract', C1, '--fee-rate', '2', '--tip-height', '1001', '--key-env', 'MINT_KEY', '--state-dir', dir], { env: { MINT_KEY } });
    expect(exit.status, exit.stderr).toBe(0);
    const stateTx = (JSON.parse(exit.stdout) as { state_tx: { hex: string } }).state_tx.hex;

    // Now the reader finds every unused nonce sealed (0x02 ‖ iv ‖ ct ‖ tag), opening only under the mint's key …
    const after = unused();
    expect(after.find((r) => r.id === c1.id), "C1's nonce, taken").toBeUndefined();
    expect(after.filter((r) => before.some((b) => b.id === r.id))).toHaveLength(before.length - 1);
    const sealer = Sealer.fromSecret(hex.decode(MINT_KEY));
    for (const r of after) {
      expect(r.sealed[0], `nonce ${r.id} (${r.context})`).toBe(0x02);
      const opened = sealer.open('nonce', [r.id, r.context], r.sealed);
      expect(opened, `nonce ${r.id} opens under the mint's key`).toBeDefined();
      const was = before.find((b) => b.id === r.id);
      if (was) expect(Buffer.from(opened!).equals(was.sealed.subarray(1)), `nonce ${r.id} sealed from its clear form`).toBe(true);
    }
    // … and none of the secrets that were in the clear is bytes of the file or its -wal.
    for (const b of before) for (const f of [file, `${file}-wal`]) expect(bytesIn(f, b.sealed.subarray(1, 65)), `${b.id} in ${f}`).toBe(false);

    // What a copy taken in the window (before the mint's first keyed command) would give — the
    // reason the window must close: the user's request, the state from the chain, that nonce.
    const request = JSON.parse(requestText) as { psbt: string };
    const psbt = base64.decode(request.psbt);
    expect(hex.encode(musigFields(psbt).pubnonces.get(hex.encode(MINT_PUB))!)).toBe(c1.pubnonce);
    const w = Transaction.fromPSBT(psbt).getInput(0).witnessUtxo!;
    const x = mintKeyFromKnownNonce({ psbt, signedTx: stateTx, prevout: { amount: w.amount, script: w.script } }, publicKeyOf(hex.decode(USER_KEY)), MINT_PUB, secnonce);
    expect(x.toString(16).padStart(64, '0')).toBe(MINT_KEY);
  });

  it("the statechain owner's share o is sealed under the owner's key, as the operator's s is", () => {
    const dir = join(tmp.path, 'sc');
    const f = flow(dir, () => ['--tip-height', '200', '--confirmations', '3']);
    const { coinId } = depositThrough(f, 'ALICE_KEY', (address) => fundingTo(address, 100_000n));
    const read = (who: string, kind: string) => {
      const db = new Database(join(dir, who, 'regtest', 'state.sqlite'), { readonly: true });
      try {
        return db.prepare('SELECT id, body FROM records WHERE kind = ?').all(kind) as { id: string; body: string }[];
      } finally {
        db.close();
      }
    };
    const id = `coin-${coinId}`;
    const coin = JSON.parse(read('ALICE_KEY', 'statechain').find((r) => r.id === id)!.body) as { share_secret?: string; share_secret_sealed?: string; share: string };
    expect(coin.share_secret, "the owner's share o, not readable").toBeUndefined();
    expect(coin.share_secret_sealed).toMatch(/^02[0-9a-f]+$/);
    // Under the owner's key it opens to the share: o·G is the owner's public share the statement names.
    const o = openFields(coin, id, OWNER_SECRETS, Sealer.fromSecret(hex.decode(SC_KEYS.ALICE_KEY!)), dir).share_secret!;
    expect(hex.encode(encodeCompressed(pointMul(G, BigInt(`0x${o}`))))).toBe(coin.share);
    // Nowhere in the file as bytes or as hex text.
    const file = join(dir, 'ALICE_KEY', 'regtest', 'state.sqlite');
    for (const f of [file, `${file}-wal`]) {
      expect(bytesIn(f, hex.decode(o)), f).toBe(false);
      expect(bytesIn(f, Buffer.from(o)), f).toBe(false);
    }
    // The operator's, as before, is sealed.
    const op = JSON.parse(read('OPERATOR_KEY', 'statechain-operator').find((r) => r.id === coinId)!.body) as Record<string, unknown>;
    expect(op.share_secret).toBeUndefined();
    expect(typeof op.share_secret_sealed).toBe('string');
  });

  it('checked and safe: the secret nonces and signed states of a live mint (stream) and of its users are not bytes of state.sqlite or its -wal', async () => {
    const parties = await openContracts(join(tmp.path, 'live'), 2, {}, 'reader');
    // Two payments each, one-shot users, the mint a stream left running (its -wal in use).
    const stream = new MintStream(parties.mintDir, {});
    try {
      for (const round of [1, 2]) {
        for (const u of parties.users) {
          const { line } = await payRequest(u, 1000 * round, {});
          const before = stream.lines().length;
          stream.write(line + '\n');
          await stream.until(() => stream.lines().length > before, 'a receipt');
          await applyReceipt(u, stream.lines().at(-1)!, {});
        }
      }
      const secretsOf = (dir: string, key: string) => {
        const sealer = Sealer.fromSecret(hex.decode(key));
        const db = new Database(join(dir, 'regtest', 'state.sqlite'), { readonly: true });
        try {
          const nonces = (db.prepare('SELECT id, context, sealed FROM nonces WHERE consumed = 0').all() as { id: string; context: string; sealed: Buffer }[])
            .map((r) => sealer.open('nonce', [r.id, r.context], r.sealed));
          return { nonces: nonces.filter((x): x is Buffer => x !== undefined), records: db.prepare('SELECT record FROM contracts').all() as { record: string }[] };
        } finally {
          db.close();
        }
      };
      const mint = secretsOf(parties.mintDir, MINT_KEY);
      expect(mint.nonces.length).toBe(2); // each contract's next nonce, opened here with the mint's key
      const files = (dir: string) => [join(dir, 'regtest', 'state.sqlite'), join(dir, 'regtest', 'state.sqlite-wal')];
      expect(existsSync(files(parties.mintDir)[1]!), 'the live stream\'s -wal').toBe(true);
      for (const n of mint.nonces) for (const f of files(parties.mintDir)) expect(bytesIn(f, n.subarray(0, 64)), f).toBe(false);
      // The signed states: sealed in the records (no "hex" of a latest state readable).
      for (const r of mint.records) expect(JSON.parse(r.record).latest?.hex).toBeUndefined();
      for (const u of parties.users) {
        const mine = secretsOf(u.dir, u.key);
        for (const n of mine.nonces) for (const f of files(u.dir)) expect(bytesIn(f, n.subarray(0, 64)), f).toBe(false);
      }
    } finally {
      await stream.end();
    }
  });
});
