/**
 * A PtychoPINN-style physics-informed CNN in TensorFlow.js (NHWC throughout).
 *
 * Architecture (widths with `f = 16 * nFiltersScale`, so the default `nFiltersScale = 2` gives
 * 32-64-128; upstream's TensorFlow model uses `32 * nFiltersScale`):
 *
 * - input: diffraction amplitudes `[B, N, N, C]`, `C = gridsize^2`, rescaled so that a pattern's mean
 *   total intensity is `(N/2)^2` (upstream's loader normalisation) and divided by the learned
 *   intensity scale relative to its initial value (`x * s0 / s`, upstream's `IntensityScaler`);
 * - encoder, 3 levels of conv3x3-ReLU, conv3x3-ReLU, 2x2 max-pool: widths f, 2f, 4f; its `N/8` output
 *   is the bottleneck shared by both decoders;
 * - two decoders (amplitude, phase) of 2 levels conv3x3-ReLU, conv3x3-ReLU, 2x nearest upsample
 *   (widths 2f, f) to `N/2`, then upstream's last stage:
 *   - `padObject` (default): a conv3x3 on all but the last 4 channels predicts the central `N/2 x N/2`
 *     region, which is zero-padded to `N`; with `probeBig` the last 4 channels go through another
 *     conv-conv-upsample block (width f) and a conv3x3 with swish whose output is kept outside the
 *     central region only and added;
 *   - without `padObject`: a conv-conv-upsample block (width f) and a conv3x3 predict the full `N x N`;
 *   - the amplitude uses `ampActivation` (sigmoid, swish, softplus, relu), the phase `pi * tanh`;
 *   - output channels: `C` patches when `objectBig`, else one patch for the whole group;
 * - object = amplitude * exp(i phase); for `C > 1` the patches are placed on the group's canvas,
 *   averaged where they overlap and re-extracted (`objectBig`), or the single patch is cut at the C
 *   positions (no `objectBig`); see `overlap.ts`;
 * - physics (pinn): exit wave = probe * object, 3x3 Gaussian smoothing when
 *   `gaussianSmoothingSigma > 0` (upstream smooths the exit wave, not the object), soft probe mask when
 *   `probeMask`, far-field intensity `|dft2|^2` times `s^2`: predicted photon counts.
 */
import type { Rank, Tensor, Tensor1D, Tensor4D, Variable } from "@tensorflow/tfjs";
import type { ModelConfig, TrainingConfig } from "@trainkit/training-config";
import { deriveSeed, glorotUniform } from "./init.ts";
import { profileLayer } from "./internal/profile.ts";
import { type Complex, complexFromPolar, conv2dSame, maxPool2, upsample2 } from "./ops.ts";
import { createOverlapAverage, createPatchExtraction, type PatchMap, type PatchOffsets } from "./overlap.ts";
import { farFieldIntensity, gaussianSmooth3, illuminate } from "./physics.ts";
import { normalizeProbe, type ProbeArrays, softProbeMask } from "./probe.ts";
import { tf } from "./tfjs.ts";

/** The config the model reads. */
export interface PtychoModelConfig {
  readonly model: ModelConfig;
  readonly training: Pick<TrainingConfig, "nphotons" | "probeTrainable" | "intensityScaleTrainable">;
}

export interface PtychoModelOptions {
  /** Initial intensity scale `s0`; wins over everything else (e.g. the value stored in a bundle). */
  readonly intensityScale?: number | undefined;
  /**
   * Mean over the training patterns of the summed squared amplitudes, `mean_m sum_ij X[m,i,j]^2`
   * (see {@link meanTotalIntensity}): gives upstream's data-based scale `sqrt(nphotons / meanTotalIntensity)`,
   * the network's input scale and the physics gain. Inference passes the training data's value.
   */
  readonly meanTotalIntensity?: number | undefined;
}

/** A model variable with its stable short name (`enc1a/kernel`, `probe/re`, `logIntensityScale`, ...). */
export interface NamedVariable {
  readonly name: string;
  readonly variable: Variable;
  readonly trainable: boolean;
}

export interface ModelInputs {
  /** Diffraction amplitudes `[B, N, N, C]` (square roots of intensities, normalised as in the NPZ). */
  readonly diffraction: Tensor4D;
  /** Patch placement for `C > 1`, from {@link PtychoModel.createPatchMap}; unused when `C = 1`. */
  readonly patchMap?: PatchMap | undefined;
  /** Run the physics (predicted diffraction); default true for pinn models. `false` for inference. */
  readonly physics?: boolean | undefined;
}

