import { describe, it, expect, beforeAll } from "vitest";
import { mkdtempSync, mkdirSync, readdirSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { trainPretrained } from "../../sdk/training/run-training.js";
import { loadCheckpoint } from "../../sdk/training/checkpoint-io.js";
import { skipUnlessCI } from "../helpers/ci.js";

// The fixture's like_pretrained ptPlans + preprocessed Dataset900_Tiny and the nnssl ResEncMini checkpoint.
const FX = path.resolve(import.meta.dirname, "../fixtures");
const LIKE = path.join(FX, "datasets/Dataset900_Tiny/expected/nnssl/like_pretrained");
const PLANS = "ptPlans__ResEncMini_public____Spacing__1.00_1.00_1.00___Norm__Z";
const CKPT = path.join(FX, "nnssl/nnssl_ResEncMini.pth");

describe.skipIf(skipUnlessCI(existsSync(CKPT) ? null : `${CKPT} missing`) !== null)("trainPretrained() with the nnssl ResEncMini fixture", () => {
  let paths: { nnUNet_preprocessed: string; nnUNet_results: string; nnUNet_raw: string };
  beforeAll(() => {
    const root = mkdtempSync(path.join(tmpdir(), "nnssl-pt-"));
    paths = { nnUNet_preprocessed: path.join(root, "pre"), nnUNet_results: path.join(root, "res"), nnUNet_raw: path.join(root, "raw") };
    const base = path.join(paths.nnUNet_preprocessed, "Dataset900_Tiny");
    const data = path.join(base, "Spacing__1.00_1.00_1.00___Norm__Z");
    mkdirSync(data, { recursive: true });
    mkdirSync(paths.nnUNet_raw);
    copyFileSync(path.join(FX, "datasets/Dataset900_Tiny/dataset.json"), path.join(base, "dataset.json"));
    copyFileSync(path.join(LIKE, `${PLANS}.json`), path.join(base, `${PLANS}.json`));
    const src = path.join(LIKE, "Spacing__1.00_1.00_1.00___Norm__Z");
    // The fixture names properties <case>_properties.json; nnssl-adapt's preprocessed layout uses <case>.json.
    for (const f of readdirSync(src)) {
      if (f.endsWith(".npy")) copyFileSync(path.join(src, f), path.join(data, f));
      if (f.endsWith("_properties.json")) copyFileSync(path.join(src, f), path.join(data, f.replace("_properties.json", ".json")));
    }
  });

  it("loads the encoder from the checkpoint, uses the warm-up LR and writes PretrainedTrainer checkpoints", async () => {
    const run = await trainPretrained({
      dataset: 900,
      configuration: "3d_fullres",
      fold: 0,
      plans: PLANS,
      trainer: "PretrainedTrainer_1epoch",
      overwriteCkptPath: CKPT,
      numIterationsPerEpoch: 1,
      numValIterationsPerEpoch: 1,
      seed: 1,
      numWorkers: 0,
      skipValidation: true,
      paths,
    });
    expect(run.outputFolder).toBe(path.join(paths.nnUNet_results, "Dataset900_Tiny", `PretrainedTrainer_1epoch__${PLANS}__3d_fullres`, "fold_0"));
    expect(run.transfer!.encoder.keys.length).toBeGreaterThan(0);
    expect(run.transfer!.ptWeightInChMismatch).toBe(false);
    expect(run.transfer!.random.some((k) => k.startsWith("decoder.seg_layers"))).toBe(true);
    expect(run.logging.lrs).toEqual([1e-3 / 50]);
    const ck = await loadCheckpoint(run.checkpointFinal!);
    expect(ck.trainerName).toBe("PretrainedTrainer_1epoch");
    expect(ck.currentEpoch).toBe(1);
  });

  it("--from_scratch trains in a separate folder with the scratch LR and loads nothing", async () => {
    const run = await trainPretrained({
      dataset: "Dataset900_Tiny",
      configuration: "3d_fullres",
      fold: 0,
      plans: PLANS,
      trainer: "PretrainedTrainer_1epoch",
      fromScratch: true,
      numIterationsPerEpoch: 1,
      numValIterationsPerEpoch: 0,
      seed: 1,
      numWorkers: 0,
      skipValidation: true,
      disableCheckpointing: true,
      paths,
    });
    expect(run.plansName).toBe(`${PLANS}__from_scratch`);
    expect(run.transfer).toBeNull();
    expect(run.logging.lrs).toEqual([1e-2 / 50]);
    expect(run.checkpointFinal).toBeNull();
    expect(readdirSync(run.outputFolder).filter((f) => f.endsWith(".pth"))).toEqual([]);
  });

  it("without a checkpoint path it fails with a one-line hint", async () => {
    await expect(
      trainPretrained({ dataset: 900, configuration: "3d_fullres", fold: 0, plans: PLANS, numEpochs: 1, numIterationsPerEpoch: 1, numWorkers: 0, paths }),
    ).rejects.toThrow(/nnssl\/nnssl_ResEncMini\.pth: file not found|-overwrite_ckpt_path/);
  });
});
