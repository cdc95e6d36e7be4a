import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closestName } from "../src/index.ts";

/** The plain definition: the full edit distance to every candidate, first of the smallest wins. */
function reference(name: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_.\s]/g, "");
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) =>
      Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
    );
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(
          d[i - 1]![j]! + 1,
          d[i]![j - 1]! + 1,
          d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
    return d[a.length]![b.length]!;
  };
  const target = norm(name);
  let best: string | undefined;
  let score = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const s = distance(target, norm(c));
    if (s < score) [best, score] = [c, s];
  }
  return score <= Math.max(2, Math.floor(target.length / 3)) ? best : undefined;
}

describe("closestName", () => {
  it("finds what the full edit distance finds, though it cuts hopeless candidates short", () => {
    const word = fc.string({ unit: fc.constantFrom("a", "b", "c", "_", "-", "S", "z"), maxLength: 14 });
    fc.assert(
      fc.property(word, fc.array(word, { maxLength: 12 }), (name, candidates) => {
        expect(closestName(name, candidates)).toBe(reference(name, candidates));
      }),
      { numRuns: 3000, seed: 15 },
    );
  });

  it("suggests the field for a near miss and nothing for a far one", () => {
    expect(closestName("batch_size", ["nepochs", "batchSize", "seed"])).toBe("batchSize");
    expect(closestName("key63999", ["nepochs", "batchSize", "seed"])).toBeUndefined();
  });
});
