// DynamicPretrainedTrainer's weight transfer (nnU-Net master load_weights_utils.py) with the ResEncMini checkpoint
// (5 stages, 3x3x3 kernels, widths 8-64) into anisotropic ResidualEncoderUNet targets (first stage 1x3x3): kernels
// averaged to size 1, a deeper checkpoint cut, a shallower one leaving stages at init, width mismatches skipped.

import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../../sdk/checkpoint/checkpoint.js";
import { buildNetwork } from "../../sdk/networks/build-network.js";
import { adaptConvKernel, loadPretrainedWeightsDynamic, meanOverAxis, type WeightTransferReport } from "../../sdk/networks/dynamic-transfer.js";
import type { PretrainedCheckpoint } from "../../sdk/networks/pretrained.js";
import type { TensorLike } from "../../sdk/networks/state-dict.js";
import type { Network } from "../../sdk/networks/network.js";
import { summarize } from "../../kernel-extensions/index.js";

const CKPT = fileURLToPath(new URL("../fixtures/nnssl/nnssl_ResEncMini.pth", import.meta.url));

let ckpt: Checkpoint;
beforeAll(async () => {
  ckpt = await Checkpoint.load(CKPT);
});

function target(nStages: number, features: number[], blocks: number[]): Record<string, unknown> {
  return {
    network_class_name: "dynamic_network_architectures.architectures.residual_unet.ResidualEncoderUNet",
    arch_kwargs: {
      n_stages: nStages,
      features_per_stage: features,
      conv_op: "torch.nn.modules.conv.Conv3d",
      kernel_sizes: [[1, 3, 3], ...Array.from({ length: nStages - 1 }, () => [3, 3, 3])],
      strides: [[1, 1, 1], [1, 2, 2], ...Array.from({ length: nStages - 2 }, () => [2, 2, 2])],
      n_blocks_per_stage: blocks,
      n_conv_per_stage_decoder: new Array(nStages - 1).fill(1),
      conv_bias: true,
      norm_op: "torch.nn.modules.instancenorm.InstanceNorm3d",
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      dropout_op_kwargs: null,
      nonlin: "torch.nn.LeakyReLU",
      nonlin_kwargs: { inplace: true },
    },
    _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
  };
}

const pc = (weights = ckpt.weights as Map<string, TensorLike>, plan = ckpt.adaptationPlan): PretrainedCheckpoint => ({
  path: CKPT,
  adaptationPlan: plan as never,
  weights,
});
const row = (r: WeightTransferReport, name: string) => r.tensors.find((t) => t.name === name)!;
const values = (net: Network, name: string) => net.stateDict().get(name)!.toFloat32();

