import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../sdk/backend/index.js";
import { Checkpoint } from "../../sdk/checkpoint/checkpoint.js";
import { CheckpointError } from "../../sdk/errors.js";
import { loadTorchFile } from "../../sdk/io/torch/index.js";
import { TorchTensor } from "../../sdk/io/torch/tensor.js";
import { buildNetwork, loadPretrainedWeights, type PretrainedCheckpoint } from "../../sdk/networks/index.js";
import { permuteHwdToWhd, resizePosEmbed } from "../../sdk/networks/pretrained.js";

const NNSSL = new URL("../fixtures/nnssl/", import.meta.url).pathname;
const FORWARD = new URL("../fixtures/forward/", import.meta.url).pathname;

interface TransferReference {
  n_keys: number;
  n_changed: number;
  pt_weight_in_ch_mismatch_returned: boolean;
  stem_in_proj_values_after: number[];
  keys: { key: string; shape: number[]; changed_by_transfer: boolean; sum_after: number; equals_checkpoint_tensor?: boolean }[];
}

/** The nnssl checkpoint as the transfer reads it, straight from our torch reader. */
async function readCheckpoint(file: string): Promise<PretrainedCheckpoint> {
  const obj = (await loadTorchFile(file)) as Record<string, unknown>;
  const weights = new Map(Object.entries(obj.network_weights as Record<string, TorchTensor>));
  return { path: file, adaptationPlan: obj.nnssl_adaptation_plan as PretrainedCheckpoint["adaptationPlan"], weights };
}

/** Element-wise equality without vitest's slow deep diff on large typed arrays. */
function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

