import { type ProgramIO, runProgram } from "@trainkit/cli-kit";

/** `trainkit-infer`: all config construction happens in the factory, all running in the launcher. */
export function main(argv: readonly string[], io: ProgramIO): Promise<number> {
  return runProgram({ kind: "inference", name: "trainkit-infer" }, argv, io);
}
