import { isConfigError } from "@trainkit/config-meta";
import { describe, expect, it } from "vitest";
import {
  type Layer,
  layerFromSections,
  PRECEDENCE,
  resolvePayload,
  TRAINING_SPEC,
  type TrainingPayload,
} from "../src/index.ts";
import { peekValue } from "../src/resolve.ts";

const base: Layer = {
  level: "override",
  entries: [
    {
      path: "training.trainDataFile",
      value: "train.npz",
      origin: { kind: "code", argument: "trainDataFile" },
    },
    { path: "training.nGroups", value: 256, origin: { kind: "cli", token: "--n-groups 256" } },
  ],
};
const file = (entries: Record<string, unknown>, name = "exp.yaml"): Layer => ({
  level: "config",
  entries: Object.entries(entries).map(([path, value], i) => ({
    path,
    value,
    origin: { kind: "file", file: name, line: i + 2, column: 3 },
  })),
});
const cli = (entries: Record<string, unknown>, level: Layer["level"] = "override"): Layer => ({
  level,
  entries: Object.entries(entries).map(([path, value]) => ({
    path,
    value,
    origin: { kind: "cli", token: `--${path} ${value}` },
  })),
});

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isConfigError(error)) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const auditOf = (payload: TrainingPayload, path: string) => payload.audit.find((a) => a.path === path);

describe("PRECEDENCE", () => {
  it("lists the five levels highest first", () => {
    expect(PRECEDENCE.map((p) => `${p.rank} ${p.level}`)).toEqual([
      "1 override",
      "2 execution",
      "3 config",
      "4 inferred",
      "5 default",
    ]);
  });
});

