import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { parseArgs, UsageError } from "../../sdk/cli/argparse.js";
import { spec as pretrainedSpec, toTrainOptions } from "../../sdk/cli/commands/train-pretrained.js";
import { spec as trainSpec } from "../../sdk/cli/commands/train.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";
import { skipUnlessCI } from "../helpers/ci.js";

const parse = (spec: typeof trainSpec, argv: string[]) => toTrainOptions(spec.prog, parseArgs(spec, argv));

describe("nnUNetv2_train_pretrained flags -> TrainOptions", () => {
  it("takes positionals like upstream", () => {
    const o = parse(pretrainedSpec, [
      "901",
      "3d_fullres",
      "0",
      "-p",
      "ptPlans__X____Y",
      "--c",
      "--num_epochs",
      "3",
      "--num_iterations_per_epoch",
      "4",
      "--num_val_iterations_per_epoch",
      "2",
      "-overwrite_ckpt_path",
      "/x.pth",
    ]);
    expect(o).toMatchObject({
      dataset: "901",
      configuration: "3d_fullres",
      fold: 0,
      plans: "ptPlans__X____Y",
      trainer: "PretrainedTrainer",
      continueTraining: true,
      numEpochs: 3,
      numIterationsPerEpoch: 4,
      numValIterationsPerEpoch: 2,
      overwriteCkptPath: "/x.pth",
      fromScratch: false,
    });
  });
  it("accepts the seed README's -d/-c/-f spelling and fold all", () => {
    const o = parse(pretrainedSpec, [
      "-d",
      "Dataset901_X",
      "-c",
      "3d_fullres",
      "-f",
      "all",
      "-p",
      "P",
      "-tr",
      "PretrainedTrainer_Primus_5epochs",
      "--from_scratch",
      "--val",
      "--npz",
    ]);
    expect(o).toMatchObject({
      dataset: "Dataset901_X",
      configuration: "3d_fullres",
      fold: "all",
      trainer: "PretrainedTrainer_Primus_5epochs",
      fromScratch: true,
      validationOnly: true,
      exportValidationProbabilities: true,
    });
  });
  it.each([
    [["901", "3d_fullres", "0"], /the following arguments are required: -p/],
    [["901", "-p", "P"], /the following arguments are required: configuration, fold/],
    [["901", "3d_fullres", "x", "-p", "P"], /argument fold: invalid choice: 'x'/],
    [["901", "3d_fullres", "0", "-p", "P", "-d", "902"], /argument dataset_name_or_id given twice/],
  ])("%j is a usage error", (argv, msg) => {
    expect(() => parse(pretrainedSpec, argv)).toThrow(UsageError);
    expect(() => parse(pretrainedSpec, argv)).toThrow(msg);
  });
  it("nnUNetv2_train defaults to nnUNetTrainer / nnUNetPlans", () => {
    expect(parse(trainSpec, ["5", "2d", "1"])).toMatchObject({ trainer: "nnUNetTrainer", plans: "nnUNetPlans", fold: 1 });
  });
  it("--checkpointing turns on activation recomputation (off by default)", () => {
    expect(parse(trainSpec, ["5", "2d", "1", "--checkpointing"]).activationCheckpointing).toBe(true);
    expect(parse(trainSpec, ["5", "2d", "1"]).activationCheckpointing).toBeUndefined();
  });
});

const dist = path.resolve("dist/sdk/cli/commands/train.js");
describe.skipIf(skipUnlessCI(existsSync(dist) ? null : "dist/ not built (npm run build)") !== null)("nnUNetv2_train from dist/ (worker threads)", () => {
  let ds: SyntheticDataset;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-cli-")), { id: 992 });
  });
  it("trains with augmentation in a worker thread and exits 0", () => {
    const r = spawnSync(
      process.execPath,
      [
        "bin/nnUNetv2_train.js",
        "992",
        "3d_fullres",
        "1",
        "--num_epochs",
        "1",
        "--num_iterations_per_epoch",
        "3",
        "--num_val_iterations_per_epoch",
        "1",
        "--seed",
        "3",
        "--num_workers",
        "1",
      ],
      { env: { ...process.env, ...ds.paths }, encoding: "utf8", timeout: 600_000 },
    );
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Epoch 0\nCurrent learning rate: 0\.01\ntrain_loss/);
    expect(r.stdout).toMatch(/Validation Dice \(foreground mean\): /);
    const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_1");
    expect(existsSync(path.join(fold, "checkpoint_final.pth"))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(fold, "debug.json"), "utf8")).num_workers).toBe(1);
  });
  it("--c after a SIGKILL continues from checkpoint_latest.pth and finishes the run", async () => {
    const args = [
      "bin/nnUNetv2_train.js",
      "992",
      "3d_fullres",
      "2",
      "--num_epochs",
      "4",
      "--num_iterations_per_epoch",
      "2",
      "--num_val_iterations_per_epoch",
      "1",
      "--seed",
      "5",
      "--num_workers",
      "1",
    ];
    const env = { ...process.env, ...ds.paths };
    const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_2");
    const child = spawn(process.execPath, args, { env, stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Kill the process as soon as the first checkpoint_latest.pth is in place (mid-training, epoch >= 1 running).
    let killed = false;
    while (!killed) {
      if (existsSync(path.join(fold, "checkpoint_latest.pth"))) {
        child.kill("SIGKILL");
        killed = true;
      } else if (child.exitCode !== null) break;
      else await new Promise((r) => setTimeout(r, 20));
    }
    await exited;
    expect(killed).toBe(true);
    expect(existsSync(path.join(fold, "checkpoint_final.pth"))).toBe(false);
    const r = spawnSync(process.execPath, [...args, "--c"], { env, encoding: "utf8", timeout: 600_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Continuing from checkpoint_latest\.pth at epoch [123]\n/);
    const { loadCheckpoint } = await import("../../sdk/training/checkpoint-io.js");
    const final = await loadCheckpoint(path.join(fold, "checkpoint_final.pth"));
    expect(final.currentEpoch).toBe(4);
    expect(final.logging.train_losses).toHaveLength(4);
    expect(final.logging.epoch_start_timestamps.every((t, i, a) => i === 0 || t > a[i - 1]!)).toBe(true);
  });

  it("bad dataset is a one-line error with exit code 1", () => {
    const r = spawnSync(process.execPath, ["bin/nnUNetv2_train.js", "993", "3d_fullres", "0"], { env: { ...process.env, ...ds.paths }, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^nnUNetv2_train: error: could not find a dataset with id 993/);
  });
});
