/**
 * The JSON edge of bolt11.ts and bolt12.ts: `invoice decode`'s four messages, and the
 * terms other commands take from an invoice (`route plan --invoice`, `htlc create
 * --invoice`). A message given back to us is never trusted field by field: its invoice
 * string is decoded and verified again, so an edited `amount_msat` or `payee` cannot
 * steer a payment.
 */
import { toHex } from '../bytes.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import type { Network } from '../network.ts';
import { CURRENCY_NETWORKS, type Bolt11Invoice, decodeBolt11, encodeBolt11 } from './bolt11.ts';
import type { BlindedPath, Bolt12 } from './bolt12-fields.ts';
import { decodeBolt12, encodeBolt12 } from './bolt12.ts';
import { fallbackAddress } from './fallback.ts';
import { wordsToChars } from './words.ts';

/** Genesis block hashes as BOLT 12 carries them (internal byte order). */
export const CHAIN_HASHES: Record<Network, string> = {
  mainnet: '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000',
  testnet: '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000',
  testnet4: '43f08bdab050e35b567c864b91f47f50ae725ae2de53bcfbbaf284da00000000',
  signet: 'f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000',
  regtest: '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f',
};
const NETWORK_OF_CHAIN = new Map(Object.entries(CHAIN_HASHES).map(([n, h]) => [h, n as Network]));

export type DecodeOptions = { network?: Network; now: number };

const BOLT12_PREFIXES = /^\s*ln[oir]1/i;

/** Decode any invoice or offer string into its message; the network must agree with `network` when given. */
export function decodeInvoiceText(text: string, opts: DecodeOptions): { network: Network; message: Record<string, unknown> } {
  const s = text.trim();
  if (s === '') throw new MalformedInputError('E_EMPTY_INPUT', 'no invoice or offer given');
  if (BOLT12_PREFIXES.test(s) || s.includes('+')) return bolt12Message(decodeBolt12(s), opts);
  return bolt11Message(decodeBolt11(s), opts);
}

function pickNetwork(candidates: readonly Network[], wanted: Network | undefined, what: string): Network {
  if (candidates.length === 0) throw new RefusedError('E_NETWORK_MISMATCH', `${what} names no chain this toolkit knows`);
  if (wanted === undefined) return candidates[0]!;
  if (!candidates.includes(wanted)) {
    throw new RefusedError('E_NETWORK_MISMATCH', `${what} is for ${candidates.join(' or ')} but --network is ${wanted}; pass --network ${candidates[0]} or use a ${wanted} one`);
  }
  return wanted;
}

const features = (bits: readonly number[]): string | undefined => {
  if (bits.length === 0) return undefined;
  const bytes = new Uint8Array(Math.floor(bits.at(-1)! / 8) + 1);
  for (const b of bits) bytes[bytes.length - 1 - Math.floor(b / 8)]! |= 1 << b % 8;
  return toHex(bytes);
};

/** Unix seconds as an ISO date when a Date can hold it (±8.64e12 s), else as seconds: a payee's long expiry `x` must not crash the message. */
const MAX_DATE_SECONDS = 8_640_000_000_000;
const when = (t: number): string => (Math.abs(t) <= MAX_DATE_SECONDS ? new Date(t * 1000).toISOString() : `unix time ${t}, beyond any calendar date`);

function status(now: number, expiresAt: number | undefined, checks: string[]) {
  const expired = expiresAt !== undefined && now > expiresAt;
  return { now, ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}), expired, valid: !expired, payer_checks: checks };
}

