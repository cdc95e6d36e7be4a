// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  isSimulationError,
  SimulationError,
  type SimulationErrorCode,
  type SimulationErrorOptions,
} from "./errors.ts";
export {
  DatagenOptionsSchema,
  MAX_SIMULATION_PIXELS,
  SimulateOptionsSchema,
  SplitOptionsSchema,
} from "./options.ts";
export {
  resolveSimulationParameters,
  SIMULATION_DEFAULTS,
  type SimulatedArrays,
  type SimulatedDataset,
  type SimulateOptions,
  type SimulationMetadata,
  type SimulationParameters,
  type SimulationSplit,
  type SimulationTarget,
  type SplitOptions,
  simulateDataset,
  splitSimulatedDataset,
  type WriteSimulatedDatasetOptions,
  type WrittenSimulationFile,
  writeSimulatedDataset,
} from "./simulate.ts";
