/**
 * What a run printed, as kept in a snapshot: the text itself when the two runs of a
 * documented example printed the same bytes (the bytes a user sees must not change
 * unnoticed: issue 43, "nothing a user sees has changed"), a marker when they differ
 * (fresh keys, nonces, temp paths), so an example that becomes non-deterministic — or
 * deterministic — shows too. Long outputs are kept as their length, SHA-256 and a head.
 */
import { createHash } from 'node:crypto';

export function outputDigest(first: string, second: string): string {
  if (first !== second) return 'varies between two runs';
  if (first.length <= 1500) return first;
  return `${first.length} characters, sha256 ${createHash('sha256').update(first).digest('hex')}, beginning: ${first.slice(0, 200)}`;
}
