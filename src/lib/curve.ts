/**
 * secp256k1 tuning by workload. noble precomputes a table for the base point on its
 * first use; the default 8-bit window costs ~20 ms to build and pays off only after
 * dozens of multiplications. A one-shot CLI invocation does a handful, so it uses a
 * 4-bit window; long-running modes (a mint streaming updates) keep the large one.
 * Results are identical either way; only speed changes.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';

export function setBasePointWindow(bits: number): void {
  secp256k1.Point.BASE.precompute(bits, true);
}
