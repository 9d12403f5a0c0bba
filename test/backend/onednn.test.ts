// The cpu-onednn kernels against tfjs' pure-JS cpu kernels on the same seeded inputs (1e-4 relative to the largest
// reference value), forward and gradients, plus the fallback when the addon is missing.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INSTANCE_NORM, INSTANCE_NORM_GRAD } from "../../sdk/backend/fused-norm.js";
import { tf } from "../../sdk/backend/index.js";
import { registerOnednnBackend } from "../../sdk/backend/onednn.js";
import { nativeCallCounts } from "../../sdk/backend/onednn-kernels.js";
import { expectClose, onBothBackends, randomArray } from "./helpers.js";

const status = await registerOnednnBackend();

type Pad = "same" | "valid";
interface Conv3dCase {
  x: [number, number, number, number, number]; // NDHWC
  k: number;
  outChannels: number;
  stride: 1 | 2;
  pad: Pad;
}

// Odd sizes, strides 1 and 2, kernels 1/2/3, both paddings, 1 to 320 channels, batch 1 and 2.
const conv3dCases: Conv3dCase[] = [
  { x: [1, 5, 6, 7, 1], k: 3, outChannels: 4, stride: 1, pad: "same" },
  { x: [2, 7, 5, 9, 3], k: 3, outChannels: 5, stride: 2, pad: "same" },
  { x: [2, 7, 6, 5, 4], k: 3, outChannels: 6, stride: 2, pad: "valid" },
  { x: [1, 6, 7, 5, 8], k: 2, outChannels: 8, stride: 2, pad: "valid" },
  { x: [2, 5, 5, 5, 5], k: 2, outChannels: 3, stride: 1, pad: "same" },
  { x: [2, 5, 7, 3, 16], k: 1, outChannels: 2, stride: 1, pad: "valid" },
  { x: [1, 4, 3, 5, 32], k: 3, outChannels: 32, stride: 1, pad: "same" },
  { x: [2, 3, 3, 3, 64], k: 3, outChannels: 17, stride: 2, pad: "same" },
  { x: [1, 3, 2, 3, 320], k: 3, outChannels: 320, stride: 1, pad: "same" },
  { x: [1, 2, 3, 2, 320], k: 1, outChannels: 320, stride: 1, pad: "valid" },
  { x: [2, 5, 7, 6, 8], k: 1, outChannels: 16, stride: 2, pad: "valid" },
];
const describeName = (c: Conv3dCase) => `x=[${c.x}] k${c.k} s${c.stride} ${c.pad} -> ${c.outChannels}`;

