/**
 * `invoice decode` against a real Lightning node (issue 26, BRIEF §3.9): two Core
 * Lightning nodes on a harness bitcoind, a private channel from A to B, then B writes
 * BOLT 11 invoices of every shape it can (amount / any, description / hash only, expiry
 * and cltv, fallback addresses, route hints over the private channel), BOLT 12 offers,
 * A fetches BOLT 12 invoices from them (invoice requests and invoices over onion
 * messages), and B writes a bare invoice request. Every one goes through our decoder
 * (library, and all of them through the built CLI), which must verify its signature and
 * agree field for field with CLN's own `decode`; every signature is also checked by
 * the independent reader (test/independent/invoice.ts).
 * Skipped visibly without $LIGHTNINGD (or without bitcoind).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bech32 } from '@scure/base';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decodeBolt12String, encodeBolt12String } from '../../src/lib/invoice/bolt12.ts';
import { decodeInvoiceText } from '../../src/lib/invoice/messages.ts';
import { bolt11Payee, bolt12SignatureValid } from '../independent/invoice.ts';
import { findBitcoind, startBitcoind, type Bitcoind } from './bitcoind.ts';
import { findLightningd, startLightningd, waitFor, type Lightningd } from './lightningd.ts';
import { assertBuilt, messageOf, offchain } from './offchain-cli.ts';
import { offchainInProcess } from './in-process-cli.ts';

const BITCOIND = findBitcoind();
const LIGHTNINGD = findLightningd();
const RUN = BITCOIND !== undefined && LIGHTNINGD !== undefined;
const TITLE = RUN
  ? `invoice decode agrees with Core Lightning (${LIGHTNINGD})`
  : `invoice decode against Core Lightning — SKIPPED: ${LIGHTNINGD ? 'no bitcoind (BITCOIND)' : 'LIGHTNINGD is unset'}`;

type Made = { what: string; text: string; cln: Record<string, any> };

(RUN ? describe : describe.skip)(TITLE, () => {
  let btc: Bitcoind;
  let a: Lightningd;
  let b: Lightningd;
  const made: Made[] = [];

  beforeAll(async () => {
    assertBuilt();
    btc = await startBitcoind(BITCOIND!);
    await btc.rpc.call('createwallet', ['miner']);
    const wallet = btc.rpc.forWallet('miner');
    const mine = async (n: number) => wallet.call('generatetoaddress', [n, await wallet.call<string>('getnewaddress')]);
    await mine(101);
    [a, b] = await Promise.all([startLightningd(LIGHTNINGD!, btc, 'a'), startLightningd(LIGHTNINGD!, btc, 'b')]);
    const addr = (await a.call<{ p2tr: string }>('newaddr', { addresstype: 'p2tr' })).p2tr;
    await wallet.call('sendtoaddress', [addr, 1]);
    await mine(1);
    await waitFor('A sees its coin', async () => ((await a.call<{ outputs: { status: string }[] }>('listfunds')).outputs.some((o) => o.status === 'confirmed') ? true : undefined));
    await a.call('connect', { id: b.id, host: '127.0.0.1', port: b.port });
    await a.call('fundchannel', { id: b.id, amount: 1_000_000, announce: false });
    await mine(6);
    await waitFor('the channel is normal', async () => {
      const ch = await b.call<{ channels: { state: string }[] }>('listpeerchannels');
      return ch.channels.some((c) => c.state === 'CHANNELD_NORMAL') ? true : undefined;
    });
    const fallbackP2wpkh = await wallet.call<string>('getnewaddress', ['', 'bech32']);
    const fallbackP2tr = await wallet.call<string>('getnewaddress', ['', 'bech32m']);
    const fallbackP2sh = await wallet.call<string>('getnewaddress', ['', 'p2sh-segwit']);

    const bolt11 = async (what: string, params: Record<string, unknown>) => {
      const r = await b.call<{ bolt11: string }>('invoice', { label: `l${made.length}`, ...params });
      made.push({ what, text: r.bolt11, cln: await a.call('decode', { string: r.bolt11 }) });
    };
    await bolt11('amount and description', { amount_msat: 50_000_000, description: 'regtest invoice' });
    await bolt11('any amount', { amount_msat: 'any', description: 'pay what you like' });
    await bolt11('description hash only', { amount_msat: 1_234_567, description: 'a long description hashed', deschashonly: true });
    await bolt11('expiry and cltv', { amount_msat: 1000, description: 'short-lived', expiry: 120, cltv: 40 });
    await bolt11('fallback addresses', { amount_msat: 777_000, description: 'with fallbacks', fallbacks: [fallbackP2wpkh, fallbackP2tr, fallbackP2sh] });
    // CLN hints a private channel once it holds the peer's channel_update for it; named explicitly, it is hinted whatever its
    // computed incoming capacity (0 on a channel this young).
    const scid = await waitFor('the peer\'s channel_update of the private channel', async () => {
      const inc = await b.call<{ incoming: { short_channel_id: string }[] }>('listincoming');
      return inc.incoming[0]?.short_channel_id;
    }, 20_000);
    await bolt11('route hints (private channel)', { amount_msat: 10_000_000, description: 'hinted', exposeprivatechannels: [scid] });
    await bolt11('unicode description, pico amount', { amount_msat: 1, description: 'ナンセンス 1杯' });
    const fromA = await a.call<{ bolt11: string }>('invoice', { label: 'a0', amount_msat: 5000, description: 'from A' });
    made.push({ what: 'from A (no inbound)', text: fromA.bolt11, cln: await b.call('decode', { string: fromA.bolt11 }) });

    const offer = async (what: string, params: Record<string, unknown>) => {
      const r = await b.call<{ bolt12: string }>('offer', params);
      made.push({ what, text: r.bolt12, cln: await a.call('decode', { string: r.bolt12 }) });
      return r.bolt12;
    };
    const o1 = await offer('offer with amount', { amount: '20000sat', description: 'regtest offer' });
    const o2 = await offer('offer any amount, issuer', { amount: 'any', description: 'tips', issuer: 'offchain test' });
    const o3 = await offer('offer with quantity_max and expiry', { amount: '1000msat', description: 'widgets', quantity_max: 5, absolute_expiry: 4_000_000_000 });
    const fetch = async (what: string, params: Record<string, unknown>) => {
      const r = await a.call<{ invoice: string }>('fetchinvoice', params);
      made.push({ what, text: r.invoice, cln: await b.call('decode', { string: r.invoice }) });
    };
    await fetch('BOLT 12 invoice for an amount offer', { offer: o1 });
    await fetch('BOLT 12 invoice, any amount, payer note', { offer: o2, amount_msat: 4321, payer_note: 'thanks' });
    await fetch('BOLT 12 invoice, quantity 3', { offer: o3, quantity: 3 });
    const invreq = await b.call<{ bolt12: string }>('invoicerequest', { amount: '5000msat', description: 'withdraw' });
    made.push({ what: 'bare invoice request', text: invreq.bolt12, cln: await a.call('decode', { string: invreq.bolt12 }) });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await btc?.stop();
  }, 60_000);

  it('makes every variant, and CLN decodes each as valid', () => {
    if (process.env['INVOICE_FIXTURES_DUMP']) for (const m of made) console.log(`FIXTURE ${m.what}\t${m.text}\t${JSON.stringify(m.cln)}`);
    expect(made.map((m) => m.what)).toEqual(VARIANTS);
    for (const m of made) expect(m.cln.valid, m.what).toBe(true);
  });

  it('every BOLT 11 invoice: our decoder verifies its signature and agrees with CLN field for field', () => {
    const bolt11 = made.filter((m) => m.cln.type === 'bolt11 invoice');
    expect(bolt11.length).toBe(8);
    for (const m of bolt11) {
      const ours = decodeInvoiceText(m.text, { network: 'regtest', now: m.cln.created_at }).message;
      expect(ours.type).toBe('invoice/bolt11');
      expect(comparableBolt11(ours), m.what).toEqual(clnBolt11(m.cln));
      expect(bolt11Payee(m.text), `${m.what} (independent recovery)`).toBe(m.cln.payee);
    }
    // The variants exercise what they are named after (CLN's own reading).
    const by = (what: string) => bolt11.find((m) => m.what === what)!.cln;
    expect(by('any amount').amount_msat).toBeUndefined();
    expect(by('description hash only').description_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(by('expiry and cltv')).toMatchObject({ expiry: 120, min_final_cltv_expiry: 40 });
    expect(by('fallback addresses').fallbacks.map((f: { type: string }) => f.type)).toEqual(['P2WPKH', 'P2TR', 'P2SH']);
    expect(by('route hints (private channel)').routes?.[0]?.[0]?.pubkey).toBe(a.id);
  });

  it('every BOLT 12 offer, invoice request and invoice: signatures verified, fields agree with CLN', () => {
    const bolt12 = made.filter((m) => m.cln.type !== 'bolt11 invoice');
    expect(bolt12.map((m) => m.cln.type)).toEqual(['bolt12 offer', 'bolt12 offer', 'bolt12 offer', 'bolt12 invoice', 'bolt12 invoice', 'bolt12 invoice', 'bolt12 invoice_request']);
    for (const m of bolt12) {
      const ours = decodeInvoiceText(m.text, { network: 'regtest', now: Math.floor(Date.now() / 1000) }).message;
      expect(ours.type, m.what).toBe({ 'bolt12 offer': 'invoice/offer', 'bolt12 invoice': 'invoice/bolt12', 'bolt12 invoice_request': 'invoice/request' }[m.cln.type as string]);
      expect(comparableBolt12(ours), m.what).toEqual(clnBolt12(m.cln));
      if (m.cln.type !== 'bolt12 offer') expect(bolt12SignatureValid(m.text), `${m.what} (independent BIP-340)`).toBe(true);
    }
  });

  it('the built CLI prints the same messages for all of them (the first BOLT 11 and BOLT 12 as two processes at once, the rest in the test process), and a signed one with one bit of its signature flipped is refused or names another payee', async () => {
    const now = String(Math.floor(Date.now() / 1000));
    const args = ['invoice', 'decode', '--network', 'regtest', '--now', now];
    // Two processes at once (a BOLT 11 invoice, a BOLT 12 offer); the others through the same bundle's `main` in this process.
    const sampled = [made.findIndex((m) => m.cln.type === 'bolt11 invoice'), made.findIndex((m) => m.cln.type !== 'bolt11 invoice')];
    expect(sampled.every((i) => i >= 0)).toBe(true);
    const spawned = await Promise.all(sampled.map((i) => offchain(args, { input: made[i]!.text + '\n' })));
    const runs = [];
    for (const [i, m] of made.entries()) runs.push(sampled.includes(i) ? spawned[sampled.indexOf(i)]! : await offchainInProcess(args, { input: m.text + '\n' }));
    runs.forEach((r, i) => expect(messageOf(r), made[i]!.what).toEqual(decodeInvoiceText(made[i]!.text, { network: 'regtest', now: Number(now) }).message));
    // --cln: CLN's own names and types. Equal to CLN's decode on every field both print (offer_id included); what only one prints is named.
    const onlyCln: Record<string, string[]> = {};
    for (const m of made) {
      const r = await offchainInProcess([...args, '--cln'], { input: m.text + '\n' });
      expect(r.status, r.stderr).toBe(0);
      const view = JSON.parse(r.stdout) as Record<string, unknown>;
      const both = Object.keys(view).filter((k) => k in m.cln);
      expect(both.length, m.what).toBeGreaterThan(5);
      for (const k of both) expect(view[k], `${m.what}: ${k}`).toEqual(m.cln[k]);
      expect(Object.keys(view).filter((k) => !(k in m.cln)), `${m.what}: printed by --cln only`).toEqual([]);
      for (const k of Object.keys(m.cln).filter((k) => !(k in view))) (onlyCln[k] ??= []).push(m.what);
      if (m.cln.type !== 'bolt11 invoice' && m.cln.type !== 'bolt12 invoice_request') expect(view.offer_id, m.what).toBe(m.cln.offer_id);
    }
    // What CLN prints and --cln does not (its own bookkeeping ids), by name.
    expect(Object.keys(onlyCln).sort(), JSON.stringify(onlyCln)).toEqual(Object.keys(onlyCln).filter((k) => ['invreq_id', 'warning_missing_offer_issuer_id'].includes(k)).sort());
    const signed = made.filter((m) => m.cln.type !== 'bolt12 offer'); // offers carry no signature
    expect(signed.length).toBe(12);
    for (const m of signed) {
      const flipped = flipSignatureBit(m.text);
      let code = '';
      let payee: unknown;
      try {
        payee = decodeInvoiceText(flipped, { network: 'regtest', now: Number(now) }).message.payee;
      } catch (e) {
        code = (e as { code: string }).code;
      }
      if (m.cln.type === 'bolt11 invoice') {
        let independent: string | undefined;
        try {
          independent = bolt11Payee(flipped);
        } catch {
          independent = undefined;
        }
        expect(independent, m.what).not.toBe(m.cln.payee);
        // Without an n field any signature recovers some key: the flipped one must not recover the payee's.
        expect(code === 'E_INVOICE_SIGNATURE' || (code === '' && payee !== m.cln.payee), `${m.what}: ${code || String(payee)}`).toBe(true);
      } else {
        expect(code, m.what).toBe('E_BOLT12_SIGNATURE');
        expect(bolt12SignatureValid(flipped), m.what).toBe(false);
      }
    }
  });

  it('route plan --invoice → onion build → A\'s sendonion: B, the payee, accepts the onion (its payment_data carries the invoice\'s payment_secret and total_msat) and reveals the preimage; the same onion without payment_data is refused', async () => {
    const inv = await b.call<{ bolt11: string; payment_hash: string; payment_secret: string }>('invoice', { label: 'routed', amount_msat: 12_345_000, description: 'paid through route plan' });
    const tip = (await a.call<{ blockheight: number }>('getinfo')).blockheight;
    const request = JSON.stringify({ type: 'route/request', version: 1, network: 'regtest', hops: [{ node_id: b.id, policy: { fee_base_msat: 0, fee_proportional_millionths: 0, cltv_expiry_delta: 0 } }] });
    const invoiceFile = join(mkdtempSync(join(tmpdir(), 'offchain-routed-')), 'invoice.bolt11');
    writeFileSync(invoiceFile, inv.bolt11 + '\n');
    const planned = await offchainInProcess(['route', 'plan', '--invoice', invoiceFile, '--payee', b.id, '--tip-height', String(tip)], { input: request });
    const plan = messageOf<{ final_cltv_expiry: number; first_htlc: { amount_msat: string; cltv_expiry: number }; hops: { payload: Record<string, unknown> }[] }>(planned, 'route/plan');
    expect(plan.hops.at(-1)!.payload.payment_data).toEqual({ payment_secret: inv.payment_secret, total_msat: '12345000' });
    const send = async (p: unknown, partid: number) => {
      // The shared secrets let A read B's failure (without them CLN reports only a "Malformed error reply").
      const secretsFile = join(dirname(invoiceFile), `secrets-${partid}.json`);
      const onion = messageOf<{ packet: string }>(await offchainInProcess(['onion', 'build', '--payment-hash', inv.payment_hash, '--secrets-out', secretsFile], { input: JSON.stringify(p) }), 'onion/packet');
      const { shared_secrets } = JSON.parse(readFileSync(secretsFile, 'utf8')) as { shared_secrets: string[] };
      // sendonion and waitsendpay in one write: waitsendpay is waiting before B can fail the
      // HTLC. (Asked after the failure, lightningd answers from its database, which for an
      // onion it did not build holds no erring node: "Payment failure reason unknown", 209.)
      const [sent, waited] = await a.pipeline([
        { method: 'sendonion', params: { onion: onion.packet, payment_hash: inv.payment_hash, partid, shared_secrets, first_hop: { id: b.id, amount_msat: Number(plan.first_htlc.amount_msat), delay: plan.first_htlc.cltv_expiry - tip } } },
        { method: 'waitsendpay', params: { payment_hash: inv.payment_hash, partid, timeout: 30 } },
      ]);
      if (sent!.error) throw new Error(`sendonion: ${JSON.stringify(sent!.error)}`);
      return waited!.error ? { error: JSON.stringify(waited!.error) } : { ok: waited!.result as { status: string; payment_preimage: string } };
    };
    // Without payment_data B cannot tell the payment from a probe: refused (BOLT 4 incorrect_or_unknown_payment_details).
    const bare = structuredClone(plan);
    delete bare.hops.at(-1)!.payload.payment_data;
    const refused = await send(bare, 1);
    expect(refused.ok, 'B took an onion without its payment_secret').toBeUndefined();
    expect(refused.error).toMatch(/INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS|incorrect_or_unknown_payment_details|16399/i);
    const paid = await send(plan, 2);
    expect(paid.ok?.status, paid.error).toBe('complete');
    expect(createHash('sha256').update(Buffer.from(paid.ok!.payment_preimage, 'hex')).digest('hex')).toBe(inv.payment_hash);
    expect((await b.call<{ invoices: { status: string }[] }>('listinvoices', { label: 'routed' })).invoices[0]!.status).toBe('paid');
  }, 90_000);
});

const VARIANTS = [
  'amount and description',
  'any amount',
  'description hash only',
  'expiry and cltv',
  'fallback addresses',
  'route hints (private channel)',
  'unicode description, pico amount',
  'from A (no inbound)',
  'offer with amount',
  'offer any amount, issuer',
  'offer with quantity_max and expiry',
  'BOLT 12 invoice for an amount offer',
  'BOLT 12 invoice, any amount, payer note',
  'BOLT 12 invoice, quantity 3',
  'bare invoice request',
];

/** DER (CLN's signature form) → r || s, 64 bytes hex: test code. */
function derToCompact(der: string): string {
  const b = Buffer.from(der, 'hex');
  expect(b[0]).toBe(0x30);
  const int = (at: number) => {
    expect(b[at]).toBe(0x02);
    const len = b[at + 1]!;
    const v = b.subarray(at + 2, at + 2 + len).toString('hex').replace(/^(00)+/, '');
    return { hex: v.padStart(64, '0'), next: at + 2 + len };
  };
  const r = int(2);
  const s = int(r.next);
  return r.hex + s.hex;
}

