/**
 * Feature bits (BOLT 9) as invoices carry them: "it's ok to be odd". A reader ignores an
 * unknown odd bit and refuses an unknown even one (BOLT 11 `9`, BOLT 12 `offer_features`,
 * `invreq_features`, `invoice_features`, `blinded_payinfo.features`). Bit 0 is the
 * least significant bit of the last word (BOLT 11) or byte (BOLT 12).
 */
import { RefusedError } from '../errors.ts';

/** BOLT 9 features whose context includes `9` (BOLT 11 invoices), as pairs (even, odd). */
export const BOLT11_KNOWN_FEATURES: ReadonlyMap<number, string> = new Map([
  [8, 'var_onion_optin'],
  [14, 'payment_secret'],
  [16, 'basic_mpp'],
  [24, 'option_route_blinding'],
  [48, 'option_payment_metadata'],
]);
/** BOLT 9's dependencies among them: payment_secret needs var_onion_optin, basic_mpp needs payment_secret. */
export const BOLT11_DEPENDENCIES: ReadonlyArray<[number, number]> = [
  [14, 8],
  [16, 14],
];
/** BOLT 12 "Invoice Features": MPP (16/17). Offers and invoice requests define none yet. */
export const BOLT12_INVOICE_FEATURES: ReadonlyMap<number, string> = new Map([[16, 'MPP']]);
export const NO_FEATURES: ReadonlyMap<number, string> = new Map();

/** The set bits of a big-endian bitfield of `width`-bit units, ascending. */
export function featureBits(units: ArrayLike<number>, width: 5 | 8): number[] {
  const bits: number[] = [];
  for (let i = units.length - 1, base = 0; i >= 0; i--, base += width) {
    const u = units[i]!;
    for (let b = 0; b < width; b++) if (u & (1 << b)) bits.push(base + b);
  }
  return bits;
}

/** Refuses an unknown even bit (`code`, exit 4), naming it. */
export function checkFeatures(bits: readonly number[], known: ReadonlyMap<number, string>, code: string, where: string): void {
  for (const bit of bits) {
    if (bit % 2 === 0 && !known.has(bit)) {
      throw new RefusedError(code, `${where} require unknown feature ${bit} (an even bit: a reader must not pay what it does not understand)`, { bit });
    }
  }
}

/** Whether `bits` sets feature pair `even` (either its compulsory or optional bit). */
export function hasFeature(bits: readonly number[], even: number): boolean {
  return bits.includes(even) || bits.includes(even + 1);
}
