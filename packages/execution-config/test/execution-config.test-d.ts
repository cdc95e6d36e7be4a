import { describe, expectTypeOf, it } from "vitest";
import {
  defineExecutionConfig,
  type ExecutionConfig,
  type ExecutionConfigInput,
  parseExecutionConfig,
} from "../src/index.ts";

describe("ExecutionConfig types", () => {
  it("resolves every field", () => {
    expectTypeOf<ExecutionConfig["accelerator"]>().toEqualTypeOf<"auto" | "cpu" | "gpu" | "cuda" | "mps">();
    expectTypeOf<ExecutionConfig["devices"]>().toEqualTypeOf<number | "auto">();
    expectTypeOf<ExecutionConfig["deterministic"]>().toEqualTypeOf<boolean | "warn">();
    expectTypeOf<ExecutionConfig["prefetchFactor"]>().toEqualTypeOf<number | null>();
    expectTypeOf<ExecutionConfig["lrMilestones"]>().toEqualTypeOf<number[]>();
    expectTypeOf<ExecutionConfig["logger"]>().toEqualTypeOf<"csv" | "tensorboard" | "mlflow" | "none">();
    expectTypeOf(parseExecutionConfig({})).toEqualTypeOf<ExecutionConfig>();
  });

  it("makes every input field optional", () => {
    expectTypeOf<ExecutionConfigInput>().toMatchTypeOf<{ learningRate?: number | undefined }>();
    expectTypeOf(defineExecutionConfig({ scheduler: "Exponential", lrGamma: 0.9 })).toEqualTypeOf<{
      readonly scheduler: "Exponential";
      readonly lrGamma: 0.9;
    }>();
    // @ts-expect-error tpu is not an accelerator
    defineExecutionConfig({ accelerator: "tpu" });
    // @ts-expect-error unknown key
    defineExecutionConfig({ learningRat: 1 });
  });
});
