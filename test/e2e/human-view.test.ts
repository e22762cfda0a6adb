/**
 * The view for people (issue 41): `invoice decode --human` shows the facts of the JSON
 * message — checked here against the message itself and CLN's own decode of the fixture,
 * not the styling — and `--no-human` (as a pipe, the default off a terminal) prints the
 * JSON message unchanged. `credit list --human` and `device receipt --human` are checked
 * on a real toll in device-toll.test.ts; that a terminal gets the view by default is
 * test/lib/cli/human.test.ts's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.ts';
import { run } from './cli.ts';
import { runInProcess } from './in-process.ts';

const CLN = JSON.parse(readFileSync(join(ROOT, 'fixtures/invoice/cln/regtest.bolt11.json'), 'utf8'));
const DECODE = ['invoice', 'decode', '--in', 'fixtures/invoice/regtest.bolt11', '--now', '1795488100'];

describe('invoice decode for a person', () => {
  it('--human: the amount in sat and msat, payee, payment hash and secret, description, expiry, every payer check; --no-human is the piped JSON byte for byte', async () => {
    const piped = run(DECODE);
    expect(piped.status, piped.stderr).toBe(0);
    const human = run([...DECODE, '--human']);
    expect(human.status, human.stderr).toBe(0);
    const m = JSON.parse(piped.stdout);
    expect(human.stdout.startsWith('BOLT 11 invoice (regtest): signature valid, expires 2026-12-01T02:40:13Z\n')).toBe(true);
    const line = (label: string) => human.stdout.split('\n').find((l) => l.trimStart().startsWith(`${label} `))?.trim().replace(/ {2,}/g, '  ');
    expect(line('amount_msat')).toBe(`amount_msat  ${(CLN.amount_msat / 1000).toLocaleString('en-US')} sat (${CLN.amount_msat} msat)`);
    expect(line('payee')).toBe(`payee  ${CLN.payee}`);
    expect(line('payment_hash')).toBe(`payment_hash  ${CLN.payment_hash}`);
    expect(line('payment_secret')).toBe(`payment_secret  ${CLN.payment_secret}`);
    expect(line('description')).toBe(`description  ${CLN.description}`);
    expect(line('min_final_cltv_expiry_delta')).toBe(`min_final_cltv_expiry_delta  ${CLN.min_final_cltv_expiry}`);
    expect(line('created_at')).toBe(`created_at  ${new Date(CLN.created_at * 1000).toISOString().replace('.000Z', 'Z')} (${CLN.created_at})`);
    for (const check of m.payer_checks) expect(human.stdout).toContain(`  - ${check}\n`);
    const noHuman = await runInProcess([...DECODE, '--no-human']);
    expect(noHuman.stdout).toBe(piped.stdout);
  });

  it('a BOLT 12 offer: its amount, description and issuer', async () => {
    const r = await runInProcess(['invoice', 'decode', '--network', 'mainnet', '--now', '1795488100', '--in', 'fixtures/invoice/spec.offer', '--human']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^BOLT 12 offer \(mainnet\): signature valid\n/);
    expect(r.stdout).toMatch(/offer_amount +10 sat \(10000 msat\)\n/);
    expect(r.stdout).toMatch(/offer_description +Test vectors\n/);
    expect(r.stdout).toMatch(/offer_issuer_id +02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619\n/);
  });
});
