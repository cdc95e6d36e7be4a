import { execFile } from "node:child_process";
import { SlurmError } from "./errors.ts";

export const SLURM_COMMANDS = ["sbatch", "sacct", "squeue", "scontrol", "scancel"] as const;
export type SlurmCommandName = (typeof SLURM_COMMANDS)[number];

export interface CommandResult {
  /** Exit status; null when the command was killed (timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** The program to run for each command (a wrapper, another path); the command's name by default. */
  readonly commands?: Partial<Readonly<Record<SlurmCommandName, string>>> | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs: number;
}

/** Runs a Slurm command with execFile (never a shell); a missing program is SLURM_UNAVAILABLE. */
export function runSlurmCommand(
  name: SlurmCommandName,
  args: readonly string[],
  options: RunOptions,
): Promise<CommandResult> {
  const program = options.commands?.[name] ?? name;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.env)) if (value !== undefined) env[key] = value;
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { env, timeout: options.timeoutMs, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(
            new SlurmError(
              "SLURM_UNAVAILABLE",
              `${program} was not found on PATH: the Slurm executor needs the Slurm client commands (sbatch, sacct, squeue, scontrol, scancel) on this machine.`,
              { cause: error },
            ),
          );
          return;
        }
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ code, stdout, stderr: error && code === null ? `${stderr}${error.message}` : stderr });
      },
    );
  });
}
