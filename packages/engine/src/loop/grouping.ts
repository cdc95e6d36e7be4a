import { LoopError } from "./errors.ts";
import { createRng } from "./rng.ts";

/** What `groupPositions` needs: scan coordinates and the sampling fields of the training config. */
export interface GroupingOptions {
  /** Scan x coordinates (pixels), one per diffraction pattern. */
  readonly x: ArrayLike<number>;
  /** Scan y coordinates (pixels), same length as `x`. */
  readonly y: ArrayLike<number>;
  /** Side of a group: each group holds C = gridsize^2 positions. */
  readonly gridsize: number;
  /** K: nearest neighbours (the seed included) a group is drawn from. Must be >= C when gridsize > 1. */
  readonly neighborCount: number;
  /** Groups wanted; capped at the number of usable positions unless oversampling. */
  readonly nGroups: number;
  /**
   * Seed of the subsampling and of the draws. The caller resolves `subsampleSeed: null` (a fresh
   * seed upstream) to a seed derived from the run seed, so a run stays reproducible.
   */
  readonly subsampleSeed: number;
  /** Use only this many positions (drawn at random, or the first ones when sequential); null uses all. */
  readonly nSubsample?: number | null | undefined;
  /** Take seed positions (and the subsample) in scan order instead of at random. */
  readonly sequentialSampling?: boolean | undefined;
  /** Allow more groups than positions: seeds repeat and draw other C-subsets of their pool. */
  readonly enableOversampling?: boolean | undefined;
  /** Neighbour pool drawn from while oversampling; null uses `neighborCount`. */
  readonly neighborPoolSize?: number | null | undefined;
}

/** Groups of scan positions, row-major flat arrays. */
export interface GroupingResult {
  /** Positions per group (gridsize^2). */
  readonly C: number;
  /** Groups produced (may be fewer than asked for; see `warnings`). */
  readonly nGroups: number;
  /** Position indices, int32 [nGroups, C]; inside a group ascending (the canonical order). */
  readonly indices: Int32Array;
  /** Coordinates minus the group centre, [nGroups, C, 2] as (x, y). */
  readonly offsets: Float64Array;
  /** Group centres (mean of the group's coordinates), [nGroups, 2] as (x, y). */
  readonly centers: Float64Array;
  /** The seed position of each group, [nGroups]; the group was drawn from its nearest neighbours. */
  readonly seeds: Int32Array;
  /** The positions grouping drew from (all, or the subsample), ascending. */
  readonly pool: Int32Array;
  /** Adjustments made (capped counts), one sentence each; never printed here. */
  readonly warnings: readonly string[];
}

/**
 * Upstream-style neighbour groups ("sample, then group", PtychoPINN `raw_data.py`):
 *
 * 1. the pool is every position, or `nSubsample` of them (random with the seed, or the first ones
 *    when `sequentialSampling`);
 * 2. gridsize 1: each group is one position; `nGroups` is capped at the pool size unless
 *    `enableOversampling` (then positions repeat, each used once before any is used twice);
 * 3. gridsize > 1: seed positions are drawn from the pool (random without replacement, or in scan
 *    order when sequential; cycling through the pool again when oversampling); each seed's K
 *    nearest pool neighbours (itself first, ties by index) are found with a k-d tree, and C of
 *    them are drawn at random and sorted ascending. Oversampling with `nGroups` above the pool size
 *    draws from the `neighborPoolSize` nearest instead, and avoids repeating a seed's subset while
 *    other subsets remain.
 *
 * Deterministic for `subsampleSeed`: subsample, seed order and draws use independent sub-streams,
 * so changing `nGroups` does not change the subsample.
 */
