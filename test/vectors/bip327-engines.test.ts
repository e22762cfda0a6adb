/**
 * The eight BIP-327 vector files again, on every engine src/lib/musig/bip327.ts can
 * route to: our BIP-327 on noble, on the native binding and on the system's libsecp256k1,
 * and the reference engine (@scure/btc-signer). Same suites and assertions as
 * ./bip327.test.ts (./bip327-cases.ts), through the same public API, with the engine
 * switched for each block. An optional backend that is not installed shows up as a
 * skipped block naming the reason, never as a pass; an installed one the product cannot
 * load fails the file.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { backendSelection } from '../../src/lib/musig/bip327.ts';
import { activeEngine, loadEngine, useEngine } from '../../src/lib/musig/engine/select.ts';
import { ALL_BACKENDS, backendUnderTest } from '../setup/backends.ts';
import type { Bip327Engine, EngineName } from '../../src/lib/musig/engine/engine.ts';
import { bip327VectorSuites } from './bip327-cases.ts';

const ENGINES: readonly EngineName[] = [...ALL_BACKENDS, 'reference'];

for (const name of ENGINES) {
  // Installed or not is decided by test code (../setup/backends.ts); an installed backend the product cannot load fails the file.
  const under = name === 'reference' ? { loaded: await loadEngine(name), skipped: undefined } : await backendUnderTest(name, () => loadEngine(name));
  if (under.skipped !== undefined) {
    describe.skip(`BIP-327 vectors on ${name}: SKIPPED, ${under.skipped}`, () => {
      it('all eight vector files', () => {});
    });
    continue;
  }
  const engine = under.loaded;
  describe(`BIP-327 vectors on ${name}`, () => {
    let before: Bip327Engine;
    beforeAll(() => {
      before = activeEngine();
      useEngine(engine);
    });
    afterAll(() => useEngine(before));

    it(`bip327.ts routes to ${name}`, () => {
      expect(backendSelection().engine).toBe(name);
      expect(activeEngine()).toBe(engine);
    });
    bip327VectorSuites();
  });
}
