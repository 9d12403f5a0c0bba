// batchgenerators.augmentations.utils.resize_segmentation: every label (np.unique order, so -1 first) is resized as a
// one-hot float mask with skimage resize(order, mode="edge", clip=True, anti_aliasing=False), and voxels where the
// mask reaches 0.5 get that label; later labels overwrite earlier ones, voxels no label reaches stay 0.

import { linearTaps, resize } from "./zoom.js";

/** Sorted distinct values (np.unique). */
function uniqueSorted(src: Float64Array): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < src.length; i++) seen.add(src[i]!);
  return [...seen].sort((a, b) => a - b);
}

/**
 * Order 1: the one-hot masks are never materialised. A voxel whose 8 taps all carry one label gets it (that mask is
 * ~1 there, every other mask 0). Elsewhere each label present among the taps is evaluated exactly as scipy sums it
 * (same term order and products), from the highest label down, and the first that reaches 0.5 wins, which is what
 * "later labels overwrite earlier ones" means. Works on int16 labels directly (no float64 copy) and writes `out`
 * (length prod(newShape)), which may be int16 since every result is one of the input labels or 0.
 */
export function resizeSegmentationLinearInto<T extends Float64Array | Int16Array>(
  src: Float64Array | Int16Array,
  shape: readonly number[],
  newShape: readonly number[],
  out: T,
): T {
  const [n0, n1, n2] = shape as [number, number, number];
  const [m0, m1, m2] = newShape as [number, number, number];
  const t0 = linearTaps(n0, m0),
    t1 = linearTaps(n1, m1),
    t2 = linearTaps(n2, m2);
  const s0 = n1 * n2;
  const lab = new Float64Array(8);
  const w = new Float64Array(8);
  // one call per output plane: a function called many times per case gets complete type feedback and is optimised
  // once, while one long call is recompiled on the fly in every case (V8 collects no feedback for its first part)
  for (let a = 0; a < m0; a++) {
    const za = t0.index[2 * a]! * s0,
      zb = t0.index[2 * a + 1]! * s0,
      wza = t0.weight[2 * a]!,
      wzb = t0.weight[2 * a + 1]!;
    // an output plane on an input plane (e.g. the unchanged slice axis of separate z): the second plane's taps weigh
    // exactly 0, add nothing to any label's sum and repeat the first plane's labels, so 4 taps give the same result
    if (za === zb && wzb === 0 && wza === 1) segPlaneIn2d(src, out, a * m1 * m2, za, t1.index, t1.weight, t2.index, t2.weight, n2, m1, m2, lab, w);
    else segPlane(src, out, a * m1 * m2, za, zb, wza, wzb, t1.index, t1.weight, t2.index, t2.weight, n2, m1, m2, lab, w);
  }
  return out;
}

/** segPlane for an output plane lying on input plane `za` (first-axis weights 1 and 0). */
function segPlaneIn2d(
  src: Float64Array | Int16Array,
  out: Float64Array | Int16Array,
  p: number,
  za: number,
  t1i: Int32Array,
  t1w: Float64Array,
  t2i: Int32Array,
  t2w: Float64Array,
  n2: number,
  m1: number,
  m2: number,
  lab: Float64Array,
  w: Float64Array,
): void {
  lab.fill(-Infinity, 4, 8); // taps 4..7 take no part (a label of -Infinity is never picked)
  for (let b = 0; b < m1; b++) {
    const y0 = za + t1i[2 * b]! * n2,
      y1 = za + t1i[2 * b + 1]! * n2;
    const wy0 = t1w[2 * b]!,
      wy1 = t1w[2 * b + 1]!;
    for (let c = 0; c < m2; c++) {
      const x0 = t2i[2 * c]!,
        x1 = t2i[2 * c + 1]!;
      const l0 = src[y0 + x0]!;
      if (src[y0 + x1] === l0 && src[y1 + x0] === l0 && src[y1 + x1] === l0) {
        out[p++] = l0;
        continue;
      }
      const wx0 = t2w[2 * c]!,
        wx1 = t2w[2 * c + 1]!;
      // 1 * wy * wx as in segPlane (wza = 1), so every product is the same
      lab[0] = l0;
      w[0] = 1 * wy0 * wx0;
      lab[1] = src[y0 + x1]!;
      w[1] = 1 * wy0 * wx1;
      lab[2] = src[y1 + x0]!;
      w[2] = 1 * wy1 * wx0;
      lab[3] = src[y1 + x1]!;
      w[3] = 1 * wy1 * wx1;
      out[p++] = mixedLabel(lab, w);
    }
  }
}

