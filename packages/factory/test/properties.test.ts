import { listFields } from "@trainkit/config-meta";
import { executionSection } from "@trainkit/execution-config";
import { modelSection, trainingSection } from "@trainkit/training-config";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type * as z from "zod";
import { sectionInput } from "../../../tests/arbitraries.ts";
import {
  fromLegacyParams,
  type Layer,
  LEVELS,
  type Level,
  levelRank,
  payloadDocument,
  payloadJson,
  resolvePayload,
  stringifyWithFloats,
  TRAINING_SPEC,
} from "../src/index.ts";
import { PAYLOAD_SPECS } from "../src/payload-spec.ts";

// Fields that take part in cross-field rules are left out, so that any stack of layers is valid.
const RULED = new Set([
  "persistentWorkers",
  "prefetchFactor",
  "scheduler",
  "lrMilestones",
  "realspaceMaeWeight",
  "nllWeight",
  "maeWeight",
  "realspaceWeight",
  "neighborPoolSize",
  "probeMaskDiameter",
  "trainDataFile",
  "nGroups",
  "foldCount",
  "foldIndex",
]);

function sectionArbitrary(schema: z.ZodObject): fc.Arbitrary<Record<string, unknown>> {
  return sectionInput(schema).map((input) =>
    Object.fromEntries(Object.entries(input).filter(([k]) => !RULED.has(k))),
  );
}

const levelArbitrary = fc.constantFrom<Level>(...LEVELS.filter((l) => l !== "default"));

const layerArbitrary: fc.Arbitrary<Layer> = fc
  .record({
    level: levelArbitrary,
    model: sectionArbitrary(modelSection.schema),
    training: sectionArbitrary(trainingSection.schema),
    execution: sectionArbitrary(executionSection.schema),
    tag: fc.integer({ min: 0, max: 1e6 }),
  })
  .map(({ level, tag, ...sections }) => ({
    level,
    entries: Object.entries(sections).flatMap(([section, values]) =>
      Object.entries(values).map(([key, value]) => ({
        path: `${section}.${key}`,
        value,
        origin: { kind: "cli" as const, token: `layer ${tag}` },
      })),
    ),
  }));

const base: Layer = {
  level: "override",
  entries: [
    {
      path: "training.trainDataFile",
      value: "train.npz",
      origin: { kind: "code", argument: "trainDataFile" },
    },
    { path: "training.nGroups", value: 64, origin: { kind: "code", argument: "overrides" } },
  ],
};

const stacks = fc.array(layerArbitrary, { minLength: 0, maxLength: 5 }).map((layers) => [base, ...layers]);

const canonical = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** The value the highest level gives a path: the specification of precedence, written naively. */
function expected(layers: readonly Layer[], path: string): { found: boolean; value?: unknown } {
  let best: { rank: number; index: number; value: unknown } | undefined;
  layers.forEach((layer, index) => {
    for (const entry of layer.entries) {
      if (entry.path !== path) continue;
      const rank = levelRank(layer.level);
      if (!best || rank < best.rank || (rank === best.rank && index >= best.index))
        best = { rank, index, value: entry.value };
    }
  });
  return best ? { found: true, value: best.value } : { found: false };
}

const leaves = Object.entries(TRAINING_SPEC.sections).flatMap(([name, section]) =>
  Object.keys(section.schema.shape).map((key) => `${name}.${key}`),
);
const get = (config: Record<string, Record<string, unknown>>, path: string): unknown => {
  const [s, k] = path.split(".") as [string, string];
  return config[s]?.[k];
};

