/**
 * The `openassets/decoded` message of one transaction: every output's value, script,
 * address, colored address and — when its ancestors are known — role, asset ID and
 * quantity. Also the readers of transaction text (raw hex, a PSBT's unsigned
 * transaction, `{"tx": hex}` lines) shared by the one-shot and streaming modes.
 */
import { Transaction } from '@scure/btc-signer';
import { base64 } from '@scure/base';
import { fromHex, toHex } from '../bytes.ts';
import { MalformedInputError } from '../errors.ts';
import { MESSAGE_VERSION } from '../envelope.ts';
import type { Network } from '../network.ts';
import { scriptAddress } from '../address.ts';
import { base58AddressesOfScript, encodeAssetId } from './ids.ts';
import { assetDefinitionUrl, metadataText, type MarkerRule } from './marker.ts';
import { parseRawTx, type RawTx } from '../tx/raw.ts';
import type { Colorer, MarkerInfo, TxColoring } from './coloring.ts';

export const DECODED_TYPE = 'openassets/decoded';
export const ERROR_TYPE = 'openassets/error';

const PSBT_MAGIC_HEX = '70736274ff';
const HEX_RE = /^[0-9a-fA-F]*$/;

/** Transaction bytes from text: raw hex, a PSBT (base64 / hex; its unsigned tx) or `{"tx": hex}`. */
export function txBytesFromText(text: string, where = 'the input'): Uint8Array {
  const t = text.trim();
  // One code for an empty input across the toolkit (docs/cli.md; was E_OA_EMPTY).
  if (t.length === 0) throw new MalformedInputError('E_EMPTY_INPUT', `${where} is empty: expected a raw transaction in hex`);
  // The stream's usual line, {"tx":"<hex>"}, without JSON.parse: between the quotes there
  // is no quote or backslash, so the JSON string is exactly those characters.
  if (t.startsWith('{"tx":"') && t.endsWith('"}')) {
    const inner = t.slice(7, -2);
    if (HEX_RE.test(inner)) return txBytesFromText(inner, where);
  }
  if (t.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new MalformedInputError('E_MALFORMED_JSON', `${where} is not valid JSON: ${(e as Error).message}`);
    }
    const o = v as Record<string, unknown>;
    const field = typeof o?.tx === 'string' ? o.tx : typeof o?.hex === 'string' ? o.hex : typeof o?.psbt === 'string' ? o.psbt : undefined;
    if (field === undefined) throw new MalformedInputError('E_OA_NO_TX', `${where} is a JSON object without a "tx" (raw hex), "hex" or "psbt" field`);
    return txBytesFromText(field, where);
  }
  if (/^cHNidP[89+/]/.test(t)) {
    let bytes: Uint8Array;
    try {
      bytes = base64.decode(t.replace(/\s+/g, ''));
    } catch {
      throw new MalformedInputError('E_MALFORMED_PSBT', `${where} looks like a base64 PSBT but is not valid base64`);
    }
    return psbtUnsignedTx(bytes, where);
  }
  if (!HEX_RE.test(t)) throw new MalformedInputError('E_OA_BAD_TX', `${where} is not a raw transaction in hex, a PSBT or a {"tx": hex} object`);
  if (t.length % 2 !== 0) throw new MalformedInputError('E_OA_BAD_TX', `${where} has an odd number of hex digits`);
  const bytes = Buffer.from(t, 'hex');
  if (t.toLowerCase().startsWith(PSBT_MAGIC_HEX)) return psbtUnsignedTx(bytes, where);
  return bytes;
}

function psbtUnsignedTx(bytes: Uint8Array, where: string): Uint8Array {
  try {
    return Transaction.fromPSBT(bytes, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true }).unsignedTx;
  } catch (e) {
    throw new MalformedInputError('E_MALFORMED_PSBT', `${where} is not a valid PSBT: ${(e as Error).message}`);
  }
}

/** Ancestors from text: JSON Lines (`{"tx": hex}`) or one hex transaction per line. */
export function parsePrevText(text: string, name: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const bytes = txBytesFromText(lines[i]!, `${name} line ${i + 1}`);
    let tx: RawTx;
    try {
      tx = parseRawTx(bytes);
    } catch (e) {
      throw new MalformedInputError('E_OA_BAD_TX', `${name} line ${i + 1}: ${(e as Error).message}`);
    }
    out.set(tx.txid, bytes);
  }
  return out;
}

function markerJson(m: MarkerInfo) {
  const text = metadataText(m.metadata);
  const url = assetDefinitionUrl(m.metadata);
  return {
    output: m.index,
    payload: toHex(m.payload),
    asset_quantities: m.quantities.map(String),
    metadata: toHex(m.metadata),
    ...(text !== undefined && m.metadata.length > 0 ? { metadata_text: text } : {}),
    ...(url !== undefined ? { asset_definition_url: url } : {}),
  };
}

/** Only a witness program (OP_0..OP_16, one 2..40-byte push) can have an address besides the base58 ones. */
function isWitnessProgram(s: Uint8Array): boolean {
  return s.length >= 4 && s.length <= 42 && (s[0] === 0 || (s[0]! >= 0x51 && s[0]! <= 0x60)) && s[1] === s.length - 2;
}

/**
 * Addresses by script hex: a bounded cache (scripts recur — change addresses, exchanges —
 * and each base58 pair costs two double SHA-256s and two base conversions).
 */
