/**
 * The JSON views of single PSBT fields for `psbt decode` (decode.ts): BIP-32 and
 * BIP-371 derivations, taproot leaf scripts grouped as Core groups them, BIP-373 MuSig2
 * entries, global xpubs, proprietary and unknown records, each in a deterministic order.
 * Reads only; the map-level view and Core's key names for it are in decode.ts.
 */
import { TaprootControlBlock } from '@scure/btc-signer/psbt.js';
import { base58check } from '../address.ts';
import { compareBytes, concatBytes, toHex } from '../bytes.ts';
import { readCompactSize, type PsbtRecord } from './maps.ts';

export type Bip32DerivView = { pubkey: Uint8Array; master_fingerprint: string; path: string };
export type TaprootBip32DerivView = Bip32DerivView & { leaf_hashes: Uint8Array[] };
export type TaprootScriptPathSigView = { pubkey: Uint8Array; leaf_hash: Uint8Array; sig: Uint8Array };
export type TaprootScriptView = { script: Uint8Array; leaf_ver: number; control_blocks: Uint8Array[] };
export type TaprootLeafView = { depth: number; leaf_ver: number; script: Uint8Array };
export type Musig2ParticipantsView = { aggregate_pubkey: Uint8Array; participant_pubkeys: Uint8Array[] };
export type Musig2PubNonceView = { participant_pubkey: Uint8Array; aggregate_pubkey: Uint8Array; leaf_hash?: Uint8Array; pubnonce: Uint8Array };
export type Musig2PartialSigView = { participant_pubkey: Uint8Array; aggregate_pubkey: Uint8Array; leaf_hash?: Uint8Array; partial_sig: Uint8Array };
/** `PSBT_*_PROPRIETARY`: `key` is the key data after identifier and subtype. */
export type ProprietaryView = { identifier: Uint8Array; subtype: number; key: Uint8Array; value: Uint8Array };
export type GlobalXpubView = { xpub: string; master_fingerprint: string; path: string };

export function addExtensions(view: { proprietary?: ProprietaryView[]; unknown?: Record<string, Uint8Array> }, records: PsbtRecord[], rendered: Set<number>): void {
  const proprietary = proprietaryViews(records);
  if (proprietary.length) view.proprietary = proprietary;
  const unknown = unknownRecords(records, rendered);
  if (Object.keys(unknown).length) view.unknown = unknown;
}

export function byHexKey(entries: [Uint8Array, Uint8Array][]): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of entries) out[toHex(k)] = v;
  return out;
}

type Derivation = { fingerprint: number; path: number[] };

function fingerprintHex(fingerprint: number): string {
  return (fingerprint >>> 0).toString(16).padStart(8, '0');
}

/** BIP-32 path as Core writes it: `m/84h/1h/0h/0/5`. */
export function formatPath(path: number[]): string {
  return ['m', ...path.map((i) => (i >= 0x80000000 ? `${i - 0x80000000}h` : `${i}`))].join('/');
}

export function bip32Views(entries: [Uint8Array, Derivation][]): Bip32DerivView[] {
  return entries
    .map(([pubkey, d]) => ({ pubkey, master_fingerprint: fingerprintHex(d.fingerprint), path: formatPath(d.path) }))
    .sort((a, b) => compareBytes(a.pubkey, b.pubkey));
}

export function tapBip32Views(entries: [Uint8Array, { hashes: Uint8Array[]; der: Derivation }][]): TaprootBip32DerivView[] {
  return entries
    .map(([pubkey, { hashes, der }]) => ({
      pubkey,
      master_fingerprint: fingerprintHex(der.fingerprint),
      path: formatPath(der.path),
      leaf_hashes: [...hashes].sort(compareBytes),
    }))
    .sort((a, b) => compareBytes(a.pubkey, b.pubkey));
}

type ControlBlock = Parameters<typeof TaprootControlBlock.encode>[0];

