import { describe, it, expect } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { computeStepsForSlidingWindow, computePadding, padData, roundHalfEven } from "../../sdk/inference/sliding-window-geometry.js";
import { computeGaussian, gaussianKernel1d } from "../../sdk/inference/compute-gaussian.js";
import { roundToFloat16 } from "../../sdk/inference/float16.js";
import { mirrorCombinations, predictSlidingWindowReturnLogits, slidingWindowOrigins, type NetworkForward } from "../../sdk/inference/sliding-window.js";
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";

await tf.setBackend("cpu");

describe("computeStepsForSlidingWindow(image, tile, step)", () => {
  it.each([
    // upstream's compute_steps_for_sliding_window and its own comment (110, 64 -> 0, 23, 46)
    [
      [110, 300, 512],
      [64, 192, 160],
      0.5,
      [
        [0, 23, 46],
        [0, 54, 108],
        [0, 70, 141, 211, 282, 352],
      ],
    ],
    [[64, 64, 64], [64, 64, 64], 0.5, [[0], [0], [0]]],
    [
      [65, 100, 128],
      [64, 64, 64],
      1,
      [
        [0, 1],
        [0, 36],
        [0, 64],
      ],
    ],
    [
      [20, 20, 20],
      [8, 8, 8],
      0.5,
      [
        [0, 4, 8, 12],
        [0, 4, 8, 12],
        [0, 4, 8, 12],
      ],
    ],
  ])("%j with tile %j, step %s", (image, tilesz, step, expected) => {
    expect(computeStepsForSlidingWindow(image, tilesz, step)).toEqual(expected);
  });
  it("rounds half to even like np.round", () => {
    // image 13, tile 8, step 0.5: n = ceil(5/4)+1 = 3, step 2.5 -> [0, 2 (2.5), 5]
    expect(computeStepsForSlidingWindow([13], [8], 0.5)).toEqual([[0, 2, 5]]);
    expect([0.5, 1.5, 2.5, 3.5].map(roundHalfEven)).toEqual([0, 2, 2, 4]);
  });
  it("rejects images smaller than the tile and bad step sizes", () => {
    expect(() => computeStepsForSlidingWindow([10], [16], 0.5)).toThrow(/at least the tile size/);
    expect(() => computeStepsForSlidingWindow([20], [16], 0)).toThrow(/step_size/);
  });
});

describe("computePadding / padData (pad_nd_image, constant 0)", () => {
  it("centres the padding with the odd voxel at the end, only where the image is smaller", () => {
    const p = computePadding([2, 3, 8, 5], [6, 4, 8]);
    expect(p).toEqual({ shape: [2, 6, 8, 8], before: [0, 1, 0, 1] });
    const data = Float32Array.from({ length: 2 * 3 * 8 * 5 }, (_, i) => i + 1);
    const out = padData(data, [2, 3, 8, 5], p);
    const at = (c: number, x: number, y: number, z: number) => out[((c * 6 + x) * 8 + y) * 8 + z];
    expect(at(0, 1, 0, 1)).toBe(1);
    expect(at(1, 3, 7, 5)).toBe(data[data.length - 1]);
    expect(at(0, 0, 0, 0)).toBe(0);
    expect(at(0, 4, 0, 1)).toBe(0); // 3 + 1 padded before + 2 after: x = 4, 5 are padding
    expect(out.reduce((a, b) => a + b, 0)).toBe(data.reduce((a, b) => a + b, 0));
  });
});

