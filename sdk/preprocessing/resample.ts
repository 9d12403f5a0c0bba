// Port of nnunetv2/preprocessing/resampling/default_resampling.py (MIC-DKFZ/nnUNet 0e495086; skimage 0.19.3, scipy 1.10).
// Arrays are (C, Z, Y, X) in nnU-Net's transposed axis order, C-contiguous; spacings in the same order. Computation is
// float64 and the result has the input's typed-array type, like upstream's `reshaped_final.astype(dtype_data)`.

import { ANISO_THRESHOLD } from "../config/constants.js";
import { InputError } from "../errors.js";
import { roundHalfEven } from "../util/python-math.js";
import { BufferPool, forEachResizedPlane, mapCoordinatesAlongAxis, nearestIndex, PlaneResizer, resize, resizesInPlanes } from "./zoom.js";
import { resizeSegmentation, resizeSegmentationLinearInto } from "./resize-segmentation.js";

/** Typed arrays the resampler accepts and returns (same type out as in). */
export type ResampleArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

/** Upstream's `resampling_fn_*_kwargs` (camelCase). */
export interface ResampleOptions {
  isSeg?: boolean;
  order?: number;
  orderZ?: number;
  /** null: decide from the spacings; true / false: force (upstream's default for this function is false). */
  forceSeparateZ?: boolean | null;
  separateZAnisotropyThreshold?: number;
}

/**
 * New voxel counts for a change of spacing: `int(round(old_spacing / new_spacing * old_shape))` evaluated in float64
 * in that order, with Python's half-to-even rounding (2.5 -> 2, 3.5 -> 4).
 * Matches `compute_new_shape` in nnU-Net's `default_resampling.py`.
 * @example computeNewShape([100, 512, 512], [2.5, 0.7, 0.7], [2.0, 0.78, 0.78]) // [125, 459, 459]
 */
export function computeNewShape(oldShape: readonly number[], oldSpacing: readonly number[], newSpacing: readonly number[]): number[] {
  if (oldSpacing.length !== oldShape.length || newSpacing.length !== oldShape.length) {
    throw new InputError(`computeNewShape: shape [${oldShape}], spacing [${oldSpacing}] and new spacing [${newSpacing}] differ in length`);
  }
  return oldShape.map((k, i) => roundHalfEven((oldSpacing[i]! / newSpacing[i]!) * k));
}

const isAnisotropic = (spacing: readonly number[], threshold: number) => Math.max(...spacing) / Math.min(...spacing) > threshold;

/** Axes whose spacing equals the maximum, found like upstream as `max / spacing == 1`. */
function lowresAxes(spacing: readonly number[]): number[] {
  const m = Math.max(...spacing);
  return spacing.flatMap((s, i) => (m / s === 1 ? [i] : []));
}

/**
 * Whether to resample the low-resolution axis separately (in-plane spline, nearest along it) and which axis that is.
 * Anisotropy (max/min spacing > 3) is tested on the current spacing first, then on the target spacing.
 * Matches `determine_do_sep_z_and_axis` in nnU-Net's `default_resampling.py`.
 * @example determineDoSeparateZAndAxis(null, [4, 1, 1], [1, 1, 1]) // { doSeparateZ: true, axis: 0 }
 */