/** Independent mean over the first spatial axis of a (O, I, 3, 3, 3) C-ordered tensor. */
function meanDepth(w: TensorLike): Float32Array {
  const [o, i, d, h, ww] = w.shape as number[];
  const src = w.toFloat32();
  const out = new Float32Array(o! * i! * h! * ww!);
  for (let a = 0; a < o! * i!; a++)
    for (let y = 0; y < h! * ww!; y++) {
      let s = 0;
      for (let z = 0; z < d!; z++) s += src[(a * d! + z) * h! * ww! + y]!;
      out[a * h! * ww! + y] = s / d!;
    }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("kernel adaptation (adapt_conv_kernel_size)", () => {
  it("averages to size 1, refuses other changes instead of raising", () => {
    const w: TensorLike = { shape: [1, 1, 3, 1, 2], toFloat32: () => Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(meanOverAxis(w, 2).toFloat32())).toEqual([3, 4]);
    expect(adaptConvKernel(w, [1, 1, 1, 1, 2]).value!.shape).toEqual([1, 1, 1, 1, 2]);
    expect(adaptConvKernel(w, [1, 1, 2, 1, 2]).value).toBeNull();
    expect(adaptConvKernel(w, [1, 1, 3, 3, 2]).reason).toMatch(/only a reduction to size 1/);
    expect(adaptConvKernel(w, [2, 1, 1, 1, 2]).reason).toMatch(/channels differ/);
  });
});

describe("loadPretrainedWeightsDynamic with ResEncMini (5 stages, 3x3x3)", () => {
  it("into a 4-stage anisotropic target: stem and stage 0 averaged to 1x3x3, stage 4 dropped, extra blocks at init", async () => {
    const net = buildNetwork(target(4, [8, 16, 32, 64], [1, 3, 4, 6]) as never, { inputChannels: 1, numClasses: 3, patchSize: [20, 48, 48], seed: 3 });
    const init = values(net, "decoder.seg_layers.0.weight").slice();
    const r = loadPretrainedWeightsDynamic(net, pc(), { numInputChannels: 1, patchSize: [20, 48, 48], targetNStages: 4 });
    expect(r.mode).toBe("dynamic");
    expect(r.notes.join("\n")).toMatch(/5 stages \(architecture_plans\.arch_kwargs\)/);
    expect(r.notes.join("\n")).toMatch(/stages 4-4 are dropped/);
    for (const [name, from] of [
      ["encoder.stem.convs.0.conv.weight", "encoder.stem.convs.0.conv.weight"],
      ["encoder.stem.convs.0.all_modules.0.weight", "encoder.stem.convs.0.conv.weight"],
      ["encoder.stages.0.blocks.0.conv2.conv.weight", "encoder.stages.0.blocks.0.conv2.conv.weight"],
    ]) {
      const t = row(r, name);
      expect(t.source, name).toBe("adapted");
      expect(t.shape.slice(2)).toEqual([1, 3, 3]);
      expect(t.fromShape!.slice(2)).toEqual([3, 3, 3]);
      expect(t.note).toMatch(/kernel \[3, 3, 3\] -> \[1, 3, 3\] \(mean\)/);
      expect(maxDiff(values(net, name), meanDepth(ckpt.weights.get(from)!)), name).toBeLessThan(1e-7);
    }
    // same shapes: copied exactly
    const same = row(r, "encoder.stages.2.blocks.1.conv1.conv.weight");
    expect(same.source).toBe("checkpoint");
    expect(maxDiff(values(net, same.name), ckpt.weights.get(same.name)!.toFloat32())).toBe(0);
    expect(row(r, "encoder.stages.1.blocks.0.conv1.norm.weight").source).toBe("checkpoint");
    // blocks the checkpoint does not have, and the decoder, keep their initialisation
    expect(row(r, "encoder.stages.1.blocks.2.conv1.conv.weight").source).toBe("init");
    expect(row(r, "encoder.stages.3.blocks.5.conv2.conv.weight").source).toBe("init");
    expect(row(r, "decoder.seg_layers.0.weight").source).toBe("init");
    expect(maxDiff(values(net, "decoder.seg_layers.0.weight"), init)).toBe(0);
    // the checkpoint's stage 4 is reported as dropped; its decoder as never transferred; no alias is reported as skipped
    expect(r.skipped.filter((s) => s.name.startsWith("encoder.stages.4.")).every((s) => /stage 4 dropped/.test(s.reason))).toBe(true);
    expect(r.skipped.some((s) => s.name.startsWith("encoder.stages.4."))).toBe(true);
    expect(r.skipped.some((s) => s.name.startsWith("encoder.stages.0.") || s.name.startsWith("encoder.stem."))).toBe(false);
    expect(r.skipped.filter((s) => s.name.startsWith("decoder.")).every((s) => /never transferred/.test(s.reason))).toBe(true);
    const c = r.counts();
    expect(c.checkpoint + c.adapted + c.init).toBe([...net.stateEntries()].length);
    expect(r.toTable().length).toBe(c.checkpoint + c.adapted + c.init + c.skipped);
    expect(r.toString()).toMatch(/^dynamic transfer from .*nnssl_ResEncMini\.pth: \d+ state-dict entries loaded, \d+ adapted/);
    // the notebook show(): a summary and the per-tensor table
    const shown = await summarize(r);
    expect(shown.kind).toBe("transfer-report");
    expect(String(shown.bundles[0]!["text/html"])).toContain("dynamic transfer");
    // the checkpoint as the notebook reader sees it (relative to the working directory), not the author's absolute path
    expect(String(shown.bundles[0]!["text/html"])).toContain(`>${path.join("test", "fixtures", "nnssl", "nnssl_ResEncMini.pth")}<`);
    expect(String(shown.bundles[1]!["text/html"])).toContain("kernel [3, 3, 3] -&gt; [1, 3, 3] (mean)");
    net.dispose();
  });

  it("a shallower checkpoint (3 stages, stage count from its arch_kwargs) leaves the target's stage 3 at init", () => {
    const weights = new Map([...ckpt.weights].filter(([k]) => !/^encoder\.stages\.[34]\./.test(k)));
    const plan = structuredClone(ckpt.adaptationPlan);
    const kw = plan.architecture_plans.arch_kwargs as Record<string, unknown>;
    kw.n_stages = 3;
    const net = buildNetwork(target(4, [8, 16, 32, 64], [1, 1, 2, 2]) as never, { inputChannels: 1, numClasses: 2, patchSize: [20, 48, 48], seed: 4 });
    const r = loadPretrainedWeightsDynamic(net, pc(weights as Map<string, TensorLike>, plan), {
      numInputChannels: 1,
      patchSize: [20, 48, 48],
      targetNStages: 4,
    });
    expect(r.notes.join("\n")).toMatch(/target stages 3-3 keep their initialisation/);
    expect(row(r, "encoder.stages.2.blocks.1.conv2.conv.weight").source).toBe("checkpoint");
    expect(r.tensors.filter((t) => t.name.startsWith("encoder.stages.3.")).every((t) => t.source === "init")).toBe(true);
    net.dispose();
  });

  it("without arch_kwargs the stage count is counted from the keys, as master does", () => {
    const plan = structuredClone(ckpt.adaptationPlan);
    plan.architecture_plans.arch_kwargs = null;
    const net = buildNetwork(target(4, [8, 16, 32, 64], [1, 1, 2, 2]) as never, { inputChannels: 1, numClasses: 2, patchSize: [20, 48, 48], seed: 5 });
    const r = loadPretrainedWeightsDynamic(net, pc(undefined, plan), { numInputChannels: 1, patchSize: [20, 48, 48], targetNStages: 4 });
    expect(r.notes[0]).toMatch(/5 stages \(counted from the checkpoint's encoder keys\)/);
    expect(r.initialised.filter((t) => t.name.startsWith("encoder.")).length).toBe(0);
    net.dispose();
  });

  it("two input channels: the stem in-projection is repeated, divided by 2, then averaged to 1x3x3", () => {
    const net = buildNetwork(target(4, [8, 16, 32, 64], [1, 1, 2, 2]) as never, { inputChannels: 2, numClasses: 2, patchSize: [20, 48, 48], seed: 6 });
    const r = loadPretrainedWeightsDynamic(net, pc(), { numInputChannels: 2, patchSize: [20, 48, 48], targetNStages: 4 });
    expect(r.ptWeightInChMismatch).toBe(true);
    const t = row(r, "encoder.stem.convs.0.conv.weight");
    expect(t.source).toBe("adapted");
    expect(t.shape).toEqual([8, 2, 1, 3, 3]);
    expect(t.fromShape).toEqual([8, 1, 3, 3, 3]);
    const m = meanDepth(ckpt.weights.get("encoder.stem.convs.0.conv.weight")!);
    const got = values(net, t.name);
    const expected = new Float32Array(8 * 2 * 9);
    for (let o = 0; o < 8; o++) for (let c = 0; c < 2; c++) for (let k = 0; k < 9; k++) expected[(o * 2 + c) * 9 + k] = m[o * 9 + k]! / 2;
    expect(maxDiff(got, expected)).toBeLessThan(1e-7);
    net.dispose();
  });

  it("a PlainConvUNet target (-pl nnUNetPlans) loads nothing, as master, and says so", () => {
    const plans = JSON.parse(readFileSync(fileURLToPath(new URL("../fixtures/datasets/Dataset900_Tiny/expected/nnUNetPlans.json", import.meta.url)), "utf8"));
    const arch = plans.configurations["3d_fullres"].architecture;
    const net = buildNetwork(arch, { inputChannels: 1, numClasses: 2, patchSize: [20, 48, 48], seed: 8 });
    const r = loadPretrainedWeightsDynamic(net, pc(), { numInputChannels: 1, patchSize: [20, 48, 48], targetNStages: 4 });
    expect(r.initialised.length).toBe(r.tensors.length);
    expect(r.notes.join("\n")).toMatch(/nothing was transferred: the checkpoint's encoder keys match nothing/);
    net.dispose();
  });

  it("widths that differ (ResEncL plans, 32-256 features) skip everything instead of failing like master", () => {
    const net = buildNetwork(target(4, [32, 64, 128, 256], [1, 3, 4, 6]) as never, { inputChannels: 1, numClasses: 2, patchSize: [20, 48, 48], seed: 7 });
    const r = loadPretrainedWeightsDynamic(net, pc(), { numInputChannels: 1, patchSize: [20, 48, 48], targetNStages: 4 });
    expect(r.loaded.length + r.adapted.length).toBe(0);
    expect(r.notes.join("\n")).toMatch(/nothing was transferred: \d+ checkpoint tensors have their names in this network but other shapes/);
    expect(r.skipped.find((s) => s.name === "encoder.stem.convs.0.conv.weight")!.reason).toMatch(/channels differ/);
    net.dispose();
  });
});
