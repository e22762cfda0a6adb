/** Helpers shared by tests: vector loading relative to this folder, temp dirs. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEST_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(TEST_DIR, '..');

export function loadVector<T = any>(relPath: string): T {
  return JSON.parse(readFileSync(join(TEST_DIR, 'vectors', relPath), 'utf8')) as T;
}

export function readVectorText(relPath: string): string {
  return readFileSync(join(TEST_DIR, 'vectors', relPath), 'utf8');
}

export function tempDir(prefix = 'offchain-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Every file under `dir` (recursively, lock files aside) with its bytes as hex: what "nothing was written" is checked against. */
export function fileSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (!f.startsWith('.lock')) out[p] = readFileSync(p, 'hex');
    }
  };
  walk(dir);
  return out;
}

