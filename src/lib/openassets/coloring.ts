/**
 * The Open Assets coloring algorithm (specification "Transfer outputs" / "Issuance
 * outputs"): outputs before the marker issue the asset of the first input's previous
 * script, outputs after it take asset units from the inputs in order. Any failure
 * (more quantities than outputs, no inputs, not enough input units, an output mixing
 * two assets) makes the whole transaction uncolored, with the reason stated.
 *
 * Asset IDs inside this module are the 20-byte hash as lowercase hex; the command
 * layer turns them into base58 `A…` / `o…` strings.
 */
import { toHex } from '../bytes.ts';
import { hash160 } from './ids.ts';
import { looksLikeMarker, parseMarkerScript, type MarkerRule } from './marker.ts';
import type { RawTx } from '../tx/raw.ts';

/**
 * A bounded map evicting the oldest entry (insertion order, no reordering on reads:
 * cheaper than an LRU at stream rates, and a chain's ancestors are recent lines).
 */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): V {
    if (this.map.size >= this.capacity && !this.map.has(key)) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, value);
    return value;
  }
}

export type OutputType = 'issuance' | 'marker' | 'transfer' | 'uncolored';

export interface InputColor {
  assetId: string | null;
  quantity: bigint;
}
export interface OutputColor {
  type: OutputType;
  assetId: string | null;
  quantity: bigint;
}

export type ComputeResult = { ok: true; outputs: OutputColor[] } | { ok: false; reason: string };

/**
 * Assign colors given the inputs' colors, the first input's previous script, the
 * marker's index and quantity list (the Python reference's `_compute_asset_ids`).
 */
export function computeAssetIds(
  inputs: readonly InputColor[],
  firstInputScript: Uint8Array | undefined,
  markerIndex: number,
  outputCount: number,
  quantities: readonly bigint[],
): ComputeResult {
  if (quantities.length > outputCount - 1) {
    return { ok: false, reason: `the marker lists ${quantities.length} asset quantities for ${outputCount - 1} outputs besides the marker` };
  }
  if (inputs.length === 0) return { ok: false, reason: 'a transaction without inputs cannot be colored' };
  const out: OutputColor[] = new Array(outputCount);
  let issuanceId: string | null = null;
  for (let i = 0; i < markerIndex; i++) {
    const q = i < quantities.length ? quantities[i]! : 0n;
    if (q > 0n) {
      if (issuanceId === null) {
        if (firstInputScript === undefined) return { ok: false, reason: 'the first input\'s previous script is unknown' };
        issuanceId = toHex(hash160(firstInputScript));
      }
      out[i] = { type: 'issuance', assetId: issuanceId, quantity: q };
    } else out[i] = { type: 'issuance', assetId: null, quantity: 0n };
  }
  out[markerIndex] = { type: 'marker', assetId: null, quantity: 0n };
  let inputIndex = -1;
  let current: InputColor | undefined;
  let inputLeft = 0n;
  for (let i = markerIndex + 1; i < outputCount; i++) {
    const q = i <= quantities.length ? quantities[i - 1]! : 0n;
    let left = q;
    let assetId: string | null = null;
    while (left > 0n) {
      if (inputLeft === 0n) {
        inputIndex++;
        current = inputs[inputIndex];
        if (current === undefined) {
          return { ok: false, reason: `output ${i} asks for more asset units than the inputs hold` };
        }
        inputLeft = current.quantity;
      }
      if (current!.assetId !== null) {
        const step = inputLeft < left ? inputLeft : left;
        left -= step;
        inputLeft -= step;
        if (assetId === null) assetId = current!.assetId;
        else if (assetId !== current!.assetId) return { ok: false, reason: `output ${i} would mix two assets` };
      }
    }
    out[i] = { type: 'transfer', assetId, quantity: q };
  }
  return { ok: true, outputs: out };
}

export interface MarkerInfo {
  index: number;
  payload: Uint8Array;
  quantities: bigint[];
  metadata: Uint8Array;
}

export type TxColoring =
  /** A marker was found and the coloring succeeded. */
  | { status: 'colored'; marker: MarkerInfo; outputs: OutputColor[] }
  /** No marker, or the coloring failed: every output uncolored, with the reason. */
  | { status: 'uncolored'; reason: string; marker?: MarkerInfo; outputs: OutputColor[] }
  /** Colors depend on ancestors not available: exactly which (txids). */
  | { status: 'undecided'; missing: string[]; reason?: string; marker: MarkerInfo; outputs: OutputColor[] };

/** Marker candidates of a transaction in output order (spec: only the first valid one). */
export function findMarkers(tx: RawTx, rule: MarkerRule): MarkerInfo[] {
  const found: MarkerInfo[] = [];
  for (let i = 0; i < tx.outputs.length; i++) {
    const s = tx.outputs[i]!.script;
    if (!looksLikeMarker(s)) continue;
    const m = parseMarkerScript(s, rule);
    if (m.ok) {
      found.push({ index: i, payload: m.payload, quantities: m.quantities, metadata: m.metadata });
      if (rule === 'spec') break;
    }
  }
  return found;
}

