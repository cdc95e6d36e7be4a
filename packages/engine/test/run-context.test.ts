import { describe, expect, it } from "vitest";
import { warningsOf } from "../src/run-context.ts";

describe("warningsOf", () => {
  it("passes a warning to io.warn when the caller gives one, and writes nothing to stderr", () => {
    const shown: string[] = [];
    let stderr = "";
    const warn = warningsOf({ stdout: () => {}, stderr: (t) => (stderr += t), warn: (m) => shown.push(m) });
    warn("the monitor falls back to train_loss");
    expect(shown).toEqual(["the monitor falls back to train_loss"]);
    expect(stderr).toBe("");
  });

  it("writes `warning: <message>` to stderr without io.warn, naming no program", () => {
    let stderr = "";
    warningsOf({ stdout: () => {}, stderr: (t) => (stderr += t) })("no last.ckpt yet");
    expect(stderr).toMatchInlineSnapshot(`
      "warning: no last.ckpt yet
      "
    `);
  });
});
