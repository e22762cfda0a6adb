/**
 * "Did you mean …" for a mistyped command or flag: the known word nearest to what was
 * typed (optimal string alignment distance — insertions, deletions, substitutions and a
 * swap of two neighbours each count 1), if it is near enough to be a typo rather than
 * another word: at most 1 edit for words of up to 4 letters, 2 up to 8, else 3.
 */

/** Edits between a and b, a swap of two adjacent letters counting as one. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate nearest to `typed` within a typo's distance; undefined if none, or a tie. */
export function nearest(typed: string, candidates: Iterable<string>): string | undefined {
  const t = typed.toLowerCase();
  const limit = t.length <= 4 ? 1 : t.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  let tie = false;
  for (const c of new Set(candidates)) {
    const distance = editDistance(t, c.toLowerCase());
    if (distance < bestDistance) {
      best = c;
      bestDistance = distance;
      tie = false;
    } else if (distance === bestDistance) tie = true;
  }
  return best !== undefined && bestDistance <= limit && bestDistance > 0 && !tie ? best : undefined;
}

/**
 * The command id (words separated by spaces) an unknown one was probably meant to be:
 * the whole typed id compared with every command id, then — when the typed words are more
 * than a command — its first words.
 */
export function suggestCommand(typedWords: string[], commandIds: string[]): string | undefined {
  const ids = commandIds.map((id) => id.replace(/:/g, ' '));
  for (let n = typedWords.length; n > 0; n--) {
    const hit = nearest(typedWords.slice(0, n).join(' '), ids);
    if (hit) return hit;
  }
  return undefined;
}
