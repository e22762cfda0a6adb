/**
 * What a run printed, as kept in a snapshot: the text itself when the two runs of a
 * documented example printed the same bytes (the bytes a user sees must not change
 * unnoticed: issue 43, "nothing a user sees has changed"), a marker when they differ
 * (fresh keys, nonces, temp paths), so an example that becomes non-deterministic — or
 * deterministic — shows too. Long outputs are kept as their length, SHA-256 and a head.
 *
 * A second run costs a whole example again (a demo contract opened, several CLI processes),
 * so it is made only when it can show something one run cannot (`needsSecondRun`):
 *   - the snapshot says the output varies: a second run shows whether it still does;
 *   - the first run left state where the second would meet it (HOME, a fixed name in
 *     TMPDIR): the second run shows the example does not depend on a clean slate.
 * Otherwise the one run's bytes are compared with the snapshot's text: a change of bytes
 * and an output that became random (fresh keys or nonces never print the stored bytes
 * again) both fail there.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

export const VARIES = 'varies between two runs';

export function outputDigest(first: string, second: string): string {
  if (first !== second) return VARIES;
  if (first.length <= 1500) return first;
  return `${first.length} characters, sha256 ${createHash('sha256').update(first).digest('hex')}, beginning: ${first.slice(0, 200)}`;
}

/** The names of the snapshots in a vitest .snap file whose value is the VARIES marker. */
export function snapshotsThatVary(snapFile: string): Set<string> {
  const text = readFileSync(snapFile, 'utf8');
  return new Set([...text.matchAll(/^exports\[`(.*)`\] = `"varies between two runs"`;$/gm)].map((m) => m[1]!));
}

/** `mktemp -d`'s names (tmp.XXXXXXXXXX): a second run's mktemp never meets them. */
const MKTEMP = /^tmp\.[A-Za-z0-9]{10}$/;

/** Whether the first run left something the second would meet: anything in HOME, or a non-mktemp name in TMPDIR. */
export function leftState(home: string, tmp: string): boolean {
  return readdirSync(home).length > 0 || readdirSync(tmp).some((f) => !MKTEMP.test(f));
}
