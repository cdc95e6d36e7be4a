import { type ProgramIO, type ProgramSpec, runProgram } from "@trainkit/cli-kit";

/** `trainkit-train`: all config construction happens in the factory, all running in the launcher. */
export const PROGRAM: ProgramSpec = { kind: "training", name: "trainkit-train" };

export function main(argv: readonly string[], io: ProgramIO): Promise<number> {
  return runProgram(PROGRAM, argv, io);
}
