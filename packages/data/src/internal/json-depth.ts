// How deeply a JSON text nests, found by a linear scan (no recursion), so that a tiny file of
// `[[[[...` is refused before a recursive reader overflows the stack on it.

/** The deepest nesting a trainkit JSON file may have; real payloads nest 3 levels. */
export const MAX_JSON_DEPTH = 64;

/** The maximum nesting depth of `[` and `{` outside strings (0 for a scalar). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
