// The dataset-level foreground intensity statistics exactly as NumPy computes them on the concatenated float32
// samples: np.mean / np.std as numpy reduces them (sdk/util/numpy-reductions.ts), and np.percentile interpolating
// linearly between order statistics (numpy.lib.function_base._lerp). Float64 input (a case without foreground makes
// upstream's np.concatenate promote to float64) reduces the same way in float64.

import type { IntensityProperties } from "./fingerprint-json.js";
import { npMean, npStd } from "../util/numpy-reductions.js";

const rounderFor = (a: Float32Array | Float64Array): ((x: number) => number) => (a instanceof Float32Array ? Math.fround : (x) => x);

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
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function swap(a: Float32Array | Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
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
  buckets.forEach((b, i) => {
    slot[b] = i;
  });
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
    for (const k of ks) {
      select(a, k, lo, n - 1);
      lo = k;
      value.set(k, a[k]!);
    }
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