export function groupPositions(options: GroupingOptions): GroupingResult {
  const { x, y, gridsize, neighborCount, nGroups, subsampleSeed } = options;
  const sequential = options.sequentialSampling ?? false;
  const oversampling = options.enableOversampling ?? false;
  checkInputs(options);
  const M = x.length;
  const warnings: string[] = [];
  const C = gridsize * gridsize;

  // 1. The pool.
  const nSubsample = options.nSubsample ?? null;
  let pool: Int32Array;
  if (nSubsample !== null && nSubsample < M) {
    pool = sequential
      ? Int32Array.from({ length: nSubsample }, (_, i) => i)
      : createRng(subsampleSeed, "subsample").choose(M, nSubsample).sort();
  } else {
    if (nSubsample !== null && nSubsample > M) {
      warnings.push(`nSubsample (${nSubsample}) exceeds the ${M} scan positions; using all of them.`);
    }
    pool = Int32Array.from({ length: M }, (_, i) => i);
  }
  const P = pool.length;

  if (C > 1 && neighborCount < C) {
    throw new LoopError(
      "INVALID_GROUPING",
      `neighborCount: must be >= gridsize^2 (${C}) to draw a group of ${C} from the nearest neighbours, got ${neighborCount}; raise neighborCount or lower gridsize.`,
    );
  }
  if (P < C) {
    throw new LoopError(
      "INVALID_GROUPING",
      `gridsize ${gridsize} needs at least ${C} scan positions per group, but only ${P} are available${nSubsample !== null ? ` (nSubsample ${nSubsample})` : ""}.`,
    );
  }

  // 2. How many groups.
  const oversample = oversampling && nGroups > P;
  let G = nGroups;
  if (nGroups > P && !oversampling) {
    G = P;
    warnings.push(
      `nGroups (${nGroups}) exceeds the ${P} available scan positions; using ${P} groups (set enableOversampling to reuse positions).`,
    );
  }

  // 3. Seed positions: each pool position once before any repeats.
  const seedRng = createRng(subsampleSeed, "seeds");
  const seeds = new Int32Array(G);
  for (let filled = 0; filled < G; ) {
    const order = sequential ? pool : pool.slice();
    if (!sequential) seedRng.shuffle(order);
    const take = Math.min(P, G - filled);
    seeds.set(order.subarray(0, take), filled);
    filled += take;
  }

  const indices = new Int32Array(G * C);
  if (C === 1) {
    indices.set(seeds);
  } else {
    let K = oversample ? (options.neighborPoolSize ?? neighborCount) : neighborCount;
    if (K < C) {
      throw new LoopError(
        "INVALID_GROUPING",
        `neighborPoolSize: must be >= gridsize^2 (${C}) when oversampling, got ${K}.`,
      );
    }
    if (K > P) {
      warnings.push(`the neighbour pool (${K}) exceeds the ${P} available positions; using ${P}.`);
      K = P;
    }
    const tree = new KdTree(x, y, pool);
    const drawRng = createRng(subsampleSeed, "draws");
    const neighbours = new Map<number, Int32Array>();
    const used = new Map<number, Set<string>>();
    const subsets = binomial(K, C);
    const group = new Int32Array(C);
    const scratch = new Int32Array(K);
    for (let g = 0; g < G; g++) {
      const seed = seeds[g]!;
      let near = neighbours.get(seed);
      if (near === undefined) {
        near = tree.nearest(seed, K);
        neighbours.set(seed, near);
      }
      // Partial Fisher-Yates over the seed's neighbours: C distinct of K.
      const draw = (): void => {
        scratch.set(near);
        for (let c = 0; c < C; c++) {
          const j = c + drawRng.int(K - c);
          group[c] = scratch[j]!;
          scratch[j] = scratch[c]!;
        }
        group.sort();
      };
      if (!oversample) {
        draw(); // each seed is used once: nothing to de-duplicate
      } else {
        let seen = used.get(seed);
        if (seen === undefined) {
          seen = new Set();
          used.set(seed, seen);
        }
        // Re-draw (a bounded number of times) while this seed's subset was already used and others remain.
        for (let attempt = 0; ; attempt++) {
          draw();
          const key = group.join(",");
          if (!seen.has(key) || seen.size >= subsets || attempt >= 32) {
            seen.add(key);
            break;
          }
        }
      }
      indices.set(group, g * C);
    }
  }

  // 4. Centres and relative offsets.
  const offsets = new Float64Array(G * C * 2);
  const centers = new Float64Array(G * 2);
  for (let g = 0; g < G; g++) {
    let cx = 0;
    let cy = 0;
    for (let c = 0; c < C; c++) {
      const i = indices[g * C + c]!;
      cx += x[i]!;
      cy += y[i]!;
    }
    cx /= C;
    cy /= C;
    centers[2 * g] = cx;
    centers[2 * g + 1] = cy;
    for (let c = 0; c < C; c++) {
      const i = indices[g * C + c]!;
      offsets[2 * (g * C + c)] = x[i]! - cx;
      offsets[2 * (g * C + c) + 1] = y[i]! - cy;
    }
  }
  return { C, nGroups: G, indices, offsets, centers, seeds, pool, warnings };
}

