// Keeping secrets out of every output. Fields marked `secret` are masked by whoever holds their
// value; this module is the safety net for the rest: a setting whose *name* says it holds a secret
// (in any spelling: `mlflow_tracking_uri`, `MLFLOW-TRACKING-URI`, `apiToken`, ...) is shown as
// `***` even when it is not a known setting, and the password of any `scheme://user:password@host`
// URI is masked wherever trainkit prints or saves a value (docs/decisions.md, "Secrets").

/** What a secret value is shown as, everywhere. */
export const SECRET_MASK = "***";

/** Words that make a setting's name secret, compared without case, `_`, `-` or `.`. */
export const SECRET_NAME_WORDS = [
  "password",
  "passwd",
  "secret",
  "token",
  "credential",
  "apikey",
  "accesskey",
  "privatekey",
  "trackinguri",
] as const;

function normalise(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** Whether a setting name (the last segment of a dotted path, or a flag) names a secret. */
export function isSecretName(name: string): boolean {
  const last = name.split(/[.=]/).filter(Boolean).at(-1) ?? name;
  const normal = normalise(last.replace(/^-+/, ""));
  return SECRET_NAME_WORDS.some((word) => normal.includes(word));
}

// `scheme://user:password@` (the user part may be empty). The password ends at the last `@` before
// the path, so a password holding `@` or `:` is masked whole.
const URI_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#]*@/gi;

/** Masks the password of every `scheme://user:password@host` in a text: `https://u:***@host`. */
export function maskUriCredentials(text: string): string {
  return text.includes("://") ? text.replace(URI_CREDENTIALS, `$1${SECRET_MASK}@`) : text;
}

/** A value as it may be shown or saved: masked when secret, URI passwords masked in every string. */
export function redactValue(value: unknown, secret = false): unknown {
  if (secret && value !== null && value !== undefined) return SECRET_MASK;
  if (typeof value === "string") return maskUriCredentials(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v));
  return value;
}
