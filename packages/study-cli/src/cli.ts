import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isUsageError, parseArgv, renderExplain, selectAudit, UsageError } from "@trainkit/cli-kit";
import { closestName, isConfigError } from "@trainkit/config-meta";
import { isFactoryError } from "@trainkit/factory";
import { isLaunchError } from "@trainkit/launcher";
import {
  checkStudyDirectory,
  collectResults,
  createLiveProgress,
  createPlainProgress,
  EXECUTOR_KINDS,
  EXECUTORS,
  isSlurmError,
  isStudyError,
  loadStudySpec,
  planStudy,
  type RerunSelection,
  readStudyManifest,
  runStudy,
  type StudyPlan,
  studyStatus,
  watchStudy,
  writeStudyOutputs,
} from "@trainkit/study";
import studyCliPackage from "../package.json" with { type: "json" };

/** What the program may touch of the outside world; tests pass their own. */
export interface StudyIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isTTY: boolean;
  readonly signal?: AbortSignal;
  readonly cwd?: string;
  /** The terminal stream for the live view (when isTTY). */
  readonly tty?: NodeJS.WriteStream;
  /** Asks a yes/no question on the terminal; absent without one. */
  readonly ask?: (question: string) => Promise<boolean>;
}

const NAME = "trainkit-study";

/** Study flags: name -> whether it takes a value. Everything else is a global option for every job. */
const STUDY_FLAGS = {
  list: false,
  "dry-run": false,
  where: true,
  only: true,
  "max-workers": true,
  parallel: false,
  sequential: false,
  folds: true,
  resume: false,
  rerun: true,
  replan: false,
  "fail-fast": false,
  "allow-dropped": false,
  executor: true,
  wait: false,
  partition: true,
  account: true,
  qos: true,
  mem: true,
  gres: true,
  "cpus-per-task": true,
  explain: "optional",
  format: true,
  help: false,
} as const;
type StudyFlag = keyof typeof STUDY_FLAGS;

export const HELP = `Usage:
  ${NAME} run SPEC [study options] [global options]   plan, check, run the jobs, write the report
  ${NAME} status DIR                                  each job's state, from the journal and run directories
  ${NAME} report DIR                                  rebuild results, statistics and the report from DIR
  ${NAME} watch DIR                                   cluster studies: follow the jobs until they end (live view)
  ${NAME} collect DIR                                 cluster studies: poll once, then write results and the report
  ${NAME} cancel DIR                                  cluster studies: scancel every job that has not ended

Study options (run):
  --list                   print every job (index, label, varying values, backend, global options honoured)
  --dry-run                resolve and check every job, print the plan; write nothing
  --where PATH=VALUE       only the jobs whose PATH has VALUE (repeatable, all must hold)
  --only NAME              only the named job NAME (repeatable)
  --max-workers N          jobs at once (default: the number of cores); --parallel is the default
  --sequential             one job at a time (--max-workers 1)
  --folds K                k-fold validation over the training file's scan positions (overrides the spec)
  --resume                 continue after Ctrl-C, a crash or kill -9: finished jobs are skipped
  --rerun failed|all       run the jobs that did not succeed (or all) again, from the start
  --replan                 accept a changed spec (jobs keep their indices)
  --fail-fast              stop the study at the first job that fails
  --allow-dropped          run jobs without the global options their backend cannot honour (recorded)
  --executor local|slurm   where jobs run: child processes here (default), or job arrays on a Slurm cluster
  --wait                   slurm: stay until every job has ended (default: return once all are queued)
  --partition P, --account A, --qos Q, --mem 4G, --gres gpu:1, --cpus-per-task N
                           slurm: over the spec's slurm: section
  --explain [PATH]         print where each job's values (or PATH's) came from, and exit
  --format text|json       output of --list and --explain (default text)

Global options: every trainkit-train option (--nepochs 50, --batch-size 32, --epochs, --batch,
--config FILE, --set PATH=VALUE, --backend, --command, ...) applies to every job, at the override level.
A global option that sets a path the study varies is an error naming both.

Exit codes: 0 every job succeeded, 1 some job did not, 2 usage, spec or config error, 130 interrupted.
`;

/** Whether a study directory's jobs are queued on a cluster (so status and collect poll it first). */
async function queuedStudy(dir: string): Promise<boolean> {
  const manifest = await readStudyManifest(dir);
  return manifest !== undefined && manifest.executor !== "local";
}

/** Progress lines are not wanted when status or collect poll once. */
function quiet(io: StudyIO): StudyIO {
  return { ...io, stdout: () => {} };
}

function isUserError(error: unknown): error is Error {
  return (
    isSlurmError(error) ||
    isUsageError(error) ||
    isConfigError(error) ||
    isFactoryError(error) ||
    isLaunchError(error) ||
    isStudyError(error)
  );
}

