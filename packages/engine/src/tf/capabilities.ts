/**
 * What the TensorFlow.js engine honours, as data: one entry per config field. The launcher checks
 * a payload against this list before a run and refuses unsupported settings (no knob is silently
 * ignored); fields whose value cannot matter to this engine are listed as `"any"` with the reason.
 */
import type { ModelConfig, TrainingConfig } from "@trainkit/training-config";

type Value = string | number | boolean | null;

export interface Capability {
  /** Dotted payload path, e.g. `model.architecture`. */
  readonly field: string;
  /** The values that work, or `"any"`. */
  readonly supported: readonly Value[] | "any";
  /** How the engine uses the field, or why it does not matter. */
  readonly note: string;
}

export const TF_CAPABILITIES = [
  {
    field: "model.architecture",
    supported: ["cnn"],
    note: "The CNN encoder-decoder; FNO-family generators are PyTorch-only.",
  },
  {
    field: "model.N",
    supported: [64, 128],
    note: "Patch size; 64 is the tuned default, 128 runs about 4x slower per sample; 256 does not fit a CPU budget.",
  },
  {
    field: "model.gridsize",
    supported: [1, 2],
    note: "C = gridsize^2 diffraction channels per group (3 runs and is gradient-checked, but is not tested end to end).",
  },
  { field: "model.nFiltersScale", supported: "any", note: "Encoder widths 16, 32, 64 times nFiltersScale." },
  {
    field: "model.modelType",
    supported: ["pinn", "supervised"],
    note: "supervised regresses amplitude and phase of the ground truth Y (the data must contain Y).",
  },
  {
    field: "model.ampActivation",
    supported: ["sigmoid", "swish", "softplus", "relu"],
    note: "Amplitude decoder output.",
  },
  {
    field: "model.objectBig",
    supported: [true, false],
    note: "Shared canvas for the C patches of a group (C > 1).",
  },
  {
    field: "model.probeBig",
    supported: [true, false],
    note: "Outer-region decoder branch when padObject is on.",
  },
  {
    field: "model.padObject",
    supported: [true, false],
    note: "Decoders predict the central N/2 region and pad.",
  },
  { field: "model.probeMask", supported: [true, false], note: "Soft circular mask on the exit wave." },
  { field: "model.probeMaskSigma", supported: "any", note: "Edge softness of the probe mask (pixels)." },
  { field: "model.probeMaskDiameter", supported: "any", note: "Probe mask diameter (pixels); null is N/2." },
  {
    field: "model.probeScale",
    supported: "any",
    note: "Probe normalisation: probe / (probeScale * mean|disk * probe|).",
  },
  {
    field: "model.gaussianSmoothingSigma",
    supported: "any",
    note: "> 0: 3x3 Gaussian smoothing of the exit wave (as upstream).",
  },
  {
    field: "model.generatorOutputMode",
    supported: ["real_imag"],
    note: "FNO-family generators only; the CNN always decodes amplitude and phase, so only the default is accepted.",
  },
  { field: "model.fnoModes", supported: "any", note: "FNO-only; not used by the CNN." },
  { field: "model.fnoWidth", supported: "any", note: "FNO-only; not used by the CNN." },
  { field: "model.fnoBlocks", supported: "any", note: "FNO-only; not used by the CNN." },
  { field: "model.fnoCnnBlocks", supported: "any", note: "FNO-only; not used by the CNN." },
  { field: "model.learnedInputChannels", supported: "any", note: "FNO-only; not used by the CNN." },
  {
    field: "model.fnoInputTransform",
    supported: ["none"],
    note: "FNO-family input transform; the CNN reads amplitudes as they are, so only the default is accepted.",
  },
  {
    field: "model.maxHiddenChannels",
    supported: [null],
    note: "Channel caps are not implemented for the CNN.",
  },
  {
    field: "model.resnetWidth",
    supported: [null],
    note: "Residual bottleneck width is not implemented for the CNN.",
  },
  { field: "training.nllWeight", supported: "any", note: "Weight of the Poisson NLL on intensities." },
  { field: "training.maeWeight", supported: "any", note: "Weight of the amplitude MAE (count units)." },
  {
    field: "training.realspaceWeight",
    supported: "any",
    note: "Real-space loss weight (needs Y in the data when > 0).",
  },
  {
    field: "training.realspaceMaeWeight",
    supported: "any",
    note: "Real-space MAE weight (needs Y in the data when > 0).",
  },
  {
    field: "training.nphotons",
    supported: "any",
    note: "Initial intensity scale sqrt(nphotons)/(N/2), or from data.",
  },
  {
    field: "training.probeTrainable",
    supported: [true, false],
    note: "Probe real and imaginary parts as variables.",
  },
  {
    field: "training.intensityScaleTrainable",
    supported: [true, false],
    note: "Log intensity scale as a variable.",
  },
  {
    field: "training.torchLossMode",
    supported: ["poisson"],
    note: "PyTorch-only; this engine's diffraction loss is set by nllWeight and maeWeight.",
  },
  {
    field: "training.torchMaePredL2MatchTarget",
    supported: [false],
    note: "PyTorch-only MAE option; not implemented here.",
  },
] as const satisfies readonly Capability[];

/** Cross-field limits that a per-field list cannot express. */
export interface CapabilityRule {
  readonly fields: readonly string[];
  /** What is supported, in a few words (for the launcher's refusal). */
  readonly requirement: string;
  readonly check: (config: CapabilityInput) => string | undefined;
}

export interface CapabilityInput {
  readonly model: ModelConfig;
  readonly training?: Partial<TrainingConfig> | undefined;
}

export const TF_CAPABILITY_RULES: readonly CapabilityRule[] = [
  {
    fields: ["model.modelType", "model.objectBig", "model.gridsize"],
    requirement: "objectBig for a supervised model with gridsize > 1",
    check: ({ model }) =>
      model.modelType === "supervised" && !model.objectBig && model.gridsize > 1
        ? "a supervised model with gridsize > 1 needs objectBig: the decoder must output one patch per position to compare with Y."
        : undefined,
  },
];

export interface CapabilityIssue {
  readonly field: string;
  readonly value: unknown;
  readonly message: string;
}

function valueAt(
  config: CapabilityInput,
  path: string,
): { readonly found: boolean; readonly value: unknown } {
  const [section, key] = path.split(".") as [string, string];
  const container: unknown =
    section === "model" ? config.model : section === "training" ? config.training : undefined;
  if (container === undefined || container === null || typeof container !== "object" || !(key in container)) {
    return { found: false, value: undefined };
  }
  return { found: true, value: (container as Record<string, unknown>)[key] };
}

/** Every setting in `config` that this engine does not support, with a message naming the field. */
export function checkTfCapabilities(config: CapabilityInput): readonly CapabilityIssue[] {
  const issues: CapabilityIssue[] = [];
  for (const cap of TF_CAPABILITIES as readonly Capability[]) {
    if (cap.supported === "any") continue;
    const { found, value } = valueAt(config, cap.field);
    if (!found) continue;
    if (!(cap.supported as readonly unknown[]).includes(value)) {
      issues.push({
        field: cap.field,
        value,
        message: `${cap.field}: the TensorFlow.js engine supports ${cap.supported.map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(value)}. ${cap.note}`,
      });
    }
  }
  for (const rule of TF_CAPABILITY_RULES) {
    const message = rule.check(config);
    if (message !== undefined) {
      issues.push({
        field: rule.fields.join(", "),
        value: rule.fields.map((f) => valueAt(config, f).value),
        message,
      });
    }
  }
  return issues;
}
