import type { JobCommand, PlannedJob } from "../types.ts";
import { SlurmError } from "./errors.ts";
import type { SlurmSettings } from "./settings.ts";

/** One sbatch submission: a job array whose task `t` runs the job on line `t + 1` of the table. */
export interface ChunkPlan {
  /** `tk-<studyId>`: the same for every chunk of a study, so one `squeue --name` finds them all. */
  readonly jobName: string;
  readonly chunk: number;
  /** Number of array tasks (jobs) in the chunk. */
  readonly size: number;
  /** `%K`: tasks of the chunk that may run at once; null for no throttle. */
  readonly throttle: number | null;
  /** Wall-clock limit in seconds (rounded up to minutes), or null for the partition's. */
  readonly timeLimitSeconds: number | null;
  readonly settings: SlurmSettings;
  /** Absolute path of the chunk's index table. */
  readonly tablePath: string;
  /** Absolute path of the folder holding one argv file per job index. */
  readonly argvDir: string;
  /**
   * Absolute path of the folder of the jobs' records (`<records>/<index>/status.json`, logs, step
   * markers): outside the run directories, which `trainkit-train --payload` wants to hold only the
   * planned payload.
   */
  readonly recordsDir: string;
}

/** Slurm's `--time` in whole minutes (its granularity), rounded up. */
export function slurmMinutes(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 60));
}

/** Quotes a word for bash: single quotes, `'` as `'\''`. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Escapes `%` for Slurm's filename patterns (`--output`, `--error`). */
export function slurmPathPattern(path: string): string {
  return path.replaceAll("%", "%%");
}

/** The `#SBATCH` options of a chunk, in a fixed order (paths and the dependency go on the command line). */
export function sbatchOptions(plan: ChunkPlan): string[] {
  const s = plan.settings;
  const options = [
    `--job-name=${plan.jobName}`,
    `--array=0-${plan.size - 1}${plan.throttle === null ? "" : `%${plan.throttle}`}`,
    "--open-mode=append",
    s.requeue ? "--requeue" : "--no-requeue",
    "--kill-on-invalid-dep=yes",
    `--cpus-per-task=${s.cpusPerTask}`,
  ];
  if (s.partition !== null) options.push(`--partition=${s.partition}`);
  if (s.account !== null) options.push(`--account=${s.account}`);
  if (s.qos !== null) options.push(`--qos=${s.qos}`);
  if (plan.timeLimitSeconds !== null) options.push(`--time=${slurmMinutes(plan.timeLimitSeconds)}`);
  if (s.mem !== null) options.push(`--mem=${s.mem}`);
  if (s.gres !== null) options.push(`--gres=${s.gres}`);
  if (s.signalSeconds !== null) options.push(`--signal=B:USR1@${s.signalSeconds}`);
  options.push(...s.extra);
  return options;
}

/**
 * The batch script of a chunk. Its body is the same for every study: it reads its job from the
 * index table and the job's argv file (never from text interpolated into the script), runs the
 * job's commands with no shell in between, forwards SIGUSR1/SIGTERM to the running program, and
 * writes the job's completion record `<records>/<index>/status.json` atomically (tmp + rename).
 */
export function renderBatchScript(plan: ChunkPlan): string {
  const header = sbatchOptions(plan).map((option) => `#SBATCH ${option}`);
  return `#!/bin/bash
${header.join("\n")}
# Written by trainkit's Slurm executor: chunk ${plan.chunk} of study ${plan.jobName}, ${plan.size} job(s).
# --output, --error and --dependency are given on the sbatch command line.
TK_TABLE=${shellQuote(plan.tablePath)}
TK_ARGV_DIR=${shellQuote(plan.argvDir)}
TK_RECORDS=${shellQuote(plan.recordsDir)}
${SCRIPT_BODY}`;
}

/*
 * Bash rules this body follows (see the Slurm reference): no \`set -e\` (a failing program must still
 * get its record written); the program runs in the background and the shell waits for it, because
 * bash runs a trap only between commands, never during a foreground child; \`wait\` returns >128
 * when a trapped signal interrupts it, so it waits again while the child lives; the script exits
 * with the program's status, so sacct's ExitCode is the program's.
 */
