// NumPy's np.sum / np.mean / np.std (ddof 0) on float32 and float64 arrays, operation for operation, so that values
// computed from them (fingerprint intensity statistics, ZScoreNormalization) match upstream to the last bit.
// np.add.reduce on a contiguous array works through the reduction iterator's buffers of 8192 elements; each buffer is
// summed pairwise (8 accumulators, blocks of 128, split at n/2 rounded down to a multiple of 8;
// numpy/core/src/umath/loops_utils.h.src `FLOAT_pairwise_sum`) and added to the running total in order (checked
// against numpy 1.24). Float32 input reduces with float32 accumulators, float64 input in float64.

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
    let r0 = f(a[start]!),
      r1 = f(a[start + 1]!),
      r2 = f(a[start + 2]!),
      r3 = f(a[start + 3]!);
    let r4 = f(a[start + 4]!),
      r5 = f(a[start + 5]!),
      r6 = f(a[start + 6]!),
      r7 = f(a[start + 7]!);
    const end8 = n - (n % 8);
    let i = 8;
    for (; i < end8; i += 8) {
      const p = start + i;
      r0 = r(r0 + f(a[p]!));
      r1 = r(r1 + f(a[p + 1]!));
      r2 = r(r2 + f(a[p + 2]!));
      r3 = r(r3 + f(a[p + 3]!));
      r4 = r(r4 + f(a[p + 4]!));
      r5 = r(r5 + f(a[p + 5]!));
      r6 = r(r6 + f(a[p + 6]!));
      r7 = r(r7 + f(a[p + 7]!));
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

// The float32 cases of pairwiseSum, one function per element transform (identity, (v - center)^2) with the eight
// accumulators in locals: V8 then inlines Math.fround and keeps them in registers. A shared version with a flag, or
// accumulators in a Float32Array, runs ~2x slower; a generic one with a transform callback ~10x.

function pairwiseSumF32(a: Float32Array, start: number, n: number): number {
  const fr = Math.fround;
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = fr(res + a[start + i]!);
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = a[start]!,
      r1 = a[start + 1]!,
      r2 = a[start + 2]!,
      r3 = a[start + 3]!;
    let r4 = a[start + 4]!,
      r5 = a[start + 5]!,
      r6 = a[start + 6]!,
      r7 = a[start + 7]!;
    const end = start + n - (n % 8);
    let p = start + 8;
    for (; p < end; p += 8) {
      r0 = fr(r0 + a[p]!);
      r1 = fr(r1 + a[p + 1]!);
      r2 = fr(r2 + a[p + 2]!);
      r3 = fr(r3 + a[p + 3]!);
      r4 = fr(r4 + a[p + 4]!);
      r5 = fr(r5 + a[p + 5]!);
      r6 = fr(r6 + a[p + 6]!);
      r7 = fr(r7 + a[p + 7]!);
    }
    let res = fr(fr(fr(r0 + r1) + fr(r2 + r3)) + fr(fr(r4 + r5) + fr(r6 + r7)));
    for (const e = start + n; p < e; p++) res = fr(res + a[p]!);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return fr(pairwiseSumF32(a, start, n2) + pairwiseSumF32(a, start + n2, n - n2));
}

/** pairwiseSumF32 of the float32 squared deviations fround(fround(v - c)^2), numpy's `x = a - mean; x * x` in float32. */
function pairwiseSqDevF32(a: Float32Array, start: number, n: number, c: number): number {
  const fr = Math.fround;
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) {
      const d = fr(a[start + i]! - c);
      res = fr(res + fr(d * d));
    }
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let d = fr(a[start]! - c);
    let r0 = fr(d * d);
    d = fr(a[start + 1]! - c);
    let r1 = fr(d * d);
    d = fr(a[start + 2]! - c);
    let r2 = fr(d * d);
    d = fr(a[start + 3]! - c);
    let r3 = fr(d * d);
    d = fr(a[start + 4]! - c);
    let r4 = fr(d * d);
    d = fr(a[start + 5]! - c);
    let r5 = fr(d * d);
    d = fr(a[start + 6]! - c);
    let r6 = fr(d * d);
    d = fr(a[start + 7]! - c);
    let r7 = fr(d * d);
    const end = start + n - (n % 8);
    let p = start + 8;
    for (; p < end; p += 8) {
      d = fr(a[p]! - c);
      r0 = fr(r0 + fr(d * d));
      d = fr(a[p + 1]! - c);
      r1 = fr(r1 + fr(d * d));
      d = fr(a[p + 2]! - c);
      r2 = fr(r2 + fr(d * d));
      d = fr(a[p + 3]! - c);
      r3 = fr(r3 + fr(d * d));
      d = fr(a[p + 4]! - c);
      r4 = fr(r4 + fr(d * d));
      d = fr(a[p + 5]! - c);
      r5 = fr(r5 + fr(d * d));
      d = fr(a[p + 6]! - c);
      r6 = fr(r6 + fr(d * d));
      d = fr(a[p + 7]! - c);
      r7 = fr(r7 + fr(d * d));
    }
    let res = fr(fr(fr(r0 + r1) + fr(r2 + r3)) + fr(fr(r4 + r5) + fr(r6 + r7)));
    for (const e = start + n; p < e; p++) {
      d = fr(a[p]! - c);
      res = fr(res + fr(d * d));
    }
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return fr(pairwiseSqDevF32(a, start, n2, c) + pairwiseSqDevF32(a, start + n2, n - n2, c));
}

function reduceSumF32(a: Float32Array, square: boolean, center: number): number {
  let acc = 0;
  for (let s = 0; s < a.length; s += NPY_BUFSIZE) {
    const len = Math.min(NPY_BUFSIZE, a.length - s);
    acc = Math.fround(acc + (square ? pairwiseSqDevF32(a, s, len, center) : pairwiseSumF32(a, s, len)));
  }
  return acc;
}

/** np.mean (float32 result for float32 input). */
export function npMean(a: Float32Array | Float64Array): number {
  if (a instanceof Float32Array) return Math.fround(reduceSumF32(a, false, 0) / a.length);
  return reduceSum(a, identity, identity) / a.length;
}

/** np.std with ddof 0: mean, squared deviations, their pairwise sum, divide, sqrt, all in the array's precision. */
export function npStd(a: Float32Array | Float64Array, mean = npMean(a)): number {
  if (a instanceof Float32Array) return Math.fround(Math.sqrt(Math.fround(reduceSumF32(a, true, mean) / a.length)));
  const sq = (v: number) => {
    const d = v - mean;
    return d * d;
  };
  return Math.sqrt(reduceSum(a, identity, sq) / a.length);
}
