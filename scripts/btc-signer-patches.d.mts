// Types of ./btc-signer-patches.mjs, for the TypeScript that imports it (test/setup/btc-signer-patches.test.ts).
/** `text` with btc-signer's key check remembered per valid key; throws naming `path` if the check changed. */
export function rememberValidKeys(path: string, text: string): string;
/** The btc-signer files patched at build (by path), and how. */
export const BTC_SIGNER_PATCHES: readonly (readonly [RegExp, (path: string, text: string) => string])[];
