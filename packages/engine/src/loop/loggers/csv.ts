// The CSV logger: `metrics.csv` as Lightning's `CSVLogger` writes it.
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { checkLogArgs, closedError, type MetricsLogger, writeAtomicSync } from "./metrics-logger.ts";

/** A number as Python's `str(float)` writes it where it matters (nan, inf). */
function csvNumber(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  return String(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Lightning's CSV `ExperimentWriter`: the columns are every key seen, sorted; a row leaves unknown
 * cells empty; when a new key appears the whole file is rewritten with the new header.
 */
export function csvLogger(versionDir: string): MetricsLogger {
  const file = join(versionDir, "metrics.csv");
  let columns: string[] = [];
  const rows: Record<string, string>[] = [];
  let closed = false;
  const line = (row: Record<string, string>): string =>
    `${columns.map((c) => csvField(row[c] ?? "")).join(",")}\n`;
  return {
    kind: "csv",
    versionDir,
    log(metrics, step, epoch) {
      if (closed) throw closedError("csv");
      checkLogArgs(step, epoch);
      const row: Record<string, string> = {};
      for (const [k, v] of Object.entries(metrics)) row[k] = csvNumber(v);
      row.epoch = String(epoch);
      row.step = String(step);
      rows.push(row);
      const fresh = Object.keys(row).filter((k) => !columns.includes(k));
      if (fresh.length > 0) {
        columns = [...columns, ...fresh].sort();
        const header = `${columns.map(csvField).join(",")}\n`;
        writeAtomicSync(file, header + rows.map(line).join(""));
      } else {
        const fd = openSync(file, "a");
        try {
          writeSync(fd, line(row));
        } finally {
          closeSync(fd);
        }
      }
    },
    close() {
      closed = true;
    },
  };
}
