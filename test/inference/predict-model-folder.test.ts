// End to end: a model folder written here (plans.json, dataset.json, two folds of a tiny ResidualEncoderUNet saved
// with our torch writer, trainer_name PretrainedTrainer) -> nnUNetv2_predict_from_modelfolder -> NIfTI files.

import { describe, it, expect, beforeAll } from "vitest";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { tf } from "../../sdk/backend/index.js";
import { buildNetwork } from "../../sdk/networks/index.js";
import { orderedDict, PyTuple } from "../../sdk/io/torch/index.js";
import { saveTorchFile } from "../../sdk/io/torch/save.js";
import { readImages, readSeg } from "../../sdk/io/image-io.js";
import { runCase } from "../../sdk/preprocessing/default-preprocessor.js";
import { NnUNetPredictor } from "../../sdk/inference/predictor.js";
import { convertPredictedLogitsToSegmentationWithCorrectShape } from "../../sdk/inference/export.js";
import { Model } from "../../sdk/inference/model.js";
import { parseArgs } from "../../sdk/cli/argparse.js";
import { spec, run } from "../../sdk/cli/commands/predict-from-modelfolder.js";
import { spec as predictSpec, run as predictRun } from "../../sdk/cli/commands/predict.js";
import type { Plans } from "../../sdk/planning/plans.js";
import type { DatasetJson } from "../../sdk/dataset/raw.js";
import { setOnednnPrecision } from "../../sdk/backend/onednn.js";
import { tinyResEncArch } from "../helpers/networks.js";

await tf.setBackend("cpu");

const FIX = path.resolve("test/fixtures/datasets/Dataset900_Tiny");
const root = mkdtempSync(path.join(tmpdir(), "predict-"));
const modelFolder = path.join(root, "PretrainedTrainer__nnUNetPlans__3d_fullres");
const imagesTs = path.join(root, "imagesTs");
const CASES = ["Tiny_000", "Tiny_003"];

const plans = JSON.parse(readFileSync(path.join(FIX, "expected/nnUNetPlans.json"), "utf8")) as Plans;
const cfg = plans.configurations["3d_fullres"]!;
cfg.patch_size = [16, 32, 32];
cfg.architecture = tinyResEncArch(
  [
    [1, 3, 3],
    [3, 3, 3],
  ],
  [
    [1, 1, 1],
    [1, 2, 2],
  ],
);
const datasetJson = JSON.parse(readFileSync(path.join(FIX, "dataset.json"), "utf8")) as DatasetJson;

beforeAll(async () => {
  mkdirSync(imagesTs, { recursive: true });
  for (const c of CASES) copyFileSync(path.join(FIX, "imagesTr", `${c}_0000.nii.gz`), path.join(imagesTs, `${c}_0000.nii.gz`));
  mkdirSync(modelFolder, { recursive: true });
  writeFileSync(path.join(modelFolder, "plans.json"), JSON.stringify(plans));
  writeFileSync(path.join(modelFolder, "dataset.json"), JSON.stringify(datasetJson));
  for (const fold of [0, 1]) {
    const net = buildNetwork(cfg.architecture as never, {
      inputChannels: 1,
      numClasses: 3,
      deepSupervision: true,
      patchSize: cfg.patch_size,
      seed: 100 + fold,
    });
    // different seeds per fold, so the folds really disagree
    const sd = net.stateDict();
    mkdirSync(path.join(modelFolder, `fold_${fold}`), { recursive: true });
    await saveTorchFile(path.join(modelFolder, `fold_${fold}`, "checkpoint_final.pth"), {
      network_weights: orderedDict(Object.fromEntries(sd)),
      trainer_name: "PretrainedTrainer",
      init_args: { configuration: "3d_fullres", fold },
      inference_allowed_mirroring_axes: PyTuple.ofItems([0, 1, 2]),
    });
    net.dispose();
  }
});

