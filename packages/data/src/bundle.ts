import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import { writeFileAtomic } from "./atomic.ts";
import { DataError } from "./errors.ts";

/** The file name of a model bundle inside a training run directory. */
export const BUNDLE_FILE = "model.zip";
export const BUNDLE_FORMAT = "trainkit-model-bundle";
export const BUNDLE_FORMAT_VERSION = 1;

/** `manifest.json` of a model bundle. */
export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  /** Which backend wrote the weights (e.g. `embedded`) and in what layout. */
  readonly backend: string;
  /** Package name -> version of the packages that wrote the bundle. */
  readonly packages: Readonly<Record<string, string>>;
  /** Paths of the weight files inside the zip (under `weights/`). */
  readonly weights: readonly string[];
}

/** A model bundle: manifest, the training payload, the legacy params snapshot, and weights. */
export interface ModelBundle {
  readonly manifest: BundleManifest;
  /** The training payload as written (`{ kind, config, ... }`); validated by whoever reads it. */
  readonly payload: unknown;
  readonly legacyParams: Readonly<Record<string, unknown>>;
  /** Weight file path inside the zip -> bytes (empty unless `weights: true` was asked for). */
  readonly weights: ReadonlyMap<string, Uint8Array>;
  /** The zip file read. */
  readonly file: string;
}

export interface WriteBundleInput {
  readonly backend: string;
  readonly packages: Readonly<Record<string, string>>;
  readonly payload: unknown;
  readonly legacyParams: Readonly<Record<string, unknown>>;
  /** Weight files by name (stored under `weights/<name>`). */
  readonly weights: Readonly<Record<string, Uint8Array>>;
}

/** `dir/model.zip` for a run directory, the path itself for a file. */
export async function resolveBundlePath(modelPath: string): Promise<string> {
  const info = await stat(modelPath).catch(() => undefined);
  if (!info) {
    throw new DataError(
      "FILE_NOT_FOUND",
      `${modelPath} does not exist; give a training run directory or its ${BUNDLE_FILE}.`,
      {
        file: modelPath,
      },
    );
  }
  if (!info.isDirectory()) return modelPath;
  const file = join(modelPath, BUNDLE_FILE);
  if (!(await stat(file).catch(() => undefined))?.isFile()) {
    throw new DataError(
      "FILE_NOT_FOUND",
      `${modelPath} has no ${BUNDLE_FILE}; is it a finished training run directory?`,
      {
        file,
      },
    );
  }
  return file;
}

/** Writes a model bundle atomically (temporary file in the same folder, then rename). */
export async function writeModelBundle(path: string, input: WriteBundleInput): Promise<BundleManifest> {
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    backend: input.backend,
    packages: input.packages,
    weights: Object.keys(input.weights).map((name) => `weights/${name}`),
  };
  const files: Record<string, Uint8Array> = {
    "manifest.json": strToU8(`${JSON.stringify(manifest, null, 2)}\n`),
    "payload.json": strToU8(`${JSON.stringify(input.payload, null, 2)}\n`),
    "legacy-params.json": strToU8(`${JSON.stringify(input.legacyParams, null, 2)}\n`),
  };
  for (const [name, bytes] of Object.entries(input.weights)) files[`weights/${name}`] = bytes;
  const zipped = zipSync(files, { level: 6 });
  try {
    await writeFileAtomic(path, zipped);
  } catch (error) {
    throw new DataError(
      "WRITE_FAILED",
      `Cannot write the model bundle ${path} (${(error as Error).message}).`,
      {
        file: path,
        cause: error,
      },
    );
  }
  return manifest;
}

function bad(file: string, why: string, cause?: unknown): DataError {
  return new DataError("BAD_BUNDLE", `${file} is not a valid trainkit model bundle: ${why}.`, {
    file,
    cause,
  });
}

function parseJson(file: string, files: Record<string, Uint8Array>, name: string): unknown {
  const bytes = files[name];
  if (!bytes) throw bad(file, `it has no ${name}`);
  try {
    return JSON.parse(strFromU8(bytes));
  } catch (error) {
    throw bad(file, `${name} is not valid JSON`, error);
  }
}

/**
 * Reads a model bundle (a run directory or its `model.zip`). Weights are read only when asked for.
 * Errors: `FILE_NOT_FOUND`, `NOT_A_ZIP`, `BAD_BUNDLE` (missing or malformed manifest, payload or
 * legacy params, another format, a newer format version).
 */
export async function readModelBundle(
  modelPath: string,
  options: { readonly weights?: boolean } = {},
): Promise<ModelBundle> {
  const file = await resolveBundlePath(modelPath);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new DataError("READ_FAILED", `Cannot read ${file} (${(error as Error).message}).`, {
      file,
      cause: error,
    });
  }
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new DataError("NOT_A_ZIP", `${file} is not a zip file, so not a trainkit model bundle.`, { file });
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => options.weights === true || !f.name.startsWith("weights/") });
  } catch (error) {
    throw bad(file, `the zip is damaged (${(error as Error).message})`, error);
  }
  const manifest = parseJson(file, files, "manifest.json") as Partial<BundleManifest> | null;
  if (manifest?.format !== BUNDLE_FORMAT)
    throw bad(file, `manifest.json does not say format "${BUNDLE_FORMAT}"`);
  if (typeof manifest.formatVersion !== "number" || manifest.formatVersion > BUNDLE_FORMAT_VERSION) {
    throw bad(
      file,
      `format version ${String(manifest.formatVersion)} is newer than this trainkit reads (${BUNDLE_FORMAT_VERSION}); upgrade trainkit`,
    );
  }
  if (typeof manifest.backend !== "string" || !Array.isArray(manifest.weights)) {
    throw bad(file, "manifest.json lacks backend or weights");
  }
  const payload = parseJson(file, files, "payload.json");
  const legacyParams = parseJson(file, files, "legacy-params.json");
  if (typeof legacyParams !== "object" || legacyParams === null)
    throw bad(file, "legacy-params.json is not an object");
  const weights = new Map<string, Uint8Array>();
  if (options.weights) {
    for (const name of manifest.weights) {
      const w = files[name];
      if (!w) throw bad(file, `weight file ${name} listed in the manifest is missing`);
      weights.set(name, w);
    }
  }
  return {
    manifest: manifest as BundleManifest,
    payload,
    legacyParams: legacyParams as Record<string, unknown>,
    weights,
    file,
  };
}
