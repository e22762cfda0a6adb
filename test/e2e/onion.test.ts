/**
 * onion-build / onion-peel / onion-error / onion-blind through the built CLI: one
 * narrated flow per part — a 5-hop route round-trips (each onion/peeled fed to the next
 * peel; each payload as given, only the last final; the shared secrets only in the new
 * 0600 file), and an error created at hop 3 comes back through hops 2..0 attributed to
 * hop 3 with its fields and every hop's hold time — then the refusal table (each code
 * once: its exit code, one stderr line, empty stdout, no file written) and a sample of
 * corrupted packets, each refused with the code test code expects for where it was
 * changed. The protocol's cases (routes of 1–20 hops, every corrupted byte, the BOLT 4
 * vectors on every backend) are library tests: test/lib/onion/, test/vectors/onion-*.
 *
 * Of the refusal table and the corrupted packets, the first of each command × exit code
 * (and of each expected code) runs spawned; the rest run the same built bundle's `main` in
 * this process (in-process.ts; ~10 ms instead of a ~0.15 CPU-s node process), checked the
 * same way.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { pipeline, run } from './cli.ts';
import { runAsync } from './process.ts';
import { runInProcess, spawnedFirst } from './in-process.ts';
import type { Run } from './cli.ts';
import { fromHex, toHex } from '../../src/lib/bytes.ts';
import { buildOnion } from '../../src/lib/onion/sphinx.ts';
import { nobleBackend } from '../../src/lib/musig/engine/backend-noble.ts';
import { decodeCompressed } from '../independent/secp256k1.ts';

const dir = mkdtempSync(join(tmpdir(), 'offchain-onion-'));
const AD = '42'.repeat(32);

function keyFile(name: string, sk: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, toHex(sk) + '\n', { mode: 0o600 });
  return p;
}

/** A refusal as the CLI must print it: its exit code, nothing on stdout, one stderr line naming the code. */
function expectRefused(r: { status: number; stdout: string; stderr: string }, code: string, exit: number): void {
  expect({ status: r.status, stdout: r.stdout }, r.stderr).toEqual({ status: exit, stdout: '' });
  expect(r.stderr).toMatch(new RegExp(`^offchain: error ${code}: [^\\n]+\\n?$`));
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

describe('a payment onion and its error, hop by hop through the CLI', () => {
  const HOPS = 5;
  const five = { ...route, hops: route.hops.slice(0, HOPS) };
  const fiveFile = join(dir, 'five.json');
  writeFileSync(fiveFile, JSON.stringify(five));
  const secrets = join(dir, 'secrets.json');
  /** What each hop received (the file its onion-error create/wrap reads). */
  const received: string[] = [];

  it('builds a 5-hop onion (secrets only in the new 0600 file), each hop peels its own payload, only the last is final', async () => {
    const [built, again] = await Promise.all([
      runAsync(['onion-build', '--in', fiveFile, '--secrets-out', secrets], { env: { OFFCHAIN_TEST_SEED: 'onion-e2e' } }),
      runAsync(['onion-build', '--in', fiveFile], { env: { OFFCHAIN_TEST_SEED: 'onion-e2e' } }),
    ]);
    expect(built.status, built.stderr).toBe(0);
    const packet = JSON.parse(built.stdout);
    expect(packet).toMatchObject({ type: 'onion/packet', associated_data: AD });
    expect(packet.packet).toHaveLength(2 * 1366);
    // The same seed gives the same packet.
    expect(JSON.parse(again.stdout).packet).toBe(packet.packet);
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(secrets, 'utf8'));
    expect(stored.shared_secrets).toHaveLength(HOPS);
    for (const s of stored.shared_secrets) expect(built.stdout + built.stderr).not.toContain(s);
    let input = built.stdout;
    for (let i = 0; i < HOPS; i++) {
      const at = join(dir, `received-${i}.json`);
      writeFileSync(at, input);
      received.push(at);
      const r = await runAsync(['onion-peel', '--key-file', keyFiles[i]!], { input });
      expect(r.status, r.stderr).toBe(0);
      const peeled = JSON.parse(r.stdout);
      expect(peeled.payload).toEqual(payloads[i]);
      expect(peeled.final).toBe(i === HOPS - 1);
      expect('packet' in peeled).toBe(i !== HOPS - 1);
      input = r.stdout;
    }
  });

  it('hop 3 fails the HTLC: its error, wrapped by hops 2..0 with their hold times, is attributed to hop 3 with its fields; an altered or unwrapped error is refused', async () => {
    expect(received).toHaveLength(HOPS); // the flow above ran
    const create = ['onion-error', 'create', '--onion', received[3]!, '--key-file', keyFiles[3]!, '--failure', 'fee_insufficient', '--field', 'htlc_msat=1020', '--field', 'channel_update=', '--hold-time', '7'];
    const wrap = (i: number, hold: string) => ({ args: ['onion-error', 'wrap', '--onion', received[i]!, '--key-file', keyFiles[i]!, '--hold-time', hold] });
    const unwrap = { args: ['onion-error', 'unwrap', '--secrets', secrets] };
    const toHop1 = await pipeline([{ args: create }, wrap(2, '5')], '');
    for (const r of toHop1) expect(r.status, r.stderr).toBe(0);
    const atHop1 = JSON.parse(toHop1.at(-1)!.stdout);
    const altered = { ...atHop1, error_packet: (atHop1.error_packet[0] === 'f' ? '0' : 'f') + atHop1.error_packet.slice(1) };
    const [honest, tampered, unwrapped] = await Promise.all([
      pipeline([wrap(1, '0'), wrap(0, '12'), unwrap], toHop1.at(-1)!.stdout),
      // Hop 1 flips a byte of the error hop 2 returned before wrapping it.
      pipeline([wrap(1, '0'), wrap(0, '12'), unwrap], JSON.stringify(altered)),
      // The error as hop 3 created it, without hops 2..0's layers: no hop's HMAC verifies.
      pipeline([{ args: create }, unwrap], ''),
    ]);
    for (const r of honest) expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(honest.at(-1)!.stdout);
    expect(out.hop).toBe(3);
    expect(out.node_id).toBe(five.hops[3]!.node_id);
    expect(out.failure).toEqual({ name: 'fee_insufficient', code: 0x100c, fields: { htlc_msat: '1020', channel_update: '' } });
    expect(out.attribution).toEqual({
      hold_times: [12, 0, 5, 7].map((hold_time, hop) => ({ hop, node_id: five.hops[hop]!.node_id, hold_time, hold_time_ms: hold_time * 100 })),
    });
    expectRefused(tampered.at(-1)!, 'E_ONION_ERROR_UNATTRIBUTED', 4);
    expect(tampered.at(-1)!.stderr).toContain(`breaks at hop 2 (${five.hops[2]!.node_id}): the error was altered between that hop and hop 1`);
    expectRefused(unwrapped.at(-1)!, 'E_ONION_ERROR_UNATTRIBUTED', 4);
  });
});

