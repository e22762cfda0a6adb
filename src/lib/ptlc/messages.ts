/**
 * The JSON edge of the PTLC library. A `ptlc/created` message is trusted for nothing:
 * its parameters are decoded, the output rebuilt and every derived field compared
 * (E_PTLC_MISMATCH). The lock point T is not committed to by the address, so a party
 * acting on the other's message must compare the PTLC it carries with its own copy
 * (`sameTerms`): a payee that swapped T for a point it knows the log of would otherwise
 * get a pre-signature it can complete without revealing the real t.
 */
import type { Static } from '@sinclair/typebox';
import { fromHex, toHex } from '../bytes.ts';
import { scriptAddress } from '../address.ts';
import { MalformedInputError, RefusedError } from '../errors.ts';
import { validatePublicKey } from '../keys/keys.ts';
import { sameJson } from '../json.ts';
import { decodeMessage } from '../message.ts';
import type { Network } from '../network.ts';
import { ptlcOutput, type PtlcOutput } from './ptlc.ts';
import { PtlcCreatedSchema } from './schemas.ts';

export type PtlcCreated = Static<typeof PtlcCreatedSchema>;

export function createdMessage(p: PtlcOutput, network: Network, amountSat?: bigint): Record<string, unknown> {
  const address = scriptAddress(p.scriptPubKey, network);
  if (!address) throw new Error('internal: a PTLC output without an address');
  return {
    type: 'ptlc/created',
    version: 1,
    network,
    address,
    script_pubkey: toHex(p.scriptPubKey),
    payer: toHex(p.spec.payer),
    payee: toHex(p.spec.payee),
    point: toHex(p.spec.point),
    locktime: p.spec.locktime,
    ...(amountSat === undefined ? {} : { amount_sat: amountSat }),
    participants: p.participants.map(toHex),
    internal_key: toHex(p.internalKey),
    merkle_root: toHex(p.merkleRoot),
    output_key: toHex(p.outputKey),
    refund_leaf: { script: toHex(p.refundLeaf), control_block: toHex(p.refundControlBlock) },
    descriptor: p.descriptor,
  };
}

export function ptlcFromMessage(value: unknown): { ptlc: PtlcOutput; network: Network; amountSat?: bigint; message: PtlcCreated } {
  const m = decodeMessage(PtlcCreatedSchema, value);
  const key = (v: string, field: string) => validatePublicKey(fromHex(v, field, 33), field);
  const ptlc = ptlcOutput({ payer: key(m.payer, 'payer'), payee: key(m.payee, 'payee'), point: key(m.point, 'point'), locktime: m.locktime });
  const amountSat = m.amount_sat === undefined ? undefined : BigInt(m.amount_sat);
  const rebuilt = createdMessage(ptlc, m.network, amountSat);
  for (const field of new Set([...Object.keys(rebuilt), ...Object.keys(m)])) {
    if (!sameJson(rebuilt[field], (m as Record<string, unknown>)[field])) {
      if (!(field in m)) throw new MalformedInputError('E_MALFORMED_MESSAGE', `ptlc/created: ${field} is missing`);
      throw new RefusedError('E_PTLC_MISMATCH', `ptlc/created: ${field} is not what the PTLC's parameters give; refusing an edited description`);
    }
  }
  return { ptlc, network: m.network, ...(amountSat === undefined ? {} : { amountSat }), message: m };
}

/** The PTLC another party's message carries must be ours, term for term (T above all). */
export function sameTerms(own: PtlcCreated, carried: PtlcCreated, ownFile: string): void {
  const strip = ({ amount_sat: _a, ...rest }: PtlcCreated) => rest;
  if (!sameJson(strip(own), strip(carried))) {
    throw new RefusedError('E_PTLC_MISMATCH', `the PTLC this message carries differs from yours (${ownFile}): refusing to sign for other terms`);
  }
}
