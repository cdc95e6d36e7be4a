// The engine's model bundle: which member holds the weights, what its payload holds, and how the
// engine writes and reads them (no TensorFlow.js here: the preflight uses it too).
import { type ModelBundle, writeModelBundle } from "@trainkit/data";
import { ENGINE_VERSION } from "./capabilities.ts";
import type { TrainingSections } from "./run-context.ts";
import { decodeWeights, type EncodedState, encodeWeights, type NamedArray, WEIGHTS_FILE } from "./state.ts";

/** The weight file the engine writes and reads inside a bundle: an `.npz` (see `state.ts`). */
export const WEIGHTS_MEMBER = `weights/${WEIGHTS_FILE}`;

/** What the trained model's bundle records besides its weights. */
export interface TrainedBundleInput {
  /** The training payload's sections. */
  readonly config: TrainingSections;
  /** The payload's legacy dictionary (the intensity scale is added). */
  readonly legacy: Readonly<Record<string, unknown>>;
  /** The run's facts, kept in the bundle's payload as `engine`. */
  readonly details: Readonly<Record<string, unknown>>;
  readonly intensityScale: number;
  readonly arrays: readonly NamedArray[];
  /** Small state read back with the weights (the initial intensity scale, the data's mean intensity). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** Writes the model bundle of a finished training run to `path`. */
export async function writeTrainedBundle(path: string, input: TrainedBundleInput): Promise<void> {
  await writeModelBundle(path, {
    backend: "embedded",
    packages: { "@trainkit/engine": ENGINE_VERSION },
    payload: { kind: "training", config: input.config, engine: input.details },
    legacyParams: { ...input.legacy, intensity_scale: input.intensityScale },
    weights: {
      [WEIGHTS_FILE]: await encodeWeights({ arrays: input.arrays, meta: input.meta }),
    },
  });
}

/** The training sections a bundle's payload holds (the preflight checked them against the model). */
export function trainedSections(bundle: ModelBundle): TrainingSections {
  return (bundle.payload as { config: TrainingSections }).config;
}

/** The weights of a bundle read with its weights. */
export function bundleWeights(bundle: ModelBundle): Promise<EncodedState> {
  const bytes = bundle.weights.get(WEIGHTS_MEMBER);
  if (!bytes)
    throw new Error(`${bundle.file} has no ${WEIGHTS_MEMBER}; was it written by the embedded engine?`);
  return decodeWeights(bytes, `${bundle.file}:${WEIGHTS_MEMBER}`);
}