export function bolt11Message(inv: Bolt11Invoice, opts: DecodeOptions): { network: Network; message: Record<string, unknown> } {
  const network = pickNetwork(CURRENCY_NETWORKS[inv.currency], opts.network, `the invoice (ln${inv.currency})`);
  const expiresAt = inv.timestamp + inv.expiry;
  const checks = [
    inv.amountMsat === undefined ? 'no amount: the payer chooses what to pay' : 'pay at least amount_msat (at most twice it)',
    `pay only before expires_at (${when(expiresAt)})`,
    inv.description !== undefined ? 'the description says what you are paying for' : 'description_hash: check it is the SHA-256 of the description you were given',
    `the final HTLC's expiry must be at least the tip height + ${inv.minFinalCltvExpiryDelta} (min_final_cltv_expiry_delta)`,
    'the payee is the node you mean to pay',
    'put payment_secret (and payment_metadata if any) in the final hop payload',
  ];
  return {
    network,
    message: {
      type: 'invoice/bolt11',
      version: 1,
      network,
      invoice: encodeBolt11(inv),
      currency: inv.currency,
      ...(inv.amountMsat !== undefined ? { amount_msat: inv.amountMsat.toString() } : {}),
      created_at: inv.timestamp,
      expiry: inv.expiry,
      payee: toHex(inv.payee),
      payee_from: inv.payeeFrom,
      payment_hash: toHex(inv.paymentHash),
      payment_secret: toHex(inv.paymentSecret),
      ...(inv.description !== undefined ? { description: inv.description } : {}),
      ...(inv.descriptionHash ? { description_hash: toHex(inv.descriptionHash) } : {}),
      min_final_cltv_expiry_delta: inv.minFinalCltvExpiryDelta,
      ...(features(inv.features) ? { features: features(inv.features) } : {}),
      feature_bits: inv.features,
      fallbacks: inv.fallbacks.map((f) => ({ version: f.version, hex: toHex(f.program), ...address(f.version, f.program, network) })),
      route_hints: inv.routeHints.map((hops) =>
        hops.map((h) => ({ pubkey: toHex(h.pubkey), short_channel_id: h.shortChannelId, fee_base_msat: h.feeBaseMsat, fee_proportional_millionths: h.feeProportionalMillionths, cltv_expiry_delta: h.cltvExpiryDelta })),
      ),
      ...(inv.paymentMetadata ? { payment_metadata: toHex(inv.paymentMetadata) } : {}),
      unknown_fields: inv.fields.flatMap((f) => (f.name === 'unknown' || f.name === 'ignored' ? [{ tag: f.tag, words: wordsToChars(f.words) }] : [])),
      signature: toHex(inv.signature),
      recovery_id: inv.recoveryId,
      ...status(opts.now, expiresAt, checks),
    },
  };
}

function address(version: number, program: Uint8Array, network: Network): { address?: string } {
  const a = fallbackAddress(version, program, network);
  return a === undefined ? {} : { address: a };
}

const pathJson = (p: BlindedPath) => ({
  ...('nodeId' in p.firstNodeId ? { first_node_id: toHex(p.firstNodeId.nodeId) } : { first_scid: p.firstNodeId.shortChannelId, first_scid_dir: p.firstNodeId.direction }),
  path_key: toHex(p.pathKey),
  path: p.hops.map((h) => ({ blinded_node_id: toHex(h.blindedNodeId), encrypted_recipient_data: toHex(h.encryptedRecipientData) })),
});

const seconds = (v: bigint, name: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedInputError('E_BOLT12_FIELD', `${name} ${v} is beyond any date`);
  return Number(v);
};

