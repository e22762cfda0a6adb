/**
 * The payer's side of an HTLC (seed, taproot) or a PTLC once funded: its refund through the
 * refund path after the locktime — built here for `htlc refund`, `ptlc refund` and a watcher
 * alike — and its registration for a watcher (`htlc watch-add`, `ptlc watch-add`): one record
 * of kind `htlc-payer` in the state directory's database, by funding outpoint, holding the
 * description as given (decoded and checked again each time it is read), the amount and the
 * address the refund pays. BOLT 3's offered/received HTLCs are a commitment's, not a payer's:
 * refused (their refund is a two-signer second stage).
 */
import type { HtlcOutput } from '../../lib/htlc/htlc.ts';
import type { HtlcCreated } from '../../lib/htlc/messages.ts';
import type { OutPoint } from '../../lib/htlc/spend.ts';
import type { PtlcCreated } from '../../lib/ptlc/messages.ts';
import type { PtlcOutput } from '../../lib/ptlc/ptlc.ts';
import type { KeyPair } from '../../lib/keys/keys.ts';
import type { FeeLimits } from '../../lib/tx/fee-guard.ts';
import type { Network } from '../../lib/network.ts';
import { RefusedError } from '../../lib/errors.ts';
import { toHex } from '../../lib/bytes.ts';

/** An HTLC or a PTLC, decoded from its description (every derived field checked). */
export type PayerContract =
  | { kind: 'htlc'; htlc: HtlcOutput; created: HtlcCreated; network: Network; amountSat?: bigint }
  | { kind: 'ptlc'; ptlc: PtlcOutput; created: PtlcCreated; network: Network; amountSat?: bigint };

/** A registered output, as stored (records kind `htlc-payer`, id `TXID:VOUT`). */
export type PayerRecord = {
  contract: string;
  kind: 'htlc' | 'ptlc';
  outpoint: OutPoint;
  amount_sat: number;
  /** The refund's destination address (`--to` at registration). */
  to: string;
  /** The htlc/created or ptlc/created message, as given. */
  created: Record<string, unknown>;
  /**
   * The payer's BIP-340 signature (hex) over the rest of the record (payerRecordDigest), made by
   * `watch-add` with the payer's key: a watcher signs a refund only for a record its own key
   * signed, so whoever edits the database does not choose where the refund goes (E_STATE_CORRUPT).
   */
  sig?: string;
};

/** The description read back: an `htlc/created` (seed or taproot) or a `ptlc/created`. */
export async function payerContract(kind: 'htlc' | 'ptlc', value: unknown): Promise<PayerContract> {
  if (kind === 'ptlc') {
    const { ptlcFromMessage } = await import('../../lib/ptlc/messages.ts');
    const p = ptlcFromMessage(value);
    return { kind, ptlc: p.ptlc, created: p.message, network: p.network, ...(p.amountSat === undefined ? {} : { amountSat: p.amountSat }) };
  }
  const { htlcFromMessage } = await import('../../lib/htlc/messages.ts');
  const h = htlcFromMessage(value);
  return { kind, htlc: h.htlc, created: h.message, network: h.network, ...(h.amountSat === undefined ? {} : { amountSat: h.amountSat }) };
}

/** What a watcher needs of the output: its script, its refund's locktime and key, and how to tell the refund from the claim. */
export function payerTerms(c: PayerContract): { scriptPubKey: Uint8Array; address: string; locktime: number; payer: Uint8Array; refundLeaf?: Uint8Array; witnessScript?: Uint8Array; keyPathIsClaim: boolean } {
  if (c.kind === 'ptlc') {
    return { scriptPubKey: c.ptlc.scriptPubKey, address: c.created.address, locktime: c.ptlc.spec.locktime, payer: c.ptlc.spec.payer, refundLeaf: c.ptlc.refundLeaf, keyPathIsClaim: true };
  }
  const spec = c.htlc.spec;
  if (spec.kind !== 'seed' && spec.kind !== 'taproot') {
    throw new RefusedError('E_SECOND_STAGE', `a BOLT 3 ${spec.kind} HTLC is a commitment's (its timeout path goes through a two-signer second stage): a watcher keeps the refund of a seed or taproot HTLC only`);
  }
  return {
    scriptPubKey: c.htlc.scriptPubKey, address: c.created.address, locktime: spec.locktime, payer: spec.payer,
    ...(c.htlc.taproot ? { refundLeaf: c.htlc.taproot.refundLeaf } : {}), ...(c.htlc.witnessScript ? { witnessScript: c.htlc.witnessScript } : {}), keyPathIsClaim: false,
  };
}

export type RefundRequest = { outpoint: OutPoint; amountSat: bigint; destination: Uint8Array; feeRate: number; feeLimits?: FeeLimits; signer: KeyPair; auxRand: Uint8Array };

/**
 * The payer's signed refund (nLockTime the locktime, a non-final sequence, the refund path) and
 * its message: `htlc/spend` (with its PSBT) or `ptlc/spend`. Finality is the caller's to check
 * (the commands refuse E_NOT_FINAL; a watcher sends it only from the tip at the locktime).
 */
