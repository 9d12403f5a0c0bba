// The cpu-onednn unary math (native/src/unary.cc), concat/split (native/src/concat.cc) and transpose (strided copy) against tfjs' pure-JS cpu
// kernels: values and gradients, with call counters proving the native path ran.
import { describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { registerOnednnBackend } from "../../sdk/backend/onednn.js";
import { nativeCallCounts } from "../../sdk/backend/onednn-kernels.js";
import { expectClose, onBothBackends, randomArray } from "./helpers.js";

const status = await registerOnednnBackend();
const calls = (kernel: string): number => nativeCallCounts.get(kernel) ?? 0;

describe.skipIf(!status.available)("cpu-onednn unary, concat and split kernels", () => {
  const shape = [2, 9, 10, 11, 3];
  // Inputs in (-1, 1), shifted to (0.5, 2.5) where the op needs positive values.
  const cases: [string, string, (x: tf.Tensor) => tf.Tensor, boolean][] = [
    ["exp", "Exp", tf.exp, false],
    ["log", "Log", tf.log, true],
    ["neg", "Neg", tf.neg, false],
    ["square", "Square", tf.square, false],
    ["sqrt", "Sqrt", tf.sqrt, true],
    ["rsqrt", "Rsqrt", tf.rsqrt, true],
    ["sigmoid", "Sigmoid", tf.sigmoid, false],
    ["relu", "Relu", tf.relu, false],
    ["abs", "Abs", tf.abs, false],
  ];
  it.each(cases)("%s matches cpu, gradient included", async (_name, kernel, op, positive) => {
    const xs = randomArray(shape, 3000);
    if (positive) xs.forEach((v, i) => (xs[i] = v + 1.5));
    const before = calls(kernel);
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor(xs, shape);
      const r = tf.tensor(randomArray(shape, 3001), shape);
      return [op(x), tf.grad((p: tf.Tensor) => op(p).mul(r).sum())(x)];
    });
    expectClose(fast[0]!, ref[0]!, "y");
    expectClose(fast[1]!, ref[1]!, "dx");
    expect(calls(kernel), `${kernel} ran natively`).toBeGreaterThan(before);
  });

  it("keeps NaN through relu and abs, like tfjs", async () => {
    await tf.setBackend("cpu-onednn");
    const x = tf.fill([4096], Number.NaN);
    expect(Number.isNaN(tf.relu(x).dataSync()[0]!)).toBe(true);
    expect(Number.isNaN(tf.abs(x).dataSync()[0]!)).toBe(true);
    x.dispose();
  });

  it.each([
    [
      "channels (the U-Net skip)",
      [
        [2, 8, 9, 10, 16],
        [2, 8, 9, 10, 16],
      ],
      4,
    ],
    [
      "a middle axis, three inputs",
      [
        [3, 5, 40, 7],
        [3, 2, 40, 7],
        [3, 9, 40, 7],
      ],
      1,
    ],
    [
      "the first axis",
      [
        [20, 300],
        [7, 300],
      ],
      0,
    ],
  ] as const)("concat along %s and its split gradient match cpu", async (_name, shapes, axis) => {
    const arrays = shapes.map((s, i) => randomArray([...s], 3100 + i));
    const [concatBefore, splitBefore] = [calls("Concat"), calls("SplitV")];
    const { ref, fast } = await onBothBackends(() => {
      const xs = shapes.map((s, i) => tf.tensor(arrays[i]!, [...s]));
      const y = tf.concat(xs, axis);
      const r = tf.tensor(randomArray(y.shape, 3200), y.shape);
      return [y, ...tf.grads((...ps: tf.Tensor[]) => tf.concat(ps, axis).mul(r).sum())(xs)];
    });
    ["y", ...shapes.map((_, i) => `d${i}`)].forEach((what, j) => expectClose(fast[j]!, ref[j]!, what));
    expect(calls("Concat"), "Concat ran natively").toBeGreaterThan(concatBefore);
    expect(calls("SplitV"), "SplitV ran natively").toBeGreaterThan(splitBefore);
  });

  it.each([
    ["NCDHW -> NDHWC", [2, 3, 9, 10, 11], [0, 2, 3, 4, 1]],
    ["NDHWC -> NCDHW", [2, 9, 10, 11, 3], [0, 4, 1, 2, 3]],
    ["a full reversal", [5, 6, 7, 8, 9], [4, 3, 2, 1, 0]],
    ["a 6-D permutation", [2, 3, 4, 5, 6, 7], [5, 0, 4, 1, 3, 2]],
  ] as const)("transpose %s matches cpu, gradient included", async (_name, shape, perm) => {
    const xs = randomArray([...shape], 3400);
    const before = calls("Transpose");
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor(xs, [...shape]);
      const y = tf.transpose(x, [...perm]);
      const r = tf.tensor(randomArray(y.shape, 3401), y.shape);
      return [
        y,
        tf.grad((p: tf.Tensor) =>
          tf
            .transpose(p, [...perm])
            .mul(r)
            .sum(),
        )(x),
      ];
    });
    expectClose(fast[0]!, ref[0]!, "y");
    expectClose(fast[1]!, ref[1]!, "dx");
    expect(calls("Transpose"), "Transpose ran natively").toBeGreaterThan(before);
  });

  it("split into equal parts along the last axis matches cpu", async () => {
    const xs = randomArray([2, 6, 7, 8, 12], 3300);
    const { ref, fast } = await onBothBackends(() => tf.split(tf.tensor(xs, [2, 6, 7, 8, 12]), 3, 4));
    ref.forEach((r, j) => expectClose(fast[j]!, r, `part ${j}`));
  });
});
