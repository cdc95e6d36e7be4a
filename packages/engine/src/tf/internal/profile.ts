/**
 * Per-layer, per-op-kind timing of the TensorFlow.js kernels of a function (the step benchmark's
 * profile). Code marks regions with {@link profileLayer}; outside {@link profileKernels} a mark is a
 * single comparison. Custom gradients capture the layer at forward time and mark their backward
 * kernels with it, so the backward pass is attributed to the same layers.
 *
 * Kernel times are TensorFlow.js' own (`tf.profile`, the backend's synchronous timer); the time of a
 * run not spent inside kernels (JavaScript glue, tape bookkeeping) is reported separately. A fused
 * kernel that runs other kernels itself reports them with {@link profileSubKernel}: they are listed
 * in its place, and what remains of its time (its own data movement) counts as its own, as a copy.
 */
import { tf } from "../tfjs.ts";

export type ProfilePhase = "forward" | "backward";

/** One layer's (or region's) kernel time, by phase and op kind. */
export interface LayerProfile {
  readonly layer: string;
  readonly phase: ProfilePhase;
  readonly kind: OpKind;
  readonly ms: number;
  readonly kernels: number;
}

export interface KernelProfile {
  /** Wall time of the profiled function (profiling on, so somewhat above an unprofiled run). */
  readonly wallMs: number;
  /** Sum of all kernel times. */
  readonly kernelMs: number;
  readonly rows: readonly LayerProfile[];
  /** Kernel time by phase and kernel name (`backward|Slice`), with the number of calls. */
  readonly byKernel: ReadonlyMap<string, { readonly ms: number; readonly calls: number }>;
}

export type OpKind = "conv" | "matmul" | "copy" | "elementwise" | "pool" | "reduce";

const KINDS: Readonly<Record<string, OpKind>> = {
  Conv2D: "conv",
  FusedConv2D: "conv",
  DepthwiseConv2dNative: "conv",
  FusedDepthwiseConv2D: "conv",
  BatchMatMul: "matmul",
  TapProducts: "matmul",
  _FusedMatMul: "matmul",
  TrainkitConvBackward: "copy",
  Slice: "copy",
  Pad: "copy",
  PadV2: "copy",
  Transpose: "copy",
  Concat: "copy",
  Pack: "copy",
  Reshape: "copy",
  Identity: "copy",
  Tile: "copy",
  Cast: "copy",
  Fill: "copy",
  ZerosLike: "copy",
  OnesLike: "copy",
  MaxPool: "pool",
  AvgPool: "pool",
  MaxPoolGrad: "pool",
  AvgPoolGrad: "pool",
  ResizeNearestNeighbor: "pool",
  Sum: "reduce",
  Mean: "reduce",
  Max: "reduce",
  Min: "reduce",
  Prod: "reduce",
  AddN: "elementwise",
};

/** The op kind of a kernel name (elementwise unless listed). */
export function opKind(kernel: string): OpKind {
  return KINDS[kernel] ?? "elementwise";
}

interface Mark {
  readonly index: number;
  readonly layer: string;
  readonly phase: ProfilePhase;
}

interface SubKernel {
  /** Index the enclosing kernel will have in the profile (it is listed when it ends). */
  readonly index: number;
  readonly name: string;
  readonly ms: number;
}

interface Recording {
  readonly marks: Mark[];
  readonly subKernels: SubKernel[];
  layer: string;
  phase: ProfilePhase;
}

let recording: Recording | undefined;

function kernelCount(): number {
  const state = (tf.engine() as unknown as { state: { activeProfile: { kernels: unknown[] } } }).state;
  return state.activeProfile.kernels.length;
}

function mark(r: Recording, layer: string, phase: ProfilePhase): void {
  r.layer = layer;
  r.phase = phase;
  r.marks.push({ index: kernelCount(), layer, phase });
}

/** The layer now marked (custom gradients capture it at forward time); `undefined` when not profiling. */
export function currentLayer(): string | undefined {
  return recording?.layer;
}

/** Runs `fn` with its kernels attributed to `layer` (`undefined`: unchanged) while profiling. */
export function profileLayer<T>(layer: string | undefined, fn: () => T): T {
  const r = recording;
  if (r === undefined || layer === undefined) return fn();
  const previous = r.layer;
  mark(r, layer, r.phase);
  try {
    return fn();
  } finally {
    mark(r, previous, r.phase);
  }
}

/**
 * Runs `fn`, a kernel that a fused kernel calls directly (bypassing the engine), timing it as
 * `name` while profiling.
 */
export function profileSubKernel<T>(name: string, fn: () => T): T {
  const r = recording;
  if (r === undefined) return fn();
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    r.subKernels.push({ index: kernelCount(), name, ms: performance.now() - t0 });
  }
}

/** From here on, kernels belong to the backward pass (called once the loss is computed). */
export function profileBackward(): void {
  if (recording !== undefined) mark(recording, "(other)", "backward");
}

/** Runs `fn` once under `tf.profile` and returns its kernel time by layer, phase and op kind. */
export async function profileKernels(fn: () => void): Promise<KernelProfile> {
  const r: Recording = { marks: [], subKernels: [], layer: "(other)", phase: "forward" };
  let wallMs = 0;
  const info = await tf.profile(() => {
    recording = r;
    r.marks.push({ index: kernelCount(), layer: r.layer, phase: r.phase });
    const t0 = performance.now();
    try {
      fn();
    } finally {
      wallMs = performance.now() - t0;
      recording = undefined;
    }
  });
  const backend = tf.getBackend();
  const totals = new Map<
    string,
    { layer: string; phase: ProfilePhase; kind: OpKind; ms: number; kernels: number }
  >();
  let m = 0;
  let kernelMs = 0;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const subsOf = new Map<number, SubKernel[]>();
  for (const sub of r.subKernels) subsOf.set(sub.index, [...(subsOf.get(sub.index) ?? []), sub]);
  const add = (where: Mark, name: string, kind: OpKind, ms: number) => {
    const key = `${where.layer}|${where.phase}|${kind}`;
    const row = totals.get(key) ?? { layer: where.layer, phase: where.phase, kind, ms: 0, kernels: 0 };
    row.ms += ms;
    row.kernels++;
    kernelMs += ms;
    totals.set(key, row);
    const named = byKernel.get(`${where.phase}|${name}`) ?? { ms: 0, calls: 0 };
    named.ms += ms;
    named.calls++;
    byKernel.set(`${where.phase}|${name}`, named);
  };
  info.kernels.forEach((k, i) => {
    while (m + 1 < r.marks.length && (r.marks[m + 1] as Mark).index <= i) m++;
    // Scopes of custom gradients ("forward") are listed too; only registered kernels are counted.
    if (tf.getKernel(k.name, backend) === undefined) return;
    const where = r.marks[m] as Mark;
    let own = k.kernelTimeMs as number;
    for (const sub of subsOf.get(i) ?? []) {
      add(where, sub.name, opKind(sub.name), sub.ms);
      own -= sub.ms;
    }
    add(where, k.name, opKind(k.name), Math.max(0, own));
  });
  return { wallMs, kernelMs, rows: [...totals.values()], byKernel };
}
