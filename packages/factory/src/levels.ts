/** The five precedence levels, highest first. */
export const LEVELS = ["override", "execution", "config", "inferred", "default"] as const;
export type Level = (typeof LEVELS)[number];

/** Rank of a level: 1 is the highest. */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level) + 1;
}

/** The precedence table as data: printed by `--help` and the docs. */
export const PRECEDENCE: readonly {
  readonly rank: number;
  readonly level: Level;
  readonly inCode: string;
  readonly fromCommandLine: string;
}[] = [
  {
    rank: 1,
    level: "override",
    inCode: "`overrides` argument",
    fromCommandLine: "training/model flags you typed, --set path=value",
  },
  {
    rank: 2,
    level: "execution",
    inCode: "`execution` argument (a partial ExecutionConfig)",
    fromCommandLine: "execution flags you typed",
  },
  {
    rank: 3,
    level: "config",
    inCode: "`sources`: config files, env, legacy params, a previous run",
    fromCommandLine:
      "--config FILE (later wins), TRAINKIT_* env (above files), --legacy-params FILE, --from-run DIR (lowest)",
  },
  {
    rank: 4,
    level: "inferred",
    inCode: "computed from data and environment",
    fromCommandLine: "N from probeGuess, nphotons from NPZ metadata, accelerator auto, progress bar from TTY",
  },
  { rank: 5, level: "default", inCode: "schema defaults", fromCommandLine: "—" },
];

// Origins are data until a message renders them; the type and its phrase live in config-meta, so
// that ConfigIssue can carry one (docs/decisions.md, "Errors keep their structure").
export { describeOrigin, type Origin } from "@trainkit/config-meta";
