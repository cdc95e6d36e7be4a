import { runStudyProcess } from "./cli.ts";

await runStudyProcess();
