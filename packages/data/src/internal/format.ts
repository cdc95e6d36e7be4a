/** A shape as Python prints it: `()`, `(3,)`, `(64, 64)`. */
export function formatShape(shape: readonly (number | bigint | string)[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/** `1.5 GiB`, `512 B`: for size limits in messages. */
export function formatBytes(bytes: number | bigint): string {
  const n = Number(bytes);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, "");
  return `${text} ${units[unit]}`;
}

/** Where a problem is: `train.npz: probeGuess` or `train.npz`. */
export function where(file: string | undefined, key?: string): string {
  const f = file ?? "<npy data>";
  return key === undefined ? f : `${f}: ${key}`;
}

/** A list of keys for a message: `diffraction, probeGuess` or `(none)`. */
export function formatKeys(keys: Iterable<string>): string {
  const list = [...keys];
  return list.length === 0 ? "(none)" : list.join(", ");
}
