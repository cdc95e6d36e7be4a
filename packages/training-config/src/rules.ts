import { defineRule, type Rule } from "@trainkit/config-meta";
import type { ModelConfig } from "./model-config.ts";
import type { InferenceConfig, TrainingConfig } from "./training-config.ts";

const probeMaskFits = defineRule<ModelConfig>("probe-mask-fits", (c) =>
  c.probeMaskDiameter !== null && c.probeMaskDiameter > c.N
    ? [{ severity: "error", field: "probeMaskDiameter", message: `must not exceed N (${c.N})` }]
    : [],
);

const realspaceNeedsWeight = defineRule<TrainingConfig>("realspace-mae-needs-realspace-weight", (c) =>
  c.realspaceMaeWeight > 0 && c.realspaceWeight <= 0
    ? [
        {
          severity: "error",
          field: "realspaceMaeWeight",
          message: "needs realspaceWeight > 0 (the real-space losses are scaled by it)",
          hint: "Set realspaceWeight, or set realspaceMaeWeight to 0.",
        },
      ]
    : [],
);

const someLoss = defineRule<TrainingConfig>("some-loss", (c) =>
  c.nllWeight === 0 && c.maeWeight === 0 && c.realspaceWeight === 0
    ? [
        {
          severity: "error",
          field: "nllWeight",
          message: "is 0 and so are maeWeight and realspaceWeight: there is nothing to train on",
          hint: "Give at least one loss a positive weight.",
        },
      ]
    : [],
);

const foldsComplete = defineRule<TrainingConfig>("folds-complete", (c) => {
  if (c.foldCount === null && c.foldIndex === null) return [];
  if (c.foldCount === null) {
    return [
      {
        severity: "error",
        field: "foldIndex",
        message: "needs foldCount (the number of folds it picks one of)",
        hint: "Set foldCount (2 or more) as well, or set foldIndex to null.",
      },
    ];
  }
  if (c.foldIndex === null) {
    return [
      {
        severity: "error",
        field: "foldCount",
        message: "needs foldIndex (the fold to validate on)",
        hint: `Set foldIndex to one of 0..${c.foldCount - 1} as well, or set foldCount to null.`,
      },
    ];
  }
  return c.foldIndex >= c.foldCount
    ? [
        {
          severity: "error",
          field: "foldIndex",
          message: `must be below foldCount (${c.foldCount})`,
          hint: `Folds are numbered 0..${c.foldCount - 1}.`,
        },
      ]
    : [];
});

function poolFits<T extends { neighborPoolSize: number | null; neighborCount: number }>(
  name: string,
): Rule<T> {
  return defineRule<T>(name, (c) =>
    c.neighborPoolSize !== null && c.neighborPoolSize < c.neighborCount
      ? [
          {
            severity: "error",
            field: "neighborPoolSize",
            message: `must be >= neighborCount (${c.neighborCount})`,
          },
        ]
      : [],
  );
}

export const MODEL_RULES: readonly Rule<ModelConfig>[] = [probeMaskFits];
export const TRAINING_RULES: readonly Rule<TrainingConfig>[] = [
  realspaceNeedsWeight,
  someLoss,
  poolFits<TrainingConfig>("neighbor-pool-fits"),
  foldsComplete,
];
export const INFERENCE_RULES: readonly Rule<InferenceConfig>[] = [
  poolFits<InferenceConfig>("neighbor-pool-fits"),
];
