/**
 * onion-build / onion-peel through the built CLI: a 20-hop route round-trips (build,
 * then peel at every hop with that hop's key, piping each onion/peeled into the next
 * peel; each payload as given, only the last final); the shared secrets go only to the
 * new 0600 file; every refusal has its code, exit code and empty stdout; and random
 * corruptions of a packet never crash onion-peel (exit 3 or 4 only).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { pipeline, run } from './cli.ts';
import { runAsync } from './process.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { buildOnion } from '../../src/lib/onion/sphinx.ts';
import { nobleBackend } from '../../src/lib/musig/engine/backend-noble.ts';

const dir = mkdtempSync(join(tmpdir(), 'offchain-onion-'));
const AD = '42'.repeat(32);

function keyFile(name: string, sk: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, toHex(sk) + '\n', { mode: 0o600 });
  return p;
}

function expectRefused(r: { status: number; stdout: string; stderr: string }, code: string, exit: number): void {
  expect(r.stderr).toContain(code);
  expect(r.status).toBe(exit);
  expect(r.stdout).toBe('');
}

const sks = Array.from({ length: 20 }, (_, i) => Uint8Array.from({ length: 32 }, (_, j) => (j === 31 ? i + 1 : 0x10 + i)));
const keyFiles = sks.map((sk, i) => keyFile(`hop${i}.key`, sk));
const payloads = sks.map((_, i) =>
  i === 19
    ? { amt_to_forward: '1000', outgoing_cltv_value: 800, payment_data: { payment_secret: '77'.repeat(32), total_msat: '1000' } }
    : { amt_to_forward: String(1000 + (19 - i) * 10), outgoing_cltv_value: 800 + (19 - i) * 40, short_channel_id: `${700000 + i}x${i}x1` },
);
const route = {
  type: 'onion/route', version: 1, network: 'regtest', associated_data: AD,
  hops: sks.map((sk, i) => ({ node_id: toHex(secp256k1.getPublicKey(sk, true)), payload: payloads[i] })),
};
const routeFile = join(dir, 'route.json');
writeFileSync(routeFile, JSON.stringify(route));

describe('onion-build / onion-peel', () => {
  it('a 20-hop route round-trips: each hop peels its own payload, only the last is final', async () => {
    const secrets = join(dir, 'secrets.json');
    const built = run(['onion-build', '--in', routeFile, '--secrets-out', secrets], { env: { OFFCHAIN_TEST_SEED: 'onion-e2e' } });
    expect(built.status, built.stderr).toBe(0);
    const packet = JSON.parse(built.stdout);
    expect(packet.type).toBe('onion/packet');
    expect(packet.packet.length).toBe(2 * 1366);
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(secrets, 'utf8'));
    expect(stored.shared_secrets).toHaveLength(20);
    for (const s of stored.shared_secrets) expect(built.stdout).not.toContain(s);
    let input = built.stdout;
    for (let i = 0; i < 20; i++) {
      // Asynchronously: 20 processes in one test must not block the test worker (test/setup/breathe.ts).
      const r = await runAsync(['onion-peel', '--key-file', keyFiles[i]!], { input });
      expect(r.status, r.stderr).toBe(0);
      const peeled = JSON.parse(r.stdout);
      expect(peeled.payload).toEqual(payloads[i]);
      expect(peeled.final).toBe(i === 19);
      expect('packet' in peeled).toBe(i !== 19);
      input = r.stdout;
    }
    // the same seed gives the same packet
    const again = run(['onion-build', '--in', routeFile], { env: { OFFCHAIN_TEST_SEED: 'onion-e2e' } });
    expect(JSON.parse(again.stdout).packet).toBe(packet.packet);
  });

  it('refuses a route that does not fit in 1300 bytes, writing no secrets file', () => {
    const big = { ...route, hops: route.hops.map((h) => ({ ...h, payload: { ...h.payload, payment_metadata: 'ab'.repeat(30) } })) };
    const f = join(dir, 'big.json');
    writeFileSync(f, JSON.stringify(big));
    const secrets = join(dir, 'big-secrets.json');
    expectRefused(run(['onion-build', '--in', f, '--secrets-out', secrets]), 'E_ONION_ROUTE_TOO_LARGE', 4);
    expect(existsSync(secrets)).toBe(false);
  });

  it('refuses to overwrite an existing secrets file', () => {
    const secrets = join(dir, 'exists.json');
    writeFileSync(secrets, 'keep');
    expectRefused(run(['onion-build', '--in', routeFile, '--secrets-out', secrets]), 'E_FILE_EXISTS', 4);
    expect(readFileSync(secrets, 'utf8')).toBe('keep');
  });

  const fixturePacket = JSON.parse(readFileSync('fixtures/onion/packet.json', 'utf8'));
  const hop1 = keyFile('fx-hop1.key', Uint8Array.from({ length: 32 }, () => 0x41));
  const withPacket = (hex: string) => JSON.stringify({ ...fixturePacket, packet: hex });

  it('refuses a bad version (E_ONION_VERSION, 3), a bad ephemeral key (E_ONION_EPHEMERAL_KEY, 3), a bad HMAC (E_ONION_HMAC, 4), the wrong node key (E_ONION_HMAC, 4)', () => {
    const p: string = fixturePacket.packet;
    expectRefused(run(['onion-peel', '--key-file', hop1], { input: withPacket('01' + p.slice(2)) }), 'E_ONION_VERSION', 3);
    expectRefused(run(['onion-peel', '--key-file', hop1], { input: withPacket('0004' + p.slice(4)) }), 'E_ONION_EPHEMERAL_KEY', 3);
    expectRefused(run(['onion-peel', '--key-file', hop1], { input: withPacket(p.slice(0, -2) + (p.endsWith('00') ? '01' : '00')) }), 'E_ONION_HMAC', 4);
    expectRefused(run(['onion-peel', '--key-file', keyFiles[0]!], { input: JSON.stringify(fixturePacket) }), 'E_ONION_HMAC', 4);
  });

  it('refuses a malformed TLV payload behind a valid HMAC (E_ONION_TLV, 3)', () => {
    const sk = Uint8Array.from({ length: 32 }, () => 0x41);
    const { packet } = buildOnion(nobleBackend, new Uint8Array(32).fill(7), [{ pubkey: secp256k1.getPublicKey(sk, true), payload: Uint8Array.from([2, 3, 0, 0x3a, 0x98]) }], new Uint8Array(32).fill(0x42));
    expectRefused(run(['onion-peel', '--key-file', hop1], { input: withPacket(toHex(packet)) }), 'E_ONION_TLV', 3);
  });

  it('fuzz: corrupted packets and messages never crash onion-peel (exit 3 or 4, stdout empty)', () => {
    const p: string = fixturePacket.packet;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.nat(1365), fc.integer({ min: 1, max: 255 })).map(([i, x]) => withPacket(p.slice(0, 2 * i) + (parseInt(p.slice(2 * i, 2 * i + 2), 16) ^ x).toString(16).padStart(2, '0') + p.slice(2 * i + 2))),
          fc.nat(2731).map((n) => withPacket(p.slice(0, n))),
          fc.string({ maxLength: 40 }),
        ),
        (input) => {
          const r = run(['onion-peel', '--key-file', hop1], { input });
          expect([3, 4]).toContain(r.status);
          expect(r.stdout).toBe('');
          expect(r.stderr).toMatch(/E_[A-Z_]+/);
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('onion-error create / wrap / unwrap', () => {
  it('an error created at hop 3 of 6 and wrapped back through hops 2..0 is attributed to hop 3 with its fields', () => {
    const six = { ...route, hops: route.hops.slice(0, 6) };
    const f = join(dir, 'six.json');
    writeFileSync(f, JSON.stringify(six));
    const secrets = join(dir, 'six-secrets.json');
    const built = run(['onion-build', '--in', f, '--secrets-out', secrets]);
    expect(built.status, built.stderr).toBe(0);
    const received: string[] = [];
    let input = built.stdout;
    for (let i = 0; i < 4; i++) {
      const p = join(dir, `six-at-${i}.json`);
      writeFileSync(p, input);
      received.push(p);
      input = run(['onion-peel', '--key-file', keyFiles[i]!], { input }).stdout;
    }
    const created = run(['onion-error', 'create', '--onion', received[3]!, '--key-file', keyFiles[3]!, '--failure', 'fee_insufficient', '--field', 'htlc_msat=1020', '--field', 'channel_update=']);
    expect(created.status, created.stderr).toBe(0);
    let err = created.stdout;
    for (let i = 2; i >= 0; i--) {
      const w = run(['onion-error', 'wrap', '--onion', received[i]!, '--key-file', keyFiles[i]!], { input: err });
      expect(w.status, w.stderr).toBe(0);
      err = w.stdout;
    }
    const u = run(['onion-error', 'unwrap', '--secrets', secrets], { input: err });
    expect(u.status, u.stderr).toBe(0);
    const out = JSON.parse(u.stdout);
    expect(out.hop).toBe(3);
    expect(out.node_id).toBe(route.hops[3]!.node_id);
    expect(out.failure).toEqual({ name: 'fee_insufficient', code: 0x100c, fields: { htlc_msat: '1020', channel_update: '' } });
    // without the wrapping layers of hops 2..0 no hop's HMAC verifies: refused, not misattributed
    const short = run(['onion-error', 'unwrap', '--secrets', secrets], { input: created.stdout });
    expectRefused(short, 'E_ONION_ERROR_UNATTRIBUTED', 4);
  });

  it('attribution data through pipes: hop 3 creates with its hold time, hops 2..0 add theirs, the sender reads each; a hop that alters the error is located', async () => {
    const four = { ...route, hops: route.hops.slice(0, 4) };
    const f = join(dir, 'four.json');
    writeFileSync(f, JSON.stringify(four));
    const secrets = join(dir, 'four-secrets.json');
    const built = run(['onion-build', '--in', f, '--secrets-out', secrets]);
    expect(built.status, built.stderr).toBe(0);
    const received: string[] = [];
    let input = built.stdout;
    for (let i = 0; i < 4; i++) {
      const p = join(dir, `four-at-${i}.json`);
      writeFileSync(p, input);
      received.push(p);
      input = run(['onion-peel', '--key-file', keyFiles[i]!], { input }).stdout;
    }
    const create = ['onion-error', 'create', '--onion', received[3]!, '--key-file', keyFiles[3]!, '--failure', 'temporary_node_failure', '--hold-time', '7'];
    const wrap = (i: number, hold: string) => ({ args: ['onion-error', 'wrap', '--onion', received[i]!, '--key-file', keyFiles[i]!, '--hold-time', hold] });
    const unwrap = { args: ['onion-error', 'unwrap', '--secrets', secrets] };
    const fromHop2 = await pipeline([{ args: create }, wrap(2, '5')], '');
    for (const r of fromHop2) expect(r.status, r.stderr).toBe(0);
    const runs = await pipeline([wrap(1, '0'), wrap(0, '12'), unwrap], fromHop2.at(-1)!.stdout);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(runs.at(-1)!.stdout);
    expect(out.hop).toBe(3);
    expect(out.attribution).toEqual({
      hold_times: [12, 0, 5, 7].map((hold_time, hop) => ({ hop, node_id: four.hops[hop]!.node_id, hold_time, hold_time_ms: hold_time * 100 })),
    });
    // Hop 1 flips a byte of the error hop 2 returned before wrapping it: no hop's error HMAC
    // verifies, and the attribution data says it broke between hop 2 and hop 1.
    const atHop1 = JSON.parse(fromHop2.at(-1)!.stdout);
    atHop1.error_packet = (atHop1.error_packet[0] === 'f' ? '0' : 'f') + atHop1.error_packet.slice(1);
    const altered = await pipeline([wrap(1, '0'), wrap(0, '12'), unwrap], JSON.stringify(atHop1));
    expectRefused(altered.at(-1)!, 'E_ONION_ERROR_UNATTRIBUTED', 4);
    expect(altered.at(-1)!.stderr).toContain(`breaks at hop 2 (${four.hops[2]!.node_id}): the error was altered between that hop and hop 1`);
    // --hold-time out of range is a usage error, nothing printed.
    const bad = run([...create.slice(0, -1), '-1']);
    expect({ status: bad.status, stdout: bad.stdout }).toEqual({ status: 2, stdout: '' });
  });

  it('refuses a secrets file readable by others and an unknown failure name', () => {
    const loose = join(dir, 'loose.json');
    writeFileSync(loose, readFileSync('fixtures/onion/secrets.json'), { mode: 0o644 });
    expectRefused(run(['onion-error', 'unwrap', '--in', 'fixtures/onion/error.json', '--secrets', loose]), 'E_SECRETS_FILE_PERMISSIONS', 4);
    expectRefused(run(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', keyFile('fx1.key', new Uint8Array(32).fill(0x41)), '--failure', 'no_such_failure']), 'E_ONION_FAILURE_NAME', 4);
  });

  it('--field values are never wrapped or rounded: negative, non-integer, too wide → exit 2 (E_ONION_FAILURE_VALUE), never E_INTERNAL', () => {
    const k = keyFile('fx2.key', new Uint8Array(32).fill(0x41));
    const create = (...fields: string[]) => run(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', k, ...fields.flatMap((x) => ['--field', x])]);
    for (const fields of [
      ['htlc_msat=-1', 'channel_update='], ['htlc_msat=1.5', 'channel_update='], ['htlc_msat=18446744073709551616', 'channel_update='], ['htlc_msat=abc', 'channel_update='],
    ]) expectRefused(run(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', k, '--failure', 'fee_insufficient', ...fields.flatMap((x) => ['--field', x])]), 'E_ONION_FAILURE_VALUE', 2);
    expectRefused(run(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', k, '--failure', 'channel_disabled', '--field', 'disabled_flags=65536', '--field', 'channel_update=']), 'E_ONION_FAILURE_VALUE', 2);
    expectRefused(create('htlc_msat=1'), 'E_USAGE', 2); // no --failure: oclif's own usage error
  });
});

describe('onion-build from route plan', () => {
  it('takes fixtures/route/seed-plan.json as is: every hop peels the payload the plan gave it, the payee gets payment_data', () => {
    const plan = JSON.parse(readFileSync('fixtures/route/seed-plan.json', 'utf8'));
    const secret = '24'.repeat(32);
    const built = run(['onion-build', '--in', 'fixtures/route/seed-plan.json', '--payment-hash', AD, '--payment-secret', secret]);
    expect(built.status, built.stderr).toBe(0);
    // the plan's node ids are the keys 0x22.., 0x33.., 0x44.., 0x55.. (checked here, not assumed)
    const keys = [0x22, 0x33, 0x44, 0x55].map((b) => new Uint8Array(32).fill(b));
    keys.forEach((k, i) => expect(toHex(secp256k1.getPublicKey(k, true))).toBe(plan.hops[i].node_id));
    let input = built.stdout;
    keys.forEach((k, i) => {
      const r = run(['onion-peel', '--key-file', keyFile(`plan${i}.key`, k)], { input });
      expect(r.status, r.stderr).toBe(0);
      const peeled = JSON.parse(r.stdout);
      const last = i === keys.length - 1;
      expect(peeled.payload).toEqual(last ? { ...plan.hops[i].payload, payment_data: { payment_secret: secret, total_msat: plan.final_amount_msat } } : plan.hops[i].payload);
      expect(peeled.final).toBe(last);
      input = r.stdout;
    });
  });

  it('refuses a route/plan without --payment-hash (E_USAGE, exit 2)', () => {
    expectRefused(run(['onion-build', '--in', 'fixtures/route/seed-plan.json']), 'E_USAGE', 2);
  });
});

describe('route blinding through the CLI', () => {
  const rb = JSON.parse(readFileSync('test/vectors/bolts/bolt04/route-blinding-test.json', 'utf8'));

  it('onion-blind reproduces route-blinding-test.json: each part of the concatenated route from its session key, byte for byte', async () => {
    const { decodeRecipientData } = await import('../../src/lib/onion/recipient-data.ts');
    const g = rb.generate.hops as { session_key?: string; node_id: string; encoded_tlvs: string; path_key: string; blinded_node_id: string; encrypted_data: string }[];
    for (const [from, to] of [[0, 2], [2, 4]] as const) {
      const part = g.slice(from, to);
      const keyPath = keyFile(`rb-${from}.key`, fromHex(part[0]!.session_key!));
      // Each hop's recipient data as JSON, decoded from the vector's encoded bytes (re-encoding is checked in recipient-data.test.ts).
      const blind = { type: 'onion/blind', version: 1, network: 'regtest', hops: part.map((h) => ({ node_id: h.node_id, recipient_data: decodeRecipientData(fromHex(h.encoded_tlvs)) })) };
      const r = run(['onion-blind', '--session-key-file', keyPath], { input: JSON.stringify(blind) });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ type: 'onion/blinded-path', introduction_node_id: part[0]!.node_id, path_key: part[0]!.path_key });
      expect(out.hops).toEqual(part.map((h) => ({ blinded_node_id: h.blinded_node_id, encrypted_recipient_data: h.encrypted_data })));
      expect(r.stdout).not.toContain(part[0]!.session_key!);
    }
  });

  it('recipient blinds, payer builds, every hop peels through pipes: the introduction node from its payload, the next with --path-key; the recipient reads its path_id', async () => {
    const blindedPath = await pipeline([{ args: ['onion-blind', '--in', 'fixtures/onion/blind.json'], env: { OFFCHAIN_TEST_SEED: 'blind-e2e' } }], '');
    expect(blindedPath[0]!.status, blindedPath[0]!.stderr).toBe(0);
    const path = JSON.parse(blindedPath[0]!.stdout);
    const route = { ...JSON.parse(readFileSync('fixtures/onion/blinded-route.json', 'utf8')), blinded_path: path };
    // A clean checkout does not keep file modes; key files must be 0600.
    for (const k of ['hop1', 'hop2', 'hop3']) chmodSync(`fixtures/onion/${k}.key`, 0o600);
    const toHop1 = await pipeline([{ args: ['onion-build'] }, { args: ['onion-peel', '--key-file', 'fixtures/onion/hop1.key'] }], JSON.stringify(route));
    for (const r of toHop1) expect(r.status, r.stderr).toBe(0);
    const hop1 = toHop1.at(-1)!;
    const [intro] = await pipeline([{ args: ['onion-peel', '--key-file', 'fixtures/onion/hop2.key'] }], hop1.stdout);
    expect(intro!.status, intro!.stderr).toBe(0);
    const atIntro = JSON.parse(intro!.stdout);
    expect(atIntro.final).toBe(false);
    expect(atIntro.payload.current_path_key).toBe(path.path_key);
    expect(atIntro.recipient_data).toEqual(JSON.parse(readFileSync('fixtures/onion/blind.json', 'utf8')).hops[0].recipient_data);
    // The recipient: blinded, so it needs the path_key the introduction node sends along.
    const last = run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key', '--path-key', atIntro.next_path_key], { input: intro!.stdout });
    expect(last.status, last.stderr).toBe(0);
    const atRecipient = JSON.parse(last.stdout);
    expect(atRecipient).toMatchObject({ final: true, recipient_data: { path_id: 'deadbeef' }, payload: { amt_to_forward: '14000', total_amount_msat: '14000', outgoing_cltv_value: 1400 } });
    expect('next_path_key' in atRecipient).toBe(false);
    // Refusals, nothing printed: a blinded hop peeling without --path-key, or with the wrong one,
    // and a hop in the clear given a --path-key, all fail the HMAC (the key is not the packet's).
    const withoutKey = run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key'], { input: intro!.stdout });
    expectRefused(withoutKey, 'E_ONION_HMAC', 4);
    expect(withoutKey.stderr).toContain('a hop inside a blinded path peels with --path-key');
    expectRefused(run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key', '--path-key', path.path_key], { input: intro!.stdout }), 'E_ONION_HMAC', 4);
    expectRefused(run(['onion-peel', '--key-file', 'fixtures/onion/hop2.key', '--path-key', path.path_key], { input: hop1.stdout }), 'E_ONION_HMAC', 4);
    expectRefused(run(['onion-peel', '--key-file', keyFiles[0]!, '--path-key', path.path_key], { input: readFileSync('fixtures/onion/packet.json', 'utf8') }), 'E_ONION_HMAC', 4);
  });

  it('packets a sender crafted wrongly: blinded data but no path_key anywhere (exit 2), and a path_key both in the payload and given (BOLT 4: fail, exit 4)', () => {
    for (const k of ['hop2', 'hop3']) chmodSync(`fixtures/onion/${k}.key`, 0o600);
    const path = JSON.parse(readFileSync('fixtures/onion/blinded-path.json', 'utf8'));
    const hop3 = JSON.parse(readFileSync('fixtures/onion/blind.json', 'utf8')).hops[1].node_id as string;
    const build = (hops: unknown[]) => run(['onion-build'], { input: JSON.stringify({ type: 'onion/route', version: 1, network: 'regtest', associated_data: AD, hops }), env: { OFFCHAIN_TEST_SEED: 'crafted' } });
    // Addressed to the recipient's real id, with its encrypted data but no current_path_key.
    const noKey = build([{ node_id: hop3, payload: { encrypted_recipient_data: path.hops[1].encrypted_recipient_data } }]);
    expect(noKey.status, noKey.stderr).toBe(0);
    const r1 = run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key'], { input: noKey.stdout });
    expect({ status: r1.status, stdout: r1.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r1.stderr).toContain('E_ONION_PATH_KEY');
    // Addressed to the blinded id the intro's next_path_key unlocks, and also carrying current_path_key.
    const intro = run(['onion-peel', '--key-file', 'fixtures/onion/hop2.key'], { input: readFileSync('fixtures/onion/blinded-packet.json', 'utf8') });
    const next = JSON.parse(intro.stdout).next_path_key as string;
    const both = build([{ node_id: path.hops[1].blinded_node_id, payload: { encrypted_recipient_data: path.hops[1].encrypted_recipient_data, current_path_key: next } }]);
    expect(both.status, both.stderr).toBe(0);
    expectRefused(run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key', '--path-key', next], { input: both.stdout }), 'E_ONION_PATH_KEY', 4);
  });

  it('a blinded_path without blinded_payload, or the other way round, is a usage error', () => {
    const route = JSON.parse(readFileSync('fixtures/onion/blinded-route.json', 'utf8'));
    const { blinded_payload: _, ...noPayload } = route;
    const r1 = run(['onion-build'], { input: JSON.stringify(noPayload) });
    expect({ status: r1.status, stdout: r1.stdout }).toEqual({ status: 2, stdout: '' });
    const { blinded_path: __, ...noPath } = route;
    const r2 = run(['onion-build'], { input: JSON.stringify(noPath) });
    expect({ status: r2.status, stdout: r2.stdout }).toEqual({ status: 2, stdout: '' });
  });
});
