/**
 * Colu coloring across transactions: the assets on each output of a transaction, from
 * its "CC" payload and the assets on the outputs its inputs spend, found recursively in
 * the ancestors (a file or a node). A transaction without a Colu payload is taken to
 * carry no assets on its outputs (the flow vectors do not cover it; see docs), so the
 * recursion stops there, as Open Assets' stops at a transaction without a marker.
 */
import type { Network } from '../network.ts';
import { OffchainError } from '../errors.ts';
import type { RawTx } from '../tx/raw.ts';
import { lockedAssetId, unlockedAssetId } from './asset-id.ts';
import { decodeColuPayload, findColuOutput, type ColuPayload } from './decode.ts';
import { assetsOutputs, type ColuAsset } from './flow.ts';

export interface ColuColoring {
  status: 'colored' | 'undecided' | 'no-payload' | 'unsupported';
  outputs: (ColuAsset[] | null)[];
  overflow?: boolean;
  missing?: string[];
  reason?: string;
}

export class ColuColorer {
  private readonly cache = new Map<string, ColuColoring>();
  private readonly txs = new Map<string, RawTx | null>();
  constructor(
    private readonly opts: { source: (txid: string) => Promise<Uint8Array | undefined>; parse: (b: Uint8Array) => RawTx; network: Network; cacheSize?: number },
  ) {}

  private async tx(txid: string): Promise<RawTx | undefined> {
    if (this.txs.has(txid)) return this.txs.get(txid) ?? undefined;
    const bytes = await this.opts.source(txid);
    const tx = bytes ? this.opts.parse(bytes) : null;
    this.bound(this.txs);
    this.txs.set(txid, tx);
    return tx ?? undefined;
  }

  private bound(m: Map<string, unknown>): void {
    if (m.size >= (this.opts.cacheSize ?? 10_000)) m.delete(m.keys().next().value!);
  }

  async color(tx: RawTx): Promise<ColuColoring> {
    const hit = this.cache.get(tx.txid);
    if (hit) return hit;
    const c = await this.compute(tx);
    if (c.status !== 'undecided') {
      this.bound(this.cache);
      this.cache.set(tx.txid, c);
    }
    return c;
  }

  private async compute(tx: RawTx): Promise<ColuColoring> {
    const none = new Array(tx.outputs.length).fill(null);
    const found = findColuOutput(tx);
    if (!found.data) return { status: 'no-payload', outputs: none, reason: found.reason };
    let payload: ColuPayload;
    try {
      payload = decodeColuPayload(found.data);
    } catch (e) {
      if (e instanceof OffchainError) return { status: 'no-payload', outputs: none, reason: e.message };
      throw e;
    }
    const missing: string[] = [];
    const inputs: ColuAsset[][] = [];
    let firstPrevScript: Uint8Array | undefined;
    for (const [i, input] of tx.inputs.entries()) {
      const prev = await this.tx(input.prevTxid);
      if (!prev) {
        if (!missing.includes(input.prevTxid)) missing.push(input.prevTxid);
        inputs.push([]);
        continue;
      }
      if (i === 0) firstPrevScript = prev.outputs[input.vout]?.script;
      const pc = await this.color(prev);
      if (pc.status === 'undecided') {
        for (const m of pc.missing ?? []) if (!missing.includes(m)) missing.push(m);
        inputs.push([]);
        continue;
      }
      inputs.push(pc.outputs[input.vout] ?? []);
    }
    if (missing.length > 0) return { status: 'undecided', outputs: none, missing };
    let issuance: { assetId: string | null; issueTxid: string } | undefined;
    if (payload.type === 'issuance') {
      const first = tx.inputs[0]!;
      const policy = payload.aggregationPolicy ?? 'aggregatable';
      const div = payload.divisibility ?? 0;
      const assetId = payload.lockStatus ? lockedAssetId(first.prevTxid, first.vout, policy, div) : firstPrevScript ? unlockedAssetId(firstPrevScript, policy, div) : null;
      issuance = { assetId, issueTxid: tx.txid };
    }
    const r = assetsOutputs(inputs, tx.outputs.length, payload, issuance);
    if (r.unsupported) return { status: 'unsupported', outputs: none, reason: r.unsupported };
    return { status: 'colored', outputs: r.outputs, overflow: r.overflow };
  }
}
