// Bundles the two commands once before the end-to-end tests, as `pnpm build` does for users.
import { bundle } from "../scripts/bundle-bins.mjs";

export default async function setup(): Promise<void> {
  await bundle("train-cli");
  await bundle("infer-cli");
}
