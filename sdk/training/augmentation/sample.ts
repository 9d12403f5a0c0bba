// The unit the augmentation pipeline works on: one patch of one case, C-contiguous typed arrays in nnU-Net axis order.
// 2D configurations use a depth of 1, so every transform is written once for (C, D, H, W).

import type { RandomState } from "../../util/random-state.js";

export interface Sample {
  /** Image channels, (C, D, H, W) float32. */
  image: Float32Array;
  /** Segmentation, (1, D, H, W): labels, -1 for padding outside the case (until RemoveLabelTransform). */
  seg: Int16Array;
  channels: number;
  /** Spatial shape [D, H, W]. */
  shape: [number, number, number];
}

export const numVoxels = (s: readonly number[]): number => s[0]! * s[1]! * s[2]!;

/**
 * NumPy's legacy `standard_normal` (polar Box–Muller, one cached value), so a seeded run draws the same normals on
 * every machine. One instance per RandomState.
 */
export class Gauss {
  private cached: number | null = null;
  constructor(private readonly rs: RandomState) {}
  next(): number {
    if (this.cached !== null) {
      const v = this.cached;
      this.cached = null;
      return v;
    }
    let x1: number, x2: number, r2: number;
    do {
      x1 = 2 * this.rs.randomSample() - 1;
      x2 = 2 * this.rs.randomSample() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    this.cached = f * x1;
    return f * x2;
  }
}

/** batchgeneratorsv2 `BGContrast(range)`: half of the time a factor below 1 (if the range allows), else above 1. */
export function bgContrast(rs: RandomState, [lo, hi]: readonly [number, number]): number {
  if (rs.randomSample() < 0.5 && lo < 1) return rs.uniform(lo, 1);
  return rs.uniform(Math.max(lo, 1), hi);
}

/** Mean and std (ddof 0 and 1) and min/max of one channel, in float64. */
export function channelStats(a: Float32Array, off: number, n: number): { mean: number; std1: number; min: number; max: number } {
  let s = 0,
    min = Infinity,
    max = -Infinity;
  for (let i = off; i < off + n; i++) {
    const v = a[i]!;
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / n;
  let q = 0;
  for (let i = off; i < off + n; i++) {
    const d = a[i]! - mean;
    q += d * d;
  }
  return { mean, std1: n > 1 ? Math.sqrt(q / (n - 1)) : NaN, min, max };
}
