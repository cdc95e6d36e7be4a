// One UsageError for every trainkit command (config-meta); re-exported here for the programs.
export { isUsageError, UsageError } from "@trainkit/config-meta";
