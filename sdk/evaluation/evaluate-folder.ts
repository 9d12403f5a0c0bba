// compute_metrics_on_folder of nnU-Net (evaluation/evaluate_predictions.py): metrics of every prediction in a folder
// against the reference file of the same name, per-case work in worker threads, summary.json in upstream's layout.

import { promises as fsp } from "node:fs";
import * as os from "node:os";
import { InputError } from "../errors.js";
import { defaultNumProcesses } from "../config/switches.js";
import { mapInWorkers } from "../util/pool.js";
import type { ProgressCallback } from "../util/progress.js";
import type { ReaderWriterName } from "../io/image-io.js";
import type { LabelOrRegion } from "./metrics.js";
import type { EvaluateCaseInput } from "./evaluate-case.js";
import { LabelManager } from "../dataset/labels.js";
import { determineReaderWriter, loadDatasetJson } from "../dataset/raw.js";
import { loadPlans } from "../planning/plans.js";
import { saveSummaryJson, summarizeMetrics, type CaseMetrics, type EvaluationSummary } from "./summary.js";
import { checkOptionalInt } from "../util/check-options.js";

export interface ComputeMetricsOnFolderOptions {
  /** File ending of the segmentations, e.g. ".nii.gz" (dataset.json `file_ending`). */
  suffix: string;
  /** Foreground labels, or foreground regions for region-based datasets. */
  regionsOrLabels: readonly LabelOrRegion[];
  ignoreLabel?: number | null;
  readerWriter?: ReaderWriterName;
  /** Where to write summary.json; nothing is written when omitted. Must end with .json, like upstream. */
  outputFile?: string;
  numProcesses?: number;
  /** Allow predictions to be missing for some references (upstream's `chill`). */
  chill?: boolean;
  onProgress?: ProgressCallback;
}

/** Sorted names of the files in `folder` ending with `suffix` (batchgenerators' subfiles(join=False)). */
export async function subfiles(folder: string, suffix: string): Promise<string[]> {
  let entries;
  try {
    entries = await fsp.readdir(folder, { withFileTypes: true });
  } catch (err) {
    throw new InputError((err as NodeJS.ErrnoException).code === "ENOENT" ? "folder not found" : (err as Error).message, { file: folder, cause: err });
  }
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** os.path.join(folder, name) without normalising, so file names in summary.json read like upstream's. */
const pyJoin = (folder: string, name: string) => (folder.endsWith("/") ? folder + name : `${folder}/${name}`);

/**
 * Evaluates every `<folderPred>/*<suffix>` against `<folderRef>/<same name>` and returns (and optionally writes) the
 * summary. Matches upstream's compute_metrics_on_folder: Dice/IoU NaN when a class is absent in both, nanmean over
 * cases, plain mean over foreground classes.
 * @example await computeMetricsOnFolder("labelsTr", "fold_0/validation", { suffix: ".nii.gz", regionsOrLabels: [1, 2], outputFile: "summary.json" })
 */
export async function computeMetricsOnFolder(folderRef: string, folderPred: string, opts: ComputeMetricsOnFolderOptions): Promise<EvaluationSummary> {
  const { suffix, regionsOrLabels, ignoreLabel = null, readerWriter, outputFile, chill = false, onProgress } = opts;
  if (outputFile !== undefined && !outputFile.endsWith(".json")) throw new InputError("output file must end with .json", { file: outputFile });
  if (regionsOrLabels.length === 0) throw new InputError("no foreground labels or regions to evaluate", { file: folderRef });
  const filesPred = await subfiles(folderPred, suffix);
  const filesRef = new Set(await subfiles(folderRef, suffix));
  const extra = filesPred.filter((f) => !filesRef.has(f));
  if (extra.length)
    throw new InputError(`${extra.length} prediction(s) have no reference in ${folderRef}: ${extra.slice(0, 5).join(", ")}`, { file: folderPred });
  if (!chill) {
    const have = new Set(filesPred);
    const missing = [...filesRef].filter((f) => !have.has(f));
    if (missing.length) {
      throw new InputError(`${missing.length} reference case(s) have no prediction (pass chill to allow): ${missing.slice(0, 5).join(", ")}`, {
        file: folderPred,
      });
    }
  }
  if (filesPred.length === 0) throw new InputError(`no predictions ending with ${suffix}`, { file: folderPred });
  const inputs: EvaluateCaseInput[] = filesPred.map((f) => ({
    referenceFile: pyJoin(folderRef, f),
    predictionFile: pyJoin(folderPred, f),
    labelsOrRegions: regionsOrLabels.map((r) => (typeof r === "number" ? r : [...r])),
    ignoreLabel,
    ...(readerWriter ? { readerWriter } : {}),
  }));
  const numWorkers = Math.max(1, Math.min(checkOptionalInt(opts.numProcesses, "numProcesses", { min: 1 }) ?? defaultNumProcesses(), os.availableParallelism()));
  const perCase = await mapInWorkers<EvaluateCaseInput, CaseMetrics>(
    new URL(`./evaluate-case${extOf(import.meta.url)}`, import.meta.url),
    "evaluateCase",
    inputs,
    {
      numWorkers,
      onProgress: (done, total) => onProgress?.({ task: "evaluate", done, total }),
    },
  );
  const summary = summarizeMetrics(perCase, regionsOrLabels);
  if (outputFile !== undefined) await saveSummaryJson(summary, outputFile);
  return summary;
}

/** ".ts" under vitest (source), ".js" in dist: the worker module has the same extension as this one. */
function extOf(url: string): string {
  return url.endsWith(".ts") ? ".ts" : ".js";
}

export interface ComputeMetricsOnFolder2Options {
  /** Default: `<folderPred>/summary.json`. */
  outputFile?: string;
  numProcesses?: number;
  chill?: boolean;
  onProgress?: ProgressCallback;
}

/**
 * Upstream's compute_metrics_on_folder2 (nnUNetv2_evaluate_folder): labels or regions and the ignore label from
 * dataset.json, the reader from dataset.json and the first reference file, summary.json into the prediction folder.
 */
export async function computeMetricsOnFolder2(
  folderRef: string,
  folderPred: string,
  datasetJsonFile: string,
  plansFile: string,
  opts: ComputeMetricsOnFolder2Options = {},
): Promise<EvaluationSummary> {
  const datasetJson = await loadDatasetJson(datasetJsonFile);
  await loadPlans(plansFile); // upstream builds its label manager from the plans; we only check the file is a plans file
  const fileEnding = datasetJson.file_ending;
  const refs = await subfiles(folderRef, fileEnding);
  if (refs.length === 0) throw new InputError(`no reference segmentations ending with ${fileEnding}`, { file: folderRef });
  const lm = new LabelManager(datasetJson.labels, datasetJson.regions_class_order ?? null, { file: datasetJsonFile });
  return computeMetricsOnFolder(folderRef, folderPred, {
    suffix: fileEnding,
    regionsOrLabels: lm.hasRegions ? lm.foregroundRegions! : lm.foregroundLabels,
    ignoreLabel: lm.ignoreLabel,
    readerWriter: determineReaderWriter(datasetJson, pyJoin(folderRef, refs[0]!), pyJoin(folderRef, refs[0]!)),
    outputFile: opts.outputFile ?? pyJoin(folderPred, "summary.json"),
    chill: opts.chill ?? false,
    ...(opts.numProcesses !== undefined ? { numProcesses: opts.numProcesses } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
}
