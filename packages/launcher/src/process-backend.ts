// The `process` backend: runs an external program (e.g. upstream's PyTorch CLI) on a validated
// payload. No shell: the command is split into argv and started with `spawn`; nothing from the
// payload is ever interpolated into a shell string.
import { spawn, spawnSync } from "node:child_process";
import { constants, readdirSync, readFileSync } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import {
  listFields,
  maskUriCredentials,
  renderValue,
  SECRET_MASK,
  sameValue,
  tableCapabilities,
} from "@trainkit/config-meta";
import { type ExecutionConfig, resolveComputeThreads, THREAD_BUDGET_ENV } from "@trainkit/execution-config";
import { type AnyPayload, envVariableOf, PAYLOAD_SPECS } from "@trainkit/factory";
import type { Backend, RunContext, RunResult } from "./backend.ts";
import type { Capability } from "./capabilities.ts";
import { splitCommand } from "./command-line.ts";
import {
  type Dialect,
  isFlag,
  isUpstream,
  type ProgramSurface,
  parseHelp,
  ptychoTorchEntries,
  ptychoTorchValues,
  renderPtychoTorch,
} from "./dialects.ts";
import { LaunchError } from "./errors.ts";
import { ensureDirectory, writeFileAtomic } from "./files.ts";
import { pump, RotatingLog } from "./internal/output.ts";

/** Launcher settings of the process backend (recorded in the manifest, never in the payload). */
export interface ProcessOptions {
  readonly command: string;
  readonly dialect: Dialect;
  /** Seconds before a run is ended; null for no limit. */
  readonly timeout: number | null;
  /** Seconds between SIGINT, SIGTERM and SIGKILL when stopping the program. */
  readonly graceSeconds: number;
}

export function processOptionsOf(options: Readonly<Record<string, unknown>>): ProcessOptions {
  const command = options.command;
  if (typeof command !== "string" || command.trim() === "") {
    throw new LaunchError(
      "MISSING_COMMAND",
      '--backend process needs the program to run: --command "<program> [args]" (or launcher.command in a config file).',
    );
  }
  return {
    command,
    dialect: options.dialect === "ptycho-torch" ? "ptycho-torch" : "payload",
    timeout: typeof options.timeout === "number" ? options.timeout : null,
    graceSeconds: typeof options.graceSeconds === "number" ? options.graceSeconds : 10,
  };
}

function argvOf(command: string): string[] {
  try {
    const argv = splitCommand(command);
    if (argv.length === 0) throw new Error("the command is empty");
    return argv;
  } catch (error) {
    throw new LaunchError("MISSING_COMMAND", `--command "${command}": ${(error as Error).message}.`);
  }
}

async function runnable(path: string): Promise<"ok" | "missing" | "directory" | "not executable"> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return "missing";
  if (info.isDirectory()) return "directory";
  if (!info.isFile()) return "not executable";
  return (await access(path, constants.X_OK).then(
    () => true,
    () => false,
  ))
    ? "ok"
    : "not executable";
}

/**
 * Checks, without starting it, that the program of a command exists and can be executed: a path
 * (absolute or relative to the working directory) or a name found on PATH. `PROGRAM_NOT_RUNNABLE`
 * otherwise (exit code 2, nothing written).
 */
export async function checkProgram(
  command: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<string> {
  const [program] = argvOf(command);
  const fail = (why: string) =>
    new LaunchError("PROGRAM_NOT_RUNNABLE", `--command "${command}": ${program} ${why}; check the command.`);
  if (program!.includes("/")) {
    const path = isAbsolute(program!) ? program! : resolve(program!);
    const state = await runnable(path);
    if (state === "ok") return path;
    throw fail(
      state === "missing"
        ? "does not exist"
        : state === "directory"
          ? "is a directory"
          : "is not an executable file",
    );
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, program!);
    if ((await runnable(path)) === "ok") return path;
  }
  throw fail("is not an executable found on PATH");
}

interface Probe {
  readonly help: string;
  readonly surface: ProgramSurface;
}

const probes = new Map<string, Probe>();

