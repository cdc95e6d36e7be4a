// A resolved payload written to disk (`payload.json` of a run directory, or a job of a study), read
// back and validated again so that it can be run exactly as it was planned.

import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  ConfigError,
  type ConfigIssue,
  type ConfigWarning,
  coerceFieldValue,
  listFields,
  redactValue,
  renderValue,
  SECRET_MASK,
} from "@trainkit/config-meta";
import type { AuditEntry } from "./audit.ts";
import { FactoryError } from "./errors.ts";
import type { Layer, LayerEntry } from "./layer.ts";
import type { Origin } from "./levels.ts";
import {
  type AnyPayload,
  bundleModelSection,
  checkDataFile,
  type InferencePayload,
  loadBundle,
  resolvePayload,
  type TrainingPayload,
} from "./payload.ts";
import { PAYLOAD_SPECS, type PayloadKind } from "./payload-spec.ts";
import { payloadJson } from "./python-json.ts";
import { envVariableOf } from "./sources.ts";

/** `payload.json` as the launcher writes it: the kind and the config, secrets masked. */
export interface PayloadDocument {
  readonly kind: PayloadKind;
  readonly config: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** The payload as written to payload.json: config with secrets masked (`***`). */
export function payloadDocument(payload: AnyPayload): PayloadDocument {
  const config = payload.config as unknown as Record<string, Record<string, unknown>>;
  // Without a secret set (the usual case), the document is the config itself: a study of 10,000
  // jobs renders 10,000 of them.
  // A password inside any URI (`user:pass@host`) is masked in every field too (docs/decisions.md).
  const secrets = secretPathsOf(payload.kind).filter(([section, key]) => config[section]?.[key] != null);
  const credentials = Object.values(config).some((values) => Object.values(values).some(holdsCredentials));
  if (secrets.length === 0 && !credentials) return { kind: payload.kind, config };
  const masked: Record<string, Record<string, unknown>> = {};
  for (const [section, values] of Object.entries(config)) {
    masked[section] = Object.fromEntries(
      Object.entries(values).map(([key, value]) => [key, redactValue(value)]),
    );
  }
  for (const [section, key] of secrets) (masked[section] as Record<string, unknown>)[key] = SECRET_MASK;
  return { kind: payload.kind, config: masked };
}

/** Whether redaction changes a value (a string, or strings in a list, holding `user:pass@`). */
function holdsCredentials(value: unknown): boolean {
  if (typeof value === "string") return redactValue(value) !== value;
  return Array.isArray(value) && value.some(holdsCredentials);
}

const secretPaths = new Map<PayloadKind, readonly (readonly [string, string])[]>();

/** `[section, key]` of every secret field of a payload kind (their values are masked when set). */
function secretPathsOf(kind: PayloadKind): readonly (readonly [string, string])[] {
  let found = secretPaths.get(kind);
  if (!found) {
    found = Object.entries(PAYLOAD_SPECS[kind].sections).flatMap(([section, spec]) =>
      listFields(spec.schema)
        .filter((f) => f.meta.secret === true)
        .map((f) => [section, f.key] as const),
    );
    secretPaths.set(kind, found);
  }
  return found;
}

/** The exact text of payload.json (two-space JSON and a final newline): what its SHA-256 is taken of. */
export function renderPayloadDocument(payload: AnyPayload): string {
  return payloadJson(payload.kind, payloadDocument(payload));
}

/** SHA-256 (hex) of a text. `node:crypto` is loaded on first use (it slows start-up). */
export async function sha256Hex(text: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(text).digest("hex");
}

/** SHA-256 of a payload's document: its identity, as run manifests record it (`payloadSha256`). */
export function payloadSha256(payload: AnyPayload): Promise<string> {
  return sha256Hex(renderPayloadDocument(payload));
}

export interface LoadPayloadFileOptions {
  /** The kind the program runs; a document of the other kind is `PAYLOAD_KIND_MISMATCH`. */
  readonly kind: PayloadKind;
  /** Where masked secrets are taken from (`TRAINKIT_<SECTION>_<FIELD>`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** When given, the payload's document SHA-256 must equal it (`PAYLOAD_SHA256_MISMATCH`). */
  readonly sha256?: string;
  /** Skip the data-file and model-bundle checks (a payload checked moments ago, e.g. by a planner). */
  readonly skipDataChecks?: boolean;
}

/** A payload read back from its file. */
export interface LoadedPayload<P extends AnyPayload = AnyPayload> {
  readonly payload: P;
  readonly file: string;
  /** The file's text as read. */
  readonly text: string;
  /** The `audit.json` beside the file whose entries became the audit, or null (origin `payload`). */
  readonly auditFile: string | null;
  /** SHA-256 of the payload's document (what the manifest records). */
  readonly sha256: string;
  /** Whether the file's text is the document exactly (then the run directory gets identical bytes). */
  readonly canonical: boolean;
  /** The environment variables that supplied masked secrets. */
  readonly secretVariables: readonly string[];
}

async function readText(path: string, what: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new FactoryError(
      "SOURCE_UNREADABLE",
      `${what} ${path} cannot be read (${code ?? String(error)}).`,
      {
        cause: error,
      },
    );
  }
}

