// nnUNetv2_preprocess's API (nnunetv2/experiment_planning/plan_and_preprocess_api.py::preprocess / preprocess_dataset):
// runs DefaultPreprocessor for each requested configuration of a plans file, then copies gt_segmentations.

import * as path from "node:path";
import { ConfigError } from "../errors.js";
import { checkIntOrList } from "../util/check-options.js";
import type { Paths } from "../config/env.js";
import { openRawDataset } from "../dataset/raw.js";
import { loadPlans } from "../planning/plans.js";
import type { ProgressCallback } from "../util/progress.js";
import { preprocessedDatasetFolder } from "../config/folders.js";
import { copyGtSegmentations, runPreprocessing } from "./run-preprocessing.js";
import type { PreprocessedFormat } from "./nnunet-format.js";
import type { PreprocessCaseSummary } from "./preprocess-case-task.js";

/** Upstream's defaults: `-c 2d 3d_fullres 3d_lowres`, `-np 8 4 8`. */
export const DEFAULT_CONFIGURATIONS: readonly string[] = ["2d", "3d_fullres", "3d_lowres"];
export const DEFAULT_NUM_PROCESSES: readonly number[] = [8, 4, 8];

export interface PreprocessOptions {
  /** Plans identifier (file name without .json); default nnUNetPlans. */
  plansName?: string;
  configurations?: readonly string[];
  /** One number for all configurations, or one per configuration (like `-np 8 4 8`). */
  numWorkers?: number | readonly number[];
  paths?: Paths;
  onProgress?: ProgressCallback;
  /** Called with upstream's informational lines ("Configuration: 3d_fullres..."). */
  log?: (line: string) => void;
  /** "npy" (default) or "npz" (Python nnU-Net master's numpy dataset layout); see runPreprocessing. */
  format?: PreprocessedFormat;
}

/**
 * Preprocesses dataset `datasetIdOrName` for each configuration of `$nnUNet_preprocessed/<Dataset>/<plansName>.json`
 * that exists (others are skipped with upstream's INFO line); returns the per-case summaries per configuration.
 * Matches `preprocess` in nnU-Net's `plan_and_preprocess_api.py` (data folders are rebuilt from scratch).
 * @example await preprocess(900, { plansName: "nnUNetPlans", configurations: ["3d_fullres"], numWorkers: 2 })
 */
export async function preprocess(
  datasetIdOrName: number | string,
  {
    plansName = "nnUNetPlans",
    configurations = DEFAULT_CONFIGURATIONS,
    numWorkers = DEFAULT_NUM_PROCESSES,
    paths,
    onProgress,
    log = () => {},
    format,
  }: PreprocessOptions = {},
): Promise<Record<string, PreprocessCaseSummary[]>> {
  const checked = checkIntOrList(numWorkers, "numWorkers", { min: 1 });
  let np = typeof checked === "number" ? [checked] : checked;
  if (np.length === 1) np = configurations.map(() => np[0]!);
  if (np.length !== configurations.length) {
    throw new ConfigError(
      `The list provided with num_processes must either have len 1 or as many elements as there are configurations (see --help). Number of configurations: ${configurations.length}, length of num_processes: ${np.length}`,
    );
  }
  const ds = await openRawDataset(datasetIdOrName, paths);
  log(`Preprocessing dataset ${ds.name}`);
  const plans = await loadPlans(path.join(preprocessedDatasetFolder(ds, paths), `${plansName}.json`));
  const out: Record<string, PreprocessCaseSummary[]> = {};
  for (let i = 0; i < configurations.length; i++) {
    const c = configurations[i]!;
    log(`Configuration: ${c}...`);
    if (!(c in plans.configurations)) {
      log(`INFO: Configuration ${c} not found in plans file ${plansName}.json of dataset ${ds.name}. Skipping.`);
      continue;
    }
    out[c] = await runPreprocessing(ds, plans, c, { numWorkers: np[i]!, overwrite: true, paths, onProgress, ...(format ? { format } : {}) });
  }
  // copy the gt to a folder in the nnUNet_preprocessed so that we can do validation even if the raw data is no longer there
  await copyGtSegmentations(ds, paths);
  return out;
}
