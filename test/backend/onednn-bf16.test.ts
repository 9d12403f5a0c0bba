// `--precision bf16` on cpu-onednn: inference convolutions with bf16 inputs and weights, fp32 accumulation and output.
// Tolerances (documented in README): a convolution within 1% of its largest fp32 output, network logits within 2% of
// the logit range, the same argmax on at least 99% of voxels; under a gradient tape convolutions stay exactly fp32
// unless training in bf16 was asked for (then output and both gradients within 1% of their largest fp32 value).
import { afterEach, describe, expect, it } from "vitest";
import { tf } from "../../sdk/backend/index.js";
import { cpuHasBf16, ONEDNN_BACKEND_NAME, registerOnednnBackend, setOnednnPrecision } from "../../sdk/backend/onednn.js";
import { buildNetwork } from "../../sdk/networks/index.js";

const status = await registerOnednnBackend();
const bf16 = status.available && cpuHasBf16();

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.skipIf(!status.available)("setOnednnPrecision", () => {
  afterEach(() => {
    setOnednnPrecision("fp32");
  });

  it("falls back to fp32 with a one-line notice off cpu-onednn", async () => {
    await tf.setBackend("cpu");
    const r = setOnednnPrecision("bf16");
    expect(r.precision).toBe("fp32");
    expect(r.notice).toMatch(/^--precision bf16: .*; computing in fp32$/);
    await tf.setBackend(ONEDNN_BACKEND_NAME);
  });

  it.skipIf(!bf16)("bf16 convolutions stay within 1% of fp32 at inference and are exactly fp32 under a tape", async () => {
    await tf.setBackend(ONEDNN_BACKEND_NAME);
    const x = tf.randomNormal([1, 12, 12, 12, 32], 0, 1, "float32", 1);
    const w = tf.randomNormal([3, 3, 3, 32, 32], 0, 0.05, "float32", 2);
    const ref = tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 1, "same").dataSync() as Float32Array;
    expect(setOnednnPrecision("bf16")).toEqual({ precision: "bf16", notice: null });
    const half = tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 1, "same").dataSync() as Float32Array;
    const d = maxDiff(ref, half);
    expect(d).toBeGreaterThan(0); // bf16 really ran
    expect(d).toBeLessThan(0.01 * maxAbs(ref));
    const taped = tf
      .valueAndGrad((t: tf.Tensor) => tf.sum(tf.conv3d(t as tf.Tensor5D, w as tf.Tensor5D, 1, "same")))(x)
      .value.dataSync()[0];
    setOnednnPrecision("fp32");
    expect(taped).toBe(tf.sum(tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 1, "same")).dataSync()[0]);
  });

  it.skipIf(!bf16)("with training: true the taped forward and both gradients run in bf16, within 1% of fp32's largest value", async () => {
    await tf.setBackend(ONEDNN_BACKEND_NAME);
    const x = tf.randomNormal([2, 10, 10, 10, 16], 0, 1, "float32", 5);
    const w = tf.randomNormal([3, 3, 3, 16, 24], 0, 0.05, "float32", 6);
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, [2, 1, 1], "same")));
    const grads = () => {
      const { value, grads: g } = tf.valueAndGrads(f)([x, w]);
      return [value.dataSync() as Float32Array, ...g.map((t) => t.dataSync() as Float32Array)];
    };
    const ref = grads();
    expect(setOnednnPrecision("bf16", { training: true })).toEqual({ precision: "bf16", notice: null });
    const half = grads();
    setOnednnPrecision("fp32");
    for (let k = 0; k < 3; k++) {
      const d = maxDiff(ref[k]!, half[k]!);
      expect(d, ["loss", "dx", "dw"][k]).toBeGreaterThan(0); // bf16 really ran
      expect(d, ["loss", "dx", "dw"][k]).toBeLessThan(0.01 * maxAbs(ref[k]!));
    }
  });

  it.skipIf(!bf16)("matmuls (Primus' linear layers and attention) run in bf16 too, within 1% of fp32's largest value", async () => {
    await tf.setBackend(ONEDNN_BACKEND_NAME);
    const a = tf.randomNormal([3, 40, 64], 0, 1, "float32", 8);
    const b = tf.randomNormal([3, 50, 64], 0, 1, "float32", 9);
    const ref = tf.matMul(a, b, false, true).dataSync() as Float32Array;
    setOnednnPrecision("bf16");
    const half = tf.matMul(a, b, false, true).dataSync() as Float32Array;
    setOnednnPrecision("fp32");
    const d = maxDiff(ref, half);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.01 * maxAbs(ref));
  });

  it.skipIf(!bf16)("a ResidualEncoderUNet's bf16 logits stay within 2% of the fp32 range with the same argmax on 99% of voxels", async () => {
    await tf.setBackend(ONEDNN_BACKEND_NAME);
    const ops = {
      conv_op: "torch.nn.modules.conv.Conv3d",
      conv_bias: true,
      norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      nonlin: "torch.nn.LeakyReLU",
      nonlin_kwargs: { inplace: true },
    };
    const kwargs = {
      n_stages: 3,
      features_per_stage: [16, 32, 64],
      kernel_sizes: 3,
      strides: [
        [1, 1, 1],
        [2, 2, 2],
        [2, 2, 2],
      ],
      n_blocks_per_stage: [1, 2, 2],
    };
    const arch = { network_class_name: "ResidualEncoderUNet", arch_kwargs: { ...ops, ...kwargs, n_conv_per_stage_decoder: 1 } };
    const net = buildNetwork(arch, { inputChannels: 1, numClasses: 3, deepSupervision: false, patchSize: [24, 24, 24], seed: 4 });
    for (const [name, v] of net.namedParameters()) if (/norm\.weight$/.test(name)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, "float32", 7));
    const x = tf.randomNormal([1, 1, 24, 24, 24], 0, 1, "float32", 3);
    const logits = (): Float32Array => tf.tidy(() => (net.forward(x) as tf.Tensor).dataSync() as Float32Array);
    const ref = logits();
    setOnednnPrecision("bf16");
    const half = logits();
    let range = 0;
    for (const v of ref) range = Math.max(range, Math.abs(v));
    expect(maxDiff(ref, half)).toBeLessThan(0.02 * 2 * range);
    const n = ref.length / 3; // (1, 3, D, H, W): class planes of n voxels
    let same = 0;
    const argmax = (a: Float32Array, i: number) => [0, 1, 2].reduce((b, c) => (a[c * n + i]! > a[b * n + i]! ? c : b), 0);
    for (let i = 0; i < n; i++) if (argmax(ref, i) === argmax(half, i)) same++;
    expect(same / n).toBeGreaterThanOrEqual(0.99);
    net.dispose();
  });
});