function sum(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

beforeAll(async () => {
  await initBackend();
});

describe("loadPretrainedWeights(net, checkpoint, options)", () => {
  it("transfers ResEncMini's encoder and stem into a 2-channel network like the fork (transfer_ResEncMini_to_2ch.json)", async () => {
    const ref = JSON.parse(await readFile(`${NNSSL}transfer_ResEncMini_to_2ch.json`, "utf8")) as TransferReference;
    const ckpt = await Checkpoint.load(`${NNSSL}nnssl_ResEncMini.pth`);
    const plans = ckpt.adaptationPlan as unknown as {
      architecture_plans: { arch_class_name: string; arch_kwargs: Record<string, unknown>; arch_kwargs_requiring_import: string[] };
    };
    const arch = plans.architecture_plans;
    const net = buildNetwork(
      { network_class_name: arch.arch_class_name, arch_kwargs: arch.arch_kwargs, _kw_requires_import: arch.arch_kwargs_requiring_import },
      { inputChannels: 2, numClasses: 3, deepSupervision: false, patchSize: [32, 32, 32], seed: 5150 },
    );
    const before = net.stateDict();
    const report = loadPretrainedWeights(net, ckpt, { numInputChannels: 2, patchSize: [32, 32, 32] });
    const after = net.stateDict();

    expect(after.size).toBe(ref.n_keys);
    expect(report.ptWeightInChMismatch).toBe(ref.pt_weight_in_ch_mismatch_returned);
    expect(report.loaded.length).toBe(ref.n_changed);
    expect(new Set(report.loaded)).toEqual(new Set(ref.keys.filter((k) => k.changed_by_transfer).map((k) => k.key)));
    expect(report.random).toEqual(ref.keys.filter((k) => !k.changed_by_transfer).map((k) => k.key));
    for (const k of ref.keys) {
      const mine = after.get(k.key)!;
      expect(mine.shape, k.key).toEqual(k.shape);
      if (k.equals_checkpoint_tensor) expect(same(mine.toFloat32(), ckpt.weights.get(k.key)!.toFloat32()), k.key).toBe(true);
      if (k.changed_by_transfer) expect(sum(mine.toFloat32()), k.key).toBeCloseTo(k.sum_after, 4);
      else expect(same(mine.toFloat32(), before.get(k.key)!.toFloat32()), `${k.key} keeps its initialisation`).toBe(true);
    }
    expect(Array.from(after.get("encoder.stem.convs.0.conv.weight")!.toFloat32())).toEqual(ref.stem_in_proj_values_after.map(Math.fround));
    net.dispose();
  });

  it("lists missing, unexpected and mis-shaped keys when the encoder does not match", async () => {
    const ckpt = await readCheckpoint(`${NNSSL}nnssl_ResEncMini.pth`);
    const arch = (ckpt.adaptationPlan as unknown as { architecture_plans: { arch_kwargs: Record<string, unknown> } }).architecture_plans.arch_kwargs;
    // One block fewer in stage 4 (missing keys in the net -> unexpected in the checkpoint), wider stage 4 (mis-shaped).
    const net = buildNetwork(
      { network_class_name: "ResidualEncoderUNet", arch_kwargs: { ...arch, n_blocks_per_stage: [1, 1, 2, 2, 1], features_per_stage: [8, 16, 32, 64, 72] } },
      { inputChannels: 1, numClasses: 2, seed: 1 },
    );
    let err: unknown;
    try {
      loadPretrainedWeights(net, ckpt, { numInputChannels: 1, patchSize: [32, 32, 32] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect(msg).toContain("cannot load into encoder.stages");
    expect(msg).toMatch(/unexpected keys: .*4\.blocks\.1\.conv1\.conv\.weight/);
    expect(msg).toContain("encoder.stages.4.blocks.0.conv1.conv.weight: Expected shape [72, 64, 3, 3, 3], but found [64, 64, 3, 3, 3]");
    expect(msg.split("\n").length).toBe(1);
    net.dispose();
  });

  it("resizes and permutes a Primus positional embedding and loads eva + down_projection only", async () => {
    // A pretraining checkpoint made from the Primus_tiny fixture (input 32^3, grid 4^3) as an EvaMAE-style PrimusX source.
    const sd = (await loadTorchFile(`${FORWARD}Primus_tiny/state_dict.pth`)) as Record<string, TorchTensor>;
    const weights = new Map(Object.entries(sd).filter(([, v]) => v instanceof TorchTensor));
    const plan = {
      architecture_plans: { arch_class_name: "Primus" },
      pretrain_num_input_channels: 1,
      pretrain_plan: { configurations: { onemmiso: { patch_size: [32, 32, 32] } } },
      key_to_encoder: "eva",
      key_to_stem: "down_projection",
      keys_to_in_proj: ["down_projection.proj"],
      key_to_lpe: "eva.pos_embed",
    };
    const arch = {
      network_class_name: "dynamic_network_architectures.architectures.primus.Primus",
      arch_kwargs: { embed_dim: 54, patch_embed_size: [8, 8, 8], eva_depth: 2, eva_numheads: 3 },
    };
    const net = buildNetwork(arch, { inputChannels: 2, numClasses: 3, patchSize: [48, 32, 40], seed: 3 });
    const before = net.stateDict();
    const report = loadPretrainedWeights(net, { adaptationPlan: plan, weights }, { numInputChannels: 2, patchSize: [48, 32, 40], permuteTokens: true });
    expect(report.posEmbed).toEqual({ key: "eva.pos_embed", resizedFrom: [4, 4, 4], resizedTo: [6, 4, 5], permuted: true });
    const after = net.stateDict();
    const expected = resizePosEmbed(permuteHwdToWhd(weights.get("eva.pos_embed")!, [4, 4, 4]), [4, 4, 4], [6, 4, 5]);
    expect(after.get("eva.pos_embed")!.shape).toEqual([1, 120, 54]);
    expect(after.get("eva.pos_embed")!.toFloat32()).toEqual(expected.toFloat32());
    const w = weights.get("down_projection.proj.weight")!.toFloat32();
    const repeated = after.get("down_projection.proj.weight")!.toFloat32();
    expect(repeated[0]).toBe(Math.fround(w[0]! / 2));
    expect(repeated[512]).toBe(Math.fround(w[0]! / 2)); // channel 1 of output 0 repeats channel 0
    expect(after.get("eva.blocks.1.mlp.fc2.weight")!.toFloat32()).toEqual(weights.get("eva.blocks.1.mlp.fc2.weight")!.toFloat32());
    for (const k of report.random) expect(k.startsWith("up_projection.") || k === "mask_token", k).toBe(true);
    expect(after.get("up_projection.decode.2.weight")!.toFloat32()).toEqual(before.get("up_projection.decode.2.weight")!.toFloat32());
    net.dispose();
  });
});

describe("loadPretrainedWeights(net, checkpoint, { permuteTokens })", () => {
  it.each([
    ["PrimusM", true],
    ["Primus", false],
  ])("defaults to permuting the positional embedding for %s checkpoints: %s", async (archName, permuted) => {
    const sd = (await loadTorchFile(`${FORWARD}Primus_tiny/state_dict.pth`)) as Record<string, TorchTensor>;
    const weights = new Map(Object.entries(sd).filter(([, v]) => v instanceof TorchTensor));
    const plan = {
      architecture_plans: { arch_class_name: archName },
      pretrain_num_input_channels: 1,
      pretrain_patch_size: [32, 32, 32],
      key_to_encoder: "eva",
      key_to_stem: "down_projection",
      keys_to_in_proj: ["down_projection.proj"],
      key_to_lpe: "eva.pos_embed",
    };
    const net = buildNetwork(
      { network_class_name: "Primus", arch_kwargs: { embed_dim: 54, patch_embed_size: [8, 8, 8], eva_depth: 2, eva_numheads: 3 } },
      { inputChannels: 1, numClasses: 2, patchSize: [32, 32, 32], seed: 4 },
    );
    const report = loadPretrainedWeights(net, { adaptationPlan: plan, weights }, { numInputChannels: 1, patchSize: [32, 32, 32] });
    expect(report.posEmbed).toEqual({ key: "eva.pos_embed", resizedFrom: null, resizedTo: null, permuted });
    const pe = weights.get("eva.pos_embed")!;
    const expected = permuted ? permuteHwdToWhd(pe, [4, 4, 4]).toFloat32() : pe.toFloat32();
    expect(same(net.stateDict().get("eva.pos_embed")!.toFloat32(), expected)).toBe(true);
    expect(report.ptWeightInChMismatch).toBe(false);
    net.dispose();
  });
});

describe("permuteHwdToWhd(pe, grid)", () => {
  it("moves token (h, w, d) of nnssl's EvaMAE order to (w, h, d)", () => {
    const grid = [2, 3, 4]; // w, h, d
    const pe = TorchTensor.fromTypedArray(
      Float32Array.from({ length: 24 }, (_, i) => i),
      [1, 24, 1],
    );
    const out = permuteHwdToWhd(pe, grid).toFloat32();
    // ours: index w*12 + h*4 + d; EvaMAE: index h*8 + w*4 + d (the last token is the same in both orders).
    expect(out[23]).toBe(23);
    expect(out[1 * 12]).toBe(0 * 8 + 1 * 4);
    expect(out[0 * 12 + 1 * 4 + 2]).toBe(1 * 8 + 0 * 4 + 2);
  });
});

describe("resizePosEmbed(pe, gridIn, gridOut)", () => {
  it("matches torch F.interpolate(mode='trilinear', align_corners=False) on a 2x3x2 grid resized to 3x5x1", () => {
    // Token t has the values [t, 10 t]; reference computed with torch 1.13 (values rounded to 1e-5).
    const grid = [2, 3, 2];
    const pe = TorchTensor.fromTypedArray(
      Float32Array.from({ length: 24 }, (_, i) => (i % 2 ? 10 : 1) * Math.floor(i / 2)),
      [1, 12, 2],
    );
    const out = resizePosEmbed(pe, grid, [3, 5, 1]);
    expect(out.shape).toEqual([1, 15, 2]);
    const channel0 = Array.from(out.toFloat32()).filter((_, i) => i % 2 === 0);
    const torchRef = [0.5, 1.3, 2.5, 3.7, 4.5, 3.5, 4.3, 5.5, 6.7, 7.5, 6.5, 7.3, 8.5, 9.7, 10.5];
    channel0.forEach((v, i) => expect(v).toBeCloseTo(torchRef[i]!, 5));
  });
});
