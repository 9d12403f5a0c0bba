// NumPy's float32 reductions, operation for operation: `np.add.reduce` on a contiguous float32 array is a pairwise sum
// per 8192-element buffer chunk, with float32 accumulators (numpy/core/src/umath/loops_utils.h.src `FLOAT_pairwise_sum`: blocks of <= 128 values are
// summed with 8 interleaved accumulators), `mean` divides that sum by the count, `std` (ddof 0) sums the squared
// float32 deviations the same way. nnU-Net's ZScoreNormalization runs on float32, so these decide the last bits.

const f = Math.fround;

/** Pairwise float32 sum of `a[start .. start + n)` read through `index` when given (masked selections). */
function pairwiseSum(a: Float32Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f(res + a[start + i]!);
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!, r1 = a[start + 1]!, r2 = a[start + 2]!, r3 = a[start + 3]!;
    let r4 = a[start + 4]!, r5 = a[start + 5]!, r6 = a[start + 6]!, r7 = a[start + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const p = start + i;
      r0 = f(r0 + a[p]!); r1 = f(r1 + a[p + 1]!); r2 = f(r2 + a[p + 2]!); r3 = f(r3 + a[p + 3]!);
      r4 = f(r4 + a[p + 4]!); r5 = f(r5 + a[p + 5]!); r6 = f(r6 + a[p + 6]!); r7 = f(r7 + a[p + 7]!);
    }
    let res = f(f(f(r0 + r1) + f(r2 + r3)) + f(f(r4 + r5) + f(r6 + r7)));
    for (; i < n; i++) res = f(res + a[start + i]!);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2));
}

/** NumPy's ufunc buffer size: a reduction hands the inner loop at most this many elements at a time. */
const BUFSIZE = 8192;

/** `np.sum(a)` for a float32 array (float32 result): pairwise within each 8192-element chunk, chunks added in order. */
export function sumFloat32(a: Float32Array): number {
  let acc = 0;
  for (let s = 0; s < a.length; s += BUFSIZE) acc = f(acc + pairwiseSum(a, s, Math.min(BUFSIZE, a.length - s)));
  return acc;
}

/** `a.mean()` for a float32 array: the float32 pairwise sum divided by the count, rounded to float32. */
export function meanFloat32(a: Float32Array): number {
  return f(sumFloat32(a) / a.length);
}

/** `a.std()` (ddof 0) for a float32 array, as numpy's `_var` computes it in float32; `overwrite` reuses `a` for the squares. */
export function stdFloat32(a: Float32Array, mean = meanFloat32(a), overwrite = false): number {
  const sq = overwrite ? a : new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) { const d = f(a[i]! - mean); sq[i] = d * d; }
  return f(Math.sqrt(f(sumFloat32(sq) / a.length)));
}
