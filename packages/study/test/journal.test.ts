import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isStudyError } from "../src/errors.ts";
import { foldJournal, JOURNAL_FORMAT, Journal, readJournal } from "../src/journal.ts";
import { tempDir } from "./helpers.ts";

const planned = {
  type: "planned",
  format: JOURNAL_FORMAT,
  study: "s",
  specSha256: "x",
  jobs: 2,
  executor: "local",
  time: "t",
};

describe("readJournal", () => {
  it("reads what Journal appended and folds it into each job's last state", () => {
    const path = join(tempDir(), "study.jsonl");
    const journal = new Journal(path);
    journal.append(planned as never);
    journal.append({ type: "job", index: 0, status: "running", attempt: 1, executorId: "42", time: "a" });
    journal.append({ type: "job", index: 0, status: "failed", attempt: 1, exitCode: 3, time: "b" });
    journal.append({ type: "job", index: 0, status: "running", attempt: 2, time: "c" });
    journal.close();
    const state = foldJournal(readJournal(path)!);
    expect(state.get(0)).toMatchObject({
      status: "running",
      attempts: 2,
      exitCode: 3,
      executorId: "42",
      startedAt: "c",
    });
  });

  it("ignores a torn last line (a crash mid-write)", () => {
    const path = join(tempDir(), "study.jsonl");
    writeFileSync(path, `${JSON.stringify(planned)}\n{"type":"job","index":0,"sta`);
    expect(readJournal(path)).toHaveLength(1);
  });

  it("refuses a damaged line in the middle, and a file that is not a study journal", () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "a.jsonl"),
      `${JSON.stringify(planned)}\nnot json\n{"type":"finished","time":"t","counts":{}}\n`,
    );
    const corrupt = (() => {
      try {
        readJournal(join(dir, "a.jsonl"));
      } catch (e) {
        return e;
      }
    })();
    expect(isStudyError(corrupt, "JOURNAL_CORRUPT")).toBe(true);
    expect((corrupt as Error).message).toContain("a.jsonl:2: not a JSON event");
    writeFileSync(join(dir, "b.jsonl"), '{"hello":"world"}\n');
    expect(() => readJournal(join(dir, "b.jsonl"))).toThrow(/is not a trainkit study journal/);
    writeFileSync(
      join(dir, "c.jsonl"),
      `${JSON.stringify(planned)}\n{"type":"job","index":0,"status":"exploded","attempt":1,"time":"t"}\n`,
    );
    expect(() => readJournal(join(dir, "c.jsonl"))).toThrow(/unknown job status "exploded"/);
  });
});
