// skimage.transform.resize(image, new_shape, order, mode="edge", anti_aliasing=False) as scikit-image 0.19.3 runs it:
// scipy.ndimage.zoom(image, new/old, order, mode="nearest", grid_mode=True) (scipy 1.10), then clip to the input's
// [min, max]. For order > 1 scipy pads 12 edge voxels on every side, spline-prefilters the padded array ('reflect'
// boundary init) and evaluates at ((o + 0.5) * in/out - 0.5) + 12. Arrays are 3-D float64, C order; 2-D images are
// passed as 3-D with a leading axis of length 1 (that axis is then an exact identity, as in scipy).

import { filterPoles, splineFilterGain, splineFilterRows, splineWeights } from "./spline.js";

/** Padding scipy adds before prefiltering for mode 'nearest' (`_prepad_for_spline_filter`). */
const NPAD = 12;

/** Lines filtered together along strided axes (a len x BLOCK float64 buffer stays in L2). */
const BLOCK = 64;
/** Contiguous lines filtered together along the last axis. */
const LINES = 32;

/** Per-output-index taps along one axis: input indices (clamped at the borders like scipy 1.10) and weights. */
interface AxisTaps {
  taps: number;
  index: Int32Array;
  weight: Float64Array;
}

/**
 * Taps for output positions 0..nOut-1 along an axis of `n` samples padded by `npad` on both sides. The coordinate is
 * scipy's grid-mode one, ((k + 0.5) * (n / nOut) - 0.5) + npad.
 */
function axisTaps(n: number, nOut: number, order: number, npad: number): AxisTaps {
  const len = n + 2 * npad;
  const taps = order + 1;
  const zoom = nOut === 0 ? 1 : n / nOut;
  const index = new Int32Array(nOut * taps);
  const weight = new Float64Array(nOut * taps);
  const half = order >> 1;
  for (let k = 0; k < nOut; k++) {
    let cc = k;
    cc += 0.5;
    cc *= zoom;
    cc -= 0.5;
    cc += npad;
    const start = (order & 1 ? Math.floor(cc) : Math.floor(cc + 0.5)) - half;
    for (let h = 0; h < taps; h++) {
      // mode 'nearest' in scipy 1.10 leaves the coordinate alone and clamps filter taps that fall outside the array
      // (checked against scipy 1.10.1 bit for bit; older scipy clamped the coordinate and mirrored the taps)
      const idx = Math.min(Math.max(start + h, 0), len - 1);
      index[k * taps + h] = idx;
    }
    if (order > 0) splineWeights(cc, order, weight, k * taps);
    else weight[k * taps] = 1;
  }
  return { taps, index, weight };
}

/**
 * Resamples axis `axis` of a 3-D array with a spline of `order` >= 2 (edge padding, prefilter, evaluation), leaving the
 * other axes alone. Filtering and evaluation along different axes commute, so doing the axes one after another gives
 * scipy's n-d result up to float64 rounding, with a small working buffer instead of a padded copy of the volume.
 */
