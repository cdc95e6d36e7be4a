import { isConfigError, renderValue, SECRET_MASK } from "@trainkit/config-meta";
import { isDataError } from "@trainkit/data";
import { resolveComputeThreads } from "@trainkit/execution-config";
import {
  type AnyPayload,
  createInferencePayload,
  createTrainingPayload,
  detectEnvironment,
  isFactoryError,
  type LoadedPayload,
  loadPayloadFile,
  type PayloadKind,
  payloadDocument,
  RESERVED_ENV,
  renderPayloadDocument,
} from "@trainkit/factory";
import {
  BACKENDS,
  checkCapabilities,
  checkInputs,
  isLaunchError,
  launch,
  planRunDirectory,
  runDirectoryOf,
} from "@trainkit/launcher";
import cliKitPackage from "../package.json" with { type: "json" };
import { isUsageError, UsageError } from "./errors.ts";
import { renderExplain, selectAudit } from "./explain.ts";
import { renderHelp } from "./help.ts";
import {
  type LauncherSettings,
  launcherOptions,
  loadFileSources,
  resolveLauncherSettings,
} from "./launcher-settings.ts";
import { type ParsedArgs, parseArgv, trainkitVariables } from "./parse-argv.ts";
import { createScrubber, redactArgv, secretValues } from "./secrets.ts";
import { emitSectionsYaml } from "./yaml-emit.ts";

/** What a program may touch of the outside world; tests pass their own. */
export interface ProgramIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether standard error is a terminal (progress bars). */
  readonly isTTY: boolean;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
}

export interface ProgramSpec {
  readonly kind: PayloadKind;
  /** `trainkit-train` or `trainkit-infer`. */
  readonly name: string;
}

function isUserError(error: unknown): error is Error {
  return (
    isUsageError(error) ||
    isConfigError(error) ||
    isFactoryError(error) ||
    isDataError(error) ||
    isLaunchError(error)
  );
}

async function buildPayload(
  kind: PayloadKind,
  args: ParsedArgs,
  io: ProgramIO,
  settings: LauncherSettings,
): Promise<AnyPayload> {
  const environment = { ...detectEnvironment(), isTTY: io.isTTY };
  // What the chosen program uses for settings nobody set (the ptycho-torch dialect: upstream's values).
  const programValues = BACKENDS[settings.backend].programValues?.(launcherOptions(settings), kind);
  const options = {
    layers: args.layers,
    sources: args.sources,
    environment,
    ...(programValues ? { programValues } : {}),
  };
  return kind === "training" ? createTrainingPayload(options) : createInferencePayload(options);
}

/**
 * `--payload FILE`: the payload exactly as planned. TRAINKIT_ settings in the environment would
 * change it, so they are refused, except the variables of secrets the file masks.
 */
async function loadPlannedPayload(
  kind: PayloadKind,
  args: ParsedArgs,
  io: ProgramIO,
): Promise<LoadedPayload> {
  const loaded = await loadPayloadFile(args.payload!, {
    kind,
    env: io.env,
    ...(args.payloadSha256 !== undefined ? { sha256: args.payloadSha256 } : {}),
  });
  const stray = Object.keys(io.env)
    .filter((name) => name.startsWith("TRAINKIT_") && io.env[name] !== undefined && !RESERVED_ENV.has(name))
    .filter((name) => !loaded.secretVariables.includes(name))
    .sort();
  if (stray.length > 0) {
    throw new UsageError(
      `--payload runs a resolved payload as it is, so the environment may not set trainkit settings: unset ${stray.join(", ")} (only the variables of secrets the payload masks are read).`,
    );
  }
  return loaded;
}

/** The real values of the payload's secret settings (those its audit shows as `***`). */
function payloadSecrets(payload: AnyPayload): string[] {
  const config = payload.config as unknown as Record<string, Record<string, unknown>>;
  return payload.audit
    .filter((a) => a.value === SECRET_MASK)
    .map((a) => {
      const [section, key] = a.path.split(".") as [string, string];
      return config[section]?.[key];
    })
    .filter((v): v is string => typeof v === "string");
}

function printPayload(payload: AnyPayload, args: ParsedArgs, io: ProgramIO): void {
  const document = payloadDocument(payload).config;
  if (args.format === "json") {
    io.stdout(`${JSON.stringify(document, null, 2)}\n`);
    return;
  }
  io.stdout(emitSectionsYaml(document as Record<string, Record<string, unknown>>));
}

/**
 * The whole program: argv in, exit code out. 0 success, 2 usage or config error (one line, no stack
 * trace), 1 run failure, 130 interrupted. Warnings go to stderr.
 */
