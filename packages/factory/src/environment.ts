import { existsSync } from "node:fs";
import type { Layer, LayerEntry } from "./layer.ts";

/** Facts about the machine that the `inferred` level uses. Injected in tests. */
export interface RunEnvironment {
  /** What `accelerator: auto` resolves to here. */
  readonly accelerator: "gpu" | "mps" | "cpu";
  /** Why, e.g. `auto: no GPU found`. */
  readonly acceleratorReason: string;
  /** Whether standard output is a terminal (progress bars only make sense there). */
  readonly isTTY: boolean;
}

/** Looks at this machine: an NVIDIA driver means `gpu`, Apple silicon means `mps`, else `cpu`. */
export function detectEnvironment(): RunEnvironment {
  const nvidia = ["/proc/driver/nvidia/version", "/dev/nvidia0"].find((p) => existsSync(p));
  const appleSilicon = process.platform === "darwin" && process.arch === "arm64";
  return {
    accelerator: nvidia ? "gpu" : appleSilicon ? "mps" : "cpu",
    acceleratorReason: nvidia
      ? `auto: NVIDIA driver found (${nvidia})`
      : appleSilicon
        ? "auto: Apple silicon"
        : "auto: no GPU found",
    isTTY: process.stdout.isTTY === true,
  };
}

/** The `inferred`-level values that come from the machine rather than the data. */
export function environmentEntries(environment: RunEnvironment): LayerEntry[] {
  return [
    {
      path: "execution.accelerator",
      value: environment.accelerator,
      origin: { kind: "inferred", from: environment.acceleratorReason },
    },
    {
      path: "execution.enableProgressBar",
      value: environment.isTTY,
      origin: {
        kind: "inferred",
        from: environment.isTTY ? "stdout is a terminal" : "stdout is not a terminal",
      },
    },
  ];
}

export function inferredLayer(entries: readonly LayerEntry[]): Layer {
  return { level: "inferred", entries };
}
