import * as z from "zod";

/** A Slurm name (partition, account, QOS, GRES): no spaces, quotes or newlines. */
const token = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.,:+=/@-]+$/, `${what}: letters, digits and _ . , : + = / @ - only`)
    .max(200);

/**
 * Options the executor sets itself. A line in `extra` that sets one of them is an error, so that no
 * setting is silently overridden by another.
 */
export const MANAGED_SBATCH_OPTIONS = {
  "--array": "the executor builds the array from the jobs (chunked by MaxArraySize)",
  "-a": "the executor builds the array from the jobs (chunked by MaxArraySize)",
  "--job-name": "the executor names every job of a study tk-<studyId>",
  "-J": "the executor names every job of a study tk-<studyId>",
  "--output": "logs go to <studyDir>/slurm/logs and <jobDir>/slurm",
  "-o": "logs go to <studyDir>/slurm/logs and <jobDir>/slurm",
  "--error": "logs go to <studyDir>/slurm/logs and <jobDir>/slurm",
  "-e": "logs go to <studyDir>/slurm/logs and <jobDir>/slurm",
  "--open-mode": "always append, so that logs survive a requeue",
  "--signal": "use slurm.signalSeconds",
  "--requeue": "use slurm.requeue",
  "--no-requeue": "use slurm.requeue",
  "--dependency": "the executor chains chunks itself",
  "-d": "the executor chains chunks itself",
  "--kill-on-invalid-dep": "always yes",
  "--parsable": "the executor parses sbatch's answer itself",
  "--wait": "the executor polls sacct instead",
  "-W": "the executor polls sacct instead",
  "--time": "use slurm.timeLimit or budget.jobTimeout",
  "-t": "use slurm.timeLimit or budget.jobTimeout",
  "--partition": "use slurm.partition",
  "-p": "use slurm.partition",
  "--account": "use slurm.account",
  "-A": "use slurm.account",
  "--qos": "use slurm.qos",
  "-q": "use slurm.qos",
  "--cpus-per-task": "use slurm.cpusPerTask",
  "-c": "use slurm.cpusPerTask",
  "--mem": "use slurm.mem",
  "--gres": "use slurm.gres",
} as const satisfies Record<string, string>;

function optionName(line: string): string {
  const match = /^(--?[A-Za-z][A-Za-z-]*)/.exec(line);
  return match?.[1] ?? line;
}

/** The `slurm:` section of a study spec: how each job of the study is submitted. */
export const SlurmSettingsSchema = z
  .strictObject({
    partition: token("slurm.partition")
      .nullable()
      .default(null)
      .meta({ description: "Partition to submit to (`--partition`); the cluster's default when null." }),
    account: token("slurm.account")
      .nullable()
      .default(null)
      .meta({ description: "Account to charge (`--account`); the user's default when null." }),
    qos: token("slurm.qos")
      .nullable()
      .default(null)
      .meta({ description: "Quality of service (`--qos`); the account's default when null." }),
    timeLimit: z.int().positive().nullable().default(null).meta({
      description:
        "Wall-clock limit per job in seconds (`--time`, rounded up to whole minutes); the smaller of this and budget.jobTimeout applies. Null: the partition's limit.",
    }),
    cpusPerTask: z.int().positive().default(1).meta({ description: "CPUs per job (`--cpus-per-task`)." }),
    mem: z
      .string()
      .regex(/^[0-9]+[KMGT]?$/, "slurm.mem: a size such as 4000, 500M or 16G")
      .nullable()
      .default(null)
      .meta({ description: "Memory per job (`--mem`, e.g. `16G`); the partition's default when null." }),
    gres: token("slurm.gres")
      .nullable()
      .default(null)
      .meta({ description: "Generic resources per job (`--gres`, e.g. `gpu:1`)." }),
    extra: z
      .array(z.string().regex(/^-[^\n\r]*$/, "slurm.extra: one sbatch option per entry, starting with -"))
      .default([])
      .meta({
        description:
          "More `#SBATCH` lines, one option each (e.g. `--constraint=a100`); options the executor sets itself are refused.",
      }),
    signalSeconds: z.int().positive().nullable().default(60).meta({
      description:
        "Seconds before the time limit at which the job's program gets SIGUSR1 to checkpoint (`--signal=B:USR1@N`); null sends none.",
    }),
    requeue: z
      .boolean()
      .default(true)
      .meta({ description: "Let Slurm requeue a job after preemption or node failure (`--requeue`)." }),
    maxArraySize: z.int().positive().nullable().default(null).meta({
      description: "Largest array to submit; the cluster's MaxArraySize when null (or when that is smaller).",
    }),
  })
  .superRefine((settings, ctx) => {
    settings.extra.forEach((line, i) => {
      const name = optionName(line);
      const why = (MANAGED_SBATCH_OPTIONS as Record<string, string>)[name];
      if (why !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["extra", i],
          message: `slurm.extra[${i}]: ${JSON.stringify(line)} sets ${name}, which the executor sets itself (${why})`,
        });
      }
    });
  })
  .meta({ description: "How the jobs of a study are submitted to Slurm." });

export type SlurmSettings = z.output<typeof SlurmSettingsSchema>;
export type SlurmSettingsInput = z.input<typeof SlurmSettingsSchema>;
