/**
 * vitest globalSetup: this run's own temp dir, in memory (/dev/shm) when the machine has one
 * with room (helpers.ts roomyDir, NODE_TMP_MIN_FREE), else left where it is. Every worker and
 * every process a test starts finds it as TMPDIR (os.tmpdir()), set here before any worker
 * starts; it is removed, with whatever a test left in it, when the run ends.
 *
 * Why: the suite's state directories, PostgreSQL servers and CLI stores fsync every write, and
 * on a busy disk the waiting is most of some files' time — test/pg/host-epoch.test.ts took
 * 143 s (13.7 user + 10.4 sys CPU-s) with its temp dir on disk and 70 s (12.9 + 5.7) in
 * memory, the same run otherwise. What the tests check — what a command, PostgreSQL or a node
 * answers, what a file holds, a process killed mid-write — does not depend on the temp dir
 * being on a disk: no test loses power. The full-disk tests bring their own limit (prlimit).
 *
 * OFFCHAIN_TEST_TMP names another parent directory for the run's dir (empty: the system temp
 * dir). Caches meant to outlive a run (the Nutshell venv) stay in the system temp dir, found
 * through SYSTEM_TMP_ENV.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_TMP_MIN_FREE, roomyDir } from '../helpers.ts';

/** The system temp dir as it was before this run moved TMPDIR: where caches shared by runs live. */
export const SYSTEM_TMP_ENV = 'OFFCHAIN_TEST_SYSTEM_TMP';

/**
 * The system temp dir, outside this run's (which may be in memory): for the rare test that is
 * about a disk filesystem's own behaviour (ext4 handing a freed inode back at once, which
 * tmpfs does not), and for caches kept between runs.
 */
export function systemTempDir(): string {
  return process.env[SYSTEM_TMP_ENV] || tmpdir();
}

/** Where this run's temp dir goes: OFFCHAIN_TEST_TMP if set (empty: the system temp dir), else /dev/shm when roomy. */
export function runTempParent(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env['OFFCHAIN_TEST_TMP'];
  if (chosen !== undefined) return chosen || tmpdir();
  return roomyDir('/dev/shm', NODE_TMP_MIN_FREE) ?? tmpdir();
}

export default function setup(): () => void {
  const saved = { TMPDIR: process.env['TMPDIR'], [SYSTEM_TMP_ENV]: process.env[SYSTEM_TMP_ENV] };
  const system = systemTempDir();
  const dir = mkdtempSync(join(runTempParent(), 'offchain-run-'));
  // As root, PostgreSQL runs as `postgres`, which must pass through (not list) it.
  if (process.getuid?.() === 0) chmodSync(dir, 0o711);
  process.env[SYSTEM_TMP_ENV] = system;
  process.env['TMPDIR'] = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
