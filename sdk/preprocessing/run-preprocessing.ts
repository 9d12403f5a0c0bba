// DefaultPreprocessor.run: every case of a raw dataset into $nnUNet_preprocessed/<Dataset>/<data_identifier>/, in
// worker threads (upstream's -np processes), plus the gt_segmentations copy that validation reads.

import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Paths } from "../config/env.js";
import { requirePath } from "../config/env.js";
import type { RawDataset } from "../dataset/raw.js";
import { resolveConfiguration, type Plans } from "../planning/plans.js";
import { copyFileAtomic } from "../util/fs.js";
import { mapInWorkers } from "../util/pool.js";
import { noProgress, type ProgressCallback } from "../util/progress.js";
import { keyword } from "../errors.js";
import { PREPROCESSED_FORMATS, type PreprocessedFormat } from "./nnunet-format.js";
import { readerWriterFor, type PreprocessCaseInput, type PreprocessCaseSummary } from "./preprocess-case-task.js";

const TASK_MODULE = new URL("./preprocess-case-task.js", import.meta.url);

export interface RunPreprocessingOptions {
  /** Worker threads (upstream's -np); capped by the number of cores. */
  numWorkers?: number;
  /** true: delete the data folder first and redo every case (nnUNetv2_preprocess); false: skip finished cases. */
  overwrite?: boolean;
  paths?: Paths;
  onProgress?: ProgressCallback;
  /** "npy" (default): <case>.npy, _seg.npy, .json; "npz": <case>.npz + .pkl, which Python nnU-Net master loads. */
  format?: PreprocessedFormat;
}

/** `$nnUNet_preprocessed/<Dataset>/` */
export function preprocessedDatasetFolder(ds: Pick<RawDataset, "name">, paths?: Paths): string {
  return path.join(requirePath("nnUNet_preprocessed", paths), ds.name);
}

/**
 * Preprocesses all cases of `ds` for one configuration of `plans`; returns one summary per case in identifier order.
 * @example await runPreprocessing(ds, plans, "3d_fullres", { numWorkers: 2, overwrite: true })
 */
export async function runPreprocessing(
  ds: RawDataset,
  plans: Plans,
  configurationName: string,
  { numWorkers = 4, overwrite = true, paths, onProgress = noProgress, format = "npy" }: RunPreprocessingOptions = {},
): Promise<PreprocessCaseSummary[]> {
  keyword(format, "format", PREPROCESSED_FORMATS);
  const cfg = resolveConfiguration(plans, configurationName);
  const outputFolder = path.join(preprocessedDatasetFolder(ds, paths), cfg.data_identifier);
  if (overwrite) await fsp.rm(outputFolder, { recursive: true, force: true });
  await fsp.mkdir(outputFolder, { recursive: true });
  const readerWriter = readerWriterFor(plans, ds.readerWriter);
  const inputs: PreprocessCaseInput[] = ds.identifiers.map((identifier) => ({
    identifier,
    images: ds.cases[identifier]!.images,
    label: ds.cases[identifier]!.label,
    outputFolder,
    plans,
    configurationName,
    datasetJson: ds.datasetJson,
    readerWriter,
    overwrite,
    format,
  }));
  const task = `preprocess ${configurationName}`;
  onProgress({ task, done: 0, total: inputs.length });
  const workers = Math.max(1, Math.min(numWorkers, os.availableParallelism()));
  return mapInWorkers<PreprocessCaseInput, PreprocessCaseSummary>(TASK_MODULE, "preprocessCaseTask", inputs, {
    numWorkers: workers,
    onProgress: (done, total) => onProgress({ task, done, total }),
  });
}

/**
 * Copies the training labels to `<preprocessed dataset>/gt_segmentations/<case><file_ending>` so validation works even
 * if the raw data is no longer there; only files that are missing or older than the source are copied (update=True).
 */
export async function copyGtSegmentations(ds: RawDataset, paths?: Paths): Promise<void> {
  const dest = path.join(preprocessedDatasetFolder(ds, paths), "gt_segmentations");
  await fsp.mkdir(dest, { recursive: true });
  for (const id of ds.identifiers) {
    const src = ds.cases[id]!.label;
    if (!src) continue;
    const target = path.join(dest, id + ds.datasetJson.file_ending);
    const [s, t] = await Promise.all([fsp.stat(src), fsp.stat(target).catch(() => null)]);
    if (t && t.mtimeMs >= s.mtimeMs) continue;
    await copyFileAtomic(src, target);
  }
}