export async function runProgram(
  spec: ProgramSpec,
  argv: readonly string[],
  programIO: ProgramIO,
): Promise<number> {
  // Every line the program or a backend prints goes through the scrubber: no secret value, from any
  // source, reaches the terminal (the sources mask them too; this is the net under them).
  const secrets = secretValues(spec.kind, argv, programIO.env);
  let scrub = createScrubber(secrets);
  const io: ProgramIO = {
    ...programIO,
    stdout: (text) => programIO.stdout(scrub(text)),
    stderr: (text) => programIO.stderr(scrub(text)),
  };
  const fail = (message: string, usage = false): number => {
    io.stderr(`${spec.name}: error: ${message}\n`);
    if (usage) io.stderr(`Run ${spec.name} --help for usage.\n`);
    return 2;
  };
  try {
    if (argv.includes("--help") || argv.includes("-h")) {
      io.stdout(renderHelp(spec.kind, spec.name));
      return 0;
    }
    const parsed = parseArgv(spec.kind, argv, io.env);
    if (parsed.help) {
      io.stdout(renderHelp(spec.kind, spec.name));
      return 0;
    }
    if (parsed.version) {
      io.stdout(`${spec.name} ${cliKitPackage.version}\n`);
      return 0;
    }
    // Each --config file is read here, once: for the launcher settings and for the payload.
    const args = await loadFileSources(parsed);
    const settings = await resolveLauncherSettings(args);
    const planned = args.payload !== undefined ? await loadPlannedPayload(spec.kind, args, io) : undefined;
    const payload = planned ? planned.payload : await buildPayload(spec.kind, args, io, settings);
    scrub = createScrubber([...secrets, ...payloadSecrets(payload)]);
    for (const warning of [...args.warnings, ...payload.warnings])
      io.stderr(`${spec.name}: warning: ${warning.message}\n`);
    if (args.printConfig || args.explain !== undefined) {
      if (args.printConfig) printPayload(payload, args, io);
      if (args.explain !== undefined) {
        const entries = selectAudit(payload, args.explain);
        io.stdout(args.format === "json" ? `${JSON.stringify(entries, null, 2)}\n` : renderExplain(entries));
      }
      return 0;
    }
    // A malformed TRAINKIT_THREAD_BUDGET is a usage problem: refuse it before anything runs.
    resolveComputeThreads(payload.config.execution.computeThreads, io.env, 1);
    const backend = BACKENDS[settings.backend];
    const options = launcherOptions(settings);
    const runDir = runDirectoryOf(payload);
    const dropped = await checkCapabilities(payload, backend, options);
    for (const d of dropped) {
      io.stderr(
        `${spec.name}: warning: dropping ${d.path} = ${renderValue(d.value)} (from ${d.origin}): supported ${d.supported}.\n`,
      );
    }
    if (args.dryRun) {
      const plan = await planRunDirectory(runDir, {
        overwrite: args.overwrite,
        resume: args.resume,
        ...(planned ? { planned: { payload: planned, document: renderPayloadDocument(payload) } } : {}),
      });
      await checkInputs(payload, backend, options);
      io.stdout(
        `Dry run: the ${payload.kind} payload${planned ? ` in ${planned.file} (SHA-256 ${planned.sha256})` : ""} is valid and the ${backend.name} backend honours every setting${dropped.length > 0 ? ` but the ${dropped.length} dropped above` : ""}.\n` +
          `A run would ${plan.resume ? "continue" : "write"} ${runDir}. Nothing was written.\n`,
      );
      return 0;
    }
    const outcome = await launch({
      payload,
      backend,
      argv: redactArgv(spec.kind, argv),
      envVariables: trainkitVariables(io.env),
      overwrite: args.overwrite,
      resume: args.resume,
      options,
      // Checked above (once per run): the dropped settings the warnings named.
      checkedCapabilities: dropped,
      // The run's warnings (the engine's) read as the program's own.
      io: { ...io, warn: (message) => io.stderr(`${spec.name}: warning: ${message}\n`) },
      env: io.env,
      ...(planned ? { planned } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    });
    const { result } = outcome;
    if (result.status === "succeeded") {
      io.stdout(`\n${spec.name}: finished. Run directory: ${outcome.runDir}\n`);
      for (const [label, path] of Object.entries(result.outputs ?? {}))
        io.stdout(`  ${label.padEnd(16)}${path}\n`);
    } else if (result.status === "interrupted") {
      io.stderr(
        `${spec.name}: interrupted; ${outcome.runDir} keeps its last checkpoint (continue with --resume).\n`,
      );
    } else {
      io.stderr(`${spec.name}: run failed: ${result.message ?? "see the logs in the run directory"}\n`);
    }
    return outcome.exitCode;
  } catch (error) {
    if (isUserError(error)) return fail(error.message, isUsageError(error));
    io.stderr(
      `${spec.name}: internal error (please report it): ${(error as Error).stack ?? String(error)}\n`,
    );
    return 1;
  }
}
