// Secret values typed on the command line or set in the environment: found with the flag table, so
// they can be masked in the argv a manifest records and scrubbed from anything the program prints.
import { isSecretName, maskUriCredentials, SECRET_MASK } from "@trainkit/config-meta";
import { envVariables, type PayloadKind } from "@trainkit/factory";
import { type FlagSpec, flagTable } from "./flags.ts";

function isSecretFlag(spec: FlagSpec | undefined, name: string): boolean {
  if (spec?.kind === "field")
    return spec.target.field.meta.secret === true || isSecretName(spec.target.field.key);
  return spec === undefined && isSecretName(name);
}

function isSecretSetPath(kind: PayloadKind, path: string): boolean {
  const target = flagTable(kind).targets.get(path);
  return target?.field.meta.secret === true || isSecretName(path);
}

interface Found {
  /** argv with every secret value replaced by `***` (and URI passwords masked). */
  readonly argv: string[];
  /** The secret values themselves, to scrub from output. */
  readonly values: string[];
}

/** Walks argv the way `parseArgv` does, finding the value of every secret flag and `--set`. */
function scan(kind: PayloadKind, argv: readonly string[]): Found {
  const table = flagTable(kind);
  const out: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith("--")) {
      out.push(maskUriCredentials(token));
      continue;
    }
    const eq = token.indexOf("=");
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const spec = table.flags.get(name) ?? table.flags.get(name.replace(/_/g, "-"));
    const secretFlag = isSecretFlag(spec, name);
    const isSet = spec?.kind === "option" && spec.option === "set";
    const takesNext = eq === -1 && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--");
    if (secretFlag) {
      if (eq !== -1) {
        values.push(token.slice(eq + 1));
        out.push(`${token.slice(0, eq)}=${SECRET_MASK}`);
      } else if (takesNext) {
        out.push(token);
        values.push(argv[++i]!);
        out.push(SECRET_MASK);
      } else out.push(token);
      continue;
    }
    if (isSet) {
      const assignment = eq !== -1 ? token.slice(eq + 1) : takesNext ? argv[++i]! : undefined;
      if (eq === -1) out.push(token);
      if (assignment === undefined) continue;
      const at = assignment.indexOf("=");
      const secret = at > 0 && isSecretSetPath(kind, assignment.slice(0, at));
      if (secret) values.push(assignment.slice(at + 1));
      const masked = secret ? `${assignment.slice(0, at)}=${SECRET_MASK}` : maskUriCredentials(assignment);
      out.push(eq !== -1 ? `${token.slice(0, eq)}=${masked}` : masked);
      continue;
    }
    out.push(maskUriCredentials(token));
  }
  return { argv: out, values: values.filter((v) => v !== "") };
}

/** argv as a manifest records it: secret values (and URI passwords) replaced by `***`. */
export function redactArgv(kind: PayloadKind, argv: readonly string[]): string[] {
  return scan(kind, argv).argv;
}

/** The secret values in argv and in `TRAINKIT_*` variables of secret settings. */
export function secretValues(
  kind: PayloadKind,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const values = scan(kind, argv).values;
  const index = envVariables();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("TRAINKIT_") || value === undefined || value === "") continue;
    const target = index.get(name);
    if (target?.field.meta.secret === true || isSecretName(name)) values.push(value);
  }
  return values;
}

/** A function that replaces every known secret value in a text by `***`, and masks URI passwords. */
export function createScrubber(values: Iterable<string>): (text: string) => string {
  // Longest first, so a secret that contains another is masked whole. Values under 4 characters
  // would mask ordinary words; the sources mask those (this is only the net under them).
  const list = [...new Set(values)].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const value of list) if (out.includes(value)) out = out.split(value).join(SECRET_MASK);
    return maskUriCredentials(out);
  };
}
