/**
 * SECRETS AT REST ARE SEALED (src/lib/store/seal.ts): a secret nonce, a mint's fully signed state, a statechain owner's share
 * and a statechain operator's share are written to state.sqlite only sealed — one key derivation
 * (HKDF-SHA256 of the owner's secret, salt `offchain/seal/v2`), one layout (0x02 ‖ synthetic iv ‖
 * AES-256-GCM), one associated data naming the row and field (label binding). The bytes are
 * checked against that construction computed here, not by the code under test. A sealed secret
 * moved to another row, field, context or state, altered, or sealed under another key, does not
 * open (E_STATE_CORRUPT, nothing signed); a reader without the key (a view) sees it sealed; the
 * plain secret is in no file.
 */
import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/bytes.ts';
import { StateDb, STATE_DB_FILE } from '../../../src/lib/store/sqlite/database.ts';
import { MINT_SECRETS, mintRecordOf, resealed } from '../../../src/lib/store/mint-records.ts';
import { SqliteMintStore } from '../../../src/lib/store/sqlite/mint.ts';
import { nonceId, SqliteNonces } from '../../../src/lib/store/sqlite/nonces.ts';
import { OPERATOR_SECRETS, SqliteOperatorStore } from '../../../src/lib/store/sqlite/operator.ts';
import { Documents, OWNER_SECRETS, Records } from '../../../src/lib/store/sqlite/records.ts';
import { hasPlainSecret, openFields, Sealer, sealFields, type SealPurpose } from '../../../src/lib/store/seal.ts';
import type { OperatorRecord } from '../../../src/lib/statechain/ports.ts';
import { tempDir } from '../../helpers.ts';
import { refusal, refusalAsync } from '../../setup/refusal.ts';
import { churnNonce } from './processes.ts';

const tmp = tempDir('offchain-sealed-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.path, `s-${++n}`, 'regtest');
const open = (dir: string) => StateDb.open(dir, { create: true })!;

/** The seal as seal.ts's header specifies it, computed here. */
function referenceSeal(secret: Uint8Array, purpose: string, label: readonly string[], plain: Uint8Array): Buffer {
  const key = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.from('offchain/seal/v2'), Buffer.from(info), 32));
  const aad = Buffer.from(JSON.stringify(['offchain/seal/v2', purpose, ...label]));
  const iv = createHmac('sha256', key('iv')).update(`${aad.length}:`).update(aad).update(plain).digest().subarray(0, 12);
  const c = createCipheriv('aes-256-gcm', key('enc'), iv);
  c.setAAD(aad);
  return Buffer.concat([Buffer.of(0x02), iv, c.update(plain), c.final(), c.getAuthTag()]);
}

/** Everything of the state directory's database on disk. */
const onDisk = (dir: string) => Buffer.concat([STATE_DB_FILE, `${STATE_DB_FILE}-wal`].map((f) => join(dir, f)).filter(existsSync).map((f) => readFileSync(f)));

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const purpose = fc.constantFrom<SealPurpose>('nonce', 'state', 'share');
const label = fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 4 });

