import { codedErrorGuard } from "@trainkit/config-meta/coded-error";

/** What went wrong. A closed set. */
export type FigureErrorCode =
  /** The data handed to a figure cannot be drawn (no finite value, sizes that disagree, an empty region). */
  | "INVALID_INPUT"
  /** vega, vega-lite or resvg refused the figure (a bug of the spec, or a renderer that cannot load). */
  | "RENDER_FAILED";

/** A figure that cannot be made. Messages name the input and the value. */
export class FigureError extends Error {
  override readonly name = "FigureError";
  readonly code: FigureErrorCode;

  constructor(code: FigureErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Type guard for `FigureError`, optionally of one code; works across package copies. */
export const isFigureError: (value: unknown, code?: FigureErrorCode) => value is FigureError =
  codedErrorGuard<FigureError>("FigureError");
