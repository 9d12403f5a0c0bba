// Port of nnunetv2/experiment_planning/experiment_planners/network_topology.py (get_pool_and_conv_props, pad_shape).
// The Python rounding / numpy reductions the planner relies on live in sdk/util/python-math.ts.

export interface PoolAndConvProps {
  numPoolPerAxis: number[];
  poolOpKernelSizes: number[][];
  convKernelSizes: number[][];
  patchSize: number[];
  shapeMustBeDivisibleBy: number[];
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
export function getPoolAndConvProps(spacing: readonly number[], patchSize: readonly number[], minFeatureMapSize: number, maxNumpool: number): PoolAndConvProps {
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