interface StudyArgs {
  readonly flags: Partial<Record<StudyFlag, string | true>>;
  readonly where: string[];
  readonly only: string[];
  /** Everything else, for cli-kit's parser. */
  readonly rest: string[];
}

function splitArgs(argv: readonly string[]): StudyArgs {
  const flags: Partial<Record<StudyFlag, string | true>> = {};
  const where: string[] = [];
  const only: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const eq = token.indexOf("=");
    const name = token.startsWith("--") ? (eq === -1 ? token.slice(2) : token.slice(2, eq)) : undefined;
    if (name === undefined || !(name in STUDY_FLAGS)) {
      if (!token.startsWith("-") && token in STUDY_FLAGS) {
        const takes = STUDY_FLAGS[token as StudyFlag];
        const next = argv[i + 1];
        throw new UsageError(
          `unexpected argument "${token}". Did you mean --${token}${takes === true && next ? ` ${next}` : ""}?`,
        );
      }
      rest.push(token);
      continue;
    }
    const flag = name as StudyFlag;
    const takes = STUDY_FLAGS[flag];
    let value: string | true = true;
    if (eq !== -1) {
      if (takes === false) throw new UsageError(`--${flag} takes no value.`);
      value = token.slice(eq + 1);
    } else if (takes === true) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UsageError(`--${flag} needs a value.`);
      value = next;
      i++;
    } else if (takes === "optional") {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("-") && next.includes(".")) {
        value = next;
        i++;
      }
    }
    if (flag === "where") where.push(value as string);
    else if (flag === "only") only.push(value as string);
    else flags[flag] = value;
  }
  return { flags, where, only, rest };
}

function positiveInt(flag: string, text: string | true | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text === true || !Number.isInteger(n) || n < 1)
    throw new UsageError(`--${flag} needs a positive integer, got "${String(text)}".`);
  return n;
}

/** How the jobs start `trainkit-train` and `trainkit-infer`: the installed commands beside this one. */
function programs(): { train: string[]; infer: string[] } {
  const require = createRequire(import.meta.url);
  const bin = (pkg: string, name: string) =>
    join(dirname(require.resolve(`${pkg}/package.json`)), "bin", name);
  return {
    train: [process.execPath, bin("@trainkit/train-cli", "trainkit-train.js")],
    infer: [process.execPath, bin("@trainkit/infer-cli", "trainkit-infer.js")],
  };
}

