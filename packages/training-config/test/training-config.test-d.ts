import { describe, expectTypeOf, it } from "vitest";
import {
  defineTrainingConfig,
  type InferenceConfig,
  type ModelConfig,
  type ModelConfigInput,
  parseTrainingConfig,
  type TrainingConfig,
} from "../src/index.ts";

describe("training-config types", () => {
  it("resolves literal and nullable fields", () => {
    expectTypeOf<ModelConfig["N"]>().toEqualTypeOf<64 | 128 | 256>();
    expectTypeOf<ModelConfig["modelType"]>().toEqualTypeOf<"pinn" | "supervised">();
    expectTypeOf<ModelConfig["maxHiddenChannels"]>().toEqualTypeOf<number | null>();
    expectTypeOf<TrainingConfig["trainDataFile"]>().toEqualTypeOf<string | null>();
    expectTypeOf<TrainingConfig["nGroups"]>().toEqualTypeOf<number>();
    expectTypeOf<InferenceConfig["nGroups"]>().toEqualTypeOf<number | null>();
    expectTypeOf<InferenceConfig["modelPath"]>().toEqualTypeOf<string>();
    expectTypeOf(parseTrainingConfig({})).toEqualTypeOf<TrainingConfig>();
  });

  it("keeps authored configs literal and rejects unknown keys", () => {
    expectTypeOf<ModelConfigInput["N"]>().toEqualTypeOf<64 | 128 | 256 | undefined>();
    expectTypeOf(defineTrainingConfig({ batchSize: 32 })).toEqualTypeOf<{ readonly batchSize: 32 }>();
    // @ts-expect-error misspelled key
    defineTrainingConfig({ batchsize: 32 });
  });
});
