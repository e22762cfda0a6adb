/**
 * a·P + b·G by ECDSA recovery (mulAddBase, ./uncompressed.ts) at backend selection: a
 * library whose recovery answers wrong points must be refused by select.ts's self-test,
 * as one whose k·G or tweak-add is wrong is. On libsecp256k1 the BIP-340 known answer
 * does not reach recovery (it verifies with its own schnorrsig), so without a known
 * answer of its own a wrong recovery would be selected and would then decide every
 * partial signature the mint verifies; the native binding's recovery is checked here.
 *
 * The liars below are the real packages with only their recovery changed: the recovery
 * id's parity bit flipped, or its overflow bit (x ≥ n) dropped.
 */
import { describe, it, expect } from 'vitest';
import { loadBackend } from '../../../src/lib/musig/engine/select.ts';
import { importByTest, installed } from '../../setup/backends.ts';

type Recid = (recid: number) => number;
const flipParity: Recid = (recid) => recid ^ 1;
const dropOverflow: Recid = (recid) => recid & 1;

function nativeWith(mod: Record<string, unknown>, change: Recid): unknown {
  const lib = ((mod as { default?: unknown }).default ?? mod) as Record<string, (...args: unknown[]) => unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const key of Object.keys(lib)) wrapped[key] = (lib[key] as (...a: unknown[]) => unknown).bind(lib);
  wrapped.ecdsaRecover = (sig: unknown, recid: number, msg: unknown, compressed?: boolean) => lib.ecdsaRecover!(sig, change(recid), msg, compressed);
  return wrapped;
}

const cases = [
  { name: 'native', wrap: nativeWith },
] as const;

for (const { name, wrap } of cases) {
  const ok = await installed(name);
  describe.runIf(ok)(`${name}: selection refuses a library whose ECDSA recovery is wrong`, async () => {
    const got = ok ? await importByTest(name) : undefined;
    const mod = got && 'module' in got ? (got.module as Record<string, unknown>) : {};
    it('the real library passes (its recovery is used for a·P + b·G)', async () => {
      const ec = await loadBackend(name, async () => mod);
      expect(ec.mulAddBase).toBeDefined();
    });
    for (const [what, change] of [['parity bit flipped', flipParity], ['overflow bit dropped', dropOverflow]] as const) {
      it(`recovery with its ${what}: refused, naming a·P + b·G`, async () => {
        await expect(loadBackend(name, async () => wrap(mod, change))).rejects.toThrow(/a·P \+ b·G/);
      });
    }
  });
}