function uncoloredOutputs(n: number): OutputColor[] {
  return Array.from({ length: n }, () => ({ type: 'uncolored' as const, assetId: null, quantity: 0n }));
}

/** Where previous transactions come from: raw bytes by txid, or undefined when unknown. */
export type TxSource = (txid: string) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

export interface ColorerOptions {
  rule: MarkerRule;
  source: TxSource;
  parse: (bytes: Uint8Array) => RawTx;
  /** Entries kept in each cache (transactions, colorings). */
  cacheSize?: number;
  /** Longest chain of Open Assets ancestors followed (a guard against runaway recursion). */
  maxDepth?: number;
}

const NULL_TXID = '00'.repeat(32);

/** BIP-34's coinbase: one input, spending the null outpoint (txid zero, index 0xffffffff). */
export function isCoinbase(tx: RawTx): boolean {
  return tx.inputs.length === 1 && tx.inputs[0]!.prevTxid === NULL_TXID && tx.inputs[0]!.vout === 0xffffffff;
}

/** Colors transactions, fetching and coloring their ancestors recursively, with caches. */
export class Colorer {
  private readonly txs: BoundedMap<RawTx>;
  private readonly colorings: BoundedMap<TxColoring>;
  readonly maxDepth: number;
  fetched = 0;

  constructor(private readonly opts: ColorerOptions) {
    this.txs = new BoundedMap(opts.cacheSize ?? 100_000);
    this.colorings = new BoundedMap(opts.cacheSize ?? 100_000);
    this.maxDepth = opts.maxDepth ?? 1_000;
  }

  /** Remember a transaction (e.g. an earlier line of a stream) as a possible ancestor. */
  remember(tx: RawTx): void {
    this.txs.set(tx.txid, tx);
  }

  private async getTx(txid: string): Promise<RawTx | undefined> {
    const hit = this.txs.get(txid);
    if (hit) return hit;
    const raw = await this.opts.source(txid);
    if (raw === undefined) return undefined;
    this.fetched++;
    const tx = this.opts.parse(raw);
    if (tx.txid !== txid) return undefined;
    return this.txs.set(txid, tx);
  }

  async color(tx: RawTx, depth = 0): Promise<TxColoring> {
    const cached = this.colorings.get(tx.txid);
    if (cached) return cached;
    const result = await this.colorUncached(tx, depth);
    if (result.status !== 'undecided') this.colorings.set(tx.txid, result);
    return result;
  }

  private async colorUncached(tx: RawTx, depth: number): Promise<TxColoring> {
    const markers = findMarkers(tx, this.opts.rule);
    const n = tx.outputs.length;
    if (markers.length === 0) return { status: 'uncolored', reason: 'no valid marker output', outputs: uncoloredOutputs(n) };
    // A coinbase spends no output (its one input is the null outpoint): nothing to fetch, no asset
    // to carry or issue from — uncolored, as the Open Assets reference implementation answers.
    if (isCoinbase(tx)) return { status: 'uncolored', reason: 'a coinbase transaction: it has no input to color from', marker: markers[0]!, outputs: uncoloredOutputs(n) };
    if (depth > this.maxDepth) {
      const reason = `more than ${this.maxDepth} Open Assets ancestors in a row: color the older transactions first (a stream in chain order caches them)`;
      return { status: 'undecided', missing: [], reason, marker: markers[0]!, outputs: uncoloredOutputs(n) };
    }
    // The inputs' colors (and the first input's previous script).
    const inputs: InputColor[] = new Array(tx.inputs.length);
    const missing = new Set<string>();
    let firstScript: Uint8Array | undefined;
    let deeper: string | undefined;
    for (let k = 0; k < tx.inputs.length; k++) {
      const input = tx.inputs[k]!;
      const prev = await this.getTx(input.prevTxid);
      if (!prev) {
        missing.add(input.prevTxid);
        inputs[k] = { assetId: null, quantity: 0n };
        continue;
      }
      const out = prev.outputs[input.vout];
      if (!out) {
        inputs[k] = { assetId: null, quantity: 0n };
        continue;
      }
      if (k === 0) firstScript = out.script;
      const c = await this.color(prev, depth + 1);
      if (c.status === 'undecided') {
        for (const m of c.missing) missing.add(m);
        deeper ??= c.reason;
      }
      const oc = c.outputs[input.vout]!;
      inputs[k] = { assetId: oc.assetId, quantity: oc.quantity };
    }
    if (missing.size > 0 || deeper !== undefined) {
      return { status: 'undecided', missing: [...missing], ...(deeper !== undefined ? { reason: deeper } : {}), marker: markers[0]!, outputs: uncoloredOutputs(n) };
    }
    let firstFailure: { marker: MarkerInfo; reason: string } | undefined;
    for (const marker of markers) {
      const r = computeAssetIds(inputs, firstScript, marker.index, n, marker.quantities);
      if (r.ok) return { status: 'colored', marker, outputs: r.outputs };
      firstFailure ??= { marker, reason: r.reason };
    }
    return { status: 'uncolored', reason: firstFailure!.reason, marker: firstFailure!.marker, outputs: uncoloredOutputs(n) };
  }
}
