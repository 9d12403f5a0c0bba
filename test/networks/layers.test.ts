import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../sdk/backend/index.js";
import { applyRope } from "../../sdk/networks/eva-block.js";
import { avgPoolNd, instanceNorm } from "../../sdk/networks/layers.js";
import { permuteLayout } from "../../sdk/networks/module.js";

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;

beforeAll(async () => {
  await initBackend();
});

describe("avgPoolNd(x, stride)", () => {
  it("equals AvgPool3d(kernel=stride) in floor mode on sizes that do not divide", () => {
    const x = tf.randomNormal([2, 5, 6, 7, 3], 0, 1, "float32", 1);
    const y = avgPoolNd(x, [2, 3, 2]);
    expect(y.shape).toEqual([2, 2, 2, 3, 3]);
    expect(maxDiff(y, tf.avgPool3d(x as tf.Tensor5D, [2, 3, 2], [2, 3, 2], "valid"))).toBeLessThan(1e-6);
  });
  it("equals AvgPool2d for 2D inputs", () => {
    const x = tf.randomNormal([1, 6, 4, 2], 0, 1, "float32", 2);
    expect(maxDiff(avgPoolNd(x, [2, 1]), tf.avgPool(x as tf.Tensor4D, [2, 1], [2, 1], "valid"))).toBeLessThan(1e-6);
  });
});

describe("instanceNorm(x, gamma, beta, eps)", () => {
  it("normalises each sample and channel over the spatial axes with the biased variance", () => {
    const x = tf.randomNormal([2, 3, 4, 5, 2], 3, 2, "float32", 3);
    const gamma = tf.tensor1d([0.5, 2]);
    const beta = tf.tensor1d([1, -1]);
    const y = instanceNorm(x, gamma, beta, 1e-5);
    const values = x.arraySync() as number[][][][][];
    const out = y.arraySync() as number[][][][][];
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 2; c++) {
        const v = values[n]!.flat(2).map((r) => r[c]!);
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
        const o = out[n]!.flat(2).map((r) => r[c]!);
        o.forEach((val, i) => expect(val).toBeCloseTo(((v[i]! - mean) / Math.sqrt(variance + 1e-5)) * [0.5, 2][c]! + [1, -1][c]!, 4));
      }
  });
});

describe("applyRope(x, rope)", () => {
  it("computes x * cos + rot(x) * sin with interleaved pairs rot([x0, x1, x2, x3]) = [-x1, x0, -x3, x2]", () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 1, 4]);
    const rope = { sin: tf.tensor2d([[0.1, 0.2, 0.3, 0.4]]), cos: tf.tensor2d([[1, 2, 3, 4]]) };
    expect(Array.from(applyRope(x, rope).dataSync())).toEqual([1 - 2 * 0.1, 4 + 1 * 0.2, 9 - 4 * 0.3, 16 + 3 * 0.4].map(Math.fround));
  });
});

describe("permuteLayout(layout, torchShape, data, toOurs)", () => {
  it("maps a Conv3d weight (O, I, kd, kh, kw) to tfjs' (kd, kh, kw, I, O) and back", () => {
    const shape = [2, 3, 1, 2, 2];
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const ours = permuteLayout("conv", shape, data, true);
    expect(Array.from(ours)).toEqual(Array.from(tf.transpose(tf.tensor(data, shape), [2, 3, 4, 1, 0]).dataSync()));
    expect(Array.from(permuteLayout("conv", shape, ours, false))).toEqual(Array.from(data));
  });
});
