/**
 * The port a MuSig2 signer needs from storage: a single-use store of secret nonces
 * (BIP-327: signing twice with one secnonce reveals the secret key). Declared here, in the
 * primitive every signing protocol builds on, so that protocols (musig/rounds.ts, ptlc,
 * statechain, credit) name the interface and never the store; src/lib/store/sqlite/nonces.ts,
 * the mint stores and their PostgreSQL versions implement it.
 *
 * Not here: how a nonce is generated (bip327.ts, psbt-keypath.ts) or kept (the stores).
 */
export interface NoncePort {
  issue(context: string, generate: (counter: number) => { secnonce: Uint8Array; pubnonce: Uint8Array }): Promise<{ pubnonce: Uint8Array }>;
  /**
   * Consumes durably before returning (the signature can only exist afterwards). `session`:
   * the digest of the signing session the nonce is opened for (musig/psbt-keypath.ts
   * `signingSessionDigest`). A store with a nonce ledger (store/nonce-ledger.ts) opens a
   * nonce it opened before only for the same digest — the same partial signature again.
   */
  take(pubnonce: Uint8Array, expectedContext: string, session?: Uint8Array): Promise<Uint8Array>;
  /**
   * Consume without using: the same refusals as `take`, no secret returned. A store that
   * keeps secrets only a live process can open (PostgreSQL: pg/mint-store.ts) burns a
   * nonce it can no longer open; without `burn`, `take` is used and the secret wiped.
   */
  burn?(pubnonce: Uint8Array, expectedContext: string): Promise<void>;
  /**
   * Reads only. With `context`: an unused nonce issued for another context is 'misbound' — what
   * `take` would refuse, asked before any other rule (the credit mint: credit/mint.ts checkStateNonce).
   */
  status(pubnonce: Uint8Array, context?: string): Promise<NonceStatus>;
}

export type NonceStatus = 'unused' | 'consumed' | 'unknown' | 'misbound';
