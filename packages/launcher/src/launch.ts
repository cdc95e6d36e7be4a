import { rm } from "node:fs/promises";
import { join } from "node:path";
import { maskUriCredentials, renderValue, SECRET_MASK } from "@trainkit/config-meta";
import type { AnyPayload } from "@trainkit/factory";
import { type Backend, type RunIO, type RunResult, unsupportedSettings } from "./backend.ts";
import type { UnsupportedSetting } from "./capabilities.ts";
import { LaunchError } from "./errors.ts";
import { checkCreatable, ensureDirectory, listDirectory, writeFileAtomic, writeJsonAtomic } from "./files.ts";
import { PACKAGE_VERSIONS, payloadDocument, type RunManifest, readManifest, sha256 } from "./manifest.ts";

export interface LaunchOptions {
  readonly payload: AnyPayload;
  readonly backend: Backend;
  /** The command line as typed (recorded in the manifest). */
  readonly argv: readonly string[];
  /** Names of the TRAINKIT_* variables that were read. */
  readonly envVariables: readonly string[];
  readonly overwrite?: boolean;
  readonly resume?: boolean;
  /** Launcher settings that are not part of the payload (recorded in the manifest). */
  readonly options?: Readonly<Record<string, unknown>>;
  readonly io: RunIO;
  /** Aborted on Ctrl-C: the backend stops cleanly and the run is marked interrupted. */
  readonly signal?: AbortSignal;
}

export interface LaunchOutcome {
  /** 0 succeeded, 1 failed, 130 interrupted. */
  readonly exitCode: 0 | 1 | 130;
  readonly runDir: string;
  readonly result: RunResult;
  readonly manifest: RunManifest;
}

/** The run directory of a payload (`training.outputDir` or `inference.outputDir`). */
export function runDirectoryOf(payload: AnyPayload): string {
  return payload.kind === "training" ? payload.config.training.outputDir : payload.config.inference.outputDir;
}

/**
 * Refuses a payload with settings the backend cannot honour, listing every one of them with its
 * origin (`LaunchError` `UNSUPPORTED_SETTINGS`). With `allowDropped` (external programs only) it
 * returns them instead, to be recorded as dropped in the audit and the manifest.
 */
export async function checkCapabilities(
  payload: AnyPayload,
  backend: Backend,
  options: Readonly<Record<string, unknown>> = {},
): Promise<UnsupportedSetting[]> {
  const unsupported = unsupportedSettings(payload, await backend.capabilities(options, payload));
  if (unsupported.length === 0) return [];
  if (options.allowDropped === true && backend.canDrop) return unsupported;
  const lines = unsupported.map(
    (u) =>
      `  - ${u.path} = ${renderValue(u.value)} (from ${u.origin}): supported ${u.supported}.${u.hint ? ` ${u.hint}` : ""}`,
  );
  throw new LaunchError(
    "UNSUPPORTED_SETTINGS",
    `The ${backend.name} backend cannot honour ${unsupported.length === 1 ? "1 setting" : `${unsupported.length} settings`}:\n${lines.join("\n")}`,
    { unsupported },
  );
}

/**
 * Runs the backend's own checks of the inputs (data values, bundle integrity, the program): the
 * last step before a run directory is created, also taken by `--dry-run`.
 */
export async function checkInputs(
  payload: AnyPayload,
  backend: Backend,
  options: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  await backend.preflight?.(payload, options);
}

/**
 * Checks, without changing anything, that a run may use `dir`: empty or absent, or `overwrite`, or
 * `resume` with an earlier run in it. Returns the earlier run's manifest when resuming.
 */
export async function checkRunDirectory(
  dir: string,
  overwrite: boolean,
  resume: boolean,
): Promise<RunManifest | undefined> {
  const entries = await listDirectory(dir);
  if (resume) {
    const previous = await readManifest(dir);
    if (!entries || entries.length === 0 || !previous) {
      throw new LaunchError(
        "NOTHING_TO_RESUME",
        `--resume: ${dir} holds no earlier run to continue (no manifest.json).`,
      );
    }
    return previous;
  }
  if (entries && entries.length > 0 && !overwrite) {
    throw new LaunchError(
      "RUN_DIR_NOT_EMPTY",
      `The run directory ${dir} is not empty. Use --overwrite to replace it, --resume to continue its run, or another --output-dir.`,
    );
  }
  await checkCreatable(dir);
  return undefined;
}