/** Every known field under its spec name, JSON-shaped. */
function bolt12Fields(b: Bolt12): Record<string, unknown> {
  const f = b.fields;
  const out: Record<string, unknown> = {};
  const put = (name: string, v: unknown) => {
    if (v !== undefined) out[name] = v;
  };
  const hex = (v: Uint8Array | undefined) => (v ? toHex(v) : undefined);
  const dec = (v: bigint | undefined) => v?.toString();
  put('invreq_metadata', hex(f.invreq_metadata));
  put('offer_chains', f.offer_chains?.map(toHex));
  put('offer_metadata', hex(f.offer_metadata));
  put('offer_currency', f.offer_currency);
  put('offer_amount', dec(f.offer_amount));
  put('offer_description', f.offer_description);
  put('offer_features', hex(f.offer_features));
  put('offer_absolute_expiry', f.offer_absolute_expiry === undefined ? undefined : seconds(f.offer_absolute_expiry, 'offer_absolute_expiry'));
  put('offer_paths', f.offer_paths?.map(pathJson));
  put('offer_issuer', f.offer_issuer);
  put('offer_quantity_max', dec(f.offer_quantity_max));
  put('offer_issuer_id', hex(f.offer_issuer_id));
  if (b.kind !== 'offer') {
    put('invreq_chain', hex(f.invreq_chain));
    put('invreq_amount', dec(f.invreq_amount));
    put('invreq_features', hex(f.invreq_features));
    put('invreq_quantity', dec(f.invreq_quantity));
    put('invreq_payer_id', hex(f.invreq_payer_id));
    put('invreq_payer_note', f.invreq_payer_note);
    put('invreq_paths', f.invreq_paths?.map(pathJson));
    put('invreq_bip_353_name', f.invreq_bip_353_name);
  }
  if (b.kind === 'invoice') {
    put('invoice_paths', f.invoice_paths?.map(pathJson));
    put(
      'invoice_blindedpay',
      f.invoice_blindedpay?.map((p) => ({
        fee_base_msat: p.feeBaseMsat,
        fee_proportional_millionths: p.feeProportionalMillionths,
        cltv_expiry_delta: p.cltvExpiryDelta,
        htlc_minimum_msat: p.htlcMinimumMsat.toString(),
        htlc_maximum_msat: p.htlcMaximumMsat.toString(),
        features: toHex(p.features),
      })),
    );
    put('invoice_created_at', f.invoice_created_at === undefined ? undefined : seconds(f.invoice_created_at, 'invoice_created_at'));
    put('invoice_relative_expiry', f.invoice_relative_expiry === undefined ? undefined : Number(f.invoice_relative_expiry));
    put('invoice_payment_hash', hex(f.invoice_payment_hash));
    put('invoice_amount', dec(f.invoice_amount));
    put('invoice_fallbacks', f.invoice_fallbacks?.map((x) => ({ version: x.version, hex: toHex(x.address) })));
    put('invoice_features', hex(f.invoice_features));
    put('invoice_node_id', hex(f.invoice_node_id));
  }
  if (b.kind !== 'offer') put('signature', hex(f.signature));
  out.unknown_fields = b.unknown.map((r) => ({ type: r.type.toString(), value: toHex(r.value) }));
  return out;
}

function bolt12Network(b: Bolt12, wanted: Network | undefined): Network {
  const f = b.fields;
  if (b.kind !== 'offer') {
    // BOLT 12: without invreq_chain the request (and its invoice) is for bitcoin.
    const chain = f.invreq_chain ? NETWORK_OF_CHAIN.get(toHex(f.invreq_chain)) : 'mainnet';
    return pickNetwork(chain ? [chain] : [], wanted, `the ${b.kind.replace('_', ' ')}'s invreq_chain`);
  }
  const chains = f.offer_chains ? f.offer_chains.flatMap((c) => NETWORK_OF_CHAIN.get(toHex(c)) ?? []) : (['mainnet'] as Network[]);
  return pickNetwork(chains, wanted, 'the offer\'s offer_chains');
}

export function bolt12Message(b: Bolt12, opts: DecodeOptions): { network: Network; message: Record<string, unknown> } {
  const network = bolt12Network(b, opts.network);
  const f = b.fields;
  const text = encodeBolt12(b);
  const checks: string[] = [];
  let expiresAt: number | undefined;
  if (f.offer_absolute_expiry !== undefined) expiresAt = seconds(f.offer_absolute_expiry, 'offer_absolute_expiry');
  if (b.kind === 'offer') {
    checks.push(f.offer_amount === undefined ? 'no amount: the payer chooses (invreq_amount)' : f.offer_currency ? `the amount is in ${f.offer_currency}: convert it yourself and compare with the invoice's` : 'the invoice\'s amount must match offer_amount (times the quantity)');
    checks.push('the issuer (offer_issuer, offer_issuer_id) is who you mean to pay');
    if (f.offer_quantity_max !== undefined) checks.push('choose invreq_quantity within offer_quantity_max');
    return { network, message: { type: 'invoice/offer', version: 1, network, offer: text, ...bolt12Fields(b), ...status(opts.now, expiresAt, checks) } };
  }
  if (b.kind === 'invoice_request') {
    checks.push('(issuer) the offer fields exactly match an offer you made and it has not expired');
    checks.push('(issuer) the request arrived through one of offer_paths, or directly when there are none');
    return { network, message: { type: 'invoice/request', version: 1, network, invoice_request: text, ...bolt12Fields(b), ...status(opts.now, expiresAt, checks) } };
  }
  const invoiceExpiry = seconds(f.invoice_created_at!, 'invoice_created_at') + Number(f.invoice_relative_expiry ?? 7200n);
  expiresAt = expiresAt === undefined ? invoiceExpiry : Math.min(expiresAt, invoiceExpiry);
  checks.push('the non-signature fields match the invoice request you sent (every field in 0-159 and 1000000000-2999999999)');
  checks.push('it arrived through your request\'s reply path');
  checks.push('invoice_amount is what you agreed to pay');
  if (f.offer_issuer_id === undefined) checks.push('invoice_node_id is the final blinded_node_id of the path you sent the request to');
  return { network, message: { type: 'invoice/bolt12', version: 1, network, invoice: text, ...bolt12Fields(b), ...status(opts.now, expiresAt, checks) } };
}

