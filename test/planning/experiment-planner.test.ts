import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ExperimentPlanner, type PlannerInput } from "../../sdk/planning/experiment-planner.js";
import { getPlanner, PLANNERS } from "../../sdk/planning/planners.js";
import { formatPlans, resolveConfiguration, type Plans } from "../../sdk/planning/plans.js";
import type { FingerprintJson } from "../../sdk/fingerprint/fingerprint-json.js";

const TINY = new URL("../fixtures/datasets/Dataset900_Tiny/", import.meta.url).pathname;
const readJson = (f: string) => JSON.parse(readFileSync(f, "utf8"));

function tinyInput(): PlannerInput {
  return {
    datasetName: "Dataset900_Tiny",
    datasetJson: { channel_names: { "0": "MR" }, labels: { background: 0, region_a: 1, region_b: 2 }, numTraining: 5 },
    fingerprint: readJson(path.join(TINY, "expected/dataset_fingerprint.json")),
    imageReaderWriter: "NibabelIO",
  };
}

const intensity = { "0": { max: 1, mean: 0.5, median: 0.5, min: 0, percentile_00_5: 0, percentile_99_5: 1, std: 0.1 } };

/** A fingerprint written directly (intensity properties do not matter to planning). */
function synthetic(spacings: number[][], shapes: number[][], channels: string[], labels: string[], rel: number): PlannerInput {
  const fingerprint: FingerprintJson = {
    spacings,
    shapes_after_crop: shapes,
    foreground_intensity_properties_per_channel: intensity,
    median_relative_size_after_cropping: rel,
  };
  return {
    datasetName: "Dataset999_Synthetic",
    datasetJson: {
      channel_names: Object.fromEntries(channels.map((c, i) => [String(i), c])),
      labels: Object.fromEntries(["background", ...labels].map((l, i) => [l, i])),
      numTraining: spacings.length,
    },
    fingerprint,
    imageReaderWriter: "SimpleITKIO",
  };
}

const caseA = () =>
  synthetic(
    [
      [3, 0.7, 0.7],
      [3.5, 0.7, 0.7],
      [4, 0.75, 0.75],
      [3, 0.8, 0.8],
      [5, 0.7, 0.7],
    ],
    [
      [20, 300, 300],
      [24, 320, 320],
      [18, 256, 256],
      [30, 280, 280],
      [16, 300, 300],
    ],
    ["T2"],
    ["a"],
    0.8,
  );
const caseB = () =>
  synthetic(
    [
      [1.5, 0.8, 0.8],
      [1, 0.7, 0.7],
      [2, 0.9, 0.9],
      [1.25, 0.75, 0.75],
      [1.5, 0.8, 0.8],
    ],
    [
      [200, 400, 400],
      [300, 450, 450],
      [120, 380, 380],
      [250, 420, 420],
      [180, 400, 400],
    ],
    ["CT"],
    ["a", "b"],
    0.9,
  );

const plan = (name: string, input: PlannerInput): Plans => new (getPlanner(name))(input).planExperiment();
const conf = (p: Plans, c: string) => resolveConfiguration(p, c);

describe("planExperiment on Dataset900_Tiny", () => {
  it.each([
    ["ExperimentPlanner", "mic_dkfz_master/nnUNetPlans.json"],
    ["nnUNetPlannerResEncL", "nnUNetResEncUNetLPlans.json"],
  ])("planExperiment with %s reproduces upstream's %s byte for byte", (planner, file) => {
    const expected = readFileSync(path.join(TINY, "expected", file), "utf8");
    expect(formatPlans(plan(planner, tinyInput()))).toBe(expected);
  });

  it("planExperiment with ExperimentPlanner agrees with the fork's file everywhere but the 2d spacing quirk", () => {
    const fork = readJson(path.join(TINY, "expected/nnUNetPlans.json"));
    const ours = JSON.parse(formatPlans(plan("ExperimentPlanner", tinyInput())));
    expect(fork.configurations["2d"].spacing).toEqual([null, ...ours.configurations["2d"].spacing]);
    fork.configurations["2d"].spacing = ours.configurations["2d"].spacing;
    expect(ours).toEqual(fork);
  });
});

