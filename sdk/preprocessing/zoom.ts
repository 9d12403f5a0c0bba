// skimage.transform.resize(image, new_shape, order, mode="edge", anti_aliasing=False) as scikit-image 0.19.3 runs it:
// scipy.ndimage.zoom(image, new/old, order, mode="nearest", grid_mode=True) (scipy 1.10), then clip to the input's
// [min, max]. For order > 1 scipy pads 12 edge voxels on every side, spline-prefilters the padded array ('reflect'
// boundary init) and evaluates at ((o + 0.5) * in/out - 0.5) + 12. Arrays are 3-D float64, C order; 2-D images are
// passed as 3-D with a leading axis of length 1 (that axis is then an exact identity, as in scipy).

import { axisTaps } from "./spline.js";
import { planSplinePass, runSplinePass, splineAlongAxis, type SplinePass } from "./spline-axis.js";

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
    const za = t0.index[2 * a]! * s0,
      zb = t0.index[2 * a + 1]! * s0;
    const wza = t0.weight[2 * a]!,
      wzb = t0.weight[2 * a + 1]!;
    for (let b = 0; b < m1; b++) {
      const ya = t1.index[2 * b]! * n2,
        yb = t1.index[2 * b + 1]! * n2;
      const wya = t1.weight[2 * b]!,
        wyb = t1.weight[2 * b + 1]!;
      for (let c = 0; c < m2; c++) {
        const xa = t2.index[2 * c]!,
          xb = t2.index[2 * c + 1]!;
        const wxa = t2.weight[2 * c]!,
          wxb = t2.weight[2 * c + 1]!;
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
 * Float64 buffers kept for reuse by role (e.g. every channel's spline passes), grown when too small. A result that
 * lives in a pooled buffer is only valid until the pool hands that buffer out again.
 */
export class BufferPool {
  private readonly buffers: Float64Array[] = [];
  get(role: number, length: number): Float64Array {
    let b = this.buffers[role];
    if (!b || b.length < length) this.buffers[role] = b = new Float64Array(length);
    return b;
  }
}

/**
 * skimage.transform.resize(src, newShape, order, mode="edge", anti_aliasing=False, clip) for a 3-D array, computed
 * in float64 like skimage's astype(float) (skimage 0.19.3 + scipy 1.10). Returns a float64 array of `newShape`: new,
 * or with `pool` (order >= 2) possibly a view of a pooled buffer.
 * @example resize(new Float64Array([0, 1]), [1, 1, 2], [1, 1, 4], 1) // [0, 0.25, 0.75, 1]
 */
export function resize(
  src: Float64Array | Float32Array,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  { clip = true, pool }: { clip?: boolean; pool?: BufferPool } = {},
): Float64Array {
  if (shape.length !== 3 || newShape.length !== 3) throw new RangeError(`resize works on 3-D arrays, got shape [${shape}] -> [${newShape}]`);
  let out: Float64Array | Float32Array;
  if (order <= 1) {
    out = directLowOrder(src instanceof Float64Array ? src : Float64Array.from(src), shape, newShape, order);
  } else {
    // a float32 input is read by the first spline pass as it is (no float64 copy of the volume)
    out = src;
    const cur = [...shape];
    if (resizesInPlanes(shape, newShape, order)) return finish(src, splineInPlanes(src, shape, newShape, order, pool), clip);
    // Most-shrinking axes first, so later passes see less data (the order only changes float64 rounding).
    const axes = [0, 1, 2].sort((a, b) => newShape[a]! / shape[a]! - newShape[b]! / shape[b]!);
    let pass = 0;
    for (const axis of axes) {
      // An axis whose length does not change is an identity up to float64 rounding (spline evaluated at its knots).
      if (cur[axis] === newShape[axis]) continue;
      const size = ((cur[0]! * cur[1]! * cur[2]!) / cur[axis]!) * newShape[axis]!;
      // passes alternate between two pooled buffers (each reads the previous one's output)
      out = splineAlongAxis(out, cur, axis, newShape[axis]!, order, pool?.get(pass++ % 2, size));
      cur[axis] = newShape[axis]!;
    }
    if (out === src) out = Float64Array.from(src);
  }
  return finish(src, out as Float64Array, clip);
}

/** resize's optional clip of the result to the input's [min, max]. */
function finish(src: Float64Array | Float32Array, out: Float64Array, clip: boolean): Float64Array {
  if (clip) {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    for (let i = 0; i < out.length; i++) {
      const v = out[i]!;
      if (v < lo) out[i] = lo;
      else if (v > hi) out[i] = hi;
    }
  }
  return out;
}

/**
 * The two in-plane passes when the first axis keeps its length (the slice axis of separate z, or any unchanged first
 * axis): both passes work plane by plane, so they run on one plane at a time through a plane-sized intermediate that
 * stays in cache instead of a volume-sized one. Same passes in the same order (most-shrinking axis first), and every
 * line is computed exactly as in the volume-wide passes, so the result is bit for bit the same.
 */
function splineInPlanes(
  src: Float64Array | Float32Array,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  pool?: BufferPool,
): Float64Array {
  const size = shape[0]! * newShape[1]! * newShape[2]!;
  const out = pool ? pool.get(1, size).subarray(0, size) : new Float64Array(size);
  forEachResizedPlane(src, shape, newShape, order, () => {}, pool, out); // planes go straight into `out`
  return out;
}

/** Whether resize runs plane by plane (forEachResizedPlane): spline order, first axis unchanged, both others changed. */
export function resizesInPlanes(shape: readonly number[], newShape: readonly number[], order: number): boolean {
  return order >= 2 && shape[0] === newShape[0] && shape[1] !== newShape[1] && shape[2] !== newShape[2];
}

/**
 * The two in-plane passes of resize for shapes where resizesInPlanes holds, planned once and run one plane at a time
 * through a plane-sized intermediate (most-shrinking axis first, as resize does).
 */
export class PlaneResizer {
  private readonly passA: SplinePass;
  private readonly passB: SplinePass;
  private readonly tile: Float64Array;
  /** Values in an input and in an output plane. */
  readonly planeIn: number;
  readonly planeOut: number;

  constructor(shape: readonly number[], newShape: readonly number[], order: number, pool?: BufferPool) {
    const [, n1, n2] = shape as [number, number, number];
    const [first, second] = newShape[1]! / n1 <= newShape[2]! / n2 ? [1, 2] : [2, 1];
    const plane = [1, n1, n2];
    this.passA = planSplinePass(plane, first, newShape[first]!, order);
    plane[first] = newShape[first]!;
    this.passB = planSplinePass(plane, second, newShape[second]!, order);
    this.tile = pool ? pool.get(0, this.passA.size) : new Float64Array(this.passA.size);
    this.planeIn = n1 * n2;
    this.planeOut = this.passB.size;
  }

  /**
   * Resizes plane x of `src` into `out` (planeOut values): float64 as computed, or float32 clipped to [lo, hi] and
   * cast by the last pass itself (skimage's clip, then numpy's astype, without a float64 plane in between).
   */
  run(src: Float64Array | Float32Array, x: number, out: Float64Array | Float32Array, lo = -Infinity, hi = Infinity): void {
    this.first(src, x);
    this.second(out, lo, hi);
  }

  /** run in two halves: the first pass on plane x, which also widens `range` by its values (float32 `src`)... */
  first(src: Float64Array | Float32Array, x: number, range?: Float64Array): void {
    runSplinePass(this.passA, src.subarray(x * this.planeIn, (x + 1) * this.planeIn), this.tile, -Infinity, Infinity, range);
  }

  /** ...and the second pass into `out`. */
  second(out: Float64Array | Float32Array, lo = -Infinity, hi = Infinity): void {
    runSplinePass(this.passB, this.tile, out, lo, hi);
  }
}

/**
 * resize(src, shape, newShape, order, { clip: false }) one output plane at a time, for shapes where resizesInPlanes
 * holds: `onPlane(x, plane)` receives output plane x (float64, newShape[1] x newShape[2]) while it is still in cache,
 * in a buffer that is reused for the next plane. With `into` (the whole output), planes are written there directly.
 */
export function forEachResizedPlane(
  src: Float64Array | Float32Array,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  onPlane: (x: number, plane: Float64Array) => void,
  pool?: BufferPool,
  into?: Float64Array,
): void {
  const pr = new PlaneResizer(shape, newShape, order, pool);
  const size = pr.planeOut;
  const planeBuf = into ? null : pool ? pool.get(2, size).subarray(0, size) : new Float64Array(size);
  for (let x = 0; x < shape[0]!; x++) {
    const out = planeBuf ?? into!.subarray(x * size, (x + 1) * size);
    pr.run(src, x, out);
    if (planeBuf) onPlane(x, out);
  }
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
