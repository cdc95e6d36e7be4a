// Hostile input (issue 15), launcher side: no refusal describes what a backend supports with a
// JavaScript placeholder ("only its default undefined" for a field without a default).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeSupport, refused } from "@trainkit/config-meta";
import { type AnyPayload, type Layer, resolvePayload } from "@trainkit/factory";
import { describe, expect, it } from "vitest";
import { BACKENDS } from "../src/index.ts";

const FAKE = join(fileURLToPath(new URL("../../..", import.meta.url)), "tests/fixtures/fake-ptycho-torch");

function payloadOf(kind: AnyPayload["kind"]): AnyPayload {
  const entries: Record<string, unknown> =
    kind === "training"
      ? { "training.trainDataFile": "train.npz", "training.nGroups": 8, "training.outputDir": "out" }
      : {
          "inference.modelPath": "model",
          "inference.testDataFile": "test.npz",
          "inference.outputDir": "out",
        };
  const layer: Layer = {
    level: "override",
    entries: Object.entries(entries).map(([path, value]) => ({
      path,
      value,
      origin: { kind: "cli", token: `--${path} ${value}` },
    })),
  };
  return resolvePayload(kind, [layer]);
}

describe("capabilities", () => {
  it("describe every restriction in words, for every backend, dialect and kind", async () => {
    let checked = 0;
    for (const kind of ["training", "inference"] as const) {
      const payload = payloadOf(kind);
      const script = join(FAKE, kind === "training" ? "train.py" : "inference.py");
      const setups: [keyof typeof BACKENDS, Record<string, unknown>][] = [
        ["embedded", {}],
        ["process", { command: `python3 ${script}`, dialect: "payload" }],
        ["process", { command: `python3 ${script}`, dialect: "ptycho-torch" }],
        // a program with none of upstream's flags: every mapped setting is refused
        ["process", { command: "/bin/echo", dialect: "ptycho-torch" }],
      ];
      for (const [name, options] of setups) {
        for (const capability of await BACKENDS[name].capabilities(options, payload)) {
          expect(
            capability.supported,
            `${kind} ${name} ${JSON.stringify(options)} ${capability.path}`,
          ).not.toMatch(/undefined|NaN|\[object/);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('says a refused field without a default supports no value, not "its default undefined"', () => {
    expect(describeSupport(refused("the program has no such setting."), undefined)).toBe(
      "no value: the program has no such setting",
    );
    expect(describeSupport(refused("the program has no such setting."), null)).toBe(
      "only its default null: the program has no such setting",
    );
  });
});
