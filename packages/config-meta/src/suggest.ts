function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, "");
}

const normalised = new Map<string, string>();

/** `normalise` of a candidate name, cached (candidates are the same few hundred field names). */
function normalisedCandidate(name: string): string {
  let found = normalised.get(name);
  if (found === undefined) {
    found = normalise(name);
    if (normalised.size < 10_000) normalised.set(name, found);
  }
  return found;
}

/**
 * The edit distance of `a` and `b`, or `bound + 1` as soon as it is sure to exceed `bound` (a row
 * whose smallest entry is over the bound never shrinks).
 */
function distance(a: string, b: string, bound: number): number {
  if (Math.abs(a.length - b.length) > bound) return bound + 1;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    let smallest = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
      if (row[j]! < smallest) smallest = row[j]!;
    }
    if (smallest > bound) return bound + 1;
  }
  return row[b.length]!;
}

/**
 * The candidate closest to `name`, ignoring case, dashes and underscores (so `batch_size` finds
 * `batchSize`), or undefined when nothing is reasonably close. Candidates that cannot beat the best
 * so far (or the limit) are cut short, so thousands of unknown keys cost little each.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const target = normalise(name);
  const limit = Math.max(2, Math.floor(target.length / 3));
  let best: string | undefined;
  let bestScore = limit + 1;
  for (const candidate of candidates) {
    // Only a strictly smaller distance replaces the best: the first of equals wins, as before.
    const score = distance(target, normalisedCandidate(candidate), bestScore - 1);
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** ` Did you mean "x"?` or an empty string. */
export function didYouMean(name: string, candidates: Iterable<string>, quote = true): string {
  const best = closestName(name, candidates);
  if (best === undefined) return "";
  return quote ? ` Did you mean "${best}"?` : ` Did you mean ${best}?`;
}
