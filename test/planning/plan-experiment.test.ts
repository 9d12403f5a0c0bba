import { describe, expect, it } from "vitest";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { openRawDataset } from "../../sdk/dataset/raw.js";
import { Fingerprint } from "../../sdk/fingerprint/fingerprint.js";
import { planExperiment } from "../../sdk/planning/plan-experiment.js";
import { loadPlans, savePlans } from "../../sdk/planning/plans.js";

const TINY = new URL("../fixtures/datasets/Dataset900_Tiny/", import.meta.url).pathname;

function workspace(withFingerprint = true) {
  const root = mkdtempSync(path.join(tmpdir(), "plan-"));
  const raw = path.join(root, "raw", "Dataset900_Tiny");
  for (const f of ["dataset.json", "imagesTr", "labelsTr"]) cpSync(path.join(TINY, f), path.join(raw, f), { recursive: true });
  const pre = path.join(root, "pre", "Dataset900_Tiny");
  mkdirSync(pre, { recursive: true });
  if (withFingerprint) cpSync(path.join(TINY, "expected/dataset_fingerprint.json"), path.join(pre, "dataset_fingerprint.json"));
  return { root, raw, pre, paths: { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: path.join(root, "pre") } };
}

describe("planExperiment (files)", () => {
  it.each([
    ["ExperimentPlanner", "nnUNetPlans.json", "mic_dkfz_master/nnUNetPlans.json"],
    ["nnUNetPlannerResEncL", "nnUNetResEncUNetLPlans.json", "nnUNetResEncUNetLPlans.json"],
  ])("planExperiment with %s writes %s, dataset.json, splits_final.json and gt_segmentations", async (planner, out, expected) => {
    const ws = workspace();
    try {
      writeFileSync(path.join(ws.raw, "splits_final.json"), JSON.stringify([{ train: ["Tiny_000"], val: ["Tiny_001"] }]));
      await planExperiment(await openRawDataset(900, ws.paths), { planner, paths: ws.paths });
      expect(readFileSync(path.join(ws.pre, out), "utf8")).toBe(readFileSync(path.join(TINY, "expected", expected), "utf8"));
      expect(readFileSync(path.join(ws.pre, "dataset.json"))).toEqual(readFileSync(path.join(TINY, "dataset.json")));
      expect(existsSync(path.join(ws.pre, "splits_final.json"))).toBe(true);
      expect(readdirSync(path.join(ws.pre, "gt_segmentations")).sort()).toEqual(readdirSync(path.join(TINY, "labelsTr")).sort());
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it("planExperiment keeps custom configurations of an existing plans file, after the planned ones", async () => {
    const ws = workspace();
    try {
      const file = path.join(ws.pre, "nnUNetPlans.json");
      const old = await loadPlans(path.join(TINY, "expected/mic_dkfz_master/nnUNetPlans.json"));
      old.configurations["3d_fullres"]!.batch_size = 99;
      old.configurations["3d_fullres_bs8"] = { inherits_from: "3d_fullres", batch_size: 8 };
      await savePlans(file, old);
      const plans = await planExperiment(await openRawDataset(900, ws.paths), { paths: ws.paths });
      expect(Object.keys(plans.configurations)).toEqual(["2d", "3d_fullres", "3d_fullres_bs8"]);
      expect(plans.configurations["3d_fullres"]!.batch_size).toBe(2);
      expect((await loadPlans(file)).configurations["3d_fullres_bs8"]).toEqual({ inherits_from: "3d_fullres", batch_size: 8 });
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it("planExperiment with -overwrite_plans_name / target spacing writes the renamed file", async () => {
    const ws = workspace();
    try {
      const plans = await planExperiment(await openRawDataset(900, ws.paths), {
        paths: ws.paths,
        plansName: "nnUNetPlans_iso",
        overwriteTargetSpacing: [1, 1, 1],
      });
      const saved = await loadPlans(path.join(ws.pre, "nnUNetPlans_iso.json"));
      expect(saved).toEqual(JSON.parse(JSON.stringify(plans)));
      expect(saved.configurations["3d_fullres"]!.spacing).toEqual([1, 1, 1]);
      expect(saved.configurations["3d_fullres"]!.data_identifier).toBe("nnUNetPlans_iso_3d_fullres");
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it.each([
    [
      "matching (more folds in the target is fine)",
      [
        { train: ["Tiny_001", "Tiny_000"], val: ["Tiny_002"] },
        { train: ["Tiny_002"], val: ["Tiny_000"] },
      ],
      null,
    ],
    ["different", [{ train: ["Tiny_000"], val: ["Tiny_003"] }], /splits_final\.json: fold 0 differs from/],
  ])("planExperiment with an existing %s preprocessed splits_final.json", async (_n, target, error) => {
    const ws = workspace();
    try {
      writeFileSync(path.join(ws.raw, "splits_final.json"), JSON.stringify([{ train: ["Tiny_000", "Tiny_001"], val: ["Tiny_002"] }]));
      writeFileSync(path.join(ws.pre, "splits_final.json"), JSON.stringify(target));
      const run = planExperiment(await openRawDataset(900, ws.paths), { paths: ws.paths });
      if (error) await expect(run).rejects.toThrow(error);
      else await expect(run).resolves.toBeTruthy();
      expect(JSON.parse(readFileSync(path.join(ws.pre, "splits_final.json"), "utf8"))).toEqual(target);
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it("planExperiment without a fingerprint says to extract it first", async () => {
    const ws = workspace(false);
    try {
      await expect(planExperiment(await openRawDataset(900, ws.paths), { paths: ws.paths })).rejects.toThrow(
        /dataset_fingerprint\.json: fingerprint missing for this dataset: run nnUNetv2_extract_fingerprint first/,
      );
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });

  it("planExperiment accepts an in-memory Fingerprint", async () => {
    const ws = workspace(false);
    try {
      const fp = await Fingerprint.load(path.join(TINY, "expected/dataset_fingerprint.json"));
      const plans = await planExperiment(await openRawDataset(900, ws.paths), { paths: ws.paths, fingerprint: fp, planner: "nnUNetPlannerResEncXL" });
      expect(plans.plans_name).toBe("nnUNetResEncUNetXLPlans");
      expect(plans.experiment_planner_used).toBe("nnUNetPlannerResEncXL");
    } finally {
      rmSync(ws.root, { recursive: true, force: true });
    }
  });
});
