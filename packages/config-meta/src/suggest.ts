function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, "");
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * The candidate closest to `name`, ignoring case, dashes and underscores (so `batch_size` finds
 * `batchSize`), or undefined when nothing is reasonably close.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const target = normalise(name);
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const score = distance(target, normalise(candidate));
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  const limit = Math.max(2, Math.floor(target.length / 3));
  return bestScore <= limit ? best : undefined;
}

/** ` Did you mean "x"?` or an empty string. */
export function didYouMean(name: string, candidates: Iterable<string>, quote = true): string {
  const best = closestName(name, candidates);
  if (best === undefined) return "";
  return quote ? ` Did you mean "${best}"?` : ` Did you mean ${best}?`;
}