function renderList(plan: StudyPlan, json: boolean): string {
  const axes = plan.axes;
  const rows = plan.jobs.map((job) => ({
    index: job.index,
    label: job.label,
    ...Object.fromEntries(axes.map((a) => [a, job.axes[a] ?? null])),
    ...(job.repeat !== null ? { repeat: job.repeat } : {}),
    ...(job.fold !== null ? { fold: job.fold } : {}),
    backend: job.launcher.backend === "process" ? `process (${job.launcher.command})` : job.launcher.backend,
    ...Object.fromEntries(plan.globalPaths.map((p) => [p, job.globalSupport[p] ? "honoured" : "dropped"])),
    sha256: job.sha256.slice(0, 12),
  }));
  if (json) return `${JSON.stringify(rows, null, 2)}\n`;
  const extra = [
    ...(plan.jobs.some((j) => j.repeat !== null) ? ["repeat"] : []),
    ...(plan.jobs.some((j) => j.fold !== null) ? ["fold"] : []),
  ];
  const columns = ["index", "label", ...axes, ...extra, "backend", ...plan.globalPaths, "sha256"];
  const cells = rows.map((r) => columns.map((c) => String((r as Record<string, unknown>)[c] ?? "")));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(columns), ...cells.map(line)].join("\n")}\n${plan.jobs.length} of ${plan.total} job(s)${plan.globalPaths.length > 0 ? `; global options: ${plan.globalPaths.join(", ")}` : ""}\n`;
}

async function runCommand(argv: readonly string[], io: StudyIO): Promise<number> {
  const [specFile, ...more] = argv;
  if (specFile === undefined || specFile.startsWith("-"))
    throw new UsageError(`run needs a study spec file: ${NAME} run SPEC [options].`);
  const args = splitArgs(more);
  const parsed = parseArgv("training", args.rest, io.env);
  for (const [flag, set] of [
    ["--print-config", parsed.printConfig],
    ["--overwrite", parsed.overwrite],
  ] as const) {
    if (set) throw new UsageError(`${flag} is not a study option (see ${NAME} --help).`);
  }
  for (const warning of parsed.warnings) io.stderr(`${NAME}: warning: ${warning.message}\n`);
  const loaded = await loadStudySpec(specFile);
  const rerun = args.flags.rerun;
  if (rerun !== undefined && rerun !== "failed" && rerun !== "all")
    throw new UsageError(`--rerun must be failed or all, got "${String(rerun)}".`);
  const kind = args.flags.executor ?? "local";
  if (!(EXECUTOR_KINDS as readonly string[]).includes(String(kind))) {
    const best = closestName(String(kind), EXECUTOR_KINDS);
    throw new UsageError(
      `--executor ${String(kind)}: must be one of ${EXECUTOR_KINDS.join(", ")}.${best ? ` Did you mean ${best}?` : ""}`,
    );
  }
  const slurmFlags: Record<string, unknown> = {};
  for (const [flag, key] of [
    ["partition", "partition"],
    ["account", "account"],
    ["qos", "qos"],
    ["mem", "mem"],
    ["gres", "gres"],
    ["cpus-per-task", "cpusPerTask"],
  ] as const) {
    const value = args.flags[flag];
    if (value === undefined) continue;
    if (kind !== "slurm") throw new UsageError(`--${flag} is a Slurm setting: use it with --executor slurm.`);
    slurmFlags[key] = key === "cpusPerTask" ? positiveInt(flag, value) : value;
  }
  if (args.flags.wait && kind !== "slurm")
    throw new UsageError("--wait applies to --executor slurm (the local executor always waits).");
  if (args.flags.sequential && args.flags["max-workers"] !== undefined)
    throw new UsageError("--sequential and --max-workers exclude each other.");
  const maxWorkers = args.flags.sequential ? 1 : positiveInt("max-workers", args.flags["max-workers"]);
  const folds = positiveInt("folds", args.flags.folds);
  const previous = await readStudyManifest(loaded.spec.outputDir).catch(() => undefined);
  const plan = await planStudy(loaded, {
    layers: parsed.layers,
    sources: parsed.sources,
    launcher: parsed.launcher,
    where: args.where,
    only: args.only,
    ...(folds !== undefined ? { folds } : {}),
    allowDropped: args.flags["allow-dropped"] === true || parsed.launcher.allowDropped === true,
    ...(previous ? { previousIndices: new Map(previous.jobs.map((j) => [j.key, j.index])) } : {}),
    programs: programs(),
  });
  for (const warning of plan.warnings) io.stderr(`${NAME}: warning: ${warning.message}\n`);
  for (const job of plan.jobs)
    for (const d of job.dropped)
      io.stderr(
        `${NAME}: warning: job ${job.index} (${job.label}): dropping ${d.path} (from ${d.origin}): its ${job.launcher.backend} backend supports ${d.supported}.\n`,
      );
  const json = args.flags.format === "json";
  if (args.flags.format !== undefined && args.flags.format !== "json" && args.flags.format !== "text")
    throw new UsageError(`--format must be text or json, got "${String(args.flags.format)}".`);
  if (args.flags.explain !== undefined) {
    const path = args.flags.explain;
    if (json) {
      io.stdout(
        `${JSON.stringify(
          plan.jobs.map((j) => ({ index: j.index, label: j.label, audit: selectAudit(j.payload, path) })),
          null,
          2,
        )}\n`,
      );
    } else {
      for (const job of plan.jobs)
        io.stdout(`# job ${job.index} ${job.label}\n${renderExplain(selectAudit(job.payload, path))}`);
    }
    return 0;
  }
  if (args.flags.list) {
    io.stdout(renderList(plan, json));
    return 0;
  }
  const resume = args.flags.resume === true;
  if (args.flags["dry-run"]) {
    await checkStudyDirectory(plan, {
      resume,
      ...(rerun ? { rerun } : {}),
      replan: args.flags.replan === true,
    });
    io.stdout(
      `Dry run: ${plan.jobs.length} of ${plan.total} job(s) of study ${loaded.spec.name} resolved and checked against their backends.\n` +
        `A run would ${resume || rerun ? "continue" : "write"} ${loaded.spec.outputDir}. Nothing was written.\n`,
    );
    return 0;
  }
  const executorSettings = kind === "slurm" ? { ...(loaded.spec.slurm ?? {}), ...slurmFlags } : undefined;
  const executor = EXECUTORS[kind as keyof typeof EXECUTORS]({
    ...(executorSettings ? { slurm: executorSettings } : {}),
    ...(io.cwd ? { cwd: io.cwd } : {}),
  });
  const progress = io.isTTY && io.tty ? await createLiveProgress(io.tty) : createPlainProgress(io.stdout);
  const outcome = await runStudy(plan, {
    executor,
    ...(executorSettings ? { executorSettings } : {}),
    wait: args.flags.wait === true,
    ...(io.ask
      ? {
          cancelQueuedOnInterrupt: () =>
            (io.ask as (q: string) => Promise<boolean>)("Cancel the study's jobs on the cluster? [y/N] "),
        }
      : {}),
    ...(maxWorkers !== undefined ? { maxWorkers } : {}),
    resume,
    ...(rerun ? { rerun: rerun as RerunSelection } : {}),
    replan: args.flags.replan === true,
    failFast: args.flags["fail-fast"] === true,
    io,
    env: io.env,
    ...(io.signal ? { signal: io.signal } : {}),
    argv: ["run", ...argv],
    where: args.where,
    only: args.only,
    progress,
    ...(io.cwd ? { cwd: io.cwd } : {}),
  });
  if (outcome.queuedOnly) {
    io.stdout(
      `\n${NAME}: study ${loaded.spec.name}: ${plan.jobs.length} job(s) queued on ${kind}.\n` +
        `  follow them:   ${NAME} watch ${outcome.dir}\n  results:       ${NAME} collect ${outcome.dir}\n  stop them:     ${NAME} cancel ${outcome.dir}\n`,
    );
    return 0;
  }
  const written = await writeStudyOutputs(outcome.dir);
  io.stdout(`\n${NAME}: study ${loaded.spec.name}: ${written.summary}\n`);
  for (const [label, path] of Object.entries(written.files)) io.stdout(`  ${label.padEnd(16)}${path}\n`);
  if (outcome.exitCode === 130)
    io.stderr(`${NAME}: interrupted; continue with ${NAME} run ${specFile} --resume\n`);
  return outcome.exitCode;
}

