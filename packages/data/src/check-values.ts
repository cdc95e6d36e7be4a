import { assertDataContract, CONTRACT_KEYS, type ContractOptions, type ContractReport } from "./contract.ts";
import { loadNpz, readNpzHeaders } from "./npz.ts";

export interface CheckValuesOptions extends ContractOptions {
  /** Largest array, in bytes once decoded, that may be allocated (see `loadNpz`). */
  readonly maxBytes?: number;
}

/**
 * Loads the contract arrays of an `.npz` (only those: other members are not read) and checks their
 * values as well as their shapes: NaN, infinity or negative amplitudes, NaN in the probe, object,
 * coordinates or `Y`, and a bad `_metadata` (JSON, nphotons) are `CONTRACT_VIOLATION`s whose
 * message names the file, the array and the first bad index. Returns the warnings.
 */
export async function assertDataValues(file: string, options: CheckValuesOptions): Promise<ContractReport> {
  const { headers } = await readNpzHeaders(file);
  const contract: readonly string[] = CONTRACT_KEYS;
  const keys = [...headers.values()]
    .filter((h) => contract.includes(h.key) && h.dtype !== null)
    .map((h) => h.key);
  const npz = await loadNpz(file, {
    keys,
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
  });
  return assertDataContract(npz, { ...options, file: options.file ?? file });
}
