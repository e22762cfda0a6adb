/**
 * The secp256k1 backend behind MuSig2 for a command: $OFFCHAIN_SECP256K1 (noble | native |
 * libsecp256k1 | reference | auto) when set; libsecp256k1 is the system's library through koffi
 * ($OFFCHAIN_LIBSECP256K1 names its file, else it is found by soname). Without it a one-shot
 * command that does curve work takes the system's libsecp256k1 or the native binding when one
 * loads, silently noble otherwise (loading either costs ~12 ms of CPU; noble's first
 * multiplications, tables and compilation, 30–50 ms: `sign-update --role mint` 209 → 155 ms,
 * `onion build` 163 → 116, with the lazy command table). Any other command stays on noble;
 * long-running modes take the fastest (`selectFastest`). Every backend gives byte-identical results.
 */
import { backendSelection, parseBackendChoice, selectBackend } from '../musig/bip327.ts';

/** A one-shot command's choice: the variable's, else `auto` when it does curve work. */
export async function selectForCommand(curveWork: boolean, env: NodeJS.ProcessEnv, warn: (line: string) => void): Promise<void> {
  const wanted = env.OFFCHAIN_SECP256K1;
  if (!wanted) {
    if (curveWork) await selectBackend('auto');
    return;
  }
  const selection = await selectBackend(parseBackendChoice(wanted));
  if (selection.fallbackReason) warn(selection.fallbackReason);
}

/** A long-running mode's: the fastest available unless the variable chose; the engine in use. */
export async function selectFastest(env: NodeJS.ProcessEnv, warn: (line: string) => void): Promise<string> {
  if (!env.OFFCHAIN_SECP256K1) {
    const selection = await selectBackend('auto');
    if (selection.fallbackReason) warn(selection.fallbackReason);
  }
  return backendSelection().engine;
}
