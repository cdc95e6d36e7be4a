import { METRIC_NAMES, sortRows } from "../statistics.ts";
import type { AxisValue, ResultRow } from "../types.ts";
import { METRIC_COLUMNS } from "./format.ts";

/** A field quoted as RFC 4180 asks: when it holds a comma, a double quote, CR or LF. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A cell: empty for null (and for an axis the job does not have); NaN/inf/-inf as pandas reads them. */
function cell(value: AxisValue | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  }
  return String(value);
}

/**
 * The text of results.csv: a header, then one row per job in index order, with a column per axis
 * (in the order given) between `name` and `repeat`. Empty cells for null; RFC 4180 quoting; `\n`
 * line ends.
 */
export function resultsCsv(rows: readonly ResultRow[], axes: readonly string[]): string {
  const header = [
    "index",
    "label",
    "name",
    ...axes,
    "repeat",
    "fold",
    "status",
    "attempts",
    "exit_code",
    "duration_s",
    ...METRIC_NAMES.map((m) => METRIC_COLUMNS[m]),
    "run_dir",
    "payload_sha256",
  ];
  const lines = [header.map(csvField).join(",")];
  for (const row of sortRows(rows)) {
    const cells = [
      cell(row.index),
      cell(row.label),
      cell(row.name),
      ...axes.map((axis) => cell(Object.hasOwn(row.axes, axis) ? row.axes[axis] : undefined)),
      cell(row.repeat),
      cell(row.fold),
      cell(row.status),
      cell(row.attempts),
      cell(row.exitCode),
      cell(row.durationSeconds),
      ...METRIC_NAMES.map((m) => cell(row.metrics[m])),
      cell(row.runDir),
      cell(row.payloadSha256),
    ];
    lines.push(cells.map(csvField).join(","));
  }
  return `${lines.join("\n")}\n`;
}
