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
