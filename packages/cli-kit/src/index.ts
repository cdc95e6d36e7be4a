export { isUsageError, UsageError } from "./errors.ts";
export { renderExplain, selectAudit } from "./explain.ts";
export { FLAG_GROUPS, type FlagGroup, type FlagSpec, type FlagTable, flagTable, OPTIONS } from "./flags.ts";
export { renderHelp } from "./help.ts";
export { type OutputFormat, type ParsedArgs, parseArgv, trainkitVariables } from "./parse-argv.ts";
export { runAsProcess } from "./process.ts";
export { type ProgramIO, type ProgramSpec, runProgram } from "./program.ts";
