import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Layer, resolvePayload, type TrainingPayload } from "@trainkit/factory";
import { describe, expect, it } from "vitest";
import {
  type Backend,
  checkCapabilities,
  isLaunchError,
  launch,
  only,
  type RunContext,
  sha256,
} from "../src/index.ts";

const io = { stdout: () => {}, stderr: () => {} };

function payloadFor(outputDir: string, extra: Record<string, unknown> = {}): TrainingPayload {
  const layer: Layer = {
    level: "override",
    entries: Object.entries({
      "training.trainDataFile": "train.npz",
      "training.nGroups": 8,
      "training.outputDir": outputDir,
      ...extra,
    }).map(([path, value]) => ({ path, value, origin: { kind: "cli", token: `--${path} ${value}` } })),
  };
  return resolvePayload("training", [layer]);
}

/** A small real backend: writes a result file, or waits for Ctrl-C, or fails. */
function fakeBackend(behaviour: "succeed" | "wait" | "fail" | "throw"): Backend & { contexts: RunContext[] } {
  const contexts: RunContext[] = [];
  return {
    name: "fake",
    description: "test backend",
    contexts,
    capabilities: () => [only("model.gridsize", [1, 2], "Use another backend.")],
    async run(context) {
      contexts.push(context);
      if (behaviour === "throw") throw new Error("boom");
      if (behaviour === "fail") return { status: "failed", message: "loss became NaN" };
      if (behaviour === "wait") {
        await new Promise<void>((resolve) =>
          context.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        writeFileSync(join(context.runDir, "last.ckpt"), "checkpoint");
        return { status: "interrupted" };
      }
      writeFileSync(join(context.runDir, "result.txt"), String(context.payload.config.execution.seed));
      return { status: "succeeded", details: { engine: "fake" }, outputs: { result: "result.txt" } };
    },
  };
}

const fresh = async () => join(await mkdtemp(join(tmpdir(), "trainkit-launch-")), "run");

describe("launch", () => {
  it("writes payload, audit, legacy params and manifest, runs the backend, and records success", async () => {
    const dir = await fresh();
    const payload = payloadFor(dir, {
      "execution.mlflowTrackingUri": "https://u:s3cret@x",
      "execution.logger": "mlflow",
    });
    const outcome = await launch({
      payload,
      backend: fakeBackend("succeed"),
      argv: ["--n-groups", "8"],
      envVariables: ["TRAINKIT_EXECUTION_SEED"],
      io,
    });
    expect(outcome.exitCode).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([
      "audit.json",
      "legacy-params.json",
      "manifest.json",
      "payload.json",
      "result.txt",
    ]);
    const payloadText = readFileSync(join(dir, "payload.json"), "utf8");
    expect(payloadText).not.toContain("s3cret");
    expect(JSON.parse(payloadText).config.execution.mlflowTrackingUri).toBe("***");
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({
      kind: "training",
      backend: "fake",
      argv: ["--n-groups", "8"],
      envVariables: ["TRAINKIT_EXECUTION_SEED"],
      payloadSha256: await sha256(payloadText),
      status: "succeeded",
      exitCode: 0,
      details: { engine: "fake" },
    });
    expect(manifest.packages).toHaveProperty("@trainkit/launcher");
    expect(Date.parse(manifest.endedAt)).toBeGreaterThanOrEqual(Date.parse(manifest.startedAt));
    expect(JSON.parse(readFileSync(join(dir, "legacy-params.json"), "utf8"))).toMatchObject({ n_groups: 8 });
    expect(JSON.parse(readFileSync(join(dir, "audit.json"), "utf8")).audit).toHaveLength(
      payload.audit.length,
    );
  });

  it("checks the capabilities once when the caller checked them already", async () => {
    const dir = await fresh();
    const payload = payloadFor(dir);
    let asked = 0;
    const backend = fakeBackend("succeed");
    const counting: Backend = {
      ...backend,
      capabilities: (options, p) => {
        asked++;
        return backend.capabilities(options, p);
      },
    };
    const checkedCapabilities = await checkCapabilities(payload, counting);
    const outcome = await launch({
      payload,
      backend: counting,
      argv: [],
      envVariables: [],
      io,
      checkedCapabilities,
    });
    expect([outcome.exitCode, asked]).toEqual([0, 1]);
    // Without the caller's result, launch checks them itself.
    await launch({ payload: payloadFor(await fresh()), backend: counting, argv: [], envVariables: [], io });
    expect(asked).toBe(2);
  });

  it("lists every unsupported setting with its origin and writes nothing", async () => {
    const dir = await fresh();
    const payload = payloadFor(dir, { "model.gridsize": 3 });
    const error = await launch({
      payload,
      backend: fakeBackend("succeed"),
      argv: [],
      envVariables: [],
      io,
    }).catch((e: unknown) => e);
    expect(isLaunchError(error, "UNSUPPORTED_SETTINGS")).toBe(true);
    expect((error as Error).message).toBe(
      'The fake backend cannot honour 1 setting:\n  - model.gridsize = 3 (from "--model.gridsize 3" on the command line): supported 1 or 2. Use another backend.',
    );
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses a non-empty run directory unless --overwrite, which wipes it first", async () => {
    const dir = await fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, "old.txt"), "old");
    const error = await launch({
      payload: payloadFor(dir),
      backend: fakeBackend("succeed"),
      argv: [],
      envVariables: [],
      io,
    }).catch((e: unknown) => e);
    expect(isLaunchError(error, "RUN_DIR_NOT_EMPTY")).toBe(true);
    expect(readdirSync(dir)).toEqual(["old.txt"]);
    await launch({
      payload: payloadFor(dir),
      backend: fakeBackend("succeed"),
      argv: [],
      envVariables: [],
      io,
      overwrite: true,
    });
    expect(existsSync(join(dir, "old.txt"))).toBe(false);
  });

  it("resumes only a directory that holds a run, and tells the backend to resume", async () => {
    const dir = await fresh();
    const nothing = await launch({
      payload: payloadFor(dir),
      backend: fakeBackend("succeed"),
      argv: [],
      envVariables: [],
      io,
      resume: true,
    }).catch((e: unknown) => e);
    expect(isLaunchError(nothing, "NOTHING_TO_RESUME")).toBe(true);
    await launch({
      payload: payloadFor(dir),
      backend: fakeBackend("succeed"),
      argv: [],
      envVariables: [],
      io,
    });
    const backend = fakeBackend("succeed");
    const outcome = await launch({
      payload: payloadFor(dir, { "training.nepochs": 9 }),
      backend,
      argv: [],
      envVariables: [],
      io,
      resume: true,
    });
    expect(backend.contexts[0]?.resume).toBe(true);
    expect(outcome.manifest.resumedFrom).toMatch(/^[0-9a-f]{64}$/);
  });

  it("marks a run interrupted by Ctrl-C with exit code 130 and keeps its checkpoint", async () => {
    const dir = await fresh();
    const controller = new AbortController();
    const running = launch({
      payload: payloadFor(dir),
      backend: fakeBackend("wait"),
      argv: [],
      envVariables: [],
      io,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    const outcome = await running;
    expect(outcome.exitCode).toBe(130);
    expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"))).toMatchObject({
      status: "interrupted",
      exitCode: 130,
    });
    expect(existsSync(join(dir, "last.ckpt"))).toBe(true);
  });

  it.each([
    ["fail", "loss became NaN"],
    ["throw", "The fake backend failed: boom"],
  ] as const)("records a run that fails (%s) with exit code 1", async (behaviour, message) => {
    const dir = await fresh();
    const outcome = await launch({
      payload: payloadFor(dir),
      backend: fakeBackend(behaviour),
      argv: [],
      envVariables: [],
      io,
    });
    expect(outcome.exitCode).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"))).toMatchObject({
      status: "failed",
      exitCode: 1,
      message,
    });
  });
});
