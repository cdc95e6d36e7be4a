import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { maskUriCredentials, renderValue, SECRET_MASK } from "@trainkit/config-meta";
import { type AnyPayload, legacyJson, renderPayloadDocument } from "@trainkit/factory";
import { type Backend, type RunIO, type RunResult, unsupportedSettings } from "./backend.ts";
import type { UnsupportedSetting } from "./capabilities.ts";
import { LaunchError } from "./errors.ts";
import { checkCreatable, ensureDirectory, listDirectory, writeFileAtomic, writeJsonAtomic } from "./files.ts";
import { PACKAGE_VERSIONS, type RunManifest, readManifest, sha256 } from "./manifest.ts";

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
  /** The job's environment, handed to the backend (the thread budget); `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The payload was planned earlier and is run from its file (`--payload FILE`): a run directory
   * holding only that payload (payload.json, optionally audit.json) counts as empty, and `resume`
   * continues an earlier run of this very payload when there is one, else starts fresh.
   */
  readonly planned?: PlannedPayload;
  /**
   * What `checkCapabilities` returned for this payload, backend and `options` when the caller ran it
   * already (to print the dropped settings first): launch then does not check them a second time.
   */
  readonly checkedCapabilities?: readonly UnsupportedSetting[];
}

/** A payload run from the file it was planned into. */
export interface PlannedPayload {
  /** The text of the payload file as read. */
  readonly text: string;
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

/** How a run will use its directory. */
export interface RunDirectoryPlan {
  /** The earlier run's manifest, when the run continues it. */
  readonly previous?: RunManifest;
  /** Whether the backend continues from the last checkpoint. */
  readonly resume: boolean;
}

const PLANNED_FILES = new Set(["payload.json", "audit.json"]);

/** Whether `dir` holds nothing but the planned payload (payload.json with its text, and audit.json). */
async function holdsOnlyPlanned(
  dir: string,
  entries: readonly string[],
  planned: PlannedPayload,
  document: string,
): Promise<boolean> {
  if (!entries.includes("payload.json") || !entries.every((e) => PLANNED_FILES.has(e))) return false;
  const text = await readFile(join(dir, "payload.json"), "utf8").catch(() => undefined);
  return text === planned.text || text === document;
}

/**
 * Decides, without changing anything, how a run may use `dir`: empty or absent, or `overwrite`, or
 * `resume` with an earlier run in it. With a planned payload (`--payload`), a directory holding only
 * that payload counts as empty, and `resume` continues an earlier run of this very payload
 * (manifest.json with its SHA-256) or starts fresh when there is none; an earlier run of another
 * payload is refused (`RUN_DIR_NOT_EMPTY`).
 */
export async function planRunDirectory(
  dir: string,
  options: {
    readonly overwrite: boolean;
    readonly resume: boolean;
    readonly planned?: { readonly payload: PlannedPayload; readonly document: string };
  },
): Promise<RunDirectoryPlan> {
  const entries = await listDirectory(dir);
  const planned = options.planned;
  const onlyPlanned =
    planned !== undefined &&
    entries !== undefined &&
    entries.length > 0 &&
    (await holdsOnlyPlanned(dir, entries, planned.payload, planned.document));
  const empty = !entries || entries.length === 0;
  if (options.resume) {
    const previous = await readManifest(dir);
    if (planned) {
      const sha = await sha256(planned.document);
      if (previous && previous.payloadSha256 === sha) return { previous, resume: true };
      if (previous) {
        throw new LaunchError(
          "RUN_DIR_NOT_EMPTY",
          `--resume: ${dir} holds a run of another payload (SHA-256 ${previous.payloadSha256}, this one is ${sha}). Use another output directory, or --overwrite to replace that run.`,
        );
      }
      if (empty || onlyPlanned) return { resume: false };
      throw new LaunchError(
        "RUN_DIR_NOT_EMPTY",
        `--resume: ${dir} holds no earlier run of this payload (no manifest.json) but other files. Use --overwrite to replace them, or another output directory.`,
      );
    }
    if (empty || !previous) {
      throw new LaunchError(
        "NOTHING_TO_RESUME",
        `--resume: ${dir} holds no earlier run to continue (no manifest.json).`,
      );
    }
    return { previous, resume: true };
  }
  if (!empty && !options.overwrite && !onlyPlanned) {
    throw new LaunchError(
      "RUN_DIR_NOT_EMPTY",
      `The run directory ${dir} is not empty. Use --overwrite to replace it, --resume to continue its run, or another --output-dir.`,
    );
  }
  await checkCreatable(dir);
  return { resume: false };
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
  return (await planRunDirectory(dir, { overwrite, resume })).previous;
}

/** Checks the run directory, wiping it for `overwrite`, and creates it. */
async function prepareRunDirectory(
  dir: string,
  options: Parameters<typeof planRunDirectory>[1],
): Promise<RunDirectoryPlan> {
  const plan = await planRunDirectory(dir, options);
  if (plan.resume) return plan;
  if (options.overwrite) await rm(dir, { recursive: true, force: true });
  await ensureDirectory(dir);
  return plan;
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
  const dropped = options.checkedCapabilities ?? (await checkCapabilities(payload, backend, launcherOptions));
  const runDir = runDirectoryOf(payload);
  const document = renderPayloadDocument(payload);
  const plan = { overwrite: options.overwrite === true, resume: options.resume === true };
  const planned = options.planned ? { planned: { payload: options.planned, document } } : {};
  await checkInputs(payload, backend, launcherOptions);
  const { previous, resume } = await prepareRunDirectory(runDir, { ...plan, ...planned });
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
  const secrets = secretValuesOf(payload);
  await writeJsonAtomic(join(runDir, "audit.json"), redactDocument(auditDocument, secrets));
  await writeFileAtomic(join(runDir, "legacy-params.json"), legacyJson(payload.kind, payload.legacy));
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
      resume,
      signal: controller.signal,
      io,
      options: launcherOptions,
      ...(options.env ? { env: options.env } : {}),
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
