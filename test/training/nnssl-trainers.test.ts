// Every trainer of trainers-nnssl.ts trains Dataset900_Tiny for one short epoch (one iteration): the
// DynamicPretrainedTrainer family on ptPlans_dynamic plans (ResEncMini checkpoint into the dataset's anisotropic
// ResEnc plans), the PretrainedTrainer_Primusx family on a small PrimusX checkpoint in nnssl's format, and the
// from-scratch nnUNet_Primus_{S,B,M,L}_Trainer (one iteration of L, 324 M parameters: about 25 s of CPU and 5.6 GB
// peak RSS, weights + gradients + AdamW's two moments being 4 x 1.3 GB).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
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
import { pythonSkipReason, runPythonJson } from "../helpers/python.js";
import { Model } from "../../sdk/inference/model.js";

/**
 * master's dynamic loading (load_weights_utils.adapt_encoder_weights_for_architecture and the stem loop of
 * DynamicPretrainedTrainer.load_pretrained_weights_dynamic, copied) applied to the checkpoint with the target's
 * state-dict shapes; load_state_dict(strict=False) is simulated, aliases included. Prints {name: [sum, first3]}.
 */
const MASTER_DYNAMIC = String.raw`
import json, re, sys, torch
ckpt_file, shapes_json, target_n_stages = sys.argv[1], sys.argv[2], int(sys.argv[3])
target = {k: torch.zeros(v) for k, v in json.loads(open(shapes_json).read()).items()}
def adapt_conv_kernel_size(w, target_k, pt_k):
    a = w.clone()
    for i, (t, p) in enumerate(zip(target_k, pt_k)):
        if t == p: continue
        if t == 1: a = a.mean(dim=i + 2, keepdim=True)
        else: raise NotImplementedError()
    return a
def parse(key):
    m = re.match(r'^(\d+)\.blocks\.(\d+)\.(.+)$', key)
    return (int(m.group(1)), int(m.group(2)), m.group(3)) if m else None
def adapt_encoder(pt, tsd, pt_n, t_n):
    out = {}
    n = min(pt_n, t_n)
    for key, w in pt.items():
        p = parse(key)
        if p is None:
            if key in tsd: out[key] = w
            continue
        s, b, rest = p
        if s >= n or key not in tsd: continue
        t = tsd[key]
        if 'conv.weight' in rest and len(w.shape) >= 4 and list(w.shape[2:]) != list(t.shape[2:]):
            out[key] = adapt_conv_kernel_size(w, list(t.shape[2:]), list(w.shape[2:])); continue
        if w.shape != t.shape: continue
        out[key] = w
    return out
ck = torch.load(ckpt_file, map_location="cpu")
sd = ck["network_weights"]
strip = lambda k, p: k.replace(p, "")[1:] if k.replace(p, "").startswith(".") else k.replace(p, "")
enc = {strip(k, "encoder.stages"): v for k, v in sd.items() if k.startswith("encoder.stages")}
stem = {strip(k, "encoder.stem"): v for k, v in sd.items() if k.startswith("encoder.stem")}
stages = set(int(k.split(".")[0]) for k in enc if k[0].isdigit())
pt_n = max(stages) + 1
t_enc = {k[len("encoder.stages."):]: v for k, v in target.items() if k.startswith("encoder.stages.")}
t_stem = {k[len("encoder.stem."):]: v for k, v in target.items() if k.startswith("encoder.stem.")}
new_enc = adapt_encoder(enc, t_enc, pt_n, target_n_stages)
for key in list(stem.keys()):
    if key not in t_stem: continue
    w, t = stem[key], t_stem[key]
    if ("conv.weight" in key or (key.endswith(".weight") and "conv" in key)) and len(w.shape) >= 4 and list(w.shape[2:]) != list(t.shape[2:]):
        stem[key] = adapt_conv_kernel_size(w, list(t.shape[2:]), list(w.shape[2:]))
loaded = {}
for prefix, d, tgt in (("encoder.stages.", new_enc, t_enc), ("encoder.stem.", stem, t_stem)):
    for k, v in d.items():
        if k not in tgt: continue
        assert tuple(v.shape) == tuple(tgt[k].shape), k  # master's load_state_dict would raise here
        loaded[prefix + k] = v
# ConvDropoutNormReLU registers conv / norm twice (all_modules.0 / all_modules.1): one tensor under both names
for k in list(loaded):
    for a, b in ((".conv.", ".all_modules.0."), (".norm.", ".all_modules.1.")):
        if a in k: loaded.setdefault(k.replace(a, b), loaded[k])
# UNetDecoder keeps a reference to the encoder, so its tensors also appear as decoder.encoder.*
for k in list(loaded): loaded["decoder." + k] = loaded[k]
print(json.dumps({k: [float(v.double().sum()), v.flatten()[:3].tolist()] for k, v in loaded.items()}))
`;

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