const addressCache = new Map<string, { address: string | null; colored: string | null }>();
function cachedAddressesOf(scriptHex: string, script: Uint8Array, network: Network) {
  const key = network + scriptHex;
  let hit = addressCache.get(key);
  if (hit === undefined) {
    if (addressCache.size >= 4096) addressCache.clear();
    hit = addressesOf(script, network);
    addressCache.set(key, hit);
  }
  return hit;
}

function addressesOf(script: Uint8Array, network: Network) {
  const b58 = base58AddressesOfScript(script, network);
  if (b58) return b58;
  // btc-signer only for witness programs: for anything else it throws, which cost ~30 µs a marker output.
  return { address: isWitnessProgram(script) ? (scriptAddress(script, network) ?? null) : null, colored: null };
}

/** Asset IDs repeat along a chain: a bounded cache of their base58 form. */
const assetIdCache = new Map<string, string>();
function assetIdText(hash: string, network: Network): string {
  const key = network + hash;
  let hit = assetIdCache.get(key);
  if (hit === undefined) {
    if (assetIdCache.size >= 10_000) assetIdCache.clear();
    hit = encodeAssetId(fromHex(hash), network);
    assetIdCache.set(key, hit);
  }
  return hit;
}

/** The decoded message of a parsed, colored transaction. */
export function decodedMessage(tx: RawTx, coloring: TxColoring, network: Network, rule: MarkerRule, extra: Record<string, unknown> = {}) {
  const markerIndex = coloring.marker?.index;
  const outputs = tx.outputs.map((o, index) => {
    const script = Buffer.from(o.script.buffer, o.script.byteOffset, o.script.length).toString('hex');
    const { address, colored } = cachedAddressesOf(script, o.script, network);
    const c = coloring.outputs[index]!;
    const type =
      coloring.status === 'undecided' ? (index < markerIndex! ? 'issuance' : index === markerIndex ? 'marker' : 'transfer') : c.type;
    return {
      index,
      value: Number(o.value),
      script,
      address,
      colored_address: colored,
      type,
      asset_id: c.assetId === null ? null : assetIdText(c.assetId, network),
      asset_quantity: coloring.status === 'undecided' ? null : String(c.quantity),
    };
  });
  return {
    type: DECODED_TYPE,
    version: MESSAGE_VERSION,
    network,
    ...extra,
    txid: tx.txid,
    rule,
    status: coloring.status,
    ...(coloring.status !== 'colored' && coloring.reason !== undefined ? { reason: coloring.reason } : {}),
    ...(coloring.status === 'undecided' ? { missing_ancestors: coloring.missing } : {}),
    ...(coloring.marker ? { marker: markerJson(coloring.marker) } : {}),
    outputs,
  };
}

/** Parse and color one transaction. */
export async function decodeTransaction(bytes: Uint8Array, colorer: Colorer, network: Network, rule: MarkerRule, extra?: Record<string, unknown>) {
  const tx = parseRawTx(bytes);
  const coloring = await colorer.color(tx);
  return { tx, message: decodedMessage(tx, coloring, network, rule, extra) };
}

/**
 * The stream's line: exactly `JSON.stringify(decodedMessage(tx, coloring, network, rule,
 * { line }))` (plus `hint_if_missing` last when given), written directly — the generic
 * stringify of the message object was a tenth of the stream's time. Free text (reason,
 * metadata) still goes through JSON.stringify; everything else is hex, base58, bech32,
 * digits or fixed words. A test compares both forms over generated chains.
 */
export function decodedLine(tx: RawTx, coloring: TxColoring, network: Network, rule: MarkerRule, line: number, hint?: string): string {
  const undecided = coloring.status === 'undecided';
  const markerIndex = coloring.marker?.index;
  let s = `{"type":"${DECODED_TYPE}","version":${MESSAGE_VERSION},"network":"${network}","line":${line},"txid":"${tx.txid}","rule":"${rule}","status":"${coloring.status}"`;
  if (coloring.status !== 'colored' && coloring.reason !== undefined) s += `,"reason":${JSON.stringify(coloring.reason)}`;
  if (undecided) s += `,"missing_ancestors":${JSON.stringify(coloring.missing)}`;
  if (coloring.marker) s += `,"marker":${JSON.stringify(markerJson(coloring.marker))}`;
  s += ',"outputs":[';
  const outs = tx.outputs;
  for (let index = 0; index < outs.length; index++) {
    const o = outs[index]!;
    const script = Buffer.from(o.script.buffer, o.script.byteOffset, o.script.length).toString('hex');
    const { address, colored } = cachedAddressesOf(script, o.script, network);
    const c = coloring.outputs[index]!;
    const type = undecided ? (index < markerIndex! ? 'issuance' : index === markerIndex ? 'marker' : 'transfer') : c.type;
    s += `${index === 0 ? '' : ','}{"index":${index},"value":${Number(o.value)},"script":"${script}","address":${address === null ? 'null' : `"${address}"`},"colored_address":${colored === null ? 'null' : `"${colored}"`},"type":"${type}","asset_id":${c.assetId === null ? 'null' : `"${assetIdText(c.assetId, network)}"`},"asset_quantity":${undecided ? 'null' : `"${c.quantity}"`}}`;
  }
  s += ']';
  if (hint !== undefined) s += `,"hint_if_missing":${JSON.stringify(hint)}`;
  return s + '}';
}
