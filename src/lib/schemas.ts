/**
 * Every message type's JSON Schema, in one list: `npm run schemas` writes each to
 * schemas/<type>.json (the files the README and docs point to), and a test fails when
 * a committed file differs from the definition the decoders use.
 */
import type { TObject } from '@sinclair/typebox';
import { KeyPublicSchema } from './keys/schemas.ts';
import { PsbtAnalysisSchema, PsbtDecodedSchema, PsbtExtractedSchema, PsbtUpdatedSchema } from './psbt/schemas.ts';
import { BOLT3_SCHEMAS } from './bolt3/schemas.ts';
import { CREDIT_SCHEMAS } from './credit/schemas.ts';
import { HTLC_SCHEMAS } from './htlc/schemas.ts';
import { PTLC_SCHEMAS } from './ptlc/schemas.ts';
import { ROUTE_SCHEMAS } from './route/schemas.ts';
import { OPENASSETS_SCHEMAS } from './openassets/schemas.ts';
import { ColuDecodedSchema } from './colu/message.ts';
import { XcpDecodedSchema, XcpUnpackedSchema } from './counterparty/message.ts';
import { ONION_SCHEMAS } from './onion/schemas.ts';
import { STATECHAIN_SCHEMAS } from './statechain/schemas.ts';
import { TRUC_SCHEMAS } from './truc/schemas.ts';
import { INVOICE_SCHEMAS } from './invoice/schemas.ts';
import { DEVICE_SCHEMAS } from './device/schemas.ts';
import { WATCH_SCHEMAS } from './watch/schemas.ts';
import { SERVE_SCHEMAS } from './serve/schemas.ts';

export const MESSAGE_SCHEMAS: readonly TObject[] = [
  KeyPublicSchema, PsbtUpdatedSchema, PsbtDecodedSchema, PsbtAnalysisSchema, PsbtExtractedSchema, ...CREDIT_SCHEMAS, ...HTLC_SCHEMAS, ...PTLC_SCHEMAS, ...ROUTE_SCHEMAS, ...BOLT3_SCHEMAS, ...OPENASSETS_SCHEMAS, ColuDecodedSchema, XcpDecodedSchema, XcpUnpackedSchema, ...ONION_SCHEMAS, ...STATECHAIN_SCHEMAS, ...TRUC_SCHEMAS, ...INVOICE_SCHEMAS, ...DEVICE_SCHEMAS, ...WATCH_SCHEMAS, ...SERVE_SCHEMAS,
];

/** schemas/credit.update.json for `credit/update`. */
export function schemaFileName(type: string): string {
  return `${type.replace(/\//g, '.')}.json`;
}

export function schemaDocument(schema: TObject): string {
  return JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...schema }, null, 2) + '\n';
}
