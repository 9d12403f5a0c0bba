import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../sdk/backend/index.js";
import { buildNetwork, type ArchitectureBlock } from "../../sdk/networks/index.js";
import { Rng, sampleInit } from "../../sdk/networks/init.js";

const RESENC: ArchitectureBlock = {
  network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
  arch_kwargs: {
    n_stages: 3,
    features_per_stage: [16, 32, 64],
    conv_op: "torch.nn.modules.conv.Conv3d",
    kernel_sizes: 3,
    strides: [1, 2, 2],
    n_blocks_per_stage: [1, 2, 2],
    n_conv_per_stage_decoder: [1, 1],
    conv_bias: true,
    norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
    norm_op_kwargs: { eps: 1e-5, affine: true },
    dropout_op: null,
    nonlin: "torch.nn.modules.activation.LeakyReLU",
    nonlin_kwargs: { inplace: true },
  },
};
const PRIMUS: ArchitectureBlock = {
  network_class_name: "Primus",
  arch_kwargs: { embed_dim: 96, patch_embed_size: [8, 8, 8], eva_depth: 3, eva_numheads: 2, init_values: 0.1, scale_attn_inner: true },
};

function std(a: Float32Array): number {
  let s = 0;
  let s2 = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
  }
  const m = s / a.length;
  return Math.sqrt(s2 / a.length - m * m);
}

const he = (fanIn: number): number => Math.sqrt(2 / (1 + 1e-4)) / Math.sqrt(fanIn);

beforeAll(async () => {
  await initBackend();
});

describe("buildNetwork(architecture, { seed })", () => {
  it("draws identical weights for one seed and different weights for another", () => {
    const opts = { inputChannels: 1, numClasses: 2 };
    const [a, b, c] = [1, 1, 2].map((seed) => buildNetwork(RESENC, { ...opts, seed }));
    const key = "encoder.stages.2.blocks.1.conv1.conv.weight";
    expect(a!.stateDict().get(key)!.toFloat32()).toEqual(b!.stateDict().get(key)!.toFloat32());
    expect(a!.stateDict().get(key)!.toFloat32()).not.toEqual(c!.stateDict().get(key)!.toFloat32());
    expect(a!.seed).toBe(1);
    [a, b, c].forEach((n) => n!.dispose());
  });

  it("initialises a ResidualEncoderUNet like InitWeights_He(1e-2) + init_last_bn_before_add_to_0", () => {
    const net = buildNetwork(RESENC, { inputChannels: 1, numClasses: 2, seed: 3 });
    const sd = net.stateDict();
    for (const [k, t] of sd) {
      const v = t.toFloat32();
      if (/blocks\.\d+\.conv2\.(norm|all_modules\.1)\.(weight|bias)$/.test(k))
        expect(
          v.every((x) => x === 0),
          k,
        ).toBe(true);
      else if (/(norm|all_modules\.1)\.weight$/.test(k))
        expect(
          v.every((x) => x === 1),
          k,
        ).toBe(true);
      else if (k.endsWith(".bias"))
        expect(
          v.every((x) => x === 0),
          k,
        ).toBe(true);
    }
    // Conv: fan_in = in * prod(k); ConvTranspose: torch's fan_in = weight.size(1) * prod(k) = out * prod(k).
    expect(std(sd.get("encoder.stages.2.blocks.1.conv1.conv.weight")!.toFloat32()) / he(64 * 27)).toBeCloseTo(1, 1);
    expect(std(sd.get("decoder.stages.0.convs.0.conv.weight")!.toFloat32()) / he(64 * 27)).toBeCloseTo(1, 1);
    expect(std(sd.get("decoder.transpconvs.0.weight")!.toFloat32()) / he(32 * 8)).toBeCloseTo(1, 1);
    net.dispose();
  });

  it("initialises Primus like upstream: trunc-normal(.02) linears rescaled per layer, LayerScale 0.1, He patch embed/decode", () => {
    const net = buildNetwork(PRIMUS, { inputChannels: 1, numClasses: 2, patchSize: [32, 32, 32], seed: 4 });
    const sd = net.stateDict();
    expect(std(sd.get("eva.pos_embed")!.toFloat32())).toBeCloseTo(0.02, 2);
    expect(std(sd.get("eva.blocks.0.attn.q_proj.weight")!.toFloat32()) / 0.02).toBeCloseTo(1, 1);
    expect(std(sd.get("eva.blocks.2.attn.proj.weight")!.toFloat32()) / (0.02 / Math.sqrt(6))).toBeCloseTo(1, 1);
    expect(std(sd.get("eva.blocks.1.mlp.fc2.weight")!.toFloat32()) / (0.02 / Math.sqrt(4))).toBeCloseTo(1, 1);
    expect(
      sd
        .get("eva.blocks.1.gamma_2")!
        .toFloat32()
        .every((x) => x === Math.fround(0.1)),
    ).toBe(true);
    expect(
      sd
        .get("eva.blocks.1.attn.norm.weight")!
        .toFloat32()
        .every((x) => x === 1),
    ).toBe(true);
    expect(
      sd
        .get("mask_token")!
        .toFloat32()
        .every((x) => x === 0),
    ).toBe(true);
    expect(std(sd.get("down_projection.proj.weight")!.toFloat32()) / he(512)).toBeCloseTo(1, 1);
    expect(std(sd.get("up_projection.decode.0.0.weight")!.toFloat32()) / he(sd.get("up_projection.decode.0.0.weight")!.shape[1]! * 8)).toBeCloseTo(1, 1);
    expect(
      sd
        .get("up_projection.decode.0.1.weight")!
        .toFloat32()
        .every((x) => x === 1),
    ).toBe(true);
    net.dispose();
  });
});