describe('one derivation, one layout', () => {
  it('seals to the bytes of the documented construction, and opens back, in this process and in another (a seal made again from the key)', () => {
    fc.assert(
      fc.property(bytes(32, 32), purpose, label, bytes(0, 300), (secret, p, l, plain) => {
        const sealer = Sealer.fromSecret(secret);
        const sealed = sealer.seal(p, l, plain);
        expect(toHex(sealed)).toBe(toHex(referenceSeal(secret, p, l, plain)));
        expect(sealed.length).toBe(plain.length + 29);
        expect(toHex(sealer.open(p, l, sealed)!)).toBe(toHex(plain));
        expect(toHex(Sealer.fromSecret(secret).open(p, l, sealed)!)).toBe(toHex(plain));
      }),
      { numRuns: 300 },
    );
  });

  it('the same secret under the same label seals to the same bytes (a replayed step writes the same row); two secrets under one label never share an iv', () => {
    fc.assert(
      fc.property(bytes(32, 32), label, bytes(1, 64), bytes(1, 64), (secret, l, a, b) => {
        fc.pre(toHex(a) !== toHex(b));
        const s = Sealer.fromSecret(secret);
        expect(toHex(s.seal('state', l, a))).toBe(toHex(Sealer.fromSecret(secret).seal('state', l, a)));
        expect(toHex(s.seal('state', l, a).subarray(1, 13))).not.toBe(toHex(s.seal('state', l, b).subarray(1, 13)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('label binding: a sealed secret opens only where it was sealed', () => {
  const variants = (l: string[]): string[][] => [
    [...l, ''],
    l.slice(0, -1),
    [...l.slice(0, -1), `${l.at(-1)}x`],
    [l.join(',')],
    [...l].reverse(),
  ];

  it('moved to another label (row, field, context, state), or sealed for another purpose: does not open — also from the memory of the process that sealed it', () => {
    fc.assert(
      fc.property(bytes(32, 32), purpose, label, bytes(1, 100), (secret, p, l, plain) => {
        const sealer = Sealer.fromSecret(secret);
        const sealed = sealer.seal(p, l, plain);
        for (const other of variants(l).filter((v) => JSON.stringify(v) !== JSON.stringify(l))) {
          expect(sealer.open(p, other, sealed)).toBeUndefined();
          expect(Sealer.fromSecret(secret).open(p, other, sealed)).toBeUndefined();
        }
        for (const q of (['nonce', 'state', 'share'] as const).filter((x) => x !== p)) expect(sealer.open(q, l, sealed)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('altered at any byte, cut short, or of another version: does not open', () => {
    fc.assert(
      fc.property(bytes(32, 32), purpose, label, bytes(0, 80), fc.nat(), fc.integer({ min: 1, max: 255 }), (secret, p, l, plain, at, flip) => {
        const sealer = Sealer.fromSecret(secret);
        const sealed = sealer.seal(p, l, plain);
        const altered = Buffer.from(sealed);
        altered[at % altered.length]! ^= flip;
        expect(sealer.open(p, l, altered)).toBeUndefined();
        expect(Sealer.fromSecret(secret).open(p, l, altered)).toBeUndefined();
        expect(sealer.open(p, l, sealed.subarray(0, sealed.length - 1 - (at % sealed.length)))).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('sealed under another key (another signer, a random process key) does not open', () => {
    fc.assert(
      fc.property(bytes(32, 32), bytes(32, 32), purpose, label, bytes(1, 80), (a, b, p, l, plain) => {
        fc.pre(toHex(a) !== toHex(b));
        expect(Sealer.fromSecret(b).open(p, l, Sealer.fromSecret(a).seal(p, l, plain))).toBeUndefined();
      }),
      { numRuns: 100 },
    );
    const r1 = Sealer.random();
    expect(Sealer.random().open('share', ['c'], r1.seal('share', ['c'], Buffer.from('ab', 'hex')))).toBeUndefined();
  });
});

describe('secret fields of a record (the mint\'s states, the operator\'s share)', () => {
  const hex = (k: number) => randomBytes(k).toString('hex');
  const record = (i: number) => ({
    contract_id: hex(32),
    status: 'open',
    latest: { state: i, cumulative_sat: i * 100, txid: hex(32), hex: hex(200 + i), receipt: { next: i + 1 } },
    gateway: { in_flight: null, latest: { txid: hex(32), state: i + 1, hex: hex(180), extra: i } },
  });
  const key = new Uint8Array(randomBytes(32));
  const sealer = Sealer.fromSecret(key);

  it('each sealed in its place (key order kept) to the documented bytes, labelled by record id, field path and its bound fields; opened back to the same JSON text', () => {
    for (let i = 0; i < 40; i++) {
      const r = record(i);
      const text = JSON.stringify(r);
      const sealed = sealFields(r, r.contract_id, MINT_SECRETS, sealer) as unknown as { latest: Record<string, unknown>; gateway: { latest: Record<string, unknown> } };
      expect(JSON.stringify(r)).toBe(text); // the record itself untouched
      expect(Object.keys(sealed.latest)).toEqual(['state', 'cumulative_sat', 'txid', 'hex_sealed', 'receipt']);
      expect(Object.keys(sealed.gateway.latest)).toEqual(['txid', 'state', 'hex_sealed', 'extra']);
      expect(sealed.latest['hex_sealed']).toBe(toHex(referenceSeal(key, 'state', [r.contract_id, 'latest.hex', String(i), r.latest.txid], Buffer.from(r.latest.hex, 'hex'))));
      expect(sealed.gateway.latest['hex_sealed']).toBe(toHex(referenceSeal(key, 'state', [r.contract_id, 'gateway.latest.hex', String(i + 1), r.gateway.latest.txid], Buffer.from(r.gateway.latest.hex, 'hex'))));
      expect(hasPlainSecret(r, MINT_SECRETS)).toBe(true);
      expect(hasPlainSecret(sealed, MINT_SECRETS)).toBe(false);
      expect(JSON.stringify(openFields(sealed, r.contract_id, MINT_SECRETS, Sealer.fromSecret(key), 'here'))).toBe(text);
    }
  });

  it('moved to another record, state number or txid, the gateway\'s seal in the latest\'s place, altered or not hex: E_STATE_CORRUPT (exit 3) naming the field — also from the memory of the sealing process', () => {
    const r = record(3);
    const s = sealFields(r, r.contract_id, MINT_SECRETS, sealer);
    const sealedHex = s.latest as unknown as { hex_sealed: string };
    const moved = [
      [hex(32), s],
      [r.contract_id, { ...s, latest: { ...s.latest, state: 4 } }],
      [r.contract_id, { ...s, latest: { ...s.latest, txid: hex(32) } }],
      [r.contract_id, { ...s, latest: { ...s.latest, hex_sealed: (s.gateway.latest as unknown as { hex_sealed: string }).hex_sealed } }],
      [r.contract_id, { ...s, latest: { ...s.latest, hex_sealed: sealedHex.hex_sealed.slice(0, -2) + (sealedHex.hex_sealed.endsWith('00') ? '01' : '00') } }],
      [r.contract_id, { ...s, latest: { ...s.latest, hex_sealed: sealedHex.hex_sealed.toUpperCase() } }],
      [r.contract_id, { ...s, latest: { ...s.latest, hex_sealed: 'zz' } }],
    ] as const;
    for (const [id, m] of moved) {
      for (const who of [sealer, Sealer.fromSecret(key)]) {
        const e = refusal(() => openFields(m, id, MINT_SECRETS, who, 'the store'), 'E_STATE_CORRUPT', 3);
        expect(e.message).toMatch(/^the sealed (latest|gateway\.latest)\.hex of [0-9a-f]{64} in the store does not open under this key/);
      }
    }
  });

  it('a parsed record\'s __proto__ key stays an own key, in its place', () => {
    const text = '{"contract_id":"c","latest":{"state":1,"__proto__":{"x":1},"txid":"t","hex":"00ff"}}';
    const sealed = sealFields(JSON.parse(text) as { latest: Record<string, unknown> }, 'c', MINT_SECRETS, sealer);
    expect(Object.keys(sealed.latest)).toEqual(['state', '__proto__', 'txid', 'hex_sealed']);
    expect(Object.getPrototypeOf(sealed.latest)).toBe(Object.prototype);
    expect(JSON.stringify(openFields(sealed, 'c', MINT_SECRETS, sealer, 'here'))).toBe(text);
  });
});

describe('a random iv (a row whose sealed bytes are its fingerprint)', () => {
  it('the same layout and label binding, fresh bytes at every seal, opened as any other', () => {
    fc.assert(
      fc.property(bytes(32, 32), label, bytes(1, 64), (secret, l, plain) => {
        const s = Sealer.fromSecret(secret);
        const a = s.seal('share', l, plain, 'random');
        const b = s.seal('share', l, plain, 'random');
        expect(toHex(a)).not.toBe(toHex(b));
        expect(a[0]).toBe(0x02);
        for (const x of [a, b]) {
          expect(toHex(Sealer.fromSecret(secret).open('share', l, x)!)).toBe(toHex(plain));
          expect(Sealer.fromSecret(secret).open('share', [...l, 'moved'], x)).toBeUndefined();
        }
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * The mint's states sealed by the scheme before seal.ts (HKDF salt `offchain/credit/v1/state-seal`,
 * iv ‖ AES-256-GCM ‖ tag, its associated data the contract, path, state and txid as text),
 * computed here, are read once (mint-records.ts `resealed`) and written in this form.
 */
describe('the older form of the mint\'s states, read once', () => {
  function oldSeal(secret: Uint8Array, contractId: string, path: string, state: unknown, txid: unknown, hex: string): string {
    const k = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.from('offchain/credit/v1/state-seal'), Buffer.from(info), 32));
    const aad = Buffer.from(`offchain/credit/v1/sealed-state\n${contractId}\n${path}\n${String(state)}\n${String(txid)}`);
    const plain = Buffer.from(hex, 'hex');
    const iv = createHmac('sha256', k('iv')).update(Buffer.concat([Buffer.from(`${aad.length}:`), aad, plain])).digest().subarray(0, 12);
    const c = createCipheriv('aes-256-gcm', k('enc'), iv);
    c.setAAD(aad);
    return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]).toString('hex');
  }
  const hex = (k: number) => randomBytes(k).toString('hex');
  const mintKey = new Uint8Array(randomBytes(32));
  const sealer = Sealer.fromSecret(mintKey);
  /** A record as an older mint stored it: its states in the old form, in place of `hex`, key order kept. */
  function older(i: number) {
    const id = hex(32);
    const latest = { state: i, cumulative_sat: i * 10, txid: hex(32), hex: hex(235 + i) };
    const gateway = { latest: { txid: hex(32), state: i + 1, hex: hex(200), extra: i } };
    const stored = {
      contract_id: id,
      latest: { state: latest.state, cumulative_sat: latest.cumulative_sat, txid: latest.txid, hex_sealed: oldSeal(mintKey, id, 'latest', latest.state, latest.txid, latest.hex) },
      gateway: { latest: { txid: gateway.latest.txid, state: gateway.latest.state, hex_sealed: oldSeal(mintKey, id, 'gateway.latest', gateway.latest.state, gateway.latest.txid, gateway.latest.hex), extra: i } },
    };
    return { id, text: JSON.stringify(stored), clear: JSON.stringify({ contract_id: id, latest, gateway }) };
  }

  it('opened with the mint\'s key and sealed in this form: the same record, key order kept; a record in the clear sealed too; one already in this form left as it is', () => {
    for (let i = 0; i < 30; i++) {
      const r = older(i);
      const now = resealed(r.text, mintKey, sealer, 'here');
      expect(JSON.stringify(mintRecordOf(now, Sealer.fromSecret(mintKey), 'here'))).toBe(r.clear);
      const parsed = JSON.parse(r.clear) as { latest: { state: number; txid: string; hex: string } };
      expect((JSON.parse(now) as { latest: { hex_sealed: string } }).latest.hex_sealed).toBe(toHex(referenceSeal(mintKey, 'state', [r.id, 'latest.hex', String(parsed.latest.state), parsed.latest.txid], Buffer.from(parsed.latest.hex, 'hex'))));
      expect(resealed(r.clear, mintKey, sealer, 'here')).toBe(now);
      expect(resealed(now, mintKey, sealer, 'here')).toBe(now);
    }
  });

  it('a parsed record\'s __proto__ key stays an own key, in its place, through the reseal', () => {
    const id = 'c'.repeat(64);
    const h = hex(100);
    const text = `{"contract_id":"${id}","latest":{"state":1,"__proto__":{"x":1},"txid":"t","hex_sealed":"${oldSeal(mintKey, id, 'latest', 1, 't', h)}"}}`;
    const opened = mintRecordOf<{ contract_id: string; latest: Record<string, unknown> }>(resealed(text, mintKey, sealer, 'here'), Sealer.fromSecret(mintKey), 'here');
    expect(Object.keys(opened.latest)).toEqual(['state', '__proto__', 'txid', 'hex']);
    expect(JSON.stringify(opened)).toBe(`{"contract_id":"${id}","latest":{"state":1,"__proto__":{"x":1},"txid":"t","hex":"${h}"}}`);
  });

  it('an older seal moved to another state number, txid or contract, altered, upper-cased, or another mint\'s: E_STATE_CORRUPT (exit 3)', () => {
    const r = older(3);
    const o = JSON.parse(r.text) as { contract_id: string; latest: Record<string, unknown>; gateway: { latest: Record<string, unknown> } };
    const s = o.latest['hex_sealed'] as string;
    const moved = [
      { ...o, latest: { ...o.latest, state: 4 } },
      { ...o, latest: { ...o.latest, txid: hex(32) } },
      { ...o, contract_id: hex(32) },
      { ...o, latest: { ...o.latest, hex_sealed: o.gateway.latest['hex_sealed'] } },
      { ...o, latest: { ...o.latest, hex_sealed: s.slice(0, -2) + (s.endsWith('00') ? '01' : '00') } },
      { ...o, latest: { ...o.latest, hex_sealed: s.toUpperCase() } },
    ];
    for (const m of moved) refusal(() => resealed(JSON.stringify(m), mintKey, sealer, 'here'), 'E_STATE_CORRUPT', 3);
    refusal(() => resealed(r.text, new Uint8Array(randomBytes(32)), sealer, 'here'), 'E_STATE_CORRUPT', 3);
  });
});

describe('in state.sqlite', () => {
  it('a secret nonce: its row holds the seal under the signer\'s key labelled by its id and context; moved to another row or context it does not open (E_STATE_CORRUPT, nothing signed, the nonce unused)', async () => {
    const dir = fresh();
    const key = new Uint8Array(randomBytes(32));
    const db = open(dir);
    const nonces = new SqliteNonces(db, Sealer.fromSecret(key));
    const a = await nonces.issue('ctx/a', () => churnNonce(1));
    const b = await nonces.issue('ctx/b', () => churnNonce(2));
    const sealedOf = (pub: Uint8Array) => db.sql.prepare<[string], { sealed: Buffer }>('SELECT sealed FROM nonces WHERE id = ?').get(nonceId(pub))!.sealed;
    expect(toHex(sealedOf(a.pubnonce))).toBe(toHex(referenceSeal(key, 'nonce', [nonceId(a.pubnonce), 'ctx/a'], churnNonce(1).secnonce)));
    expect(onDisk(dir).includes(Buffer.from(churnNonce(1).secnonce))).toBe(false);
    // A's secret put in B's row: B does not open.
    db.sql.prepare('UPDATE nonces SET sealed = ? WHERE id = ?').run(sealedOf(a.pubnonce), nonceId(b.pubnonce));
    await refusalAsync(nonces.take(b.pubnonce, 'ctx/b'), 'E_STATE_CORRUPT', 3);
    expect(await nonces.status(b.pubnonce)).toBe('unused');
    // A's row said to be for another context: a take for that context does not open it.
    db.sql.prepare("UPDATE nonces SET context = 'ctx/evil' WHERE id = ?").run(nonceId(a.pubnonce));
    await refusalAsync(nonces.take(a.pubnonce, 'ctx/evil'), 'E_STATE_CORRUPT', 3);
    expect(await nonces.status(a.pubnonce)).toBe('unused');
    db.close();
  });

  it('the mint\'s signed states: sealed in the row (no hex in it), a view reads them sealed, a view cannot store one in the clear (E_STATE_UNSEALED), a row moved to another contract does not open', async () => {
    const dir = fresh();
    const key = new Uint8Array(randomBytes(32));
    const db = open(dir);
    type R = { contract_id: string; latest: { state: number; txid: string; hex: string } | null };
    const mint = new SqliteMintStore<R>(db, { sealer: Sealer.fromSecret(key) });
    const secretHex = randomBytes(150).toString('hex');
    const r: R = { contract_id: 'a'.repeat(64), latest: { state: 2, txid: 'f'.repeat(64), hex: secretHex } };
    await mint.put(r);
    await mint.commit();
    const raw = db.sql.prepare<[string], { record: string }>('SELECT record FROM contracts WHERE contract_id = ?').get(r.contract_id)!.record;
    expect(JSON.parse(raw)).toEqual({ contract_id: r.contract_id, latest: { state: 2, txid: r.latest!.txid, hex_sealed: toHex(referenceSeal(key, 'state', [r.contract_id, 'latest.hex', '2', r.latest!.txid], Buffer.from(secretHex, 'hex'))) } });
    expect(await mint.get(r.contract_id)).toEqual(r);
    const view = new SqliteMintStore<R>(db, {});
    expect(await view.get(r.contract_id)).toEqual(JSON.parse(raw));
    await refusalAsync(view.put({ ...r, contract_id: 'b'.repeat(64) }), 'E_STATE_UNSEALED', 2);
    view.abandon();
    // The row copied under another contract id (its own id changed to match): does not open.
    db.sql.prepare('INSERT INTO contracts (contract_id, record) VALUES (?, ?)').run('c'.repeat(64), raw.replace(r.contract_id, 'c'.repeat(64)));
    await refusalAsync(mint.get('c'.repeat(64)), 'E_STATE_CORRUPT', 3);
    mint.abandon();
    db.close();
    expect(onDisk(dir).includes(Buffer.from(secretHex))).toBe(false);
    expect(onDisk(dir).includes(Buffer.from(secretHex, 'hex'))).toBe(false);
  });

  it('the operator\'s share (and x1): sealed in its record, a listing and a view read no share, a record moved to another coin does not open, and a record with a share is never stored without its key', async () => {
    const dir = fresh();
    const key = new Uint8Array(randomBytes(32));
    const share = randomBytes(32).toString('hex');
    const x1 = randomBytes(32).toString('hex');
    const coin = '1'.repeat(32);
    const record = { coin_id: coin, network: 'regtest', share_secret: share, statement: { status: 'active', outpoint: null, amount_sat: null, count: 0 }, funding_tx: null, x1, seen_nonces: [], done: [] } as unknown as OperatorRecord;
    const store = new SqliteOperatorStore(async (create) => StateDb.open(dir, { create }), Sealer.fromSecret(key), dir);
    await store.offer('a'.repeat(64), () => ({ record, message: { type: 'offer' } }));
    const db = open(dir);
    const raw = db.sql.prepare<[], { id: string; body: string }>("SELECT id, body FROM records WHERE kind = 'statechain-operator'").all();
    expect(raw.map((r) => r.id)).toEqual([coin]);
    const body = JSON.parse(raw[0]!.body) as Record<string, unknown>;
    expect(body).not.toHaveProperty('share_secret');
    expect(body['share_secret_sealed']).toBe(toHex(referenceSeal(key, 'share', [coin, 'share_secret'], Buffer.from(share, 'hex'))));
    expect(body['x1_sealed']).toBe(toHex(referenceSeal(key, 'share', [coin, 'x1'], Buffer.from(x1, 'hex'))));
    // The step sees the share; the listing and a view do not.
    expect(await store.step(coin, (r) => ({ record: r, message: r.share_secret }))).toBe(share);
    expect(JSON.stringify(await store.coins())).not.toContain(share);
    const view = new Records<Record<string, unknown>>(db, 'statechain-operator', { fields: OPERATOR_SECRETS });
    expect(view.get(coin)).toEqual(body);
    await refusalAsync(db.step(() => view.put('2'.repeat(32), record as unknown as Record<string, unknown>)), 'E_INTERNAL', 1);
    // Moved to another coin's row: the step on that coin does not open it.
    db.sql.prepare("INSERT INTO records (kind, id, body) VALUES ('statechain-operator', ?, ?)").run('3'.repeat(32), raw[0]!.body.replace(coin, '3'.repeat(32)));
    await refusalAsync(store.step('3'.repeat(32), (r) => ({ record: r, message: r.share_secret })), 'E_STATE_CORRUPT', 3);
    db.close();
    expect(onDisk(dir).includes(Buffer.from(share))).toBe(false);
    expect(onDisk(dir).includes(Buffer.from(share, 'hex'))).toBe(false);
  });

  it("the statechain owner's share: sealed under the owner's key to the documented bytes; another key is E_KEY_MISMATCH (exit 4), an altered seal E_STATE_CORRUPT (exit 3); the share in no file", async () => {
    const dir = fresh();
    const [owner, other] = [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))];
    const share = randomBytes(32).toString('hex');
    const name = `coin-${'4'.repeat(32)}`;
    const docs = (key: Uint8Array) => new Documents(async (create) => StateDb.open(dir, { create }), 'statechain', dir, { fields: OWNER_SECRETS, sealer: async () => Sealer.fromSecret(key) });
    await docs(owner).write(name, { coin_id: '4'.repeat(32), share_secret: share, share: '02'.padEnd(66, '0') });
    const db = open(dir);
    const stored = () => JSON.parse(db.sql.prepare<[string], { body: string }>("SELECT body FROM records WHERE kind = 'statechain' AND id = ?").get(name)!.body) as Record<string, string>;
    expect(stored()).not.toHaveProperty('share_secret');
    expect(stored()['share_secret_sealed']).toBe(toHex(referenceSeal(owner, 'share', [name, 'share_secret'], Buffer.from(share, 'hex'))));
    expect(await docs(owner).read(name)).toMatchObject({ share_secret: share });
    // Another key (the wrong --key-env): refused as such, on a read and on an update, nothing written.
    await refusalAsync(docs(other).read(name), 'E_KEY_MISMATCH', 4);
    await refusalAsync(docs(other).update(name, (d) => d), 'E_KEY_MISMATCH', 4);
    // The seal altered (a database writer): the owner's own key says it does not open.
    const body = stored();
    const sealed = body['share_secret_sealed']!;
    db.sql.prepare("UPDATE records SET body = ? WHERE kind = 'statechain' AND id = ?").run(JSON.stringify({ ...body, share_secret_sealed: sealed.slice(0, -2) + (sealed.endsWith('00') ? '01' : '00') }), name);
    await refusalAsync(docs(owner).read(name), 'E_STATE_CORRUPT', 3);
    db.close();
    expect(onDisk(dir).includes(Buffer.from(share))).toBe(false);
    expect(onDisk(dir).includes(Buffer.from(share, 'hex'))).toBe(false);
  });
});
