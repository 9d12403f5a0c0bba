// One axis of scipy.ndimage.zoom / map_coordinates with a spline of order >= 2 (scipy 1.10, mode 'nearest'): pad 12
// edge samples on both sides, prefilter, evaluate order + 1 taps per output. The volume is processed in blocks of
// lines that sit side by side in a small buffer (row r of the buffer = sample r of every line of the block), so every
// step runs over independent columns and the buffer stays in cache.

import { fillEdges, fillEdgesClip32, zeroColumns } from "./zero-columns.js";
import { anticausal, anticausalRow, axisTaps, causalInit, causalRows, causalTerms, filterPoles, splineFilterGain } from "./spline.js";

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
  /** Clip bounds for a float32 output (runSplinePass), set per run. */
  lo: number;
  hi: number;
  /** When set, [min, max] widened by every sample a float32 fill reads (runSplinePass). */
  range: Float64Array | null;
}

/** buf[r] = edge-padded sample (r - NPAD) of each line, times the filter gain, for rows [r0, r1). */
function fillRows(src: Float32Array | Float64Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, r0: number, r1: number): void {
  const { n, gain } = p;
  const ls = L.lineStride;
  for (let r = r0; r < r1; r++) {
    const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
    let q = L.base + s * L.sampleStride;
    const to = r * b;
    for (let j = 0; j < b; j++, q += ls) buf[to + j] = src[q]! * gain;
  }
}

/** fillRows for a float32 source that also widens range = [min, max] by each sample read (as `v < min`, `v > max`). */
function fillRows32R(src: Float32Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, r0: number, r1: number, range: Float64Array): void {
  const { n, gain } = p;
  const ls = L.lineStride;
  let lo = range[0]!,
    hi = range[1]!;
  for (let r = r0; r < r1; r++) {
    const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
    let q = L.base + s * L.sampleStride;
    const to = r * b;
    for (let j = 0; j < b; j++, q += ls) {
      const v = src[q]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      buf[to + j] = v * gain;
    }
  }
  range[0] = lo;
  range[1] = hi;
}

/** fillRows fused with the first pole's causal pass: buf[r] = sample * gain + z * buf[r - 1], as c[i] += z c[i-1]. */
function fillCausalRows(src: Float32Array | Float64Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, r0: number, r1: number, z: number): void {
  const { n, gain } = p;
  const ls = L.lineStride;
  for (let r = r0; r < r1; r++) {
    const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
    let q = L.base + s * L.sampleStride;
    let t = r * b;
    const e = t + b;
    for (; t < e - 3; t += 4, q += 4 * ls) {
      buf[t] = src[q]! * gain + z * buf[t - b]!;
      buf[t + 1] = src[q + ls]! * gain + z * buf[t + 1 - b]!;
      buf[t + 2] = src[q + 2 * ls]! * gain + z * buf[t + 2 - b]!;
      buf[t + 3] = src[q + 3 * ls]! * gain + z * buf[t + 3 - b]!;
    }
    for (; t < e; t++, q += ls) buf[t] = src[q]! * gain + z * buf[t - b]!;
  }
}

/** fillCausalRows for a float32 source that also widens range = [min, max] by each sample read. */
function fillCausalRows32R(
  src: Float32Array,
  L: BlockLayout,
  b: number,
  p: AxisPlan,
  buf: Float64Array,
  r0: number,
  r1: number,
  z: number,
  range: Float64Array,
): void {
  const { n, gain } = p;
  const ls = L.lineStride;
  let lo = range[0]!,
    hi = range[1]!;
  for (let r = r0; r < r1; r++) {
    const s = r < NPAD ? 0 : r >= NPAD + n ? n - 1 : r - NPAD;
    let q = L.base + s * L.sampleStride;
    let t = r * b;
    const e = t + b;
    for (; t < e - 1; t += 2, q += 2 * ls) {
      const u = src[q]!,
        v = src[q + ls]!;
      if (u < lo) lo = u;
      if (u > hi) hi = u;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      buf[t] = u * gain + z * buf[t - b]!;
      buf[t + 1] = v * gain + z * buf[t + 1 - b]!;
    }
    for (; t < e; t++, q += ls) {
      const v = src[q]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      buf[t] = v * gain + z * buf[t - b]!;
    }
  }
  range[0] = lo;
  range[1] = hi;
}