/**
 * The `k` nearest neighbours of every point of `pool` (default: all points) among the pool, as
 * int32 [pool.length, k]: each row starts with the point itself, then by distance, ties by index.
 */
export function nearestNeighbors(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  k: number,
  pool?: Int32Array,
): Int32Array {
  const points = pool ?? Int32Array.from({ length: x.length }, (_, i) => i);
  if (!Number.isInteger(k) || k < 1 || k > points.length) {
    throw new LoopError(
      "INVALID_GROUPING",
      `nearestNeighbors: k must be in [1, ${points.length}], got ${k}.`,
    );
  }
  const tree = new KdTree(x, y, points);
  const out = new Int32Array(points.length * k);
  for (let p = 0; p < points.length; p++) out.set(tree.nearest(points[p]!, k), p * k);
  return out;
}

function checkInputs(o: GroupingOptions): void {
  const fail = (message: string): never => {
    throw new LoopError("INVALID_GROUPING", message);
  };
  const positiveInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) fail(`${name}: must be a positive integer, got ${v}.`);
  };
  if (o.x.length !== o.y.length) {
    fail(`x and y must have the same length, got ${o.x.length} and ${o.y.length}.`);
  }
  if (o.x.length === 0) fail("no scan positions: x and y are empty.");
  for (let i = 0; i < o.x.length; i++) {
    if (!Number.isFinite(o.x[i]) || !Number.isFinite(o.y[i])) {
      fail(`scan position ${i} is not finite: (${o.x[i]}, ${o.y[i]}).`);
    }
  }
  positiveInt("gridsize", o.gridsize);
  positiveInt("neighborCount", o.neighborCount);
  positiveInt("nGroups", o.nGroups);
  if (o.nSubsample !== undefined && o.nSubsample !== null) positiveInt("nSubsample", o.nSubsample);
  if (o.neighborPoolSize !== undefined && o.neighborPoolSize !== null) {
    positiveInt("neighborPoolSize", o.neighborPoolSize);
  }
  if (!Number.isInteger(o.subsampleSeed) || o.subsampleSeed < 0 || o.subsampleSeed > 0xffffffff) {
    fail(`subsampleSeed: must be an integer in [0, 4294967295], got ${o.subsampleSeed}.`);
  }
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** A static 2-d tree over a subset of points, for exact K-nearest queries with index tie-breaking. */
class KdTree {
  readonly #x: ArrayLike<number>;
  readonly #y: ArrayLike<number>;
  /** Point indices arranged so that each range's middle element splits it (implicit tree). */
  readonly #ids: Int32Array;
  /** Coordinates in tree order (cache-friendly queries). */
  readonly #tx: Float64Array;
  readonly #ty: Float64Array;
  // Query scratch: the current k best, sorted by (distance, index).
  #k = 0;
  #count = 0;
  #dist = new Float64Array(0);
  #idx = new Int32Array(0);
  #qx = 0;
  #qy = 0;
  #q = -1;

