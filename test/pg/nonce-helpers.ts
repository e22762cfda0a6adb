/**
 * What the PostgreSQL mint store's nonce tests share: a random nonce pair (97 secret bytes, a
 * 66-byte public nonce), the generator `issue` takes for it, and a gate one step opens for another.
 */
import { randomBytes } from 'node:crypto';

export type TestNonce = { sec: Uint8Array; pub: Uint8Array };

export const nonce = (): TestNonce => ({ sec: randomBytes(97), pub: Uint8Array.from([0x02, ...randomBytes(32), 0x03, ...randomBytes(32)]) });

/** `issue`'s generator for `n`: a copy of its secret (the store wipes what it is handed). */
export const gen = (n: TestNonce) => () => ({ secnonce: Uint8Array.from(n.sec), pubnonce: n.pub });

/** A promise (`opened`) and what resolves it (`open`). */
export function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}
