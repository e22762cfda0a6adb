/**
 * Which BIP-340 implementation the independent verifier uses, chosen so it is never
 * one the product signs or verifies with in this run.
 *
 * The product's secp256k1 code: @noble/curves always (single-key signing in
 * src/lib/taproot/schnorr.ts, btc-signer's own signing, and the default `noble` MuSig2
 * engine), plus whatever $OFFCHAIN_SECP256K1 selects for MuSig2 (src/lib/musig/engine/
 * select.ts): `tiny-secp256k1` (libsecp256k1 in WASM), `native` (libsecp256k1 through
 * the `secp256k1` package's N-API binding), `libsecp256k1` (the system's libsecp256k1
 * through koffi), `reference` (btc-signer, on @noble/curves), or `auto` (libsecp256k1,
 * else native, else tiny-secp256k1, else noble — also what `sign-update --stream` takes
 * when the variable is unset).
 *
 * The choice:
 * - **tiny-secp256k1's `verifySchnorr`** when the product cannot be on tiny-secp256k1:
 *   libsecp256k1 (Bitcoin Core's library) compiled to WASM shares no code with
 *   @noble/curves, and it is a separate build from the native binding, so it is
 *   independent of the noble, native and reference engines alike.
 * - **./secp256k1.ts's `bip340Verify`** (bigint arithmetic written in test code from the
 *   BIP-340 text) when the product may be on tiny-secp256k1 or on `libsecp256k1` (whose
 *   Verify is the library's own secp256k1_schnorrsig_verify: the same upstream source as
 *   tiny-secp256k1's, a shared bug would pass both), when tiny-secp256k1 is not
 *   installed, or when a test runs every engine at once (test/lib/musig/
 *   engine-equivalence.test.ts). @noble/secp256k1 was not chosen: it is the same
 *   author's design as @noble/curves and is a dependency of the product's package.
 *
 * Messages for tiny-secp256k1 must be 32 bytes (every sighash is); other lengths go to
 * the test-code verifier.
 */
import { bip340Verify } from './secp256k1.ts';

export type SchnorrVerifier = {
  /** Which implementation, for test names and failure messages. */
  name: 'tiny-secp256k1' | 'test-code BIP-340';
  verify(sig: Uint8Array, msg: Uint8Array, xOnlyKey: Uint8Array): boolean;
};

export const TEST_CODE_VERIFIER: SchnorrVerifier = { name: 'test-code BIP-340', verify: bip340Verify };

type Tiny = { verifySchnorr(h: Uint8Array, Q: Uint8Array, signature: Uint8Array): boolean };

/**
 * The MuSig2 backends the product may use in a process started with this environment:
 * the CLI reads $OFFCHAIN_SECP256K1; unset, long-running modes (`sign-update --stream`)
 * take `auto` — a test of those passes `{ longRunning: true }` — and a one-shot command
 * that does curve work (a credit or statechain step, MuSig2, an onion) takes the system's
 * libsecp256k1 or the native binding when one loads (src/lib/cli/base-command.ts
 * `curveWork`; any other command stays on noble). A library test that switches engines
 * lists them itself. Without `env`: this process's environment (a library test's product)
 * and the one the CLI gets, spawned or in-process (test/e2e/cli.ts cleanEnv strips
 * OFFCHAIN_*), both — so always libsecp256k1 among them: the verifier is the test code's.
 */
export function productBackends(env?: Record<string, string | undefined>, opts: { longRunning?: boolean } = {}): string[] {
  if (env === undefined) return [...new Set([...productBackends(process.env, opts), ...productBackends({}, opts)])];
  const wanted = (env.OFFCHAIN_SECP256K1 ?? '').trim().toLowerCase();
  // noble is always there: the fallback of every choice, and the single-key signer.
  if (wanted === 'auto' || (!wanted && opts.longRunning)) return ['noble', 'libsecp256k1', 'native', 'tiny-secp256k1'];
  if (!wanted) return ['noble', 'libsecp256k1', 'native'];
  return wanted === 'noble' ? ['noble'] : ['noble', wanted];
}

let tiny: Tiny | undefined | null;
async function loadTiny(): Promise<Tiny | undefined> {
  if (tiny === undefined) {
    try {
      tiny = (await import('tiny-secp256k1')) as Tiny;
    } catch {
      tiny = null;
    }
  }
  return tiny ?? undefined;
}

/** The verifier for a run whose product may use `backends` (default: from the environment). */
export async function independentSchnorr(backends: readonly string[] = productBackends()): Promise<SchnorrVerifier> {
  if (backends.includes('tiny-secp256k1') || backends.includes('libsecp256k1')) return TEST_CODE_VERIFIER;
  const t = await loadTiny();
  if (!t) return TEST_CODE_VERIFIER;
  return {
    name: 'tiny-secp256k1',
    verify(sig, msg, xOnlyKey) {
      if (msg.length !== 32) return bip340Verify(sig, msg, xOnlyKey);
      try {
        return t.verifySchnorr(msg, xOnlyKey, sig);
      } catch {
        // tiny-secp256k1 throws on a key that is not on the curve or r/s out of range.
        return false;
      }
    },
  };
}
