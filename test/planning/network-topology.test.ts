import { describe, expect, it } from "vitest";
import { computeConvFeatureMapSize } from "../../sdk/planning/conv-feature-map-size.js";
import { getPoolAndConvProps, padShape } from "../../sdk/planning/network-topology.js";
import type { ArchKwargs } from "../../sdk/planning/plans.js";

function arch(plain: boolean, spacing: number[], patch: number[]): ArchKwargs {
  const t = getPoolAndConvProps(spacing, patch, 4, 999999);
  const n = t.poolOpKernelSizes.length;
  const max = spacing.length === 2 ? 512 : 320;
  return {
    n_stages: n,
    features_per_stage: Array.from({ length: n }, (_, i) => Math.min(max, 32 * 2 ** i)),
    conv_op: "",
    kernel_sizes: t.convKernelSizes,
    strides: t.poolOpKernelSizes,
    ...(plain ? { n_conv_per_stage: Array(n).fill(2) } : { n_blocks_per_stage: [1, 3, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6].slice(0, n) }),
    n_conv_per_stage_decoder: Array(n - 1).fill(plain ? 2 : 1),
    conv_bias: true,
    norm_op: "",
    norm_op_kwargs: { eps: 1e-5, affine: true },
    dropout_op: null,
    dropout_op_kwargs: null,
    nonlin: "",
    nonlin_kwargs: {},
  };
}

describe("computeConvFeatureMapSize (values of dynamic-network-architectures' compute_conv_feature_map_size)", () => {
  it.each([
    ["PlainConvUNet", true, [3, 0.7, 0.7], [28, 256, 256], 539_478_016],
    ["PlainConvUNet", true, [0.7, 0.7], [320, 320], 32_230_400],
    ["ResidualEncoderUNet", false, [3, 0.7, 0.7], [24, 256, 256], 676_509_696],
    ["ResidualEncoderUNet", false, [0.7, 0.7], [320, 320], 50_496_000],
  ])("computeConvFeatureMapSize %s %j", (cls, plain, spacing, patch, expected) => {
    expect(computeConvFeatureMapSize(`dynamic_network_architectures.architectures.unet.${cls}`, arch(plain, spacing, patch), patch, 2)).toBe(expected);
  });

  it("computeConvFeatureMapSize rejects an unknown network class", () => {
    expect(() => computeConvFeatureMapSize("x.UNetPlusPlus", arch(true, [1, 1, 1], [32, 32, 32]), [32, 32, 32], 2)).toThrow(/no VRAM estimate/);
  });
});

describe("getPoolAndConvProps", () => {
  it.each([
    [
      [3, 0.7, 0.7],
      [28, 256, 256],
      [
        [1, 1, 1],
        [1, 2, 2],
        [1, 2, 2],
        [2, 2, 2],
        [2, 2, 2],
        [1, 2, 2],
        [1, 2, 2],
      ],
      [
        [1, 3, 3],
        [1, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
      ],
      [28, 256, 256],
    ],
    [
      [1.7, 0.8, 0.8],
      [18, 41, 42],
      [
        [1, 1, 1],
        [1, 2, 2],
        [2, 2, 2],
        [2, 2, 2],
      ],
      [
        [1, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
      ],
      [20, 48, 48],
    ],
    // axis 1 (7) is never pooled; axis 2 stops at 5 < 8; axis 0 alone continues while >= 12; float sizes pad as floats
    [
      [1, 1, 1],
      [209.5, 7, 40],
      [
        [1, 1, 1],
        [2, 1, 2],
        [2, 1, 2],
        [2, 1, 2],
        [2, 1, 1],
        [2, 1, 1],
      ],
      Array(6).fill([3, 3, 3]),
      [224, 7, 40],
    ],
  ])("getPoolAndConvProps(%j, %j)", (spacing, patch, strides, kernels, padded) => {
    const t = getPoolAndConvProps(spacing, patch, 4, 999999);
    expect([t.poolOpKernelSizes, t.convKernelSizes, t.patchSize]).toEqual([strides, kernels, padded]);
  });
});

describe("padShape", () => {
  it("padShape keeps divisible sizes and rounds up the others", () => {
    expect(padShape([32, 33, 47.5], [16, 16, 16])).toEqual([32, 48, 48]);
  });
});
