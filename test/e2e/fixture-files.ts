/**
 * The repository's fixture files and the demo channel's keys, without vitest: what
 * ./fixtures.ts re-exports, and what a bench may import (bench/device-serve.ts builds its Core
 * Lightning world through test/regtest/device-cln-world.ts, outside any test run).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

export const fixturePath = (p: string) => join(ROOT, 'fixtures', p);
export const fixtureText = (p: string) => readFileSync(fixturePath(p), 'utf8');
export const fixture = (p: string) => fixtureText(p).trim();

// The device ↔ gateway demo channel (fixtures/credit/open-demo.sh): the gateway is the mint
// (keys/mint.key), the device the user (keys/user.key); tip 1000, 1 000 000 sat.
export const MINT_KEY = fixture('keys/mint.key');
export const USER_KEY = fixture('keys/user.key');