const SCRIPT_BODY = String.raw`set -u
task=\${SLURM_ARRAY_TASK_ID:?trainkit: not a Slurm array task}
line=$(sed -n "$((task + 1)){p;q}" "$TK_TABLE")
if [[ -z $line ]]; then
  echo "trainkit: no line $((task + 1)) in $TK_TABLE" >&2
  exit 97
fi
IFS=$'\t' read -r index base dir <<<"$line"
restarts=\${SLURM_RESTART_COUNT:-0}
attempt=$((base + restarts + 1))
rec="$TK_RECORDS/$index"
mkdir -p "$dir" "$rec"
exec >>"$rec/job.out" 2>>"$rec/job.err"
echo "trainkit: job $index attempt $attempt, Slurm job \${SLURM_JOB_ID:-?} (\${SLURM_ARRAY_JOB_ID:-?}_$task) on $(hostname) at $(date -u +%FT%TZ)" >&2
host=$(hostname)
host=\${host//[^A-Za-z0-9._-]/}
started=$(date -u +%FT%T.%3NZ)
export TKSTUDY_JOB_INDEX=$index TKSTUDY_JOB_DIR=$dir TKSTUDY_ATTEMPT=$attempt

record() { # state exitCode signal step
  local tmp="$rec/.status.json.$$" ended=null
  [[ $1 == running ]] || ended="\"$(date -u +%FT%T.%3NZ)\""
  printf '{"version":1,"state":"%s","exitCode":%s,"signal":%s,"step":%s,"index":%d,"attempt":%d,"restartCount":%d,"jobId":"%s","arrayJobId":"%s","arrayTaskId":"%s","host":"%s","startedAt":"%s","endedAt":%s}\n' \
    "$1" "$2" "$3" "$4" "$index" "$attempt" "$restarts" "\${SLURM_JOB_ID:-}" "\${SLURM_ARRAY_JOB_ID:-}" "$task" "$host" "$started" "$ended" >"$tmp" &&
    mv -f "$tmp" "$rec/status.json"
}

child=0
caught=null
forward() { # signal
  if ((child > 0)); then kill -s "$1" "$child" 2>/dev/null; fi
}
trap 'forward USR1' USR1
trap 'caught=15; forward TERM' TERM

record running null null null

mapfile -d '' -t spec <"$TK_ARGV_DIR/$index"
i=0
k=0
status=0
while ((i < \${#spec[@]})); do
  step=\${spec[i]}
  argc=\${spec[i + 1]}
  argv=("\${spec[@]:i+2:argc}")
  i=$((i + 2 + argc))
  done_file="$rec/step-$k.done"
  if [[ -f $done_file && $(<"$done_file") == "\${SLURM_JOB_ID:-}" ]]; then
    echo "trainkit: step $k ($step) already finished in this Slurm job, skipped" >&2
    k=$((k + 1))
    continue
  fi
  if [[ $step == train && -f $dir/manifest.json ]]; then
    resume=1
    for word in "\${argv[@]}"; do [[ $word == --resume || $word == --overwrite ]] && resume=0; done
    if ((resume)); then
      argv+=(--resume)
      echo "trainkit: $dir/manifest.json exists: continuing with --resume" >&2
    fi
  fi
  "\${argv[@]}" &
  child=$!
  while true; do
    wait "$child"
    status=$?
    if ((status > 128)) && kill -0 "$child" 2>/dev/null; then continue; fi
    break
  done
  child=0
  if ((status != 0)) || [[ $caught != null ]]; then break; fi
  printf '%s' "\${SLURM_JOB_ID:-}" >"$done_file"
  k=$((k + 1))
done

signal=null
if ((status > 128)); then signal=$((status - 128)); fi
if [[ $caught != null ]]; then
  record interrupted "$status" "$caught" "$k"
  exit $((status == 0 ? 128 + caught : status))
fi
if ((status != 0)); then
  record exited "$status" "$signal" "$k"
  exit "$status"
fi
record exited 0 null null
exit 0
`.replaceAll("\\${", "${"); // String.raw keeps the backslash of \${, which only guards it from JS

/** One line of a chunk's index table: `<job index> TAB <attempts before this submission> TAB <job dir>`. */
export function tableLine(index: number, attemptBase: number, dir: string): string {
  if (/[\n\r\t]/.test(dir) || dir.trim() !== dir || dir === "") {
    throw new SlurmError(
      "SLURM_PATH_UNSAFE",
      `Job ${index}: its directory ${JSON.stringify(dir)} holds a tab, a newline or surrounding spaces, which the Slurm index table cannot carry. Use an output directory without them.`,
    );
  }
  return `${index}\t${attemptBase}\t${dir}\n`;
}

/**
 * A job's argv file: for each command `step NUL argc NUL argv... NUL`. The batch script reads it with
 * `mapfile -d ''`, so no argument is ever seen by a shell parser.
 */
export function renderArgvFile(job: Pick<PlannedJob, "index" | "commands">): string {
  if (job.commands.length === 0) {
    throw new SlurmError("SLURM_SETTINGS_INVALID", `Job ${job.index} has no command to run.`);
  }
  return job.commands.map((command: JobCommand) => argvRecord(job.index, command)).join("");
}

function argvRecord(index: number, command: JobCommand): string {
  if (command.argv.length === 0) {
    throw new SlurmError("SLURM_SETTINGS_INVALID", `Job ${index}: the ${command.step} command is empty.`);
  }
  for (const word of command.argv) {
    if (word.includes("\0")) {
      throw new SlurmError(
        "SLURM_PATH_UNSAFE",
        `Job ${index}: an argument of the ${command.step} command holds a NUL character.`,
      );
    }
  }
  return `${[command.step, String(command.argv.length), ...command.argv].join("\0")}\0`;
}