/** Checks the run directory, wiping it for `overwrite`, and creates it. */
async function prepareRunDirectory(
  dir: string,
  overwrite: boolean,
  resume: boolean,
): Promise<RunManifest | undefined> {
  const previous = await checkRunDirectory(dir, overwrite, resume);
  if (resume) return previous;
  if (overwrite) await rm(dir, { recursive: true, force: true });
  await ensureDirectory(dir);
  return undefined;
}

/** The real values of the payload's secret settings (the ones its audit shows as `***`). */
export function secretValuesOf(payload: AnyPayload): string[] {
  const config = payload.config as unknown as Record<string, Record<string, unknown>>;
  return payload.audit
    .filter((a) => a.value === SECRET_MASK)
    .map((a) => config[a.path.split(".")[0]!]?.[a.path.split(".")[1]!])
    .filter((v): v is string => typeof v === "string" && v !== "");
}

/** A JSON document with every secret value replaced by `***` and URI passwords masked. */
export function redactDocument<T>(value: T, secrets: readonly string[]): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      let out = v;
      for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(SECRET_MASK);
      return maskUriCredentials(out);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

const EXIT_CODES = { succeeded: 0, failed: 1, interrupted: 130 } as const;

/**
 * Runs a payload: checks the backend's capabilities, prepares the run directory, writes
 * `payload.json`, `audit.json`, `legacy-params.json` and `manifest.json` (atomically), runs the
 * backend, and records how it ended. Throws `LaunchError` before anything is written when the run
 * cannot start.
 */
export async function launch(options: LaunchOptions): Promise<LaunchOutcome> {
  const { payload, backend, io } = options;
  const launcherOptions = options.options ?? {};
  const dropped = await checkCapabilities(payload, backend, launcherOptions);
  const runDir = runDirectoryOf(payload);
  await checkRunDirectory(runDir, options.overwrite === true, options.resume === true);
  await checkInputs(payload, backend, launcherOptions);
  const previous = await prepareRunDirectory(runDir, options.overwrite === true, options.resume === true);

  const document = `${JSON.stringify(payloadDocument(payload), null, 2)}\n`;
  const payloadSha256 = await sha256(document);
  const startedAt = new Date().toISOString();
  let manifest: RunManifest = {
    kind: payload.kind,
    backend: backend.name,
    argv: [...options.argv],
    envVariables: [...options.envVariables],
    packages: PACKAGE_VERSIONS,
    payloadSha256,
    launcher: { backend: backend.name, ...launcherOptions },
    startedAt,
    endedAt: null,
    status: "running",
    exitCode: null,
    ...(previous && previous.payloadSha256 !== payloadSha256 ? { resumedFrom: previous.payloadSha256 } : {}),
    ...(dropped.length > 0 ? { dropped } : {}),
  };
  await writeFileAtomic(join(runDir, "payload.json"), document);
  const auditDocument = {
    audit: payload.audit,
    warnings: payload.warnings,
    overridesApplied: payload.overridesApplied,
    ...(dropped.length > 0 ? { dropped } : {}),
  };
  await writeJsonAtomic(join(runDir, "audit.json"), redactDocument(auditDocument, secretValuesOf(payload)));
  await writeJsonAtomic(join(runDir, "legacy-params.json"), payload.legacy);
  const secrets = secretValuesOf(payload);
  await writeJsonAtomic(join(runDir, "manifest.json"), redactDocument(manifest, secrets));

  const controller = new AbortController();
  const onAbort = () => controller.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) controller.abort();
  let result: RunResult;
  try {
    result = await backend.run({
      payload,
      runDir,
      resume: options.resume === true,
      signal: controller.signal,
      io,
      options: launcherOptions,
    });
  } catch (error) {
    result = { status: "failed", message: `The ${backend.name} backend failed: ${(error as Error).message}` };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (controller.signal.aborted && result.status === "succeeded")
    result = { ...result, status: "interrupted" };
  const exitCode = EXIT_CODES[result.status];
  manifest = {
    ...manifest,
    endedAt: new Date().toISOString(),
    status: result.status,
    exitCode,
    ...(result.message ? { message: result.message } : {}),
    ...(result.details ? { details: result.details } : {}),
  };
  if (result.resolved && result.resolved.length > 0) {
    await writeJsonAtomic(
      join(runDir, "audit.json"),
      redactDocument({ ...auditDocument, resolvedAtRun: result.resolved }, secrets),
    );
  }
  manifest = redactDocument(manifest, secrets);
  await writeJsonAtomic(join(runDir, "manifest.json"), manifest);
  return { exitCode, runDir, result, manifest };
}
