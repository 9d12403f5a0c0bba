// The dataset-level foreground intensity statistics exactly as NumPy computes them on the concatenated float32
// samples: np.mean / np.std reduce float32 in the reduction iterator's buffers of 8192 elements, each buffer summed
// pairwise (8 accumulators, blocks of 128, split at n/2 rounded down to a multiple of 8;
// numpy/core/src/umath/loops_utils.h.src) and added to the running total in order (checked against numpy 1.24), and np.percentile interpolates linearly between
// order statistics (numpy.lib.function_base._lerp). Float64 input (a case without foreground makes upstream's
// np.concatenate promote to float64) reduces the same way in float64.

import type { IntensityProperties } from "../planning/plans.js";

const PW_BLOCKSIZE = 128;
type Rounder = (x: number) => number;
const identity: Rounder = (x) => x;

/** numpy's pairwise sum of `f(a[i])` over [start, start + n), every addition rounded by `r`. */
function pairwiseSum(a: Float32Array | Float64Array, start: number, n: number, r: Rounder, f: (v: number) => number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = r(res + f(a[start + i]!));
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = f(a[start]!), r1 = f(a[start + 1]!), r2 = f(a[start + 2]!), r3 = f(a[start + 3]!);
    let r4 = f(a[start + 4]!), r5 = f(a[start + 5]!), r6 = f(a[start + 6]!), r7 = f(a[start + 7]!);
    const end8 = n - (n % 8);
    let i = 8;
    for (; i < end8; i += 8) {
      const p = start + i;
      r0 = r(r0 + f(a[p]!)); r1 = r(r1 + f(a[p + 1]!)); r2 = r(r2 + f(a[p + 2]!)); r3 = r(r3 + f(a[p + 3]!));
      r4 = r(r4 + f(a[p + 4]!)); r5 = r(r5 + f(a[p + 5]!)); r6 = r(r6 + f(a[p + 6]!)); r7 = r(r7 + f(a[p + 7]!));
    }
    let res = r(r(r(r0 + r1) + r(r2 + r3)) + r(r(r4 + r5) + r(r6 + r7)));
    for (; i < n; i++) res = r(res + f(a[start + i]!));
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return r(pairwiseSum(a, start, n2, r, f) + pairwiseSum(a, start + n2, n - n2, r, f));
}

const NPY_BUFSIZE = 8192;

/** np.add.reduce over the whole array: sequential over iterator buffers, pairwise inside each. */
function reduceSum(a: Float32Array | Float64Array, r: Rounder, f: (v: number) => number): number {
  let acc = 0;
  for (let s = 0; s < a.length; s += NPY_BUFSIZE) acc = r(acc + pairwiseSum(a, s, Math.min(NPY_BUFSIZE, a.length - s), r, f));
  return acc;
}

/**
 * The float32 case of pairwiseSum with the element transform `v -> (v - center)^2` (or identity when `square` is
 * false), written out so V8 inlines Math.fround: the generic version is ~10x slower on 1e8 samples.
 */
function pairwiseSumF32(a: Float32Array, start: number, n: number, square: boolean, center: number): number {
  const fr = Math.fround;
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) {
      let v = a[start + i]!;
      if (square) { v = fr(v - center); v = fr(v * v); }
      res = fr(res + v);
    }
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    const acc = SCRATCH;
    for (let j = 0; j < 8; j++) {
      let v = a[start + j]!;
      if (square) { v = fr(v - center); v = fr(v * v); }
      acc[j] = v;
    }
    const end8 = n - (n % 8);
    let i = 8;
    for (; i < end8; i += 8) {
      const p = start + i;
      for (let j = 0; j < 8; j++) {
        let v = a[p + j]!;
        if (square) { v = fr(v - center); v = fr(v * v); }
        acc[j] = acc[j]! + v; // acc is a Float32Array: the store rounds to float32
      }
    }
    let res = fr(fr(fr(acc[0]! + acc[1]!) + fr(acc[2]! + acc[3]!)) + fr(fr(acc[4]! + acc[5]!) + fr(acc[6]! + acc[7]!)));
    for (; i < n; i++) {
      let v = a[start + i]!;
      if (square) { v = fr(v - center); v = fr(v * v); }
      res = fr(res + v);
    }
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return fr(pairwiseSumF32(a, start, n2, square, center) + pairwiseSumF32(a, start + n2, n - n2, square, center));
}

const SCRATCH = new Float32Array(8);

function reduceSumF32(a: Float32Array, square: boolean, center: number): number {
  let acc = 0;
  for (let s = 0; s < a.length; s += NPY_BUFSIZE) acc = Math.fround(acc + pairwiseSumF32(a, s, Math.min(NPY_BUFSIZE, a.length - s), square, center));
  return acc;
}

const rounderFor = (a: Float32Array | Float64Array): Rounder => (a instanceof Float32Array ? Math.fround : identity);

/** np.mean (float32 result for float32 input). */
export function npMean(a: Float32Array | Float64Array): number {
  if (a instanceof Float32Array) return Math.fround(reduceSumF32(a, false, 0) / a.length);
  return reduceSum(a, identity, identity) / a.length;
}

