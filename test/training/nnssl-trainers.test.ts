// Every trainer of trainers-nnssl.ts trains Dataset900_Tiny for one short epoch (one iteration): the
// DynamicPretrainedTrainer family on ptPlans_dynamic plans (ResEncMini checkpoint into the dataset's anisotropic
// ResEnc plans), the PretrainedTrainer_Primusx family on a small PrimusX checkpoint in nnssl's format, and the
// from-scratch nnUNet_Primus_S_Trainer (B, M and L are checked by shape: one step of B takes 50 s here, and M / L with
// 143 M / 321 M parameters plus AdamW state do not fit this test machine's memory budget).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { planLikeDynamic } from "../../sdk/preprocessing/plan-like-dynamic.js";
import { preprocessLikeNnssl } from "../../sdk/preprocessing/like-nnssl.js";
import { train, trainPretrained } from "../../sdk/training/run-training.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { loadTorchFile } from "../../sdk/io/torch/index.js";
import { resolveTrainer } from "../../sdk/training/trainers.js";
import { buildTrainerNetwork } from "../../sdk/training/trainer-network.js";
import { stateDictShapes } from "../../sdk/networks/build-network.js";
import { makeTinyRoots, EXPECTED, NNSSL_CKPT } from "../preprocessing/helpers.js";
import { writePrimusxCheckpoint } from "./helpers/primusx-checkpoint.js";

const NNSSL_ADAPT = path.resolve(path.dirname(NNSSL_CKPT), "../../../bin/nnssl-adapt.js");
let root: string;
let paths: { nnUNet_raw: string; nnUNet_preprocessed: string; nnUNet_results: string };
let primusxCkpt: string;
let primusxPlans: string;

/** inference_allowed_mirroring_axes and a network weight of a written checkpoint. */
async function rawCheckpoint(file: string): Promise<{ axes: number[] | null; weight(name: string): Float32Array }> {
  const ck = (await loadTorchFile(file)) as { inference_allowed_mirroring_axes: number[] | null; network_weights: unknown };
  const nw = ck.network_weights as Map<string, { toFloat32(): Float32Array }> | Record<string, { toFloat32(): Float32Array }>;
  return {
    axes: ck.inference_allowed_mirroring_axes == null ? null : Array.from(ck.inference_allowed_mirroring_axes),
    weight: (name) => (nw instanceof Map ? nw.get(name)! : nw[name]!).toFloat32(),
  };
}

const short = { configuration: "3d_fullres", fold: 0 as const, numEpochs: 1, numIterationsPerEpoch: 1, numValIterationsPerEpoch: 0, seed: 1, numWorkers: 0, skipValidation: true };

