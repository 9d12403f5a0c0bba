// B-spline building blocks of scipy.ndimage (scipy 1.10 `src/ni_splines.c`): interpolation weights, filter poles and
// the in-place prefilter with the boundary initialisation scipy 1.10 applies for mode 'nearest' (the 'reflect' one).
// Everything is float64, evaluated in scipy's operation order, so results agree with scipy to the last bits.

/**
 * Writes the `order + 1` interpolation weights for coordinate `x` into `out[offset..]`
 * (`get_spline_interpolation_weights`). The last weight is 1 minus the others, subtracted one by one, as in scipy.
 */
export function splineWeights(x: number, order: number, out: Float64Array, offset = 0): void {
  // Convert x to the delta to the middle knot.
  x -= Math.floor(order & 1 ? x : x + 0.5);
  let y = x;
  let z = 1.0 - x;
  let t: number;
  switch (order) {
    case 1:
      out[offset] = 1.0 - x;
      break;
    case 2:
      out[offset + 1] = 0.75 - x * x;
      y = 0.5 - x;
      out[offset] = 0.5 * y * y;
      break;
    case 3:
      out[offset + 1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
      out[offset + 2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
      out[offset] = (z * z * z) / 6.0;
      break;
    case 4:
      t = x * x;
      out[offset + 2] = t * (t * 0.25 - 0.625) + 115.0 / 192.0;
      y = 1.0 + x;
      out[offset + 1] = y * (y * ((y * (5.0 - y)) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
      out[offset + 3] = z * (z * ((z * (5.0 - z)) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
      y = 0.5 - x;
      t = y * y;
      out[offset] = (t * t) / 24.0;
      break;
    case 5:
      t = y * y;
      out[offset + 2] = t * (t * (0.25 - y / 12.0) - 0.5) + 0.55;
      t = z * z;
      out[offset + 3] = t * (t * (0.25 - z / 12.0) - 0.5) + 0.55;
      y += 1.0;
      out[offset + 1] = y * (y * (y * (y * (y / 24.0 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
      z += 1.0;
      out[offset + 4] = z * (z * (z * (z * (z / 24.0 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
      y = 1.0 - x;
      t = y * y;
      out[offset] = (y * t * t) / 120.0;
      break;
    default:
      throw new RangeError(`spline order must be 1..5 for weights, got ${order}`);
  }
  // All interpolation weights add to 1.0, so use it for the last one.
  let last = 1.0;
  for (let i = 0; i < order; i++) last -= out[offset + i]!;
  out[offset + order] = last;
}

/** Poles of the B-spline prefilter of `order` (`get_filter_poles`); empty for orders 0 and 1. */
export function filterPoles(order: number): number[] {
  // scipy's literals (ni_splines.c) kept verbatim, digits beyond double precision included.
  /* eslint-disable no-loss-of-precision */
  switch (order) {
    case 0:
    case 1:
      return [];
    case 2:
      return [-0.171572875253809902396622551580603843];
    case 3:
      return [-0.267949192431122706472553658494127633];
    case 4:
      return [-0.361341225900220177092212841325675255, -0.013725429297339121360331226939128204];
    case 5:
      return [-0.43057534709997379185143478349352011, -0.043096288203264653822712376822550182];
    default:
      throw new RangeError(`spline order must be 0..5, got ${order}`);
    /* eslint-enable no-loss-of-precision */
  }
}

/** The filter gain prod((1 - z)(1 - 1/z)) scipy multiplies every sample by before the recursions. */
export function splineFilterGain(poles: readonly number[]): number {
  let gain = 1.0;
  for (const z of poles) gain *= (1.0 - z) * (1.0 - 1.0 / z);
  return gain;
}

/**
 * How many terms of the initialisation sum matter: scipy adds z^i (c[i] + z^n c[n-1-i]) for i < n, but once
 * |z^i| < 1e-22 the remaining terms are far below the float64 resolution of the sum (|z| <= 0.43, so this stops after
 * at most ~60 terms instead of running over the whole line).
 */
export function causalTerms(z: number, n: number): number {
  const k = Math.ceil(Math.log(1e-22) / Math.log(Math.abs(z))) + 1;
  return Math.min(n, Math.max(1, k));
}

// The prefilter for one pole on `n` rows of `inner` values each (row i is buf[i*inner .. (i+1)*inner)), every column
// an independent line, in three steps so that a caller can fuse the causal pass with filling the buffer. The boundary
// initialisation is the one scipy 1.10 uses for mode 'nearest' (`_init_causal_reflect` / `_init_anticausal_reflect`;
// checked against scipy.ndimage.spline_filter1d). Reads rows 0 .. terms-1 and n-terms .. n-1 only. The column loops
// are unrolled by 4 (same operations per value): V8 does not unroll, and this cuts the loop overhead by about a third.

/** Causal initialisation of row 0: c[0] = c0 + z / (1 - z^2n) * (c[0] + z^n c[n-1] + sum_i z^i (c[i] + z^n c[n-1-i])). */
export function causalInit(buf: Float64Array, n: number, inner: number, z: number, c0: Float64Array): void {
  const last = (n - 1) * inner;
  const zn = Math.pow(z, n);
  for (let j = 0; j < inner; j++) {
    c0[j] = buf[j]!;
    buf[j] = buf[j]! + zn * buf[last + j]!;
  }
  let zi = z;
  const terms = causalTerms(z, n);
  for (let i = 1; i < terms; i++) {
    const a = i * inner;
    const b = (n - 1 - i) * inner;
    let j = 0;
    for (; j < inner - 3; j += 4) {
      buf[j] += zi * (buf[a + j]! + zn * buf[b + j]!);
      buf[j + 1] += zi * (buf[a + j + 1]! + zn * buf[b + j + 1]!);
      buf[j + 2] += zi * (buf[a + j + 2]! + zn * buf[b + j + 2]!);
      buf[j + 3] += zi * (buf[a + j + 3]! + zn * buf[b + j + 3]!);
    }
    for (; j < inner; j++) buf[j] += zi * (buf[a + j]! + zn * buf[b + j]!);
    zi *= z;
  }
  const f = z / (1 - zn * zn);
  for (let j = 0; j < inner; j++) buf[j] = buf[j]! * f + c0[j]!;
}

/** Causal pass over rows [from, to): c[i] += z c[i-1]. */
export function causalRows(buf: Float64Array, from: number, to: number, inner: number, z: number): void {
  for (let i = from; i < to; i++) {
    const e = (i + 1) * inner;
    let q = i * inner;
    for (; q < e - 3; q += 4) {
      buf[q] += z * buf[q - inner]!;
      buf[q + 1] += z * buf[q + 1 - inner]!;
      buf[q + 2] += z * buf[q + 2 - inner]!;
      buf[q + 3] += z * buf[q + 3 - inner]!;
    }
    for (; q < e; q++) buf[q] += z * buf[q - inner]!;
  }
}

/** Anticausal initialisation c[n-1] *= z / (z - 1), then the anticausal pass c[i] = z (c[i+1] - c[i]). */
export function anticausal(buf: Float64Array, n: number, inner: number, z: number): void {
  const last = (n - 1) * inner;
  const g = z / (z - 1);
  for (let j = 0; j < inner; j++) buf[last + j] *= g;
  for (let i = n - 2; i >= 0; i--) anticausalRow(buf, i, inner, z);
}

/** Row i of the anticausal pass: c[i] = z (c[i+1] - c[i]) for every column. */
export function anticausalRow(buf: Float64Array, i: number, inner: number, z: number): void {
  const e = (i + 1) * inner;
  let q = i * inner;
  for (; q < e - 3; q += 4) {
    const d0 = buf[q + inner]! - buf[q]!,
      d1 = buf[q + 1 + inner]! - buf[q + 1]!;
    const d2 = buf[q + 2 + inner]! - buf[q + 2]!,
      d3 = buf[q + 3 + inner]! - buf[q + 3]!;
    buf[q] = z * d0;
    buf[q + 1] = z * d1;
    buf[q + 2] = z * d2;
    buf[q + 3] = z * d3;
  }
  for (; q < e; q++) buf[q] = z * (buf[q + inner]! - buf[q]!);
}

/**
 * Applies scipy's spline prefilter in place to `n` rows of `inner` values each, along the rows (every column an
 * independent line: contiguous memory access for any axis, and independent recursions the CPU can overlap).
 */
export function splineFilterRows(buf: Float64Array, n: number, inner: number, poles: readonly number[], applyGain = true): void {
  if (n <= 1 || poles.length === 0) return; // scipy only filters lines longer than one sample
  if (applyGain) {
    const gain = splineFilterGain(poles);
    const total = n * inner;
    for (let i = 0; i < total; i++) buf[i] *= gain;
  }
  const c0 = new Float64Array(inner);
  for (const z of poles) {
    causalInit(buf, n, inner, z, c0);
    causalRows(buf, 1, n, inner, z);
    anticausal(buf, n, inner, z);
  }
}

/** Per-output-index taps along one axis: input indices (clamped at the borders like scipy 1.10) and weights. */
export interface AxisTaps {
  taps: number;
  index: Int32Array;
  weight: Float64Array;
}

/**
 * Taps for output positions 0..nOut-1 along an axis of `n` samples padded by `npad` on both sides. The coordinate is
 * scipy's grid-mode one, ((k + 0.5) * (n / nOut) - 0.5) + npad.
 */
export function axisTaps(n: number, nOut: number, order: number, npad: number): AxisTaps {
  const len = n + 2 * npad;
  const taps = order + 1;
  const zoom = nOut === 0 ? 1 : n / nOut;
  const index = new Int32Array(nOut * taps);
  const weight = new Float64Array(nOut * taps);
  const half = order >> 1;
  for (let k = 0; k < nOut; k++) {
    let cc = k;
    cc += 0.5;
    cc *= zoom;
    cc -= 0.5;
    cc += npad;
    const start = (order & 1 ? Math.floor(cc) : Math.floor(cc + 0.5)) - half;
    for (let h = 0; h < taps; h++) {
      // mode 'nearest' in scipy 1.10 leaves the coordinate alone and clamps filter taps that fall outside the array
      // (checked against scipy 1.10.1 bit for bit; older scipy clamped the coordinate and mirrored the taps)
      const idx = Math.min(Math.max(start + h, 0), len - 1);
      index[k * taps + h] = idx;
    }
    if (order > 0) splineWeights(cc, order, weight, k * taps);
    else weight[k * taps] = 1;
  }
  return { taps, index, weight };
}
