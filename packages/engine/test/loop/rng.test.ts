import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isLoopError } from "../../src/loop/errors.ts";
import { createRng, deriveSeed } from "../../src/loop/rng.ts";

describe("createRng", () => {
  it("produces the published xoshiro128** reference outputs from state [1, 2, 3, 4]", () => {
    const rng = createRng(0);
    rng.setState({ algorithm: "xoshiro128**", s: [1, 2, 3, 4], spare: null });
    const out = Array.from({ length: 6 }, () => rng.next());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("gives the same stream for the same seed and different streams for different seeds or names", () => {
    const draw = (seed: number, stream?: string) => {
      const r = createRng(seed, stream);
      return Array.from({ length: 8 }, () => r.next());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(42, "shuffle")).not.toEqual(draw(42));
    expect(draw(42, "shuffle")).not.toEqual(draw(42, "grouping"));
    expect(deriveSeed(42, "shuffle")).toBe(deriveSeed(42, "shuffle"));
  });

  it("continues the exact stream after a JSON round trip of its state, mid Box-Muller pair", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat(50), (seed, warmup) => {
        const a = createRng(seed);
        for (let i = 0; i < warmup; i++) a.next();
        a.normal(); // leaves a spare deviate in the state
        const saved = JSON.parse(JSON.stringify(a.getState()));
        const b = createRng(7);
        b.setState(saved);
        const seqA = [a.normal(), a.uniform(), a.int(10), a.next(), a.normal()];
        const seqB = [b.normal(), b.uniform(), b.int(10), b.next(), b.normal()];
        expect(seqB).toEqual(seqA);
      }),
    );
  });

  it("keeps uniform() in [0, 1) and int(n) in [0, n)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (seed, n) => {
          const r = createRng(seed);
          for (let i = 0; i < 20; i++) {
            const u = r.uniform();
            expect(u >= 0 && u < 1).toBe(true);
            const k = r.int(n);
            expect(Number.isInteger(k) && k >= 0 && k < n).toBe(true);
          }
        },
      ),
    );
  });

  it("draws int(n) without visible bias and normal() with mean 0 and variance 1", () => {
    const r = createRng(123);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
    let sum = 0;
    let sq = 0;
    const n = 40000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.03);
  });

  it("shuffles and permutes into permutations, and choose() returns distinct values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat(200), (seed, n) => {
        const r = createRng(seed);
        const p = r.permutation(n);
        expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        const arr = Array.from({ length: n }, (_, i) => `x${i}`);
        expect(r.shuffle(arr.slice()).sort()).toEqual(arr.slice().sort());
        const k = Math.floor(n / 2);
        const c = r.choose(n, k);
        expect(new Set(c).size).toBe(k);
        for (const v of c) expect(v >= 0 && v < n).toBe(true);
      }),
    );
  });

  it("rejects a bad seed and a state of the wrong shape with INVALID_OPTION / INVALID_STATE", () => {
    expect(() => createRng(-1)).toThrow(/rng seed: must be an integer in \[0, 4294967295\], got -1/);
    const r = createRng(1);
    let error: unknown;
    try {
      r.setState({ algorithm: "xoshiro128**", s: [0, 0, 0, 0], spare: null });
    } catch (e) {
      error = e;
    }
    expect(isLoopError(error, "INVALID_STATE")).toBe(true);
    expect(() => r.int(0)).toThrow(/positive safe integer/);
  });
});