export interface ForwardOutput {
  /** Decoder amplitude `[B, N, N, Cout]` (`Cout = C` with objectBig, else 1), before reassembly. */
  readonly amplitude: Tensor4D;
  /** Decoder phase `[B, N, N, Cout]` in (-pi, pi), before reassembly. */
  readonly phase: Tensor4D;
  /** Complex object patches at the C scan positions, after reassembly: `[B, N, N, C]`. */
  readonly object: Complex<Tensor4D>;
  /** Predicted diffraction intensity in photon counts `[B, N, N, C]` (absent for supervised models and `physics: false`). */
  readonly intensity?: Tensor4D;
}

/**
 * Modulus and argument of the object patches `[B, N, N, C]` (after reassembly). They can differ from
 * the decoder outputs: upstream's outer-region branch uses swish, which can be slightly negative, and
 * overlapping patches are averaged as complex numbers.
 */
export interface Prediction {
  /** `|O|`, `[B, N, N, C]`. */
  readonly amplitude: Tensor4D;
  /** `arg O` in (-pi, pi], `[B, N, N, C]` (0 where `O = 0`). */
  readonly phase: Tensor4D;
}

export interface PtychoModel {
  readonly config: PtychoModelConfig;
  readonly N: number;
  /** Diffraction channels per group, `gridsize^2`. */
  readonly channels: number;
  /** Every variable, in a stable order (network layers, then probe, then the intensity scale). */
  readonly variables: readonly NamedVariable[];
  /** The variables training updates, same order. */
  readonly trainableVariables: readonly NamedVariable[];
  /** The initial intensity scale `s0`: observed counts are `(s0 * X)^2`. */
  readonly initialIntensityScale: number;
  /** How `s0` was chosen, for logs and manifests. */
  readonly intensityScaleSource: "option" | "data" | "nphotons";
  /** The current intensity scale `exp(logIntensityScale)`. */
  intensityScale(): number;
  /** Placement of a batch's C patches (`undefined` when `C = 1`). The caller disposes it. */
  createPatchMap(offsets: PatchOffsets | undefined, batch: number): PatchMap | undefined;
  /** The differentiable forward pass used by the losses. */
  forward(inputs: ModelInputs): ForwardOutput;
  /** Object amplitude and phase for diffraction `[B, N, N, C]` and offsets `[B, C, 2]` (when C > 1). */
  predict(diffraction: Tensor4D, offsets?: PatchOffsets): Prediction;
  /** Number of scalar parameters (all variables, or trainable only). */
  parameterCount(trainableOnly?: boolean): number;
  /** Frees every variable and constant. */
  dispose(): void;
}

interface ConvLayer {
  readonly name: string;
  readonly kernel: Variable<Rank.R4>;
  readonly bias: Variable<Rank.R1>;
}

let modelCounter = 0;

/** Object amplitude whose predicted counts match the data's mean total intensity (see the physics gain). */
export const AMPLITUDE_REFERENCE = 0.5;

/** `mean_m sum_ij X[m, i, j, c]^2` over patterns of diffraction amplitudes laid out `[M, N, N]` or `[M, N, N, C]`. */
export function meanTotalIntensity(amplitudes: ArrayLike<number>, patterns: number): number {
  let sum = 0;
  for (let k = 0; k < amplitudes.length; k++) {
    const a = amplitudes[k] as number;
    sum += a * a;
  }
  return sum / patterns;
}

/**
 * Upstream's initial intensity scale: an explicit value; else `sqrt(nphotons / meanTotalIntensity)`
 * from the data; else the fallback `sqrt(nphotons) / (N / 2)`.
 */
export function initialIntensityScale(
  nphotons: number,
  n: number,
  options: PtychoModelOptions = {},
): { readonly value: number; readonly source: "option" | "data" | "nphotons" } {
  if (options.intensityScale !== undefined) {
    if (!(options.intensityScale > 0) || !Number.isFinite(options.intensityScale)) {
      throw new Error(`intensityScale: must be a positive number, got ${options.intensityScale}.`);
    }
    return { value: options.intensityScale, source: "option" };
  }
  if (options.meanTotalIntensity !== undefined && options.meanTotalIntensity > 0) {
    return { value: Math.sqrt(nphotons / options.meanTotalIntensity), source: "data" };
  }
  return { value: Math.sqrt(nphotons) / (n / 2), source: "nphotons" };
}

/** Filter widths `[f, 2f, 4f]` of the encoder for a given `nFiltersScale`. */
export function encoderWidths(nFiltersScale: number): readonly [number, number, number] {
  const f = 16 * nFiltersScale;
  return [f, 2 * f, 4 * f];
}

