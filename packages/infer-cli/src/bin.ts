import { runAsProcess } from "@trainkit/cli-kit";
import { PROGRAM } from "./cli.ts";

await runAsProcess(PROGRAM);
