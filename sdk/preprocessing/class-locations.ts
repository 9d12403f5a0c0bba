// DefaultPreprocessor._sample_foreground_locations (nnU-Net >= 2.6.3): voxel coordinates per class for the data
// loader's foreground oversampling. At least 1% of a class's voxels (and up to 10,000) are drawn without replacement
// with RandomState(1234), one generator shared by all classes in order.

import { RandomState } from "../util/random-state.js";

/** A class: one label, or a region (several labels; regions and the ignore-label key). */
export type ClassOrRegion = number | readonly number[];

/** `{key: [[0, z, y, x], ...]}`: keys are the label ("1") or Python's tuple repr ("(1, 2)"), as our JSON stores them. */
export type ClassLocations = Record<string, number[][]>;

/**
 * `rs.choice(n, k, replace=False)` = `permutation(n)[:k]`: NumPy's legacy Fisher-Yates shuffle of arange(n), drawing
 * `random_interval(i)` (masked rejection on 32-bit words) for i = n-1 .. 1. Same draws as RandomState.choice, on an
 * Int32Array with the generator inlined (shuffleInt32) because populations here are up to millions of voxels.
 */
export function choiceWithoutReplacement(rs: RandomState, n: number, k: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return rs.shuffleInt32(a).subarray(0, k);
}

/**
 * Voxel counts per (row, label slot), cumulative over rows: cum[r * L + s] = voxels of slot s in rows before r, for
 * r = 0 .. rows. One pass over the volume; a voxel is then found from its rank within its label by a binary search
 * over rows and a scan of one row, instead of listing every voxel of every label. The hot loops are small functions
 * on int16 labels only, so V8 compiles each once, small (a large function optimised on the fly costs tens of ms of
 * compile time per case).
 */
function cumulativeRowCounts(seg: Int16Array, rowLen: number, L: number, lut: Int32Array): Int32Array {
  const rows = Math.floor(seg.length / rowLen);
  const cum = new Int32Array((rows + 1) * L);
  const counts = new Int32Array(L);
  for (let r = 0; r < rows; r += ROWS_PER_CALL) countRows(seg, rowLen, L, lut, counts, cum, r, Math.min(rows, r + ROWS_PER_CALL));
  return cum;
}

/** Rows per call of the hot loops: many calls per case, so V8 optimises them once instead of in every case. */
const ROWS_PER_CALL = 256;

function countRows(seg: Int16Array, rowLen: number, L: number, lut: Int32Array, counts: Int32Array, cum: Int32Array, r0: number, r1: number): void {
  for (let r = r0, i = r0 * rowLen; r < r1; r++) {
    for (const end = i + rowLen; i < end; i++) {
      const s = lut[seg[i]! + 32768]!;
      if (s >= 0) counts[s]++;
    }
    for (let s = 0; s < L; s++) cum[(r + 1) * L + s] = counts[s]!;
  }
}

/**
 * [0, z, y, x] of each picked candidate: candidate `picked[j]` is, block after block, the voxels of slot blockSlot[b]
 * (blockSize[b] of them, holding the value blockCode[b] in `seg`) in C order.
 */
function locatePicked(
  seg: Int16Array,
  ny: number,
  nx: number,
  L: number,
  cum: Int32Array,
  blockSlot: Int32Array,
  blockCode: Int32Array,
  blockSize: Int32Array,
  picked: Int32Array,
): number[][] {
  const locs: number[][] = new Array(picked.length);
  for (let j = 0; j < picked.length; j += 1024)
    locateRange(seg, ny, nx, L, cum, blockSlot, blockCode, blockSize, picked, locs, j, Math.min(picked.length, j + 1024));
  return locs;
}

function locateRange(
  seg: Int16Array,
  ny: number,
  nx: number,
  L: number,
  cum: Int32Array,
  blockSlot: Int32Array,
  blockCode: Int32Array,
  blockSize: Int32Array,
  picked: Int32Array,
  locs: number[][],
  j0: number,
  j1: number,
): void {
  const rowLen = Math.max(1, nx);
  const lastRow = cum.length / L - 2;
  for (let j = j0; j < j1; j++) {
    let rank = picked[j]!;
    let b = 0;
    while (rank >= blockSize[b]!) rank -= blockSize[b++]!;
    const slot = blockSlot[b]!,
      code = blockCode[b]!;
    // last row r with cum[r] <= rank, i.e. the row holding the voxel
    let lo = 0,
      hi = lastRow;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cum[mid * L + slot]! <= rank) lo = mid;
      else hi = mid - 1;
    }
    let left = rank - cum[lo * L + slot]!;
    let flat = lo * rowLen;
    for (; ; flat++) if (seg[flat] === code && left-- === 0) break;
    const x = flat % nx;
    const y = Math.floor(flat / nx) % ny;
    const z = Math.floor(flat / (nx * ny));
    locs[j] = [0, z, y, x];
  }
}

