// The preflight's TensorFlow.js-free list of model variables must be the one the model builds.
import { MODEL_DEFAULTS, type ModelConfig } from "@trainkit/training-config";
import { beforeAll, describe, expect, it } from "vitest";
import { modelVariableShapes } from "../src/shapes.ts";
import { initBackend } from "../src/tf/backend.ts";
import { createPtychoModel } from "../src/tf/model.ts";
import { diskProbe } from "./tf/helpers.ts";

beforeAll(async () => {
  await initBackend("cpu");
});

describe("modelVariableShapes", () => {
  const variants: Partial<ModelConfig>[] = [
    {},
    { gridsize: 2 },
    { gridsize: 2, objectBig: false },
    { nFiltersScale: 1 },
    { padObject: false },
    { probeBig: false },
    { N: 32 as ModelConfig["N"], gridsize: 3, nFiltersScale: 1, padObject: false },
  ];
  for (const variant of variants) {
    it(`lists the variables createPtychoModel builds, in order, for ${JSON.stringify(variant)}`, () => {
      const model = { ...MODEL_DEFAULTS, N: 16 as ModelConfig["N"], ...variant };
      const built = createPtychoModel(
        { model, training: { nphotons: 1e6, probeTrainable: false, intensityScaleTrainable: true } },
        diskProbe(model.N),
        1,
      );
      try {
        expect(modelVariableShapes(model)).toEqual(
          built.variables.map((v) => ({ name: v.name, shape: v.variable.shape })),
        );
      } finally {
        built.dispose();
      }
    });
  }
});