/** Runs `<command> --help` once per command (10 s limit) and reads the flags it offers. */
export function probeCommand(command: string): Probe {
  const cached = probes.get(command);
  if (cached) return cached;
  const [program, ...args] = argvOf(command);
  const result = spawnSync(program!, [...args, "--help"], { encoding: "utf8", timeout: 10_000 });
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : `it exited with code ${result.status}`;
    throw new LaunchError(
      "PROBE_FAILED",
      `Cannot learn the flags of "${command}": "${command} --help" failed (${why}). Check the command, or use --dialect payload.`,
    );
  }
  const help = `${result.stdout}${result.stderr}`;
  const probe = { help, surface: parseHelp(help) };
  probes.set(command, probe);
  return probe;
}

const DROP_HINT = "Use --allow-dropped to run without it (recorded as dropped).";

/** The capabilities of the `ptycho-torch` dialect: its table, against the flags the program offers. */
function ptychoTorchCapabilities(payload: AnyPayload, surface: ProgramSurface): Capability[] {
  const audit = new Map(payload.audit.map((a) => [a.path, a]));
  const out: Capability[] = [];
  for (const [section, spec] of Object.entries(PAYLOAD_SPECS[payload.kind].sections)) {
    const fields = new Map(listFields(spec.schema).map((f) => [f.key, f]));
    for (const [path, entry] of ptychoTorchEntries(payload.kind)) {
      const [entrySection, key] = path.split(".") as [string, string];
      if (entrySection !== section) continue;
      const field = fields.get(key);
      const defaultValue = field?.defaultValue;
      if (isFlag(entry)) {
        const usable = entry.flags.every((f) => surface.flags.has(f));
        if (!usable) {
          out.push({
            path,
            supports: (v) => sameValue(v, entry.absent),
            supported: `only ${renderValue(entry.absent)}, what the program uses without ${entry.flags.join("/")}: it has no such flag`,
            hint: `${DROP_HINT.slice(0, -1)}, or --dialect payload.`,
          });
          continue;
        }
        const choices = entry.flags.length === 1 ? surface.choices.get(entry.flags[0]!) : undefined;
        out.push({
          path,
          supports: (v, config) => {
            if (entry.check && !entry.check(v, config)) return false;
            const words = entry.render(v, config);
            if (words === null) return false;
            return !choices || words.length < 2 || choices.includes(words[1]!);
          },
          supported:
            [
              entry.requirement,
              choices ? `one of ${choices.join(", ")} (${entry.flags[0]} choices)` : undefined,
            ]
              .filter((s) => s !== undefined)
              .join("; ") || `a value ${entry.flags.join("/")} can express`,
          hint: DROP_HINT,
        });
        continue;
      }
      if ("fromData" in entry) {
        // Upstream infers it from the same data file: only an explicit value that differs is refused.
        const a = audit.get(path);
        const inferred =
          a?.level === "inferred" ? a.value : a?.shadowed.find((s) => s.level === "inferred")?.value;
        out.push({
          path,
          supports: (v) =>
            a === undefined ||
            a.level === "inferred" ||
            a.level === "default" ||
            (inferred !== undefined && sameValue(v, inferred)),
          supported: `${entry.requirement}, ${inferred === undefined ? `here ${renderValue(defaultValue)}` : `here ${renderValue(inferred)}`}: the program has no flag for it`,
          hint: DROP_HINT,
        });
        continue;
      }
      const capability = tableCapabilities(
        { [section]: { [key]: entry } },
        { [section]: spec.schema },
        DROP_HINT,
      ).find((c) => c.path === path);
      if (!capability) continue;
      out.push(
        isUpstream(entry)
          ? { ...capability, supported: `${capability.supported}: the program has no flag for it` }
          : capability,
      );
    }
  }
  return out;
}

/**
 * The thread settings a program gets: OMP_NUM_THREADS and MKL_NUM_THREADS (read by PyTorch, NumPy
 * and most BLAS libraries) and TRAINKIT_THREAD_BUDGET, when `computeThreads` is a number or `auto`
 * resolves from the orchestrator's budget. `auto` without a budget leaves the program its own default.
 */
