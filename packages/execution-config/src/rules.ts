import { defineRule, type Rule, type RuleFinding } from "@trainkit/config-meta";
import { EXECUTION_DEFAULTS, type ExecutionConfig, type Scheduler } from "./execution-config.ts";

const needsWorkers = defineRule<ExecutionConfig>("loader-options-need-workers", (c) => {
  if (c.numWorkers > 0) return [];
  const findings: RuleFinding[] = [];
  if (c.persistentWorkers) {
    findings.push({
      severity: "error",
      field: "persistentWorkers",
      message: "needs numWorkers > 0 (there are no worker processes to keep alive)",
      hint: "Set numWorkers to 1 or more, or drop persistentWorkers.",
    });
  }
  if (c.prefetchFactor !== null) {
    findings.push({
      severity: "error",
      field: "prefetchFactor",
      message: "needs numWorkers > 0 (only worker processes prefetch)",
      hint: "Set numWorkers to 1 or more, or drop prefetchFactor.",
    });
  }
  return findings;
});

const deterministicWorkers = defineRule<ExecutionConfig>("deterministic-with-workers", (c) =>
  c.deterministic !== false && c.numWorkers > 0
    ? [
        {
          severity: "warning",
          code: "DETERMINISTIC_WITH_WORKERS",
          field: "deterministic",
          message: `deterministic=${String(c.deterministic)} with numWorkers=${c.numWorkers} may cause performance degradation; results stay reproducible only with the same worker count.`,
        },
      ]
    : [],
);

const multiStageNeedsMilestones = defineRule<ExecutionConfig>("multistage-needs-milestones", (c) =>
  c.scheduler === "MultiStage" && c.lrMilestones.length === 0
    ? [
        {
          severity: "error",
          field: "lrMilestones",
          message: "must list at least one epoch when scheduler is MultiStage",
          hint: "Set lrMilestones, e.g. [30, 60].",
        },
      ]
    : [],
);

const SCHEDULER_PARAMS: Readonly<Record<string, readonly Scheduler[]>> = {
  lrGamma: ["Exponential"],
  lrMilestones: ["MultiStage"],
  lrMilestoneFactor: ["MultiStage"],
  lrWarmupEpochs: ["WarmupCosine"],
  lrMinRatio: ["WarmupCosine"],
  plateauFactor: ["ReduceLROnPlateau", "Adaptive"],
  plateauPatience: ["ReduceLROnPlateau", "Adaptive"],
  plateauMinLr: ["ReduceLROnPlateau", "Adaptive"],
  plateauThreshold: ["ReduceLROnPlateau", "Adaptive"],
};

/** Settings whose value only matters when another setting enables them. */
const DEPENDENT_SETTINGS: readonly {
  readonly field: keyof ExecutionConfig;
  readonly usedWhen: (c: ExecutionConfig) => boolean;
  readonly because: (c: ExecutionConfig) => string;
}[] = [
  ...Object.entries(SCHEDULER_PARAMS).map(([field, schedulers]) => ({
    field: field as keyof ExecutionConfig,
    usedWhen: (c: ExecutionConfig) => schedulers.includes(c.scheduler),
    because: (c: ExecutionConfig) =>
      `scheduler is ${c.scheduler} (it is used by ${schedulers.join(" and ")})`,
  })),
  {
    field: "momentum",
    usedWhen: (c) => c.optimizer === "sgd",
    because: (c) => `optimizer is ${c.optimizer} (momentum is used by sgd)`,
  },
  ...(["adamBeta1", "adamBeta2"] as const).map((field) => ({
    field,
    usedWhen: (c: ExecutionConfig) => c.optimizer !== "sgd",
    because: () => "optimizer is sgd (betas are used by adam and adamw)",
  })),
  {
    field: "gradientClipAlgorithm",
    usedWhen: (c) => c.gradientClipVal !== null,
    because: () => "gradientClipVal is null (clipping is off)",
  },
  ...(["checkpointSaveTopK", "checkpointMonitor", "checkpointMode", "earlyStopPatience"] as const).map(
    (field) => ({
      field,
      usedWhen: (c: ExecutionConfig) => c.enableCheckpointing,
      because: () => "enableCheckpointing is false",
    }),
  ),
  {
    field: "mlflowTrackingUri",
    usedWhen: (c) => c.logger === "mlflow",
    because: (c) => `logger is ${c.logger}`,
  },
];

function isDefault(field: keyof ExecutionConfig, value: unknown): boolean {
  const dflt = EXECUTION_DEFAULTS[field];
  if (Array.isArray(value) && Array.isArray(dflt))
    return value.length === dflt.length && value.every((v, i) => v === dflt[i]);
  return value === dflt;
}

const unusedSettings = defineRule<ExecutionConfig>("unused-settings", (c) =>
  DEPENDENT_SETTINGS.filter((d) => !d.usedWhen(c) && !isDefault(d.field, c[d.field])).map((d) => ({
    severity: "warning",
    code: "UNUSED_SETTING",
    field: d.field,
    message: `${d.field} has no effect because ${d.because(c)}.`,
  })),
);

/** The cross-field rules of the execution config, in the order they run. */
export const EXECUTION_RULES: readonly Rule<ExecutionConfig>[] = [
  needsWorkers,
  multiStageNeedsMilestones,
  deterministicWorkers,
  unusedSettings,
];
