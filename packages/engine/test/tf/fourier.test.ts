import type { Tensor, Tensor2D } from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../src/tf/backend.ts";
import { dft2, fftshift2, idft2, ifftshift2 } from "../../src/tf/fourier.ts";
import { tf } from "../../src/tf/tfjs.ts";
import { onBackend, randomArray, relativeError } from "./helpers.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

/** Naive 2-D DFT in double precision: fft2(x)/n, optionally fftshifted. Planes [m, n, n]. */
function naiveDft2(re: Float32Array, im: Float32Array, m: number, n: number, shift: boolean) {
  const outRe = new Float64Array(m * n * n);
  const outIm = new Float64Array(m * n * n);
  const s = shift ? Math.floor(n / 2) : 0;
  for (let p = 0; p < m; p++) {
    for (let ku = 0; ku < n; ku++) {
      for (let kv = 0; kv < n; kv++) {
        const fu = ku - s;
        const fv = kv - s;
        let sr = 0;
        let si = 0;
        for (let a = 0; a < n; a++) {
          for (let b = 0; b < n; b++) {
            const ang = (-2 * Math.PI * (fu * a + fv * b)) / n;
            const xr = re[(p * n + a) * n + b] as number;
            const xi = im[(p * n + a) * n + b] as number;
            sr += xr * Math.cos(ang) - xi * Math.sin(ang);
            si += xr * Math.sin(ang) + xi * Math.cos(ang);
          }
        }
        outRe[(p * n + ku) * n + kv] = sr / n;
        outIm[(p * n + ku) * n + kv] = si / n;
      }
    }
  }
  return { re: outRe, im: outIm };
}

