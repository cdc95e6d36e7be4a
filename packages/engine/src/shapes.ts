// The variables of the embedded model and their shapes, from the model config alone (no
// TensorFlow.js): the preflight compares a bundle's weights with them before anything is written.
// `createPtychoModel` (tf/model.ts) builds exactly these, in this order; a test holds the two together.
import type { ModelConfig } from "@trainkit/training-config";

/** A model variable's name and shape. */
export interface VariableShape {
  readonly name: string;
  readonly shape: readonly number[];
}

/** The model fields that decide which variables exist and their shapes. */
export type ShapeConfig = Pick<
  ModelConfig,
  "N" | "gridsize" | "nFiltersScale" | "objectBig" | "padObject" | "probeBig"
>;

/** The model settings that decide the shapes, for messages: `model.N 64, model.gridsize 1, ...`. */
export const SHAPE_FIELDS = ["N", "gridsize", "nFiltersScale", "objectBig", "padObject", "probeBig"] as const;

/** Every variable `createPtychoModel` makes for `model`, with its shape, in the model's order. */
export function modelVariableShapes(model: ShapeConfig): VariableShape[] {
  const channels = model.gridsize * model.gridsize;
  const outChannels = model.objectBig ? channels : 1;
  const f1 = 16 * model.nFiltersScale;
  const [f2, f3] = [2 * f1, 4 * f1];
  const out: VariableShape[] = [];
  const conv = (name: string, ci: number, co: number) => {
    out.push({ name: `${name}/kernel`, shape: [3, 3, ci, co] }, { name: `${name}/bias`, shape: [co] });
  };
  conv("enc1a", channels, f1);
  conv("enc1b", f1, f1);
  conv("enc2a", f1, f2);
  conv("enc2b", f2, f2);
  conv("enc3a", f2, f3);
  conv("enc3b", f3, f3);
  for (const prefix of ["amp", "phase"]) {
    conv(`${prefix}/dec1a`, f3, f2);
    conv(`${prefix}/dec1b`, f2, f2);
    conv(`${prefix}/dec2a`, f2, f1);
    conv(`${prefix}/dec2b`, f1, f1);
    if (model.padObject) {
      conv(`${prefix}/inner`, f1 - 4, outChannels);
      if (model.probeBig) {
        conv(`${prefix}/outerA`, 4, f1);
        conv(`${prefix}/outerB`, f1, f1);
        conv(`${prefix}/outerOut`, f1, outChannels);
      }
    } else {
      conv(`${prefix}/fullA`, f1, f1);
      conv(`${prefix}/fullB`, f1, f1);
      conv(`${prefix}/fullOut`, f1, outChannels);
    }
  }
  out.push(
    { name: "probe/re", shape: [model.N, model.N, 1] },
    { name: "probe/im", shape: [model.N, model.N, 1] },
    { name: "logIntensityScale", shape: [] },
  );
  return out;
}