function parseJson(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `${what} ${file} is not valid JSON (${(error as Error).message}).`,
      { cause: error },
    );
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * Reads a payload document (`{ kind, config }`, as `payloadDocument` writes it, normally
 * `<runDir>/payload.json`) and validates every value again through the factory: the schemas, the
 * cross-field rules, and the data files (and, for inference, the model bundle's model section).
 * Masked secrets (`***`) are taken from `TRAINKIT_<SECTION>_<FIELD>` in `env`. With an `audit.json`
 * beside the file (the launcher's `{ audit, warnings, overridesApplied }`), its entries become the
 * payload's audit once each value is checked against the config; without one, every value's origin
 * is the payload file (`{ kind: "payload", file }`).
 *
 * Throws `FactoryError`: `SOURCE_NOT_FOUND`, `SOURCE_UNREADABLE`, `SOURCE_MALFORMED` (not JSON, no
 * config, a foreign section), `PAYLOAD_KIND_MISMATCH`, `PAYLOAD_INCOMPLETE` (a field missing),
 * `SECRET_MISSING`, `AUDIT_MISMATCH`, `PAYLOAD_SHA256_MISMATCH`, `DATA_NOT_FOUND`, `DATA_INVALID`,
 * `MODEL_NOT_FOUND`; and `ConfigError` for a value the schema or a rule refuses.
 */
export async function loadPayloadFile(
  file: string,
  options: LoadPayloadFileOptions & { readonly kind: "training" },
): Promise<LoadedPayload<TrainingPayload>>;
export async function loadPayloadFile(
  file: string,
  options: LoadPayloadFileOptions & { readonly kind: "inference" },
): Promise<LoadedPayload<InferencePayload>>;
export async function loadPayloadFile(file: string, options: LoadPayloadFileOptions): Promise<LoadedPayload>;
export async function loadPayloadFile(file: string, options: LoadPayloadFileOptions): Promise<LoadedPayload> {
  const { kind } = options;
  const text = await readText(file, "Payload file");
  if (text === undefined) throw new FactoryError("SOURCE_NOT_FOUND", `Payload file ${file} does not exist.`);
  const document = parseJson(text, file, "Payload file");
  if (!isRecord(document) || !isRecord(document.config)) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `Payload file ${file} has no "config" object; a payload file is {"kind", "config"} as a run directory's payload.json holds it.`,
    );
  }
  if (document.kind !== kind) {
    const other = kind === "training" ? "trainkit-infer" : "trainkit-train";
    throw new FactoryError(
      "PAYLOAD_KIND_MISMATCH",
      `Payload file ${file} holds ${typeof document.kind === "string" ? `an ${JSON.stringify(document.kind)}` : "no"} payload (kind ${renderValue(document.kind)}), not a ${kind} payload.${document.kind === "training" || document.kind === "inference" ? ` Run it with ${other}.` : ""}`,
    );
  }
  const spec = PAYLOAD_SPECS[kind];
  const origin: Origin = { kind: "payload", file };
  const entries: LayerEntry[] = [];
  const missing: string[] = [];
  const secretVariables: string[] = [];
  const secretIssues: string[] = [];
  for (const name of Object.keys(document.config)) {
    if (!(name in spec.sections)) {
      throw new FactoryError(
        "SOURCE_MALFORMED",
        `Payload file ${file} has a "${name}" section, which a ${kind} payload does not have (sections: ${Object.keys(spec.sections).join(", ")}).`,
      );
    }
  }
  for (const [name, section] of Object.entries(spec.sections)) {
    const values = document.config[name];
    if (!isRecord(values)) {
      missing.push(name);
      continue;
    }
    for (const field of listFields(section.schema)) {
      const path = `${name}.${field.key}`;
      if (!(field.key in values)) {
        missing.push(path);
        continue;
      }
      let value = values[field.key];
      let from: Origin = origin;
      if (field.meta.secret && value === SECRET_MASK) {
        const variable = envVariableOf(name, field.key);
        const raw = options.env[variable];
        if (raw === undefined) {
          secretIssues.push(`${path} (set ${variable})`);
          continue;
        }
        const coerced = coerceFieldValue(field, raw);
        if (!coerced.ok) {
          throw new ConfigError([
            {
              code: "INVALID_VALUE",
              path,
              message: coerced.message,
              hasValue: true,
              value: raw,
              origin: { kind: "env", variable },
              secret: true,
            },
          ]);
        }
        value = coerced.value;
        from = { kind: "env", variable };
        secretVariables.push(variable);
      }
      entries.push({ path, value, origin: from });
    }
    for (const key of Object.keys(values)) {
      if (!listFields(section.schema).some((f) => f.key === key))
        entries.push({ path: `${name}.${key}`, value: values[key], origin });
    }
  }
  if (missing.length > 0) {
    throw new FactoryError(
      "PAYLOAD_INCOMPLETE",
      `Payload file ${file} is not a complete resolved payload: it lacks ${missing.join(", ")}. Run a payload.json written by trainkit (a run directory's, or a study job's), not a config file (use --config for those).`,
    );
  }
  if (secretIssues.length > 0) {
    throw new FactoryError(
      "SECRET_MISSING",
      `Payload file ${file} masks ${secretIssues.length === 1 ? "a secret" : "secrets"} ("***"): ${secretIssues.join(", ")} in the environment to give ${secretIssues.length === 1 ? "its" : "their"} value.`,
    );
  }
  const layer: Layer = { level: "config", entries };
  const resolved = resolvePayload(kind, [layer]);

  const warnings: ConfigWarning[] = [];
  if (!options.skipDataChecks) warnings.push(...(await checkData(resolved, file)));

  const auditFile = join(dirname(file), "audit.json");
  const auditText = await readText(auditFile, "Audit file");
  let payload: AnyPayload = resolved;
  if (auditText !== undefined) {
    const audit = readAuditDocument(auditText, auditFile, resolved, file);
    payload = { ...resolved, ...audit };
  } else {
    payload = { ...resolved, warnings: [...resolved.warnings, ...warnings] };
  }
  const rendered = renderPayloadDocument(payload);
  const sha256 = await sha256Hex(rendered);
  if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256) {
    throw new FactoryError(
      "PAYLOAD_SHA256_MISMATCH",
      `Payload file ${file} has SHA-256 ${sha256}, not the expected ${options.sha256.toLowerCase()}: it is not the payload that was planned (changed since, or another job's).`,
    );
  }
  return {
    payload,
    file,
    text,
    auditFile: auditText !== undefined ? auditFile : null,
    sha256,
    canonical: rendered === text,
    secretVariables,
  };
}

