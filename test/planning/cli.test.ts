import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "../../sdk/cli/argparse.js";
import * as extract from "../../sdk/cli/commands/extract-fingerprint.js";
import * as planAndPreprocess from "../../sdk/cli/commands/plan-and-preprocess.js";
import * as plan from "../../sdk/cli/commands/plan-experiment.js";

const TINY = new URL("../fixtures/datasets/Dataset900_Tiny/", import.meta.url).pathname;
let root = "";
const saved: Record<string, string | undefined> = {};

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "cli-"));
  const raw = path.join(root, "raw", "Dataset900_Tiny");
  for (const f of ["dataset.json", "imagesTr", "labelsTr"]) cpSync(path.join(TINY, f), path.join(raw, f), { recursive: true });
  mkdirSync(path.join(root, "pre", "Dataset900_Tiny"), { recursive: true });
  cpSync(path.join(TINY, "expected/dataset_fingerprint.json"), path.join(root, "pre", "Dataset900_Tiny", "dataset_fingerprint.json"));
  for (const k of ["nnUNet_raw", "nnUNet_preprocessed"]) saved[k] = process.env[k];
  process.env.nnUNet_raw = path.join(root, "raw");
  process.env.nnUNet_preprocessed = path.join(root, "pre");
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(root, { recursive: true, force: true });
});

const pre = (f: string) => path.join(root, "pre", "Dataset900_Tiny", f);

describe("CLI argument specs", () => {
  it.each([
    [extract.spec, ["-d", "900", "4", "-np", "3", "--clean"], { d: [900, 4], np: 3, clean: true, verify_dataset_integrity: false }],
    [
      plan.spec,
      ["-d", "900", "-pl", "nnUNetPlannerResEncL", "-gpu_memory_target", "12.5", "-overwrite_target_spacing", "2", "1", "1"],
      { d: [900], pl: "nnUNetPlannerResEncL", gpu_memory_target: 12.5, overwrite_target_spacing: [2, 1, 1], overwrite_plans_name: null },
    ],
    [
      planAndPreprocess.spec,
      ["-d", "900", "--no_pp", "-c", "3d_fullres", "-np", "2"],
      { d: [900], no_pp: true, c: ["3d_fullres"], np: [2], pl: "ExperimentPlanner", npfp: 8 },
    ],
  ])("parseArgs(%s.prog, argv) gives upstream's dests and defaults", (spec, argv, expected) => {
    const args = parseArgs(spec, argv);
    for (const [k, v] of Object.entries(expected)) expect([k, args[k]]).toEqual([k, v]);
  });
});

describe("nnUNetv2_plan_experiment / nnUNetv2_plan_and_preprocess run()", () => {
  it("plan-experiment run(-d 900 -pl nnUNetPlannerResEncL) writes upstream's plans file", async () => {
    await plan.run(parseArgs(plan.spec, ["-d", "900", "-pl", "nnUNetPlannerResEncL"]));
    expect(readFileSync(pre("nnUNetResEncUNetLPlans.json"), "utf8")).toBe(readFileSync(path.join(TINY, "expected/nnUNetResEncUNetLPlans.json"), "utf8"));
  });

  it.each([
    [["-d", "900", "-pl", "nnUNetPlannerResEncXXL"], /unknown experiment planner "nnUNetPlannerResEncXXL" \(known: ExperimentPlanner, /],
    [["-d", "900", "-overwrite_target_spacing", "1", "1"], /needs 3 values/],
    [["-d", "901"], /901/],
  ])("plan-experiment run(%j) fails with a one-line error", async (argv, re) => {
    await expect(plan.run(parseArgs(plan.spec, argv))).rejects.toThrow(re);
  });

  it("plan-and-preprocess run(--no_pp) reuses the fingerprint and plans without preprocessing", async () => {
    await planAndPreprocess.run(parseArgs(planAndPreprocess.spec, ["-d", "900", "--no_pp", "-npfp", "1"]));
    expect(readFileSync(pre("nnUNetPlans.json"), "utf8")).toBe(readFileSync(path.join(TINY, "expected/mic_dkfz_master/nnUNetPlans.json"), "utf8"));
    expect(existsSync(pre("nnUNetPlans_3d_fullres"))).toBe(false);
  });

  it("plan-and-preprocess run(-c 3d_fullres -np 1) preprocesses every case and copies the labels", async () => {
    await planAndPreprocess.run(parseArgs(planAndPreprocess.spec, ["-d", "900", "-npfp", "1", "-c", "3d_fullres", "-np", "1"]));
    expect([readdirSync(pre("nnUNetPlans_3d_fullres")).filter((f) => f.endsWith("_seg.npy")).length, readdirSync(pre("gt_segmentations")).length]).toEqual([
      5, 5,
    ]);
  });

  it("extract-fingerprint run(--verify_dataset_integrity) on a dataset with a missing label ends with the integrity error", async () => {
    rmSync(path.join(root, "raw", "Dataset900_Tiny", "labelsTr", "Tiny_003.nii.gz"));
    await expect(extract.run(parseArgs(extract.spec, ["-d", "900", "--verify_dataset_integrity", "--clean", "-np", "1"]))).rejects.toThrow(/Tiny_003/);
  });
});
