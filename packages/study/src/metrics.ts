import type { MetricName } from "./types.ts";

/** Every metric a job reports, in table order. */
export const METRIC_NAMES = [
  "phaseSsim",
  "phasePsnr",
  "amplitudeSsim",
  "amplitudePsnr",
  "valLoss",
  "trainLoss",
] as const satisfies readonly MetricName[];