export function determineDoSeparateZAndAxis(
  forceSeparateZ: boolean | null,
  currentSpacing: readonly number[],
  newSpacing: readonly number[],
  separateZAnisotropyThreshold = ANISO_THRESHOLD,
): { doSeparateZ: boolean; axis: number | null } {
  let doSeparateZ: boolean;
  let axes: number[] | null;
  if (forceSeparateZ !== null) {
    doSeparateZ = forceSeparateZ;
    axes = forceSeparateZ ? lowresAxes(currentSpacing) : null;
  } else if (isAnisotropic(currentSpacing, separateZAnisotropyThreshold)) {
    doSeparateZ = true;
    axes = lowresAxes(currentSpacing);
  } else if (isAnisotropic(newSpacing, separateZAnisotropyThreshold)) {
    doSeparateZ = true;
    axes = lowresAxes(newSpacing);
  } else {
    doSeparateZ = false;
    axes = null;
  }
  if (axes !== null && axes.length !== 1) {
    // 3 axes: every axis has the same spacing. 2 axes: this happens for spacings like (0.24, 1.25, 1.25) for example.
    // In that case we do not want to resample separately in the out of plane axis.
    return { doSeparateZ: false, axis: null };
  }
  return { doSeparateZ, axis: axes === null ? null : axes[0]! };
}

/** A float64 channel buffer shared by the channels, allocated on first use (float32 data never needs one). */
interface Scratch {
  vol?: Float64Array;
  pool: BufferPool;
}

/** Copies one channel of `data` into the scratch buffer as float64 (upstream's `data.astype(float)`). */
function channelAsFloat64(data: ResampleArray, c: number, n: number, scratch: Scratch): Float64Array {
  const out = (scratch.vol ??= new Float64Array(n));
  const base = c * n;
  // one monomorphic loop per element type (a loop over the union would be slow)
  if (data instanceof Float32Array) for (let i = 0; i < n; i++) out[i] = data[base + i]!;
  else if (data instanceof Int16Array) for (let i = 0; i < n; i++) out[i] = data[base + i]!;
  else out.set(data.subarray(base, base + n));
  return out;
}

/** Index arithmetic for "slice s along axis a" of a C-contiguous 3-D array: (outer, slice stride, inner). */
function sliceLayout(shape: readonly number[], axis: number): { outer: number; inner: number } {
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < 3; d++) inner *= shape[d]!;
  return { outer, inner };
}

// Per-slice range and clip as small leaf functions over one contiguous chunk each, one per element type: V8 then
// compiles each once and small, instead of re-optimising a large function with several loops on every call.

/** Widens [r[0], r[1]] by src[from .. to). */
function widenRange32(src: Float32Array, from: number, to: number, r: Float64Array): void {
  let l = r[0]!,
    h = r[1]!;
  for (let i = from; i < to; i++) {
    const v = src[i]!;
    if (v < l) l = v;
    if (v > h) h = v;
  }
  r[0] = l;
  r[1] = h;
}

function widenRange64(src: Float64Array, from: number, to: number, r: Float64Array): void {
  let l = r[0]!,
    h = r[1]!;
  for (let i = from; i < to; i++) {
    const v = src[i]!;
    if (v < l) l = v;
    if (v > h) h = v;
  }
  r[0] = l;
  r[1] = h;
}

/** The first value of src[from .. to) that equals 0 (+0 or -0; the caller knows there is one). */
function firstZero32(src: Float32Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (src[i] === 0) return src[i]!;
  return 0;
}

/** [min, max] of every slice along `axis` of `src` (skimage clips each 2-D slice to its own range). */
function sliceRanges(src: Float64Array | Float32Array, shape: readonly number[], axis: number): { lo: Float64Array; hi: Float64Array } {
  const ns = shape[axis]!;
  const lo = new Float64Array(ns).fill(Infinity);
  const hi = new Float64Array(ns).fill(-Infinity);
  const a = sliceLayout(shape, axis);
  const r = new Float64Array(2);
  for (let o = 0, p = 0; o < a.outer; o++)
    for (let s = 0; s < ns; s++, p += a.inner) {
      r[0] = lo[s]!;
      r[1] = hi[s]!;
      if (src instanceof Float32Array) widenRange32(src, p, p + a.inner, r);
      else widenRange64(src, p, p + a.inner, r);
      lo[s] = r[0]!;
      hi[s] = r[1]!;
    }
  return { lo, hi };
}

