// DefaultPreprocessor.run: every case of a raw dataset into $nnUNet_preprocessed/<Dataset>/<data_identifier>/, in
// worker threads (upstream's -np processes), plus the gt_segmentations copy that validation reads.

import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Paths } from "../config/env.js";
import { preprocessedDatasetFolder } from "../config/folders.js";
import type { RawDataset } from "../dataset/raw.js";
import { resolveConfiguration, type Plans } from "../planning/plans.js";
import { IOError } from "../errors.js";
import { checkInt } from "../util/check-options.js";
import { copyFileAtomic, ensureDir, ioError, probeWritable, removeStaleTempFiles, replaceFolder, tempName } from "../util/fs.js";
import { withFolderLock } from "../util/lock.js";
import { preprocessedCaseExists } from "./preprocessed-dataset.js";
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
  checkInt(numWorkers, "numWorkers", { min: 1 });
  keyword(format, "format", PREPROCESSED_FORMATS);
  const cfg = resolveConfiguration(plans, configurationName);
  const outputFolder = path.join(preprocessedDatasetFolder(ds, paths), cfg.data_identifier);
  // one writer per configuration folder; a second run refuses before touching anything
  return withFolderLock(outputFolder, async () => {
    await probeWritable(path.dirname(outputFolder));
    await removeStaleTempFiles(path.dirname(outputFolder));
    await removeStaleTempFiles(outputFolder);
    // overwrite: build the new folder beside the old one and swap at the end, so an interrupted or failed run leaves
    // the previous data in place (and a kill leaves only a temporary folder, removed by the next run)
    const target = overwrite ? tempName(outputFolder) : outputFolder;
    await ensureDir(target);
    const readerWriter = readerWriterFor(plans, ds.readerWriter);
    const inputs: PreprocessCaseInput[] = ds.identifiers.map((identifier) => ({
      identifier,
      images: ds.cases[identifier]!.images,
      label: ds.cases[identifier]!.label,
      outputFolder: target,
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
    try {
      const rows = await mapInWorkers<PreprocessCaseInput, PreprocessCaseSummary>(TASK_MODULE, "preprocessCaseTask", inputs, {
        numWorkers: workers,
        onProgress: (done, total) => onProgress({ task, done, total }),
      });
      await checkCasesWritten(target, ds.identifiers, outputFolder, format);
      if (overwrite) await replaceFolder(target, outputFolder);
      return rows;
    } catch (err) {
      if (overwrite) await fsp.rm(target, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  });
}

/** Nothing reports success over missing output: every case's three files must be there before the run counts as done. */
async function checkCasesWritten(folder: string, identifiers: readonly string[], shownFolder: string, format: PreprocessedFormat): Promise<void> {
  const missing: string[] = [];
  for (const id of identifiers) if (!(await preprocessedCaseExists(folder, id, format))) missing.push(id);
  if (missing.length) {
    const names = `${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""}`;
    throw new IOError(`${missing.length} case(s) were not written (${names}); run again`, { file: shownFolder });
  }
}

/**
 * Copies the training labels to `<preprocessed dataset>/gt_segmentations/<case><file_ending>` so validation works even
 * if the raw data is no longer there; only files that are missing or older than the source are copied (update=True).
 */
export async function copyGtSegmentations(ds: RawDataset, paths?: Paths): Promise<void> {
  const dest = path.join(preprocessedDatasetFolder(ds, paths), "gt_segmentations");
  await ensureDir(dest);
  await removeStaleTempFiles(dest);
  for (const id of ds.identifiers) {
    const src = ds.cases[id]!.label;
    if (!src) continue;
    const target = path.join(dest, id + ds.datasetJson.file_ending);
    const [s, t] = await Promise.all([
      fsp.stat(src).catch((err) => {
        throw ioError(err, "read", src);
      }),
      fsp.stat(target).catch(() => null),
    ]);
    if (t && t.mtimeMs >= s.mtimeMs) continue;
    await copyFileAtomic(src, target);
  }
}
