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
