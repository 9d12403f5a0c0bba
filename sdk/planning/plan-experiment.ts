// plan_experiment_dataset (nnunetv2/experiment_planning/plan_and_preprocess_api.py) with the planner's file side:
// reads the fingerprint, plans, merges an existing plans file's custom configurations, and puts dataset.json,
// splits_final.json (if the raw folder has one) and gt_segmentations/ next to the plans.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import type { Paths } from "../config/env.js";
import { ConfigError } from "../errors.js";
import type { RawDataset } from "../dataset/raw.js";
import { preprocessedDatasetFolder } from "../config/folders.js";
import { Fingerprint } from "../fingerprint/fingerprint.js";
import { copyFileAtomic, exists, readJson } from "../util/fs.js";
import type { PlannerOptions } from "./experiment-planner.js";
import { getPlanner, type PlannerClass } from "./planners.js";
import { loadPlans, savePlans, type Plans } from "./plans.js";
import { checkOptionalNumber, checkSpacing } from "../util/check-options.js";

export interface PlanExperimentOptions extends PlannerOptions {
  /** A name from PLANNERS (`-pl`) or a planner class; default ExperimentPlanner. */
  planner?: string | PlannerClass;
  /** Use this fingerprint instead of reading dataset_fingerprint.json. */
  fingerprint?: Fingerprint;
  paths?: Paths;
}

/**
 * Plans `ds` with the chosen planner and writes `$nnUNet_preprocessed/<Dataset>/<plans_name>.json`.
 * Configurations of an existing plans file that the planner does not produce (custom ones) are kept, after the new ones.
 * @example const plans = await planExperiment(await openRawDataset(900), { planner: "nnUNetPlannerResEncM" })
 */
export async function planExperiment(ds: RawDataset, opts: PlanExperimentOptions = {}): Promise<Plans> {
  const { planner = "ExperimentPlanner", paths = {}, ...plannerOpts } = opts;
  checkOptionalNumber(plannerOpts.gpuMemoryTargetInGb, "gpuMemoryTargetInGb", { gt: 0 });
  if (plannerOpts.overwriteTargetSpacing !== undefined && plannerOpts.overwriteTargetSpacing !== null) {
    checkSpacing(plannerOpts.overwriteTargetSpacing, "overwriteTargetSpacing");
  }
  const cls = typeof planner === "string" ? getPlanner(planner) : planner;
  const folder = preprocessedDatasetFolder(ds, paths);
  const fingerprintFile = path.join(folder, "dataset_fingerprint.json");
  let fingerprint = opts.fingerprint;
  if (!fingerprint) {
    if (!(await exists(fingerprintFile))) {
      throw new ConfigError("fingerprint missing for this dataset: run nnUNetv2_extract_fingerprint first", { file: fingerprintFile });
    }
    fingerprint = await Fingerprint.load(fingerprintFile, ds.identifiers);
  }
  const instance = new cls(
    { datasetName: ds.name, datasetJson: ds.datasetJson, fingerprint: fingerprint.json, imageReaderWriter: ds.readerWriter },
    {
      overwriteTargetSpacing: plannerOpts.overwriteTargetSpacing,
      gpuMemoryTargetInGb: plannerOpts.gpuMemoryTargetInGb,
      plansName: plannerOpts.plansName,
      preprocessorName: plannerOpts.preprocessorName,
      suppressTranspose: plannerOpts.suppressTranspose,
    },
  );
  const plans = instance.planExperiment();

  await copyFileAtomic(path.join(ds.folder, "dataset.json"), path.join(folder, "dataset.json"));
  const splits = path.join(ds.folder, "splits_final.json");
  if (await exists(splits)) await maybeCopySplitsFile(splits, path.join(folder, "splits_final.json"));

  const plansFile = path.join(folder, `${plans.plans_name}.json`);
  if (await exists(plansFile)) {
    const old = await loadPlans(plansFile);
    for (const [name, c] of Object.entries(old.configurations)) if (!(name in plans.configurations)) plans.configurations[name] = c;
  }
  await savePlans(plansFile, plans);
  await copyGtSegmentations(ds, path.join(folder, "gt_segmentations"));
  return plans;
}

type Splits = { train: string[]; val: string[] }[];

/**
 * _maybe_copy_splits_file: copies the raw folder's splits_final.json, or, if the preprocessed folder already has one,
 * checks that every fold of the raw file has the same train / val sets there (the target may have more folds).
 */
async function maybeCopySplitsFile(src: string, dst: string): Promise<void> {
  if (!(await exists(dst))) return copyFileAtomic(src, dst);
  const source = await readJson<Splits>(src);
  const target = await readJson<Splits>(dst);
  const same = (a: string[] = [], b: string[] = []) => {
    const A = new Set(a);
    const B = new Set(b);
    return A.size === B.size && [...A].every((x) => B.has(x));
  };
  source.forEach((fold, i) => {
    const t = target[i];
    if (!t || !same(fold.train, t.train) || !same(fold.val, t.val)) {
      throw new ConfigError(`fold ${i} differs from ${src}; remove one of the two splits files`, { file: dst });
    }
  });
}

/** Copies every training label to gt_segmentations/<case><file_ending> (validation works without the raw data). */
export async function copyGtSegmentations(ds: RawDataset, dest: string): Promise<void> {
  await fsp.mkdir(dest, { recursive: true });
  for (const id of ds.identifiers) {
    const src = ds.cases[id]!.label;
    if (src) await copyFileAtomic(src, path.join(dest, id + ds.datasetJson.file_ending));
  }
}
