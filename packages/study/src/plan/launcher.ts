// A job's launcher settings (backend, command, dialect ...): from the spec, its base config files and
// the study's command line, with what each backend supports.
import type { Layer, TrainingPayload } from "@trainkit/factory";
import { BACKENDS, type BackendName, type Capability } from "@trainkit/launcher";

/** Launcher settings of a job (not part of its payload). */
export interface JobLauncher {
  readonly backend: BackendName;
  readonly command?: string;
  readonly dialect?: "payload" | "ptycho-torch";
  readonly allowDropped?: boolean;
  /** Seconds. */
  readonly timeout?: number;
}

/** Launcher flags typed on the study's command line (they apply to every job). */
export interface GlobalLauncherFlags {
  readonly backend?: string;
  readonly command?: string;
  readonly dialect?: string;
  readonly allowDropped?: boolean;
  readonly timeout?: number;
}

/** The launcher settings of a base config file's `launcher:` section. */
export function launcherEntries(layer: Layer): Partial<JobLauncher> {
  const out: Record<string, unknown> = {};
  for (const entry of layer.entries)
    if (entry.path.startsWith("launcher.")) out[entry.path.slice(9)] = entry.value;
  return out as Partial<JobLauncher>;
}

const capabilityCache = new Map<string, Promise<readonly Capability[]>>();

export function pickLauncher(job: Record<string, unknown>): Partial<JobLauncher> {
  const out: Record<string, unknown> = {};
  for (const k of ["backend", "command", "dialect", "allowDropped", "timeout"])
    if (job[k] !== undefined) out[k] = job[k];
  return out as Partial<JobLauncher>;
}

export function mergeLauncher(
  job: JobLauncher,
  global: GlobalLauncherFlags,
  label: string,
  problems: string[],
): JobLauncher {
  const out: Record<string, unknown> = { ...job };
  for (const [k, v] of Object.entries(global)) {
    if (v === undefined) continue;
    out[k] = v;
  }
  if (out.backend !== "embedded" && out.backend !== "process") {
    problems.push(
      `job ${label}: --backend ${String(out.backend)}: must be one of ${Object.keys(BACKENDS).join(", ")}`,
    );
    out.backend = "embedded";
  }
  if (out.backend === "process" && !out.command)
    problems.push(`job ${label}: the process backend needs a command (command: in the job, or --command)`);
  return out as unknown as JobLauncher;
}

export function launcherOptionsOf(launcher: JobLauncher): Record<string, unknown> {
  if (launcher.backend !== "process") return {};
  return {
    command: launcher.command,
    dialect: launcher.dialect ?? "payload",
    allowDropped: launcher.allowDropped === true,
    timeout: launcher.timeout ?? null,
    graceSeconds: 10,
  };
}

export async function capabilitiesOf(
  launcher: JobLauncher,
  payload: TrainingPayload,
): Promise<readonly Capability[]> {
  const options = launcherOptionsOf(launcher);
  const key = JSON.stringify([launcher.backend, options]);
  let found = capabilityCache.get(key);
  if (!found) {
    found = Promise.resolve(BACKENDS[launcher.backend].capabilities(options, payload));
    capabilityCache.set(key, found);
  }
  return found;
}

/** Launcher flags for a job's train step. */
export function launcherFlags(launcher: JobLauncher): string[] {
  if (launcher.backend !== "process") return [];
  return [
    "--backend",
    "process",
    "--command",
    launcher.command as string,
    ...(launcher.dialect ? ["--dialect", launcher.dialect] : []),
    ...(launcher.allowDropped ? ["--allow-dropped"] : []),
    ...(launcher.timeout ? ["--timeout", String(launcher.timeout)] : []),
  ];
}
