/**
 * `invoice decode` through the built CLI: each of its four messages once (Core
 * Lightning's regtest invoice, offer, request and BOLT 12 invoice, expected values from
 * CLN's own decode where it printed them), the string from an argument, --in and stdin,
 * an invoice decode message read back (decoded afresh from its string), a decoded
 * invoice piped into `route plan --invoice -` and `htlc create --invoice -`,
 * and the refusal table — each code once: its exit code, one stderr line, nothing on
 * stdout (the first case of each command and exit code spawned, the others run by the same
 * built bundle in this process: in-process.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, loadVector } from '../helpers.ts';
import { pipeline, type Run } from './cli.ts';
import { runAsync } from './process.ts';
import { spawnedFirst } from './in-process.ts';

const fixture = (f: string) => readFileSync(join(ROOT, 'fixtures/invoice', f), 'utf8').trim();
const CLN11 = JSON.parse(fixture('cln/regtest.bolt11.json'));
const CLN12 = JSON.parse(fixture('cln/regtest.bolt12.json'));
const NOW = String(CLN11.created_at + 60);
const refused = (r: Run, code: string, status: number) =>
  expect({ status: r.status, stdout: r.stdout, lines: r.stderr.trimEnd().split('\n').length, code: /^offchain: error (E_[A-Z0-9_]+): /.exec(r.stderr)?.[1] }, r.stderr).toEqual({ status, stdout: '', lines: 1, code });
const OFFERS = loadVector<{ description: string; bolt12: string }[]>('bolts/bolt12/offers-test.json');
const SEED_REQUEST = JSON.parse(readFileSync(join(ROOT, 'fixtures/route/seed-request.json'), 'utf8'));
const ALICE = readFileSync(join(ROOT, 'fixtures/keys/alice.pub'), 'utf8').trim();
const BOB = readFileSync(join(ROOT, 'fixtures/keys/bob.pub'), 'utf8').trim();

describe('invoice decode (built CLI)', () => {
  it('each message kind once; the string from an argument, --in or standard input gives the same message', async () => {
    const [arg, file, stdin, offer, request, bolt12, again] = await Promise.all([
      runAsync(['invoice', 'decode', '--now', NOW, fixture('regtest.bolt11')]),
      runAsync(['invoice', 'decode', '--now', NOW, '--in', 'fixtures/invoice/regtest.bolt11']),
      runAsync(['invoice', 'decode', '--now', NOW], { input: fixture('regtest.bolt11') + '\n' }),
      runAsync(['invoice', 'decode', '--now', NOW, '--in', 'fixtures/invoice/regtest.offer']),
      runAsync(['invoice', 'decode', '--now', NOW, '--in', 'fixtures/invoice/regtest.invreq']),
      runAsync(['invoice', 'decode', '--now', String(CLN12.invoice_created_at), '--in', 'fixtures/invoice/regtest.bolt12']),
      runAsync(['invoice', 'decode', '--now', NOW, '--in', 'fixtures/invoice/offer.json']),
    ]);
    // A message given back is decoded afresh from its string: the same message (the fixture was made at 1795488100).
    expect(again!.stdout).toBe(readFileSync(join(ROOT, 'fixtures/invoice/offer.json'), 'utf8').replace('"now": 1795488100', `"now": ${NOW}`));
    for (const r of [arg, file, stdin, offer, request, bolt12]) expect(r!.status, r!.stderr).toBe(0);
    expect(file!.stdout).toBe(arg!.stdout);
    expect(stdin!.stdout).toBe(arg!.stdout);
    const m = JSON.parse(arg!.stdout);
    expect(m).toMatchObject({
      type: 'invoice/bolt11',
      network: 'regtest',
      payee: CLN11.payee,
      amount_msat: String(CLN11.amount_msat),
      payment_hash: CLN11.payment_hash,
      payment_secret: CLN11.payment_secret,
      min_final_cltv_expiry_delta: CLN11.min_final_cltv_expiry,
      route_hints: CLN11.routes,
      valid: true,
      expired: false,
    });
    expect(JSON.parse(offer!.stdout)).toMatchObject({ type: 'invoice/offer', network: 'regtest', offer_description: 'regtest offer', offer_amount: '20000000' });
    expect(JSON.parse(request!.stdout)).toMatchObject({ type: 'invoice/request', network: 'regtest', offer_description: 'withdraw', invreq_amount: '5000' });
    expect(JSON.parse(bolt12!.stdout)).toMatchObject({
      type: 'invoice/bolt12',
      invoice_payment_hash: CLN12.invoice_payment_hash,
      invoice_node_id: CLN12.invoice_node_id,
      invoice_amount: String(CLN12.invoice_amount_msat),
      signature: CLN12.signature,
      valid: true,
    });
  });

  it('a decoded invoice drives route plan and htlc create through pipes', async () => {
    const [, plan] = await pipeline(
      [
        { args: ['invoice', 'decode', '--now', NOW] },
        { args: ['route', 'plan', '--invoice', '-', '--payee', CLN11.payee, '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', NOW] },
      ],
      fixture('regtest.bolt11'),
    );
    expect(plan!.status, plan!.stderr).toBe(0);
    const p = JSON.parse(plan!.stdout);
    const hint = CLN11.routes[0][0];
    expect(p.final_amount_msat).toBe(String(CLN11.amount_msat));
    expect(p.final_cltv_expiry).toBe(1000 + CLN11.min_final_cltv_expiry);
    expect(p.hops.map((h: { node_id: string; short_channel_id: string }) => [h.node_id, h.short_channel_id])).toEqual([[hint.pubkey, '101x1x0'], [CLN11.payee, hint.short_channel_id]]);
    const [, htlc] = await pipeline(
      [
        { args: ['invoice', 'decode', '--now', NOW] },
        { args: ['htlc', 'create', '--kind', 'seed', '--invoice', '-', '--payee', CLN11.payee, '--now', NOW, '--payer', ALICE, '--recipient', BOB, '--locktime', '1100', '--amount', '50000'] },
      ],
      fixture('regtest.bolt11'),
    );
    expect(htlc!.status, htlc!.stderr).toBe(0);
    expect(JSON.parse(htlc!.stdout).payment_hash).toBe(CLN11.payment_hash);
  });

  it('refusals: each code once, with its exit code, one stderr line and nothing on stdout', async () => {
    const inv = fixture('regtest.bolt11');
    const badChecksum = inv.slice(0, -1) + (inv.endsWith('q') ? 'p' : 'q');
    const cases: [string[], { input?: string }?][] = [
      [['invoice', 'decode', badChecksum]],
      [['invoice', 'decode', '--network', 'mainnet', inv]],
      [['invoice', 'decode', 'lnbc1qqqq']],
      [['invoice', 'decode', 'lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q4psqqqqqqqqqqqqqqqqsgqtqyx5vggfcsll4wu246hz02kp85x4katwsk9639we5n5yngc3yhqkm35jnjw4len8vrnqnf5ejh0mzj9n3vz2px97evektfm2l6wqccp3y7372']],
      [['invoice', 'decode', OFFERS.find((c) => c.description === 'Contains type >= 80')!.bolt12]],
      [['invoice', 'decode', 'LnO1PqPs7sJqPgTyZm3qV4UxZmTsD3JjQeR9Wd3h']],
      [['htlc', 'create', '--kind', 'seed', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', CLN11.payee, '--now', String(CLN11.created_at + CLN11.expiry + 1), '--payer', ALICE, '--recipient', BOB, '--locktime', '1100']],
      [['route', 'plan', '--invoice', 'fixtures/invoice/regtest.offer', '--payee', CLN11.payee, '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', NOW]],
      [['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', CLN11.payee, '--in', 'fixtures/route/seed-request.json', '--tip-height', '1000', '--now', NOW]],
      [['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', CLN11.payee, '--tip-height', '1000', '--now', NOW], { input: JSON.stringify({ ...SEED_REQUEST, final_amount_msat: undefined, final_cltv_expiry: undefined }) }],
      [['invoice', 'decode', 'x', '--in', 'fixtures/invoice/regtest.bolt11']],
      // The payer names the payee: another node's key (here Bob's) refuses CLN's invoice, and --invoice without --payee is a usage error.
      [['htlc', 'create', '--kind', 'seed', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', BOB, '--now', NOW, '--payer', ALICE, '--recipient', BOB, '--locktime', '1100']],
      [['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', BOB, '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', NOW]],
      [['htlc', 'create', '--kind', 'seed', '--invoice', 'fixtures/invoice/regtest.bolt11', '--now', NOW, '--payer', ALICE, '--recipient', BOB, '--locktime', '1100']],
      // The plan locks CLN's c (10) + the hint's delta (6) = 16 blocks (the sender's own channel adds none): --max-cltv 15 refuses it.
      [['route', 'plan', '--invoice', 'fixtures/invoice/regtest.bolt11', '--payee', CLN11.payee, '--max-cltv', '15', '--in', 'fixtures/invoice/route/partial-request.json', '--tip-height', '1000', '--now', NOW]],
      [['invoice', 'decode', `lnbcrt1${'q'.repeat(7100)}`]],
      [['invoice', 'decode', `lno1${'q'.repeat(110_000)}`]],
      // --payee means nothing without --invoice: refused rather than silently ignored.
      [['route', 'plan', '--in', 'fixtures/route/seed-request.json', '--payee', CLN11.payee]],
    ];
    const expected: [string, number][] = [
      ['E_INVOICE_CHECKSUM', 3],
      ['E_NETWORK_MISMATCH', 4],
      ['E_INVOICE_BECH32', 3],
      ['E_INVOICE_UNKNOWN_FEATURE', 4],
      ['E_BOLT12_FORBIDDEN_FIELD', 4],
      ['E_BOLT12_STRING', 3],
      ['E_INVOICE_EXPIRED', 4],
      ['E_INVOICE_KIND', 4],
      ['E_INVOICE_MISMATCH', 4],
      ['E_INVOICE_PAYEE', 4],
      ['E_USAGE', 2],
      ['E_INVOICE_PAYEE', 4],
      ['E_INVOICE_PAYEE', 4],
      ['E_USAGE', 2],
      ['E_INVOICE_CLTV', 4],
      ['E_INVOICE_TOO_LONG', 3],
      ['E_BOLT12_TOO_LONG', 3],
      ['E_USAGE', 2],
    ];
    // The first case of each command and exit code crosses the process boundary (bin/run.js, the exit
    // code a shell sees), the others run the same built bundle's main in this process (in-process.ts).
    const runs = await spawnedFirst(cases.map(([args, o], i) => ({ args, input: o?.input, key: `${args.slice(0, 2).join(' ')} exit ${expected[i]![1]}` })));
    expect(runs.filter((r) => r.how === 'spawned')).toHaveLength(7); // invoice decode (exit 2, 3, 4), htlc create (2, 4), route plan (2, 4)
    runs.forEach((r, i) => refused(r!, ...expected[i]!));
  });
});
