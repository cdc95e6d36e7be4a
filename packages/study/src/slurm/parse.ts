/** Parsers for the text Slurm 22.05's commands print (`-P` / `-o` forms; its `--json` misreports exit codes). */

/** A Slurm job id as printed by sacct's JobID or squeue's `%i`. */
export interface SlurmJobId {
  /** The array's job id, or the job id of a job that is not an array. */
  readonly jobId: string;
  /** The array task ids this row stands for (several for a pending array `123_[0-3%2]`), or null. */
  readonly tasks: readonly number[] | null;
  /** True for a bracketed range: tasks that have not started yet (Slurm splits a task off when it starts). */
  readonly collapsed: boolean;
}

/** `123`, `123_4`, `123_[0-3%2]`, `123_[1,3-5:2]` (and `+het` offsets, kept in `jobId`). */
export function parseJobId(text: string): SlurmJobId | undefined {
  const match = /^(\d+(?:\+\d+)?)(?:_(\d+|\[([^\]]*)\]))?(?:\.\S+)?$/.exec(text.trim());
  if (!match) return undefined;
  const jobId = match[1]!;
  if (match[2] === undefined) return { jobId, tasks: null, collapsed: false };
  if (match[3] === undefined) return { jobId, tasks: [Number(match[2])], collapsed: false };
  const tasks = expandArrayRange(match[3]);
  return tasks === undefined ? undefined : { jobId, tasks, collapsed: true };
}

/** `0-3%2` -> [0,1,2,3]; `1,3-7:2` -> [1,3,5,7]. Undefined when it is not such a range. */
export function expandArrayRange(text: string): number[] | undefined {
  const body = text.replace(/%\d+$/, "");
  const tasks: number[] = [];
  for (const part of body.split(",")) {
    const range = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!range) return undefined;
    const from = Number(range[1]);
    const to = range[2] === undefined ? from : Number(range[2]);
    const step = range[3] === undefined ? 1 : Number(range[3]);
    if (to < from || step < 1) return undefined;
    for (let t = from; t <= to; t += step) tasks.push(t);
  }
  return tasks;
}

/** `sbatch --parsable` prints `jobid` or `jobid;cluster`. */
export function parseSbatchOutput(stdout: string): { jobId: string; cluster: string | null } | undefined {
  const lines = stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^(\d+)(?:;(\S+))?$/.exec(lines[i]!);
    if (match) return { jobId: match[1]!, cluster: match[2] ?? null };
  }
  return undefined;
}

/** `MaxArraySize = 1001` from `scontrol show config`. */
export function parseMaxArraySize(config: string): number | undefined {
  const match = /^\s*MaxArraySize\s*=\s*(\d+)\s*$/m.exec(config);
  return match ? Number(match[1]) : undefined;
}

/** `exit:signal` as in sacct's ExitCode and DerivedExitCode. */
export interface SlurmExit {
  readonly code: number;
  readonly signal: number;
}

export function parseExit(text: string): SlurmExit | null {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  return match ? { code: Number(match[1]), signal: Number(match[2]) } : null;
}

/** The state word: `CANCELLED by 0` -> `CANCELLED`. */
export function parseState(text: string): string {
  return /^([A-Z_]+)/.exec(text.trim())?.[1] ?? "UNKNOWN";
}

/** The fields the executor asks sacct for, in this order. */
export const SACCT_FORMAT = "JobIDRaw,JobID,State,ExitCode,DerivedExitCode,Reason,Start,End,NodeList";

export interface SacctRow {
  readonly jobIdRaw: string;
  readonly id: SlurmJobId;
  readonly state: string;
  /** The whole State text, e.g. `CANCELLED by 0`. */
  readonly stateText: string;
  readonly exit: SlurmExit | null;
  readonly derivedExit: SlurmExit | null;
  readonly reason: string;
  readonly start: string | null;
  readonly end: string | null;
  readonly nodeList: string;
}

function timeOrNull(text: string | undefined): string | null {
  return text === undefined || text === "" || text === "Unknown" || text === "None" ? null : text;
}

/** `sacct -X -P -n --format=<SACCT_FORMAT>` output; rows it cannot read are skipped. */
export function parseSacct(stdout: string): SacctRow[] {
  const rows: SacctRow[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split("|");
    if (f.length < 9) continue;
    const id = parseJobId(f[1]!);
    if (!id) continue;
    rows.push({
      jobIdRaw: f[0]!,
      id,
      state: parseState(f[2]!),
      stateText: f[2]!,
      exit: parseExit(f[3]!),
      derivedExit: parseExit(f[4]!),
      reason: f[5]!,
      start: timeOrNull(f[6]),
      end: timeOrNull(f[7]),
      nodeList: f[8]!,
    });
  }
  return rows;
}

/** The fields the executor asks squeue for (`-o`), in this order. */
export const SQUEUE_FORMAT = "%i|%T|%r";

export interface SqueueRow {
  readonly id: SlurmJobId;
  readonly state: string;
  readonly reason: string;
}

/** `squeue -h -r -o '%i|%T|%r'` output. */
export function parseSqueue(stdout: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split("|");
    if (f.length < 3) continue;
    const id = parseJobId(f[0]!);
    if (!id) continue;
    rows.push({ id, state: parseState(f[1]!), reason: f.slice(2).join("|") });
  }
  return rows;
}

/** sacct's answer on a cluster without slurmdbd. */
export function accountingDisabled(output: string): boolean {
  return /accounting storage is disabled/i.test(output);
}

/** sbatch errors worth retrying (with backoff): the controller was busy or unreachable for a moment. */
const TRANSIENT = [
  /socket timed out/i,
  /temporarily unable to accept job/i,
  /resource temporarily unavailable/i,
  /unable to contact slurm controller/i,
  /connection refused/i,
  /slurm_persist_conn_open/i,
  /try again/i,
];

export function isTransientSlurmError(message: string): boolean {
  return TRANSIENT.some((pattern) => pattern.test(message));
}
