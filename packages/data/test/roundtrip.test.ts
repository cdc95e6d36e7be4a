import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DTYPES, encodeNpy, loadNpz, type NdArray, parseNpy, saveNpz } from "../src/index.ts";
import { anyNdArrayArb, ndArrayArb } from "./arbitraries.ts";
import { tempDir } from "./helpers.ts";

const dir = tempDir();
let counter = 0;

describe("saveNpz", () => {
  for (const dtype of DTYPES) {
    it(`round-trips random ${dtype} arrays of any shape through loadNpz`, async () => {
      await fc.assert(
        fc.asyncProperty(ndArrayArb(dtype), fc.boolean(), async (array, compress) => {
          const file = join(dir, `p${counter++}.npz`);
          await saveNpz(file, { a: array }, { compress });
          const back = (await loadNpz(file)).arrays.get("a");
          expect(back).toEqual(array);
        }),
        { numRuns: 30, verbose: 1 },
      );
    });
  }

  it("round-trips several arrays of mixed dtypes in one file", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !k.includes("\0")),
          anyNdArrayArb,
          {
            maxKeys: 5,
          },
        ),
        async (arrays) => {
          const file = join(dir, `m${counter++}.npz`);
          await saveNpz(file, arrays, { compress: counter % 2 === 0 });
          const back = await loadNpz(file);
          expect(Object.fromEntries(back.arrays)).toEqual({ ...arrays });
        },
      ),
      { numRuns: 40, verbose: 1 },
    );
  });
});

describe("parseNpy", () => {
  it("reads back what encodeNpy writes, for every dtype", () => {
    fc.assert(
      fc.property(anyNdArrayArb, (array: NdArray) => {
        expect(parseNpy(encodeNpy(array))).toEqual(array);
      }),
      { numRuns: 200, verbose: 1 },
    );
  });
});
