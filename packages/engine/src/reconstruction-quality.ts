// How close a stitched object is to the true one, over the scanned region.
import type { ScanData } from "./dataset.ts";
import { psnr, ssim } from "./quality.ts";
import { polar, type Stitched, scannedRegion } from "./stitch.ts";

/**
 * PSNR and SSIM of amplitude and phase over the scanned region, after removing the global phase
 * offset and, for the amplitude, the global scale (least squares): with a learned intensity scale the
 * object's overall amplitude is not identifiable from the data, as a global phase is not.
 */
export function reconstructionQuality(
  stitched: Stitched,
  truth: NonNullable<ScanData["object"]>,
): Record<string, number> {
  const { width, height, re, im } = stitched;
  const mask = scannedRegion(stitched);
  let sr = 0;
  let si = 0;
  for (let k = 0; k < mask.length; k++) {
    if (!mask[k]) continue;
    // recon * conj(truth)
    sr += re[k]! * truth.re[k]! + im[k]! * truth.im[k]!;
    si += im[k]! * truth.re[k]! - re[k]! * truth.im[k]!;
  }
  const offset = Math.atan2(si, sr);
  const amp = new Float32Array(mask.length);
  const phase = new Float32Array(mask.length);
  const { amplitude: trueAmp, phase: truePhase } = polar(truth.re, truth.im);
  const cos = Math.cos(-offset);
  const sin = Math.sin(-offset);
  let cross = 0;
  let square = 0;
  for (let k = 0; k < mask.length; k++) {
    const r = re[k]! * cos - im[k]! * sin;
    const i = re[k]! * sin + im[k]! * cos;
    amp[k] = Math.hypot(r, i);
    phase[k] = Math.atan2(i, r);
    if (mask[k]) {
      cross += amp[k]! * trueAmp[k]!;
      square += amp[k]! ** 2;
    }
  }
  const amplitudeScale = square > 0 ? cross / square : 1;
  for (let k = 0; k < mask.length; k++) amp[k]! *= amplitudeScale;
  return {
    amplitudePsnr: psnr(amp, trueAmp, mask),
    amplitudeSsim: ssim(amp, trueAmp, mask, width, height),
    phasePsnr: psnr(phase, truePhase, mask),
    phaseSsim: ssim(phase, truePhase, mask, width, height),
    globalPhaseOffset: offset,
    amplitudeScale,
  };
}
