import { type AnyPayload, describeOrigin, type LayerEntry } from "@trainkit/factory";
import type { Capability, UnsupportedSetting } from "./capabilities.ts";

/** Where a backend writes what the user should see. */
export interface RunIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /**
   * Shows a warning of the run: one line, without the program's name or a newline (the program
   * adds its own prefix, as for its other warnings). Absent: the backend writes `warning: <message>`
   * to `stderr`.
   */
  readonly warn?: (message: string) => void;
}

/** What a backend gets to run one job. */
export interface RunContext {
  /** The payload with real values (secrets unmasked). */
  readonly payload: AnyPayload;
  readonly runDir: string;
  /** Continue from the last checkpoint in `runDir`. */
  readonly resume: boolean;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM: stop cleanly, leave the last checkpoint usable. */
  readonly signal: AbortSignal;
  readonly io: RunIO;
  /** Options of the launcher that are not part of the payload (e.g. the process backend's command). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The job's environment (TRAINKIT_THREAD_BUDGET for `computeThreads: auto`); `process.env` when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** How a run ended, as the backend saw it. */
export interface RunResult {
  readonly status: "succeeded" | "failed" | "interrupted";
  /** One line for the user when the run failed. */
  readonly message?: string;
  /** Facts recorded in the manifest (e.g. the engine's compute backend, metrics, files written). */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * Values the backend settled at run time (e.g. `execution.checkpointMonitor` "val_loss" resolved to
   * the metric it really logs); appended to audit.json as `resolvedAtRun`.
   */
  readonly resolved?: readonly { readonly path: string; readonly value: unknown; readonly reason: string }[];
  /** Paths (relative to the run directory) of the results worth pointing at. */
  readonly outputs?: Readonly<Record<string, string>>;
}

/** A way to run a payload. */
export interface Backend {
  readonly name: string;
  readonly description: string;
  /** Every setting whose value the backend restricts; anything not listed is honoured. */
  capabilities(
    options: Readonly<Record<string, unknown>>,
    payload: AnyPayload,
  ): Promise<readonly Capability[]> | readonly Capability[];
  /**
   * What the program uses for settings nobody set, when it is not trainkit's default (for the
   * factory's `programValues`): the payload then says what the program will really use.
   */
  programValues?(
    options: Readonly<Record<string, unknown>>,
    kind: AnyPayload["kind"],
  ):
    | ((config: Readonly<Record<string, Readonly<Record<string, unknown>>>>) => readonly LayerEntry[])
    | undefined;
  /** Whether `--allow-dropped` may turn unsupported settings into recorded drops (external programs). */
  readonly canDrop?: boolean;
  /**
   * Checks, before anything is written, that the run can start: its input files (values, integrity)
   * and its program. Throws a user error (`DataError`, `LaunchError`: exit code 2). Also run by
   * `--dry-run`.
   */
  preflight?(payload: AnyPayload, options: Readonly<Record<string, unknown>>): Promise<void>;
  /** Runs the job; resolves with the outcome (throw only for bugs). */
  run(context: RunContext): Promise<RunResult>;
}

const splitPaths = new WeakMap<Capability, readonly [string, string]>();

/** `[section, key]` of a capability's path (cached: a study checks thousands of payloads). */
function pathOf(capability: Capability): readonly [string, string] {
  let found = splitPaths.get(capability);
  if (!found) {
    const dot = capability.path.indexOf(".");
    found = [capability.path.slice(0, dot), capability.path.slice(dot + 1)];
    splitPaths.set(capability, found);
  }
  return found;
}

/** The settings of a payload that a backend cannot honour, with where each value came from. */
export function unsupportedSettings(
  payload: AnyPayload,
  capabilities: readonly Capability[],
): UnsupportedSetting[] {
  const config = payload.config as unknown as Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  const out: UnsupportedSetting[] = [];
  for (const capability of capabilities) {
    const [section, key] = pathOf(capability);
    const values = config[section];
    if (values === undefined) continue;
    const value = values[key];
    if (capability.supports(value, config)) continue;
    const entry = payload.audit.find((a) => a.path === capability.path);
    out.push({
      path: capability.path,
      value: entry ? entry.value : value,
      origin: entry ? describeOrigin(entry.origin) : "the payload",
      supported: capability.supported,
      ...(capability.hint ? { hint: capability.hint } : {}),
    });
  }
  return out;
}