export function threadEnvironment(
  computeThreads: ExecutionConfig["computeThreads"],
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const resolved = resolveComputeThreads(computeThreads, env, 1);
  if (resolved.source === "cores") return {};
  const n = String(resolved.threads);
  return { OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, [THREAD_BUDGET_ENV]: n };
}

/**
 * Whether a process group still has a live member. On Linux, zombies do not count (an orphan that
 * ended may wait a while for init to reap it); elsewhere, whether the group can be signalled.
 */
function groupAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return signalGroup(pid, 0);
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "latin1");
    } catch {
      continue; // ended meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")"
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pid && state !== "Z" && state !== "X") return true;
  }
  return false;
}

/** Process groups of programs still running; SIGKILLed if trainkit exits first (a second Ctrl-C). */
const runningGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of runningGroups) signalGroup(pid, "SIGKILL");
  });
}

/** Signals the program's whole process group (it is started as the leader of its own); false when none is left. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * What upstream's program settles at run time: without validation data it monitors the training
 * loss instead (`val_` -> `train_`, ptycho_torch/workflows/components.py); recorded in audit.json.
 */
function upstreamResolutions(payload: AnyPayload, dialect: Dialect): Pick<RunResult, "resolved"> {
  if (dialect !== "ptycho-torch" || payload.kind !== "training") return {};
  const monitor = payload.config.execution.checkpointMonitor;
  if (payload.config.training.testDataFile !== null || !monitor.startsWith("val_")) return {};
  return {
    resolved: [
      {
        path: "execution.checkpointMonitor",
        value: monitor.replace("val_", "train_"),
        reason: "upstream's ptycho_torch.train monitors the training loss when there is no test data file",
      },
    ],
  };
}

