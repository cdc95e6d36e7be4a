// Everything a payload needs to know about one data file, from one opening of the archive: the
// headers, the contract report, and the values inferred from the file (N, nphotons).
import { type ContractOptions, type ContractReport, checkDataContract } from "./contract.ts";
import { type DataError, isDataError } from "./errors.ts";
import { type InferredValue, nphotonsIn, probeSizeOf } from "./infer.ts";
import { withNpz } from "./internal/archive.ts";
import { headersIn, type NpzHeaders } from "./npz.ts";

export interface InspectDataOptions extends ContractOptions {
  /** Infer N from the `probeGuess` header (as `inferProbeSize`). */
  readonly probeSize?: boolean;
  /**
   * Read nphotons from `_metadata` (as `readNphotons`). Only read when the contract has no errors
   * and N could be inferred; leave it off when nphotons is set (a pickled one is never unpickled).
   */
  readonly nphotons?: boolean;
}

/** A value inferred from a file, or the `DataError` that reading it gave (thrown by the caller, in order). */
export type Inference<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DataError };

export interface DataFileFacts {
  readonly headers: NpzHeaders;
  readonly report: ContractReport;
  /** With `probeSize`. */
  readonly probeSize?: Inference<InferredValue<number>>;
  /** With `nphotons`, once the contract passed and N was inferred; `value` undefined without one. */
  readonly nphotons?: Inference<InferredValue<number> | undefined>;
}

async function attempt<T>(read: () => T | Promise<T>): Promise<Inference<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    if (isDataError(error)) return { ok: false, error };
    throw error;
  }
}

/**
 * Opens an `.npz` once and returns its headers, its data-contract report and, when asked, N from
 * the probe and nphotons from `_metadata`. Errors opening the file or reading a header are thrown
 * (as `readNpzHeaders`); errors of the inferred values are returned, so that the caller can report
 * contract errors first.
 */
export async function inspectDataFile(file: string, options: InspectDataOptions): Promise<DataFileFacts> {
  return withNpz(file, async (npz) => {
    const headers = await headersIn(npz, file);
    const report = checkDataContract(headers, options);
    if (!options.probeSize) return { headers, report };
    const probeSize = await attempt(() => probeSizeOf(npz, file, headers.headers.get("probeGuess")?.shape));
    if (!options.nphotons || report.errors.length > 0 || !probeSize.ok) return { headers, report, probeSize };
    return { headers, report, probeSize, nphotons: await attempt(() => nphotonsIn(npz, file)) };
  });
}