  constructor(x: ArrayLike<number>, y: ArrayLike<number>, points: Int32Array) {
    this.#x = x;
    this.#y = y;
    this.#ids = points.slice();
    this.#build(0, this.#ids.length, 0);
    this.#tx = Float64Array.from(this.#ids, (i) => x[i]!);
    this.#ty = Float64Array.from(this.#ids, (i) => y[i]!);
  }

  #build(lo: number, hi: number, axis: number): void {
    if (hi - lo <= 1) return;
    const mid = (lo + hi) >> 1;
    this.#select(lo, hi - 1, mid, axis === 0 ? this.#x : this.#y);
    this.#build(lo, mid, 1 - axis);
    this.#build(mid + 1, hi, 1 - axis);
  }

  /** Quickselect (Hoare): ids[k] gets the element of rank k in [lo, hi] by (coordinate, index). */
  #select(lo: number, hi: number, k: number, c: ArrayLike<number>): void {
    const a = this.#ids;
    while (hi > lo) {
      const pivot = a[(lo + hi) >> 1]!;
      const pc = c[pivot]!;
      let i = lo;
      let j = hi;
      while (i <= j) {
        for (;;) {
          const v = a[i]!;
          const cv = c[v]!;
          if (cv < pc || (cv === pc && v < pivot)) i++;
          else break;
        }
        for (;;) {
          const v = a[j]!;
          const cv = c[v]!;
          if (pc < cv || (cv === pc && pivot < v)) j--;
          else break;
        }
        if (i <= j) {
          const t = a[i]!;
          a[i] = a[j]!;
          a[j] = t;
          i++;
          j--;
        }
      }
      if (k <= j) hi = j;
      else if (k >= i) lo = i;
      else return;
    }
  }

  /** The k nearest points to point `q` (q first, then by distance, ties by index). */
  nearest(q: number, k: number): Int32Array {
    if (this.#k !== k) {
      this.#k = k;
      this.#dist = new Float64Array(k);
      this.#idx = new Int32Array(k);
    }
    this.#count = 0;
    this.#q = q;
    this.#qx = this.#x[q]!;
    this.#qy = this.#y[q]!;
    this.#visit(0, this.#ids.length, 0);
    return this.#idx.slice();
  }

  #visit(lo: number, hi: number, axis: number): void {
    if (hi <= lo) return;
    const mid = (lo + hi) >> 1;
    const px = this.#tx[mid]!;
    const py = this.#ty[mid]!;
    this.#consider(this.#ids[mid]!, px, py);
    const diff = axis === 0 ? this.#qx - px : this.#qy - py;
    if (diff < 0) {
      this.#visit(lo, mid, 1 - axis);
      if (this.#count < this.#k || diff * diff <= this.#dist[this.#k - 1]!)
        this.#visit(mid + 1, hi, 1 - axis);
    } else {
      this.#visit(mid + 1, hi, 1 - axis);
      if (this.#count < this.#k || diff * diff <= this.#dist[this.#k - 1]!) this.#visit(lo, mid, 1 - axis);
    }
  }

  #consider(i: number, px: number, py: number): void {
    const dist = this.#dist;
    const idx = this.#idx;
    const k = this.#k;
    const dx = px - this.#qx;
    const dy = py - this.#qy;
    const d = i === this.#q ? -1 : dx * dx + dy * dy; // the query point always ranks first
    if (this.#count === k && (d > dist[k - 1]! || (d === dist[k - 1]! && i > idx[k - 1]!))) return;
    let p = this.#count < k ? this.#count++ : k - 1;
    while (p > 0 && (dist[p - 1]! > d || (dist[p - 1]! === d && idx[p - 1]! > i))) {
      dist[p] = dist[p - 1]!;
      idx[p] = idx[p - 1]!;
      p--;
    }
    dist[p] = d;
    idx[p] = i;
  }
}
