// What the embedded engine honours. Light on purpose: no TensorFlow.js import, so the launcher can
// check a payload (--dry-run) without loading the engine. The model and training limits come from
// the compute core's own list (tf/capabilities.ts); this adds how the engine runs.
import { type Capability, only as onlyValues } from "@trainkit/config-meta";
import { TF_CAPABILITIES, TF_CAPABILITY_RULES } from "./tf/capabilities.ts";

export type { Capability };

const PROCESS = "Use --backend process with a trainer that supports it (see docs/backends.md).";
const only = (path: string, values: readonly unknown[], hint = PROCESS): Capability =>
  onlyValues(path, values, hint);
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
  ...TF_CAPABILITIES.flatMap((c) => (c.supported === "any" ? [] : [only(c.field, c.supported)])),
  ...TF_CAPABILITY_RULES.map(
    (rule): Capability => ({
      path: rule.fields[0]!,
      supports: (_value, config) =>
        rule.check(config as unknown as Parameters<typeof rule.check>[0]) === undefined,
      supported: rule.requirement,
      hint: PROCESS,
    }),
  ),
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
  atDefault("execution.padEval", false, "the embedded stitcher uses the scanned region as it is"),
];
