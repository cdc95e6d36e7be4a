// The logger an execution config's `logger` names, in Lightning's layout under the run directory.
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@trainkit/execution-config";
import { match } from "ts-pattern";
import { LoopError } from "../errors.ts";
import { csvLogger } from "./csv.ts";
import { toYaml } from "./hparams-yaml.ts";
import { type MetricsLogger, writeAtomicSync } from "./metrics-logger.ts";
import { tensorboardLogger } from "./tensorboard.ts";

/**
 * A logger in Lightning's layout under `dir` (the run directory):
 * - `csv`: `lightning_logs/version_<n>/metrics.csv` and `hparams.yaml`, as `CSVLogger`;
 * - `tensorboard`: `lightning_logs/version_<n>/events.out.tfevents.<unix seconds>.<hostname>` and
 *   `hparams.yaml`, as `TensorBoardLogger`;
 * - `none`: nothing.
 * `<n>` is one more than the highest existing `version_<n>` (0 for the first run). `mlflow` needs a
 * tracking client, which the engine has not (its capabilities refuse it): `INVALID_OPTION`.
 */
export function createLogger(
  kind: Logger,
  dir: string,
  hparams: Readonly<Record<string, unknown>> = {},
): MetricsLogger {
  const versioned = (make: (versionDir: string) => MetricsLogger) => (): MetricsLogger => {
    const versionDir = nextVersionDir(join(dir, "lightning_logs"));
    mkdirSync(versionDir, { recursive: true });
    writeAtomicSync(join(versionDir, "hparams.yaml"), toYaml(hparams));
    return make(versionDir);
  };
  return match(kind)
    .with("none", noneLogger)
    .with("csv", versioned(csvLogger))
    .with("tensorboard", versioned(tensorboardLogger))
    .with("mlflow", (): never => {
      throw new LoopError(
        "INVALID_OPTION",
        `logger: the embedded engine writes "csv", "tensorboard" or "none", got ${JSON.stringify(kind)}.`,
      );
    })
    .exhaustive();
}

function noneLogger(): MetricsLogger {
  return { kind: "none", versionDir: null, log() {}, close() {} };
}

/** `<root>/version_<max + 1>` (Lightning `_get_next_version`). */
export function nextVersionDir(root: string): string {
  let max = -1;
  try {
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      const m = /^version_(\d+)$/.exec(entry.name);
      if (entry.isDirectory() && m !== null) max = Math.max(max, Number(m[1]));
    }
  } catch {
    // no root yet
  }
  return join(root, `version_${max + 1}`);
}
