import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { DataError, isDataError } from "./errors.ts";
import { formatBytes } from "./internal/format.ts";
import { jsonDepth, MAX_JSON_DEPTH } from "./internal/json-depth.ts";
import { closeZip, notRegularFile, openZip, readMember, type ZipEntry } from "./internal/zip-read.ts";
import { writeZipAtomic, type ZipSource } from "./internal/zip-write.ts";

/** The file name of a model bundle inside a training run directory. */
export const BUNDLE_FILE = "model.zip";
export const BUNDLE_FORMAT = "trainkit-model-bundle";
/** 2: the manifest records each weight file's size and SHA-256 (`weightDigests`). */
export const BUNDLE_FORMAT_VERSION = 2;
/** Largest JSON member (manifest, payload, legacy params) a bundle may hold once inflated: 16 MiB. */
export const BUNDLE_JSON_MAX_BYTES = 16 * 1024 * 1024;
/** Default largest weight file a bundle may hold once inflated: 1 GiB (`maxWeightBytes` raises it). */
export const BUNDLE_WEIGHTS_MAX_BYTES = 1024 * 1024 * 1024;

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
  /** Format 2: size in bytes and SHA-256 (hex) of each weight file, by path. */
  readonly weightDigests?: Readonly<Record<string, { readonly bytes: number; readonly sha256: string }>>;
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
  if (!info.isDirectory()) {
    if (!info.isFile()) throw notRegularFile(modelPath, info, "a model bundle (model.zip)");
    return modelPath;
  }
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
    weightDigests: Object.fromEntries(
      Object.entries(input.weights).map(([name, bytes]) => [
        `weights/${name}`,
        { bytes: bytes.length, sha256: sha256Hex(bytes) },
      ]),
    ),
  };
  const encoder = new TextEncoder();
  const json = (name: string, value: unknown): ZipSource => ({
    name,
    content: () => [encoder.encode(`${JSON.stringify(value, null, 2)}\n`)],
  });
  const sources: ZipSource[] = [
    json("manifest.json", manifest),
    json("payload.json", input.payload),
    json("legacy-params.json", input.legacyParams),
    ...Object.entries(input.weights).map(([name, bytes]) => ({
      name: `weights/${name}`,
      content: () => [bytes],
    })),
  ];
  // The same zip writer as saveNpz (zip64 when a member passes 4 GiB, fixed timestamps), deflated.
  try {
    await writeZipAtomic(path, sources, { compress: true });
  } catch (error) {
    // The system's reason (writeZipAtomic keeps it as the cause), as before.
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause : (error as Error);
    throw new DataError("WRITE_FAILED", `Cannot write the model bundle ${path} (${reason.message}).`, {
      file: path,
      cause: error,
    });
  }
  return manifest;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function bad(file: string, why: string, cause?: unknown): DataError {
  return new DataError("BAD_BUNDLE", `${file} is not a valid trainkit model bundle: ${why}.`, {
    file,
    cause,
  });
}

export interface ReadBundleOptions {
  /** Read and verify the weight files too (CRC-32, size and SHA-256 against the manifest). */
  readonly weights?: boolean;
  /** Largest weight file, in bytes once inflated. Default `BUNDLE_WEIGHTS_MAX_BYTES` (1 GiB). */
  readonly maxWeightBytes?: number;
}

/**
 * Reads a model bundle (a run directory or its `model.zip`). Only the members it needs are read
 * (the manifest, payload and legacy params; the weights when asked for), each one capped in size
 * before anything is allocated (`BUNDLE_JSON_MAX_BYTES`, `maxWeightBytes`) and CRC-32 checked as it
 * is inflated; weights are checked against the size and SHA-256 in the manifest. Devices, FIFOs
 * and other non-regular files are refused without reading. Errors: `FILE_NOT_FOUND`,
 * `NOT_A_FILE`, `NOT_A_ZIP`, `TOO_LARGE`, `BAD_BUNDLE` (damaged zip, missing or malformed
 * manifest, payload or legacy params, another format, a newer format version, weights that do not
 * match their digest).
 */