describe("resolvePayload (properties)", () => {
  it("gives every leaf the value of the highest level that sets it", () => {
    fc.assert(
      fc.property(stacks, (layers) => {
        const payload = resolvePayload("training", layers);
        for (const path of leaves) {
          const e = expected(layers, path);
          if (e.found) expect(canonical(get(payload.config as never, path))).toEqual(canonical(e.value));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("never changes a leaf set higher when a lower layer is removed", () => {
    fc.assert(
      fc.property(stacks, fc.nat(), (layers, pick) => {
        const full = resolvePayload("training", layers);
        const removable = layers.map((_, i) => i).filter((i) => i > 0);
        fc.pre(removable.length > 0);
        const drop = removable[pick % removable.length]!;
        const dropped = layers[drop]!;
        const without = resolvePayload(
          "training",
          layers.filter((_, i) => i !== drop),
        );
        for (const entry of full.audit) {
          if (levelRank(entry.level) < levelRank(dropped.level)) {
            const value = get(full.config as never, entry.path);
            expect(canonical(get(without.config as never, entry.path))).toEqual(canonical(value));
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it("does not depend on the key order inside layers", () => {
    fc.assert(
      fc.property(stacks, (layers) => {
        const reversed = layers.map((l) => ({ ...l, entries: [...l.entries].reverse() }));
        expect(resolvePayload("training", reversed).config).toEqual(
          resolvePayload("training", layers).config,
        );
      }),
      { numRuns: 100 },
    );
  });

  it("keeps exactly one winner per leaf and lists shadowed values in level order", () => {
    fc.assert(
      fc.property(stacks, (layers) => {
        const payload = resolvePayload("training", layers);
        expect(payload.audit.map((a) => a.path)).toEqual(leaves);
        for (const entry of payload.audit) {
          const ranks = [entry.level, ...entry.shadowed.map((s) => s.level)].map(levelRank);
          expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
          const setters = layers.flatMap((l) => l.entries.filter((e) => e.path === entry.path));
          const withDefault =
            entry.level === "default"
              ? 0
              : setters.length - 1 + (entry.shadowed.some((s) => s.level === "default") ? 1 : 0);
          expect(entry.shadowed).toHaveLength(withDefault);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("round-trips the legacy bridge losslessly for bridged fields", () => {
    fc.assert(
      fc.property(stacks, (layers) => {
        const payload = resolvePayload("training", layers);
        const { layer } = fromLegacyParams(payload.legacy, { kind: "training", file: "p.json" });
        const again = resolvePayload("training", [layer]);
        expect(canonical(again.config.model)).toEqual(canonical(payload.config.model));
        expect(canonical(again.config.training)).toEqual(canonical(payload.config.training));
      }),
      { numRuns: 100 },
    );
  });

  it("produces payloads that survive a JSON round trip and resolve again to themselves", () => {
    fc.assert(
      fc.property(stacks, (layers) => {
        const payload = resolvePayload("training", layers);
        const copy = JSON.parse(JSON.stringify(payload));
        expect(copy).toEqual(payload);
        const again = resolvePayload("training", [
          {
            level: "config",
            entries: Object.entries(copy.config as Record<string, Record<string, unknown>>).flatMap(
              ([s, values]) =>
                Object.entries(values).map(([k, value]) => ({
                  path: `${s}.${k}`,
                  value,
                  origin: { kind: "run" as const, dir: "r" },
                })),
            ),
          },
        ]);
        expect(again.config).toEqual(payload.config);
      }),
      { numRuns: 100 },
    );
  });
});

describe("payloadJson (properties)", () => {
  it("writes the same bytes as the general float-keeping serializer, for any payload", () => {
    const floats = new Set(
      Object.entries(PAYLOAD_SPECS.training.sections).flatMap(([section, spec]) =>
        listFields(spec.schema)
          .filter((f) => f.kind === "number")
          .map((f) => `${section}.${f.key}`),
      ),
    );
    fc.assert(
      fc.property(stacks, (layers) => {
        const document = payloadDocument(resolvePayload("training", layers));
        const general = `${stringifyWithFloats(document, (p) => p.length === 3 && p[0] === "config" && floats.has(`${p[1]}.${p[2]}`))}\n`;
        expect(payloadJson("training", document)).toBe(general);
      }),
      { numRuns: 200 },
    );
  });
});
