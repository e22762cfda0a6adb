/**
 * The typed values of BOLT 12 offers, invoice requests and invoices: the kind, the
 * fields under the spec's TLV names, blinded paths and payinfo. Types only; reading
 * and writing the strings and the readers' checks are in bolt12.ts and bolt12-readers.ts.
 */
import type { TlvRecord } from './tlv.ts';

export type Bolt12Kind = 'offer' | 'invoice_request' | 'invoice';

export type BlindedPath = {
  /** 33-byte node id, or the sciddir form (direction byte 0/1 + 8-byte short_channel_id). */
  firstNodeId: { nodeId: Uint8Array } | { direction: number; shortChannelId: string };
  pathKey: Uint8Array;
  hops: { blindedNodeId: Uint8Array; encryptedRecipientData: Uint8Array }[];
};
export type BlindedPayinfo = {
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
  htlcMinimumMsat: bigint;
  htlcMaximumMsat: bigint;
  features: Uint8Array;
};
export type Bolt12Fallback = { version: number; address: Uint8Array };

export type Bolt12Fields = {
  invreq_metadata?: Uint8Array;
  offer_chains?: Uint8Array[];
  offer_metadata?: Uint8Array;
  offer_currency?: string;
  offer_amount?: bigint;
  offer_description?: string;
  offer_features?: Uint8Array;
  offer_absolute_expiry?: bigint;
  offer_paths?: BlindedPath[];
  offer_issuer?: string;
  offer_quantity_max?: bigint;
  offer_issuer_id?: Uint8Array;
  invreq_chain?: Uint8Array;
  invreq_amount?: bigint;
  invreq_features?: Uint8Array;
  invreq_quantity?: bigint;
  invreq_payer_id?: Uint8Array;
  invreq_payer_note?: string;
  invreq_paths?: BlindedPath[];
  invreq_bip_353_name?: { name: string; domain: string };
  invoice_paths?: BlindedPath[];
  invoice_blindedpay?: BlindedPayinfo[];
  invoice_created_at?: bigint;
  invoice_relative_expiry?: bigint;
  invoice_payment_hash?: Uint8Array;
  invoice_amount?: bigint;
  invoice_fallbacks?: Bolt12Fallback[];
  invoice_features?: Uint8Array;
  invoice_node_id?: Uint8Array;
  signature?: Uint8Array;
};

export type Bolt12 = {
  kind: Bolt12Kind;
  hrp: string;
  /** The TLV stream, as carried. */
  bytes: Uint8Array;
  records: TlvRecord[];
  fields: Bolt12Fields;
  /** Unknown odd records (a reader ignores them; an invoice request copies them). */
  unknown: TlvRecord[];
};