export async function payerRefund(c: PayerContract, req: RefundRequest): Promise<{ txid: string; hex: string; message: Record<string, unknown>; psbt?: Uint8Array }> {
  if (c.kind === 'ptlc') {
    const { refundTransaction } = await import('../../lib/ptlc/spend.ts');
    const r = refundTransaction(c.ptlc, { outpoint: req.outpoint, amountSat: req.amountSat, destination: req.destination, feeRate: req.feeRate, ...(req.feeLimits ? { feeLimits: req.feeLimits } : {}) }, req.signer, req.auxRand);
    return { txid: r.tx.id, hex: r.hex, message: { type: 'ptlc/spend', version: 1, network: c.network, path: 'refund', txid: r.tx.id, hex: r.hex, fee_sat: r.feeSat, locktime: r.tx.lockTime } };
  }
  const { buildSpend } = await import('../../lib/htlc/spend.ts');
  const { spendMessage } = await import('../../lib/htlc/messages.ts');
  const { serializePsbt } = await import('../../lib/psbt/parse.ts');
  const s = buildSpend({
    htlc: c.htlc, path: 'refund', outpoint: req.outpoint, amountSat: req.amountSat, signer: req.signer,
    destination: req.destination, feeRate: req.feeRate, ...(req.feeLimits ? { feeLimits: req.feeLimits } : {}), auxRand: req.auxRand,
  });
  const psbt = serializePsbt(s.tx);
  const message = spendMessage(c.created, { path: 'refund', complete: true, txid: s.txid, outpoint: req.outpoint, amountSat: req.amountSat, feeSat: s.feeSat, lockTime: s.lockTime, sequence: s.sequence, hex: s.hex, psbt });
  return { txid: s.txid, hex: s.hex, message, psbt };
}

/**
 * The highest refund rate (sat/kvB) the fee guard lets through for this output: the fee within
 * --max-fee-rate and within --max-fee-share of the amount, at the refund's planned vsize. A
 * watcher bids min(its estimate, this) — short of the estimate, `shortfall: 'budget'` — instead
 * of a bid the guard refuses every round (nothing ever sent).
 */
export async function payerRefundCap(c: PayerContract, amountSat: bigint, destination: Uint8Array, limits: FeeLimits): Promise<number> {
  const { estimateVsize, plannedWitness } = await import('../../lib/htlc/spend.ts');
  const { guardedRateCap } = await import('../../lib/tx/fee-guard.ts');
  const witness = c.kind === 'ptlc' ? [64, c.ptlc.refundLeaf.length, c.ptlc.refundControlBlock.length] : plannedWitness(c.htlc, 'refund', undefined);
  return guardedRateCap(estimateVsize(destination, witness), amountSat, limits);
}

/** JSON with its object keys sorted: one byte string for one value, whatever order the database gives it back in. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** What the payer signs of a record: BIP-340's tagged hash (tag `offchain/htlc-payer-record`) of its terms. */
export async function payerRecordDigest(r: PayerRecord): Promise<Uint8Array> {
  const { taggedHash } = await import('../../lib/musig/engine/scalar.ts');
  const terms = { kind: r.kind, contract: r.contract, outpoint: r.outpoint, amount_sat: r.amount_sat, to: r.to, created: r.created };
  return taggedHash('offchain/htlc-payer-record', new TextEncoder().encode(canonicalJson(terms)));
}

/** The payer's signature over a record (BIP-340, zero aux: deterministic, so a rerun of watch-add stores the same record). */
export async function signPayerRecord(r: PayerRecord, key: KeyPair): Promise<string> {
  const { schnorrSign } = await import('../../lib/taproot/schnorr.ts');
  return toHex(schnorrSign(await payerRecordDigest(r), key.secretKey, new Uint8Array(32), key.publicKey));
}

/** A record this key did not sign, as stored ("E_STATE_CORRUPT: …"; undefined: it did). */
export async function forgedPayerRecord(r: PayerRecord, key: KeyPair): Promise<string | undefined> {
  const { schnorrVerify } = await import('../../lib/taproot/schnorr.ts');
  const { fromHex } = await import('../../lib/bytes.ts');
  let ok = false;
  try {
    ok = typeof r.sig === 'string' && /^[0-9a-f]{128}$/.test(r.sig) && schnorrVerify(fromHex(r.sig), await payerRecordDigest(r), key.xOnly);
  } catch {
    ok = false;
  }
  return ok ? undefined : `E_STATE_CORRUPT: the kept record of ${r.kind.toUpperCase()} ${r.contract} is not signed by this watcher's key (edited in the database, or kept before records were signed): nothing signed; register it again with ${r.kind} watch-add --key-file/--key-env`;
}

/** The watcher's check of its key against a registered output's payer (E_WRONG_KEY: the refund would only be refused). */
export function wrongPayerKey(record: PayerRecord, payer: Uint8Array, key: Uint8Array): string | undefined {
  if (toHex(payer.subarray(1)) === toHex(key.subarray(1))) return undefined;
  return `E_WRONG_KEY: this key is not the payer's of ${record.kind.toUpperCase()} ${record.contract} (${toHex(payer)}): pass the payer's --key-file/--key-env`;
}