/** Fills the buffer and runs the first pole's causal pass (initialisation included) over it. */
function fillCausal(src: Float32Array | Float64Array, L: BlockLayout, b: number, p: AxisPlan, buf: Float64Array, c0: Float64Array): void {
  const { len, terms } = p;
  const z = p.poles[0]!;
  const R = p.range;
  if (src instanceof Float32Array && R) {
    fillRows32R(src, L, b, p, buf, 0, terms || len, R);
    if (terms > 0) fillRows32R(src, L, b, p, buf, len - terms, len, R);
    causalInit(buf, len, b, z, c0);
    causalRows(buf, 1, terms || len, b, z);
    if (terms === 0) return;
    fillCausalRows32R(src, L, b, p, buf, terms, len - terms, z, R);
    causalRows(buf, len - terms, len, b, z);
    return;
  }
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
}

/** Output k of all b lines at once: its taps' weights and rows are loaded once, the rows are read contiguously. */
function evalOutput(buf: Float64Array, b: number, p: AxisPlan, k: number, q0: number, os: number, out: Float64Array): void {
  const { taps, index, weight, sumStart } = p;
  const t = k * taps;
  if (taps === 4) {
    const w0 = weight[t]!,
      w1 = weight[t + 1]!,
      w2 = weight[t + 2]!,
      w3 = weight[t + 3]!;
    const r0 = index[t]! * b,
      r1 = index[t + 1]! * b,
      r2 = index[t + 2]! * b,
      r3 = index[t + 3]! * b;
    let j = 0,
      q = q0;
    for (; j < b - 3; j += 4, q += 4 * os) {
      out[q] = sumStart + w0 * buf[r0 + j]! + w1 * buf[r1 + j]! + w2 * buf[r2 + j]! + w3 * buf[r3 + j]!;
      out[q + os] = sumStart + w0 * buf[r0 + j + 1]! + w1 * buf[r1 + j + 1]! + w2 * buf[r2 + j + 1]! + w3 * buf[r3 + j + 1]!;
      out[q + 2 * os] = sumStart + w0 * buf[r0 + j + 2]! + w1 * buf[r1 + j + 2]! + w2 * buf[r2 + j + 2]! + w3 * buf[r3 + j + 2]!;
      out[q + 3 * os] = sumStart + w0 * buf[r0 + j + 3]! + w1 * buf[r1 + j + 3]! + w2 * buf[r2 + j + 3]! + w3 * buf[r3 + j + 3]!;
    }
    for (; j < b; j++, q += os) out[q] = sumStart + w0 * buf[r0 + j]! + w1 * buf[r1 + j]! + w2 * buf[r2 + j]! + w3 * buf[r3 + j]!;
    return;
  }
  for (let j = 0, q = q0; j < b; j++, q += os) {
    let v = sumStart;
    for (let h = 0; h < taps; h++) v += weight[t + h]! * buf[index[t + h]! * b + j]!;
    out[q] = v;
  }
}

/**
 * evalOutput into a float32 output, each value clipped to [p.lo, p.hi] first: the same expression as clipping the
 * float64 result and then storing it with a float32 cast, without the float64 plane in between.
 */
function evalOutputClip32(buf: Float64Array, b: number, p: AxisPlan, k: number, q0: number, os: number, out: Float32Array): void {
  const { taps, index, weight, sumStart, lo, hi } = p;
  const t = k * taps;
  if (taps === 4) {
    const w0 = weight[t]!,
      w1 = weight[t + 1]!,
      w2 = weight[t + 2]!,
      w3 = weight[t + 3]!;
    const r0 = index[t]! * b,
      r1 = index[t + 1]! * b,
      r2 = index[t + 2]! * b,
      r3 = index[t + 3]! * b;
    for (let j = 0, q = q0; j < b; j++, q += os) {
      const v = sumStart + w0 * buf[r0 + j]! + w1 * buf[r1 + j]! + w2 * buf[r2 + j]! + w3 * buf[r3 + j]!;
      out[q] = v < lo ? lo : v > hi ? hi : v;
    }
    return;
  }
  for (let j = 0, q = q0; j < b; j++, q += os) {
    let v = sumStart;
    for (let h = 0; h < taps; h++) v += weight[t + h]! * buf[index[t + h]! * b + j]!;
    out[q] = v < lo ? lo : v > hi ? hi : v;
  }
}

