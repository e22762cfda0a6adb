/**
 * Shape checks for Bitcoin Core's answers (./rpc.ts reads every answer through them): anything
 * unexpected is E_RPC_PROTOCOL naming the method and node, never a TypeError further on.
 */
import { fromHex } from '../bytes.ts';
import { btcToSats } from './amount.ts';
import { protocolError } from './rpc-client.ts';

export const TXID_RE = /^[0-9a-f]{64}$/;

export function obj(value: unknown, method: string, url: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw protocolError(method, url, 'a result that is not an object');
  return value as Record<string, unknown>;
}

export function int(o: Record<string, unknown>, key: string, method: string, url: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw protocolError(method, url, `a "${key}" that is not an integer`);
  return v;
}

export function txidField(o: Record<string, unknown>, key: string, method: string, url: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !TXID_RE.test(v)) throw protocolError(method, url, `a "${key}" that is not a 32-byte hash`);
  return v;
}

export function hexField(o: Record<string, unknown>, key: string, method: string, url: string): Uint8Array {
  const v = o[key];
  if (typeof v !== 'string') throw protocolError(method, url, `a "${key}" that is not hex`);
  return hexOrProtocol(v, method, url);
}

export function hexOrProtocol(text: string, method: string, url: string): Uint8Array {
  try {
    return fromHex(text);
  } catch {
    throw protocolError(method, url, 'a result that is not hex');
  }
}

export function amount(o: Record<string, unknown>, key: string, method: string, url: string): bigint {
  const v = o[key];
  try {
    if (typeof v !== 'number' && typeof v !== 'string') throw new TypeError();
    return btcToSats(v, key);
  } catch {
    throw protocolError(method, url, `a "${key}" that is not a BTC amount`);
  }
}
