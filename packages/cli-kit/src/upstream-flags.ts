// Flags of upstream's ptycho_torch CLIs that trainkit deliberately does not take. Each is refused
// with a message that says it is upstream-only and what to use instead (docs/decisions.md records
// why each is refused rather than modelled or aliased).
import type { PayloadKind } from "@trainkit/factory";

interface UpstreamOnlyFlag {
  /** The upstream program(s) that have the flag. */
  readonly programs: readonly PayloadKind[];
  readonly instead: string;
}

const PATCH_STATS =
  "it writes upstream's patch-statistics diagnostics, which trainkit does not compute; run upstream's program directly for them (trainkit-train --backend process --command ... passes no such flag)";
const SCALE_CONTRACT =
  "upstream's scaling contract selects its count-intensity physics (ci_intensity_v2 with count_intensity, or legacy_v1 with normalized_amplitude); trainkit models the normalised-amplitude contract only (the data contract of docs/configuration.md), so there is nothing to select";

export const UPSTREAM_ONLY_FLAGS: Readonly<Record<string, UpstreamOnlyFlag>> = {
  "log-patch-stats": { programs: ["training", "inference"], instead: PATCH_STATS },
  "patch-stats-limit": { programs: ["training", "inference"], instead: PATCH_STATS },
  profile: {
    programs: ["training"],
    instead:
      "upstream's `--profile ci` forces its CI scaling contract and rectangular physics, which trainkit does not model; set the training fields you need explicitly",
  },
  "scale-contract-version": { programs: ["training", "inference"], instead: SCALE_CONTRACT },
  "measurement-domain": { programs: ["training", "inference"], instead: SCALE_CONTRACT },
  ptycho_dir: {
    programs: ["training"],
    instead:
      "it selects upstream's legacy JSON interface; give the data with --train-data-file (and --test-data-file) and the settings with --config FILE or --legacy-params FILE",
  },
  "varpro-scaling": {
    programs: ["inference"],
    instead:
      "trainkit's stitching has no variable-projection scaling; choose the stitching weights with --patch-weighting probe|uniform (with --backend process --dialect ptycho-torch, probe weighting already takes upstream's barycentric path)",
  },
};

/** The message for an upstream-only flag, or undefined when `name` is not one. */
export function upstreamOnlyMessage(kind: PayloadKind, name: string): string | undefined {
  const flag = UPSTREAM_ONLY_FLAGS[name];
  if (!flag?.programs.includes(kind)) return undefined;
  const program = kind === "training" ? "ptycho_torch.train" : "ptycho_torch.inference";
  return `--${name} is a flag of upstream's ${program} that trainkit does not take: ${flag.instead}.`;
}
