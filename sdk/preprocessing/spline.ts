// B-spline building blocks of scipy.ndimage (scipy 1.10 `src/ni_splines.c`): interpolation weights, filter poles and
// the in-place prefilter with the mirror boundary initialisation that scipy also uses for mode 'nearest'.
// Everything is float64, evaluated in scipy's operation order, so results agree with scipy to the last bits.

/** Largest spline order scipy supports. */
export const MAX_SPLINE_ORDER = 5;

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
      out[offset] = z * z * z / 6.0;
      break;
    case 4:
      t = x * x;
      out[offset + 2] = t * (t * 0.25 - 0.625) + 115.0 / 192.0;
      y = 1.0 + x;
      out[offset + 1] = y * (y * (y * (5.0 - y) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
      out[offset + 3] = z * (z * (z * (5.0 - z) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
      y = 0.5 - x;
      t = y * y;
      out[offset] = t * t / 24.0;
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
      out[offset] = y * t * t / 120.0;
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
  switch (order) {
    case 0: case 1: return [];
    case 2: return [-0.171572875253809902396622551580603843];
    case 3: return [-0.267949192431122706472553658494127633];
    case 4: return [-0.361341225900220177092212841325675255, -0.013725429297339121360331226939128204];
    case 5: return [-0.430575347099973791851434783493520110, -0.043096288203264653822712376822550182];
    default: throw new RangeError(`spline order must be 0..5, got ${order}`);
  }
}

/** The filter gain prod((1 - z)(1 - 1/z)) scipy multiplies every sample by before the recursions. */
export function splineFilterGain(poles: readonly number[]): number {
  let gain = 1.0;
  for (const z of poles) gain *= (1.0 - z) * (1.0 - 1.0 / z);
  return gain;
}

/**
 * How many terms of the mirror initialisation sum matter: scipy adds z^i (c[i] + z^(n-1) c[n-1-i]) for i < n - 1,
 * but once |z^i| < 1e-22 the remaining terms are far below float64 resolution of the sum (|z| <= 0.43, so this stops
 * after at most ~60 terms instead of running over the whole line).
 */
function causalTerms(z: number, n: number): number {
  const k = Math.ceil(Math.log(1e-22) / Math.log(Math.abs(z))) + 1;
  return Math.min(n - 1, Math.max(1, k));
}

/**
 * Applies scipy's spline prefilter (`apply_filter` with the mirror initialisation used for modes 'mirror', 'nearest'
 * and 'constant') in place to `n` rows of `inner` values each: row i is `buf[i*inner .. (i+1)*inner)`, and the filter
 * runs along the rows, every column independently. Working on whole rows keeps memory access contiguous for any axis.
 */
export function splineFilterRows(buf: Float64Array, n: number, inner: number, poles: readonly number[], applyGain = true): void {
  if (n <= 1 || poles.length === 0) return; // scipy only filters lines longer than one sample
  if (applyGain) {
    const gain = splineFilterGain(poles);
    const total = n * inner;
    for (let i = 0; i < total; i++) buf[i] *= gain;
  }
  const last = (n - 1) * inner;
  for (const z of poles) {
    // Causal initialisation (_init_causal_mirror): c[0] = (c[0] + z^(n-1) c[n-1] + sum z^i (c[i] + z^(n-1) c[n-1-i])) / (1 - z^(2n-2))
    const zn1 = Math.pow(z, n - 1);
    for (let j = 0; j < inner; j++) buf[j] = buf[j]! + zn1 * buf[last + j]!;
    let zi = z;
    const last1 = causalTerms(z, n);
    for (let i = 1; i < last1; i++) {
      const a = i * inner;
      const b = (n - 1 - i) * inner;
      for (let j = 0; j < inner; j++) buf[j] += zi * (buf[a + j]! + zn1 * buf[b + j]!);
      zi *= z;
    }
    const denom = 1 - zn1 * zn1;
    for (let j = 0; j < inner; j++) buf[j] /= denom;
    // Causal pass.
    for (let i = 1; i < n; i++) {
      const a = i * inner;
      const p = a - inner;
      for (let j = 0; j < inner; j++) buf[a + j] += z * buf[p + j]!;
    }
    // Anticausal initialisation (_init_anticausal_mirror), then the anticausal pass.
    const zz1 = z * z - 1;
    const prev = last - inner;
    for (let j = 0; j < inner; j++) buf[last + j] = (z * buf[prev + j]! + buf[last + j]!) * z / zz1;
    for (let i = n - 2; i >= 0; i--) {
      const a = i * inner;
      const nx = a + inner;
      for (let j = 0; j < inner; j++) buf[a + j] = z * (buf[nx + j]! - buf[a + j]!);
    }
  }
}

/** splineFilterRows for a single contiguous line (inner = 1), without the per-row loops. Same arithmetic. */
export function splineFilterLine(c: Float64Array, n: number, poles: readonly number[], applyGain = true): void {
  if (n <= 1 || poles.length === 0) return;
  if (applyGain) {
    const gain = splineFilterGain(poles);
    for (let i = 0; i < n; i++) c[i] *= gain;
  }
  for (const z of poles) {
    const zn1 = Math.pow(z, n - 1);
    let c0 = c[0]! + zn1 * c[n - 1]!;
    let zi = z;
    const last1 = causalTerms(z, n);
    for (let i = 1; i < last1; i++) {
      c0 += zi * (c[i]! + zn1 * c[n - 1 - i]!);
      zi *= z;
    }
    c[0] = c0 / (1 - zn1 * zn1);
    for (let i = 1; i < n; i++) c[i] += z * c[i - 1]!;
    c[n - 1] = (z * c[n - 2]! + c[n - 1]!) * z / (z * z - 1);
    for (let i = n - 2; i >= 0; i--) c[i] = z * (c[i + 1]! - c[i]!);
  }
}
