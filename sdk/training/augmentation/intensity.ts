// batchgeneratorsv2 MultiplicativeBrightnessTransform, ContrastTransform and GammaTransform with nnU-Net's settings
// (per channel, not synchronised), in place on the image channels.

import type { RandomState } from "../../util/random-state.js";
import { bgContrast, channelStats, numVoxels, type Sample } from "./sample.js";

/** multiplier_range BGContrast((0.75, 1.25)), one factor per channel: `img[c] *= m`. */
export function multiplicativeBrightness(s: Sample, rs: RandomState, range: [number, number] = [0.75, 1.25]): void {
  const n = numVoxels(s.shape);
  for (let c = 0; c < s.channels; c++) {
    const m = bgContrast(rs, range);
    for (let i = c * n; i < (c + 1) * n; i++) s.image[i] = s.image[i]! * m;
  }
}

/** contrast_range BGContrast((0.75, 1.25)), preserve_range: `clamp((x - mean) * m + mean, min, max)`. */
export function contrast(s: Sample, rs: RandomState, range: [number, number] = [0.75, 1.25]): void {
  const n = numVoxels(s.shape);
  const factors = Array.from({ length: s.channels }, () => bgContrast(rs, range));
  for (let c = 0; c < s.channels; c++) {
    const { mean, min, max } = channelStats(s.image, c * n, n);
    const m = factors[c]!;
    for (let i = c * n; i < (c + 1) * n; i++) {
      const v = (s.image[i]! - mean) * m + mean;
      s.image[i] = v < min ? min : v > max ? max : v;
    }
  }
}

/**
 * GammaTransform(gamma BGContrast((0.7, 1.5)), p_invert_image, p_retain_stats 1): per channel, optionally on the
 * inverted image, `((x - min) / range) ** g * range + min`, then mean and std (ddof 1) restored.
 */
export function gamma(s: Sample, rs: RandomState, pInvert: number, range: [number, number] = [0.7, 1.5]): void {
  const n = numVoxels(s.shape);
  const gammas = Array.from({ length: s.channels }, () => bgContrast(rs, range));
  const invert = Array.from({ length: s.channels }, () => rs.randomSample() < pInvert);
  const img = s.image;
  for (let c = 0; c < s.channels; c++) {
    const off = c * n;
    const sign = invert[c] ? -1 : 1;
    if (sign < 0) for (let i = off; i < off + n; i++) img[i] = -img[i]!;
    const before = channelStats(img, off, n);
    const rnge = before.max - before.min;
    const div = Math.max(rnge, 1e-7);
    const g = gammas[c]!;
    for (let i = off; i < off + n; i++) img[i] = Math.pow((img[i]! - before.min) / div, g) * rnge + before.min;
    const after = channelStats(img, off, n);
    const k = before.std1 / Math.max(after.std1, 1e-7);
    for (let i = off; i < off + n; i++) img[i] = (img[i]! - after.mean) * k + before.mean;
    if (sign < 0) for (let i = off; i < off + n; i++) img[i] = -img[i]!;
  }
}
