/** The wasm step's kernel profile as a table (shared by `step.bench.ts` and `paired.ts`). */
import { type KernelProfile, type OpKind, profileKernels } from "../src/tf/internal/profile.ts";

const KIND_ORDER: readonly OpKind[] = ["conv", "matmul", "copy", "elementwise", "pool", "reduce"];

/** The wasm step's kernel time by layer (rows) and phase x op kind (columns), mean of `count` profiled steps. */
export async function profileTable(step: () => void, count = 3): Promise<string[]> {
  const runs: KernelProfile[] = [];
  for (let i = 0; i < count; i++) runs.push(await profileKernels(step));
  const layers: string[] = [];
  const cell = new Map<string, number>();
  for (const run of runs) {
    for (const r of run.rows) {
      if (!layers.includes(r.layer)) layers.push(r.layer);
      const key = `${r.layer}|${r.phase}|${r.kind}`;
      cell.set(key, (cell.get(key) ?? 0) + r.ms / runs.length);
    }
  }
  const get = (layer: string, phase: string, kind: OpKind) => cell.get(`${layer}|${phase}|${kind}`) ?? 0;
  const sum = (layer: string | undefined, phase: string) =>
    KIND_ORDER.reduce(
      (acc, kind) =>
        acc +
        (layer === undefined ? layers.reduce((a, l) => a + get(l, phase, kind), 0) : get(layer, phase, kind)),
      0,
    );
  const num = (v: number) => (v === 0 ? "" : v.toFixed(1)).padStart(7);
  const header = `${"layer".padEnd(18)}${"fwd".padStart(7)}${"bwd".padStart(7)} |${KIND_ORDER.map((k) => k.slice(0, 6).padStart(7)).join("")} |${KIND_ORDER.map((k) => k.slice(0, 6).padStart(7)).join("")}`;
  const row = (name: string, layer: string | undefined) =>
    `${name.padEnd(18)}${num(sum(layer, "forward"))}${num(sum(layer, "backward"))} |${KIND_ORDER.map((k) => num(layer === undefined ? layers.reduce((a, l) => a + get(l, "forward", k), 0) : get(layer, "forward", k))).join("")} |${KIND_ORDER.map((k) => num(layer === undefined ? layers.reduce((a, l) => a + get(l, "backward", k), 0) : get(layer, "backward", k))).join("")}`;
  const wall = runs.reduce((a, r) => a + r.wallMs, 0) / runs.length;
  const kernels = runs.reduce((a, r) => a + r.kernelMs, 0) / runs.length;
  return [
    `wasm step profile (kernel ms, mean of ${runs.length} profiled steps; columns: forward by op kind | backward by op kind):`,
    header,
    ...layers.map((l) => row(l, l)),
    row("total", undefined),
    `by kernel (ms per step, calls): ${kernelSummary(runs)}`,
    `profiled step ${wall.toFixed(0)} ms: kernels ${kernels.toFixed(0)} ms, outside kernels (JavaScript, tape) ${(wall - kernels).toFixed(0)} ms`,
  ];
}

/** Each phase's kernels by name, the most expensive first (mean per profiled step). */
function kernelSummary(runs: readonly KernelProfile[]): string {
  const totals = new Map<string, { ms: number; calls: number }>();
  for (const run of runs) {
    for (const [key, v] of run.byKernel) {
      const t = totals.get(key) ?? { ms: 0, calls: 0 };
      t.ms += v.ms / runs.length;
      t.calls += v.calls / runs.length;
      totals.set(key, t);
    }
  }
  return [...totals.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .filter(([, v]) => v.ms >= 0.5)
    .map(([key, v]) => `${key.replace("|", " ")} ${v.ms.toFixed(1)} (${v.calls.toFixed(0)})`)
    .join(", ");
}
