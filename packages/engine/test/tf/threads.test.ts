import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const probe = join(import.meta.dirname, "../fixtures/threads-probe.ts");

function step(threads: number): { backend: string; threads: number; hash: string } {
  const out = execFileSync(
    process.execPath,
    ["--conditions=@trainkit/source", "--import", "tsx", probe, String(threads)],
    { encoding: "utf8", timeout: 60_000 },
  );
  return JSON.parse(out);
}

describe("wasm threads", () => {
  it("runs XNNPACK on two threads and gives byte-identical gradients to one thread", () => {
    const one = step(1);
    const two = step(2);
    expect(one).toMatchObject({ backend: "wasm", threads: 1 });
    expect(two).toMatchObject({ backend: "wasm", threads: 2 });
    expect(two.hash).toBe(one.hash);
  }, 120_000);
});
