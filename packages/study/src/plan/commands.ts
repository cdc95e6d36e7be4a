// What a planned job runs: its commands, and the payload hash they carry.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { renderPayloadDocument, type TrainingPayload } from "@trainkit/factory";
import type { StudySpec } from "../spec.ts";
import type { JobCommand } from "../types.ts";
import { type JobLauncher, launcherFlags } from "./launcher.ts";

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The payload document's hash, as the launcher records it in manifest.json (`payloadSha256`). */
export function payloadSha256(payload: TrainingPayload): string {
  return sha256(renderPayloadDocument(payload));
}

/** Where the study keeps what it writes for a job outside its run directory. */
export function planFileOf(outputDir: string, index: number, what: string): string {
  return join(outputDir, "plan", `${String(index).padStart(4, "0")}.${what}`);
}

export function jobCommands(
  spec: StudySpec,
  dir: string,
  sha: string,
  payload: TrainingPayload,
  launcher: JobLauncher,
  programs: { readonly train: readonly string[]; readonly infer: readonly string[] },
  hasInferConfig: boolean,
  problems: string[],
  index: number,
  label: string,
): JobCommand[] {
  const commands: JobCommand[] = [
    {
      step: "train",
      argv: [
        ...programs.train,
        "--payload",
        join(dir, "payload.json"),
        "--payload-sha256",
        sha,
        ...launcherFlags(launcher),
      ],
    },
  ];
  if (spec.steps.includes("infer")) {
    const test = payload.config.training.testDataFile;
    if (!test)
      problems.push(`job ${index} (${label}): steps include infer but training.testDataFile is not set`);
    if (launcher.backend !== "embedded")
      problems.push(
        `job ${index} (${label}): the infer step runs the embedded engine on the job's model bundle; the ${launcher.backend} backend writes none`,
      );
    commands.push({
      step: "infer",
      argv: [
        ...programs.infer,
        "--from-run",
        dir,
        "--model-path",
        dir,
        "--test-data-file",
        test ?? "",
        "--output-dir",
        join(dir, "infer"),
        "--overwrite",
        ...(hasInferConfig ? ["--config", planFileOf(spec.outputDir, index, "infer.json")] : []),
      ],
    });
  }
  return commands;
}
