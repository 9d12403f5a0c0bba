import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { parseArgs, UsageError, HelpRequested } from "../../sdk/cli/argparse.js";
import { spec as pretrainedSpec, toTrainOptions } from "../../sdk/cli/commands/train-pretrained.js";
import { TRAINERS } from "../../sdk/training/trainers.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { writeSyntheticDataset, type SyntheticDataset } from "./helpers/synthetic-dataset.js";

const parse = (argv: string[]) => toTrainOptions(pretrainedSpec.prog, parseArgs(pretrainedSpec, argv));
const BASE = ["901", "3d_fullres", "0", "-p", "P"];

describe("nnUNetv2_train_pretrained: new flags", () => {
  it("maps --warmup_epochs, --freeze, --unfreeze_at_epoch, --lr_decay_per_stage, --val_best, --npz, -overwrite_ckpt_path", () => {
    const o = parse([
      ...BASE,
      "--warmup_epochs",
      "2",
      "--freeze",
      "stages:0-2",
      "--unfreeze_at_epoch",
      "5",
      "--lr_decay_per_stage",
      "0.8",
      "--val_best",
      "--npz",
      "-overwrite_ckpt_path",
      "/c.pth",
    ]);
    expect(o).toMatchObject({
      warmupEpochs: 2,
      freeze: "stages:0-2",
      unfreezeAtEpoch: 5,
      lrDecayPerStage: 0.8,
      validationWithBest: true,
      exportValidationProbabilities: true,
      overwriteCkptPath: "/c.pth",
    });
  });
  it.each([
    [["-num_gpus", "2"], /^argument -num_gpus: 2 is not supported: nnssl-adapt trains on one device/],
    [["--warmup_epochs", "0"], /^argument --warmup_epochs: must be >= 1 \(got 0\)/],
    [["--freeze", "decoder"], /^argument --freeze "decoder": expected encoder, stem or stages:A-B/],
    [["--freeze", "stages:3-1"], /^argument --freeze stages:3-1: the range must go upwards/],
    [["--unfreeze_at_epoch", "3"], /^argument --unfreeze_at_epoch: needs --freeze/],
    [["--freeze", "encoder", "--unfreeze_at_epoch", "0"], /^argument --unfreeze_at_epoch: must be >= 1/],
    [["--lr_decay_per_stage", "0"], /^argument --lr_decay_per_stage: expected a factor in \(0, 1\]/],
    [["--lr_decay_per_stage", "1.2"], /^argument --lr_decay_per_stage: expected a factor in \(0, 1\]/],
  ])("%j is a usage error naming the flag", (extra, msg) => {
    expect(() => parse([...BASE, ...extra])).toThrow(UsageError);
    expect(() => parse([...BASE, ...extra])).toThrow(msg);
  });
  it("--help lists every trainer of the registry", () => {
    let text = "";
    try {
      parseArgs(pretrainedSpec, ["--help"]);
    } catch (e) {
      text = (e as HelpRequested).text;
    }
    for (const name of Object.keys(TRAINERS)) expect(text).toMatch(new RegExp(`^${name}\\s`, "m"));
    expect(text).toMatch(/PretrainedTrainer_adam__nomirroring\s+SGD\b.*despite its name SGD/);
  });
});

const dist = path.resolve("dist/sdk/cli/commands/train.js");
describe.skipIf(!existsSync(dist))("a signal ends training cleanly (child process from dist/)", () => {
  let ds: SyntheticDataset;
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "nnssl-stop-")), { id: 984 });
  });

  it("nnssl-adapt trainers prints the table", () => {
    const r = spawnSync(process.execPath, ["bin/nnssl-adapt.js", "trainers"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    for (const name of Object.keys(TRAINERS)) expect(r.stdout).toMatch(new RegExp(`^${name}\\s`, "m"));
    expect(r.stdout).toMatch(/^trainer\s+optimizer\s+lr\s+warm-up\s+epochs\s+mirroring\s+what it is for$/m);
  });

  it.each([
    ["SIGINT", 130, 1],
    ["SIGUSR1", 0, 2],
  ] as const)("%s: finishes the iteration, writes checkpoint_latest.pth, exits %i; --c continues", async (sig, code, fold) => {
    const args = [
      "bin/nnUNetv2_train.js",
      "984",
      "3d_fullres",
      String(fold),
      "--num_epochs",
      "2",
      "--num_val_iterations_per_epoch",
      "1",
      "--seed",
      "3",
      "--num_workers",
      "0",
    ];
    const env = { ...process.env, ...ds.paths };
    const folder = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", `fold_${fold}`);
    const child = spawn(process.execPath, [...args, "--num_iterations_per_epoch", "200"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let sent = false;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      // Mid-epoch 0: the epoch has started and no checkpoint exists yet.
      if (!sent && /Current learning rate/.test(out)) {
        sent = true;
        child.kill(sig);
      }
    });
    const exit = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(sent).toBe(true);
    expect(out).toMatch(new RegExp(`${sig} received: finishing the current iteration`));
    expect(out).toMatch(/Training stopped after 0 completed epoch\(s\): checkpoint_latest\.pth written, continue with --c/);
    expect(exit).toBe(code);
    expect(existsSync(path.join(folder, "checkpoint_final.pth"))).toBe(false);
    const latest = await loadCheckpoint(path.join(folder, "checkpoint_latest.pth"));
    expect(latest.currentEpoch).toBe(0);
    const r = spawnSync(process.execPath, [...args, "--num_iterations_per_epoch", "2", "--c"], { env, encoding: "utf8", timeout: 600_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Continuing from checkpoint_latest\.pth at epoch 0\n/);
    const final = await loadCheckpoint(path.join(folder, "checkpoint_final.pth"));
    expect(final.currentEpoch).toBe(2);
    expect(final.logging.train_losses).toHaveLength(2);
  });
});
