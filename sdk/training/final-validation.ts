// nnUNetTrainer.perform_actual_validation: deep supervision off, sliding-window prediction (step 0.5, Gaussian,
// mirroring over inference_allowed_mirroring_axes) of the fold's preprocessed validation cases, export to the
// source geometry into fold_F/validation/, then compute_metrics_on_folder against gt_segmentations -> summary.json.

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { readPreprocessedArrays, readPreprocessedProperties } from "../preprocessing/preprocessed-dataset.js";
import { InputError } from "../errors.js";
import type { ProgressCallback } from "../util/progress.js";
import type { Plans } from "../planning/plans.js";
import type { DatasetJson } from "../dataset/raw.js";
import { LabelManager } from "../dataset/labels.js";
import type { Network } from "../networks/network.js";
import { NnUNetPredictor } from "../inference/predictor.js";
import { planReaderWriter, type ExportProperties } from "../inference/export.js";
import { computeMetricsOnFolder } from "../evaluation/evaluate-folder.js";
import type { EvaluationSummary } from "../evaluation/summary.js";

export interface FinalValidationOptions {
  network: Network;
  plans: Plans;
  configurationName: string;
  datasetJson: DatasetJson;
  trainerName: string;
  mirrorAxes: number[] | null;
  /** The data_identifier folder with <case>.npy / <case>.json. */
  preprocessedFolder: string;
  /** nnUNet_preprocessed/DatasetXXX/gt_segmentations. */
  gtFolder: string;
  valIds: readonly string[];
  /** fold_F folder; predictions go to fold_F/validation. */
  outputFolder: string;
  saveProbabilities?: boolean;
  onProgress?: ProgressCallback;
}

/** Predicts and evaluates the validation cases; returns the summary written to validation/summary.json. */
export async function performActualValidation(o: FinalValidationOptions): Promise<EvaluationSummary> {
  const validationFolder = path.join(o.outputFolder, "validation");
  await fsp.mkdir(validationFolder, { recursive: true });
  const hadDs = o.network.deepSupervision;
  const predictor = new NnUNetPredictor({ tileStepSize: 0.5, useGaussian: true, useMirroring: true }).manualInitialization({
    network: o.network,
    plans: o.plans,
    configurationName: o.configurationName,
    datasetJson: o.datasetJson,
    trainerName: o.trainerName,
    inferenceAllowedMirroringAxes: o.mirrorAxes,
  });
  try {
    for (const [i, id] of o.valIds.entries()) {
      o.onProgress?.({ task: "validation", done: i, total: o.valIds.length, detail: { case: id } });
      // <case>.npy + .json, or Python nnU-Net master's <case>.npz + .pkl
      const { data, dataFile } = await readPreprocessedArrays(o.preprocessedFolder, id, { withSeg: false });
      if (!(data.data instanceof Float32Array)) throw new InputError(`expected float32 data, got ${data.dtype}`, { file: dataFile });
      const props = (await readPreprocessedProperties(o.preprocessedFolder, id)) as unknown as ExportProperties;
      await predictor.predictPreprocessedCase(data.data, data.shape, props, path.join(validationFolder, id), {
        saveProbabilities: o.saveProbabilities ?? false,
      });
    }
    o.onProgress?.({ task: "validation", done: o.valIds.length, total: o.valIds.length });
  } finally {
    if (hadDs) o.network.setDeepSupervision(true);
  }
  const lm = new LabelManager(o.datasetJson.labels, o.datasetJson.regions_class_order ?? null);
  return computeMetricsOnFolder(o.gtFolder, validationFolder, {
    suffix: o.datasetJson.file_ending,
    regionsOrLabels: lm.foregroundRegions ?? lm.foregroundLabels,
    ignoreLabel: lm.ignoreLabel,
    readerWriter: planReaderWriter(o.plans),
    outputFile: path.join(validationFolder, "summary.json"),
    chill: true,
  });
}