describe("planExperiment (vectors from upstream's ExperimentPlanner)", () => {
  it.each([
    [
      "A ExperimentPlanner 3d_fullres",
      "ExperimentPlanner",
      caseA,
      "3d_fullres",
      {
        batch_size: 2,
        patch_size: [28, 256, 256],
        median_image_size_in_voxels: [27, 300, 300],
        spacing: [3, 0.7, 0.7],
        strides: [
          [1, 1, 1],
          [1, 2, 2],
          [1, 2, 2],
          [2, 2, 2],
          [2, 2, 2],
          [1, 2, 2],
          [1, 2, 2],
        ],
        kernel_sizes: [
          [1, 3, 3],
          [1, 3, 3],
          [3, 3, 3],
          [3, 3, 3],
          [3, 3, 3],
          [3, 3, 3],
          [3, 3, 3],
        ],
        batch_dice: false,
      },
    ],
    [
      "A ExperimentPlanner 2d",
      "ExperimentPlanner",
      caseA,
      "2d",
      {
        batch_size: 6,
        patch_size: [320, 320],
        strides: [
          [1, 1],
          [2, 2],
          [2, 2],
          [2, 2],
          [2, 2],
          [2, 2],
          [2, 2],
        ],
        kernel_sizes: Array(7).fill([3, 3]),
      },
    ],
    [
      "A ResEncM 3d_fullres",
      "nnUNetPlannerResEncM",
      caseA,
      "3d_fullres",
      {
        batch_size: 2,
        patch_size: [24, 256, 256],
        strides: [
          [1, 1, 1],
          [1, 2, 2],
          [1, 2, 2],
          [2, 2, 2],
          [2, 2, 2],
          [1, 2, 2],
          [1, 2, 2],
        ],
      },
    ],
    ["A ResEncM 2d", "nnUNetPlannerResEncM", caseA, "2d", { batch_size: 32, patch_size: [320, 320] }],
    ["B ExperimentPlanner 2d", "ExperimentPlanner", caseB, "2d", { batch_size: 16, patch_size: [448, 448], n_stages: 7 }],
    [
      "B ExperimentPlanner 3d_fullres",
      "ExperimentPlanner",
      caseB,
      "3d_fullres",
      {
        batch_size: 2,
        patch_size: [96, 160, 160],
        spacing: [1.5, 0.8, 0.8],
        median_image_size_in_voxels: [200, 400, 400],
        strides: [
          [1, 1, 1],
          [2, 2, 2],
          [2, 2, 2],
          [2, 2, 2],
          [2, 2, 2],
          [1, 2, 2],
        ],
        kernel_sizes: Array(6).fill([3, 3, 3]),
        batch_dice: true,
        normalization_schemes: ["CTNormalization"],
        use_mask_for_norm: [false],
      },
    ],
    [
      "B ExperimentPlanner 3d_lowres",
      "ExperimentPlanner",
      caseB,
      "3d_lowres",
      {
        batch_size: 2,
        patch_size: [96, 160, 160],
        median_image_size_in_voxels: [132, 264, 264],
        batch_dice: false,
        next_stage: "3d_cascade_fullres",
      },
    ],
    ["B ExperimentPlanner 3d_cascade_fullres", "ExperimentPlanner", caseB, "3d_cascade_fullres", { previous_stage: "3d_lowres", patch_size: [96, 160, 160] }],
    ["B ResEncM 3d_fullres", "nnUNetPlannerResEncM", caseB, "3d_fullres", { batch_size: 2, patch_size: [96, 160, 160] }],
    ["B ResEncM 3d_lowres", "nnUNetPlannerResEncM", caseB, "3d_lowres", { batch_size: 2, patch_size: [96, 160, 160] }],
    ["B ResEncM 2d", "nnUNetPlannerResEncM", caseB, "2d", { patch_size: [448, 448] }],
  ])("planExperiment case %s", (_n, planner, input, c, expected) => {
    const got = conf(plan(planner, input()), c);
    const flat: Record<string, unknown> = { ...got, ...got.architecture.arch_kwargs };
    for (const [k, v] of Object.entries(expected)) expect([k, flat[k]]).toEqual([k, v]);
  });

  it.each([
    ["ExperimentPlanner", 2],
    ["nnUNetPlannerResEncM", 13],
  ])("planExperiment hippocampus-like (20 cases 34x50x35 at 1 mm) with %s: patch (40,56,40), 4 stages, bs %d", (planner, bs) => {
    const input = synthetic(Array(20).fill([1, 1, 1]), Array(20).fill([34, 50, 35]), ["MRI"], ["anterior", "posterior"], 1);
    const c = conf(plan(planner, input), "3d_fullres");
    expect([c.patch_size, c.architecture.arch_kwargs.n_stages, c.batch_size]).toEqual([[40, 56, 40], 4, bs]);
  });

  it("planExperiment prostate-like (2 z-scored channels, rel 0.6) uses the mask for both channels", () => {
    const input = synthetic(Array(20).fill([3, 0.6, 0.6]), Array(20).fill([20, 320, 320]), ["T2", "ADC"], ["pz", "tz"], 0.6);
    const p = plan("ExperimentPlanner", input);
    const c = conf(p, "3d_fullres");
    expect([c.normalization_schemes, c.use_mask_for_norm, c.spacing[0]]).toEqual([["ZScoreNormalization", "ZScoreNormalization"], [true, true], 3]);
  });

  it.each([
    [0.9, undefined, [false, false]],
    [0.9, true, [true, false]],
    [0.5, undefined, [true, false]],
  ])("planExperiment use_mask_for_norm with relative size %d and dataset.json use_mask_for_norm %s", (rel, key, expected) => {
    const input = synthetic(Array(5).fill([1, 1, 1]), Array(5).fill([64, 64, 64]), ["T1", "ct"], ["a"], rel);
    if (key !== undefined) input.datasetJson.use_mask_for_norm = key;
    const c = conf(plan("ExperimentPlanner", input), "3d_fullres");
    expect([c.normalization_schemes, c.use_mask_for_norm]).toEqual([["ZScoreNormalization", "CTNormalization"], expected]);
  });

  it.each([
    ["ResEncUNetPlanner", "nnUNetResEncUNetPlans", "n_blocks_per_stage"],
    ["nnUNetPlannerResEncXL", "nnUNetResEncUNetXLPlans", "n_blocks_per_stage"],
    ["ExperimentPlanner", "nnUNetPlans", "n_conv_per_stage"],
  ])("planExperiment with %s: plans name, encoder key and patches divisible by the strides", (planner, plansName, key) => {
    const p = plan(planner, caseB());
    expect([p.plans_name, p.experiment_planner_used]).toEqual([plansName, planner]);
    for (const name of Object.keys(p.configurations).filter((n) => n !== "3d_cascade_fullres")) {
      const c = conf(p, name);
      expect(c.architecture.arch_kwargs[key]).toHaveLength(c.architecture.arch_kwargs.n_stages);
      const div = c.architecture.arch_kwargs.strides.reduce(
        (acc, s) => acc.map((a, i) => a * s[i]!),
        c.patch_size.map(() => 1),
      );
      expect(c.patch_size.every((s, i) => s % div[i]! === 0)).toBe(true);
      expect(c.batch_size).toBeGreaterThanOrEqual(2);
    }
  });

  it("planExperiment case A: target spacing, transpose and original medians", () => {
    const p = plan("ExperimentPlanner", caseA());
    expect([p.transpose_forward, p.original_median_spacing_after_transp, p.original_median_shape_after_transp]).toEqual([
      [0, 1, 2],
      [3.5, 0.7, 0.7],
      [20, 300, 300],
    ]);
    expect(Object.keys(p.configurations)).toEqual(["2d", "3d_fullres"]);
  });

  it("planExperiment case B: lowres spacing", () => {
    const s = conf(plan("ExperimentPlanner", caseB()), "3d_lowres").spacing;
    expect(s.map((x) => +x.toFixed(5))).toEqual([2.26888, 1.21007, 1.21007]);
  });

  it("planExperiment ResEnc data identifiers share nnUNetPlans' 2d / 3d_fullres data", () => {
    const p = plan("nnUNetPlannerResEncM", caseB());
    expect(Object.fromEntries(Object.entries(p.configurations).map(([k, v]) => [k, v.data_identifier]))).toEqual({
      "2d": "nnUNetPlans_2d",
      "3d_lowres": "nnUNetResEncUNetMPlans_3d_lowres",
      "3d_fullres": "nnUNetPlans_3d_fullres",
      "3d_cascade_fullres": undefined,
    });
  });

  it("planExperiment with overwriteTargetSpacing and plansName", () => {
    const p = new ExperimentPlanner(caseA(), { overwriteTargetSpacing: [2, 1, 1], plansName: "myPlans" }).planExperiment();
    expect(conf(p, "3d_fullres").spacing).toEqual([2, 1, 1]);
    expect(conf(p, "3d_fullres").data_identifier).toBe("myPlans_3d_fullres");
  });

  it("planExperiment: larger gpu memory target gives a larger 3d patch", () => {
    const small = conf(new ExperimentPlanner(caseB()).planExperiment(), "3d_fullres").patch_size;
    const large = conf(new ExperimentPlanner(caseB(), { gpuMemoryTargetInGb: 24 }).planExperiment(), "3d_fullres").patch_size;
    expect(large.reduce((a, b) => a * b)).toBeGreaterThan(small.reduce((a, b) => a * b));
  });

  it("getPlanner with an unknown name lists the known planners", () => {
    expect(() => getPlanner("nnUNetPlannerResEncXXL")).toThrow(new RegExp(Object.keys(PLANNERS).join(", ")));
  });
});
