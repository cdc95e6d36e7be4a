import { describe, expect, it } from "vitest";
import { isConfigError, resolveComputeThreads, THREAD_BUDGET_ENV } from "../src/index.ts";

describe("resolveComputeThreads", () => {
  it("uses a number as it is, whatever the budget", () => {
    expect(resolveComputeThreads(3, { [THREAD_BUDGET_ENV]: "1" }, 16)).toEqual({
      threads: 3,
      source: "setting",
      reason: "execution.computeThreads",
    });
  });

  it("takes the budget for auto when TRAINKIT_THREAD_BUDGET is set, else every core", () => {
    expect(resolveComputeThreads("auto", { TRAINKIT_THREAD_BUDGET: " 2 " }, 16)).toMatchObject({
      threads: 2,
      source: "budget",
    });
    expect(resolveComputeThreads("auto", {}, 6)).toMatchObject({ threads: 6, source: "cores" });
    expect(resolveComputeThreads("auto", { TRAINKIT_THREAD_BUDGET: "" }, 6)).toMatchObject({ threads: 6 });
  });

  it.each(["0", "-2", "1.5", "two"])("refuses the budget %s, naming the variable", (raw) => {
    let error: unknown;
    try {
      resolveComputeThreads("auto", { TRAINKIT_THREAD_BUDGET: raw }, 4);
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error, "INVALID_VALUE")).toBe(true);
    expect((error as Error).message).toContain(`TRAINKIT_THREAD_BUDGET: must be a positive integer`);
    expect((error as Error).message).toContain(JSON.stringify(raw));
  });
});
