/** Protocol constants shared by light (CLI) and heavy (library) modules alike. */

/** BIP-174: every PSBT starts with "psbt" 0xff. */
export const PSBT_MAGIC: Uint8Array = Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff);

/** 21 million BTC in satoshis: no amount in a valid transaction exceeds it. */
export const MAX_MONEY = 2_100_000_000_000_000n;

/** Largest nLockTime; CLTV compares the script number against the transaction's. */
export const MAX_LOCKTIME = 0xffff_ffff;