/** What a payment needs from an invoice, from its text or an `invoice/*` message (decoded and verified again). */
export type InvoiceTerms = {
  kind: 'bolt11' | 'bolt12';
  network: Network;
  paymentHash: Uint8Array;
  amountMsat: bigint | undefined;
  payee: Uint8Array;
  minFinalCltvExpiryDelta: number | undefined;
  routeHints: Bolt11Invoice['routeHints'];
  expiresAt: number;
  paymentSecret: Uint8Array | undefined;
};

export function invoiceText(value: unknown, what: string): string {
  if (typeof value === 'string') return value.trim();
  if (value && typeof value === 'object') {
    const m = value as Record<string, unknown>;
    const field = ({ 'invoice/bolt11': 'invoice', 'invoice/bolt12': 'invoice', 'invoice/offer': 'offer', 'invoice/request': 'invoice_request' } as Record<string, string>)[String(m.type)];
    if (field !== undefined) {
      if (typeof m[field] !== 'string') throw new MalformedInputError('E_MALFORMED_MESSAGE', `${what}: ${String(m.type)} without its ${field} string`);
      return m[field];
    }
    throw new MalformedInputError('E_WRONG_MESSAGE', `${what}: expected an invoice/* message from invoice decode (or the invoice text), got ${String(m.type)}`);
  }
  throw new MalformedInputError('E_WRONG_MESSAGE', `${what}: expected an invoice`);
}

/** The terms of an invoice to pay now: refused when it expired (E_INVOICE_EXPIRED) or is an offer / request. */
export function invoiceTerms(text: string, opts: DecodeOptions): InvoiceTerms {
  const s = text.trim();
  if (BOLT12_PREFIXES.test(s) || s.includes('+')) {
    const b = decodeBolt12(s);
    if (b.kind !== 'invoice') throw new RefusedError('E_INVOICE_KIND', `this is a BOLT 12 ${b.kind.replace('_', ' ')}, not an invoice: fetch an invoice for it first`);
    const { network, message } = bolt12Message(b, opts);
    if (message.expired) throw new RefusedError('E_INVOICE_EXPIRED', `the invoice expired at ${message.expires_at} (now ${opts.now})`);
    return {
      kind: 'bolt12',
      network,
      paymentHash: b.fields.invoice_payment_hash!,
      amountMsat: b.fields.invoice_amount,
      payee: b.fields.invoice_node_id!,
      minFinalCltvExpiryDelta: undefined,
      routeHints: [],
      expiresAt: message.expires_at as number,
      paymentSecret: undefined,
    };
  }
  const inv = decodeBolt11(s);
  const { network } = bolt11Message(inv, opts);
  const expiresAt = inv.timestamp + inv.expiry;
  if (opts.now > expiresAt) throw new RefusedError('E_INVOICE_EXPIRED', `the invoice expired at ${expiresAt} (now ${opts.now})`);
  return {
    kind: 'bolt11',
    network,
    paymentHash: inv.paymentHash,
    amountMsat: inv.amountMsat,
    payee: inv.payee,
    minFinalCltvExpiryDelta: inv.minFinalCltvExpiryDelta,
    routeHints: inv.routeHints,
    expiresAt,
    paymentSecret: inv.paymentSecret,
  };
}
