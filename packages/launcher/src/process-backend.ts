// The `process` backend: runs an external program (e.g. upstream's PyTorch CLI) on a validated
// payload. No shell: the command is split into argv and started with `spawn`; nothing from the
// payload is ever interpolated into a shell string.
import { spawn, spawnSync } from "node:child_process";
import { constants, createWriteStream, type WriteStream } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { listFields, renderValue } from "@trainkit/config-meta";
import { type AnyPayload, envVariableOf, PAYLOAD_SPECS } from "@trainkit/factory";
import type { Backend, RunContext, RunResult } from "./backend.ts";
import type { Capability } from "./capabilities.ts";
import { splitCommand } from "./command-line.ts";
import {
  type Dialect,
  type ProgramSurface,
  parseHelp,
  ptychoTorchMappings,
  renderPtychoTorch,
} from "./dialects.ts";
import { LaunchError } from "./errors.ts";
import { ensureDirectory, writeFileAtomic } from "./files.ts";

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

/** Inferred values the upstream program infers itself from the same data file. */
const INFERRED_BY_PROGRAM = new Set(["model.N", "training.nphotons"]);

function ptychoTorchCapabilities(payload: AnyPayload, surface: ProgramSurface): Capability[] {
  const mappings = new Map(ptychoTorchMappings(payload.kind).map((m) => [m.path, m]));
  const levels = new Map(payload.audit.map((a) => [a.path, a.level]));
  const out: Capability[] = [];
  for (const [section, spec] of Object.entries(PAYLOAD_SPECS[payload.kind].sections)) {
    for (const field of listFields(spec.schema)) {
      const path = `${section}.${field.key}`;
      const mapping = mappings.get(path);
      const usable = mapping?.flags.every((f) => surface.flags.has(f)) === true;
      const isDefault = (v: unknown) => JSON.stringify(v) === JSON.stringify(field.defaultValue);
      if (!usable) {
        if (INFERRED_BY_PROGRAM.has(path) && levels.get(path) === "inferred") continue;
        out.push({
          path,
          supports: isDefault,
          supported: `${field.defaultValue === undefined ? "no value at all (it has no default)" : `only its default ${renderValue(field.defaultValue)}`}: the program has no flag for it`,
          hint: "Use --allow-dropped to run without it (recorded as dropped), or --dialect payload.",
        });
        continue;
      }
      const choices = mapping.flags.length === 1 ? surface.choices.get(mapping.flags[0]!) : undefined;
      out.push({
        path,
        supports: (v) => {
          const words = mapping.render(v);
          if (words === null) return isDefault(v);
          return !choices || words.length < 2 || choices.includes(words[1]!);
        },
        supported: choices
          ? `one of ${choices.join(", ")} (${mapping.flags[0]} choices)`
          : `a value ${mapping.flags.join("/")} can express`,
        hint: "Use --allow-dropped to run without it (recorded as dropped).",
      });
    }
  }
  return out;
}

function tee(target: WriteStream, echo: (text: string) => void) {
  return (chunk: Buffer) => {
    target.write(chunk);
    echo(chunk.toString("utf8"));
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
  const stdoutLog = createWriteStream(join(runDir, "logs/stdout.log"));
  const stderrLog = createWriteStream(join(runDir, "logs/stderr.log"));
  // Secrets are masked in payload.json: the program gets them from the environment.
  const secrets: Record<string, string> = {};
  const execution = payload.config.execution as unknown as Record<string, unknown>;
  if (typeof execution.mlflowTrackingUri === "string") {
    secrets[envVariableOf("execution", "mlflowTrackingUri")] = execution.mlflowTrackingUri;
  }
  const child = spawn(program!, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TRAINKIT_PAYLOAD: payloadFile, TRAINKIT_RUN_DIR: runDir, ...secrets },
  });
  child.stdout.on("data", tee(stdoutLog, io.stdout));
  child.stderr.on("data", tee(stderrLog, io.stderr));

  let stopReason: "interrupted" | "timeout" | null = null;
  const timers: NodeJS.Timeout[] = [];
  const stop = (reason: "interrupted" | "timeout") => {
    if (stopReason) return;
    stopReason = reason;
    child.kill("SIGINT");
    timers.push(setTimeout(() => child.kill("SIGTERM"), options.graceSeconds * 1000));
    timers.push(setTimeout(() => child.kill("SIGKILL"), 2 * options.graceSeconds * 1000));
  };
  const onAbort = () => stop("interrupted");
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  if (options.timeout !== null) timers.push(setTimeout(() => stop("timeout"), options.timeout * 1000));

  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }));
      child.once("close", (code, sig) => resolve({ code, signal: sig }));
    },
  );
  for (const timer of timers) clearTimeout(timer);
  signal.removeEventListener("abort", onAbort);
  await Promise.all([stdoutLog, stderrLog].map((s) => new Promise((r) => s.end(r))));

  const details = {
    command: [program, ...args],
    dialect: options.dialect,
    childExitCode: ended.code,
    childSignal: ended.signal,
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
    return { status: "succeeded", details, outputs: { "program output": "logs/stdout.log" } };
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