export async function readModelBundle(
  modelPath: string,
  options: ReadBundleOptions = {},
): Promise<ModelBundle> {
  const file = await resolveBundlePath(modelPath);
  let zip: Awaited<ReturnType<typeof openZip>>;
  try {
    zip = await openZip(file);
  } catch (error) {
    if (isDataError(error, "NOT_A_ZIP") || isDataError(error, "TRUNCATED"))
      throw new DataError("NOT_A_ZIP", `${file} is not a zip file, so not a trainkit model bundle.`, {
        file,
        cause: error,
      });
    if (isDataError(error, "CORRUPT_ZIP") || isDataError(error, "UNSUPPORTED_ZIP"))
      throw bad(file, `the zip is damaged (${error.message})`, error);
    throw error;
  }
  try {
    const members = new Map<string, ZipEntry>();
    for (const entry of zip.entries) {
      if (members.has(entry.name)) throw bad(file, `it holds two members named ${entry.name}`);
      members.set(entry.name, entry);
    }
    const read = async (name: string, limit: number, what: string): Promise<Uint8Array> => {
      const entry = members.get(name);
      if (!entry) throw bad(file, `it has no ${name}`);
      if (entry.uncompressedSize > limit) {
        throw new DataError(
          "TOO_LARGE",
          `${file}: ${name} claims ${formatBytes(entry.uncompressedSize)} once inflated, over the ${formatBytes(limit)} limit for ${what}; the bundle is damaged or not a trainkit bundle.`,
          { file, key: name },
        );
      }
      try {
        return await readMember(zip, entry, name);
      } catch (error) {
        if (
          isDataError(error, "CORRUPT_ZIP") ||
          isDataError(error, "TRUNCATED") ||
          isDataError(error, "UNSUPPORTED_ZIP")
        )
          throw bad(file, `${name} is damaged (${error.message})`, error);
        throw error;
      }
    };
    const json = async (name: string): Promise<unknown> => {
      const text = new TextDecoder().decode(await read(name, BUNDLE_JSON_MAX_BYTES, "a bundle's JSON files"));
      if (jsonDepth(text) > MAX_JSON_DEPTH)
        throw bad(file, `${name} nests deeper than ${MAX_JSON_DEPTH} levels`);
      try {
        return JSON.parse(text);
      } catch (error) {
        throw bad(file, `${name} is not valid JSON (${(error as Error).message})`, error);
      }
    };
    const manifest = (await json("manifest.json")) as Partial<BundleManifest> | null;
    if (manifest?.format !== BUNDLE_FORMAT)
      throw bad(file, `manifest.json does not say format "${BUNDLE_FORMAT}"`);
    if (typeof manifest.formatVersion !== "number" || manifest.formatVersion > BUNDLE_FORMAT_VERSION) {
      throw bad(
        file,
        `format version ${String(manifest.formatVersion)} is newer than this trainkit reads (${BUNDLE_FORMAT_VERSION}); upgrade trainkit`,
      );
    }
    if (
      typeof manifest.backend !== "string" ||
      !Array.isArray(manifest.weights) ||
      !manifest.weights.every((w) => typeof w === "string")
    ) {
      throw bad(file, "manifest.json lacks backend or weights");
    }
    const digests = manifest.weightDigests;
    if (manifest.formatVersion >= 2) {
      for (const name of manifest.weights) {
        const d = digests?.[name];
        if (!d || typeof d.sha256 !== "string" || typeof d.bytes !== "number")
          throw bad(file, `manifest.json records no size and SHA-256 for ${name}`);
      }
    }
    const payload = await json("payload.json");
    const legacyParams = await json("legacy-params.json");
    if (typeof legacyParams !== "object" || legacyParams === null || Array.isArray(legacyParams))
      throw bad(file, "legacy-params.json is not an object");
    const weights = new Map<string, Uint8Array>();
    if (options.weights) {
      const limit = options.maxWeightBytes ?? BUNDLE_WEIGHTS_MAX_BYTES;
      for (const name of manifest.weights) {
        if (!members.has(name)) throw bad(file, `weight file ${name} listed in the manifest is missing`);
        const digest = digests?.[name];
        const declared = members.get(name)!.uncompressedSize;
        if (digest && declared !== digest.bytes)
          throw bad(file, `${name} holds ${declared} bytes but the manifest says ${digest.bytes}`);
        const bytes = await read(name, limit, "a weight file (raise maxWeightBytes)");
        if (digest && sha256Hex(bytes) !== digest.sha256)
          throw bad(
            file,
            `the SHA-256 of ${name} does not match the one in manifest.json (the weights were changed)`,
          );
        weights.set(name, bytes);
      }
    }
    return {
      manifest: manifest as BundleManifest,
      payload,
      legacyParams: legacyParams as Record<string, unknown>,
      weights,
      file,
    };
  } finally {
    await closeZip(zip).catch(() => undefined);
  }
}
