// createTrainingPayload per second, with real files: a simulated train/test pair (64 x 64 probe,
// 256 positions, with _metadata) and a YAML config file. Usage:
//   npx tsx --conditions=@trainkit/source scripts/measure-payload-rate.ts [seconds per round] [rounds]
// Prints each round's rate, the median, and how many files one payload opens (each input once: the
// config file, the training file, the test file). Not a benchmark of record (pnpm bench is).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type fsPromises from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTrainingPayload } from "@trainkit/factory";
import { writeSimulatedDataset } from "@trainkit/simulator";

const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "trainkit-rate-"));
try {
  const data = dir;
  await writeSimulatedDataset({
    trainOut: join(data, "train.npz"),
    testOut: join(data, "test.npz"),
    positions: 256,
    seed: 1,
  });
  const config = join(dir, "exp.yaml");
  writeFileSync(config, "training:\n  nepochs: 3\nexecution:\n  learningRate: 0.0005\n");
  const options = {
    trainDataFile: join(data, "train.npz"),
    overrides: { training: { nGroups: 128, testDataFile: join(data, "test.npz") } },
    sources: [{ kind: "file" as const, path: config }],
    environment: {
      accelerator: "cpu" as const,
      acceleratorReason: "auto: fixed for the measurement",
      isTTY: false,
    },
  };
  await createTrainingPayload(options); // warm up, and fail early on a bad setup
  // Count the files one payload opens (fs/promises open and readFile, which every reader here uses).
  const fsp = createRequire(import.meta.url)("node:fs/promises") as typeof fsPromises;
  const opened: string[] = [];
  const { open, readFile } = fsp;
  fsp.open = ((path: Parameters<typeof open>[0], ...rest: []) => {
    opened.push(String(path));
    return open(path, ...rest);
  }) as typeof open;
  fsp.readFile = ((path: Parameters<typeof readFile>[0], ...rest: []) => {
    opened.push(String(path));
    return readFile(path, ...rest);
  }) as typeof readFile;
  syncBuiltinESMExports();
  await createTrainingPayload(options);
  fsp.open = open;
  fsp.readFile = readFile;
  syncBuiltinESMExports();
  const byFile = new Map<string, number>();
  for (const path of opened)
    byFile.set(path.slice(dir.length + 1), (byFile.get(path.slice(dir.length + 1)) ?? 0) + 1);
  console.log(`files opened by one payload: ${[...byFile].map(([f, n]) => `${f} x${n}`).join(", ")}`);
  // Wall-clock rate (what a caller sees; on a busy machine mostly waiting for file reads) and CPU
  // time per payload (this process's user + system time: steadier when other work shares the cores).
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = performance.now();
    const used = process.cpuUsage();
    while (performance.now() - start < seconds * 1000) {
      await createTrainingPayload(options);
      n++;
    }
    const { user, system } = process.cpuUsage(used);
    rates.push((n * 1000) / (performance.now() - start));
    cpu.push((user + system) / 1000 / n);
    console.log(
      `round ${r + 1}: ${rates.at(-1)!.toFixed(0)} payloads/s, ${cpu.at(-1)!.toFixed(2)} ms CPU each`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`median: ${median(rates).toFixed(0)} payloads/s, ${median(cpu).toFixed(2)} ms CPU per payload`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
