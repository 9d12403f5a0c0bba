// Port of nnunetv2/experiment_planning/experiment_planners/network_topology.py (get_pool_and_conv_props, pad_shape)
// plus the Python rounding / numpy reductions the planner relies on, so the plans come out bit-identical.

export interface PoolAndConvProps {
  numPoolPerAxis: number[];
  poolOpKernelSizes: number[][];
  convKernelSizes: number[][];
  patchSize: number[];
  shapeMustBeDivisibleBy: number[];
}

/** Python's round(x) on a float: half to even (JS Math.round rounds half up). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** np.percentile(values, q) with the default linear method (numpy's _lerp, float64). */
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

/** np.median on float64 values. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Column-wise np.median of a list of equal-length rows. */
export function medianAxis0(rows: readonly (readonly number[])[]): number[] {
  return rows[0]!.map((_, j) => median(rows.map((r) => r[j]!)));
}

/** np.prod in float64, left to right. */
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

/** pad_shape: rounds each entry up to a multiple of `mustBeDivisibleBy` (unchanged if already divisible), as int. */
export function padShape(shape: readonly number[], mustBeDivisibleBy: readonly number[]): number[] {
  return shape.map((s, i) => {
    const m = mustBeDivisibleBy[i]!;
    const r = s % m;
    return Math.trunc(r === 0 ? s : s + m - r);
  });
}

/**
 * get_pool_and_conv_props(spacing, patch_size, min_feature_map_size, max_numpool): pools every axis whose spacing is
 * within 2x of the finest and whose size stays >= 2 * min_feature_map_size; kernels become 3 once an axis is within 2x
 * of the finest spacing; one 3x3(x3) bottleneck kernel is appended; the patch is padded to 2**num_pool.
 */
export function getPoolAndConvProps(spacing: readonly number[], patchSize: readonly number[], minFeatureMapSize: number,
  maxNumpool: number): PoolAndConvProps {
  const dim = spacing.length;
  const currentSpacing = [...spacing];
  const currentSize = [...patchSize];
  const poolOpKernelSizes: number[][] = [new Array<number>(dim).fill(1)];
  const convKernelSizes: number[][] = [];
  const numPoolPerAxis = new Array<number>(dim).fill(0);
  const kernelSize = new Array<number>(dim).fill(1);
  for (;;) {
    let valid = [...Array(dim).keys()].filter((i) => currentSize[i]! >= 2 * minFeatureMapSize);
    if (valid.length < 1) break;
    const minSpacingOfValid = Math.min(...valid.map((i) => currentSpacing[i]!));
    valid = valid.filter((i) => currentSpacing[i]! / minSpacingOfValid < 2);
    valid = valid.filter((i) => numPoolPerAxis[i]! < maxNumpool);
    if (valid.length === 1 && !(currentSize[valid[0]!]! >= 3 * minFeatureMapSize)) break;
    if (valid.length < 1) break;
    const minSpacing = Math.min(...currentSpacing);
    for (let d = 0; d < dim; d++) {
      if (kernelSize[d] !== 3 && currentSpacing[d]! / minSpacing < 2) kernelSize[d] = 3;
    }
    const pool = new Array<number>(dim).fill(1);
    for (const v of valid) {
      pool[v] = 2;
      numPoolPerAxis[v]! += 1;
      currentSpacing[v]! *= 2;
      currentSize[v] = Math.ceil(currentSize[v]! / 2);
    }
    poolOpKernelSizes.push(pool);
    convKernelSizes.push([...kernelSize]);
  }
  const shapeMustBeDivisibleBy = numPoolPerAxis.map((n) => 2 ** n);
  convKernelSizes.push(new Array<number>(dim).fill(3));
  return { numPoolPerAxis, poolOpKernelSizes, convKernelSizes, patchSize: padShape(patchSize, shapeMustBeDivisibleBy), shapeMustBeDivisibleBy };
}
