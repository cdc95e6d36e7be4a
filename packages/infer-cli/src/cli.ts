import { type ProgramIO, type ProgramSpec, runProgram } from "@trainkit/cli-kit";

/** `trainkit-infer`: all config construction happens in the factory, all running in the launcher. */
export const PROGRAM: ProgramSpec = { kind: "inference", name: "trainkit-infer" };

export function main(argv: readonly string[], io: ProgramIO): Promise<number> {
  return runProgram(PROGRAM, argv, io);
}