describe("Rng", () => {
  it("draws the sequence it always drew (values recorded before the typed-array state and fillNormal)", () => {
    const r = new Rng(12345);
    expect([r.nextUint32(), r.nextUint32(), r.uniform(), r.normal(), r.normal(), r.normal()]).toEqual([
      518667457, 440444462, 0.9855471999617293, -0.3495723998383788, 0.7085958299001268, -0.17159404793404234,
    ]);
    const s = new Rng(7);
    expect(Array.from(sampleInit({ kind: "he", fanIn: 9, negSlope: 0.01 }, 5, s))).toEqual([
      -0.7471546530723572, 0.034336816519498825, -0.09329502284526825, -0.597705602645874, 1.2225145101547241,
    ]);
    expect(s.normal()).toBe(-1.045323825586016); // the spare left by the odd count
    const t = new Rng(7);
    const a = sampleInit({ kind: "truncNormal", std: 1.5 }, 1001, t); // std 1.5 rejects about a fifth of the draws at |x| > 2
    expect(a[1000]).toBe(1.3445085287094116);
    expect(t.normal()).toBe(0.34898170743936635);
    expect(a.every((x) => Math.abs(x) <= 2)).toBe(true);
  });

  it("fillNormal equals one normal() per element, spare and rejections included", () => {
    for (const seed of [0, 1, 0xffffffff, 0x5bd1e995]) {
      const a = new Rng(seed);
      const b = new Rng(seed);
      for (const [n, std, lo, hi] of [
        [1, 1, -Infinity, Infinity],
        [7, 0.5, -Infinity, Infinity],
        [1000, 1.5, -2, 2],
        [0, 1, -1, 1],
        [33, 2, -1, 1],
      ] as const) {
        const want = new Float32Array(n);
        for (let i = 0; i < n;) {
          const v = a.normal() * std;
          if (v >= lo && v <= hi) want[i++] = v;
        }
        const got = new Float32Array(n);
        b.fillNormal(got, std, lo, hi);
        expect(got).toEqual(want);
      }
      expect(b.normal()).toBe(a.normal());
      expect(b.nextUint32()).toBe(a.nextUint32());
    }
  });
});