/**
 * The last pole's anticausal pass (c[n-1] *= z / (z - 1), then c[i] = z (c[i+1] - c[i]) for i = n-2 .. 0) with the
 * evaluation folded in: outputs are evaluated from the last one down, each as soon as its lowest row is final, so
 * its rows are read while still in L1 instead of in a separate pass over the buffer (about neutral on its own here:
 * the loops are bound by instructions, not memory; the L2-resident buffer made little difference). Every value is
 * computed by the same operations as in the separate passes; only the order in which outputs are written changes.
 */
function anticausalEval(buf: Float64Array, L: BlockLayout, b: number, p: AxisPlan, z: number, out: Float64Array | Float32Array): void {
  const { len, taps, index } = p;
  const last = (len - 1) * b;
  const g = z / (z - 1);
  for (let j = 0; j < b; j++) buf[last + j] *= g;
  const os = L.outLineStride,
    ss = L.outSampleStride,
    ob = L.outBase;
  let k = p.nOut - 1;
  for (; k >= 0 && index[k * taps]! >= len - 1; k--) evalAny(buf, b, p, k, ob + k * ss, os, out);
  for (let i = len - 2; i >= 0; i--) {
    anticausalRow(buf, i, b, z);
    for (; k >= 0 && index[k * taps]! >= i; k--) evalAny(buf, b, p, k, ob + k * ss, os, out);
  }
}

/** evalOutput or, for a float32 output, evalOutputClip32. */
function evalAny(buf: Float64Array, b: number, p: AxisPlan, k: number, q0: number, os: number, out: Float64Array | Float32Array): void {
  if (out instanceof Float64Array) evalOutput(buf, b, p, k, q0, os, out);
  else evalOutputClip32(buf, b, p, k, q0, os, out);
}

/** Filters and evaluates one block of `b` lines. */
function splineBlock(
  src: Float32Array | Float64Array,
  L: BlockLayout,
  b: number,
  p: AxisPlan,
  buf: Float64Array,
  c0: Float64Array,
  out: Float64Array | Float32Array,
): void {
  const { len, poles } = p;
  fillCausal(src, L, b, p, buf, c0);
  const np = poles.length;
  if (np > 1) {
    anticausal(buf, len, b, poles[0]!);
    for (let k = 1; k < np - 1; k++) {
      causalInit(buf, len, b, poles[k]!, c0);
      causalRows(buf, 1, len, b, poles[k]!);
      anticausal(buf, len, b, poles[k]!);
    }
    causalInit(buf, len, b, poles[np - 1]!, c0);
    causalRows(buf, 1, len, b, poles[np - 1]!);
  }
  anticausalEval(buf, L, b, p, poles[np - 1]!, out);
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
  /** Output of a line of +0 samples, computed on first use (see runSplinePass). */
  zeroLine: Float64Array | null;
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
    n,
    nOut,
    len,
    taps,
    index,
    weight,
    poles,
    gain: splineFilterGain(poles),
    terms: 2 * terms < len ? terms : 0,
    sumStart: contiguous ? 0 : -0,
    lo: -Infinity,
    hi: Infinity,
    range: null,
  };
  const width = contiguous ? Math.min(outer, LINES) : Math.min(inner, BLOCK);
  return { p, outer, inner, size: outer * nOut * inner, width, buf: new Float64Array(len * width), c0: new Float64Array(width), zeroLine: null };
}