/** dst[i + shift] = src[i] clipped to [l, h] for i in [from, to), stored with dst's cast. */
function clipInto32(src: Float64Array, from: number, to: number, l: number, h: number, dst: Float32Array, shift = 0): void {
  for (let i = from; i < to; i++) {
    const v = src[i]!;
    dst[i + shift] = v < l ? l : v > h ? h : v;
  }
}

function clipIntoAny(src: Float64Array, from: number, to: number, l: number, h: number, dst: ResampleArray, shift = 0): void {
  for (let i = from; i < to; i++) {
    const v = src[i]!;
    dst[i + shift] = v < l ? l : v > h ? h : v;
  }
}

/**
 * Clips every slice along `axis` of `src` (shape `shape`) to [lo[s], hi[s]] and stores it in `dst`, which casts like
 * numpy's astype (float32 rounds to nearest, integer types truncate). One pass instead of clip, then copy.
 */
function clipSlicesInto(src: Float64Array, shape: readonly number[], axis: number, lo: Float64Array, hi: Float64Array, dst: ResampleArray): void {
  const ns = shape[axis]!;
  const b = sliceLayout(shape, axis);
  for (let o = 0, p = 0; o < b.outer; o++)
    for (let s = 0; s < ns; s++, p += b.inner) {
      if (dst instanceof Float32Array) clipInto32(src, p, p + b.inner, lo[s]!, hi[s]!, dst);
      else clipIntoAny(src, p, p + b.inner, lo[s]!, hi[s]!, dst);
    }
}

/** Channel c of `data` as the float64 values resize computes with: a float32 channel is used as it is (no copy). */
function channelForResize(data: ResampleArray, c: number, n: number, scratch: Scratch): Float64Array | Float32Array {
  return data instanceof Float32Array ? data.subarray(c * n, (c + 1) * n) : channelAsFloat64(data, c, n, scratch);
}

/**
 * map_coordinates(order=0) along `axis` on nnU-Net's separate-z grid when the other axes keep their size: output
 * slice k is a copy of input slice idx[k], so whole rows are copied (already cast and clipped) instead of voxels.
 */
function nearestSlicesInto(src: ResampleArray, shape: readonly number[], axis: number, idx: Int32Array, out: ResampleArray, offset: number): void {
  const { outer, inner } = sliceLayout(shape, axis);
  const n = shape[axis]!;
  const nOut = idx.length;
  for (let o = 0, q = offset; o < outer; o++) {
    const base = o * n * inner;
    for (let k = 0; k < nOut; k++, q += inner) {
      const from = base + idx[k]! * inner;
      if (inner >= 16) out.set(src.subarray(from, from + inner) as Float32Array, q);
      else for (let j = 0; j < inner; j++) out[q + j] = src[from + j]!;
    }
  }
}

/**
 * clipSlicesInto followed by nearestSlicesInto without the intermediate array: each output row is clipped and cast
 * from its input slice the first time that slice appears (idx never decreases, so repeats are consecutive) and
 * copied from the previous output row after that.
 */
function clipNearestSlicesInto(
  src: Float64Array,
  shape: readonly number[],
  axis: number,
  lo: Float64Array,
  hi: Float64Array,
  idx: Int32Array,
  dst: ResampleArray,
): void {
  const { outer, inner } = sliceLayout(shape, axis);
  const n = shape[axis]!;
  const nOut = idx.length;
  for (let o = 0, q = 0; o < outer; o++) {
    for (let k = 0; k < nOut; k++, q += inner) {
      const s = idx[k]!;
      if (k > 0 && idx[k - 1] === s) {
        if (inner >= 16) dst.copyWithin(q, q - inner, q);
        else for (let j = 0; j < inner; j++) dst[q + j] = dst[q - inner + j]!;
        continue;
      }
      const from = (o * n + s) * inner;
      if (dst instanceof Float32Array) clipInto32(src, from, from + inner, lo[s]!, hi[s]!, dst, q - from);
      else clipIntoAny(src, from, from + inner, lo[s]!, hi[s]!, dst, q - from);
    }
  }
}

