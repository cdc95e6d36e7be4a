// What the embedded engine honours. Light on purpose: no TensorFlow.js import, so the launcher can
// check a payload (--dry-run) without loading the engine.

/** One restricted setting (the launcher's `Capability` shape). */
export interface Capability {
  readonly path: string;
  readonly supports: (value: unknown) => boolean;
  readonly supported: string;
  readonly hint?: string;
}

const PROCESS = "Use --backend process with a trainer that supports it (see docs/backends.md).";
const only = (path: string, values: readonly unknown[], hint = PROCESS): Capability => ({
  path,
  supports: (value) => values.some((v) => v === value),
  supported: values.map((v) => JSON.stringify(v)).join(" or "),
  hint,
});
const atDefault = (path: string, value: unknown, why: string): Capability => ({
  path,
  supports: (v) => JSON.stringify(v) === JSON.stringify(value),
  supported: `${JSON.stringify(value)} (${why})`,
  hint: PROCESS,
});

/** The engine's version, recorded in manifests and bundles. */
export const ENGINE_VERSION = "0.0.0";

/** Every setting whose value the embedded engine restricts; anything not listed is honoured. */
export const EMBEDDED_CAPABILITIES: readonly Capability[] = [
  only("model.N", [64, 128]),
  only("model.gridsize", [1, 2]),
  only("model.architecture", ["cnn"]),
  atDefault("model.generatorOutputMode", "real_imag", "the CNN decoders output amplitude and phase"),
  atDefault("model.maxHiddenChannels", null, "FNO/hybrid architectures only"),
  atDefault("model.resnetWidth", null, "FNO/hybrid architectures only"),
  atDefault("model.fnoInputTransform", "none", "FNO architectures only"),
  only(
    "execution.accelerator",
    ["auto", "cpu"],
    "The embedded engine runs on the CPU (WebAssembly); for a GPU use --backend process.",
  ),
  only("execution.devices", [1, "auto"]),
  only("execution.strategy", ["auto"]),
  only("execution.precision", ["32-true"]),
  only("execution.logger", ["csv", "tensorboard", "none"]),
  atDefault("execution.mlflowTrackingUri", null, "no MLflow logger"),
  atDefault("training.torchLossMode", "poisson", "PyTorch trainer only"),
  atDefault("training.torchMaePredL2MatchTarget", false, "PyTorch trainer only"),
  atDefault("execution.padEval", false, "the embedded stitcher uses the scanned region as it is"),
];