describe("dft2", () => {
  for (const n of [8, 6, 5]) {
    for (const shift of [false, true]) {
      it(`equals a naive DFT (N = ${n}, shift ${shift})`, async () => {
        const m = 3;
        const re = randomArray(m * n * n, n);
        const im = randomArray(m * n * n, n + 100);
        const got = await onBackend("wasm", () =>
          tf.tidy(() => {
            const y = dft2({ re: tf.tensor3d(re, [m, n, n]), im: tf.tensor3d(im, [m, n, n]) }, { shift });
            return { re: y.re.dataSync(), im: y.im.dataSync() };
          }),
        );
        const ref = naiveDft2(re, im, m, n, shift);
        expect(relativeError(got.re, ref.re)).toBeLessThan(1e-5);
        expect(relativeError(got.im, ref.im)).toBeLessThan(1e-5);
      });
    }
  }

  it("is inverted by idft2 and preserves energy (Parseval), on [B, C, N, N]", async () => {
    const shape: [number, number, number, number] = [2, 3, 8, 8];
    const size = 2 * 3 * 64;
    const re = randomArray(size, 7);
    const im = randomArray(size, 8);
    for (const shift of [false, true]) {
      const out = await onBackend("wasm", () =>
        tf.tidy(() => {
          const x = { re: tf.tensor4d(re, shape), im: tf.tensor4d(im, shape) };
          const y = dft2(x, { shift });
          const back = idft2(y, { shift });
          const energy = (z: { re: Tensor; im: Tensor }) =>
            tf.sum(tf.add(tf.square(z.re), tf.square(z.im))).dataSync()[0] as number;
          return { re: back.re.dataSync(), im: back.im.dataSync(), ex: energy(x), ey: energy(y) };
        }),
      );
      expect(relativeError(out.re, re)).toBeLessThan(1e-5);
      expect(relativeError(out.im, im)).toBeLessThan(1e-5);
      expect(Math.abs(out.ey - out.ex) / out.ex).toBeLessThan(1e-5);
    }
  });

  it("puts the zero frequency of a constant image at the centre when shifted", async () => {
    const n = 8;
    const out = await onBackend("wasm", () =>
      tf.tidy(() =>
        Array.from(dft2({ re: tf.ones([n, n]), im: tf.zeros([n, n]) }, { shift: true }).re.dataSync()),
      ),
    );
    expect(out[(n / 2) * n + n / 2]).toBeCloseTo(n, 4);
    expect(out.reduce((a, v) => a + Math.abs(v), 0)).toBeCloseTo(n, 3);
  });

  it("has the cpu autodiff gradient of the same transform written with plain matmuls", async () => {
    const n = 8;
    const m = 2;
    const re = randomArray(m * n * n, 31);
    const im = randomArray(m * n * n, 32);
    const weights = randomArray(m * n * n, 33, 0, 1);
    // Plain reference: Y = R^T X R with dense R (forward, shifted), |Y|^2 weighted.
    const s = n / 2;
    const rRe = new Float32Array(n * n);
    const rIm = new Float32Array(n * n);
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < n; j++) {
        const ang = (-2 * Math.PI * k * (j - s)) / n;
        rRe[k * n + j] = Math.cos(ang) / Math.sqrt(n);
        rIm[k * n + j] = Math.sin(ang) / Math.sqrt(n);
      }
    }
    const loss =
      (custom: boolean) =>
      (xr: Tensor, xi: Tensor): Tensor => {
        const w = tf.tensor3d(weights, [m, n, n]);
        let yr: Tensor;
        let yi: Tensor;
        if (custom) {
          const y = dft2({ re: xr, im: xi }, { shift: true });
          yr = y.re;
          yi = y.im;
        } else {
          const Rr = tf.tensor2d(rRe, [n, n]);
          const Ri = tf.tensor2d(rIm, [n, n]);
          const RrT = tf.transpose(Rr) as Tensor2D;
          const RiT = tf.transpose(Ri) as Tensor2D;
          const planes = (t: Tensor) => tf.unstack(t) as Tensor2D[];
          const outR: Tensor[] = [];
          const outI: Tensor[] = [];
          planes(xr).forEach((pr, i) => {
            const pi = planes(xi)[i] as Tensor2D;
            // Z = X R; Y = R^T Z
            const zr = tf.sub(tf.matMul(pr, Rr), tf.matMul(pi, Ri));
            const zi = tf.add(tf.matMul(pr, Ri), tf.matMul(pi, Rr));
            outR.push(tf.sub(tf.matMul(RrT, zr), tf.matMul(RiT, zi)));
            outI.push(tf.add(tf.matMul(RrT, zi), tf.matMul(RiT, zr)));
          });
          yr = tf.stack(outR);
          yi = tf.stack(outI);
        }
        return tf.sum(tf.mul(w, tf.add(tf.square(yr), tf.square(yi))));
      };
    const run = (custom: boolean) => () =>
      tf.tidy(() =>
        tf
          .grads(loss(custom))([tf.tensor3d(re, [m, n, n]), tf.tensor3d(im, [m, n, n])])
          .map((g) => g.dataSync()),
      );
    const ref = await onBackend("cpu", run(false));
    const got = await onBackend("wasm", run(true));
    expect(relativeError(got[0] as Float32Array, ref[0] as Float32Array)).toBeLessThan(1e-5);
    expect(relativeError(got[1] as Float32Array, ref[1] as Float32Array)).toBeLessThan(1e-5);
  });
});

describe("fftshift2", () => {
  it("rolls the last two axes by floor(N/2), and ifftshift2 undoes it (odd and even sizes)", async () => {
    const out = await onBackend("wasm", () =>
      tf.tidy(() => {
        const x = tf.tensor3d(
          Array.from({ length: 2 * 3 * 4 }, (_, i) => i),
          [2, 3, 4],
        );
        const y = fftshift2(x);
        return { y: Array.from(y.dataSync()), back: Array.from(ifftshift2(y).dataSync()) };
      }),
    );
    // Plane 0 is [[0,1,2,3],[4,5,6,7],[8,9,10,11]]: rows roll by 1, columns by 2.
    expect(out.y.slice(0, 12)).toEqual([10, 11, 8, 9, 2, 3, 0, 1, 6, 7, 4, 5]);
    expect(out.back).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });
});
