// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  isUsageError,
  UsageError,
} from "./errors.ts";
export {
  renderExplain,
  selectAudit,
} from "./explain.ts";
export {
  FLAG_GROUPS,
  type FlagGroup,
  type FlagSpec,
  type FlagTable,
  flagTable,
  /** @internal */ OPTIONS,
} from "./flags.ts";
export { renderHelp } from "./help.ts";
export {
  type OutputFormat,
  type ParsedArgs,
  parseArgv,
  /** @internal */ trainkitVariables,
} from "./parse-argv.ts";
export { runAsProcess } from "./process.ts";
export {
  type ProgramIO,
  type ProgramSpec,
  runProgram,
} from "./program.ts";
