// The TensorBoard logger: an `events.out.tfevents.*` file as Lightning's `TensorBoardLogger` writes it.
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { checkLogArgs, closedError, type MetricsLogger } from "./metrics-logger.ts";
import { encodeEvent, tfRecord } from "./tfrecord.ts";

export function tensorboardLogger(versionDir: string): MetricsLogger {
  const now = Date.now() / 1000;
  const file = join(versionDir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
  const fd = openSync(file, "a");
  writeSync(fd, tfRecord(encodeEvent({ wallTime: now, step: 0, fileVersion: "brain.Event:2" })));
  let closed = false;
  return {
    kind: "tensorboard",
    versionDir,
    log(metrics, step, epoch) {
      if (closed) throw closedError("tensorboard");
      checkLogArgs(step, epoch);
      const scalars = { ...metrics, epoch };
      writeSync(fd, tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step, scalars })));
    },
    close() {
      if (closed) return;
      closed = true;
      fsyncSync(fd);
      closeSync(fd);
    },
  };
}
