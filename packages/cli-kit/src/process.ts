import * as z from "zod";
import { type ProgramSpec, runProgram } from "./program.ts";

/**
 * Runs a program as this process: argv, standard streams, the environment, Ctrl-C and the exit
 * code. The only place that touches `process`; everything else takes it as arguments.
 */
export async function runAsProcess(spec: ProgramSpec): Promise<void> {
  // One payload per process: zod's compiled fast path costs more to build than it saves here.
  z.config({ jitless: true });
  const controller = new AbortController();
  let interrupts = 0;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      process.stderr.write(
        `\n${spec.name}: ${signal}: stopping after the current step (press Ctrl-C again to abort now)\n`,
      );
      controller.abort();
    });
  }
  process.exitCode = await runProgram(spec, process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stderr.isTTY === true,
    signal: controller.signal,
  });
}
