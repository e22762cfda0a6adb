/**
 * Which BIP-340 implementation the independent verifier uses: never one the product signs
 * or verifies with.
 *
 * The product's secp256k1 code: @noble/curves always (single-key signing in
 * src/lib/taproot/schnorr.ts, btc-signer's own signing, and the default `noble` MuSig2
 * engine), plus whatever $OFFCHAIN_SECP256K1 selects for MuSig2 (src/lib/musig/engine/
 * select.ts): `native` (libsecp256k1 through the `secp256k1` package's N-API binding),
 * `libsecp256k1` (the system's libsecp256k1 through koffi), `reference` (btc-signer, on
 * @noble/curves), or `auto` (libsecp256k1, else native, else noble — also what
 * `sign-update --stream` takes when the variable is unset).
 *
 * The verifier is ./secp256k1.ts's `bip340Verify`: bigint arithmetic written in test code
 * from the BIP-340 text, sharing no code with any of them. (A WASM build of libsecp256k1,
 * tiny-secp256k1, served for a product on noble or native until that backend was removed
 * from the product's dependencies; @noble/secp256k1 was not chosen: it is the same
 * author's design as @noble/curves and a dependency of the product's package.)
 */
import { bip340Verify } from './secp256k1.ts';

export type SchnorrVerifier = {
  /** Which implementation, for test names and failure messages. */
  name: 'test-code BIP-340';
  verify(sig: Uint8Array, msg: Uint8Array, xOnlyKey: Uint8Array): boolean;
};

export const TEST_CODE_VERIFIER: SchnorrVerifier = { name: 'test-code BIP-340', verify: bip340Verify };

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
  // noble is always there: the fallback of every choice, and the single-key signer. Unset, a
  // one-shot command doing curve work and a long-running mode take the same order.
  if (wanted === 'auto' || !wanted) return ['noble', 'libsecp256k1', 'native'];
  return wanted === 'noble' ? ['noble'] : ['noble', wanted];
}

/**
 * The verifier for a run whose product may use `backends` (default: from the environment):
 * the test code's, whichever they are — none of them shares its code.
 */
export async function independentSchnorr(backends: readonly string[] = productBackends()): Promise<SchnorrVerifier> {
  if (backends.some((b) => b === TEST_CODE_VERIFIER.name)) throw new Error(`the product cannot be on ${TEST_CODE_VERIFIER.name}`);
  return TEST_CODE_VERIFIER;
}