/**
 * Runs a planned pass from `src` into `out` (every output value is written, so a reused `out` needs no clearing). A
 * float32 `out` receives each value clipped to [lo, hi] and cast, as skimage's clip followed by numpy's astype. With
 * `range` and a float32 `src`, range = [min, max] is widened by every sample of `src` on the way (`v < min`, `v > max`,
 * in the order the pass reads them).
 */
export function runSplinePass(
  sp: SplinePass,
  src: Float32Array | Float64Array,
  out: Float64Array | Float32Array,
  lo = -Infinity,
  hi = Infinity,
  range?: Float64Array,
): void {
  const { p, outer, inner, width, buf, c0 } = sp;
  p.lo = lo;
  p.hi = hi;
  p.range = range ?? null;
  const { n, nOut } = p;
  if (inner === 1) {
    for (let o0 = 0; o0 < outer; o0 += width) {
      const L: BlockLayout = { base: o0 * n, lineStride: n, sampleStride: 1, outBase: o0 * nOut, outLineStride: nOut, outSampleStride: 1 };
      splineBlock(src, L, Math.min(width, outer - o0), p, buf, c0, out);
    }
    return;
  }
  const edges = new Int32Array(2);
  for (let o = 0; o < outer; o++) {
    // Lines (columns) that are +0 throughout, e.g. the background around a body inside its bounding box, all give the
    // same output: each line goes through the same operations on the same values whatever block it is in. Those at
    // either edge of the plane are filled from one such line computed once instead of being filtered.
    zeroColumns(src, o * n * inner, n, inner, edges);
    const x0 = edges[0]!,
      x1 = inner - edges[1]!;
    for (let j0 = x0; j0 < x1; j0 += width) {
      const L: BlockLayout = {
        base: o * n * inner + j0,
        lineStride: 1,
        sampleStride: inner,
        outBase: o * nOut * inner + j0,
        outLineStride: 1,
        outSampleStride: inner,
      };
      splineBlock(src, L, Math.min(width, x1 - j0), p, buf, c0, out);
    }
    if (x0 === 0 && x1 === inner) continue;
    if (range) {
      if (0 < range[0]!) range[0] = 0;
      if (0 > range[1]!) range[1] = 0;
    } // the skipped +0 samples
    const z = (sp.zeroLine ??= zeroLineOutput(p, buf, c0));
    if (out instanceof Float64Array) fillEdges(out, o * nOut * inner, nOut, inner, x0, x1, z);
    else fillEdgesClip32(out, o * nOut * inner, nOut, inner, x0, x1, z, lo, hi);
  }
}

/** The output of one line whose samples are all +0. */
function zeroLineOutput(p: AxisPlan, buf: Float64Array, c0: Float64Array): Float64Array {
  const z = new Float64Array(p.nOut);
  const range = p.range;
  p.range = null;
  const L: BlockLayout = { base: 0, lineStride: 1, sampleStride: 1, outBase: 0, outLineStride: 1, outSampleStride: 1 };
  splineBlock(new Float64Array(p.n), L, 1, p, buf, c0, z);
  p.range = range;
  return z;
}

/**
 * Resamples axis `axis` of a 3-D array with a spline of `order` >= 2 (edge padding, prefilter, evaluation), leaving the
 * other axes alone. Filtering and evaluation along different axes commute, so doing the axes one after another gives
 * scipy's n-d result up to float64 rounding, with a small working buffer instead of a padded copy of the volume.
 * A float32 `src` is read as float64 values (numpy's astype(float)) without a float64 copy. The result goes to
 * `into` (a view of its front) when given, e.g. to reuse a buffer for every channel: fresh memory costs a page fault
 * per 4 KiB on first touch, a sizeable part of a pass.
 */
export function splineAlongAxis(
  src: Float32Array | Float64Array,
  shape: readonly number[],
  axis: number,
  nOut: number,
  order: number,
  into?: Float64Array,
): Float64Array {
  const sp = planSplinePass(shape, axis, nOut, order);
  const out = into ? into.subarray(0, sp.size) : new Float64Array(sp.size);
  runSplinePass(sp, src, out);
  return out;
}
