import { MODEL_DEFAULTS, TRAINING_DEFAULTS } from "@trainkit/training-config";
import { describe, expect, it } from "vitest";
import { checkTfCapabilities, TF_CAPABILITIES } from "../../src/tf/capabilities.ts";

describe("TF_CAPABILITIES", () => {
  it("lists each field once, all of them ModelConfig or TrainingConfig fields", () => {
    const fields = TF_CAPABILITIES.map((c) => c.field);
    expect(new Set(fields).size).toBe(fields.length);
    for (const f of fields) {
      const [section, key] = f.split(".") as [string, string];
      expect(Object.keys(section === "model" ? MODEL_DEFAULTS : TRAINING_DEFAULTS), f).toContain(key);
    }
  });

  it("covers every ModelConfig field", () => {
    const listed = new Set<string>(TF_CAPABILITIES.map((c) => c.field));
    expect(Object.keys(MODEL_DEFAULTS).filter((k) => !listed.has(`model.${k}`))).toEqual([]);
  });
});

describe("checkTfCapabilities", () => {
  it("accepts the defaults", () => {
    expect(checkTfCapabilities({ model: MODEL_DEFAULTS, training: TRAINING_DEFAULTS })).toEqual([]);
  });

  it("names each unsupported setting, its value and what is supported", () => {
    const issues = checkTfCapabilities({
      model: { ...MODEL_DEFAULTS, architecture: "fno", N: 256, gridsize: 4 },
      training: { ...TRAINING_DEFAULTS, torchLossMode: "mae" },
    });
    expect(issues.map((i) => i.message)).toMatchInlineSnapshot(`
      [
        "model.architecture: the TensorFlow.js engine supports "cnn", got "fno". The CNN encoder-decoder; FNO-family generators are PyTorch-only.",
        "model.N: the TensorFlow.js engine supports 64, 128, got 256. Patch size; 64 is the tuned default, 128 runs about 4x slower per sample; 256 does not fit a CPU budget.",
        "model.gridsize: the TensorFlow.js engine supports 1, 2, got 4. C = gridsize^2 diffraction channels per group (3 runs and is gradient-checked, but is not tested end to end).",
        "training.torchLossMode: the TensorFlow.js engine supports "poisson", got "mae". PyTorch-only; this engine's diffraction loss is set by nllWeight and maeWeight.",
      ]
    `);
  });

  it("refuses a supervised model that predicts one patch for several positions", () => {
    const issues = checkTfCapabilities({
      model: { ...MODEL_DEFAULTS, modelType: "supervised", gridsize: 2, objectBig: false },
    });
    expect(issues.map((i) => i.field)).toEqual(["model.modelType, model.objectBig, model.gridsize"]);
  });
});
