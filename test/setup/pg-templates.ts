/**
 * vitest globalSetup: a directory of this run's own for the PostgreSQL harness's initdb
 * template (postgres.ts, embeddedTemplate), removed when the run ends. Per run, not per
 * machine: nothing is left in the system temp dir after a run, and two runs at once never
 * share (or remove) each other's template. Workers find it through the environment
 * variable set here, before any of them starts.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PG_TEMPLATES_ENV = 'OFFCHAIN_TEST_PG_TEMPLATES';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'offchain-pg-templates-'));
  // As root the server runs as `postgres`, which must pass through (not list) it.
  if (process.getuid?.() === 0) chmodSync(dir, 0o711);
  process.env[PG_TEMPLATES_ENV] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