const short = {
  configuration: "3d_fullres",
  fold: 0 as const,
  numEpochs: 1,
  numIterationsPerEpoch: 1,
  numValIterationsPerEpoch: 0,
  seed: 1,
  numWorkers: 0,
  skipValidation: true,
};

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
  ] as const)(
    "%s",
    async (name, optimizer, lr0, mirrored) => {
      const spec = resolveTrainer(name);
      expect(spec.optimizer).toBe(optimizer);
      expect(spec.weightDecay).toBe(3e-5); // master's adam variant keeps the inherited weight decay and clip 12
      expect(spec.gradClip).toBe(12);
      // The trainer's own warm-up (a 1-epoch run would otherwise scale it down to 1 epoch).
      const run = await trainPretrained({
        ...short,
        warmupEpochs: spec.warmupEpochs,
        dataset: 900,
        plans: "ptPlans_dynamic__ResEncMini",
        trainer: name,
        paths,
      });
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
    },
    120_000,
  );

  it("`nnssl-adapt checkpoint transfer --json` reports every state-dict entry with PyTorch names, sums and first values", () => {
    const out = execFileSync(
      process.execPath,
      [NNSSL_ADAPT, "checkpoint", "transfer", "-d", "900", "-p", "ptPlans_dynamic__ResEncMini", "-tr", "DynamicPretrainedTrainer", "--json"],
      {
        env: { ...process.env, ...paths },
        encoding: "utf8",
      },
    );
    const j = JSON.parse(out) as {
      trainer: string;
      checkpoint: string;
      tensors: { name: string; shape: number[]; source: string; sum: number; first: number[] }[];
    };
    expect(Object.keys(j)).toEqual(["trainer", "checkpoint", "tensors"]);
    expect(j.trainer).toBe("DynamicPretrainedTrainer");
    expect(j.checkpoint).toBe(NNSSL_CKPT);
    for (const t of j.tensors) {
      expect(Object.keys(t)).toEqual(["name", "shape", "source", "sum", "first"]);
      expect(["checkpoint", "adapted", "init"]).toContain(t.source);
      expect(t.first.length).toBe(
        Math.min(
          3,
          t.shape.reduce((a, b) => a * b, 1),
        ),
      );
    }
    const stem = j.tensors.find((t) => t.name === "encoder.stem.convs.0.conv.weight")!;
    expect(stem).toMatchObject({ shape: [8, 1, 1, 3, 3], source: "adapted" });
    expect(j.tensors.find((t) => t.name === "encoder.stem.convs.0.all_modules.0.weight")!.sum).toBe(stem.sum);
    expect(j.tensors.find((t) => t.name === "decoder.seg_layers.0.weight")!.source).toBe("init");
    const text = execFileSync(
      process.execPath,
      [NNSSL_ADAPT, "checkpoint", "transfer", "-d", "900", "-p", "ptPlans_dynamic__ResEncMini", "-tr", "DynamicPretrainedTrainer"],
      {
        env: { ...process.env, ...paths },
        encoding: "utf8",
      },
    );
    expect(text).toMatch(/checkpoint deeper than the target: its stages 4-4 are dropped/);
    expect(text).toMatch(/encoder\.stem\.convs\.0\.conv\.weight\s+\[8, 1, 1, 3, 3\]\s+adapted\s+kernel \[3, 3, 3\] -> \[1, 3, 3\] \(mean\)/);
  }, 60_000);
});

