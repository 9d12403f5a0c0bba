// Every kernel the networks, losses, optimizers and inference use, forward and gradient, on the webgpu backend against
// the reference CPU backend (cpu-onednn where built) within 1e-4 relative. Shapes are small: SwiftShader emulates
// the GPU on the CPU.

import { describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { fusedInstanceNorm, hasFusedInstanceNorm } from "../../sdk/backend/fused-norm.js";
import { gelu, instanceNorm, layerNorm, avgPoolNd, convNd, transposedConvNd } from "../../sdk/networks/layers.js";
import { dcAndBceLoss, dcAndCeLoss } from "../../sdk/training/loss.js";
import { AdamW, SGD } from "../../sdk/training/optimizers.js";
import { randomArray } from "./helpers.js";
import { adapterDescription, onReferenceAndWebgpu, relativeError, useWebgpu, webgpuSkipReason } from "../helpers/webgpu.js";

const TOL = 1e-4;

let seed = 100;
const input = (shape: number[], scale = 1, offset = 0) => {
  const a = randomArray(shape, seed++);
  for (let i = 0; i < a.length; i++) a[i] = a[i]! * scale + offset;
  return { a, shape };
};

/** Checks every output of `fn` (values and gradients) on webgpu against the reference backend. `fn` must build its inputs
 * from arrays drawn before the call (input() outside the closure), so that both backends see the same values. */
async function expectSame(what: string, fn: () => tf.Tensor[], tol = TOL): Promise<void> {
  const { ref, gpu } = await onReferenceAndWebgpu(fn);
  expect(gpu.length).toBe(ref.length);
  ref.forEach((r, i) => {
    const e = relativeError(gpu[i]!, r);
    expect(e, `${what}, output ${i}: max |webgpu - ref| / max |ref|`).toBeLessThan(tol);
  });
}

/** The value of f(...xs) weighted by a fixed random tensor (so every output element gets its own gradient), and its gradients. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, ins: { a: Float32Array; shape: number[] }[], wSeed: number): tf.Tensor[] {
  const xs = ins.map((i) => tf.tensor(i.a, i.shape));
  const y = f(...xs);
  const w = tf.tensor(randomArray(y.shape, wSeed), y.shape);
  const grads = tf.grads((...vs: tf.Tensor[]) => tf.sum(tf.mul(f(...vs), w)))(xs);
  return [y, ...grads];
}

/** Draws the inputs now and returns the closure for expectSame. */
function vg(f: (...xs: tf.Tensor[]) => tf.Tensor, ins: { a: Float32Array; shape: number[] }[], wSeed: number): () => tf.Tensor[] {
  return () => valueAndGrads(f, ins, wSeed);
}

describe.skipIf(webgpuSkipReason !== null)(`webgpu kernels against the CPU reference (adapter: ${adapterDescription})`, () => {
  it("registers the fused instance norm for webgpu", async () => {
    await useWebgpu();
    expect(hasFusedInstanceNorm()).toBe(true);
  });

  describe.each([
    { name: "3x3x3, pad 1, stride 1", x: [2, 6, 7, 5, 4], k: [3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], cout: 5 },
    { name: "3x3x3, pad 1, stride 2", x: [1, 7, 6, 8, 3], k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1], cout: 4 },
    { name: "1x1x1", x: [2, 4, 5, 3, 6], k: [1, 1, 1], s: [1, 1, 1], p: [0, 0, 0], cout: 3 },
    { name: "anisotropic 1x3x3, stride 1x2x2", x: [1, 3, 8, 6, 5], k: [1, 3, 3], s: [1, 2, 2], p: [0, 1, 1], cout: 8 },
    { name: "one input channel (the stem)", x: [2, 5, 5, 5, 1], k: [3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], cout: 4 },
  ])("conv3d $name", ({ x, k, s, p, cout }) => {
    it("forward, d/dx and d/dw", async () => {
      const w = [...k, x[4]!, cout];
      await expectSame(
        "conv3d",
        vg((a, b) => convNd(a, b, null, k, s, p), [input(x), input(w, 0.3)], 1),
      );
    });
  });

  it("conv3d with bias (convNd adds it)", async () => {
    await expectSame(
      "conv3d+bias",
      vg((a, b, c) => convNd(a, b, c, [3, 3, 3], [1, 1, 1], [1, 1, 1]), [input([1, 4, 4, 4, 2]), input([3, 3, 3, 2, 3]), input([3])], 2),
    );
  });

  describe.each([
    { name: "2x2x2", x: [1, 3, 4, 2, 6], k: [2, 2, 2], cout: 3 },
    { name: "1x2x2", x: [2, 2, 3, 3, 4], k: [1, 2, 2], cout: 5 },
  ])("transposed conv3d (kernel == stride) $name", ({ x, k, cout }) => {
    it("forward, d/dx and d/dw", async () => {
      await expectSame(
        "conv3dTranspose",
        vg((a, b) => transposedConvNd(a, b, null, k), [input(x), input([...k, cout, x[4]!], 0.5)], 3),
      );
    });
  });

  it("conv2d (2-D configurations) and its transposed form", async () => {
    await expectSame(
      "conv2d",
      vg((a, b) => convNd(a, b, null, [3, 3], [2, 2], [1, 1]), [input([2, 9, 7, 3]), input([3, 3, 3, 4])], 4),
    );
    await expectSame(
      "conv2dTranspose",
      vg((a, b) => transposedConvNd(a, b, null, [2, 2]), [input([1, 4, 5, 3]), input([2, 2, 2, 3])], 5),
    );
  });

  describe.each([
    { name: "LeakyReLU 0.01", slope: 0.01 as number | null, x: [2, 5, 6, 7, 12], scale: 1, offset: 0 },
    { name: "ReLU", slope: 0, x: [1, 4, 4, 4, 3], scale: 1, offset: 0 },
    { name: "no activation", slope: null, x: [2, 3, 5, 4, 5], scale: 1, offset: 0 },
    { name: "LeakyReLU 0.2, one channel", slope: 0.2, x: [2, 6, 6, 6, 1], scale: 1, offset: 0 },
    { name: "70 channels", slope: 0.01, x: [1, 3, 4, 5, 70], scale: 1, offset: 0 },
    { name: "mean 100x the spread (CT-like)", slope: 0.01, x: [2, 8, 8, 8, 4], scale: 3, offset: 300 },
    { name: "2-D", slope: 0.01, x: [2, 9, 11, 6], scale: 1, offset: 0 },
    { name: "many voxels per channel (several chunks)", slope: 0.01, x: [1, 40, 40, 40, 2], scale: 2, offset: 5 },
  ])("fused instance norm, $name", ({ slope, x, scale, offset }) => {
    it("y, dx, dgamma, dbeta", async () => {
      const c = x.at(-1)!;
      await expectSame(
        "instance norm",
        vg((a, g, b) => fusedInstanceNorm(a, g, b, 1e-5, slope), [input(x, scale, offset), input([c], 0.5, 1), input([c], 0.5)], 6),
      );
    });
  });

  it("the fused norm equals the composed tfjs ops on webgpu", async () => {
    await useWebgpu();
    const x = tf.tensor(input([2, 4, 5, 3, 6]).a, [2, 4, 5, 3, 6]);
    const g = tf.tensor(input([6], 0.3, 1).a),
      b = tf.tensor(input([6], 0.3).a);
    const fused = await instanceNorm(x, g, b, 1e-5, 0.01).data();
    const axes = [1, 2, 3];
    const composed = tf.tidy(() => {
      const centered = tf.sub(x, tf.mean(x, axes, true));
      const scale = tf.mul(tf.rsqrt(tf.add(tf.mean(tf.square(centered), axes, true), 1e-5)), g);
      return tf.leakyRelu(tf.add(tf.mul(centered, scale), b), 0.01);
    });
    expect(relativeError(fused as Float32Array, (await composed.data()) as Float32Array)).toBeLessThan(TOL);
    tf.dispose([x, g, b, composed]);
  });

  it("softmax and log-softmax over the class axis", async () => {
    await expectSame(
      "softmax",
      vg((a) => tf.softmax(a), [input([2, 3, 4, 5, 6], 3)], 7),
    );
    await expectSame(
      "logSoftmax",
      vg((a) => tf.logSoftmax(a), [input([4, 7], 3)], 8),
    );
    // More rows than one dispatch dimension holds (65535 on every adapter so far): attention over a Primus patch.
    await expectSame(
      "softmax over 70000 rows",
      vg((a) => tf.softmax(a), [input([70000, 3], 3)], 27),
    );
  });

  it("concat and split (skip connections), slice, pad, transpose", async () => {
    await expectSame(
      "concat",
      vg((a, b) => tf.concat([a, b], 4), [input([1, 3, 4, 5, 2]), input([1, 3, 4, 5, 3])], 9),
    );
    const splitIn = input([2, 4, 3, 6]);
    await expectSame("split", () => {
      const x = tf.tensor(splitIn.a, [2, 4, 3, 6]);
      const w = tf.tensor(randomArray([2, 4, 3, 2], 10), [2, 4, 3, 2]);
      const f = (a: tf.Tensor) => tf.mul(tf.split(a, [2, 4], 3)[0]!, w);
      return [f(x), tf.grad(f)(x)];
    });
    await expectSame(
      "slice",
      vg((a) => tf.slice(a, [0, 1, 0, 2, 0], [2, 3, 4, 3, 3]), [input([2, 5, 4, 6, 3])], 11),
    );
    await expectSame(
      "pad",
      vg(
        (a) =>
          tf.pad(a, [
            [0, 0],
            [1, 1],
            [0, 2],
            [1, 0],
            [0, 0],
          ]),
        [input([1, 3, 3, 3, 2])],
        12,
      ),
    );
    await expectSame(
      "transpose",
      vg((a) => tf.transpose(a, [0, 4, 1, 2, 3]), [input([2, 3, 4, 5, 6])], 13),
    );
  });

  it("reductions: sum, mean, max, moments; elementwise ops and broadcasting", async () => {
    await expectSame(
      "sum/mean",
      vg((a) => tf.add(tf.sum(a, [1, 2, 3], true), tf.mean(a, [0, 4], true)), [input([2, 3, 4, 5, 3])], 14),
    );
    await expectSame(
      "max",
      vg((a) => tf.max(a, 1, true), [input([3, 5, 7])], 15),
    );
    await expectSame(
      "elementwise",
      vg(
        (a, b) => tf.add(tf.mul(tf.exp(tf.mul(a, 0.5)), tf.sigmoid(b)), tf.div(tf.sqrt(tf.add(tf.square(a), 1)), tf.add(tf.abs(b), 1))),
        [input([2, 3, 4, 5]), input([2, 3, 4, 5])],
        16,
      ),
    );
    await expectSame(
      "broadcast",
      vg((a, b) => tf.sub(a, b), [input([2, 3, 4, 5]), input([5])], 17),
    );
    await expectSame(
      "leakyRelu/relu",
      vg((a) => tf.add(tf.leakyRelu(a, 0.01), tf.relu(a)), [input([3, 4, 5])], 18),
    );
    await expectSame(
      "leakyRelu rank 5",
      vg((a) => tf.leakyRelu(a, 0.01), [input([2, 3, 4, 2, 3])], 24),
    );
    const [wa, wb] = [input([2, 3, 2, 4, 3]), input([2, 3, 2, 4, 3])];
    await expectSame("where rank 5", () => {
      const a = tf.tensor(wa.a, wa.shape),
        b = tf.tensor(wb.a, wb.shape);
      return [tf.where(tf.greater(a, b), a, b)];
    });
    await expectSame(
      "reverse rank 5",
      vg((a) => tf.reverse(a, [1, 3]), [input([2, 3, 4, 2, 3])], 26),
    );
    const many = Array.from({ length: 40 }, (_, i) => input([3, 2], 1, i));
    await expectSame("addN of 40 tensors", () => [tf.addN(many.map((m) => tf.tensor(m.a, m.shape)))]);
    await expectSame(
      "avgPool",
      vg((a) => avgPoolNd(a, [2, 2, 2]), [input([1, 4, 6, 5, 3])], 19),
    );
  });

  it("Primus pieces: matmul, GELU, LayerNorm, attention", async () => {
    await expectSame(
      "matmul",
      vg((a, b) => tf.matMul(a, b, false, true), [input([2, 6, 8]), input([2, 5, 8])], 20),
    );
    await expectSame(
      "gelu",
      vg((a) => gelu(a), [input([4, 9], 3)], 21),
    );
    await expectSame(
      "layerNorm",
      vg((a, g, b) => layerNorm(a, g, b, 1e-6), [input([3, 5, 8], 2, 1), input([8], 0.3, 1), input([8], 0.3)], 22),
    );
    await expectSame(
      "attention",
      vg((q, k, v) => tf.matMul(tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(8))), v), [input([2, 7, 8]), input([2, 7, 8]), input([2, 7, 8])], 23),
    );
  });

  it("the losses: Dice + CE and Dice + BCE, value and d/dlogits", async () => {
    const labels = new Int16Array(2 * 5 * 4 * 3).map((_, i) => (i * 7919) % 3);
    const ceIn = input([2, 3, 5, 4, 3], 2);
    await expectSame("dcAndCe", () => {
      const logits = tf.tensor(ceIn.a, [2, 3, 5, 4, 3]);
      const f = (l: tf.Tensor) => dcAndCeLoss({ batchDice: false })(l, { data: labels, shape: [2, 1, 5, 4, 3] });
      return [f(logits), tf.grad(f)(logits)];
    });
    const regions = new Int16Array(2 * 2 * 20).map((_, i) => (i * 31) % 2);
    const bceIn = input([2, 2, 4, 5], 2);
    await expectSame("dcAndBce", () => {
      const logits = tf.tensor(bceIn.a, [2, 2, 4, 5]);
      const f = (l: tf.Tensor) => dcAndBceLoss({ batchDice: true })(l, { data: regions, shape: [2, 2, 4, 5] });
      return [f(logits), tf.grad(f)(logits)];
    });
  });

  it("optimizer steps: SGD with Nesterov momentum and AdamW", async () => {
    for (const make of [(v: tf.Variable[]) => new SGD(v, { lr: 0.01 }), (v: tf.Variable[]) => new AdamW(v, { lr: 1e-3 })]) {
      await expectSame("optimizer", () => {
        const vars = [tf.variable(tf.tensor(randomArray([3, 4], 30), [3, 4])), tf.variable(tf.tensor(randomArray([5], 31), [5]))];
        const opt = make(vars);
        for (let s = 0; s < 3; s++) opt.step([tf.tensor(randomArray([3, 4], 32 + s), [3, 4]), tf.tensor(randomArray([5], 40 + s), [5])]);
        const out = vars.map((v) => v.clone());
        opt.dispose();
        tf.dispose(vars);
        return out;
      });
    }
  });
});