/** The audit.json beside a payload file, checked entry by entry against the payload's values. */
function readAuditDocument(
  text: string,
  auditFile: string,
  payload: AnyPayload,
  file: string,
): Pick<AnyPayload, "audit" | "warnings" | "overridesApplied"> {
  const document = parseJson(text, auditFile, "Audit file");
  const entries = isRecord(document) ? document.audit : undefined;
  if (!isRecord(document) || !Array.isArray(entries)) {
    throw new FactoryError(
      "SOURCE_MALFORMED",
      `Audit file ${auditFile} has no "audit" list; it is not the launcher's audit.json.`,
    );
  }
  const config = payload.config as unknown as Record<string, Record<string, unknown>>;
  const expected = new Map(payload.audit.map((a) => [a.path, a]));
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const raw of entries) {
    const entry = raw as Partial<AuditEntry>;
    if (
      !isRecord(raw) ||
      typeof entry.path !== "string" ||
      !isRecord(entry.origin) ||
      typeof entry.level !== "string"
    ) {
      throw new FactoryError(
        "SOURCE_MALFORMED",
        `Audit file ${auditFile} has an entry that is not {path, value, level, origin, shadowed}.`,
      );
    }
    const mine = expected.get(entry.path);
    if (!mine) {
      problems.push(`${entry.path} is not a ${payload.kind} setting`);
      continue;
    }
    seen.add(entry.path);
    const [section, key] = entry.path.split(".") as [string, string];
    const masked = mine.value === SECRET_MASK;
    const value = masked ? SECRET_MASK : config[section]?.[key];
    if (!same(entry.value, value)) {
      problems.push(
        `${entry.path} is ${renderValue(entry.value)} there but ${renderValue(value)} in the payload`,
      );
    }
  }
  for (const path of expected.keys()) if (!seen.has(path)) problems.push(`${path} has no entry`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).map((p) => `  - ${p}`);
    if (problems.length > 5) shown.push(`  - ... and ${problems.length - 5} more`);
    throw new FactoryError(
      "AUDIT_MISMATCH",
      `Audit file ${auditFile} does not describe the payload ${file}:\n${shown.join("\n")}\nRemove ${basename(auditFile)} (the audit then names the payload file as every value's origin), or write both files again.`,
    );
  }
  const order = new Map(payload.audit.map((a, i) => [a.path, i]));
  const audit = [...(entries as AuditEntry[])].sort((a, b) => order.get(a.path)! - order.get(b.path)!);
  return {
    audit,
    warnings: Array.isArray(document.warnings) ? (document.warnings as ConfigWarning[]) : payload.warnings,
    overridesApplied: isRecord(document.overridesApplied)
      ? (document.overridesApplied as Record<string, unknown>)
      : payload.overridesApplied,
  };
}