// TTA is off here to keep pure-JS runtime down; mirroring is covered in predictor.test.ts and sliding-window.test.ts
describe("nnUNetv2_predict_from_modelfolder with a PretrainedTrainer model", () => {
  it("writes one segmentation per case with the source geometry, plus dataset.json, plans.json and the args", async () => {
    const out = path.join(root, "out");
    await run(
      parseArgs(spec, ["-i", imagesTs, "-o", out, "-m", modelFolder, "-f", "0", "1", "--disable_progress_bar", "--disable_tta", "-npp", "1", "-nps", "1"]),
    );
    expect(readdirSync(out).sort()).toEqual(["Tiny_000.nii.gz", "Tiny_003.nii.gz", "dataset.json", "plans.json", "predict_from_raw_data_args.json"]);
    for (const c of CASES) {
      const img = await readImages([path.join(imagesTs, `${c}_0000.nii.gz`)], "NibabelIO");
      const seg = await readSeg(path.join(out, `${c}.nii.gz`), "NibabelIO");
      expect(seg.shape).toEqual(img.shape);
      expect(seg.properties.nibabel_stuff!.original_affine).toEqual(img.properties.nibabel_stuff!.original_affine);
      expect(new Set(seg.data).size).toBeGreaterThan(1); // a random net still predicts more than one label
    }
    const args = JSON.parse(readFileSync(path.join(out, "predict_from_raw_data_args.json"), "utf8"));
    expect(args.save_probabilities).toBe(false);
  });

  it("equals the argmax of the two folds' averaged logits (fold ensemble)", async () => {
    const img = await readImages([path.join(imagesTs, "Tiny_003_0000.nii.gz")], "NibabelIO");
    const pre = runCase(img, null, plans, "3d_fullres", datasetJson);
    const single = async (fold: number) => {
      const p = await new NnUNetPredictor({ useMirroring: false }).initializeFromTrainedModelFolder(modelFolder, [fold]);
      const l = await p.predictLogitsFromPreprocessedData(pre.data, pre.shape);
      p.dispose();
      return { l, p };
    };
    const [a, b] = [await single(0), await single(1)];
    const avg = a.l.map((v, i) => (v + b.l[i]!) / 2);
    const r = convertPredictedLogitsToSegmentationWithCorrectShape(avg, [3, ...pre.shape.slice(1)], plans, a.p.configuration, a.p.labelInfo, pre.properties);
    const written = await readSeg(path.join(root, "out", "Tiny_003.nii.gz"), "NibabelIO");
    let diff = 0;
    for (let i = 0; i < r.segmentation.length; i++) if (r.segmentation[i] !== written.data[i]) diff++;
    expect(diff).toBe(0);
    // and the folds do disagree somewhere, so the ensemble is not trivially one fold
    let disagree = 0;
    for (let i = 0; i < a.l.length; i++) if (Math.abs(a.l[i]! - b.l[i]!) > 1e-3) disagree++;
    expect(disagree).toBeGreaterThan(0);
  });

  it("--precision bf16 labels agree with fp32 on at least 99% of voxels (identical when bf16 falls back to fp32)", async () => {
    const out = path.join(root, "out-bf16");
    await run(
      parseArgs(spec, ["-i", imagesTs, "-o", out, "-m", modelFolder, "-f", "0", "1", "--disable_progress_bar", "--disable_tta", "--precision", "bf16"]),
    );
    const { precision } = setOnednnPrecision("bf16");
    setOnednnPrecision("fp32");
    for (const c of CASES) {
      const a = await readSeg(path.join(root, "out", `${c}.nii.gz`), "NibabelIO");
      const b = await readSeg(path.join(out, `${c}.nii.gz`), "NibabelIO");
      let same = 0;
      for (let i = 0; i < a.data.length; i++) if (a.data[i] === b.data[i]) same++;
      if (precision === "bf16") expect(same / a.data.length).toBeGreaterThanOrEqual(0.99);
      else expect(same).toBe(a.data.length);
    }
  });

  it("--continue_prediction skips finished cases", async () => {
    const out = path.join(root, "out");
    const before = statSync(path.join(out, "Tiny_000.nii.gz")).mtimeMs;
    await run(parseArgs(spec, ["-i", imagesTs, "-o", out, "-m", modelFolder, "-f", "0", "--continue_prediction", "--disable_progress_bar", "--disable_tta"]));
    expect(statSync(path.join(out, "Tiny_000.nii.gz")).mtimeMs).toBe(before);
  });

  it("Model.load(folder).predict(file) returns the same labels as the CLI", async () => {
    const model = await Model.load(modelFolder, { folds: [0, 1], tta: false });
    const v = await model.predict(path.join(imagesTs, "Tiny_000_0000.nii.gz"));
    model.dispose();
    const written = await readSeg(path.join(root, "out", "Tiny_000.nii.gz"), "NibabelIO");
    expect(v.shape).toEqual(written.shape.slice(1));
    expect(Array.from(v.data)).toEqual(Array.from(written.data));
    expect(v.labels).toEqual(datasetJson.labels);
  });
});