/** Any segmentation as int16 slot codes: voxels of a wanted label hold their slot, others -1 (slow path, rare). */
function slotCodes(seg: ArrayLike<number>, slotOf: (v: number) => number): Int16Array {
  const out = new Int16Array(seg.length);
  for (let i = 0; i < seg.length; i++) out[i] = slotOf(seg[i]!);
  return out;
}

/** The JSON key upstream's pickled dict turns into: str(int) or str(tuple). */
export function classKey(c: ClassOrRegion): string {
  if (typeof c === "number") return String(c);
  return c.length === 1 ? `(${c[0]},)` : `(${c.join(", ")})`;
}

export interface SampleOptions {
  seed?: number;
  minNumSamples?: number;
  minPercentCoverage?: number;
}

/**
 * Samples voxel locations for each class of `classes` in a segmentation of shape [1, Z, Y, X] (or [Z, Y, X]).
 * Candidates of a class are its labels' voxels in C order, label block after label block in the order the class lists
 * them; `choice(total, k, replace=False)` picks k = max(min(10000, total), ceil(total * 0.01)) of them. A class with no
 * voxels gets [] and consumes no random numbers.
 * Matches `_sample_foreground_locations` in nnU-Net's `default_preprocessor.py`.
 * @example sampleForegroundLocations(seg, [1, 4, 37, 31], [1, 2])
 */
export function sampleForegroundLocations(
  seg: ArrayLike<number>,
  shape: readonly number[],
  classes: readonly ClassOrRegion[],
  { seed = 1234, minNumSamples = 10000, minPercentCoverage = 0.01 }: SampleOptions = {},
): ClassLocations {
  const spatial = shape.length === 4 ? shape.slice(1) : [...shape];
  const [, ny, nx] = spatial as [number, number, number];
  const wanted = new Set<number>();
  for (const c of classes) for (const l of typeof c === "number" ? [c] : c) wanted.add(l);
  // label -> slot through a lookup table over the int16 range (segmentations are int16), so the pass over the volume
  // does no hashing
  const labels = [...wanted];
  const L = labels.length;
  let lut = new Int32Array(65536).fill(-1);
  labels.forEach((l, slot) => {
    if (Number.isInteger(l) && l >= -32768 && l <= 32767) lut[l + 32768] = slot;
  });
  let seg16: Int16Array;
  if (seg instanceof Int16Array) seg16 = seg;
  else {
    const table = lut;
    seg16 = slotCodes(seg, (v) => (Number.isInteger(v) && v >= -32768 && v <= 32767 ? table[v + 32768]! : -1));
    lut = new Int32Array(65536).fill(-1);
    for (let s = 0; s < L; s++) lut[s + 32768] = s;
  }
  const cum = cumulativeRowCounts(seg16, Math.max(1, nx), L, lut);
  const rs = new RandomState(seed);
  const out: ClassLocations = {};
  for (const c of classes) {
    // candidates: each label's voxels in C order, label block after label block in the order the class lists them
    const blockSlot = Int32Array.from(typeof c === "number" ? [c] : c, (l) => labels.indexOf(l));
    const blockSize = blockSlot.map((s) => cum[cum.length - L + s]!);
    const total = blockSize.reduce((a, b) => a + b, 0);
    const key = classKey(c);
    if (total === 0) {
      out[key] = [];
      continue;
    }
    const k = Math.max(Math.min(minNumSamples, total), Math.ceil(total * minPercentCoverage));
    // the value a slot's voxels hold: the label itself, or the slot in slot codes (a slot whose label no int16 can
    // hold has no voxels and is never located)
    const blockCode = blockSlot.map((s) => (seg16 === seg ? labels[s]! : s));
    out[key] = locatePicked(seg16, ny, nx, L, cum, blockSlot, blockCode, blockSize, choiceWithoutReplacement(rs, total, k));
  }
  return out;
}
