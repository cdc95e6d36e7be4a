import { type ProgramIO, runProgram } from "@trainkit/cli-kit";

/** `trainkit-train`: all config construction happens in the factory, all running in the launcher. */
export function main(argv: readonly string[], io: ProgramIO): Promise<number> {
  return runProgram({ kind: "training", name: "trainkit-train" }, argv, io);
}