describe("computeGaussian(tile) (compute_gaussian, sigma tile/8, max 10, float16)", () => {
  it("matches upstream's compute_gaussian((8, 8)) in fp16", () => {
    const g = computeGaussian([8, 8]);
    const row4 = [0.003355, 0.11108, 1.3535, 6.0664, 10.0, 6.0664, 1.3535, 0.11108];
    row4.forEach((v, i) => expect(g[4 * 8 + i]).toBeCloseTo(v, 4));
    const row0 = [1.13e-6, 3.73e-5, 4.54e-4, 2.035e-3, 3.355e-3];
    row0.forEach((v, i) => expect(g[i]! / v).toBeCloseTo(1, 2));
  });
  it("matches values printed by scipy.ndimage.gaussian_filter + torch.half exactly", () => {
    // CPython, scipy, torch 1.13: compute_gaussian((8,8))[4] and ((5,7,6)).ravel()[:12]
    expect(Array.from(computeGaussian([8, 8]).subarray(32, 40))).toEqual([
      0.0033550262451171875, 0.111083984375, 1.353515625, 6.06640625, 10.0, 6.06640625, 1.353515625, 0.111083984375,
    ]);
    expect(Array.from(computeGaussian([5, 7, 6]).subarray(0, 12))).toEqual([
      5.960464477539063e-8, 4.76837158203125e-6, 6.884336471557617e-5, 0.00016736984252929688, 6.884336471557617e-5, 4.76837158203125e-6, 1.4901161193847656e-6,
      0.0001252889633178711, 0.0018024444580078125, 0.004383087158203125, 0.0018024444580078125, 0.0001252889633178711,
    ]);
    // 128^3: corners underflow to 0 in fp16 and become the smallest subnormal
    const big = computeGaussian([128, 128, 128]);
    expect(big[0]).toBe(5.960464477539063e-8);
    expect(Array.from(big.subarray((64 * 128 + 64) * 128 + 60, (64 * 128 + 64) * 128 + 64))).toEqual([9.6953125, 9.828125, 9.921875, 9.984375]);
  });
  const skip = pythonSkipReason(["scipy", "torch"]);
  it.skipIf(skip !== null)(`equals upstream's compute_gaussian element by element ${skip ?? ""}`, () => {
    const sizes = [
      [24, 40, 33],
      [17, 9],
      [3, 64, 5],
    ];
    const ref = runPythonJson<number[][]>(`
import json, numpy as np, torch
from scipy.ndimage import gaussian_filter
out = []
for t in ${JSON.stringify(sizes)}:
    tmp = np.zeros(t); tmp[tuple(i // 2 for i in t)] = 1
    g = torch.from_numpy(gaussian_filter(tmp, [i / 8 for i in t], 0, mode='constant', cval=0))
    g = (g / torch.max(g) * 10).type(torch.float16)
    g[g == 0] = torch.min(g[g != 0])
    out.append(g.float().numpy().ravel().tolist())
print(json.dumps(out))`);
    sizes.forEach((t, i) => {
      const g = computeGaussian(t);
      let bad = 0;
      for (let k = 0; k < g.length; k++) if (g[k] !== ref[i]![k]) bad++;
      expect(bad, `tile ${t}`).toBe(0);
    });
  });
  it("uses scipy's kernel radius int(4 * sigma + 0.5)", () => {
    expect(gaussianKernel1d(1).length).toBe(9);
    expect(gaussianKernel1d(2.375).length).toBe(2 * 10 + 1);
  });
  it("roundToFloat16 rounds to nearest even and keeps subnormals", () => {
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1); // tie -> even
    expect(roundToFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToFloat16(2 ** -25)).toBe(0); // tie between 0 and 2^-24 -> 0
    expect(roundToFloat16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToFloat16(65520)).toBe(Infinity);
    expect(roundToFloat16(-0.1)).toBe(-0.0999755859375);
  });
});

