#!/usr/bin/env node
/**
 * One backend's crypto ceiling of a mint update (bench/credit.ts musigCeiling), in a fresh
 * process. Run by bench/credit-run.mjs: argv = setup dir, work dir, backend and how many of
 * the requests count as the first (timed apart from the rest); the mint's key on MINT_KEY;
 * prints the result as one JSON line.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [setup, dir, backend, first] = process.argv.slice(2);
const { musigCeiling } = await import(join(root, 'dist', 'bench-credit.js'));
const b = await musigCeiling({ setup, dir, mintKeyHex: process.env.MINT_KEY, backend, first: first ? Number(first) : undefined });
process.stdout.write(JSON.stringify(b ?? null) + '\n');
