/**
 * Bitcoin Core's JSON amounts (BTC with up to 8 decimals, e.g. `20999999.97690000`)
 * to exact bigint satoshis, and back for display.
 *
 * Why this is exact for numbers: Core writes amounts with ValueFromAmount, i.e. an
 * exact decimal with 8 places, and `JSON.parse` rounds it once to the nearest double.
 * For |x| ≤ 21e6 BTC (MAX_MONEY) the spacing of doubles is at most 2^-28 ≈ 3.7e-9, so
 * that double lies within 1.9e-9 of the original decimal, well under half a satoshi
 * (5e-9). `Number.prototype.toFixed(8)` rounds the double's *exact* binary value to
 * the nearest 8-decimal string (ECMA-262 specifies it on the mathematical value), which
 * is therefore the decimal Core wrote. We then read that string as an integer.
 * `Math.round(x * 1e8)` would add a second rounding (the multiplication) and needs a
 * subtler argument; string parsing avoids it. Text input (`"0.1"`) is parsed directly.
 */
import { MalformedInputError } from '../errors.ts';
import { MAX_MONEY } from '../constants.ts';

const SATS_PER_BTC = 100_000_000n;
const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d{1,8}))?$/;

/** BTC (JSON number or decimal text) to satoshis, exactly; refuses more than 8 decimals or |v| > 21e6 BTC. */
export function btcToSats(value: number | string, field = 'amount'): bigint {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > 21_000_000) {
      throw new MalformedInputError('E_BAD_AMOUNT', `${field} is not a BTC amount: ${value}`);
    }
    text = value.toFixed(8);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new MalformedInputError('E_BAD_AMOUNT', `${field} must be a BTC amount, got ${typeof value}`);
  }
  const m = DECIMAL_RE.exec(text);
  if (!m) throw new MalformedInputError('E_BAD_AMOUNT', `${field} is not a BTC amount with at most 8 decimals: ${JSON.stringify(value)}`);
  const sats = BigInt(m[2]!) * SATS_PER_BTC + BigInt((m[3] ?? '').padEnd(8, '0'));
  if (sats > MAX_MONEY) throw new MalformedInputError('E_BAD_AMOUNT', `${field} exceeds 21,000,000 BTC: ${text}`);
  return m[1] === '-' ? -sats : sats;
}

/** Satoshis to Core's 8-decimal BTC text (for messages and for RPC parameters given as strings). */
export function satsToBtc(sats: bigint): string {
  const neg = sats < 0n;
  const abs = neg ? -sats : sats;
  return `${neg ? '-' : ''}${abs / SATS_PER_BTC}.${(abs % SATS_PER_BTC).toString().padStart(8, '0')}`;
}
