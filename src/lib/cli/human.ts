/**
 * A view for people (`--human`), beside the JSON every command prints: on a terminal it is
 * the default for the commands that offer one (`credit list`, `device receipt`,
 * `invoice decode`); piped or redirected, standard output stays the JSON message, byte for
 * byte, so scripts see no change. `--no-human` asks for the JSON on a terminal too.
 *
 * The view is text without colour (a copy-pasted id must not carry escape codes); its
 * renderers live with their topics. The flag is flags.ts's `humanFlags`. Helpers here:
 * aligned label/value rows, thousands.
 */

/** Whether to print the view for people: the flag when given, else whether stdout is a terminal. */
export function wantsHuman(flag: boolean | undefined, stdout: { isTTY?: boolean }): boolean {
  return flag ?? stdout.isTTY === true;
}

/** 1234567 → "1,234,567" (any integer, number, bigint or decimal string). */
export function thousands(n: number | bigint | string): string {
  const s = String(n);
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  return (neg ? '-' : '') + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Rows of `label  value`, labels padded to the longest, each row indented by `indent`. */
export function rows(pairs: readonly (readonly [string, string] | undefined)[], indent = '  '): string {
  const kept = pairs.filter((p): p is readonly [string, string] => p !== undefined);
  const width = Math.max(0, ...kept.map(([l]) => l.length));
  return kept.map(([l, v]) => `${indent}${l.padEnd(width)}  ${v}`).join('\n');
}

/** msat (decimal string) as sats for a person: "50,000 sat", or "1.234 sat" when not whole. */
export function msatText(msat: string | bigint): string {
  const m = BigInt(msat);
  const sat = m / 1000n;
  const rest = m % 1000n;
  return rest === 0n ? `${thousands(sat)} sat` : `${thousands(sat)}.${rest.toString().padStart(3, '0').replace(/0+$/, '')} sat`;
}

/** A transaction's depth for a person, after its txid: ", in the mempool", ", 3 confirmations", nothing when unknown. */
export function depthText(confirmations: number | undefined): string {
  if (confirmations === undefined) return '';
  return confirmations === 0 ? ', in the mempool' : `, ${thousands(confirmations)} confirmation${confirmations === 1 ? '' : 's'}`;
}
