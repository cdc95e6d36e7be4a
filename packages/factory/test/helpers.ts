import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { saveNpz, writeModelBundle } from "@trainkit/data";
import type { RunEnvironment } from "../src/index.ts";

export const CPU_PIPE: RunEnvironment = {
  accelerator: "cpu",
  acceleratorReason: "auto: no GPU found",
  isTTY: false,
};

export function tempDir(prefix = "trainkit-factory-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a small dataset that follows the PtychoPINN data contract (values are not physical). */
export async function writeDataset(
  path: string,
  options: {
    N?: number;
    M?: number;
    nphotons?: number;
    probeShape?: [number, number];
    diff3d?: boolean;
  } = {},
): Promise<string> {
  const N = options.N ?? 64;
  const M = options.M ?? 4;
  const [pr, pc] = options.probeShape ?? [N, N];
  const diffraction = new Float32Array(M * N * N).fill(0.5);
  await saveNpz(
    path,
    {
      [options.diff3d ? "diff3d" : "diffraction"]: { dtype: "f4", shape: [M, N, N], data: diffraction },
      probeGuess: { dtype: "c8", shape: [pr, pc], data: new Float32Array(pr * pc * 2).fill(1) },
      objectGuess: { dtype: "c8", shape: [N * 2, N * 2], data: new Float32Array(N * N * 8).fill(1) },
      xcoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 40 + i) },
      ycoords: { dtype: "f8", shape: [M], data: Float64Array.from({ length: M }, (_, i) => 40 + i) },
    },
    options.nphotons === undefined
      ? {}
      : { metadata: { physics_parameters: { nphotons: options.nphotons } } },
  );
  return path;
}

/** Writes a model bundle as training would: a training payload with a model section. */
export async function writeBundle(dir: string, model: Record<string, unknown>): Promise<string> {
  const path = join(dir, "model.zip");
  await writeModelBundle(path, {
    backend: "embedded",
    packages: { "@trainkit/engine": "0.0.0" },
    payload: { kind: "training", config: { model, training: {}, execution: {} } },
    legacyParams: {},
    weights: { "weights.npz": new Uint8Array([1, 2, 3]) },
  });
  return path;
}
