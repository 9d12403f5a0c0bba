// One axis of scipy.ndimage.zoom / map_coordinates with a spline of order >= 2 (scipy 1.10, mode 'nearest'): pad 12
// edge samples on both sides, prefilter, evaluate order + 1 taps per output. The volume is processed in blocks of
// lines that sit side by side in a small buffer (row r of the buffer = sample r of every line of the block), so every
// step runs over independent columns and the buffer stays in cache.

import { anticausal, axisTaps, causalInit, causalRows, causalTerms, filterPoles, splineFilterGain } from "./spline.js";

/** Padding scipy adds before prefiltering for mode 'nearest' (`_prepad_for_spline_filter`). */
const NPAD = 12;
/** Lines per block when the axis is strided (neighbouring lines are contiguous in memory). */
const BLOCK = 64;
/** Lines per block along the contiguous last axis (each line is read with a stride of its length). */
const LINES = 32;

/** Where a block's lines live: sample s of line j is src[base + j * lineStride + s * sampleStride]; same for out. */
interface BlockLayout {
  base: number;
  lineStride: number;
  sampleStride: number;
  outBase: number;
  outLineStride: number;
  outSampleStride: number;
}

/** Everything about the axis that does not change from block to block. */
interface AxisPlan {
  n: number;
  nOut: number;
  len: number;
  taps: number;
  index: Int32Array;
  weight: Float64Array;
  poles: number[];
  gain: number;
  /** Rows filled before the first pole's causal initialisation (head and tail); 0 = fill all rows first. */
  terms: number;
  /**
   * +0 or -0: the value every evaluation sum starts from. The last-axis pass has always summed from +0 and the
   * strided pass from its first term (which -0 + x reproduces), and the sign of an exactly zero result shows in the
   * output bytes, so both are kept.
   */
  sumStart: number;
}

/** buf[r] = edge-padded sample (r - NPAD) of each line, times the filter gain, for rows [r0, r1). */
function fillRows(src: Float32Array | Float64Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, r0: number, r1: number): void {
  const { n, gain } = p;
  for (let r = r0; r < r1; r++) {
    const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
    let q = L.base + s * L.sampleStride;
    const to = r * b;
    for (let j = 0; j < b; j++, q += L.lineStride) buf[to + j] = src[q]! * gain;
  }
}

/** fillRows fused with the first pole's causal pass: buf[r] = sample * gain + z * buf[r - 1], as c[i] += z c[i-1]. */
function fillCausalRows(src: Float32Array | Float64Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, r0: number, r1: number, z: number): void {
  const { n, gain } = p;
  for (let r = r0; r < r1; r++) {
    const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
    let q = L.base + s * L.sampleStride;
    const to = r * b;
    const prev = to - b;
    for (let j = 0; j < b; j++, q += L.lineStride) buf[to + j] = src[q]! * gain + z * buf[prev + j]!;
  }
}

/** Filters and evaluates one block of `b` lines. */
function splineBlock(src: Float32Array | Float64Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, c0: Float64Array, out: Float64Array): void {
  const { len, poles, terms } = p;
  const z = poles[0]!;
  if (terms > 0) {
    // the initialisation reads only the first and last `terms` rows: fill those, then fill the middle while running
    // the causal recursion over it (one pass over the buffer fewer)
    fillRows(src, L, b, p, buf, 0, terms);
    fillRows(src, L, b, p, buf, len - terms, len);
    causalInit(buf, len, b, z, c0);
    causalRows(buf, 1, terms, b, z);
    fillCausalRows(src, L, b, p, buf, terms, len - terms, z);
    causalRows(buf, len - terms, len, b, z);
  } else {
    fillRows(src, L, b, p, buf, 0, len);
    causalInit(buf, len, b, z, c0);
    causalRows(buf, 1, len, b, z);
  }
  anticausal(buf, len, b, z);
  for (let k = 1; k < poles.length; k++) {
    causalInit(buf, len, b, poles[k]!, c0);
    causalRows(buf, 1, len, b, poles[k]!);
    anticausal(buf, len, b, poles[k]!);
  }
  // output k of all b lines at once: its taps' weights and rows are loaded once, the rows are read contiguously
  const { nOut, taps, index, weight, sumStart } = p;
  for (let k = 0; k < nOut; k++) {
    const t = k * taps;
    const q0 = L.outBase + k * L.outSampleStride;
    const os = L.outLineStride;
    if (taps === 4) {
      const w0 = weight[t]!, w1 = weight[t + 1]!, w2 = weight[t + 2]!, w3 = weight[t + 3]!;
      const r0 = index[t]! * b, r1 = index[t + 1]! * b, r2 = index[t + 2]! * b, r3 = index[t + 3]! * b;
      for (let j = 0, q = q0; j < b; j++, q += os) out[q] = sumStart + w0 * buf[r0 + j]! + w1 * buf[r1 + j]! + w2 * buf[r2 + j]! + w3 * buf[r3 + j]!;
      continue;
    }
    for (let j = 0, q = q0; j < b; j++, q += os) {
      let v = sumStart;
      for (let h = 0; h < taps; h++) v += weight[t + h]! * buf[index[t + h]! * b + j]!;
      out[q] = v;
    }
  }
}

