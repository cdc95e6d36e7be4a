import { Writable } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { createProgress } from "../../src/loop/progress.ts";
import { caught } from "./helpers.ts";

/** A non-TTY stream that records what is written. */
function recorder(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("createProgress", () => {
  it("draws epoch, step, loss and ETA when enabled and forced on a non-terminal stream", () => {
    const out = recorder();
    const stdout = vi.spyOn(process.stdout, "write");
    try {
      const p = createProgress({
        enabled: true,
        nepochs: 2,
        stepsPerEpoch: 4,
        stream: out.stream,
        forceOutput: true,
      });
      p.startEpoch(0);
      for (let s = 1; s <= 4; s++) p.update(s, { loss: 1 / s });
      p.startEpoch(1);
      p.update(2, { loss: 0.125 });
      p.stop();
      p.stop();
      expect(stdout).not.toHaveBeenCalled();
    } finally {
      stdout.mockRestore();
    }
    const lines = out
      .text()
      .split("\n")
      .filter((l) => l.trim() !== "");
    expect(lines[0]).toMatch(/^epoch 1\/2 \|-+\| step 0\/4 \| loss - \| ETA /);
    expect(lines.at(-1)).toMatch(/^epoch 2\/2 \|=+-+\| step 2\/4 \| loss 0\.1250 \| ETA \S+$/);
  });

  it("writes nothing to a non-terminal stream unless forced", () => {
    const out = recorder();
    const p = createProgress({ enabled: true, nepochs: 1, stepsPerEpoch: 2, stream: out.stream });
    p.startEpoch(0);
    p.update(1, { loss: 1 });
    p.stop();
    expect(out.text()).toBe("");
  });

  it("is a no-op when disabled, whatever the stream", () => {
    const out = recorder();
    const p = createProgress({
      enabled: false,
      nepochs: 1,
      stepsPerEpoch: 2,
      stream: out.stream,
      forceOutput: true,
    });
    p.startEpoch(0);
    p.update(1, { loss: 1 });
    p.stop();
    expect(p.enabled).toBe(false);
    expect(out.text()).toBe("");
  });

  it("rejects a non-positive step count", async () => {
    const error = await caught(() => createProgress({ enabled: true, nepochs: 1, stepsPerEpoch: 0 }));
    expect(isLoopError(error, "INVALID_OPTION")).toBe(true);
    expect((error as Error).message).toBe("progress: stepsPerEpoch must be a positive integer, got 0.");
  });
});
