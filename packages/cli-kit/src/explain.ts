import { closestName, renderValue } from "@trainkit/config-meta";
import { type AnyPayload, type AuditEntry, describeOrigin } from "@trainkit/factory";
import { UsageError } from "./errors.ts";

/** The audit entries `--explain [PATH]` shows: all, one field, or a whole section. */
export function selectAudit(payload: AnyPayload, path: string | true): readonly AuditEntry[] {
  if (path === true) return payload.audit;
  const exact = payload.audit.filter((a) => a.path === path || a.path.startsWith(`${path}.`));
  if (exact.length > 0) return exact;
  const best = closestName(
    path,
    payload.audit.map((a) => a.path),
  );
  throw new UsageError(`--explain ${path}: no such setting.${best ? ` Did you mean ${best}?` : ""}`);
}

/** `training.batchSize = 32` with the level, origin and every shadowed value under it. */
export function renderExplain(entries: readonly AuditEntry[]): string {
  const lines: string[] = [];
  for (const entry of entries) {
    lines.push(`${entry.path} = ${renderValue(entry.value)}`);
    lines.push(`    ${"from".padEnd(9)}${entry.level.padEnd(10)}${describeOrigin(entry.origin)}`);
    for (const [i, s] of entry.shadowed.entries()) {
      lines.push(
        `    ${(i === 0 ? "shadows" : "").padEnd(9)}${s.level.padEnd(10)}${describeOrigin(s.origin)}: ${renderValue(s.value)}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
