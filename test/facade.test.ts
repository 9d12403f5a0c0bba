// The fluent SDK end to end through the public entry point (sdk/index.ts), on the committed example data:
// Dataset.load -> plan -> preprocessLike (the example MAE checkpoint) -> a one-epoch finetune -> model -> predict.
// Iteration counts are tiny; what is checked is that every step returns the right object, wired to the right files.

import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Dataset, Model, Plans, PreprocessedDataset, readImages, readSeg, type Paths, type TrainingRun } from "../sdk/index.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CHECKPOINT = path.join(ROOT, "datasets-examples", "nnssl-example-mae", "checkpoint_final.pth");
const CASE = path.join(ROOT, "datasets-examples", "Dataset001_Example", "imagesTr", "Example_001_0000.nii.gz");

describe("the fluent SDK on Dataset001_Example", () => {
  let paths: Paths;
  beforeAll(() => {
    const work = mkdtempSync(path.join(tmpdir(), "nnssl-facade-"));
    paths = {
      nnUNet_raw: path.join(ROOT, "datasets-examples"),
      nnUNet_preprocessed: path.join(work, "nnUNet_preprocessed"),
      nnUNet_results: path.join(work, "nnUNet_results"),
      nnssl_pretrained_models: path.join(work, "nnssl_pretrained_models"),
    };
  });

  let ds: Dataset;
  it("Dataset.load resolves the id in $nnUNet_raw", async () => {
    ds = await Dataset.load(1, { paths });
    expect(ds).toBeInstanceOf(Dataset);
    expect(ds.name).toBe("Dataset001_Example");
    expect(ds.identifiers).toHaveLength(12);
    expect(ds.preprocessedFolder).toBe(path.join(paths.nnUNet_preprocessed!, "Dataset001_Example"));
  }, 600_000);

  let plans: Plans;
  it("plan() writes the fingerprint and nnUNetPlans.json, and a second plan() reads them back", async () => {
    plans = await ds.plan();
    expect(plans).toBeInstanceOf(Plans);
    expect(plans.name).toBe("nnUNetPlans");
    expect(plans.file).toBe(path.join(ds.preprocessedFolder, "nnUNetPlans.json"));
    expect(plans.configurations).toContain("3d_fullres");
    expect(existsSync(path.join(ds.preprocessedFolder, "dataset_fingerprint.json"))).toBe(true);
    const mtime = statSync(plans.file).mtimeMs;
    const again = await Dataset.load("Dataset001_Example", { paths }).plan();
    expect(again.json).toEqual(plans.json);
    expect(statSync(again.file).mtimeMs).toBe(mtime);
  }, 600_000);

  let pre: PreprocessedDataset;
  it("preprocessLike() writes the adapted ptPlans and one preprocessed file set per case", async () => {
    pre = await plans.preprocessLike(CHECKPOINT, { name: "ExampleMAE", mode: "like_pretrained", numWorkers: 1 });
    expect(pre).toBeInstanceOf(PreprocessedDataset);
    expect(pre.configuration).toBe("3d_fullres");
    expect(pre.plans.name).toMatch(/^ptPlans__ExampleMAE____/);
    expect(existsSync(pre.plans.file)).toBe(true);
    expect(pre.cases!.numRows()).toBe(12);
    expect(pre.cases!.array("identifier")).toEqual([...ds.identifiers]);
    const npy = readdirSync(pre.folder).filter((f) => f.endsWith(".npy") && !f.endsWith("_seg.npy"));
    expect(npy.map((f) => f.slice(0, -4)).sort()).toEqual([...ds.identifiers].sort());
  }, 600_000);

  let run: TrainingRun;
  let model: Model;
  it("finetune() trains one epoch from the checkpoint's encoder; model() opens the run's fold", async () => {
    const pending = pre.finetune({
      trainer: "PretrainedTrainer_1epoch",
      numIterationsPerEpoch: 1,
      numValIterationsPerEpoch: 1,
      numWorkers: 0,
      seed: 1,
      skipValidation: true,
    });
    run = await pending;
    expect(run.trainerName).toBe("PretrainedTrainer_1epoch");
    expect(run.plansName).toBe(pre.plans.name);
    expect(run.fold).toBe(0);
    expect(run.epochsRun).toBe(1);
    expect(run.outputFolderBase).toBe(path.join(paths.nnUNet_results!, "Dataset001_Example", `PretrainedTrainer_1epoch__${pre.plans.name}__3d_fullres`));
    expect(run.checkpointFinal).toBe(path.join(run.outputFolder, "checkpoint_final.pth"));
    expect(existsSync(run.checkpointFinal!)).toBe(true);
    expect(run.transfer!.encoder.keys.length).toBeGreaterThan(0);
    expect(run.logging.train_losses).toHaveLength(1);
    expect(Number.isFinite(run.logging.train_losses[0])).toBe(true);
    model = await pending.model({ tta: false });
    expect(model).toBeInstanceOf(Model);
    expect(model.folder).toBe(run.outputFolderBase);
    expect(model.numInputChannels).toBe(1);
  }, 600_000);

  it("model.predict() returns labels in the input's geometry, and save() writes them", async () => {
    const image = await readImages([CASE]);
    const seg = await model.predict(CASE);
    expect(seg.shape).toEqual(image.shape.slice(1));
    expect(seg.data.length).toBe(image.shape.slice(1).reduce((a, b) => a * b, 1));
    expect(seg.labels).toEqual(ds.raw.datasetJson.labels);
    expect(new Set(seg.data).size).toBeGreaterThan(0);
    for (const v of new Set(seg.data)) expect([0, 1, 2]).toContain(v);
    const out = path.join(paths.nnUNet_results!, "Example_001.nii.gz");
    await seg.save(out);
    const back = await readSeg(out);
    expect(back.shape.slice(1)).toEqual(seg.shape);
    expect(Array.from(back.data, Number)).toEqual(Array.from(seg.data));
    model.dispose();
  }, 600_000);
});