/** The scriptPubKey of a fallback (CLN prints scripts): test code from BIP-141 / BOLT 11's 17 and 18. */
function fallbackScript(version: number, program: string): string {
  const len = (program.length / 2).toString(16).padStart(2, '0');
  if (version === 17) return `76a9${len}${program}88ac`;
  if (version === 18) return `a9${len}${program}87`;
  return `${version === 0 ? '00' : (0x50 + version).toString(16)}${len}${program}`;
}

/** CLN's fields of a BOLT 11 decode, under our names (every key CLN printed is mapped, or the test fails). */
function clnBolt11(cln: Record<string, any>): Record<string, unknown> {
  const known = ['type', 'currency', 'created_at', 'expiry', 'payee', 'amount_msat', 'description', 'description_hash', 'min_final_cltv_expiry', 'payment_secret', 'features', 'fallbacks', 'routes', 'payment_hash', 'signature', 'valid', 'payment_metadata'];
  expect(Object.keys(cln).filter((k) => !known.includes(k))).toEqual([]);
  return {
    currency: cln.currency,
    created_at: cln.created_at,
    expiry: cln.expiry,
    payee: cln.payee,
    amount_msat: cln.amount_msat === undefined ? undefined : String(cln.amount_msat),
    description: cln.description,
    description_hash: cln.description_hash,
    min_final_cltv_expiry_delta: cln.min_final_cltv_expiry,
    payment_secret: cln.payment_secret,
    payment_hash: cln.payment_hash,
    features: cln.features,
    fallbacks: (cln.fallbacks ?? []).map((f: { addr: string; hex: string }) => ({ address: f.addr, script: f.hex })),
    route_hints: (cln.routes ?? []).map((r: Record<string, unknown>[]) => r.map((h) => ({ pubkey: h.pubkey, short_channel_id: h.short_channel_id, fee_base_msat: h.fee_base_msat, fee_proportional_millionths: h.fee_proportional_millionths, cltv_expiry_delta: h.cltv_expiry_delta }))),
    payment_metadata: cln.payment_metadata,
    signature: derToCompact(cln.signature),
    valid: cln.valid,
  };
}