/**
 * Builds the model with weights drawn from `seed` (glorot-uniform kernels, zero biases, from a
 * seeded JavaScript generator: the same seed gives byte-identical weights on every backend).
 * Call `initBackend()` first.
 */
export function createPtychoModel(
  config: PtychoModelConfig,
  probe: ProbeArrays,
  seed: number,
  options: PtychoModelOptions = {},
): PtychoModel {
  const m = config.model;
  const n = m.N;
  if (probe.N !== n) {
    throw new Error(`probe: the probe is ${probe.N}x${probe.N} but model.N is ${n}; they must match.`);
  }
  if (n % 8 !== 0) throw new Error(`model.N: must be a multiple of 8 for the 3-level encoder, got ${n}.`);
  if (m.architecture !== "cnn") {
    throw new Error(
      `model.architecture: the TensorFlow.js engine implements only "cnn", got "${m.architecture}".`,
    );
  }
  const channels = m.gridsize * m.gridsize;
  const outChannels = m.objectBig ? channels : 1;
  const [f1, f2, f3] = encoderWidths(m.nFiltersScale);
  const supervised = m.modelType === "supervised";
  const id = modelCounter++;
  const variables: NamedVariable[] = [];
  let layerIndex = 0;

  const addVariable = <R extends Rank>(name: string, value: Tensor<R>, trainable: boolean): Variable<R> => {
    const variable = tf.variable(value, trainable, `ptycho${id}/${name}`);
    value.dispose();
    variables.push({ name, variable: variable as unknown as Variable, trainable });
    return variable;
  };
  const addConv = (name: string, k: number, ci: number, co: number): ConvLayer => {
    const shape = [k, k, ci, co] as const;
    const kernelSeed = deriveSeed(seed, layerIndex++);
    return {
      name,
      kernel: addVariable(`${name}/kernel`, tf.tensor4d(glorotUniform(shape, kernelSeed), [...shape]), true),
      bias: addVariable(`${name}/bias`, tf.zeros([co]) as Tensor1D, true),
    };
  };

  const encoder = [
    addConv("enc1a", 3, channels, f1),
    addConv("enc1b", 3, f1, f1),
    addConv("enc2a", 3, f1, f2),
    addConv("enc2b", 3, f2, f2),
    addConv("enc3a", 3, f2, f3),
    addConv("enc3b", 3, f3, f3),
  ] as const;

  const innerChannels = f1 - 4; // f1 >= 16
  const makeDecoder = (prefix: string) => ({
    d1a: addConv(`${prefix}/dec1a`, 3, f3, f2),
    d1b: addConv(`${prefix}/dec1b`, 3, f2, f2),
    d2a: addConv(`${prefix}/dec2a`, 3, f2, f1),
    d2b: addConv(`${prefix}/dec2b`, 3, f1, f1),
    ...(m.padObject
      ? {
          inner: addConv(`${prefix}/inner`, 3, innerChannels, outChannels),
          ...(m.probeBig
            ? {
                outerA: addConv(`${prefix}/outerA`, 3, 4, f1),
                outerB: addConv(`${prefix}/outerB`, 3, f1, f1),
                outerOut: addConv(`${prefix}/outerOut`, 3, f1, outChannels),
              }
            : {}),
        }
      : {
          fullA: addConv(`${prefix}/fullA`, 3, f1, f1),
          fullB: addConv(`${prefix}/fullB`, 3, f1, f1),
          fullOut: addConv(`${prefix}/fullOut`, 3, f1, outChannels),
        }),
  });
  const ampDecoder = makeDecoder("amp");
  const phaseDecoder = makeDecoder("phase");

  const normalized = normalizeProbe(probe, m.probeScale);
  const probeTrainable = config.training.probeTrainable && !supervised;
  const probeRe = addVariable("probe/re", tf.tensor3d(normalized.re, [n, n, 1]), probeTrainable);
  const probeIm = addVariable("probe/im", tf.tensor3d(normalized.im, [n, n, 1]), probeTrainable);
  const scale0 = initialIntensityScale(config.training.nphotons, n, options);
  // Calibration to the data, from its mean total intensity (the mean over patterns of sum X^2):
  // - physics gain: an object of amplitude AMPLITUDE_REFERENCE everywhere under the normalised probe
  //   reproduces the data's mean total intensity (unitary DFT: sum |DFT(a P)|^2 = a^2 sum |P|^2).
  //   Without it the predicted counts are off by the arbitrary ratio between the probe's and the
  //   data's normalisations; the reference sits mid-range of a sigmoid amplitude, where it still has
  //   gradient both ways (with 1, training pins the sigmoid at its ceiling and learns nothing).
  // - input scale: the network sees amplitudes rescaled so that a pattern's mean total intensity is
  //   (N/2)^2, upstream's loader normalisation, whatever the file's own amplitude units.
  let probeEnergy = 0;
  for (let k = 0; k < n * n; k++) probeEnergy += normalized.re[k]! ** 2 + normalized.im[k]! ** 2;
  const dataIntensity =
    options.meanTotalIntensity !== undefined && options.meanTotalIntensity > 0
      ? options.meanTotalIntensity
      : undefined;
  const physicsGain =
    dataIntensity !== undefined && probeEnergy > 0
      ? dataIntensity / (AMPLITUDE_REFERENCE * AMPLITUDE_REFERENCE * probeEnergy)
      : 1;
  const inputScale = dataIntensity !== undefined ? n / 2 / Math.sqrt(dataIntensity) : 1;
  const logScale = addVariable(
    "logIntensityScale",
    tf.scalar(Math.log(scale0.value)),
    config.training.intensityScaleTrainable && !supervised,
  );

  const constants: Tensor[] = [];
  const keepConst = <T extends Tensor>(t: T): T => {
    constants.push(t);
    return t;
  };
  const probeMaskTensor = m.probeMask
    ? keepConst(tf.tensor3d(softProbeMask(n, m.probeMaskSigma, m.probeMaskDiameter), [n, n, 1]))
    : undefined;
  const borderMask = keepConst(
    tf.tidy(() =>
      tf.pad(
        tf.zeros([1, n / 2, n / 2, 1]),
        [
          [0, 0],
          [n / 4, n / 4],
          [n / 4, n / 4],
          [0, 0],
        ],
        1,
      ),
    ),
  ) as Tensor4D;
  const innerPad = (w: Variable<Rank.R4>): Tensor4D =>
    tf.pad(w, [
      [0, 0],
      [0, 0],
      [0, 4],
      [0, 0],
    ]);

  const conv = (layer: ConvLayer, x: Tensor4D, activation: "relu" | "linear"): Tensor4D =>
    profileLayer(layer.name, () => conv2dSame(x, layer.kernel, { bias: layer.bias, activation }));
  const up = (name: string, x: Tensor4D): Tensor4D => profileLayer(name, () => upsample2(x));

  const ampActivation = (x: Tensor4D): Tensor4D => {
    switch (m.ampActivation) {
      case "sigmoid":
        return tf.sigmoid(x);
      case "swish":
        return tf.mul(x, tf.sigmoid(x));
      case "softplus":
        return tf.softplus(x);
      case "relu":
        return tf.relu(x);
    }
  };
  const phaseActivation = (x: Tensor4D): Tensor4D => tf.mul(tf.tanh(x), Math.PI);
  const swish = (x: Tensor4D): Tensor4D => tf.mul(x, tf.sigmoid(x));

  const runDecoder = (
    d: ReturnType<typeof makeDecoder>,
    h: Tensor4D,
    activation: (x: Tensor4D) => Tensor4D,
  ): Tensor4D => {
    const prefix = d.d1a.name.slice(0, d.d1a.name.indexOf("/"));
    let x = up(`${prefix}/up1`, conv(d.d1b, conv(d.d1a, h, "relu"), "relu"));
    x = up(`${prefix}/up2`, conv(d.d2b, conv(d.d2a, x, "relu"), "relu"));
    if ("inner" in d && d.inner !== undefined) {
      const inner = d.inner;
      // Conv on channels [0, f-4): the same as a conv of all f channels whose last 4 filter rows are 0.
      const centre = profileLayer(inner.name, () =>
        activation(conv2dSame(x, innerPad(inner.kernel), { bias: inner.bias })),
      );
      const padded = tf.pad(centre, [
        [0, 0],
        [n / 4, n / 4],
        [n / 4, n / 4],
        [0, 0],
      ]);
      if (!("outerA" in d) || d.outerA === undefined || d.outerB === undefined || d.outerOut === undefined) {
        return padded;
      }
      const [bb, hh, ww] = x.shape;
      const last4 = tf.slice(x, [0, 0, 0, f1 - 4], [bb, hh, ww, 4]);
      const outer = up(`${prefix}/up3`, conv(d.outerB, conv(d.outerA, last4, "relu"), "relu"));
      return tf.add(padded, tf.mul(swish(conv(d.outerOut, outer, "linear")), borderMask));
    }
    if (!("fullA" in d) || d.fullA === undefined || d.fullB === undefined || d.fullOut === undefined) {
      throw new Error("decoder: internal error, missing layers");
    }
    const full = up(`${prefix}/up3`, conv(d.fullB, conv(d.fullA, x, "relu"), "relu"));
    return activation(conv(d.fullOut, full, "linear"));
  };

  const checkInputs = (diffraction: Tensor4D): void => {
    const [, h, w, c] = diffraction.shape;
    if (h !== n || w !== n || c !== channels) {
      throw new Error(
        `diffraction: expected [B, ${n}, ${n}, ${channels}] (N = ${n}, gridsize^2 = ${channels}), got [${diffraction.shape.join(", ")}].`,
      );
    }
  };

  const forward = (inputs: ModelInputs): ForwardOutput => {
    const x = inputs.diffraction;
    checkInputs(x);
    // The input is x * inputScale * s0 / s. The first convolution is linear in its input, so the
    // factor is applied to its (small) kernel instead: same result, and the input gradient of that
    // convolution (the data's, never needed) is skipped while the scale still gets its gradient
    // through the kernel.
    const ratio = tf.div(scale0.value * inputScale, tf.exp(logScale));
    const first = encoder[0];
    let h = profileLayer(first.name, () =>
      conv2dSame(x, tf.mul(first.kernel, ratio), {
        bias: first.bias,
        activation: "relu",
        inputGrad: false,
      }),
    );
    for (let level = 0; level < 3; level++) {
      const a = encoder[2 * level] as ConvLayer;
      const b = encoder[2 * level + 1] as ConvLayer;
      const y = conv(b, level === 0 ? h : conv(a, h, "relu"), "relu");
      h = profileLayer(`pool${level + 1}`, () => maxPool2(y));
    }
    const amplitude = runDecoder(ampDecoder, h, ampActivation);
    const phase = runDecoder(phaseDecoder, h, phaseActivation);
    let object = complexFromPolar(amplitude, phase);
    if (channels > 1) {
      if (inputs.patchMap === undefined) {
        throw new Error(
          `offsets: gridsize ${m.gridsize} needs the relative scan offsets [B, ${channels}, 2] of each group.`,
        );
      }
      const map = inputs.patchMap;
      object = { re: map.apply(object.re), im: map.apply(object.im) };
    }
    if (supervised || inputs.physics === false) return { amplitude, phase, object };
    return profileLayer("physics", () => physicsOf(object, amplitude, phase));
  };

  const physicsOf = (object: Complex<Tensor4D>, amplitude: Tensor4D, phase: Tensor4D): ForwardOutput => {
    let psi = illuminate(object, { re: probeRe, im: probeIm });
    if (m.gaussianSmoothingSigma > 0) psi = gaussianSmooth3(psi, m.gaussianSmoothingSigma);
    if (probeMaskTensor !== undefined)
      psi = { re: tf.mul(psi.re, probeMaskTensor), im: tf.mul(psi.im, probeMaskTensor) };
    const intensity = tf.mul(
      farFieldIntensity(psi),
      tf.mul(tf.exp(tf.mul(logScale, 2)), physicsGain),
    ) as Tensor4D;
    return { amplitude, phase, object, intensity };
  };

  const createPatchMap = (offsets: PatchOffsets | undefined, batch: number): PatchMap | undefined => {
    if (channels === 1) return undefined;
    if (offsets === undefined) {
      throw new Error(
        `offsets: gridsize ${m.gridsize} needs the relative scan offsets [B, ${channels}, 2] of each group.`,
      );
    }
    return m.objectBig
      ? createOverlapAverage(offsets, batch, n, channels)
      : createPatchExtraction(offsets, batch, n, channels);
  };

  const trainableVariables = variables.filter((v) => v.trainable);
  return {
    config,
    N: n,
    channels,
    variables,
    trainableVariables,
    initialIntensityScale: scale0.value,
    intensityScaleSource: scale0.source,
    intensityScale: () => Math.exp(logScale.dataSync()[0] as number),
    createPatchMap,
    forward,
    predict: (diffraction, offsets) => {
      checkInputs(diffraction);
      const map = createPatchMap(offsets, diffraction.shape[0]);
      try {
        return tf.tidy(() => {
          const { re, im } = forward({ diffraction, patchMap: map, physics: false }).object;
          return {
            amplitude: tf.sqrt(tf.add(tf.square(re), tf.square(im))) as Tensor4D,
            phase: tf.atan2(im, re) as Tensor4D,
          };
        });
      } finally {
        map?.dispose();
      }
    },
    parameterCount: (trainableOnly = false) =>
      (trainableOnly ? trainableVariables : variables).reduce((sum, v) => sum + v.variable.size, 0),
    dispose: () => {
      for (const v of variables) v.variable.dispose();
      for (const c of constants) c.dispose();
    },
  };
}
