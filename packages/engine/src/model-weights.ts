// Model weights as named arrays, the form in which bundles and checkpoints hold them, and the model
// a bundle describes, built and given its weights (for inference).
import type { ModelBundle } from "@trainkit/data";
import { bundleWeights, trainedSections } from "./bundle.ts";
import type { ScanData } from "./dataset.ts";
import type { NamedArray } from "./state.ts";
import { createPtychoModel, type PtychoModel } from "./tf/model.ts";
import { tf } from "./tf/tfjs.ts";

/** Model weights as named arrays (the bundle's and the checkpoints' format). */
export function modelArrays(model: PtychoModel): NamedArray[] {
  return model.variables.map((v) => ({
    name: v.name,
    shape: v.variable.shape,
    data: v.variable.dataSync() as Float32Array,
  }));
}

/** Assigns saved arrays to a model's variables, checking names and shapes. */
export function loadModelArrays(model: PtychoModel, arrays: readonly NamedArray[], what: string): void {
  const byName = new Map(arrays.map((a) => [a.name, a]));
  for (const v of model.variables) {
    const saved = byName.get(v.name);
    if (!saved || saved.data.length !== v.variable.size) {
      throw new Error(
        `${what} does not fit this model (variable ${v.name}); was it written by another model configuration?`,
      );
    }
    v.variable.assign(tf.tensor(saved.data, v.variable.shape));
  }
}

/**
 * The model of a bundle for `probe`: its trained weights, or (`initial`) the weights its training
 * started from, drawn again from the training seed (a baseline). `seed` seeds a trained model's
 * construction (its weights are then replaced).
 */
export async function bundleModel(
  bundle: ModelBundle,
  probe: ScanData["probe"],
  seed: number,
  weights: "trained" | "initial",
): Promise<PtychoModel> {
  const trained = trainedSections(bundle);
  const state = await bundleWeights(bundle);
  const initial = weights === "initial";
  const model = createPtychoModel(
    { model: trained.model, training: trained.training },
    probe,
    initial ? trained.execution.seed : seed,
    {
      intensityScale: state.meta.intensityScale as number,
      meanTotalIntensity: state.meta.meanTotalIntensity as number | undefined,
    },
  );
  if (!initial) loadModelArrays(model, state.arrays, bundle.file);
  return model;
}