beforeAll(async () => {
  root = makeTinyRoots("nnssl-trainers-", ["nnUNetPlans.json", "nnUNetResEncUNetLPlans.json", "dataset_fingerprint.json"]);
  paths = { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "res") };
  // The dataset's ResEnc plans with the checkpoint's widths and blocks, so the dynamic transfer has something to load
  // (with the real ResEncL widths it skips everything; dynamic-transfer.test.ts covers that).
  const resenc = JSON.parse(readFileSync(EXPECTED + "nnUNetResEncUNetLPlans.json", "utf8"));
  const kw = resenc.configurations["3d_fullres"].architecture.arch_kwargs;
  kw.features_per_stage = [8, 16, 32, 64];
  kw.n_blocks_per_stage = [1, 1, 2, 3];
  resenc.plans_name = "nnUNetResEncUNetMiniPlans";
  writeFileSync(path.join(paths.nnUNet_preprocessed, "Dataset900_Tiny", "nnUNetResEncUNetMiniPlans.json"), JSON.stringify(resenc, null, 4));
  await planLikeDynamic(900, NNSSL_CKPT, { name: "ResEncMini", plansIdentifier: "nnUNetResEncUNetMiniPlans", numWorkers: 1, paths });
  primusxCkpt = path.join(root, "primusx_checkpoint_final.pth");
  await writePrimusxCheckpoint(primusxCkpt);
  primusxPlans = (await preprocessLikeNnssl(900, primusxCkpt, { name: "PrimusXMini", mode: "like_pretrained", numWorkers: 1, paths })).plansName;
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("DynamicPretrainedTrainer family on ptPlans_dynamic__ResEncMini", () => {
  it.each([
    ["DynamicPretrainedTrainer", "SGD", 1e-3 / 50, true],
    ["DynamicPretrainedTrainer_nomirroring", "SGD", 1e-3 / 50, false],
    ["DynamicPretrainedTrainer_adam_150ep", "AdamW", 1e-4 / 15, true],
    ["DynamicPretrainedTrainer_adam_150ep_nomirroring", "AdamW", 1e-4 / 15, false],
  ] as const)("%s", async (name, optimizer, lr0, mirrored) => {
    const spec = resolveTrainer(name);
    expect(spec.optimizer).toBe(optimizer);
    expect(spec.weightDecay).toBe(3e-5); // master's adam variant keeps the inherited weight decay and clip 12
    expect(spec.gradClip).toBe(12);
    const run = await trainPretrained({ ...short, dataset: 900, plans: "ptPlans_dynamic__ResEncMini", trainer: name, paths });
    expect(run.trainerName).toBe(name);
    const r = run.transferReport!;
    expect(r.mode).toBe("dynamic");
    expect(r.tensors.find((t) => t.name === "encoder.stem.convs.0.conv.weight")!.note).toMatch(/\[3, 3, 3\] -> \[1, 3, 3\]/);
    expect(r.counts().adapted).toBeGreaterThan(0);
    expect(r.counts().checkpoint).toBeGreaterThan(0);
    expect(r.tensors.find((t) => t.name === "encoder.stages.3.blocks.2.conv1.conv.weight")!.source).toBe("init");
    expect(run.logging.lrs).toEqual([lr0]);
    expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
    const ck = await loadCheckpoint(run.checkpointFinal!);
    expect(ck.trainerName).toBe(name);
    expect((await rawCheckpoint(run.checkpointFinal!)).axes).toEqual(mirrored ? [0, 1, 2] : null);
    const log = readFileSync(run.logFile!, "utf8");
    expect(log).toMatch(/Loaded pretrained weights \(dynamic\) from .*nnssl_ResEncMini\.pth: \d+ state-dict entries loaded, \d+ adapted/);
  }, 120_000);

  it("`nnssl-adapt checkpoint transfer --json` reports every state-dict entry with PyTorch names, sums and first values", () => {
    const out = execFileSync(process.execPath, [NNSSL_ADAPT, "checkpoint", "transfer", "-d", "900", "-p", "ptPlans_dynamic__ResEncMini", "-tr", "DynamicPretrainedTrainer", "--json"], {
      env: { ...process.env, ...paths }, encoding: "utf8",
    });
    const j = JSON.parse(out) as { trainer: string; checkpoint: string; tensors: { name: string; shape: number[]; source: string; sum: number; first: number[] }[] };
    expect(Object.keys(j)).toEqual(["trainer", "checkpoint", "tensors"]);
    expect(j.trainer).toBe("DynamicPretrainedTrainer");
    expect(j.checkpoint).toBe(NNSSL_CKPT);
    for (const t of j.tensors) {
      expect(Object.keys(t)).toEqual(["name", "shape", "source", "sum", "first"]);
      expect(["checkpoint", "adapted", "init"]).toContain(t.source);
      expect(t.first.length).toBe(Math.min(3, t.shape.reduce((a, b) => a * b, 1)));
    }
    const stem = j.tensors.find((t) => t.name === "encoder.stem.convs.0.conv.weight")!;
    expect(stem).toMatchObject({ shape: [8, 1, 1, 3, 3], source: "adapted" });
    expect(j.tensors.find((t) => t.name === "encoder.stem.convs.0.all_modules.0.weight")!.sum).toBe(stem.sum);
    expect(j.tensors.find((t) => t.name === "decoder.seg_layers.0.weight")!.source).toBe("init");
    const text = execFileSync(process.execPath, [NNSSL_ADAPT, "checkpoint", "transfer", "-d", "900", "-p", "ptPlans_dynamic__ResEncMini", "-tr", "DynamicPretrainedTrainer"], {
      env: { ...process.env, ...paths }, encoding: "utf8",
    });
    expect(text).toMatch(/checkpoint deeper than the target: its stages 4-4 are dropped/);
    expect(text).toMatch(/encoder\.stem\.convs\.0\.conv\.weight\s+\[8, 1, 1, 3, 3\]\s+adapted\s+kernel \[3, 3, 3\] -> \[1, 3, 3\] \(mean\)/);
  }, 60_000);
});

describe("PretrainedTrainer_Primusx family on a PrimusX checkpoint in nnssl's format", () => {
  it.each([
    ["PretrainedTrainer_Primusx", 1e-4 / 50, [32, 32, 32], true],
    ["PretrainedTrainer_Primusx_150ep", 1e-4 / 15, [32, 32, 32], true],
    ["PretrainedTrainer_Primusx_30ep", 1e-4 / 3, [32, 32, 32], true],
    ["PretrainedTrainer_Primusx_300ep", 1e-4 / 15, [32, 32, 32], true],
    ["PretrainedTrainer_Primusx_smallerlr", 3e-5 / 50, [32, 32, 32], true],
    ["PretrainedTrainer_Primusx_150ep_lr3e4", 3e-4 / 50, [32, 32, 32], true],
    ["PretrainedTrainer_Primusx_150ep_small_debug", 1e-4 / 15, [48, 48, 48], true],
    ["PretrainedTrainer_Primusx_nomirroring", 1e-4 / 50, [32, 32, 32], false],
    ["PretrainedTrainer_Primusx_150ep_nomirroring", 1e-4 / 15, [32, 32, 32], false],
  ] as const)("%s", async (name, lr0, patch, mirrored) => {
    const run = await trainPretrained({ ...short, dataset: 900, plans: primusxPlans, trainer: name, paths });
    expect(run.trainerName).toBe(name);
    const r = run.transferReport!;
    expect(r.mode).toBe("strict");
    // eva and down_projection come from the checkpoint; the positional embedding is reordered (and resized for 48^3)
    expect(r.tensors.find((t) => t.name === "eva.blocks.1.attn.q_proj.weight")!.source).toBe("checkpoint");
    expect(r.tensors.find((t) => t.name === "down_projection.proj.weight")!.source).toBe("checkpoint");
    const pe = r.tensors.find((t) => t.name === "eva.pos_embed")!;
    expect(pe.source).toBe("adapted");
    expect(pe.shape).toEqual([1, (patch[0] / 8) ** 3, 48]);
    expect(r.tensors.find((t) => t.name.startsWith("up_projection"))!.source).toBe("init");
    expect(r.skipped.map((s) => s.name)).toContain("mask_token");
    expect(run.logging.lrs).toEqual([lr0]);
    expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
    const plansJson = JSON.parse(readFileSync(path.join(run.outputFolderBase, "plans.json"), "utf8"));
    expect(plansJson.configurations["3d_fullres"].patch_size).toEqual(patch);
    const ck = await rawCheckpoint(run.checkpointFinal!);
    expect(ck.axes).toEqual(mirrored ? [0, 1, 2] : null);
    // the fine-tuned encoder moved away from the checkpoint (one AdamW step)
    const a = (await rawCheckpoint(primusxCkpt)).weight("eva.blocks.0.mlp.fc1_g.weight");
    const b = ck.weight("eva.blocks.0.mlp.fc1_g.weight");
    expect(a.length).toBe(b.length);
    expect(a.some((x, i) => x !== b[i])).toBe(true);
  }, 120_000);

  it("builds Primus from the explicit settings with drop_path_rate 0.2 and the first init_values", () => {
    const net = buildTrainerNetwork(resolveTrainer("PretrainedTrainer_Primusx"), {
      network_class_name: "PrimusX", arch_kwargs: { embed_dim: 48, patch_embed_size: [8, 8, 8], encoder_eva_depth: 3, encoder_eva_numheads: 4, scale_attn_inner: false, init_values: [0.5] },
    }, { inputChannels: 2, numClasses: 3, patchSize: [16, 32, 24], seed: 1 });
    const sd = net.stateDict();
    expect(sd.get("eva.pos_embed")!.shape).toEqual([1, 2 * 4 * 3, 48]);
    expect(sd.get("down_projection.proj.weight")!.shape).toEqual([48, 2, 8, 8, 8]);
    expect([...sd.keys()].some((k) => k.startsWith("eva.blocks.2."))).toBe(true);
    expect([...sd.keys()].some((k) => k.startsWith("eva.blocks.3."))).toBe(false);
    expect(Array.from(sd.get("eva.blocks.0.gamma_1")!.toFloat32().slice(0, 2))).toEqual([0.5, 0.5]);
    net.dispose();
    expect(() => buildTrainerNetwork(resolveTrainer("PretrainedTrainer_Primusx"), { network_class_name: "PrimusX", arch_kwargs: { embed_dim: 48 } }, { inputChannels: 1, numClasses: 2, patchSize: [32, 32, 32] }))
      .toThrow(/PrimusX arch_kwargs\.patch_embed_size is missing/);
  });
});

describe("nnUNet_Primus_{S,B,M,L}_Trainer (from scratch)", () => {
  it.each(["nnUNet_Primus_S_Trainer"])("%s trains one iteration on the 32^3 plans", async (name) => {
    const run = await train({ ...short, dataset: 900, plans: primusxPlans, trainer: name, paths, disableCheckpointing: true });
    expect(run.trainerName).toBe(name);
    expect(run.transferReport).toBeNull();
    expect(run.logging.lrs).toEqual([3e-4 / 50]);
    expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
  }, 300_000);

  it.each([
    ["nnUNet_Primus_B_Trainer", 792, 12],
    ["nnUNet_Primus_M_Trainer", 864, 16],
    ["nnUNet_Primus_L_Trainer", 1056, 24],
  ] as const)("%s builds the preset (checked by shape only)", (name, embed, depth) => {
    const spec = resolveTrainer(name);
    expect(spec).toMatchObject({ optimizer: "AdamW", initialLr: 3e-4, weightDecay: 5e-2, warmupEpochs: 50, numEpochs: 1000, gradClip: 1, usesPretrainedWeights: false });
    // the preset's state-dict shapes, computed without allocating weights
    const shapes = stateDictShapes({ network_class_name: `Primus${name[14]}`, arch_kwargs: null }, { inputChannels: 1, numClasses: 2, patchSize: [32, 32, 32] });
    expect(shapes.get("eva.pos_embed")).toEqual([1, 64, embed]);
    expect([...shapes.keys()].some((k) => k.startsWith(`eva.blocks.${depth - 1}.`))).toBe(true);
    expect([...shapes.keys()].some((k) => k.startsWith(`eva.blocks.${depth}.`))).toBe(false);
  });
});
