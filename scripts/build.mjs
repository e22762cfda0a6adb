#!/usr/bin/env node
/**
 * Build: bundle src/cli.ts (oclif + every command + src/lib) with esbuild into
 * dist/offchain.js, with code splitting so each command's heavy imports load only when
 * that command runs, then regenerate oclif.manifest.json from the fresh bundle (a stale
 * manifest hides commands). Bundling is what keeps cold start near bare `node`:
 * resolving and compiling hundreds of node_modules files is most of oclif's start-up.
 */
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { offchain: 'src/cli.ts', bench: 'bench/musig.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (oclif) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __offchainRequire } from 'node:module'; const require = __offchainRequire(import.meta.url);" },
  // oclif loads TypeScript only to run .ts plugins in development; never in the bundle.
  external: ['typescript', 'ts-node'],
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});

// The manifest: what `--help` and command lookup read instead of importing every command.
const { Plugin } = await import('@oclif/core');
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
writeFileSync(join(root, 'oclif.manifest.json'), JSON.stringify(plugin.manifest, null, 2) + '\n');
console.error(`built dist/offchain.js and oclif.manifest.json (${Object.keys(plugin.manifest.commands).length} commands)`);
