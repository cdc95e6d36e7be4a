import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { StudyError } from "./errors.ts";
import { JOB_STATUSES, type JobEvent, type JobStatus } from "./types.ts";

export const JOURNAL_FORMAT = "trainkit-study/1";

/** One line of `study.jsonl`. */
export type JournalEvent =
  | {
      readonly type: "planned";
      readonly format: typeof JOURNAL_FORMAT;
      readonly study: string;
      readonly specSha256: string;
      readonly jobs: number;
      readonly executor: string;
      readonly time: string;
    }
  | ({ readonly type: "job" } & JobEvent & { readonly reason?: string })
  | {
      readonly type: "retrying";
      readonly index: number;
      readonly attempt: number;
      readonly delaySeconds: number;
      readonly time: string;
    }
  | { readonly type: "finished"; readonly time: string; readonly counts: Readonly<Record<string, number>> }
  | { readonly type: "note"; readonly time: string; readonly message: string };

export function journalPath(studyDir: string): string {
  return join(studyDir, "study.jsonl");
}

/** Appends events, each on its own line, fsynced before returning. */
export class Journal {
  private readonly fd: number;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, "a");
  }

  append(event: JournalEvent): void {
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Reads a journal. A torn last line (a crash mid-write) is ignored; anything else that is not a
 * journal event is `JOURNAL_CORRUPT`; a file whose first line is not ours is `JOURNAL_FOREIGN`.
 */
export function readJournal(path: string): JournalEvent[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StudyError(
      "JOURNAL_CORRUPT",
      `${path} cannot be read (${(error as NodeJS.ErrnoException).code}).`,
    );
  }
  const lines = text.split("\n");
  const complete = text.endsWith("\n") ? lines.slice(0, -1) : lines.slice(0, -1);
  const events: JournalEvent[] = [];
  complete.forEach((line, i) => {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw new StudyError(
        "JOURNAL_CORRUPT",
        `${path}:${i + 1}: not a JSON event; the journal is damaged (move it away to start over).`,
      );
    }
    const type = (event as { type?: unknown } | null)?.type;
    if (i === 0 && (type !== "planned" || (event as { format?: unknown }).format !== JOURNAL_FORMAT)) {
      throw new StudyError(
        "JOURNAL_FOREIGN",
        `${path} is not a trainkit study journal (its first line is not a "planned" event of ${JOURNAL_FORMAT}).`,
      );
    }
    if (type === "job" && !JOB_STATUSES.includes((event as { status: JobStatus }).status)) {
      throw new StudyError(
        "JOURNAL_CORRUPT",
        `${path}:${i + 1}: unknown job status ${JSON.stringify((event as { status: unknown }).status)}.`,
      );
    }
    if (!["planned", "job", "retrying", "finished", "note"].includes(String(type))) {
      throw new StudyError(
        "JOURNAL_CORRUPT",
        `${path}:${i + 1}: unknown event type ${JSON.stringify(type)}.`,
      );
    }
    events.push(event as JournalEvent);
  });
  return events;
}

/** What the journal says of each job: its last state and how many attempts it has had. */
export interface JournalJobState {
  readonly status: JobStatus;
  readonly attempts: number;
  readonly exitCode: number | null;
  readonly executorId?: string;
  readonly message?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
}

/** Folds a journal into each job's last state (by index). */
export function foldJournal(events: readonly JournalEvent[]): Map<number, JournalJobState> {
  const state = new Map<number, JournalJobState>();
  for (const e of events) {
    if (e.type !== "job") continue;
    const before = state.get(e.index);
    state.set(e.index, {
      status: e.status,
      attempts: Math.max(before?.attempts ?? 0, e.attempt),
      exitCode: e.exitCode ?? before?.exitCode ?? null,
      ...(e.executorId
        ? { executorId: e.executorId }
        : before?.executorId
          ? { executorId: before.executorId }
          : {}),
      ...(e.message ? { message: e.message } : {}),
      ...(e.status === "running"
        ? { startedAt: e.time }
        : before?.startedAt
          ? { startedAt: before.startedAt }
          : {}),
      ...(e.status !== "running" && e.status !== "pending" ? { endedAt: e.time } : {}),
    });
  }
  return state;
}
