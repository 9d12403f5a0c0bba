// batchgeneratorsv2 GaussianNoiseTransform and GaussianBlurTransform with nnU-Net's parameters, in place on the
// image channels. The blur is separable (one 1-D kernel per axis, `truncate` 6, reflect padding) like blur_dimension.

import type { RandomState } from "../../util/random-state.js";
import { Gauss, numVoxels, type Sample } from "./sample.js";
import { roundHalfEven } from "../../util/python-math.js";

/** noise_variance (0, 0.1), synchronised channels: one sigma (used as the std) for all channels. */
export function gaussianNoise(s: Sample, rs: RandomState, gauss: Gauss, range: [number, number] = [0, 0.1]): void {
  const sigma = rs.uniform(range[0], range[1]);
  const img = s.image;
  for (let i = 0; i < img.length; i++) img[i] = img[i]! + sigma * gauss.next();
}

/** `_build_kernel(sigma, truncate)`: an odd-length normalised Gaussian. */
export function gaussianKernel1d(sigma: number, truncate = 6): Float64Array {
  const n = sigma * truncate + 0.5;
  const r = roundHalfEven(n);
  const size = r % 2 === 1 ? r : n - r >= 0 ? r + 1 : r - 1;
  const half = (size - 1) / 2;
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = -half + i;
    k[i] = Math.exp(-0.5 * (x / sigma) ** 2);
    sum += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i] = k[i]! / sum;
  return k;
}

/** torch 'reflect' padding index (edge not repeated), folded repeatedly for pads longer than the axis. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

/** Blurs channel `c` along spatial axis `axis` (0..2) with `kernel`. `line` is scratch of at least the axis length. */
export function blurAxis(s: Sample, c: number, axis: number, kernel: Float64Array, line: Float64Array): void {
  const [D, H, W] = s.shape;
  const n = s.shape[axis]!;
  if (n === 1) return;
  const stride = axis === 0 ? H * W : axis === 1 ? W : 1;
  const base = c * numVoxels(s.shape);
  const half = (kernel.length - 1) / 2;
  const outer = axis === 0 ? [H * W, 1] : axis === 1 ? [D, H * W] : [D * H, W];
  const img = s.image;
  for (let a = 0; a < outer[0]!; a++) {
    // Start of this line: for axis 0, a indexes (y, x); for axis 1, a indexes z; for axis 2, a indexes (z, y).
    const start = base + (axis === 0 ? a : a * outer[1]!);
    const innerCount = axis === 1 ? W : 1;
    for (let b = 0; b < innerCount; b++) {
      const s0 = start + b;
      for (let i = 0; i < n; i++) line[i] = img[s0 + i * stride]!;
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let k = 0; k < kernel.length; k++) v += kernel[k]! * line[reflect(i + k - half, n)]!;
        img[s0 + i * stride] = v;
      }
    }
  }
}

/**
 * blur_sigma (0.5, 1), synchronize_channels False, synchronize_axes False, p_per_channel 0.5: each channel is blurred
 * with probability 0.5, with its own sigma per axis. `spatialAxes` lists the axes that exist (2D: [1, 2]).
 */
export function gaussianBlur(s: Sample, rs: RandomState, spatialAxes: readonly number[], sigmaRange: [number, number] = [0.5, 1]): void {
  const apply = Array.from({ length: s.channels }, () => rs.randomSample() < 0.5);
  const sigmas = apply.map((a) => (a ? spatialAxes.map(() => rs.uniform(sigmaRange[0], sigmaRange[1])) : []));
  const line = new Float64Array(Math.max(...s.shape));
  for (let c = 0; c < s.channels; c++) {
    if (!apply[c]) continue;
    spatialAxes.forEach((axis, k) => blurAxis(s, c, axis, gaussianKernel1d(sigmas[c]![k]!, 6), line));
  }
}