/** Group leaf scripts like Core: one entry per (script, leaf version) with all its control blocks. */
export function taprootScripts(entries: [ControlBlock, Uint8Array][]): TaprootScriptView[] {
  const byLeaf = new Map<string, TaprootScriptView>();
  for (const [cb, scriptWithVersion] of entries) {
    const script = scriptWithVersion.subarray(0, -1);
    const leafVer = scriptWithVersion[scriptWithVersion.length - 1] ?? 0;
    const id = `${toHex(script)}/${leafVer}`;
    const view = byLeaf.get(id) ?? { script, leaf_ver: leafVer, control_blocks: [] };
    view.control_blocks.push(TaprootControlBlock.encode(cb));
    byLeaf.set(id, view);
  }
  const views = [...byLeaf.values()];
  for (const v of views) v.control_blocks.sort(compareBytes);
  return views.sort((a, b) => compareBytes(a.script, b.script) || a.leaf_ver - b.leaf_ver);
}

export function participantViews(entries: [Uint8Array, Uint8Array[]][]): Musig2ParticipantsView[] {
  // The participant order is KeyAgg's order and is significant: keep it as written.
  return entries
    .map(([aggregate, participants]) => ({ aggregate_pubkey: aggregate, participant_pubkeys: participants }))
    .sort((a, b) => compareBytes(a.aggregate_pubkey, b.aggregate_pubkey));
}

type MusigKey = { participantPubkey: Uint8Array; aggregatePubkey: Uint8Array; leafHash?: Uint8Array };
type MusigKeyView = { participant_pubkey: Uint8Array; aggregate_pubkey: Uint8Array; leaf_hash?: Uint8Array };

/** BIP-373 keyed entries in wire order (participant, aggregate, leaf hash). */
export function musigEntries(entries: [MusigKey, Uint8Array][]): { key: MusigKeyView; value: Uint8Array }[] {
  const wire = (k: MusigKey) => concatBytes(k.participantPubkey, k.aggregatePubkey, k.leafHash ?? new Uint8Array(0));
  return [...entries]
    .sort((a, b) => compareBytes(wire(a[0]), wire(b[0])))
    .map(([k, value]) => {
      const key: MusigKeyView = { participant_pubkey: k.participantPubkey, aggregate_pubkey: k.aggregatePubkey };
      if (k.leafHash) key.leaf_hash = k.leafHash;
      return { key, value };
    });
}

/** `PSBT_*_PROPRIETARY` (0xfc) records: `<compact size len><identifier><compact size subtype><key>`. */
export function proprietaryViews(records: PsbtRecord[]): ProprietaryView[] {
  const out: ProprietaryView[] = [];
  for (const r of records) {
    if (r.keyType !== 0xfc) continue;
    const [idLen, idAt] = readCompactSize(r.keyData, 0, 'proprietary identifier length');
    const [subtype, keyAt] = readCompactSize(r.keyData, idAt + idLen, 'proprietary subtype');
    out.push({ identifier: r.keyData.subarray(idAt, idAt + idLen), subtype, key: r.keyData.subarray(keyAt), value: r.value });
  }
  return out; // records come from our own serialisation, which sorts keys: already deterministic
}

export function unknownRecords(records: PsbtRecord[], rendered: Set<number>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const r of records) if (!rendered.has(r.keyType)) out[toHex(r.key)] = r.value;
  return out;
}

export function xpubView(record: PsbtRecord): GlobalXpubView {
  // Key data is the 78-byte serialized extended public key; the value is fingerprint + path.
  const path: number[] = [];
  for (let at = 4; at + 4 <= record.value.length; at += 4) path.push(readU32(record.value.subarray(at)));
  return {
    xpub: base58check.encode(record.keyData),
    master_fingerprint: toHex(record.value.subarray(0, 4)),
    path: formatPath(path),
  };
}

export function readU32(bytes: Uint8Array): number {
  return ((bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8) | ((bytes[2] ?? 0) << 16) | ((bytes[3] ?? 0) << 24)) >>> 0;
}
