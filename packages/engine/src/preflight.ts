// What the embedded engine checks before a run starts, without TensorFlow.js: the values of the data
// files (NaN, infinity, negative amplitudes, bad metadata) and, for inference, the model bundle's
// integrity (CRC-32 of each member read, size and SHA-256 of the weights) and that its weights
// decode, are finite and have the names and shapes of the model its payload describes. A problem is a `DataError` (exit code 2, nothing written).
import { assertDataValues, DataError, type DataModelType, readModelBundle } from "@trainkit/data";
import { WEIGHTS_MEMBER } from "./bundle.ts";
import type { InferenceSections, TrainingSections } from "./run-context.ts";
import { modelVariableShapes, SHAPE_FIELDS, type ShapeConfig } from "./shapes.ts";
import { decodeWeights, type EncodedState } from "./state.ts";

/** The payload a preflight reads (structurally the factory's `AnyPayload`). */
type PreflightPayload =
  | { readonly kind: "training"; readonly config: TrainingSections }
  | { readonly kind: "inference"; readonly config: InferenceSections };

function badWeights(file: string, why: string, cause?: unknown): DataError {
  return new DataError("BAD_BUNDLE", `${file} is not a valid trainkit model bundle: ${why}.`, {
    file,
    key: WEIGHTS_MEMBER,
    cause,
  });
}

const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/** The weights must be those of `model`: the same variables, each with its shape. */
function checkShapes(
  file: string,
  model: ShapeConfig,
  arrays: readonly { name: string; shape: readonly number[] }[],
) {
  const described = SHAPE_FIELDS.map((k) => `model.${k} ${String(model[k])}`).join(", ");
  const misfit = (what: string) =>
    badWeights(
      file,
      `${WEIGHTS_MEMBER} does not fit the model its payload.json describes (${described}): ${what}: the weights come from another model, or the bundle was edited`,
    );
  const expected = modelVariableShapes(model);
  const saved = new Map(arrays.map((a) => [a.name, a]));
  for (const v of expected) {
    const array = saved.get(v.name);
    if (!array) throw misfit(`it has no ${v.name}`);
    if (shapeText(array.shape) !== shapeText(v.shape))
      throw misfit(`${v.name} has shape ${shapeText(array.shape)}, the model needs ${shapeText(v.shape)}`);
  }
  const names = new Set(expected.map((v) => v.name));
  const extra = arrays.find((a) => !names.has(a.name));
  if (extra) throw misfit(`it holds ${extra.name}, which the model does not have`);
}

/**
 * Reads and checks a bundle's weights: present, decodable, finite and, given the model config the
 * run will build, with exactly that model's variables and shapes.
 */
export async function checkBundleWeights(modelPath: string, model?: ShapeConfig): Promise<void> {
  const bundle = await readModelBundle(modelPath, { weights: true });
  const bytes = bundle.weights.get(WEIGHTS_MEMBER);
  if (!bytes)
    throw badWeights(bundle.file, `it has no ${WEIGHTS_MEMBER} (was it written by the embedded engine?)`);
  let state: EncodedState;
  try {
    state = await decodeWeights(bytes, `${bundle.file}:${WEIGHTS_MEMBER}`);
  } catch (error) {
    throw badWeights(bundle.file, `${WEIGHTS_MEMBER} cannot be decoded (${(error as Error).message})`, error);
  }
  if (state.arrays.length === 0) throw badWeights(bundle.file, `${WEIGHTS_MEMBER} holds no arrays`);
  // The .npz reader has checked each array's size against its shape.
  for (const array of state.arrays) {
    const bad = array.data.findIndex((v) => !Number.isFinite(v));
    if (bad !== -1) {
      throw badWeights(
        bundle.file,
        `${WEIGHTS_MEMBER}: ${array.name} has a non-finite weight (${array.data[bad]}) at index ${bad}; the model diverged or the file was damaged`,
      );
    }
  }
  if (model) checkShapes(bundle.file, model, state.arrays);
}

/** Checks everything a run of `payload` will read; throws `DataError` on the first problem. */
export async function preflightEmbedded(payload: PreflightPayload): Promise<void> {
  const modelType: DataModelType = payload.config.model.modelType === "supervised" ? "supervised" : "pinn";
  if (payload.kind === "training") {
    const { trainDataFile, testDataFile } = payload.config.training;
    if (typeof trainDataFile === "string")
      await assertDataValues(trainDataFile, { purpose: "train", modelType });
    if (typeof testDataFile === "string")
      await assertDataValues(testDataFile, { purpose: "test", modelType });
    return;
  }
  const { testDataFile, modelPath } = payload.config.inference;
  if (typeof testDataFile === "string") await assertDataValues(testDataFile, { purpose: "test", modelType });
  if (typeof modelPath === "string") await checkBundleWeights(modelPath, payload.config.model);
}