function comparableBolt11(ours: Record<string, any>): Record<string, unknown> {
  return {
    currency: ours.currency,
    created_at: ours.created_at,
    expiry: ours.expiry,
    payee: ours.payee,
    amount_msat: ours.amount_msat,
    description: ours.description,
    description_hash: ours.description_hash,
    min_final_cltv_expiry_delta: ours.min_final_cltv_expiry_delta,
    payment_secret: ours.payment_secret,
    payment_hash: ours.payment_hash,
    features: ours.features,
    fallbacks: ours.fallbacks.map((f: { version: number; hex: string; address: string }) => ({ address: f.address, script: fallbackScript(f.version, f.hex) })),
    route_hints: ours.route_hints,
    payment_metadata: ours.payment_metadata,
    signature: ours.signature,
    valid: ours.valid,
  };
}

/** CLN's BOLT 12 decode under the spec's names (CLN adds _msat to msat amounts, nests payinfo in paths, names offer_id). */
function clnBolt12(cln: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cln)) {
    if (k === 'type' || k === 'offer_id' || k === 'invreq_id') continue; // ids CLN derives for its own bookkeeping
    if (k === 'invoice_relative_expiry') {
      out.expires_in = v;
      continue;
    } // CLN prints the 7200 s default when the field is absent
    if (k === 'offer_amount_msat' || k === 'invreq_amount_msat' || k === 'invoice_amount_msat') out[k.replace(/_msat$/, '')] = String(v);
    else if (k === 'offer_amount') out[k] = String(v);
    else if (k === 'offer_quantity_max' || k === 'invreq_quantity') out[k] = String(v);
    else if (k === 'offer_paths' || k === 'invreq_paths' || k === 'invoice_paths') {
      out[k] = (v as Record<string, any>[]).map((p) => ({ first_node_id: p.first_node_id, first_scid: p.first_scid, first_scid_dir: p.first_scid_dir, path_key: p.first_path_key, path: p.path }));
      if (k === 'invoice_paths') {
        out.invoice_blindedpay = (v as Record<string, any>[]).map((p) => ({ ...p.payinfo, htlc_minimum_msat: String(p.payinfo.htlc_minimum_msat), htlc_maximum_msat: String(p.payinfo.htlc_maximum_msat) }));
      }
    } else out[k] = v;
  }
  return out;
}