describe("Model.load({ dataset, trainer, plans, configuration })", () => {
  it("finds the model under $nnUNet_results/DatasetXXX_Name/<trainer>__<plans>__<configuration>", async () => {
    const results = path.join(root, "results");
    mkdirSync(path.join(results, "Dataset900_Tiny"), { recursive: true });
    symlinkSync(modelFolder, path.join(results, "Dataset900_Tiny", "PretrainedTrainer__nnUNetPlans__3d_fullres"));
    const model = await Model.load({ dataset: 900, trainer: "PretrainedTrainer", configuration: "3d_fullres", folds: [1], paths: { nnUNet_results: results } });
    expect(model.folder).toBe(path.join(results, "Dataset900_Tiny", "PretrainedTrainer__nnUNetPlans__3d_fullres"));
    expect(model.predictor.listOfParameters.length).toBe(1);
    expect(model.predictor.trainerName).toBe("PretrainedTrainer");
    expect(model.predictor.allowedMirroringAxes).toEqual([0, 1, 2]);
    model.dispose();
  });

  it("nnUNetv2_predict -d 900 -tr PretrainedTrainer -c 3d_fullres finds the same folder; -num_parts/-part_id split the cases", async () => {
    const out = path.join(root, "out-predict");
    const old = process.env.nnUNet_results;
    process.env.nnUNet_results = path.join(root, "results");
    try {
      await predictRun(
        parseArgs(predictSpec, [
          "-i",
          imagesTs,
          "-o",
          out,
          "-d",
          "900",
          "-tr",
          "PretrainedTrainer",
          "-c",
          "3d_fullres",
          "-f",
          "1",
          "--disable_tta",
          "--disable_progress_bar",
          "-num_parts",
          "2",
          "-part_id",
          "1",
        ]),
      );
    } finally {
      if (old === undefined) delete process.env.nnUNet_results;
      else process.env.nnUNet_results = old;
    }
    expect(readdirSync(out).filter((f) => f.startsWith("Tiny"))).toEqual(["Tiny_003.nii.gz"]);
  });
});

describe("prediction input errors", () => {
  it("names the case and the missing channel", async () => {
    const bad = path.join(root, "bad-channels");
    mkdirSync(bad, { recursive: true });
    copyFileSync(path.join(FIX, "imagesTr", "Tiny_000_0000.nii.gz"), path.join(bad, "Tiny_000_0001.nii.gz"));
    await expect(run(parseArgs(spec, ["-i", bad, "-o", path.join(root, "o2"), "-m", modelFolder, "-f", "0", "--disable_progress_bar"]))).rejects.toThrow(
      /bad-channels: case Tiny_000 is missing channel 0: expected Tiny_000_0000\.nii\.gz/,
    );
  });
  it("names a file with the wrong ending", async () => {
    const bad = path.join(root, "bad-ending");
    mkdirSync(bad, { recursive: true });
    copyFileSync(path.join(FIX, "imagesTr", "Tiny_000_0000.nii.gz"), path.join(bad, "Tiny_000_0000.nii.gz"));
    writeFileSync(path.join(bad, "Tiny_001_0000.nii"), "x");
    await expect(run(parseArgs(spec, ["-i", bad, "-o", path.join(root, "o3"), "-m", modelFolder, "-f", "0", "--disable_progress_bar"]))).rejects.toThrow(
      /Tiny_001_0000\.nii: file ending differs from the model's file_ending \.nii\.gz/,
    );
  });
  it("says when the model folder has no checkpoints, and which folds exist", async () => {
    const empty = path.join(root, "empty-model");
    mkdirSync(empty, { recursive: true });
    await expect(run(parseArgs(spec, ["-i", imagesTs, "-o", path.join(root, "o4"), "-m", empty, "-f", "0", "--disable_progress_bar"]))).rejects.toThrow(
      /fold_0\/checkpoint_final\.pth: checkpoint not found \(fold 0\); trained folds here: none/,
    );
    await expect(
      run(parseArgs(spec, ["-i", imagesTs, "-o", path.join(root, "o4"), "-m", modelFolder, "-f", "0", "3", "--disable_progress_bar"])),
    ).rejects.toThrow(/fold_3\/checkpoint_final\.pth: checkpoint not found \(fold 3\); trained folds here: 0, 1/);
  });
});