/** np.std with ddof 0: mean, squared deviations, their pairwise sum, divide, sqrt, all in the array's precision. */
export function npStd(a: Float32Array | Float64Array, mean = npMean(a)): number {
  if (a instanceof Float32Array) return Math.fround(Math.sqrt(Math.fround(reduceSumF32(a, true, mean) / a.length)));
  const sq = (v: number) => { const d = v - mean; return d * d; };
  return Math.sqrt(reduceSum(a, identity, sq) / a.length);
}

/** Moves the k-th smallest value of a[lo..hi] to index k (quickselect, median-of-three pivot). */
function select(a: Float32Array | Float64Array, k: number, lo: number, hi: number): void {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three into a[mid]
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { swap(a, i, j); i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function swap(a: Float32Array | Float64Array, i: number, j: number): void {
  const t = a[i]!; a[i] = a[j]!; a[j] = t;
}

/**
 * The k-th smallest values of a float32 array (no NaN) for several k, by a two-pass radix select on the order-preserving
 * 32-bit keys of the floats: the high 16 bits locate each rank's bucket, the low 16 bits within it. Two linear passes,
 * O(1) extra memory, exact; much faster than quickselect on 1e8 samples with many repeated values.
 */
export function orderStatisticsF32(a: Float32Array, ks: readonly number[]): number[] {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const key = (bits: number) => ((bits & 0x80000000) !== 0 ? ~bits : bits | 0x80000000) >>> 0;
  const hist = new Float64Array(65536);
  for (let i = 0; i < u.length; i++) hist[key(u[i]!) >>> 16]++;
  const locate = (h: Float64Array, k: number): [number, number] => {
    let acc = 0;
    for (let b = 0; b < h.length; b++) {
      if (k < acc + h[b]!) return [b, k - acc];
      acc += h[b]!;
    }
    throw new RangeError(`rank ${k} out of range`);
  };
  const first = ks.map((k) => locate(hist, k));
  const buckets = [...new Set(first.map(([b]) => b))];
  const slot = new Int8Array(65536).fill(-1);
  buckets.forEach((b, i) => { slot[b] = i; });
  const low = buckets.map(() => new Float64Array(65536));
  for (let i = 0; i < u.length; i++) {
    const k = key(u[i]!);
    const sl = slot[k >>> 16]!;
    if (sl >= 0) low[sl]![k & 0xffff]++;
  }
  const f = new Float32Array(1);
  const fu = new Uint32Array(f.buffer);
  return first.map(([b, rest]) => {
    const [lo] = locate(low[slot[b]!]!, rest);
    const k = ((b << 16) | lo) >>> 0;
    fu[0] = (k & 0x80000000) !== 0 ? k & 0x7fffffff : ~k >>> 0;
    return f[0]!;
  });
}

/**
 * np.percentile(a, qs) (linear). May reorder a float64 `a` in place (like ndarray.partition), so call it after mean and std.
 * Returns float64 values as numpy's _lerp does: a + (b - a) * gamma with (b - a) in the array's precision.
 */
export function npPercentilesInPlace(a: Float32Array | Float64Array, qs: readonly number[]): number[] {
  const n = a.length;
  const r = rounderFor(a);
  const wanted = qs.map((q) => {
    const virtual = (n - 1) * (q / 100);
    const prev = virtual >= n - 1 ? n - 1 : virtual < 0 ? 0 : Math.floor(virtual);
    const next = virtual >= n - 1 ? n - 1 : virtual < 0 ? 0 : prev + 1;
    return { virtual, prev, next, gamma: virtual >= n - 1 ? virtual + 1 : virtual - prev };
  });
  // select the needed order statistics in increasing order, each within the part right of the previous one
  const ks = [...new Set(wanted.flatMap((w) => [w.prev, w.next]))].sort((x, y) => x - y);
  const value = new Map<number, number>();
  if (a instanceof Float32Array) {
    orderStatisticsF32(a, ks).forEach((v, i) => value.set(ks[i]!, v));
  } else {
    let lo = 0;
    for (const k of ks) { select(a, k, lo, n - 1); lo = k; value.set(k, a[k]!); }
  }
  return wanted.map(({ prev, next, gamma }) => {
    const x = value.get(prev)!;
    const y = value.get(next)!;
    const d = r(y - x);
    return gamma >= 0.5 ? y - d * (1 - gamma) : x + d * gamma;
  });
}

/** min and max in one pass. */
export function minMax(a: Float32Array | Float64Array): [number, number] {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  return [mn, mx];
}

/**
 * The statistics DatasetFingerprintExtractor.run writes per channel, in the key order of upstream's file (sorted).
 * Reorders `samples`.
 */
export function foregroundIntensityProperties(samples: Float32Array | Float64Array): IntensityProperties {
  if (samples.length === 0) {
    // np.mean / np.percentile of an empty array: NaN (with warnings) or an IndexError upstream; NaN keeps the file writable
    return { max: NaN, mean: NaN, median: NaN, min: NaN, percentile_00_5: NaN, percentile_99_5: NaN, std: NaN };
  }
  const mean = npMean(samples);
  const std = npStd(samples, mean);
  const [min, max] = minMax(samples);
  const [p005, median, p995] = npPercentilesInPlace(samples, [0.5, 50, 99.5]);
  return { max, mean, median: median!, min, percentile_00_5: p005!, percentile_99_5: p995!, std };
}