/**
 * The label of a voxel whose taps (labels `lab`, weights `w`) are not all one label: each label present is summed
 * as scipy sums its one-hot mask, from the highest label down, and the first reaching 0.5 wins; 0 if none does.
 */
function mixedLabel(lab: Float64Array, w: Float64Array): number {
  let below = Infinity;
  for (;;) {
    let label = -Infinity;
    for (let k = 0; k < 8; k++) {
      const l = lab[k]!;
      if (l < below && l > label) label = l;
    }
    if (label === -Infinity) return 0;
    // (1 * wz) * wy * wx == wz * wy * wx exactly, and zero terms add nothing, so this is scipy's sum for the mask.
    let t = 0.0;
    for (let k = 0; k < 8; k++) if (lab[k] === label) t += w[k]!;
    if (t >= 0.5) return label;
    below = label;
  }
}

/** Output plane starting at `p`: taps za/zb (weights wza/wzb) along the first axis, t1 and t2 along the others. */
function segPlane(
  src: Float64Array | Int16Array,
  out: Float64Array | Int16Array,
  p: number,
  za: number,
  zb: number,
  wza: number,
  wzb: number,
  t1i: Int32Array,
  t1w: Float64Array,
  t2i: Int32Array,
  t2w: Float64Array,
  n2: number,
  m1: number,
  m2: number,
  lab: Float64Array,
  w: Float64Array,
): void {
  for (let b = 0; b < m1; b++) {
    const y0 = t1i[2 * b]! * n2,
      y1 = t1i[2 * b + 1]! * n2;
    const wy0 = t1w[2 * b]!,
      wy1 = t1w[2 * b + 1]!;
    for (let c = 0; c < m2; c++) {
      const x0 = t2i[2 * c]!,
        x1 = t2i[2 * c + 1]!;
      const l0 = src[za + y0 + x0]!;
      if (
        src[za + y0 + x1] === l0 &&
        src[za + y1 + x0] === l0 &&
        src[za + y1 + x1] === l0 &&
        src[zb + y0 + x0] === l0 &&
        src[zb + y0 + x1] === l0 &&
        src[zb + y1 + x0] === l0 &&
        src[zb + y1 + x1] === l0
      ) {
        out[p++] = l0;
        continue;
      }
      const wx0 = t2w[2 * c]!,
        wx1 = t2w[2 * c + 1]!;
      lab[0] = l0;
      w[0] = wza * wy0 * wx0;
      lab[1] = src[za + y0 + x1]!;
      w[1] = wza * wy0 * wx1;
      lab[2] = src[za + y1 + x0]!;
      w[2] = wza * wy1 * wx0;
      lab[3] = src[za + y1 + x1]!;
      w[3] = wza * wy1 * wx1;
      lab[4] = src[zb + y0 + x0]!;
      w[4] = wzb * wy0 * wx0;
      lab[5] = src[zb + y0 + x1]!;
      w[5] = wzb * wy0 * wx1;
      lab[6] = src[zb + y1 + x0]!;
      w[6] = wzb * wy1 * wx0;
      lab[7] = src[zb + y1 + x1]!;
      w[7] = wzb * wy1 * wx1;
      out[p++] = mixedLabel(lab, w);
    }
  }
}

/**
 * resize_segmentation(seg, new_shape, order) for a 3-D float64 label array; returns float64 labels.
 * @example resizeSegmentation(new Float64Array([1, 2]), [1, 1, 2], [1, 1, 4], 1) // [1, 1, 2, 2]
 */
export function resizeSegmentation(src: Float64Array, shape: readonly number[], newShape: readonly number[], order: number): Float64Array {
  if (order === 0) return resize(src, shape, newShape, 0);
  if (order === 1) return resizeSegmentationLinearInto(src, shape, newShape, new Float64Array(newShape.reduce((a, b) => a * b, 1)));
  const out = new Float64Array(newShape.reduce((a, b) => a * b, 1));
  const mask = new Float64Array(src.length);
  for (const label of uniqueSorted(src)) {
    for (let i = 0; i < src.length; i++) mask[i] = src[i] === label ? 1 : 0;
    const m = resize(mask, shape, newShape, order);
    for (let i = 0; i < out.length; i++) if (m[i]! >= 0.5) out[i] = label;
  }
  return out;
}