/** The whole program: argv in, exit code out. */
export async function main(argv: readonly string[], io: StudyIO): Promise<number> {
  try {
    const [command, ...rest] = argv;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      io.stdout(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === "--version") {
      io.stdout(`${NAME} ${studyCliPackage.version}\n`);
      return 0;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.stdout(HELP);
      return 0;
    }
    switch (command) {
      case "run":
        return await runCommand(rest, io);
      case "status": {
        const dir = rest[0];
        if (!dir) throw new UsageError(`status needs a study directory: ${NAME} status DIR.`);
        if (await queuedStudy(dir)) await watchStudy(dir, { io: quiet(io), once: true, env: io.env });
        io.stdout(await studyStatus(dir));
        return 0;
      }
      case "watch":
      case "cancel": {
        const dir = rest[0];
        if (!dir) throw new UsageError(`${command} needs a study directory: ${NAME} ${command} DIR.`);
        const progress =
          io.isTTY && io.tty ? await createLiveProgress(io.tty) : createPlainProgress(io.stdout);
        const outcome = await watchStudy(dir, {
          io,
          env: io.env,
          progress,
          ...(io.signal ? { signal: io.signal } : {}),
          ...(command === "cancel" ? { cancel: true } : {}),
        });
        if (!outcome.ended) {
          io.stderr(
            `${NAME}: stopped watching; the jobs keep running (${NAME} watch ${dir} to follow them again).\n`,
          );
          return 130;
        }
        const written = await writeStudyOutputs(dir);
        io.stdout(`${NAME}: ${written.summary}\n`);
        return Object.entries(outcome.counts).some(([s, n]) => s !== "succeeded" && (n ?? 0) > 0) ? 1 : 0;
      }
      case "report":
      case "collect": {
        const dir = rest[0];
        if (!dir) throw new UsageError(`${command} needs a study directory: ${NAME} ${command} DIR.`);
        if (command === "collect" && (await queuedStudy(dir)))
          await watchStudy(dir, { io: quiet(io), once: true, env: io.env });
        await collectResults(dir);
        const written = await writeStudyOutputs(dir);
        io.stdout(`${NAME}: ${written.summary}\n`);
        for (const [label, path] of Object.entries(written.files))
          io.stdout(`  ${label.padEnd(16)}${path}\n`);
        return 0;
      }
      default: {
        const commands = ["run", "status", "watch", "collect", "cancel", "report"];
        const best = closestName(command, commands);
        throw new UsageError(
          `unknown command "${command}".${best ? ` Did you mean ${best}?` : ""} Commands: ${commands.join(", ")}.`,
        );
      }
    }
  } catch (error) {
    if (isUserError(error)) {
      io.stderr(`${NAME}: error: ${error.message}\n`);
      if (isUsageError(error)) io.stderr(`Run ${NAME} --help for usage.\n`);
      return 2;
    }
    io.stderr(`${NAME}: internal error (please report it): ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

async function ask(question: string): Promise<boolean> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Runs the program as this process: argv, streams, environment, Ctrl-C and the exit code. */
export async function runStudyProcess(): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      process.stderr.write(
        `\n${NAME}: ${signal}: stopping the running jobs at their next checkpoint (Ctrl-C again to abort now)\n`,
      );
      controller.abort();
    });
  }
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stderr.isTTY === true,
    tty: process.stderr,
    signal: controller.signal,
    ...(process.stdin.isTTY ? { ask } : {}),
  });
}
