export {
  type Backend,
  type RunContext,
  type RunIO,
  type RunResult,
  unsupportedSettings,
} from "./backend.ts";
export { BACKEND_NAMES, BACKENDS, type BackendName, embeddedBackend } from "./backends.ts";
export { type Capability, only, type UnsupportedSetting } from "./capabilities.ts";
export { splitCommand } from "./command-line.ts";
export {
  DIALECTS,
  type Dialect,
  type Flag,
  type FromData,
  PAYLOAD_DIALECT_SUPPORT,
  type ProgramSurface,
  PTYCHO_TORCH_SUPPORT,
  type PtychoSupport,
  parseHelp,
  ptychoTorchValues,
  renderPtychoTorch,
  type Upstream,
} from "./dialects.ts";
export { isLaunchError, LaunchError, type LaunchErrorCode } from "./errors.ts";
export { writeFileAtomic, writeJsonAtomic } from "./files.ts";
export { LOG_ROTATE_BYTES } from "./internal/output.ts";
export {
  checkCapabilities,
  checkInputs,
  checkRunDirectory,
  type LaunchOptions,
  type LaunchOutcome,
  launch,
  type PlannedPayload,
  planRunDirectory,
  type RunDirectoryPlan,
  redactDocument,
  runDirectoryOf,
  secretValuesOf,
} from "./launch.ts";
export {
  PACKAGE_VERSIONS,
  payloadDocument,
  type RunManifest,
  type RunStatus,
  readManifest,
  sha256,
} from "./manifest.ts";
export {
  checkProgram,
  type ProcessOptions,
  probeCommand,
  processBackend,
  processOptionsOf,
  threadEnvironment,
} from "./process-backend.ts";
