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
 * `random_interval(i)` (masked rejection on 32-bit words) for i = n-1 .. 1. Same draws as RandomState.choice, written
 * out on an Int32Array because populations here are millions of voxels.
 */
export function choiceWithoutReplacement(rs: RandomState, n: number, k: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  let mask = 0;
  for (let i = n - 1; i >= 1; i--) {
    if (mask === 0 || (mask >>> 1) >= i) {
      let m = i;
      m |= m >>> 1; m |= m >>> 2; m |= m >>> 4; m |= m >>> 8; m |= m >>> 16;
      mask = m >>> 0;
    }
    let j: number;
    do j = (rs.nextUint32() & mask) >>> 0; while (j > i);
    const t = a[i]!; a[i] = a[j]!; a[j] = t;
  }
  return a.subarray(0, k);
}

/** Voxels per label slot of an int16 segmentation (monomorphic hot loop). */
function countInt16(seg: Int16Array, lut: Int32Array, counts: Int32Array): void {
  for (let i = 0; i < seg.length; i++) { const s = lut[seg[i]! + 32768]!; if (s >= 0) counts[s]++; }
}

/** Flat voxel indices per label slot, in C order. */
function fillInt16(seg: Int16Array, lut: Int32Array, blocks: Int32Array[], fill: Int32Array): void {
  for (let i = 0; i < seg.length; i++) { const s = lut[seg[i]! + 32768]!; if (s >= 0) blocks[s]![fill[s]!++] = i; }
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
  // label -> slot through a lookup table over the int16 range (segmentations are int16), so the two passes over the
  // volume do no hashing
  const labels = [...wanted];
  const lut = new Int32Array(65536).fill(-1);
  labels.forEach((l, slot) => { if (Number.isInteger(l) && l >= -32768 && l <= 32767) lut[l + 32768] = slot; });
  const slotOf = (v: number) => (Number.isInteger(v) && v >= -32768 && v <= 32767 ? lut[v + 32768]! : -1);
  const counts = new Int32Array(labels.length);
  const fill = new Int32Array(labels.length);
  let blocksBySlot: Int32Array[];
  if (seg instanceof Int16Array) {
    countInt16(seg, lut, counts);
    blocksBySlot = labels.map((_, s) => new Int32Array(counts[s]!));
    fillInt16(seg, lut, blocksBySlot, fill);
  } else {
    for (let i = 0; i < seg.length; i++) { const s = slotOf(seg[i]!); if (s >= 0) counts[s]++; }
    blocksBySlot = labels.map((_, s) => new Int32Array(counts[s]!));
    for (let i = 0; i < seg.length; i++) { const s = slotOf(seg[i]!); if (s >= 0) blocksBySlot[s]![fill[s]!++] = i; }
  }
  const voxels = new Map<number, Int32Array>(labels.map((l, s) => [l, blocksBySlot[s]!]));
  const rs = new RandomState(seed);
  const out: ClassLocations = {};
  for (const c of classes) {
    const labs = typeof c === "number" ? [c] : [...c];
    const blocks = labs.map((l) => voxels.get(l)!);
    const total = blocks.reduce((a, b) => a + b.length, 0);
    const key = classKey(c);
    if (total === 0) { out[key] = []; continue; }
    const k = Math.max(Math.min(minNumSamples, total), Math.ceil(total * minPercentCoverage));
    const picked = choiceWithoutReplacement(rs, total, k);
    const locs: number[][] = new Array(k);
    for (let j = 0; j < k; j++) {
      let off = picked[j]!;
      let b = 0;
      while (off >= blocks[b]!.length) off -= blocks[b++]!.length;
      const flat = blocks[b]![off]!;
      const x = flat % nx;
      const y = Math.floor(flat / nx) % ny;
      const z = Math.floor(flat / (nx * ny));
      locs[j] = [0, z, y, x];
    }
    out[key] = locs;
  }
  return out;
}
