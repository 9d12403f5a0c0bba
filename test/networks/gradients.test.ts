import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../sdk/backend/index.js";
import { buildNetwork, type ArchitectureBlock } from "../../sdk/networks/index.js";
import { OPS_3D as OPS, randomProjectionLoss as loss } from "../helpers/networks.js";

const ARCHS: [string, ArchitectureBlock, number[]][] = [
  [
    "ResidualEncoderUNet",
    {
      network_class_name: "ResidualEncoderUNet",
      arch_kwargs: {
        ...OPS,
        n_stages: 3,
        features_per_stage: [2, 4, 4],
        kernel_sizes: 3,
        strides: [
          [1, 1, 1],
          [2, 2, 2],
          [1, 2, 2],
        ],
        n_blocks_per_stage: [1, 2, 1],
        n_conv_per_stage_decoder: 1,
      },
    },
    [4, 8, 8],
  ],
  [
    "PlainConvUNet",
    {
      network_class_name: "PlainConvUNet",
      arch_kwargs: {
        ...OPS,
        n_stages: 2,
        features_per_stage: [2, 4],
        kernel_sizes: [
          [1, 3, 3],
          [3, 3, 3],
        ],
        strides: [
          [1, 1, 1],
          [1, 2, 2],
        ],
        n_conv_per_stage: 2,
        n_conv_per_stage_decoder: [1],
      },
    },
    [3, 8, 6],
  ],
  [
    "Primus",
    {
      network_class_name: "Primus",
      arch_kwargs: { embed_dim: 24, patch_embed_size: [8, 8, 8], eva_depth: 1, eva_numheads: 1, init_values: 0.1, scale_attn_inner: true },
    },
    [16, 8, 8],
  ],
];

beforeAll(async () => {
  await initBackend();
});

describe.each(ARCHS)("tf.variableGrads(() => loss(%s.forward(x)))", (_name, arch, spatial) => {
  it("gives every named parameter a finite gradient of its shape that matches a central difference", () => {
    const net = buildNetwork(arch, { inputChannels: 2, numClasses: 2, deepSupervision: true, patchSize: spatial, seed: 9 });
    // Non-zero norm weights everywhere, so no gradient is zero just because conv2.norm starts at 0.
    for (const [name, v] of net.namedParameters()) if (/norm\.(weight|bias)$/.test(name)) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, "float32", 7));
    const x = tf.randomNormal([1, 2, ...spatial], 0, 1, "float32", 5);
    const named = net.namedParameters();
    const { grads } = tf.variableGrads(
      () => loss(net, x),
      named.map(([, v]) => v),
    );
    for (const [name, v] of named) {
      const g = grads[v.name];
      expect(g, name).toBeDefined();
      expect(g!.shape, name).toEqual(v.shape);
      expect(g!.dataSync().every(Number.isFinite), name).toBe(true);
    }
    // Central differences on the first element of a few parameters: the input conv, the first strided conv, a middle
    // one and the last one.
    const strided = named.findIndex(([n]) => /^encoder\.stages\.1\.(blocks\.0\.conv1|0\.convs\.0)\.conv\.weight$/.test(n));
    for (const idx of new Set([0, ...(strided >= 0 ? [strided] : []), Math.floor(named.length / 2), named.length - 1])) {
      const [name, v] = named[idx]!;
      const analytic = grads[v.name]!.dataSync()[0]!;
      if (idx === strided) expect(analytic, `${name} gradient`).not.toBe(0);
      const orig = v.dataSync().slice();
      const h = 1e-3;
      const at = (delta: number): number => {
        const vals = orig.slice();
        vals[0]! += delta;
        v.assign(tf.tensor(vals, v.shape));
        return loss(net, x).dataSync()[0]!;
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      v.assign(tf.tensor(orig, v.shape));
      expect(Math.abs(numeric - analytic), `${name}: numeric ${numeric} vs analytic ${analytic}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic)));
    }
    tf.dispose(Object.values(grads));
    net.dispose();
  });
});
