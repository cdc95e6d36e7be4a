import { maskUriCredentials } from "./redact.ts";

/** Where a value came from. */
export type Origin =
  | { readonly kind: "cli"; readonly token: string }
  | { readonly kind: "code"; readonly argument: string }
  | { readonly kind: "file"; readonly file: string; readonly line: number; readonly column: number }
  | { readonly kind: "env"; readonly variable: string }
  | { readonly kind: "legacy"; readonly file: string; readonly key: string }
  | { readonly kind: "run"; readonly dir: string }
  | { readonly kind: "payload"; readonly file: string }
  | { readonly kind: "inferred"; readonly from: string }
  /** A study spec: an axis value, a named job, a repeat's seed or a fold (`axis` says which). */
  | {
      readonly kind: "study";
      readonly file: string;
      readonly line: number;
      readonly column: number;
      readonly axis: string;
    }
  | { readonly kind: "default" };

/** A human phrase for an origin: `"--batch-size 32" on the command line`, `exp.yaml:4:3`, ... */
export function describeOrigin(origin: Origin): string {
  switch (origin.kind) {
    case "cli":
      return `"${maskUriCredentials(origin.token)}" on the command line`;
    case "code":
      return `the ${origin.argument} argument`;
    case "file":
      return `${maskUriCredentials(origin.file)}:${origin.line}:${origin.column}`;
    case "env":
      return `environment variable ${origin.variable}`;
    case "legacy":
      return `legacy params ${origin.file}, key "${origin.key}"`;
    case "run":
      return `previous run ${origin.dir}`;
    case "payload":
      return `payload file ${origin.file}`;
    case "inferred":
      return `inferred from ${origin.from}`;
    case "study":
      return `study axis ${origin.axis} (${origin.file}:${origin.line}:${origin.column})`;
    case "default":
      return "the default";
  }
}
