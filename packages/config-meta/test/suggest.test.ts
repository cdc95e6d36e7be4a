import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closestName, didYouMean } from "../src/index.ts";

const KEYS = ["batchSize", "nGroups", "nepochs", "learningRate", "N"];

describe("closestName", () => {
  it("ignores case, dashes, underscores and dots", () => {
    expect(closestName("batch_size", KEYS)).toBe("batchSize");
    expect(closestName("BATCH-SIZE", KEYS)).toBe("batchSize");
    expect(closestName("n.groups", KEYS)).toBe("nGroups");
  });

  it("finds a near misspelling and the nearest of several", () => {
    expect(closestName("learningRat", KEYS)).toBe("learningRate");
    expect(closestName("nepoch", KEYS)).toBe("nepochs");
  });

  it("suggests nothing when no candidate is reasonably close", () => {
    expect(closestName("optimizer", KEYS)).toBeUndefined();
    expect(closestName("x", [])).toBeUndefined();
  });

  it("allows more edits for longer names (a third of the length, at least 2)", () => {
    expect(closestName("ab", ["abcd"])).toBe("abcd");
    expect(closestName("ab", ["abcde"])).toBeUndefined();
    expect(closestName("gradientclipvalue", ["gradientClipVal"])).toBe("gradientClipVal");
  });
});

describe("didYouMean", () => {
  it("quotes the suggestion by default, and gives nothing when there is none", () => {
    expect(didYouMean("batch_size", KEYS)).toBe(' Did you mean "batchSize"?');
    expect(didYouMean("--batch_size", ["--batch-size"], false)).toBe(" Did you mean --batch-size?");
    expect(didYouMean("optimizer", KEYS)).toBe("");
  });
});

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

describe("closestName against the full edit distance", () => {
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
