// The contract's finding types, apart from contract.ts so that errors.ts can name them without
// importing the contract checks (which import errors.ts).

/** What a contract finding is about. Errors and warnings share the set; each rule picks a severity. */
export type ContractFindingCode =
  /** A required key is absent (`diffraction`, `probeGuess`, `xcoords`, `ycoords`; `Y` for supervised training). */
  | "MISSING_KEY"
  /** Warning: `diff3d` is used; the current name is `diffraction`. */
  | "LEGACY_KEY"
  /** Both `diffraction` and its legacy name `diff3d` are present. */
  | "DUPLICATE_KEY"
  /** A dtype the key cannot have (e.g. integer `diffraction`, real `probeGuess`). */
  | "WRONG_DTYPE"
  /** Warning: a usable but non-canonical dtype (float64 diffraction, complex128 probe, float32 coordinates). */
  | "NONSTANDARD_DTYPE"
  /** The wrong number of dimensions. */
  | "WRONG_RANK"
  /** `probeGuess` is 2-D but not square. */
  | "NON_SQUARE_PROBE"
  /** Sizes disagree: M across keys, or N between `probeGuess` and the patterns. */
  | "SHAPE_MISMATCH"
  /** An array with no elements where data is needed (M = 0 or N = 0). */
  | "EMPTY_ARRAY"
  /** `objectGuess` is not larger than the probe. */
  | "OBJECT_TOO_SMALL"
  /** A pickled object array (an error for contract keys, a warning for others). */
  | "PICKLED"
  /** A dtype that cannot be read (an error for contract keys, a warning for others). */
  | "UNSUPPORTED_DTYPE"
  /** Loaded arrays only: a negative diffraction amplitude. */
  | "NEGATIVE_AMPLITUDE"
  /** Loaded arrays only: NaN or infinity in diffraction, probe or coordinates. */
  | "NON_FINITE"
  /** Warning, loaded arrays only: amplitudes of 10 or more look like intensities or counts. */
  | "LARGE_AMPLITUDE"
  /** `_metadata` is not one JSON string, or its nphotons is invalid. */
  | "BAD_METADATA"
  /** Warning: an unknown key that looks like a misspelt contract key (`probe_guess`). */
  | "SUSPICIOUS_KEY";

export interface ContractFinding {
  readonly code: ContractFindingCode;
  /** The array key the finding is about. */
  readonly key: string;
  /** One line: what is wrong, in which file and key, and how to fix it. */
  readonly message: string;
}
