export { type Capability, only } from "@trainkit/config-meta";

/** A setting of a payload that a backend cannot honour. */
export interface UnsupportedSetting {
  readonly path: string;
  readonly value: unknown;
  /** Where the value came from (`"--gridsize 3" on the command line`, `the default`, ...). */
  readonly origin: string;
  readonly supported: string;
  readonly hint?: string;
}
