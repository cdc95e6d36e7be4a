// Loss and gradients of the wasm engine, pinned to the bytes the engine computed before its speed
// work (issue 16): every speed change must keep them (fixtures/step-bytes.json, SHA-256 per
// gradient). Regenerate only for an intended change of the arithmetic, and say so in the changeset.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Tensor } from "@tensorflow/tfjs";
import { MODEL_DEFAULTS, type ModelConfig } from "@trainkit/training-config";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import { createPtychoModel } from "../../src/tf/model.ts";
import { lossAndGradients } from "../../src/tf/step.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { diskProbe, randomArray } from "./helpers.ts";

const FIXTURE = join(import.meta.dirname, "../fixtures/step-bytes.json");

export const PINNED_VARIANTS: Readonly<Record<string, Partial<ModelConfig>>> = {
  default: {},
  gridsize2: { gridsize: 2 },
  fullDecoder: { padObject: false, ampActivation: "swish" },
};

/** SHA-256 of the loss (float64) and of each gradient (float32 bytes) for one small batch. */
export function stepBytes(variant: Partial<ModelConfig>): Record<string, string> {
  const n = 32;
  const config = { ...MODEL_DEFAULTS, nFiltersScale: 1, ...variant, N: n as ModelConfig["N"] };
  const c = config.gridsize ** 2;
  const batch = 4;
  const model = createPtychoModel(
    { model: config, training: { nphotons: 1e3, probeTrainable: true, intensityScaleTrainable: true } },
    diskProbe(n),
    3,
  );
  const shape: [number, number, number, number] = [batch, n, n, c];
  const size = batch * n * n * c;
  const tensors: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => {
    tensors.push(t);
    return t;
  };
  const r = lossAndGradients(
    model,
    {
      diffraction: keep(tf.tensor4d(randomArray(size, 4, 0, 0.3), shape)),
      offsets:
        c > 1
          ? { data: Array.from({ length: batch * c * 2 }, (_, i) => (i * 7) % 11), shape: [batch, c, 2] }
          : undefined,
      groundTruth: {
        re: keep(tf.tensor4d(randomArray(size, 5, 0.5, 1), shape)),
        im: keep(tf.tensor4d(randomArray(size, 6, -0.3, 0.3), shape)),
      },
    },
    { nllWeight: 1, maeWeight: 0.5, realspaceWeight: 1, realspaceMaeWeight: 0.3 },
  );
  const hash = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
  const out: Record<string, string> = { loss: hash(new Uint8Array(new Float64Array([r.loss]).buffer)) };
  for (const [name, g] of r.grads) out[name] = hash(new Uint8Array((g.dataSync() as Float32Array).buffer));
  tf.dispose([...r.grads.values(), ...tensors]);
  model.dispose();
  return out;
}

beforeAll(async () => {
  await initBackend("wasm");
});

describe("lossAndGradients (wasm)", () => {
  const pinned = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, Record<string, string>>;
  for (const [name, variant] of Object.entries(PINNED_VARIANTS)) {
    it(`gives the pinned loss and gradient bytes (${name})`, () => {
      expect(stepBytes(variant)).toEqual(pinned[name]);
    });
  }
});
