// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  type Backend,
  type RunContext,
  type RunIO,
  type RunResult,
  unsupportedSettings,
} from "./backend.ts";
export {
  BACKEND_NAMES,
  BACKENDS,
  type BackendName,
  embeddedBackend,
} from "./backends.ts";
export {
  type Capability,
  only,
  type UnsupportedSetting,
} from "./capabilities.ts";
export { splitCommand } from "./command-line.ts";
export {
  DIALECTS,
  type Dialect,
  /** @internal */ type Flag,
  /** @internal */ type FromData,
  PAYLOAD_DIALECT_SUPPORT,
  /** @internal */ type ProgramSurface,
  PTYCHO_TORCH_SUPPORT,
  /** @internal */ type PtychoSupport,
  parseHelp,
  ptychoTorchValues,
  renderPtychoTorch,
  /** @internal */ type Upstream,
} from "./dialects.ts";
export {
  isLaunchError,
  LaunchError,
  type LaunchErrorCode,
} from "./errors.ts";
export {
  /** @internal */ writeFileAtomic,
  /** @internal */ writeJsonAtomic,
} from "./files.ts";
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
  /** @internal */ runDirectoryOf,
  secretValuesOf,
} from "./launch.ts";
export {
  /** @internal */ PACKAGE_VERSIONS,
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
  /** @internal */ processOptionsOf,
  threadEnvironment,
} from "./process-backend.ts";