type Ctor = new (len: number) => ResampleArray;

/**
 * The separate-z case with slices along the first axis and a float32 output: output plane k is input slice idx[k]
 * resized, clipped to that slice's range and cast. The last spline pass writes the first plane of each slice clipped
 * and cast into `dst` itself, the repeats are copies of it made while it is in cache, and slices no output plane
 * uses (idx skips them when shrinking along z) are not resized at all.
 */
function resizeSlicesInto32(
  src: Float64Array | Float32Array,
  shape: readonly number[],
  hereShape: readonly number[],
  order: number,
  idx: Int32Array,
  pool: BufferPool,
  dst: Float32Array,
): void {
  const pr = new PlaneResizer(shape, hereShape, order, pool);
  const { planeIn, planeOut } = pr;
  const range = new Float64Array(2);
  for (let k = 0; k < idx.length;) {
    const x = idx[k]!;
    range[0] = Infinity;
    range[1] = -Infinity;
    if (src instanceof Float32Array) {
      // the slice's range comes from the first pass, which reads every value anyway. Its order differs from
      // widenRange32's, which only matters for a zero: with +0 and -0 present, the one met first in C order wins
      pr.first(src, x, range);
      if (range[0] === 0) range[0] = firstZero32(src, x * planeIn, (x + 1) * planeIn);
      if (range[1] === 0) range[1] = firstZero32(src, x * planeIn, (x + 1) * planeIn);
    } else {
      widenRange64(src, x * planeIn, (x + 1) * planeIn, range);
      pr.first(src, x);
    }
    pr.second(dst.subarray(k * planeOut, (k + 1) * planeOut), range[0]!, range[1]!);
    const first = k;
    for (k++; k < idx.length && idx[k] === x; k++) dst.copyWithin(k * planeOut, first * planeOut, (first + 1) * planeOut);
  }
}

/**
 * One channel, separate z, into `dst`: the in-plane 2-D resize of every slice along `axis`, then map_coordinates
 * along `axis`. Resizing the volume with `axis` left unchanged is the same computation (filtering and interpolation
 * never mix slices, an unchanged axis is skipped or enters with weights 1 and 0), done in a few large passes instead
 * of one small call per slice; only skimage's clip range is per slice, so clipping is done per slice afterwards. With
 * order_z 0 the output slices are copies of input slices, so clipping and the dtype cast happen once per input slice
 * and the copies are row copies.
 */
