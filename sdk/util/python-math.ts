// Python's and NumPy's rounding and small reductions on plain number arrays, in float64 and in the same order, so that
// values derived from them (plan shapes, patch sizes, kernel sizes) come out bit-identical to upstream's. One home for
// these: JS's Math.round rounds half up and JS has no median / percentile.

/**
 * Python's round(x) and np.round(x) on a float: nearest integer, ties to even (JS Math.round rounds ties up).
 * @example [0.5, 1.5, 2.5, -2.5].map(roundHalfEven) // [0, 2, 2, -2]
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * np.percentile(values, q) with the default linear method, in float64 (numpy's _lerp, which interpolates from the
 * upper neighbour when gamma >= 0.5 so the result is monotonic).
 * @example percentileLinear([1, 2, 3, 4], 50) // 2.5
 */
export function percentileLinear(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) throw new RangeError("percentile of an empty array");
  const virtual = (n - 1) * (q / 100);
  if (virtual >= n - 1) return sorted[n - 1]!;
  if (virtual < 0) return sorted[0]!;
  const prev = Math.floor(virtual);
  const gamma = virtual - prev;
  const a = sorted[prev]!;
  const b = sorted[prev + 1]!;
  const d = b - a;
  return gamma >= 0.5 ? b - d * (1 - gamma) : a + d * gamma;
}

/** np.median on float64 values (NaN for an empty array). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Column-wise np.median(rows, axis=0) of a list of equal-length rows. */
export function medianAxis0(rows: readonly (readonly number[])[]): number[] {
  return rows[0]!.map((_, j) => median(rows.map((r) => r[j]!)));
}

/** np.prod in float64, left to right (1 for an empty array). */
export function prod(values: readonly number[]): number {
  let p = 1;
  for (const v of values) p *= v;
  return p;
}

/** np.argmax: first index of the maximum. */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** np.argsort(values)[-1] on short arrays: the *last* index among equal maxima (stable sort). */
export function argsortLast(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! >= values[best]!) best = i;
  return best;
}
