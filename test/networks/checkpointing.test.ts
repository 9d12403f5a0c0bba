// Activation recomputation (Network.checkpointing, sdk/networks/checkpointing.ts): the same loss and the same gradients
// as a plain backward pass, less memory held between forward and backward, nothing left behind, no effect at inference.
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../sdk/backend/index.js";
import { buildNetwork, type ArchitectureBlock, type Network } from "../../sdk/networks/index.js";
import { OPS_3D as OPS, randomProjectionLoss as loss } from "../helpers/networks.js";

const STRIDES = [
  [1, 1, 1],
  [2, 2, 2],
  [2, 2, 2],
];
const ARCHS: [string, ArchitectureBlock, number[]][] = [
  [
    "ResidualEncoderUNet",
    {
      network_class_name: "ResidualEncoderUNet",
      arch_kwargs: {
        ...OPS,
        n_stages: 3,
        features_per_stage: [4, 8, 8],
        kernel_sizes: 3,
        strides: STRIDES,
        n_blocks_per_stage: [1, 2, 2],
        n_conv_per_stage_decoder: 1,
      },
    },
    [16, 16, 16],
  ],
  [
    "PlainConvUNet",
    {
      network_class_name: "PlainConvUNet",
      arch_kwargs: {
        ...OPS,
        n_stages: 3,
        features_per_stage: [4, 8, 8],
        kernel_sizes: 3,
        strides: STRIDES,
        n_conv_per_stage: 2,
        n_conv_per_stage_decoder: [1, 1],
      },
    },
    [16, 16, 16],
  ],
  [
    "Primus",
    {
      network_class_name: "Primus",
      arch_kwargs: { embed_dim: 24, patch_embed_size: [8, 8, 8], eva_depth: 2, eva_numheads: 2, init_values: 0.1, scale_attn_inner: true },
    },
    [16, 16, 16],
  ],
];

function gradients(net: Network, x: tf.Tensor): { loss: number; grads: Float32Array[]; peak: number } {
  const vars = net.namedParameters().map(([, v]) => v);
  const before = tf.memory().numBytes;
  let peak = 0;
  // Peak of live tensor bytes at the moment the backward pass starts: what the forward pass left for it.
  const { value, grads } = tf.variableGrads(() => {
    const l = loss(net, x);
    peak = tf.memory().numBytes - before;
    return l;
  }, vars);
  const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => Float32Array.from(grads[v.name]!.dataSync())), peak };
  value.dispose();
  tf.dispose(Object.values(grads));
  return out;
}

beforeAll(async () => {
  await initBackend();
});

describe.each(ARCHS)("%s with checkpointing", (_name, arch, spatial) => {
  it("gives the loss and gradients of the plain backward pass, holding less until backward and leaking nothing", () => {
    const net = buildNetwork(arch, { inputChannels: 1, numClasses: 2, deepSupervision: true, patchSize: spatial, seed: 5 });
    for (const [name, v] of net.namedParameters()) if (/norm\.(weight|bias)$/.test(name)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, "float32", 7));
    const x = tf.randomNormal([2, 1, ...spatial], 0, 1, "float32", 6);
    const plain = gradients(net, x);
    const tensors = tf.memory().numTensors;
    net.checkpointing = true;
    const recomputed = gradients(net, x);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(recomputed.loss).toBeCloseTo(plain.loss, 4);
    // A conv bias right before an instance norm has a gradient of zero up to rounding, so each parameter's tolerance
    // is relative to its own largest gradient or to 1e-3 of the largest gradient of the network, whichever is larger.
    const overall = Math.max(...plain.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    plain.grads.forEach((g, i) => {
      const r = recomputed.grads[i]!;
      const scale = Math.max(
        1e-3 * overall,
        g.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
      );
      let worst = 0;
      for (let k = 0; k < g.length; k++) worst = Math.max(worst, Math.abs(r[k]! - g[k]!));
      expect(worst / scale, net.namedParameters()[i]![0]).toBeLessThan(1e-4);
    });
    // The U-Nets keep a fraction of their activations (Primus' tokens are small next to its decoder, so no bound there).
    if (net.className !== "Primus") expect(recomputed.peak).toBeLessThan(0.6 * plain.peak);
    // Inference is unaffected.
    const a = tf.tidy(() => (Array.isArray(net.forward(x)) ? (net.forward(x) as tf.Tensor[])[0]! : (net.forward(x) as tf.Tensor)).dataSync());
    net.checkpointing = false;
    const b = tf.tidy(() => (Array.isArray(net.forward(x)) ? (net.forward(x) as tf.Tensor[])[0]! : (net.forward(x) as tf.Tensor)).dataSync());
    expect(a).toEqual(b);
    net.dispose();
    x.dispose();
  });
});
