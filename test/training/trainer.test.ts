import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { train } from "../../sdk/training/run-training.js";
import { resolveTrainer } from "../../sdk/training/trainers.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { writeSyntheticDataset, FORWARD_FIXTURE, type SyntheticDataset } from "./helpers/synthetic-dataset.js";
import { runPythonJson, pythonSkipReason } from "../helpers/python.js";

describe("resolveTrainer", () => {
  it("knows the registry and parses _<N>epochs", () => {
    expect(resolveTrainer("PretrainedTrainer")).toMatchObject({
      initialLr: 1e-3,
      initialLrFromScratch: 1e-2,
      warmupEpochs: 50,
      enableDeepSupervision: false,
      gradClip: 12,
      batchSize: 2,
    });
    expect(resolveTrainer("PretrainedTrainer_Primus_150ep")).toMatchObject({
      optimizer: "AdamW",
      initialLr: 1e-4,
      initialLrFromScratch: 3e-4,
      weightDecay: 5e-2,
      gradClip: 1,
      numEpochs: 150,
      warmupEpochs: 15,
    });
    expect(resolveTrainer("nnUNetTrainer_10epochs")).toMatchObject({
      name: "nnUNetTrainer_10epochs",
      numEpochs: 10,
      initialLr: 1e-2,
      enableDeepSupervision: true,
    });
    expect(resolveTrainer("PretrainedTrainer_1epoch").numEpochs).toBe(1);
    expect(() => resolveTrainer("FancyTrainer")).toThrow(/unknown trainer "FancyTrainer" \(known: nnUNetTrainer, PretrainedTrainer/);
  });
});

describe("train() end to end on a tiny synthetic dataset", () => {
  let ds: SyntheticDataset;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-train-")));
  });

  const common = () => ({
    dataset: ds.datasetName,
    configuration: "3d_fullres",
    fold: 0 as const,
    trainer: "nnUNetTrainer",
    numEpochs: 2,
    numIterationsPerEpoch: 2,
    numValIterationsPerEpoch: 1,
    seed: 7,
    numWorkers: 0,
    paths: ds.paths,
  });

  it("trains 2 epochs, writes nnU-Net's files, resumes after a kill, and validates", async () => {
    const epochs: number[] = [];
    // Simulated kill: the run dies after epoch 0 has been checkpointed.
    await expect(
      train({
        ...common(),
        skipValidation: true,
        onEpochEnd: (e) => {
          epochs.push(e.epoch);
          if (e.epoch === 0) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0");
    expect(existsSync(path.join(fold, "checkpoint_latest.pth"))).toBe(true);
    expect(existsSync(path.join(fold, "checkpoint_final.pth"))).toBe(false);
    const latest = await loadCheckpoint(path.join(fold, "checkpoint_latest.pth"));
    expect(latest.currentEpoch).toBe(1);

    const iterations: string[] = [];
    const run = await train({ ...common(), continueTraining: true, onIteration: (e) => iterations.push(`${e.phase}${e.epoch}.${e.iteration}`) });
    expect(run.resumedFrom).toMatch(/checkpoint_latest\.pth$/);
    expect(iterations).toEqual(["train1.0", "train1.1", "val1.0"]);
    expect(run.startEpoch).toBe(1);
    expect(run.logging.train_losses).toHaveLength(2);
    expect(run.logging.lrs[0]).toBeCloseTo(0.01, 12);
    expect(run.logging.lrs[1]).toBeCloseTo(0.01 * Math.pow(1 - 1 / 2, 0.9), 12);
    expect(run.logging.ema_fg_dice[1]).toBeCloseTo(0.9 * run.logging.mean_fg_dice[0]! + 0.1 * run.logging.mean_fg_dice[1]!, 10);

    const files = readdirSync(fold);
    expect(files).toEqual(expect.arrayContaining(["checkpoint_final.pth", "checkpoint_best.pth", "progress.png", "debug.json", "validation"]));
    expect(files).not.toContain("checkpoint_latest.pth");
    const base = path.dirname(fold);
    expect(readdirSync(base)).toEqual(expect.arrayContaining(["plans.json", "dataset.json", "fold_0"]));
    // The continued run writes a second log file, as upstream does.
    const log = files
      .filter((f) => f.startsWith("training_log_"))
      .map((f) => readFileSync(path.join(fold, f), "utf8"))
      .join("");
    expect(log).toMatch(/: Epoch 1\n.*: Current learning rate: 0\.00536\n.*: train_loss -?\d/);
    expect(log).toMatch(/: Pseudo dice \[[\d.]+\]/);
    expect(log).toMatch(/: Epoch time: [\d.]+ s/);
    expect(readFileSync(path.join(fold, "progress.png")).subarray(1, 4).toString()).toBe("PNG");

    const final = await loadCheckpoint(path.join(fold, "checkpoint_final.pth"));
    expect(final.currentEpoch).toBe(2);
    expect(final.trainerName).toBe("nnUNetTrainer");
    expect(final.logging.val_losses).toHaveLength(2);

    expect(run.validation).not.toBeNull();
    expect(Object.keys(run.validation!.mean)).toEqual(["1"]);
    const summary = readFileSync(path.join(fold, "validation", "summary.json"), "utf8");
    expect(summary).toContain("foreground_mean");
    const splits = JSON.parse(readFileSync(path.join(ds.paths.nnUNet_preprocessed, ds.datasetName, "splits_final.json"), "utf8"));
    expect(
      readdirSync(path.join(fold, "validation"))
        .filter((f) => f.endsWith(".nii.gz"))
        .sort(),
    ).toEqual(splits[0].val.map((id: string) => `${id}.nii.gz`));
    expect(run.validation!.metric_per_case).toHaveLength(splits[0].val.length);
  });

  it("--val reruns only the validation from checkpoint_final.pth", async () => {
    const run = await train({ ...common(), validationOnly: true });
    expect(run.epochsRun).toBe(0);
    expect(run.validation!.metric_per_case.length).toBeGreaterThan(0);
  });

  const skip = pythonSkipReason(["torch"]);
  it.skipIf(skip !== null)(`checkpoint_final.pth loads in torch 1.13 with the PyTorch network's keys and shapes ${skip ?? ""}`, () => {
    const file = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0", "checkpoint_final.pth");
    const out = runPythonJson<{
      keys: [string, number[]][];
      top: string[];
      opt: { n_state: number; group: string[]; params: number };
      axes: number[];
      epoch: number;
      init: string[];
    }>(
      `
import json, sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
w = ck["network_weights"]
o = ck["optimizer_state"]
print(json.dumps({"keys": [[k, list(v.shape)] for k, v in w.items()], "top": list(ck.keys()),
  "opt": {"n_state": len(o["state"]), "group": sorted(o["param_groups"][0].keys()), "params": len(o["param_groups"][0]["params"])},
  "axes": list(ck["inference_allowed_mirroring_axes"]), "epoch": ck["current_epoch"], "init": sorted(ck["init_args"].keys())}))
`,
      [file],
    );
    const ref = JSON.parse(readFileSync(path.join(FORWARD_FIXTURE, "state_dict_keys.json"), "utf8")) as { key: string; shape: number[] }[];
    expect(out.keys).toEqual(ref.map((r) => [r.key, r.shape]));
    expect(out.top).toEqual([
      "network_weights",
      "optimizer_state",
      "grad_scaler_state",
      "logging",
      "_best_ema",
      "current_epoch",
      "init_args",
      "trainer_name",
      "inference_allowed_mirroring_axes",
    ]);
    expect(out.opt.group).toEqual([
      "dampening",
      "differentiable",
      "foreach",
      "fused",
      "initial_lr",
      "lr",
      "maximize",
      "momentum",
      "nesterov",
      "params",
      "weight_decay",
    ]);
    expect(out.opt.n_state).toBeGreaterThan(0);
    expect(out.axes).toEqual([0, 1, 2]);
    expect(out.epoch).toBe(2);
    expect(out.init).toEqual(["configuration", "dataset_json", "device", "fold", "plans"]);
  });
});
