import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, tf } from "../../sdk/backend/index.js";
import { ConfigError } from "../../sdk/errors.js";
import { buildNetwork, countParameters, stateDictShapes, type ArchitectureBlock } from "../../sdk/networks/index.js";

// Architecture blocks as nnU-Net wrote them for Dataset900_Tiny (datasets/Dataset900_Tiny/expected/*Plans.json).
const IMPORTS = ["conv_op", "norm_op", "dropout_op", "nonlin"];
const COMMON = {
  conv_bias: true,
  norm_op_kwargs: { eps: 1e-5, affine: true },
  dropout_op: null,
  dropout_op_kwargs: null,
  nonlin: "torch.nn.LeakyReLU",
  nonlin_kwargs: { inplace: true },
};
const PLAIN_2D: ArchitectureBlock = {
  network_class_name: "dynamic_network_architectures.architectures.unet.PlainConvUNet",
  arch_kwargs: {
    n_stages: 4,
    features_per_stage: [32, 64, 128, 256],
    conv_op: "torch.nn.modules.conv.Conv2d",
    kernel_sizes: [
      [3, 3],
      [3, 3],
      [3, 3],
      [3, 3],
    ],
    strides: [
      [1, 1],
      [2, 2],
      [2, 2],
      [2, 2],
    ],
    n_conv_per_stage: [2, 2, 2, 2],
    n_conv_per_stage_decoder: [2, 2, 2],
    norm_op: "torch.nn.modules.instancenorm.InstanceNorm2d",
    ...COMMON,
  },
  _kw_requires_import: IMPORTS,
};
const RESENC_3D: ArchitectureBlock = {
  network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
  arch_kwargs: {
    n_stages: 4,
    features_per_stage: [32, 64, 128, 256],
    conv_op: "torch.nn.modules.conv.Conv3d",
    kernel_sizes: [
      [1, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
    ],
    strides: [
      [1, 1, 1],
      [1, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
    ],
    n_blocks_per_stage: [1, 3, 4, 6],
    n_conv_per_stage_decoder: [1, 1, 1],
    norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
    ...COMMON,
  },
  _kw_requires_import: IMPORTS,
};
/** 6-stage 3D configurations whose parameter counts were taken from dynamic-network-architectures. */
function sixStage(name: "ResidualEncoderUNet" | "PlainConvUNet"): ArchitectureBlock {
  // nnU-Net's defaults: one decoder conv per stage for the ResEnc planners, two for PlainConvUNet.
  const perStage =
    name === "ResidualEncoderUNet"
      ? { n_blocks_per_stage: [1, 3, 4, 6, 6, 6], n_conv_per_stage_decoder: [1, 1, 1, 1, 1] }
      : { n_conv_per_stage: [2, 2, 2, 2, 2, 2], n_conv_per_stage_decoder: [2, 2, 2, 2, 2] };
  return {
    network_class_name: name,
    arch_kwargs: {
      n_stages: 6,
      features_per_stage: [32, 64, 128, 256, 320, 320],
      conv_op: "torch.nn.modules.conv.Conv3d",
      kernel_sizes: [
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
      ],
      strides: [1, 2, 2, 2, 2, 2],
      ...perStage,
      norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
      ...COMMON,
    },
  };
}

beforeAll(async () => {
  await initBackend();
});

describe("countParameters(architecture, options)", () => {
  it("counts ResEncL with 1 input and 2 classes as 102,349,770 (as dynamic-network-architectures counts it)", () => {
    expect(countParameters("ResEncL", { inputChannels: 1, numClasses: 2 })).toBe(102_349_770);
  });
  it("counts the 6-stage ResidualEncoderUNet with 3 classes as 102,350,575 unique numbers in 264 parameters", () => {
    expect(countParameters(sixStage("ResidualEncoderUNet"), { inputChannels: 1, numClasses: 3, deepSupervision: true })).toBe(102_350_575);
  });
  it.each([
    ["PrimusS", 160, 26.35],
    ["PrimusB", 160, 98.17],
    ["PrimusM", 96, 146.6],
    ["PrimusM", 160, 152.02],
    ["PrimusL", 192, 338.33],
  ])("counts %s at patch %d^3 as %f M (C=1, K=2)", (name, p, millions) => {
    expect(countParameters(name, { inputChannels: 1, numClasses: 2, patchSize: [p, p, p] }) / 1e6).toBeCloseTo(millions, 2);
  });
  it("counts Primus-M blocks as 8,977,536 each and its 160^3 positional embedding as 6,912,000", () => {
    const at = (p: number) => countParameters("PrimusM", { inputChannels: 1, numClasses: 2, patchSize: [p, p, p] });
    expect(at(160) - at(96)).toBe(864 * (8000 - 1728));
    const arch = (depth: number): ArchitectureBlock => ({
      network_class_name: "Primus",
      arch_kwargs: { embed_dim: 864, patch_embed_size: [8, 8, 8], eva_depth: depth, eva_numheads: 12, init_values: 0.1, scale_attn_inner: true },
    });
    const opts = { inputChannels: 1, numClasses: 2, patchSize: [96, 96, 96] };
    expect(countParameters(arch(2), opts) - countParameters(arch(1), opts)).toBe(8_977_536);
  });
});

describe("stateDictShapes(architecture, options)", () => {
  it("gives ResEncL 956 keys (encoder + decoder.encoder aliases + decoder)", () => {
    const shapes = stateDictShapes("ResEncL", { inputChannels: 1, numClasses: 2 });
    expect(shapes.size).toBe(956);
    expect([...shapes.keys()].filter((k) => k.startsWith("decoder.encoder.")).length).toBe(448);
    expect(shapes.get("decoder.stages.0.convs.0.conv.weight")).toEqual([320, 640, 3, 3, 3]);
    expect(shapes.get("decoder.transpconvs.1.weight")).toEqual([320, 256, 2, 2, 2]);
    expect(shapes.get("encoder.stages.5.blocks.0.skip.0.weight")).toBeUndefined(); // 320 -> 320: AvgPool only
  });
  it("gives the 6-stage PlainConvUNet 292 keys", () => {
    expect(stateDictShapes(sixStage("PlainConvUNet"), { inputChannels: 1, numClasses: 3 }).size).toBe(292);
  });
  it("gives Primus-M up_projection channels 864 -> 144 -> 24 -> 2", () => {
    const shapes = stateDictShapes("PrimusM", { inputChannels: 1, numClasses: 2, patchSize: [160, 160, 160] });
    expect(shapes.get("up_projection.decode.0.0.weight")).toEqual([864, 144, 2, 2, 2]);
    expect(shapes.get("up_projection.decode.1.0.weight")).toEqual([144, 24, 2, 2, 2]);
    expect(shapes.get("up_projection.decode.2.weight")).toEqual([24, 2, 2, 2, 2]);
    expect(shapes.get("eva.blocks.0.attn.norm.weight")).toEqual([864]);
    expect(shapes.get("eva.blocks.0.gamma_1")).toEqual([864]);
    expect(shapes.has("eva.blocks.0.attn.k_proj.bias")).toBe(false);
    expect(shapes.get("eva.pos_embed")).toEqual([1, 8000, 864]);
  });
});

describe("buildNetwork(architecture, options)", () => {
  it("builds the 2d PlainConvUNet of a plans file with Conv2d weights and 3 deep-supervision outputs", () => {
    const arch = { ...PLAIN_2D, arch_kwargs: { ...PLAIN_2D.arch_kwargs, features_per_stage: [4, 8, 8, 8] } };
    const net = buildNetwork(arch, { inputChannels: 1, numClasses: 3, deepSupervision: true, seed: 0 });
    expect(net.dim).toBe(2);
    expect(net.stateDict().get("encoder.stages.1.0.convs.0.conv.weight")!.shape).toEqual([8, 4, 3, 3]);
    const outs = net.forward(tf.randomNormal([1, 1, 48, 40])) as tf.Tensor[];
    expect(outs.map((o) => o.shape)).toEqual([
      [1, 3, 48, 40],
      [1, 3, 24, 20],
      [1, 3, 12, 10],
    ]);
    net.setDeepSupervision(false);
    expect((net.forward(tf.randomNormal([1, 1, 16, 16])) as tf.Tensor).shape).toEqual([1, 3, 16, 16]);
    net.dispose();
  });

  it("computes a 2D network exactly like the 3D network with (1, k, k) kernels on a depth-1 input", async () => {
    const k3 = RESENC_3D.arch_kwargs!;
    const small3d: ArchitectureBlock = {
      network_class_name: "ResidualEncoderUNet",
      arch_kwargs: {
        ...k3,
        features_per_stage: [4, 8, 8],
        n_stages: 3,
        kernel_sizes: [
          [1, 3, 3],
          [1, 3, 3],
          [1, 1, 3],
        ],
        strides: [
          [1, 1, 1],
          [1, 2, 2],
          [1, 2, 1],
        ],
        n_blocks_per_stage: [1, 2, 1],
        n_conv_per_stage_decoder: [1, 2],
      },
    };
    const small2d: ArchitectureBlock = {
      network_class_name: "ResidualEncoderUNet",
      arch_kwargs: {
        ...small3d.arch_kwargs,
        conv_op: "torch.nn.modules.conv.Conv2d",
        norm_op: "torch.nn.modules.instancenorm.InstanceNorm2d",
        kernel_sizes: [
          [3, 3],
          [3, 3],
          [1, 3],
        ],
        strides: [
          [1, 1],
          [2, 2],
          [2, 1],
        ],
      },
    };
    const net3 = buildNetwork(small3d, { inputChannels: 2, numClasses: 2, deepSupervision: true, seed: 11 });
    const net2 = buildNetwork(small2d, { inputChannels: 2, numClasses: 2, deepSupervision: true, seed: 12 });
    const sd2 = new Map<string, unknown>();
    for (const [key, t] of net3.stateDict()) {
      const shape2 = net2.stateDict().get(key)!.shape;
      sd2.set(key, { shape: shape2, toFloat32: () => t.toFloat32() }); // dropping the size-1 depth axis keeps C order
    }
    await net2.loadStateDict(sd2);
    const x = tf.randomNormal([2, 2, 12, 10], 0, 1, "float32", 3);
    const y3 = net3.forward(tf.expandDims(x, 2)) as tf.Tensor[];
    const y2 = net2.forward(x) as tf.Tensor[];
    expect(y2.length).toBe(2);
    for (let i = 0; i < 2; i++) {
      const diff = tf.max(tf.abs(tf.sub(tf.squeeze(y3[i]!, [2]), y2[i]!))).dataSync()[0]!;
      expect(diff).toBeLessThan(1e-5);
    }
    net2.dispose();
    net3.dispose();
  });

  it("builds a Primus preset name with THRP arch_kwargs as Primus(**kwargs), like PretrainedTrainer_Primusx", () => {
    const arch: ArchitectureBlock = {
      network_class_name: "PrimusM",
      arch_kwargs: {
        embed_dim: 48,
        patch_embed_size: [8, 8, 8],
        encoder_eva_depth: 2,
        encoder_eva_numheads: 2,
        scale_attn_inner: true,
        init_values: [0.5],
        input_channels: 1,
        input_shape: [16, 16, 16],
      },
    };
    const net = buildNetwork(arch, { inputChannels: 1, numClasses: 2, patchSize: [16, 16, 16], seed: 1 });
    const sd = net.stateDict();
    expect(sd.get("eva.pos_embed")!.shape).toEqual([1, 8, 48]);
    expect(sd.has("eva.blocks.1.attn.norm.weight")).toBe(true);
    expect(sd.has("eva.blocks.2.norm1.weight")).toBe(false);
    expect(sd.get("eva.blocks.0.gamma_1")!.toFloat32()[0]).toBe(0.5);
    expect(net.className).toBe("PrimusM");
    net.dispose();
  });

  it("builds nnssl presets without deep supervision, like get_network_from_name", () => {
    const shapes = stateDictShapes("ResEncL", { inputChannels: 1, numClasses: 2, deepSupervision: true });
    expect(shapes.get("encoder.stem.convs.0.conv.weight")).toEqual([32, 1, 3, 3, 3]);
    const net = buildNetwork(
      { network_class_name: "ResidualEncoderUNet", arch_kwargs: { ...RESENC_3D.arch_kwargs, features_per_stage: [2, 2, 2, 2] } },
      { inputChannels: 1, numClasses: 2, deepSupervision: true, seed: 1 },
    );
    expect(net.deepSupervision).toBe(true);
    net.dispose();
  });

  it.each([
    ["an unknown class", { network_class_name: "NoSkipResEncL" }, {}, /unsupported network class "NoSkipResEncL"/],
    ["Primus without a patch size", "PrimusM", {}, /PrimusM: patchSize is required/],
    [
      "Primus with a patch size not divisible by 8",
      "PrimusS",
      { patchSize: [36, 32, 32] },
      /patch size \[36, 32, 32\] is not divisible by the patch embedding \[8, 8, 8\]/,
    ],
    [
      "BatchNorm",
      { network_class_name: "PlainConvUNet", arch_kwargs: { ...PLAIN_2D.arch_kwargs, norm_op: "torch.nn.BatchNorm2d" } },
      {},
      /norm_op: unsupported "torch.nn.BatchNorm2d"/,
    ],
    [
      "too few strides",
      {
        network_class_name: "PlainConvUNet",
        arch_kwargs: {
          ...PLAIN_2D.arch_kwargs,
          strides: [
            [1, 1],
            [2, 2],
          ],
        },
      },
      {},
      /strides must have 4 entries/,
    ],
  ])("rejects %s with a ConfigError", (_label, arch, extra, message) => {
    expect(() => buildNetwork(arch as ArchitectureBlock | string, { inputChannels: 1, numClasses: 2, ...extra })).toThrow(ConfigError);
    expect(() => buildNetwork(arch as ArchitectureBlock | string, { inputChannels: 1, numClasses: 2, ...extra })).toThrow(message);
  });

  it("rejects an input of the wrong rank or channel count", () => {
    const net = buildNetwork(
      { ...PLAIN_2D, arch_kwargs: { ...PLAIN_2D.arch_kwargs, features_per_stage: [2, 2, 2, 2] } },
      { inputChannels: 2, numClasses: 2, seed: 0 },
    );
    expect(() => net.forward(tf.zeros([1, 2, 8, 8, 8]))).toThrow(/expected a 4-D input \(N, C, H, W\), got shape \[1, 2, 8, 8, 8\]/);
    expect(() => net.forward(tf.zeros([1, 1, 8, 8]))).toThrow(/expected 2 input channels, got shape \[1, 1, 8, 8\]/);
    expect(() => net.forward(tf.zeros([1, 2, 16, 12]))).toThrow(/spatial size \[16, 12\] must be divisible by \[8, 8\]/);
    expect(() => net.forward(tf.zeros([1, 2, 16, 12]))).toThrow(/spatial size \[16, 12\] must be divisible by \[8, 8\]/);
    net.dispose();
  });
});

describe("Network.train(on)", () => {
  it("applies Primus stochastic depth (drop_path_rate) only in training mode", async () => {
    const arch = (rate: number): ArchitectureBlock => ({
      network_class_name: "Primus",
      arch_kwargs: { embed_dim: 24, patch_embed_size: [8, 8, 8], eva_depth: 2, eva_numheads: 1, drop_path_rate: rate },
    });
    const opts = { inputChannels: 1, numClasses: 2, patchSize: [16, 8, 8], seed: 21 };
    const net = buildNetwork(arch(1), opts);
    const plain = buildNetwork(arch(0), opts);
    const x = tf.randomNormal([4, 1, 16, 8, 8], 0, 1, "float32", 1);
    const ref = (plain.train().forward(x) as tf.Tensor).arraySync() as number[][][][][];
    expect((net.eval().forward(x) as tf.Tensor).arraySync()).toEqual(ref);
    // Rate 1 drops block 1's branches entirely (block 0 has rate 0): the output is that of a 1-block trunk.
    const dropped = net.train().forward(x) as tf.Tensor;
    expect(dropped.arraySync()).not.toEqual(ref);
    const oneBlock = buildNetwork({ network_class_name: "Primus", arch_kwargs: { ...arch(0).arch_kwargs, eva_depth: 1 } }, opts);
    const sd = net.stateDict();
    await oneBlock.loadStateDict(new Map([...sd].filter(([k]) => !k.startsWith("eva.blocks.1."))));
    const diff = tf.max(tf.abs(tf.sub(dropped, oneBlock.forward(x) as tf.Tensor))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
    [net, plain, oneBlock].forEach((n) => n.dispose());
  });
});