function resampleChannelSeparateZ(
  data: ResampleArray,
  c: number,
  scratch: Scratch,
  shape: number[],
  newShape: number[],
  axis: number,
  isSeg: boolean,
  order: number,
  orderZ: number,
  dst: ResampleArray,
): void {
  const hereShape = [...newShape];
  hereShape[axis] = shape[axis]!;
  const hereLen = hereShape[0]! * hereShape[1]! * hereShape[2]!;
  const same = shape[axis] === newShape[axis];
  const nearest = same || orderZ === 0;
  const idx = nearestIndex(shape[axis]!, newShape[axis]!);
  const n = shape[0]! * shape[1]! * shape[2]!;
  if (isSeg && order === 1 && nearest && data instanceof Int16Array) {
    // int16 labels are resized as they are (no float64 copy); the result holds input labels only, so no cast is lost
    const here = same ? dst : new Int16Array(hereLen);
    resizeSegmentationLinearInto(data.subarray(c * n, (c + 1) * n), shape, hereShape, here as Int16Array);
    if (!same) nearestSlicesInto(here, hereShape, axis, idx, dst, 0);
    return;
  }
  const src = isSeg ? channelAsFloat64(data, c, n, scratch) : channelForResize(data, c, n, scratch);
  if (!isSeg && nearest && axis === 0 && resizesInPlanes(shape, hereShape, order) && dst instanceof Float32Array) {
    resizeSlicesInto32(src, shape, hereShape, order, idx, scratch.pool, dst);
    return;
  }
  if (!isSeg && nearest && axis === 0 && resizesInPlanes(shape, hereShape, order)) {
    // slices along the first axis: each resized slice is clipped to its input slice's range and cast into the output
    // planes that copy it while it is still in cache (no volume-sized float64 intermediate)
    const planeIn = shape[1]! * shape[2]!,
      planeOut = newShape[1]! * newShape[2]!;
    const range = new Float64Array(2);
    let k = 0; // next output plane; idx never decreases
    forEachResizedPlane(
      src,
      shape,
      hereShape,
      order,
      (x, plane) => {
        range[0] = Infinity;
        range[1] = -Infinity;
        if (src instanceof Float32Array) widenRange32(src, x * planeIn, (x + 1) * planeIn, range);
        else widenRange64(src, x * planeIn, (x + 1) * planeIn, range);
        for (const first = k; k < idx.length && idx[k] === x; k++) {
          if (k > first) dst.copyWithin(k * planeOut, first * planeOut, (first + 1) * planeOut);
          else if (dst instanceof Float32Array) clipInto32(plane, 0, planeOut, range[0]!, range[1]!, dst, k * planeOut);
          else clipIntoAny(plane, 0, planeOut, range[0]!, range[1]!, dst, k * planeOut);
        }
      },
      scratch.pool,
    );
    return;
  }
  const here = isSeg
    ? resizeSegmentation(src as Float64Array, shape, hereShape, order)
    : resize(src, shape, hereShape, order, { clip: false, pool: scratch.pool });
  if (nearest && !isSeg) {
    const { lo, hi } = sliceRanges(src, shape, axis);
    clipNearestSlicesInto(here, hereShape, axis, lo, hi, idx, dst);
    return;
  }
  if (nearest) {
    const tmp = same ? dst : new (dst.constructor as Ctor)(hereLen);
    tmp.set(here as unknown as Float32Array);
    if (!same) nearestSlicesInto(tmp, hereShape, axis, idx, dst, 0);
    return;
  }
  if (!isSeg) {
    const { lo, hi } = sliceRanges(src, shape, axis);
    clipSlicesInto(here, hereShape, axis, lo, hi, here);
    dst.set(mapCoordinatesAlongAxis(here, hereShape, axis, newShape[axis]!, orderZ) as unknown as Float32Array);
    return;
  }
  // Segmentations with order_z > 0: per label, np.round(map_coordinates(one_hot)) > 0.5, i.e. the value exceeds 0.5.
  const labels = [...new Set(here)].sort((a, b) => a - b);
  const out = new Float64Array(dst.length);
  const mask = new Float64Array(here.length);
  for (const label of labels) {
    for (let i = 0; i < here.length; i++) mask[i] = here[i] === label ? 1 : 0;
    const m = mapCoordinatesAlongAxis(mask, hereShape, axis, newShape[axis]!, orderZ);
    for (let i = 0; i < out.length; i++) if (m[i]! > 0.5) out[i] = label;
  }
  dst.set(out as unknown as Float32Array);
}

/**
 * Resamples every channel of `data` (shape [C, Z, Y, X]) to `newShape` ([Z, Y, X]) the way nnU-Net does:
 * order-`order` skimage resize with edge handling and clipping for data, per-label `resize_segmentation` for
 * segmentations, and with separate z (decided from the spacings unless forced) a 2-D resize per slice followed by
 * order-`orderZ` interpolation along the low-resolution axis. Unchanged shapes return `data` itself.
 * Matches `resample_data_or_seg_to_shape` in nnU-Net's `default_resampling.py`.
 * @example resampleDataOrSegToShape(img, [1, 12, 20, 18], [19, 25, 22], [4, 1, 1], [2.5, 0.8, 0.8], { order: 3, forceSeparateZ: null })
 */
