// Types of ./oclif-patches.mjs, for the TypeScript that imports it (test/setup/oclif-patches.test.ts).
/** `text` with oclif's command sort made code-unit order; throws naming `path` if the sort is not there. */
export function codePointCommandOrder(path: string, text: string): string;
/** `text` with node:perf_hooks required on first use; throws naming `path` if its use changed. */
export function lazyPerfHooks(path: string, text: string): string;
/** `text` with the engine check's semver loaded only for forms it does not compare itself; throws naming `path` if the check changed. */
export function engineFloorCheck(path: string, text: string): string;
/** The oclif files patched at build (by path), and how. */
export const OCLIF_PATCHES: readonly (readonly [RegExp, (path: string, text: string) => string])[];
/** `text` of the oclif file at `path` as the bundle carries it. */
export function patchOclif(path: string, text: string): string;
/** `text` with its one occurrence of `find` replaced, or an error naming `path` and the patch to review. */
export function replaceOnce(path: string, text: string, find: string, replacement: string, patch: string, what: string, library?: string): string;
