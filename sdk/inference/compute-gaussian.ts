// compute_gaussian of nnU-Net (inference/sliding_window_prediction.py): the importance map that weights each
// sliding-window tile, a delta at tile//2 blurred with scipy.ndimage.gaussian_filter(sigma=tile*sigma_scale,
// mode='constant', cval=0, truncate=4), scaled so that its maximum is value_scaling_factor, cast to float16, and
// with exact zeros replaced by the smallest non-zero value (zeros would give 0/0 at tile corners).

import { InputError } from "../errors.js";
import { roundToFloat16 } from "./float16.js";

/** scipy.ndimage._gaussian_kernel1d(sigma, order=0, radius=int(truncate*sigma+0.5)): normalised float64 weights. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  const radius = Math.trunc(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  const c = -0.5 / (sigma * sigma);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(c * i * i);
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/**
 * The Gaussian importance map of a tile (C-order over `tileSize`), values as float16 would hold them.
 * Because the input is a delta, scipy's separable filter reduces to the outer product of the 1-D kernels placed at
 * the centre; the float16 cast hides the last-bit differences of the multiplication order.
 * @example computeGaussian([8, 8])[4 * 8 + 4] // 10
 */
export function computeGaussian(tileSize: readonly number[], { sigmaScale = 1 / 8, valueScalingFactor = 10 } = {}): Float32Array {
  if (tileSize.length === 0 || tileSize.some((t) => !Number.isInteger(t) || t < 1)) {
    throw new InputError(`invalid tile size [${tileSize}] for the Gaussian importance map`);
  }
  const axes = tileSize.map((t) => {
    const k = gaussianKernel1d(t * sigmaScale);
    const r = (k.length - 1) / 2;
    const centre = Math.floor(t / 2);
    const v = new Float64Array(t);
    for (let i = 0; i < t; i++) {
      const o = i - centre + r;
      v[i] = o >= 0 && o < k.length ? k[o]! : 0;
    }
    return v;
  });
  const n = tileSize.reduce((a, b) => a * b, 1);
  const full = new Float64Array(n);
  let max = 0;
  const nd = tileSize.length;
  const idx = new Array<number>(nd).fill(0);
  for (let i = 0; i < n; i++) {
    let p = 1;
    for (let d = 0; d < nd; d++) p *= axes[d]![idx[d]!]!;
    full[i] = p;
    if (p > max) max = p;
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d]! < tileSize[d]!) break;
      idx[d] = 0;
    }
  }
  const out = new Float32Array(n);
  let minNonZero = Infinity;
  for (let i = 0; i < n; i++) {
    const h = roundToFloat16((full[i]! / max) * valueScalingFactor);
    out[i] = h;
    if (h !== 0 && h < minNonZero) minNonZero = h;
  }
  for (let i = 0; i < n; i++) if (out[i] === 0) out[i] = minNonZero;
  return out;
}