const torchReason = pythonSkipReason(["torch"]);
describe.skipIf(torchReason !== null && process.env.CI !== "true")(
  `dynamic transfer equals master's adapt_encoder_weights_for_architecture ${torchReason ?? ""}`,
  () => {
    it("same tensors loaded, same sums and first values", () => {
      const out = execFileSync(
        process.execPath,
        [NNSSL_ADAPT, "checkpoint", "transfer", "-d", "900", "-p", "ptPlans_dynamic__ResEncMini", "-tr", "DynamicPretrainedTrainer", "--json"],
        {
          env: { ...process.env, ...paths },
          encoding: "utf8",
        },
      );
      const ours = (JSON.parse(out) as { tensors: { name: string; shape: number[]; source: string; sum: number; first: number[] }[] }).tensors;
      const shapesFile = path.join(root, "target-shapes.json");
      writeFileSync(shapesFile, JSON.stringify(Object.fromEntries(ours.map((t) => [t.name, t.shape]))));
      const master = runPythonJson<Record<string, [number, number[]]>>(MASTER_DYNAMIC, [NNSSL_CKPT, shapesFile, "4"]);
      const transferred = ours.filter((t) => t.source !== "init");
      expect(transferred.map((t) => t.name).sort()).toEqual(Object.keys(master).sort());
      for (const t of transferred) {
        const [sum, first] = master[t.name]!;
        expect(Math.abs(t.sum - sum), `${t.name} sum ${t.sum} vs ${sum}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(sum)));
        first.forEach((v, i) => expect(Math.abs(t.first[i]! - v), `${t.name} first[${i}]`).toBeLessThanOrEqual(1e-6));
      }
    }, 60_000);
  },
);

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
  ] as const)(
    "%s",
    async (name, lr0, patch, mirrored) => {
      const run = await trainPretrained({ ...short, warmupEpochs: resolveTrainer(name).warmupEpochs, dataset: 900, plans: primusxPlans, trainer: name, paths });
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
      if (name === "PretrainedTrainer_Primusx_150ep_small_debug") {
        // the model folder opens for prediction with the trainer's own network (Primus at the overridden 48^3)
        const model = await Model.load(run.outputFolderBase, { folds: [0] });
        const net = (model.predictor as unknown as { network: { className: string; stateDict(): Map<string, { shape: number[] }> } }).network;
        expect(net.className).toBe("Primus");
        expect(net.stateDict().get("eva.pos_embed")!.shape).toEqual([1, 216, 48]);
        model.dispose();
      }
    },
    120_000,
  );

  it("builds Primus from the explicit settings with drop_path_rate 0.2 and the first init_values", () => {
    const net = buildTrainerNetwork(
      resolveTrainer("PretrainedTrainer_Primusx"),
      {
        network_class_name: "PrimusX",
        arch_kwargs: { embed_dim: 48, patch_embed_size: [8, 8, 8], encoder_eva_depth: 3, encoder_eva_numheads: 4, scale_attn_inner: false, init_values: [0.5] },
      },
      { inputChannels: 2, numClasses: 3, patchSize: [16, 32, 24], seed: 1 },
    );
    const sd = net.stateDict();
    expect(sd.get("eva.pos_embed")!.shape).toEqual([1, 2 * 4 * 3, 48]);
    expect(sd.get("down_projection.proj.weight")!.shape).toEqual([48, 2, 8, 8, 8]);
    expect([...sd.keys()].some((k) => k.startsWith("eva.blocks.2."))).toBe(true);
    expect([...sd.keys()].some((k) => k.startsWith("eva.blocks.3."))).toBe(false);
    expect(Array.from(sd.get("eva.blocks.0.gamma_1")!.toFloat32().slice(0, 2))).toEqual([0.5, 0.5]);
    net.dispose();
    expect(() =>
      buildTrainerNetwork(
        resolveTrainer("PretrainedTrainer_Primusx"),
        { network_class_name: "PrimusX", arch_kwargs: { embed_dim: 48 } },
        { inputChannels: 1, numClasses: 2, patchSize: [32, 32, 32] },
      ),
    ).toThrow(/PrimusX arch_kwargs\.patch_embed_size is missing/);
  });
});

describe("nnUNet_Primus_{S,B,M,L}_Trainer (from scratch)", () => {
  it.each(["nnUNet_Primus_S_Trainer", "nnUNet_Primus_B_Trainer", "nnUNet_Primus_M_Trainer", "nnUNet_Primus_L_Trainer"])(
    "%s trains one iteration on the 32^3 plans",
    async (name) => {
      const run = await train({
        ...short,
        warmupEpochs: resolveTrainer(name).warmupEpochs,
        dataset: 900,
        plans: primusxPlans,
        trainer: name,
        paths,
        disableCheckpointing: true,
      });
      expect(run.trainerName).toBe(name);
      expect(run.transferReport).toBeNull();
      expect(run.logging.lrs).toEqual([3e-4 / 50]);
      expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
    },
    300_000,
  );

  it.each([
    ["nnUNet_Primus_S_Trainer", 396, 12],
    ["nnUNet_Primus_B_Trainer", 792, 12],
    ["nnUNet_Primus_M_Trainer", 864, 16],
    ["nnUNet_Primus_L_Trainer", 1056, 24],
  ] as const)("%s: master's hyper-parameters and the preset's shapes", (name, embed, depth) => {
    const spec = resolveTrainer(name);
    expect(spec).toMatchObject({
      optimizer: "AdamW",
      initialLr: 3e-4,
      weightDecay: 5e-2,
      warmupEpochs: 50,
      numEpochs: 1000,
      gradClip: 1,
      usesPretrainedWeights: false,
    });
    // the preset's state-dict shapes, computed without allocating weights
    const shapes = stateDictShapes(
      { network_class_name: `Primus${name[14]}`, arch_kwargs: null },
      { inputChannels: 1, numClasses: 2, patchSize: [32, 32, 32] },
    );
    expect(shapes.get("eva.pos_embed")).toEqual([1, 64, embed]);
    expect([...shapes.keys()].some((k) => k.startsWith(`eva.blocks.${depth - 1}.`))).toBe(true);
    expect([...shapes.keys()].some((k) => k.startsWith(`eva.blocks.${depth}.`))).toBe(false);
  });
});