/** Runs the program and resolves with how it ended. */
async function runProgram(context: RunContext, options: ProcessOptions): Promise<RunResult> {
  const { payload, runDir, io, signal } = context;
  const [program, ...baseArgs] = argvOf(options.command);
  const payloadFile = join(runDir, "payload.json");
  await ensureDirectory(join(runDir, "logs"));
  let args: string[];
  if (options.dialect === "ptycho-torch") {
    const probe = probeCommand(options.command);
    await writeFileAtomic(join(runDir, "logs/command-help.txt"), probe.help);
    args = [...baseArgs, ...renderPtychoTorch(payload, probe.surface)];
  } else {
    args = [...baseArgs, "--payload", payloadFile];
  }
  const stdoutLog = new RotatingLog(join(runDir, "logs/stdout.log"));
  const stderrLog = new RotatingLog(join(runDir, "logs/stderr.log"));
  // Secrets are masked in payload.json: the program gets them from the environment.
  const secrets: Record<string, string> = {};
  const execution = payload.config.execution as unknown as Record<string, unknown>;
  if (typeof execution.mlflowTrackingUri === "string") {
    secrets[envVariableOf("execution", "mlflowTrackingUri")] = execution.mlflowTrackingUri;
  }
  // The program leads its own process group, so that stopping it (and cleaning up after it) reaches
  // every process it started, not only the first.
  const child = spawn(program!, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: {
      ...process.env,
      TRAINKIT_PAYLOAD: payloadFile,
      TRAINKIT_RUN_DIR: runDir,
      ...threadEnvironment(
        execution.computeThreads as ExecutionConfig["computeThreads"],
        context.env ?? process.env,
      ),
      ...secrets,
    },
  });
  // The program's output is saved and shown with its secret values and URI passwords masked.
  const secretValues = Object.values(secrets).filter((v) => v.length >= 4);
  const scrub = (text: string) => {
    let out = text;
    for (const value of secretValues) if (out.includes(value)) out = out.split(value).join(SECRET_MASK);
    return maskUriCredentials(out);
  };
  const output = Promise.all([
    pump(child.stdout, stdoutLog, io.stdout, scrub),
    pump(child.stderr, stderrLog, io.stderr, scrub),
  ]);
  if (child.pid !== undefined) runningGroups.add(child.pid);
  installExitHook();

  let stopReason: "interrupted" | "timeout" | null = null;
  const timers: NodeJS.Timeout[] = [];
  const stop = (reason: "interrupted" | "timeout") => {
    if (stopReason) return;
    stopReason = reason;
    signalGroup(child.pid, "SIGINT");
    timers.push(setTimeout(() => signalGroup(child.pid, "SIGTERM"), options.graceSeconds * 1000));
    timers.push(setTimeout(() => signalGroup(child.pid, "SIGKILL"), 2 * options.graceSeconds * 1000));
  };
  const onAbort = () => stop("interrupted");
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  if (options.timeout !== null) timers.push(setTimeout(() => stop("timeout"), options.timeout * 1000));

  // How the program ended: its own exit, not the closing of its pipes (a process it left behind
  // may hold them open for as long as it likes).
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }));
      child.once("exit", (code, sig) => resolve({ code, signal: sig }));
    },
  );
  for (const timer of timers) clearTimeout(timer);
  signal.removeEventListener("abort", onAbort);
  // Whatever the program left running is ended: SIGTERM at once, SIGKILL if it is still there after
  // the grace period. The pipes are read until they close, for the grace period at most (a process
  // that left the group could hold them forever).
  const leftBehind = signalGroup(child.pid, "SIGTERM");
  const deadline = Date.now() + (leftBehind ? options.graceSeconds : 1) * 1000;
  const drained = await Promise.race([
    output.then(() => true),
    new Promise<false>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      void output.then(() => clearTimeout(timer));
    }),
  ]);
  let killed = false;
  if (leftBehind) {
    while (groupAlive(child.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(child.pid)) killed = signalGroup(child.pid, "SIGKILL");
  }
  if (!drained) {
    child.stdout.destroy();
    child.stderr.destroy();
    await output;
  }
  if (child.pid !== undefined) runningGroups.delete(child.pid);
  await Promise.all([stdoutLog.close(), stderrLog.close()]);
  if (leftBehind) {
    io.stderr(
      `trainkit: the program exited but left processes running in its group; they were ended (SIGTERM${killed ? ", then SIGKILL" : ""}).\n`,
    );
  }
  for (const log of [stdoutLog, stderrLog]) {
    if (log.error)
      io.stderr(
        `trainkit: cannot write ${log.path} (${log.error.message}); the rest of that output was not saved.\n`,
      );
  }

  const details = {
    command: [program, ...args],
    dialect: options.dialect,
    childExitCode: ended.code,
    childSignal: ended.signal,
    ...(leftBehind ? { leftBehindEnded: true } : {}),
    ...(stdoutLog.rotations + stderrLog.rotations > 0
      ? { logRotations: { stdout: stdoutLog.rotations, stderr: stderrLog.rotations } }
      : {}),
  };
  if (ended.error) {
    return { status: "failed", message: `cannot start "${program}": ${ended.error.message}`, details };
  }
  if (stopReason === "interrupted") return { status: "interrupted", details };
  if (stopReason === "timeout") {
    return {
      status: "failed",
      message: `the program ran past --timeout ${options.timeout} s and was stopped`,
      details,
    };
  }
  if (ended.code === 0)
    return {
      status: "succeeded",
      details,
      outputs: { "program output": "logs/stdout.log" },
      ...upstreamResolutions(payload, options.dialect),
    };
  return {
    status: "failed",
    message: `the program exited with ${ended.code === null ? `signal ${ended.signal}` : `code ${ended.code}`} (see logs/stderr.log)`,
    details,
  };
}

/** Runs an external program with the payload (`--backend process`). */
export const processBackend: Backend = {
  name: "process",
  description: "run an external trainer (no shell) with the payload file or upstream ptycho_torch flags",
  canDrop: true,
  programValues(options, kind) {
    if (options.dialect !== "ptycho-torch") return undefined;
    return (config) => ptychoTorchValues(kind, config);
  },
  async preflight(_payload, options) {
    await checkProgram(processOptionsOf(options).command);
  },
  capabilities(options, payload) {
    const settings = processOptionsOf(options);
    if (settings.dialect === "payload") return []; // the program gets every setting and must refuse what it cannot do
    return ptychoTorchCapabilities(payload, probeCommand(settings.command).surface);
  },
  run(context) {
    return runProgram(context, processOptionsOf(context.options));
  },
};
