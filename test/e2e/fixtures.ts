/** The repository's fixtures as the end-to-end tests use them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

export const fixturePath = (p: string) => join(ROOT, 'fixtures', p);
export const fixtureText = (p: string) => readFileSync(fixturePath(p), 'utf8');
export const fixture = (p: string) => fixtureText(p).trim();

/** Hex test keys (checked out 0644: pass them via the environment and --key-env). */
export const ALICE_KEY = fixture('keys/alice.key');
export const BOB_KEY = fixture('keys/bob.key');
export const ALICE = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa';
export const BOB = '02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27';

/** Base64 PSBT: one taproot input paying the Alice+Bob KeyAgg key, no MuSig2 data yet. */
export const UNSIGNED = fixture('psbt/musig-keypath-unsigned.psbt');
/** psbt/updated message (regtest) where Alice and Bob have both added public nonces. */
export const NONCES_MESSAGE = fixtureText('psbt/musig-keypath-nonces.json');