describe('refusals: each code once, with its exit code, one stderr line, nothing on stdout and nothing written', () => {
  const fixturePacket = JSON.parse(readFileSync('fixtures/onion/packet.json', 'utf8'));
  const hop1 = keyFile('fx-hop1.key', Uint8Array.from({ length: 32 }, () => 0x41));
  const withPacket = (hex: string) => JSON.stringify({ ...fixturePacket, packet: hex });
  const p: string = fixturePacket.packet;

  it('the refusal table', async () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, JSON.stringify({ ...route, hops: route.hops.map((h) => ({ ...h, payload: { ...h.payload, payment_metadata: 'ab'.repeat(30) } })) }));
    const bigSecrets = join(dir, 'big-secrets.json');
    const exists = join(dir, 'exists.json');
    writeFileSync(exists, 'keep');
    const loose = join(dir, 'loose.json');
    writeFileSync(loose, readFileSync('fixtures/onion/secrets.json'), { mode: 0o644 });
    chmodSync(loose, 0o644);
    const tlvSk = Uint8Array.from({ length: 32 }, () => 0x41);
    const { packet: badTlv } = buildOnion(nobleBackend, new Uint8Array(32).fill(7), [{ pubkey: secp256k1.getPublicKey(tlvSk, true), payload: Uint8Array.from([2, 3, 0, 0x3a, 0x98]) }], new Uint8Array(32).fill(0x42));
    const blindedRoute = JSON.parse(readFileSync('fixtures/onion/blinded-route.json', 'utf8'));
    const { blinded_payload: _p, ...noPayload } = blindedRoute;
    const { blinded_path: _q, ...noPath } = blindedRoute;
    const table: { name: string; args: string[]; input?: string; code: string; exit: number }[] = [
      { name: 'a route that does not fit in 1300 bytes', args: ['onion-build', '--in', big, '--secrets-out', bigSecrets], code: 'E_ONION_ROUTE_TOO_LARGE', exit: 4 },
      { name: 'an existing secrets file', args: ['onion-build', '--in', routeFile, '--secrets-out', exists], code: 'E_FILE_EXISTS', exit: 4 },
      { name: 'a route plan without --payment-hash', args: ['onion-build', '--in', 'fixtures/route/seed-plan.json'], code: 'E_USAGE', exit: 2 },
      { name: 'a blinded_path without blinded_payload', args: ['onion-build'], input: JSON.stringify(noPayload), code: 'E_USAGE', exit: 2 },
      { name: 'a blinded_payload without blinded_path', args: ['onion-build'], input: JSON.stringify(noPath), code: 'E_USAGE', exit: 2 },
      { name: 'onion version 1', args: ['onion-peel', '--key-file', hop1], input: withPacket('01' + p.slice(2)), code: 'E_ONION_VERSION', exit: 3 },
      { name: 'an ephemeral key that is not a point', args: ['onion-peel', '--key-file', hop1], input: withPacket('0004' + p.slice(4)), code: 'E_ONION_EPHEMERAL_KEY', exit: 3 },
      { name: 'a corrupted HMAC', args: ['onion-peel', '--key-file', hop1], input: withPacket(p.slice(0, -2) + (p.endsWith('00') ? '01' : '00')), code: 'E_ONION_HMAC', exit: 4 },
      { name: 'another node\'s key', args: ['onion-peel', '--key-file', keyFiles[0]!], input: JSON.stringify(fixturePacket), code: 'E_ONION_HMAC', exit: 4 },
      { name: 'a malformed TLV payload behind a valid HMAC', args: ['onion-peel', '--key-file', hop1], input: withPacket(toHex(badTlv)), code: 'E_ONION_TLV', exit: 3 },
      { name: 'a secrets file readable by others', args: ['onion-error', 'unwrap', '--in', 'fixtures/onion/error.json', '--secrets', loose], code: 'E_SECRET_FILE_PERMISSIONS', exit: 4 },
      { name: 'an unknown failure name', args: ['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', hop1, '--failure', 'no_such_failure'], code: 'E_ONION_FAILURE_NAME', exit: 2 }, // a flag's value: usage (was 4, issue 28),
      { name: 'a negative --hold-time', args: ['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', hop1, '--failure', 'temporary_node_failure', '--hold-time', '-1'], code: 'E_USAGE', exit: 2 },
    ];
    const runs = await spawnedFirst(table.map((t) => ({ args: t.args, input: t.input ?? '', key: `${t.args.slice(0, 2).filter((x) => !x.startsWith('-')).join(' ')} ${t.exit}` })));
    expect(runs.filter((r) => r.how === 'spawned')).toHaveLength(6); // build 4 and 2, peel 3 and 4, error unwrap 4, error create 2
    table.forEach((t, k) => {
      try {
        expectRefused(runs[k]!, t.code, t.exit);
      } catch (e) {
        throw new Error(`${t.name}: ${(e as Error).message}`);
      }
    });
    // Nothing written: no secrets file for the refused route, the existing one untouched.
    expect(existsSync(bigSecrets)).toBe(false);
    expect(readFileSync(exists, 'utf8')).toBe('keep');
  });

  it('a sample of corrupted and truncated packets: each refused with the code test code expects for where it was changed', async () => {
    // The check order onion-peel documents: the message schema (a packet of 1366 bytes), version, ephemeral key
    // (a point? test-code secp256k1), HMAC. Every byte and many more cases: test/lib/onion/onion.test.ts.
    const expected = (hex: string): [string, number] =>
      hex.length !== 2 * 1366 ? ['E_MALFORMED_MESSAGE', 3]
        : !hex.startsWith('00') ? ['E_ONION_VERSION', 3]
          : decodeCompressed(fromHex(hex.slice(2, 68))) === null ? ['E_ONION_EPHEMERAL_KEY', 3]
            : ['E_ONION_HMAC', 4];
    const flip = (i: number, x: number) => p.slice(0, 2 * i) + (parseInt(p.slice(2 * i, 2 * i + 2), 16) ^ x).toString(16).padStart(2, '0') + p.slice(2 * i + 2);
    const samples = [
      ...fc.sample(fc.tuple(fc.nat(1365), fc.integer({ min: 1, max: 255 })).map(([i, x]) => flip(i, x)), { numRuns: 4, seed: 23 }),
      flip(0, 1), flip(5, 0x40), flip(1, 1), p.slice(0, 2000), p + '00',
    ];
    const runs = await spawnedFirst(samples.map((hex) => ({ args: ['onion-peel', '--key-file', hop1], input: withPacket(hex), key: expected(hex)[0] })));
    samples.forEach((hex, k) => expectRefused(runs[k]!, ...expected(hex)));
    expect(new Set(samples.map((h) => expected(h)[0])).size).toBe(4);
  });

  it('--field values are never wrapped or rounded: negative, non-integer, too wide → exit 2 (E_ONION_FAILURE_VALUE), never E_INTERNAL', async () => {
    const k = keyFile('fx2.key', new Uint8Array(32).fill(0x41));
    const create = (...fields: string[]) => runInProcess(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', k, ...fields.flatMap((x) => ['--field', x])]);
    // CLI samples of the rule (its exit code as a flag's value: 2); 1.5, 2^64 and non-decimal values are refused by
    // test/lib/onion/failure.test.ts 'integer fields are never wrapped or rounded…' with the rest of the cases.
    for (const fields of [
      ['htlc_msat=-1', 'channel_update='],
    ]) expectRefused(run(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', k, '--failure', 'fee_insufficient', ...fields.flatMap((x) => ['--field', x])]), 'E_ONION_FAILURE_VALUE', 2);
    // (in this process: the spawned sample above is the same command and exit code)
    expectRefused(await runInProcess(['onion-error', 'create', '--onion', 'fixtures/onion/packet.json', '--key-file', k, '--failure', 'channel_disabled', '--field', 'disabled_flags=65536', '--field', 'channel_update=']), 'E_ONION_FAILURE_VALUE', 2);
    expectRefused(await create('htlc_msat=1'), 'E_USAGE', 2); // no --failure: oclif's own usage error
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

  it('packets a sender crafted wrongly: blinded data but no path_key anywhere (exit 2), a path_key both in the payload and given, or given to a hop with no blinded data (BOLT 4: fail, exit 4)', () => {
    for (const k of ['hop2', 'hop3']) chmodSync(`fixtures/onion/${k}.key`, 0o600);
    const path = JSON.parse(readFileSync('fixtures/onion/blinded-path.json', 'utf8'));
    const hop3 = JSON.parse(readFileSync('fixtures/onion/blind.json', 'utf8')).hops[1].node_id as string;
    const build = (hops: unknown[]) => run(['onion-build'], { input: JSON.stringify({ type: 'onion/route', version: 1, network: 'regtest', associated_data: AD, hops }), env: { OFFCHAIN_TEST_SEED: 'crafted' } });
    // Addressed to the recipient's real id, with its encrypted data but no current_path_key.
    const noKey = build([{ node_id: hop3, payload: { encrypted_recipient_data: path.hops[1].encrypted_recipient_data } }]);
    expect(noKey.status, noKey.stderr).toBe(0);
    const r1 = run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key'], { input: noKey.stdout });
    expect({ status: r1.status, stdout: r1.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r1.stderr).toContain('E_ONION_PATH_KEY_MISSING');
    // Addressed to the blinded id the intro's next_path_key unlocks, and also carrying current_path_key.
    const intro = run(['onion-peel', '--key-file', 'fixtures/onion/hop2.key'], { input: readFileSync('fixtures/onion/blinded-packet.json', 'utf8') });
    const next = JSON.parse(intro.stdout).next_path_key as string;
    const both = build([{ node_id: path.hops[1].blinded_node_id, payload: { encrypted_recipient_data: path.hops[1].encrypted_recipient_data, current_path_key: next } }]);
    expect(both.status, both.stderr).toBe(0);
    expectRefused(run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key', '--path-key', next], { input: both.stdout }), 'E_ONION_PATH_KEY_UNEXPECTED', 4);
    // Addressed to that blinded id with no encrypted_recipient_data: a path_key for a hop that is not blinded (BOLT 4 fails it too).
    const plain = build([{ node_id: path.hops[1].blinded_node_id, payload: { amt_to_forward: '1000', outgoing_cltv_value: 100 } }]);
    expect(plain.status, plain.stderr).toBe(0);
    expectRefused(run(['onion-peel', '--key-file', 'fixtures/onion/hop3.key', '--path-key', next], { input: plain.stdout }), 'E_ONION_PATH_KEY_UNEXPECTED', 4);
  });
});
