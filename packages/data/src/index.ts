// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  /** @internal */ temporaryPathFor,
  /** @internal */ writeFileAtomic,
} from "./atomic.ts";
export {
  BUNDLE_FILE,
  /** @internal */ BUNDLE_FORMAT,
  /** @internal */ BUNDLE_FORMAT_VERSION,
  /** @internal */ BUNDLE_JSON_MAX_BYTES,
  /** @internal */ BUNDLE_WEIGHTS_MAX_BYTES,
  type BundleManifest,
  type ModelBundle,
  type ReadBundleOptions,
  readModelBundle,
  resolveBundlePath,
  type WriteBundleInput,
  writeModelBundle,
} from "./bundle.ts";
export {
  /** @internal */ assertDataValues,
  /** @internal */ type CheckValuesOptions,
} from "./check-values.ts";
export {
  assertDataContract,
  CONTRACT_KEYS,
  type ContractFinding,
  type ContractFindingCode,
  type ContractOptions,
  type ContractReport,
  checkDataContract,
  type DataModelType,
  type DataPurpose,
} from "./contract.ts";
export {
  /** @internal */ type DirectoryProblem,
  /** @internal */ directoryProblem,
  /** @internal */ errnoReason,
  /** @internal */ makeDirectory,
} from "./directories.ts";
export {
  DataError,
  type DataErrorCode,
  type DataErrorOptions,
  isDataError,
} from "./errors.ts";
export {
  assignSpatialFolds,
  type SpatialFolds,
  splitFold,
} from "./folds.ts";
export {
  type InferredValue,
  inferProbeSize,
  readNphotons,
} from "./infer.ts";
export {
  type DataFileFacts,
  type Inference,
  type InspectDataOptions,
  inspectDataFile,
} from "./inspect.ts";
export {
  /** @internal */ jsonDepth,
  /** @internal */ MAX_JSON_DEPTH,
} from "./internal/json-depth.ts";
export { readMetadata } from "./metadata.ts";
export {
  DTYPES,
  type Dtype,
  type DtypeData,
  elementCount,
  type NdArray,
  type NdArrayOf,
  type NumericDtype,
  type StringDtype,
} from "./ndarray.ts";
export {
  DEFAULT_MAX_BYTES,
  encodeNpy,
  type NpyOptions,
  type NpyVersion,
  parseNpy,
} from "./npy.ts";
export {
  type ArrayHeader,
  type DecodeNpzOptions,
  decodeNpz,
  type EncodeNpzOptions,
  encodeNpz,
  type LoadNpzOptions,
  loadNpz,
  type Npz,
  type NpzHeaders,
  type NpzInput,
  type ReadNpzHeadersOptions,
  readNpzHeaders,
  type SaveNpzOptions,
  saveNpz,
} from "./npz.ts";
