import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { redactValue, SECRET_MASK } from "@trainkit/config-meta";
import type { AnyPayload } from "@trainkit/factory";
import factoryPackage from "@trainkit/factory/package.json" with { type: "json" };
import launcherPackage from "../package.json" with { type: "json" };
import type { UnsupportedSetting } from "./capabilities.ts";

export type RunStatus = "running" | "succeeded" | "failed" | "interrupted";

/** `manifest.json` of a run directory. */
export interface RunManifest {
  readonly kind: AnyPayload["kind"];
  readonly backend: string;
  readonly argv: readonly string[];
  /** Names (never values) of the TRAINKIT_* variables that were read. */
  readonly envVariables: readonly string[];
  readonly packages: Readonly<Record<string, string>>;
  /** SHA-256 of payload.json. */
  readonly payloadSha256: string;
  readonly launcher: Readonly<Record<string, unknown>>;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly status: RunStatus;
  readonly exitCode: number | null;
  /** The payload hash of the run this one resumed, when it differs. */
  readonly resumedFrom?: string;
  readonly message?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Settings the backend could not deliver, dropped on request (`--allow-dropped`). */
  readonly dropped?: readonly UnsupportedSetting[];
}

/** Versions of the trainkit packages that take part in a run. */
export const PACKAGE_VERSIONS: Readonly<Record<string, string>> = {
  [launcherPackage.name]: launcherPackage.version,
  [factoryPackage.name]: factoryPackage.version,
};

/** The payload as written to payload.json: config with secrets masked, and its audit facts. */
export function payloadDocument(payload: AnyPayload): Record<string, unknown> {
  const secretPaths = new Set(payload.audit.filter((a) => a.value === SECRET_MASK).map((a) => a.path));
  const config: Record<string, Record<string, unknown>> = {};
  for (const [section, values] of Object.entries(
    payload.config as unknown as Record<string, Record<string, unknown>>,
  )) {
    config[section] = Object.fromEntries(
      Object.entries(values).map(([key, value]) => [
        key,
        secretPaths.has(`${section}.${key}`) ? SECRET_MASK : redactValue(value),
      ]),
    );
  }
  return { kind: payload.kind, config };
}

/** SHA-256 of a text, hex. `node:crypto` is loaded only when a run starts (it slows start-up). */
export async function sha256(text: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(text).digest("hex");
}

/** The manifest of an earlier run in `dir`, if there is one. */
export async function readManifest(dir: string): Promise<RunManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as RunManifest;
  } catch {
    return undefined;
  }
}
