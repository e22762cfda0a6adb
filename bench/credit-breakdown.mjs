#!/usr/bin/env node
/**
 * One backend's part-by-part breakdown of the mint's update (bench/credit.ts
 * mintBreakdown), in a fresh process so no cache or JIT state of another backend's run
 * flatters it. Run by bench/credit-run.mjs: argv = setup dir, work dir, backend and how many
 * of the requests (the first ones); the mint's
 * key on MINT_KEY; prints the result as one JSON line.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [setup, dir, backend, limit] = process.argv.slice(2);
const { mintBreakdown } = await import(join(root, 'dist', 'bench-credit.js'));
const b = await mintBreakdown({ setup, dir, mintKeyHex: process.env.MINT_KEY, backend, limit: limit ? Number(limit) : undefined });
process.stdout.write(JSON.stringify(b ?? null) + '\n');