function splineAlongAxis(src: Float64Array, shape: readonly number[], axis: number, nOut: number, order: number): Float64Array {
  const n = shape[axis]!;
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const len = n + 2 * NPAD;
  const { taps, index, weight } = axisTaps(n, nOut, order, NPAD);
  const poles = filterPoles(order);
  const gain = splineFilterGain(poles);
  const out = new Float64Array(outer * nOut * inner);
  if (inner === 1) {
    // Contiguous lines (last axis): copy LINES lines side by side (transposed) into the buffer, so the recursive
    // filter runs on independent columns instead of one latency-bound line at a time.
    const g = Math.min(outer, LINES);
    const buf = new Float64Array(len * g);
    for (let o0 = 0; o0 < outer; o0 += g) {
      const b = Math.min(g, outer - o0);
      for (let j = 0; j < b; j++) {
        const sb = (o0 + j) * n;
        const first = src[sb]! * gain, last = src[sb + n - 1]! * gain;
        for (let r = 0; r < NPAD; r++) buf[r * b + j] = first;
        for (let r = 0; r < n; r++) buf[(r + NPAD) * b + j] = src[sb + r]! * gain;
        for (let r = NPAD + n; r < len; r++) buf[r * b + j] = last;
      }
      splineFilterRows(buf, len, b, poles, false);
      // Output k of all b lines at once: its taps' weights and rows are loaded once, the rows are read contiguously.
      // Every sum starts from +0 like scipy's (0 + w0 x0 + ...), which matters for the sign of a zero result.
      const ob = o0 * nOut;
      for (let k = 0; k < nOut; k++) {
        const t = k * taps;
        if (taps === 4) {
          const w0 = weight[t]!, w1 = weight[t + 1]!, w2 = weight[t + 2]!, w3 = weight[t + 3]!;
          const r0 = index[t]! * b, r1 = index[t + 1]! * b, r2 = index[t + 2]! * b, r3 = index[t + 3]! * b;
          for (let j = 0, q = ob + k; j < b; j++, q += nOut) out[q] = 0 + w0 * buf[r0 + j]! + w1 * buf[r1 + j]! + w2 * buf[r2 + j]! + w3 * buf[r3 + j]!;
          continue;
        }
        for (let j = 0, q = ob + k; j < b; j++, q += nOut) {
          let v = 0;
          for (let h = 0; h < taps; h++) v += weight[t + h]! * buf[index[t + h]! * b + j]!;
          out[q] = v;
        }
      }
    }
    return out;
  }
  // Strided lines: filter BLOCK neighbouring lines at once, row by row, so every pass streams through a buffer that
  // stays in cache.
  const block = Math.min(inner, BLOCK);
  const buf = new Float64Array(len * block);
  for (let o = 0; o < outer; o++) {
    const srcBase = o * n * inner;
    const outBase = o * nOut * inner;
    for (let j0 = 0; j0 < inner; j0 += block) {
      const b = Math.min(block, inner - j0);
      for (let r = 0; r < len; r++) {
        const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
        const from = srcBase + s * inner + j0;
        const to = r * b;
        for (let j = 0; j < b; j++) buf[to + j] = src[from + j]! * gain;
      }
      splineFilterRows(buf, len, b, poles, false);
      for (let k = 0; k < nOut; k++) {
        const dst = outBase + k * inner + j0;
        const t = k * taps;
        if (taps === 4) {
          // cubic: the four taps in one sweep, summed in the same order as the general loop below
          const w0 = weight[t]!, w1 = weight[t + 1]!, w2 = weight[t + 2]!, w3 = weight[t + 3]!;
          const r0 = index[t]! * b, r1 = index[t + 1]! * b, r2 = index[t + 2]! * b, r3 = index[t + 3]! * b;
          for (let j = 0; j < b; j++) out[dst + j] = w0 * buf[r0 + j]! + w1 * buf[r1 + j]! + w2 * buf[r2 + j]! + w3 * buf[r3 + j]!;
          continue;
        }
        for (let h = 0; h < taps; h++) {
          const w = weight[t + h]!;
          const row = index[t + h]! * b;
          if (h === 0) for (let j = 0; j < b; j++) out[dst + j] = w * buf[row + j]!;
          else for (let j = 0; j < b; j++) out[dst + j] += w * buf[row + j]!;
        }
      }
    }
  }
  return out;
}

/**
 * Orders 0 and 1 (no prefilter, no padding), evaluated like scipy's NI_ZoomShift: for every output voxel the
 * (order+1)^3 taps are visited with the last axis fastest and each term is ((value * wz) * wy) * wx. Keeping that
 * order makes thresholds such as resize_segmentation's `>= 0.5` come out exactly as upstream.
 */
function directLowOrder(src: Float64Array, shape: readonly number[], newShape: readonly number[], order: number): Float64Array {
  const [n0, n1, n2] = shape as [number, number, number];
  const [m0, m1, m2] = newShape as [number, number, number];
  const t0 = axisTaps(n0, m0, order, 0);
  const t1 = axisTaps(n1, m1, order, 0);
  const t2 = axisTaps(n2, m2, order, 0);
  const out = new Float64Array(m0 * m1 * m2);
  const s0 = n1 * n2;
  if (order === 0 && n1 === m1 && n2 === m2) {
    // nearest along axis 0 only (separate z): whole planes are copied
    const plane = n1 * n2;
    for (let a = 0; a < m0; a++) out.set(src.subarray(t0.index[a]! * plane, (t0.index[a]! + 1) * plane), a * plane);
    return out;
  }
  if (order === 0) {
    let p = 0;
    for (let a = 0; a < m0; a++) {
      const ba = t0.index[a]! * s0;
      for (let b = 0; b < m1; b++) {
        const bb = ba + t1.index[b]! * n2;
        for (let c = 0; c < m2; c++) out[p++] = src[bb + t2.index[c]!]!;
      }
    }
    return out;
  }
  let p = 0;
  for (let a = 0; a < m0; a++) {
    const za = t0.index[2 * a]! * s0, zb = t0.index[2 * a + 1]! * s0;
    const wza = t0.weight[2 * a]!, wzb = t0.weight[2 * a + 1]!;
    for (let b = 0; b < m1; b++) {
      const ya = t1.index[2 * b]! * n2, yb = t1.index[2 * b + 1]! * n2;
      const wya = t1.weight[2 * b]!, wyb = t1.weight[2 * b + 1]!;
      for (let c = 0; c < m2; c++) {
        const xa = t2.index[2 * c]!, xb = t2.index[2 * c + 1]!;
        const wxa = t2.weight[2 * c]!, wxb = t2.weight[2 * c + 1]!;
        let t = 0.0;
        t += src[za + ya + xa]! * wza * wya * wxa;
        t += src[za + ya + xb]! * wza * wya * wxb;
        t += src[za + yb + xa]! * wza * wyb * wxa;
        t += src[za + yb + xb]! * wza * wyb * wxb;
        t += src[zb + ya + xa]! * wzb * wya * wxa;
        t += src[zb + ya + xb]! * wzb * wya * wxb;
        t += src[zb + yb + xa]! * wzb * wyb * wxa;
        t += src[zb + yb + xb]! * wzb * wyb * wxb;
        out[p++] = t;
      }
    }
  }
  return out;
}

