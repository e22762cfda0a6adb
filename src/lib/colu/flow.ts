/**
 * Colu's asset flow (cc-get-assets-outputs 1.2.1, as its 14 test vectors pin it down):
 * which assets each output of a transaction carries, given the assets on the outputs its
 * inputs spend and its decoded "CC" payload.
 *
 * - Issuance: the new asset is put first on input 0.
 * - Payments run in order over the inputs' assets, an input at a time: a payment's
 *   `input` moves the cursor forward to that input (never back); a payment larger than
 *   the current asset continues into the next asset (and input), and the parts join into
 *   one entry only when they are the same asset ID and aggregatable — otherwise the
 *   transaction overflows. Two payments never join, even to the same output.
 * - A zero-amount payment moves nothing; a burn moves its amount nowhere.
 * - Overflow (a payment to an output that does not exist, more units than the inputs
 *   hold, a join that is not allowed, an input without assets): every input asset goes to
 *   the last output, and `overflow` is true.
 * - Otherwise what is left on the inputs goes, in input order, to the last output.
 * In both last-output transfers consecutive entries of the same aggregatable asset join
 * each other, but not the entries the payments already put there.
 * Percent payments are not in the vectors and are not implemented (`unsupported`).
 */
import type { ColuPayload } from './decode.ts';

export interface ColuAsset {
  assetId: string | null;
  amount: bigint;
  issueTxid: string;
  divisibility: number;
  lockStatus: boolean;
  aggregationPolicy: 'aggregatable' | 'hybrid' | 'dispersed';
}

export interface FlowResult {
  outputs: (ColuAsset[] | null)[];
  overflow: boolean;
  unsupported?: string;
}

const same = (a: ColuAsset, b: ColuAsset) => a.assetId === b.assetId && a.aggregationPolicy === 'aggregatable' && b.aggregationPolicy === 'aggregatable';

export function assetsOutputs(
  inputs: ColuAsset[][],
  outputCount: number,
  payload: Pick<ColuPayload, 'type' | 'payments' | 'amount' | 'divisibility' | 'lockStatus' | 'aggregationPolicy'> | undefined,
  issuance?: { assetId: string | null; issueTxid: string },
): FlowResult {
  const vin = inputs.map((assets) => assets.map((a) => ({ ...a })));
  if (payload?.type === 'issuance') {
    if (vin.length === 0) vin.push([]);
    vin[0]!.unshift({
      assetId: issuance?.assetId ?? null,
      amount: payload.amount ?? 0n,
      issueTxid: issuance?.issueTxid ?? '',
      divisibility: payload.divisibility ?? 0,
      lockStatus: payload.lockStatus ?? false,
      aggregationPolicy: payload.aggregationPolicy ?? 'aggregatable',
    });
  }
  const payments = payload?.payments ?? [];
  if (payments.some((p) => p.percent)) return { outputs: new Array(outputCount).fill(null), overflow: false, unsupported: 'percent payments are not implemented' };
  const outputs: (ColuAsset[] | null)[] = new Array(outputCount).fill(null);
  const last = outputCount - 1;
  const pristine = vin.map((assets) => assets.map((a) => ({ ...a })));
  if (!pay(vin, payments, outputs, outputCount)) {
    outputs.fill(null);
    toLast(outputs, pristine, last);
    return { outputs, overflow: true };
  }
  toLast(outputs, vin, last);
  return { outputs, overflow: false };
}

function pay(vin: ColuAsset[][], payments: ColuPayload['payments'], outputs: (ColuAsset[] | null)[], outputCount: number): boolean {
  let inIdx = 0;
  let asIdx = 0;
  const settle = () => {
    while (inIdx < vin.length && asIdx >= vin[inIdx]!.length) {
      inIdx++;
      asIdx = 0;
    }
  };
  for (const p of payments) {
    if (!p.burn && (p.output === undefined || p.output >= outputCount)) return false;
    if (p.input > inIdx) {
      inIdx = p.input;
      asIdx = 0;
    }
    if (p.amount === 0n) continue;
    let need = p.amount;
    let joined: ColuAsset | undefined;
    while (need > 0n) {
      settle();
      const cur = vin[inIdx]?.[asIdx];
      if (!cur) return false;
      const take = need < cur.amount ? need : cur.amount;
      if (!p.burn) {
        if (joined) {
          if (!same(joined, cur)) return false;
          joined.amount += take;
        } else {
          joined = { ...cur, amount: take };
          (outputs[p.output!] ??= []).push(joined);
        }
      }
      cur.amount -= take;
      need -= take;
      if (cur.amount === 0n) asIdx++;
    }
    settle();
  }
  return true;
}

function toLast(outputs: (ColuAsset[] | null)[], vin: ColuAsset[][], last: number): void {
  let prev: ColuAsset | undefined;
  for (const assets of vin) {
    for (const a of assets) {
      if (a.amount === 0n) continue;
      if (prev && same(prev, a)) {
        prev.amount += a.amount;
        continue;
      }
      prev = { ...a };
      (outputs[last] ??= []).push(prev);
    }
  }
}