describe.skipIf(!status.available)(`cpu-onednn kernels (${status.reason})`, () => {
  afterAll(async () => {
    await tf.setBackend("cpu");
  });

  it.each(conv3dCases.map((c, i) => [describeName(c), c, i] as const))("conv3d forward and gradients: %s", async (_, c, i) => {
    const w = [c.k, c.k, c.k, c.x[4], c.outChannels];
    const xs = randomArray(c.x, 100 + i),
      ws = randomArray(w, 200 + i);
    const { ref, fast, primitivesAdded } = await onBothBackends(() => {
      const x = tf.tensor5d(xs, c.x as [number, number, number, number, number]),
        f = tf.tensor<tf.Rank>(ws, w) as tf.Tensor5D;
      const y = tf.conv3d(x, f, c.stride, c.pad);
      // A non-uniform upstream gradient so a transposed or shifted dx/dw cannot match by symmetry.
      const r = tf.tensor(randomArray(y.shape, 300 + i), y.shape);
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf
          .conv3d(a as tf.Tensor5D, b as tf.Tensor5D, c.stride, c.pad)
          .mul(r)
          .sum(),
      )([x, f]);
      return [y, dx, dw];
    });
    expectClose(fast[0], ref[0], "conv3d y");
    expectClose(fast[1], ref[1], "conv3d dx");
    expectClose(fast[2], ref[2], "conv3d dw");
    expect(primitivesAdded, "new oneDNN primitives (proves oneDNN ran, not the JS fallback)").toBeGreaterThanOrEqual(3);
  });

  // tfjs pads -1 here (windows start at index 1), which oneDNN cannot express: the kernel must hand it to the pure-JS
  // kernel rather than fail or shift the result.
  it("conv3d with negative 'same' padding (1x1x1 stride 2, even size) falls back to the pure-JS kernel", async () => {
    const shape: [number, number, number, number, number] = [2, 6, 4, 8, 3];
    const xs = randomArray(shape, 42),
      ws = randomArray([1, 1, 1, 3, 5], 43);
    const { ref, fast, primitivesAdded } = await onBothBackends(() => {
      const x = tf.tensor5d(xs, shape),
        f = tf.tensor(ws, [1, 1, 1, 3, 5]) as tf.Tensor5D;
      return [tf.conv3d(x, f, 2, "same"), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 2, "same").sum())([x, f])];
    });
    ref.forEach((r, i) => expectClose(fast[i], r, `output ${i}`));
    expect(primitivesAdded).toBe(0);
  });

  const transposeCases: { x: [number, number, number, number, number]; k: number; inChannels: number; stride: 1 | 2; pad: Pad }[] = [
    { x: [2, 3, 4, 5, 8], k: 2, inChannels: 4, stride: 2, pad: "valid" },
    { x: [1, 3, 3, 3, 6], k: 3, inChannels: 5, stride: 2, pad: "same" },
    { x: [1, 4, 5, 3, 3], k: 3, inChannels: 7, stride: 1, pad: "same" },
  ];
  it.each(transposeCases.map((c, i) => [`x=[${c.x}] k${c.k} s${c.stride} ${c.pad} -> ${c.inChannels}`, c, i] as const))(
    "conv3dTranspose forward and gradients: %s",
    async (_, c, i) => {
      // conv3dTranspose filter is [k, k, k, outChannels, inChannels of the transpose input].
      const w = [c.k, c.k, c.k, c.inChannels, c.x[4]];
      const spatial = c.x.slice(1, 4).map((s) => (c.pad === "same" ? s * c.stride : (s - 1) * c.stride + c.k));
      const outShape = [c.x[0], ...spatial, c.inChannels] as [number, number, number, number, number];
      const xs = randomArray(c.x, 400 + i),
        ws = randomArray(w, 500 + i),
        rs = randomArray(outShape, 600 + i);
      const { ref, fast } = await onBothBackends(() => {
        const x = tf.tensor5d(xs, c.x as [number, number, number, number, number]),
          f = tf.tensor<tf.Rank>(ws, w) as tf.Tensor5D,
          r = tf.tensor(rs, outShape);
        const y = tf.conv3dTranspose(x, f, outShape, c.stride, c.pad);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf
            .conv3dTranspose(a as tf.Tensor5D, b as tf.Tensor5D, outShape, c.stride, c.pad)
            .mul(r)
            .sum(),
        )([x, f]);
        return [y, dx, dw];
      });
      expectClose(fast[0], ref[0], "conv3dTranspose y");
      expectClose(fast[1], ref[1], "conv3dTranspose dx");
      expectClose(fast[2], ref[2], "conv3dTranspose dw");
    },
  );

  const conv2dCases: { x: [number, number, number, number]; k: number; outChannels: number; stride: 1 | 2; pad: Pad }[] = [
    { x: [2, 9, 7, 3], k: 3, outChannels: 5, stride: 2, pad: "same" },
    { x: [1, 6, 5, 16], k: 2, outChannels: 8, stride: 2, pad: "valid" },
    { x: [1, 5, 5, 320], k: 1, outChannels: 64, stride: 1, pad: "same" },
  ];
  it.each(conv2dCases.map((c, i) => [`x=[${c.x}] k${c.k} s${c.stride} ${c.pad} -> ${c.outChannels}`, c, i] as const))(
    "conv2d forward and gradients: %s",
    async (_, c, i) => {
      const w = [c.k, c.k, c.x[3], c.outChannels];
      const xs = randomArray(c.x, 700 + i),
        ws = randomArray(w, 800 + i);
      const { ref, fast } = await onBothBackends(() => {
        const x = tf.tensor4d(xs, c.x as [number, number, number, number]),
          f = tf.tensor<tf.Rank>(ws, w) as tf.Tensor4D;
        const y = tf.conv2d(x, f, c.stride, c.pad);
        const r = tf.tensor(randomArray(y.shape, 900 + i), y.shape);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf
            .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad)
            .mul(r)
            .sum(),
        )([x, f]);
        return [y, dx, dw];
      });
      expectClose(fast[0], ref[0], "conv2d y");
      expectClose(fast[1], ref[1], "conv2d dx");
      expectClose(fast[2], ref[2], "conv2d dw");
    },
  );

  // Broadcast batches are checked forward only: tfjs 4.22's own BatchMatMul gradient does not sum a broadcast batch
  // back to its input's shape, so it throws on every backend.
  const matMulCases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean; grad?: false }[] = [
    { a: [7, 5], b: [5, 3], transposeA: false, transposeB: false },
    { a: [5, 7], b: [5, 3], transposeA: true, transposeB: false },
    { a: [7, 5], b: [3, 5], transposeA: false, transposeB: true },
    { a: [2, 5, 7], b: [2, 3, 5], transposeA: true, transposeB: true },
    { a: [3, 9, 33], b: [33, 17], transposeA: false, transposeB: false, grad: false },
    { a: [1, 4, 6], b: [2, 3, 6, 5], transposeA: false, transposeB: false, grad: false },
    { a: [2, 3, 4, 6], b: [2, 3, 6, 5], transposeA: false, transposeB: false },
    { a: [1, 320], b: [320, 320], transposeA: false, transposeB: false },
  ];
  it.each(matMulCases.map((c, i) => [`[${c.a}]${c.transposeA ? "^T" : ""} x [${c.b}]${c.transposeB ? "^T" : ""}`, c, i] as const))(
    "matMul forward and gradients: %s",
    async (_, c, i) => {
      const as = randomArray(c.a, 1000 + i),
        bs = randomArray(c.b, 1100 + i);
      const { ref, fast } = await onBothBackends(() => {
        const a = tf.tensor(as, c.a),
          b = tf.tensor(bs, c.b);
        const y = tf.matMul(a, b, c.transposeA, c.transposeB);
        if (c.grad === false) return [y];
        const r = tf.tensor(randomArray(y.shape, 1200 + i), y.shape);
        const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, c.transposeA, c.transposeB).mul(r).sum())([a, b]);
        return [y, da, db];
      });
      expectClose(fast[0], ref[0], "matMul y");
      expect(fast.length).toBe(c.grad === false ? 1 : 3);
      if (c.grad !== false) {
        expectClose(fast[1], ref[1], "matMul da");
        expectClose(fast[2], ref[2], "matMul db");
      }
    },
  );

  // Element-wise ops run natively from 4096 output elements on; the shapes are channels-last activations
  // [N, D, H, W, C] against the per-channel / per-instance statistics instance norm broadcasts.
  const big: number[] = [2, 11, 12, 13, 16];
  // tfjs 4.22's gradients of squaredDifference/maximum/minimum do not reduce broadcast dims (they throw on every
  // backend), so those cases check the forward pass only.
  const binaryCases: { op: "add" | "sub" | "mul" | "div" | "squaredDifference" | "maximum" | "minimum"; a: number[]; b: number[]; grad?: false }[] = [
    { op: "add", a: big, b: big },
    { op: "sub", a: big, b: [2, 1, 1, 1, 16] },
    { op: "sub", a: [2, 1, 1, 1, 16], b: big },
    { op: "mul", a: big, b: [16] },
    { op: "mul", a: [1], b: big },
    { op: "div", a: big, b: [2, 1, 1, 1, 16] },
    { op: "squaredDifference", a: big, b: big },
    { op: "squaredDifference", a: big, b: [2, 1, 1, 1, 16], grad: false },
    { op: "maximum", a: [3, 1, 90, 130], b: [3, 70, 1, 130], grad: false },
    { op: "minimum", a: [70, 1, 520], b: [1, 90, 1], grad: false },
    { op: "maximum", a: big, b: big },
  ];
  it.each(binaryCases.map((c, i) => [`${c.op} [${c.a}] [${c.b}]`, c, i] as const))("%s matches cpu, gradients included", async (_, c, i) => {
    const as = randomArray(c.a, 1300 + i),
      bs = randomArray(c.b, 1400 + i);
    // Keep divisors away from 0 so the comparison measures the kernel, not float blow-up.
    if (c.op === "div") bs.forEach((v, j) => (bs[j] = v >= 0 ? v + 0.5 : v - 0.5));
    const calls =
      nativeCallCounts.get(
        ({ add: "Add", sub: "Sub", mul: "Multiply", div: "RealDiv", squaredDifference: "SquaredDifference", maximum: "Maximum", minimum: "Minimum" } as const)[
          c.op
        ],
      ) ?? 0;
    const { ref, fast } = await onBothBackends(() => {
      const a = tf.tensor(as, c.a),
        b = tf.tensor(bs, c.b);
      const f = (p: tf.Tensor, q: tf.Tensor) => tf[c.op](p, q);
      const y = f(a, b);
      if (c.grad === false) return [y];
      const r = tf.tensor(randomArray(y.shape, 1500 + i), y.shape);
      return [y, ...tf.grads((p: tf.Tensor, q: tf.Tensor) => f(p, q).mul(r).sum())([a, b])];
    });
    expect(fast.length).toBe(c.grad === false ? 1 : 3);
    ["y", "da", "db"].slice(0, fast.length).forEach((what, j) => expectClose(fast[j], ref[j], what));
    const kernel = (
      { add: "Add", sub: "Sub", mul: "Multiply", div: "RealDiv", squaredDifference: "SquaredDifference", maximum: "Maximum", minimum: "Minimum" } as const
    )[c.op];
    expect(nativeCallCounts.get(kernel) ?? 0, `${kernel} ran natively`).toBeGreaterThan(calls);
  });

  const reduceCases: { op: "sum" | "mean" | "max"; shape: number[]; axis: number | number[] | null; keepDims: boolean; native: boolean }[] = [
    { op: "mean", shape: big, axis: [1, 2, 3], keepDims: true, native: true },
    { op: "sum", shape: big, axis: [0, 1, 2, 3], keepDims: false, native: true },
    { op: "sum", shape: big, axis: null, keepDims: false, native: true },
    { op: "max", shape: [40000, 3], axis: -1, keepDims: true, native: true },
    { op: "mean", shape: [3, 30000], axis: 0, keepDims: false, native: true },
    { op: "sum", shape: big, axis: [1, 3], keepDims: true, native: false },
  ];
  it.each(reduceCases.map((c, i) => [`${c.op} [${c.shape}] axis ${JSON.stringify(c.axis)}${c.keepDims ? " keepDims" : ""}`, c, i] as const))(
    "%s matches cpu, gradients included",
    async (_, c, i) => {
      const xs = randomArray(c.shape, 1600 + i);
      const kernel = { sum: "Sum", mean: "Mean", max: "Max" }[c.op];
      const calls = nativeCallCounts.get(kernel) ?? 0;
      const { ref, fast } = await onBothBackends(() => {
        const x = tf.tensor(xs, c.shape);
        const f = (p: tf.Tensor) => tf[c.op](p, c.axis ?? undefined, c.keepDims);
        const y = f(x);
        const r = tf.tensor(randomArray(y.shape, 1700 + i), y.shape);
        return [y, tf.grad((p: tf.Tensor) => f(p).mul(r).sum())(x)];
      });
      expectClose(fast[0], ref[0], "y");
      expectClose(fast[1], ref[1], "dx");
      // Non-contiguous axes must take the JS path (and still agree).
      expect((nativeCallCounts.get(kernel) ?? 0) > calls, `${kernel} ran natively`).toBe(c.native);
    },
  );

  it.each([
    ["leakyRelu alpha 0.01", 0.01],
    ["leakyRelu alpha 0.2", 0.2],
  ])("%s matches cpu, gradient included", async (_, alpha) => {
    const xs = randomArray(big, 1800);
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor(xs, big);
      return [tf.leakyRelu(x, alpha), tf.grad((p: tf.Tensor) => tf.leakyRelu(p, alpha).mul(p).sum())(x)];
    });
    expectClose(fast[0], ref[0], "y");
    expectClose(fast[1], ref[1], "dx");
  });

  it.each([
    ["greater and where, same shapes", big, big],
    ["greater and where, scalar threshold", big, []],
    ["greater and where, per-channel threshold", big, [16]],
  ])("%s match cpu", async (_, shape, thresholdShape) => {
    const xs = randomArray(shape, 1850),
      ts = randomArray(thresholdShape, 1851),
      es = randomArray(shape, 1852);
    const calls = (nativeCallCounts.get("Greater") ?? 0) + (nativeCallCounts.get("Select") ?? 0);
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor(xs, shape),
        th = tf.tensor(ts, thresholdShape),
        e = tf.tensor(es, shape);
      const mask = tf.greater(x, th);
      return [tf.cast(mask, "float32"), tf.where(mask, x, e)];
    });
    expectClose(fast[0], ref[0], "greater");
    expectClose(fast[1], ref[1], "where");
    expect((nativeCallCounts.get("Greater") ?? 0) + (nativeCallCounts.get("Select") ?? 0)).toBe(calls + 2);
  });

  it.each([
    ["slice of the channel axis", [2, 11, 12, 13, 16], [0, 1, 0, 2, 3], [2, 9, 12, 10, 8]],
    ["slice of the outer axes", [4, 30, 20, 16], [1, 2, 0, 0], [2, 25, 20, 16]],
  ])("%s matches cpu (slice and concat/SplitV gradients)", async (_, shape, begin, sizes) => {
    const xs = randomArray(shape, 1900);
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor(xs, shape);
      const y = tf.slice(x, begin, sizes);
      const axis = shape.length - 1;
      // Concat's gradient splits dy back along the axis (SplitV).
      const other = tf.tensor(randomArray([...shape.slice(0, -1), 5], 1901), [...shape.slice(0, -1), 5]);
      const r = tf.tensor(randomArray([...shape.slice(0, -1), shape[axis] + 5], 1902), [...shape.slice(0, -1), shape[axis] + 5]);
      const [dx, dother] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.concat([p, q], axis).mul(r).sum())([x, other]);
      return [y, dx, dother];
    });
    ["slice", "dx", "dother"].forEach((what, j) => expectClose(fast[j], ref[j], what));
  });

  it("instance norm + leakyRelu block gradients match cpu (the U-Net hot path)", async () => {
    const shape = [2, 9, 10, 11, 24];
    const xs = randomArray(shape, 2000),
      gs = randomArray([24], 2001),
      bs = randomArray([24], 2002),
      ws = randomArray([3, 3, 3, 24, 24], 2003);
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor<tf.Rank>(xs, shape) as tf.Tensor5D,
        g = tf.tensor(gs, [24]),
        b = tf.tensor(bs, [24]),
        w = tf.tensor(ws, [3, 3, 3, 24, 24]) as tf.Tensor5D;
      const block = (p: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, filt: tf.Tensor) => {
        const y = tf.conv3d(p as tf.Tensor5D, filt as tf.Tensor5D, 1, "same");
        const { mean, variance } = tf.moments(y, [1, 2, 3], true);
        return tf
          .leakyRelu(
            y
              .sub(mean)
              .mul(tf.rsqrt(variance.add(1e-5)))
              .mul(gamma)
              .add(beta),
            0.01,
          )
          .add(p);
      };
      const r = tf.tensor(randomArray(shape, 2004), shape);
      return [block(x, g, b, w), ...tf.grads((p: tf.Tensor, q: tf.Tensor, u: tf.Tensor, v: tf.Tensor) => block(p, q, u, v).mul(r).sum())([x, g, b, w])];
    });
    ["y", "dx", "dgamma", "dbeta", "dw"].forEach((what, j) => expectClose(fast[j], ref[j], what));
  });

  it("reverse (test-time mirroring) equals cpu's for every axis combination, exactly", async () => {
    const shape = [2, 3, 9, 10, 11];
    const xs = randomArray(shape, 2100);
    const combos = [[0], [2], [4], [-1], [2, 3], [2, 4], [3, 4], [2, 3, 4], [0, 1, 2, 3, 4], []];
    const before = nativeCallCounts.get("Reverse") ?? 0;
    const { ref, fast } = await onBothBackends(() => combos.map((axes) => tf.reverse(tf.tensor(xs, shape), axes)));
    combos.forEach((axes, j) => expect(Array.from(fast[j]!), `axes [${axes}]`).toEqual(Array.from(ref[j]!)));
    expect(nativeCallCounts.get("Reverse") ?? 0).toBeGreaterThan(before);
  });

  it("softmax (attention scores, class probabilities) and its gradient match cpu", async () => {
    const shape = [2, 3, 40, 70];
    const xs = randomArray(shape, 2200).map((v) => 8 * v);
    const before = nativeCallCounts.get("Softmax") ?? 0;
    const { ref, fast } = await onBothBackends(() => {
      const x = tf.tensor(xs, shape);
      const r = tf.tensor(randomArray(shape, 2201), shape);
      return [tf.softmax(x), tf.grad((p: tf.Tensor) => tf.softmax(p).mul(r).sum())(x)];
    });
    ["softmax", "dx"].forEach((what, j) => expectClose(fast[j]!, ref[j]!, what));
    expect(nativeCallCounts.get("Softmax") ?? 0).toBeGreaterThan(before);
  });

  it("registerOnednnBackend reports the oneDNN version and registers cpu-onednn", async () => {
    expect(status.reason).toMatch(/^oneDNN \d+\.\d+\.\d+/);
    expect(tf.engine().registryFactory["cpu-onednn"]).toBeDefined();
    // Every pure-JS kernel is also there, so ops without a oneDNN version still run on cpu-onednn, plus the fused
    // instance-norm pair that only cpu-onednn has.
    const cpuKernels = tf.getKernelsForBackend("cpu").map((k) => k.kernelName);
    const onednnKernels = tf
      .getKernelsForBackend("cpu-onednn")
      .map((k) => k.kernelName)
      .sort();
    expect(onednnKernels).toEqual([...cpuKernels, INSTANCE_NORM, INSTANCE_NORM_GRAD].sort());
  });
});

describe("registerOnednnBackend fallback", () => {
  const garbage = join(mkdtempSync(join(tmpdir(), "onednn-test-")), "nnssl_onednn.node");
  writeFileSync(garbage, "not a shared object");
  it.each([
    [
      "a missing addon file",
      "/nonexistent/nnssl_onednn.node",
      /^native addon not built \(\/nonexistent\/nnssl_onednn\.node missing; apt-get install libdnnl-dev/,
    ],
    ["a corrupt addon file", garbage, /^native addon failed to load: /],
  ])("registerOnednnBackend with %s reports unavailable with a reason, and cpu still computes", async (_, addonPath, reason) => {
    const result = await registerOnednnBackend({ addonPath });
    expect(result.available).toBe(false);
    expect(result.reason).toMatch(reason);
    await tf.setBackend("cpu");
    const y = tf.conv3d(tf.ones([1, 3, 3, 3, 1]) as tf.Tensor5D, tf.ones([3, 3, 3, 1, 1]) as tf.Tensor5D, 1, "same");
    // Corner voxel sees 2x2x2 ones, its neighbour along W 2x2x3.
    expect(Array.from(y.dataSync()).slice(0, 2)).toEqual([8, 12]);
  });
});