export function resampleDataOrSegToShape<T extends ResampleArray>(
  data: T,
  shape: readonly number[],
  newShape: readonly number[],
  currentSpacing: readonly number[],
  newSpacing: readonly number[],
  { isSeg = false, order = 3, orderZ = 0, forceSeparateZ = false, separateZAnisotropyThreshold = ANISO_THRESHOLD }: ResampleOptions = {},
): T {
  if (shape.length !== 4) throw new InputError(`resampleDataOrSegToShape: data must be (c, x, y, z), got shape [${shape}]`);
  if (newShape.length !== 3) throw new InputError(`resampleDataOrSegToShape: new shape [${newShape}] must have 3 entries for data of shape [${shape}]`);
  const n = shape[1]! * shape[2]! * shape[3]!;
  if (data.length !== shape[0]! * n) throw new InputError(`resampleDataOrSegToShape: ${data.length} values do not fill shape [${shape}]`);
  if (newShape.some((s) => !Number.isInteger(s) || s < 1))
    throw new InputError(`resampleDataOrSegToShape: invalid new shape [${newShape}] for data of shape [${shape}]`);
  const spatial = shape.slice(1);
  if (spatial.every((s, i) => s === newShape[i])) return data;
  const { doSeparateZ, axis } = determineDoSeparateZAndAxis(forceSeparateZ, currentSpacing, newSpacing, separateZAnisotropyThreshold);
  const m = newShape[0]! * newShape[1]! * newShape[2]!;
  const out = new (data.constructor as new (len: number) => T)(shape[0]! * m);
  const scratch: Scratch = { pool: new BufferPool() };
  for (let c = 0; c < shape[0]!; c++) {
    // numpy's astype happens on the store into `dst`: float32 rounds to nearest, integer types truncate toward zero
    const dst = out.subarray(c * m, (c + 1) * m);
    if (doSeparateZ && axis !== null) {
      resampleChannelSeparateZ(data, c, scratch, spatial, [...newShape], axis, isSeg, order, orderZ, dst);
    } else if (isSeg && order === 1 && data instanceof Int16Array) {
      resizeSegmentationLinearInto(data.subarray(c * n, (c + 1) * n), spatial, newShape, dst as Int16Array);
    } else if (isSeg) {
      dst.set(resizeSegmentation(channelAsFloat64(data, c, n, scratch), spatial, newShape, order) as unknown as Float32Array);
    } else {
      // resize's clip to the input's [min, max], fused with the cast: the whole volume is one "slice"
      const src = channelForResize(data, c, n, scratch);
      const { lo, hi } = sliceRanges(src, [1, n, 1], 0);
      if (resizesInPlanes(spatial, newShape, order) && dst instanceof Float32Array) {
        // each output plane clipped and cast by the last spline pass itself
        const pr = new PlaneResizer(spatial, newShape, order, scratch.pool);
        const planeOut = pr.planeOut;
        for (let x = 0; x < newShape[0]!; x++) pr.run(src, x, dst.subarray(x * planeOut, (x + 1) * planeOut), lo[0]!, hi[0]!);
        continue;
      }
      if (resizesInPlanes(spatial, newShape, order)) {
        // each output plane clipped and cast while still in cache (no volume-sized float64 intermediate)
        const planeOut = newShape[1]! * newShape[2]!;
        forEachResizedPlane(
          src,
          spatial,
          newShape,
          order,
          (x, plane) => {
            if (dst instanceof Float32Array) clipInto32(plane, 0, planeOut, lo[0]!, hi[0]!, dst, x * planeOut);
            else clipIntoAny(plane, 0, planeOut, lo[0]!, hi[0]!, dst, x * planeOut);
          },
          scratch.pool,
        );
        continue;
      }
      const r = resize(src, spatial, newShape, order, { clip: false, pool: scratch.pool });
      clipSlicesInto(r, [1, m, 1], 0, lo, hi, dst);
    }
  }
  return out;
}