describe("mirrorCombinations(axes)", () => {
  it("lists every non-empty combination in itertools order", () => {
    expect(mirrorCombinations([0, 1, 2])).toEqual([[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]);
    expect(mirrorCombinations([0, 1])).toEqual([[0], [1], [0, 1]]);
  });
});

describe("predictSlidingWindowReturnLogits(forward, data, shape, opts)", () => {
  const shape = [1, 11, 9, 14];
  const data = Float32Array.from({ length: 11 * 9 * 14 }, (_, i) => Math.sin(i * 0.37) * 3);

  /** Three heads from one channel: x, 2x - 1, -x. Voxel-wise, so every overlap gives the same value. */
  const pointwise: NetworkForward = (x) => tf.concat([x, tf.sub(tf.mul(x, 2), 1), tf.neg(x)], 1);

  it("reproduces a voxel-wise network exactly, with padding and overlap", async () => {
    const out = await predictSlidingWindowReturnLogits(pointwise, data, shape, { patchSize: [8, 12, 8], numHeads: 3, mirrorAxes: [0, 1, 2], tilesPerBatch: 3 });
    expect(out.length).toBe(3 * data.length);
    let maxErr = 0;
    for (let i = 0; i < data.length; i++) {
      maxErr = Math.max(
        maxErr,
        Math.abs(out[i]! - data[i]!),
        Math.abs(out[data.length + i]! - (2 * data[i]! - 1)),
        Math.abs(out[2 * data.length + i]! + data[i]!),
      );
    }
    expect(maxErr).toBeLessThan(1e-5);
  });

  /** Adds the voxel's position along tile axis 0 (depth): not mirror-equivariant, so TTA changes the result. */
  const calls: number[] = [];
  const ramp: NetworkForward = (x) => {
    calls.push(x.shape[0]!);
    const d = x.shape[2]!;
    const r = tf.range(0, d).reshape([1, 1, d, 1, 1]);
    return tf.add(x, r);
  };

  it("averages 8 mirrored passes for 3-D with TTA, so a depth ramp becomes its mean", async () => {
    calls.length = 0;
    const out = await predictSlidingWindowReturnLogits(ramp, data, shape, { patchSize: [8, 8, 8], numHeads: 1, mirrorAxes: [0, 1, 2], tilesPerBatch: 4 });
    const nTiles = slidingWindowOrigins([11, 9, 14], [8, 8, 8], 0.5).length;
    expect(calls.length).toBe(8 * Math.ceil(nTiles / 4));
    expect(calls.reduce((a, b) => a + b, 0)).toBe(8 * nTiles);
    for (let i = 0; i < data.length; i++) expect(out[i]).toBeCloseTo(data[i]! + 3.5, 5);
  });

  it("runs one pass per batch without TTA, and the ramp is then visible", async () => {
    calls.length = 0;
    const out = await predictSlidingWindowReturnLogits(ramp, data, shape, { patchSize: [8, 8, 8], numHeads: 1, mirrorAxes: null, tilesPerBatch: 100 });
    expect(calls).toEqual([slidingWindowOrigins([11, 9, 14], [8, 8, 8], 0.5).length]);
    // x = 0 is only covered by tiles starting at 0: offset 0 exactly; the last slice only by the last tile: offset 7
    expect(out[0]).toBeCloseTo(data[0]!, 5);
    expect(out[10 * 9 * 14]).toBeCloseTo(data[10 * 9 * 14]! + 7, 5);
  });

  it("weights overlapping tiles with the Gaussian (matches a direct float64 computation)", async () => {
    const s1 = [1, 12, 1, 1];
    const d1 = new Float32Array(12).fill(0);
    const out = await predictSlidingWindowReturnLogits(ramp, d1, s1, { patchSize: [8, 1, 1], numHeads: 1, mirrorAxes: null });
    const g = computeGaussian([8, 1, 1]);
    // tiles start at 0 and 4; voxel 6 is position 6 of tile 0 and position 2 of tile 1
    const expected = (6 * g[6]! + 2 * g[2]!) / (g[6]! + g[2]!);
    expect(out[6]).toBeCloseTo(expected, 5);
  });

  it("handles 2-D patches slice by slice and mirrors the two in-plane axes", async () => {
    calls.length = 0;
    const ramp2d: NetworkForward = (x) => {
      calls.push(x.rank);
      const h = x.shape[2]!;
      return tf.add(x, tf.range(0, h).reshape([1, 1, h, 1]));
    };
    const out = await predictSlidingWindowReturnLogits(ramp2d, data, shape, { patchSize: [8, 8], numHeads: 1, mirrorAxes: [0, 1], tilesPerBatch: 8 });
    expect(new Set(calls)).toEqual(new Set([4]));
    for (let i = 0; i < data.length; i += 7) expect(out[i]).toBeCloseTo(data[i]! + 3.5, 5);
  });

  it("rejects a network with the wrong number of heads, without leaking tensors", async () => {
    const before = tf.memory().numTensors;
    await expect(predictSlidingWindowReturnLogits(pointwise, data, shape, { patchSize: [8, 8, 8], numHeads: 2, tilesPerBatch: 1 })).rejects.toThrow(
      /3 channels, expected 2/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it("leaves no tensors behind after a successful run", async () => {
    const before = tf.memory().numTensors;
    await predictSlidingWindowReturnLogits(pointwise, data, shape, { patchSize: [8, 8, 8], numHeads: 3, mirrorAxes: [0, 1, 2], tilesPerBatch: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