/** Taps of scipy's order-1 zoom along each axis, exposed for resize_segmentation's per-voxel label evaluation. */
export function linearTaps(n: number, nOut: number): { index: Int32Array; weight: Float64Array } {
  const { index, weight } = axisTaps(n, nOut, 1, 0);
  // A tap with weight exactly 0 adds nothing to a label's sum; pointing it at the other tap lets the caller's
  // "all taps carry one label" shortcut see only the voxels that matter (e.g. an unchanged axis).
  for (let k = 0; k < nOut; k++) if (weight[2 * k + 1] === 0) index[2 * k + 1] = index[2 * k]!;
  return { index, weight };
}

/** Source index of every output position of scipy's order-0 zoom / map_coordinates on nnU-Net's grid along one axis. */
export function nearestIndex(n: number, nOut: number): Int32Array {
  return axisTaps(n, nOut, 0, 0).index;
}

/**
 * skimage.transform.resize(src, newShape, order, mode="edge", anti_aliasing=False, clip) for a 3-D float64 array
 * (skimage 0.19.3 + scipy 1.10). Returns a new float64 array of `newShape`.
 * @example resize(new Float64Array([0, 1]), [1, 1, 2], [1, 1, 4], 1) // [0, 0.25, 0.75, 1]
 */
export function resize(src: Float64Array, shape: readonly number[], newShape: readonly number[], order: number, { clip = true } = {}): Float64Array {
  if (shape.length !== 3 || newShape.length !== 3) throw new RangeError(`resize works on 3-D arrays, got shape [${shape}] -> [${newShape}]`);
  let out: Float64Array;
  if (order <= 1) {
    out = directLowOrder(src, shape, newShape, order);
  } else {
    out = src;
    const cur = [...shape];
    // Most-shrinking axes first, so later passes see less data (the order only changes float64 rounding).
    const axes = [0, 1, 2].sort((a, b) => newShape[a]! / shape[a]! - newShape[b]! / shape[b]!);
    for (const axis of axes) {
      // An axis whose length does not change is an identity up to float64 rounding (spline evaluated at its knots).
      if (cur[axis] === newShape[axis]) continue;
      out = splineAlongAxis(out, cur, axis, newShape[axis]!, order);
      cur[axis] = newShape[axis]!;
    }
    if (out === src) out = src.slice();
  }
  if (clip) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < src.length; i++) { const v = src[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
    for (let i = 0; i < out.length; i++) { const v = out[i]!; if (v < lo) out[i] = lo; else if (v > hi) out[i] = hi; }
  }
  return out;
}

/**
 * scipy.ndimage.map_coordinates(src, coords, order, mode="nearest") where coords are nnU-Net's separate-z grid:
 * `scale * (i + 0.5) - 0.5` with scale = old/new along `axis` and identity (integer coordinates) on the other axes.
 * Order 0 rounds half up (floor(x + 0.5)); no clipping.
 */
export function mapCoordinatesAlongAxis(src: Float64Array, shape: readonly number[], axis: number, nOut: number, order: number): Float64Array {
  if (order >= 2) return splineAlongAxis(src, shape, axis, nOut, order);
  const newShape = [...shape];
  newShape[axis] = nOut;
  return directLowOrder(src, shape, newShape, order);
}