describe("resolvePayload", () => {
  it("takes each leaf from the highest level that sets it and records what it shadowed", () => {
    const payload = resolvePayload("training", [
      file({ "training.batchSize": 16, "training.nepochs": 7 }),
      base,
      cli({ "training.batchSize": 32 }),
    ]);
    expect(payload.config.training.batchSize).toBe(32);
    expect(payload.config.training.nepochs).toBe(7);
    expect(auditOf(payload, "training.batchSize")).toMatchInlineSnapshot(`
      {
        "level": "override",
        "origin": {
          "kind": "cli",
          "token": "--training.batchSize 32",
        },
        "path": "training.batchSize",
        "shadowed": [
          {
            "level": "config",
            "origin": {
              "column": 3,
              "file": "exp.yaml",
              "kind": "file",
              "line": 2,
            },
            "value": 16,
          },
          {
            "level": "default",
            "origin": {
              "kind": "default",
            },
            "value": 16,
          },
        ],
        "value": 32,
      }
    `);
    expect(auditOf(payload, "training.maeWeight")).toEqual({
      path: "training.maeWeight",
      value: 0,
      level: "default",
      origin: { kind: "default" },
      shadowed: [],
    });
  });

  it("has one audit entry per leaf, in schema order", () => {
    const payload = resolvePayload("training", [base]);
    const expected = Object.entries(TRAINING_SPEC.sections).flatMap(([name, section]) =>
      Object.keys(section.schema.shape).map((key) => `${name}.${key}`),
    );
    expect(payload.audit.map((a) => a.path)).toEqual(expected);
  });

  it("lets the last of two equal-level values win and keeps both in the audit", () => {
    const payload = resolvePayload("training", [
      base,
      cli({ "training.batchSize": 8 }),
      cli({ "training.batchSize": 64 }),
    ]);
    const entry = auditOf(payload, "training.batchSize");
    expect(entry?.value).toBe(64);
    expect(entry?.shadowed.map((s) => s.value)).toEqual([8, 16]);
  });

  it("replaces arrays instead of concatenating them, and null sets null", () => {
    const payload = resolvePayload("training", [
      file({
        "execution.lrMilestones": [10, 20, 30],
        "execution.scheduler": "MultiStage",
        "execution.prefetchFactor": 2,
        "execution.numWorkers": 1,
      }),
      base,
      cli({ "execution.lrMilestones": [5], "execution.prefetchFactor": null }, "execution"),
    ]);
    expect(payload.config.execution.lrMilestones).toEqual([5]);
    expect(payload.config.execution.prefetchFactor).toBeNull();
  });

  it("puts the execution level below overrides and above config files", () => {
    const payload = resolvePayload("training", [
      file({ "execution.learningRate": 0.1 }),
      cli({ "execution.learningRate": 0.01 }, "execution"),
      base,
    ]);
    expect(auditOf(payload, "execution.learningRate")).toMatchObject({ value: 0.01, level: "execution" });
  });

  it("names the origin of an invalid value", () => {
    expect(
      errorOf(() => resolvePayload("training", [base, file({ "training.batchSize": 12 })])),
    ).toMatchInlineSnapshot(
      `"training.batchSize: must be a power of two (1, 2, 4, 8, ...), got 12 (from exp.yaml:2:3)."`,
    );
  });

  it("refuses an unknown key with a did-you-mean that names the right section", () => {
    expect(
      errorOf(() =>
        resolvePayload("training", [
          base,
          file({ "training.batchsize": 32, "model.learningRate": 1, "trainng.nepochs": 3 }),
        ]),
      ),
    ).toMatchInlineSnapshot(`
      "3 problems:
        - training.batchsize: is not a known setting, got 32 (from exp.yaml:2:3). Did you mean "training.batchSize"?
        - model.learningRate: is not a known setting, got 1 (from exp.yaml:3:3). It is in the execution section: did you mean "execution.learningRate"?
        - trainng.nepochs: is not a known setting ("trainng" is not a section), got 3 (from exp.yaml:4:3). Did you mean "training"?"
    `);
  });

  it("requires nGroups for training and says how to set it", () => {
    expect(
      errorOf(() => resolvePayload("training", [cli({ "training.trainDataFile": "t.npz" })])),
    ).toMatchInlineSnapshot(
      `"training.nGroups: is required and has no value. Set it with --n-groups N on the command line, training.nGroups in a config file, or TRAINKIT_TRAINING_N_GROUPS. Upstream requires it too (there is no default)."`,
    );
  });

  it("accepts the deprecated nImages with a warning naming its origin", () => {
    const payload = resolvePayload("training", [
      cli({ "training.trainDataFile": "t.npz" }),
      file({ "training.nImages": 128 }, "old.yaml"),
    ]);
    expect(payload.config.training.nGroups).toBe(128);
    expect(payload.warnings).toEqual([
      {
        code: "DEPRECATED_NAME",
        path: "training.nGroups",
        message: `"nImages" (old.yaml:2:3) is deprecated; use "training.nGroups" instead.`,
      },
    ]);
  });

  it("refuses the old and the new name in one source", () => {
    expect(
      errorOf(() =>
        resolvePayload("training", [base, file({ "training.nGroups": 4, "training.nImages": 8 })]),
      ),
    ).toContain('is set twice in one source, as "training.nGroups" and as "training.nImages"');
  });

  it("maps upstream spellings of modelType and aliases of nepochs and neighborCount", () => {
    const payload = resolvePayload("training", [
      base,
      file({ "model.modelType": "Supervised", "training.epochs": 3, "training.K": 7 }),
    ]);
    expect(payload.config.model.modelType).toBe("supervised");
    expect(payload.config.training.nepochs).toBe(3);
    expect(payload.config.training.neighborCount).toBe(7);
  });

  it("warns when an explicit value contradicts an inferred one, and keeps both in the audit", () => {
    const inferred: Layer = {
      level: "inferred",
      entries: [
        { path: "model.N", value: 64, origin: { kind: "inferred", from: "train.npz:probeGuess.shape" } },
      ],
    };
    const payload = resolvePayload("training", [base, inferred, cli({ "model.N": 128 })]);
    expect(payload.config.model.N).toBe(128);
    expect(payload.warnings.map((w) => w.message)).toEqual([
      `model.N is 128 ("--model.N 128" on the command line) but 64 was inferred from train.npz:probeGuess.shape; the explicit value wins.`,
    ]);
    expect(auditOf(payload, "model.N")?.shadowed.map((s) => s.level)).toEqual(["inferred", "default"]);
  });

  it("warns about execution settings the other kind of job reads, and only when they differ from the default", () => {
    const training = resolvePayload("training", [
      base,
      file({
        "execution.middleTrim": 8,
        "execution.patchWeighting": "probe",
        "execution.learningRate": 0.01,
      }),
    ]);
    expect(training.warnings.map((w) => w.message)).toEqual([
      "execution.middleTrim is 8 but has no effect in a training run: it applies to trainkit-infer (inference) only.",
    ]);
    const inference = resolvePayload("inference", [
      cli({ "inference.modelPath": "m.zip", "inference.testDataFile": "t.npz" }),
      file({ "execution.learningRate": 0.01, "execution.checkpointSaveTopK": 3, "execution.middleTrim": 8 }),
    ]);
    expect(inference.warnings.map((w) => w.path)).toEqual([
      "execution.learningRate",
      "execution.checkpointSaveTopK",
    ]);
  });

  it("skips the other payload kind's section in shared sources but refuses it in overrides", () => {
    const payload = resolvePayload("training", [base, file({ "inference.debug": true })]);
    expect(payload.audit.some((a) => a.path.startsWith("inference."))).toBe(false);
    expect(errorOf(() => resolvePayload("training", [base, cli({ "inference.debug": true })]))).toContain(
      "is an inference setting and does not apply here",
    );
  });

  it("masks secret values in the audit, in overridesApplied and in errors", () => {
    const payload = resolvePayload("training", [
      base,
      file({
        "execution.mlflowTrackingUri": "https://user:s3cr3t@mlflow.example",
        "execution.logger": "mlflow",
      }),
    ]);
    expect(payload.config.execution.mlflowTrackingUri).toBe("https://user:s3cr3t@mlflow.example");
    expect(JSON.stringify(payload.audit)).not.toContain("s3cr3t");
    expect(payload.overridesApplied.mlflow_tracking_uri).toBe("***");
    const message = errorOf(() =>
      resolvePayload("training", [base, file({ "execution.mlflowTrackingUri": 12345 })]),
    );
    expect(message).toContain("got ***");
    expect(message).not.toContain("12345");
  });

  it("runs cross-section rules", () => {
    const payload = resolvePayload("training", [
      base,
      file({ "model.gridsize": 3 }),
      cli({ "training.neighborCount": 4 }),
    ]);
    expect(payload.warnings.map((w) => `${w.code} ${w.path}`)).toEqual([
      "SUSPICIOUS_VALUE training.neighborCount",
    ]);
  });

  it("records every value set above the default in overridesApplied, under upstream names", () => {
    const payload = resolvePayload("training", [
      base,
      cli({ "execution.accumulateGradBatches": 2, "training.nepochs": 3 }),
    ]);
    expect(payload.overridesApplied).toEqual({
      train_data_file: "train.npz",
      n_groups: 256,
      nepochs: 3,
      accum_steps: 2,
    });
  });

  it("never writes execution fields to the legacy dictionary", () => {
    const payload = resolvePayload("training", [base, cli({ "execution.learningRate": 0.5 }, "execution")]);
    expect(payload.legacy).not.toHaveProperty("learning_rate");
    expect(payload.legacy).toMatchObject({
      n_groups: 256,
      train_data_file_path: "train.npz",
      "object.big": true,
    });
  });
});

describe("peekValue", () => {
  it("finds the highest-precedence value of a path through aliases", () => {
    const layers = [file({ "training.nImages": 5 }), cli({ "training.nGroups": 9 }, "execution")];
    expect(peekValue(TRAINING_SPEC, layers, "training.nGroups")?.value).toBe(9);
    expect(peekValue(TRAINING_SPEC, [layers[0]!], "training.nGroups")?.value).toBe(5);
  });
});

describe("layerFromSections", () => {
  it("makes one entry per key with its origin", () => {
    const layer = layerFromSections(
      "config",
      { training: { batchSize: 8 }, execution: { seed: 3 } },
      (path) => ({
        kind: "env",
        variable: path,
      }),
    );
    expect(layer.entries.map((e) => [e.path, e.value])).toEqual([
      ["training.batchSize", 8],
      ["execution.seed", 3],
    ]);
  });
});
