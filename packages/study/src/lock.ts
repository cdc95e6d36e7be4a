import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { StudyError } from "./errors.ts";

interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `<studyDir>/.lock` for this process: a live orchestrator's lock refuses (`STUDY_LOCKED`), a
 * dead one's is taken over (the returned warning says so). Returns a release function.
 */
export function acquireLock(studyDir: string): { release: () => void; warning?: string } {
  const path = join(studyDir, ".lock");
  const mine: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let warning: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(mine)}\n`, { flag: "wx" });
      return { release: () => rmSync(path, { force: true }), ...(warning ? { warning } : {}) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let held: LockInfo | undefined;
    try {
      held = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
    } catch {
      held = undefined;
    }
    if (held && held.host !== mine.host) {
      throw new StudyError(
        "STUDY_LOCKED",
        `${studyDir} is locked by process ${held.pid} on ${held.host} (since ${held.since}). If no orchestrator runs there any more, remove ${path}.`,
      );
    }
    if (held && alive(held.pid)) {
      throw new StudyError(
        "STUDY_LOCKED",
        `${studyDir} is being run by process ${held.pid} (since ${held.since}); one orchestrator at a time. Watch it with trainkit-study status ${studyDir}.`,
      );
    }
    warning = `took over the lock of process ${held?.pid ?? "?"}, which is no longer running`;
    rmSync(path, { force: true });
  }
  throw new StudyError("STUDY_LOCKED", `${studyDir}: could not take the lock ${path}.`);
}