/** The data files (and the model bundle of an inference payload) exist and fit the payload. */
async function checkData(payload: AnyPayload, file: string): Promise<ConfigWarning[]> {
  const warnings: ConfigWarning[] = [];
  const origin: Origin = { kind: "payload", file };
  const at = (_path: string) => origin;
  if (payload.kind === "training") {
    const { training, model } = payload.config;
    if (training.trainDataFile)
      warnings.push(
        ...(await checkDataFile(
          training.trainDataFile,
          at("training.trainDataFile"),
          "training.trainDataFile",
          model.modelType,
        )),
      );
    if (training.testDataFile)
      warnings.push(
        ...(await checkDataFile(
          training.testDataFile,
          at("training.testDataFile"),
          "training.testDataFile",
          model.modelType,
        )),
      );
    return warnings;
  }
  const { inference, model } = payload.config;
  const bundle = await loadBundle(inference.modelPath, at("inference.modelPath"));
  const bundleModel = bundleModelSection(bundle);
  const issues: ConfigIssue[] = [];
  for (const [key, value] of Object.entries(bundleModel)) {
    const mine = (model as unknown as Record<string, unknown>)[key];
    if (!same(mine, value)) {
      issues.push({
        code: "CONFLICT",
        path: `model.${key}`,
        message: `disagrees with the model bundle ${bundle.file}, which was trained with ${renderValue(value)}`,
        hasValue: true,
        value: mine,
        hint: "The payload does not describe this model: plan it again.",
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  warnings.push(
    ...(await checkDataFile(
      inference.testDataFile,
      at("inference.testDataFile"),
      "inference.testDataFile",
      model.modelType,
    )),
  );
  return warnings;
}