/** One spline pass planned for a shape: taps, filter, block layout and working buffers, reusable for many arrays. */
export interface SplinePass {
  p: AxisPlan;
  outer: number;
  inner: number;
  /** Values in the output. */
  size: number;
  width: number;
  buf: Float64Array;
  c0: Float64Array;
}

/** Plans resampling axis `axis` of arrays of shape `shape` to `nOut` samples with a spline of `order` >= 2. */
export function planSplinePass(shape: readonly number[], axis: number, nOut: number, order: number): SplinePass {
  const n = shape[axis]!;
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const len = n + 2 * NPAD;
  const { taps, index, weight } = axisTaps(n, nOut, order, NPAD);
  const poles = filterPoles(order);
  const terms = causalTerms(poles[0]!, len);
  const contiguous = inner === 1;
  const p: AxisPlan = {
    n, nOut, len, taps, index, weight, poles, gain: splineFilterGain(poles),
    terms: 2 * terms < len ? terms : 0,
    sumStart: contiguous ? 0 : -0,
  };
  const width = contiguous ? Math.min(outer, LINES) : Math.min(inner, BLOCK);
  return { p, outer, inner, size: outer * nOut * inner, width, buf: new Float64Array(len * width), c0: new Float64Array(width) };
}

/** Runs a planned pass from `src` into `out` (every output value is written, so a reused `out` needs no clearing). */
export function runSplinePass(sp: SplinePass, src: Float32Array | Float64Array, out: Float64Array): void {
  const { p, outer, inner, width, buf, c0 } = sp;
  const { n, nOut } = p;
  if (inner === 1) {
    for (let o0 = 0; o0 < outer; o0 += width) {
      const L: BlockLayout = { base: o0 * n, lineStride: n, sampleStride: 1, outBase: o0 * nOut, outLineStride: nOut, outSampleStride: 1 };
      splineBlock(src, L, Math.min(width, outer - o0), p, buf, c0, out);
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let j0 = 0; j0 < inner; j0 += width) {
      const L: BlockLayout = { base: o * n * inner + j0, lineStride: 1, sampleStride: inner, outBase: o * nOut * inner + j0, outLineStride: 1, outSampleStride: inner };
      splineBlock(src, L, Math.min(width, inner - j0), p, buf, c0, out);
    }
  }
}

/**
 * Resamples axis `axis` of a 3-D array with a spline of `order` >= 2 (edge padding, prefilter, evaluation), leaving the
 * other axes alone. Filtering and evaluation along different axes commute, so doing the axes one after another gives
 * scipy's n-d result up to float64 rounding, with a small working buffer instead of a padded copy of the volume.
 * A float32 `src` is read as float64 values (numpy's astype(float)) without a float64 copy. The result goes to
 * `into` (a view of its front) when given, e.g. to reuse a buffer for every channel: fresh memory costs a page fault
 * per 4 KiB on first touch, a sizeable part of a pass.
 */
export function splineAlongAxis(src: Float32Array | Float64Array, shape: readonly number[], axis: number, nOut: number, order: number, into?: Float64Array): Float64Array {
  const sp = planSplinePass(shape, axis, nOut, order);
  const out = into ? into.subarray(0, sp.size) : new Float64Array(sp.size);
  runSplinePass(sp, src, out);
  return out;
}