function comparableBolt12(ours: Record<string, any>): Record<string, unknown> {
  const skip = ['type', 'version', 'network', 'offer', 'invoice', 'invoice_request', 'unknown_fields', 'now', 'expires_at', 'expired', 'payer_checks'];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ours)) {
    if (skip.includes(k)) continue;
    if (k.endsWith('_paths')) out[k] = (v as Record<string, unknown>[]).map((p) => ({ first_node_id: p.first_node_id, first_scid: p.first_scid, first_scid_dir: p.first_scid_dir, path_key: p.path_key, path: p.path }));
    else if (k !== 'invoice_relative_expiry') out[k] = v;
  }
  if (ours.type === 'invoice/bolt12') out.expires_in = ours.expires_at - ours.invoice_created_at;
  expect(ours.unknown_fields).toEqual([]);
  return out;
}

/** The same string with one bit of its signature flipped (and, for BOLT 11, a valid checksum again). */
function flipSignatureBit(text: string): string {
  if (text.startsWith('lnbc')) {
    const { prefix, words } = bech32.decode(text as `${string}1${string}`, false);
    const w = [...words];
    w[w.length - 20]! ^= 1; // inside s
    return bech32.encode(prefix, w, false);
  }
  const { hrp, bytes } = decodeBolt12String(text);
  const copy = Uint8Array.from(bytes);
  copy[copy.length - 1]! ^= 1; // the last byte of the signature record (type 240, the last one)
  return encodeBolt12String(hrp, copy);
}
