// The two per-case tasks of predictFromFiles that run beside the network, in worker threads: reading + preprocessing
// (upstream's preprocessing_iterator_fromfiles, -npp) and resampling + export (export_prediction_from_logits, -nps).
// Inputs and outputs are structured-cloneable; typed arrays are transferred.

import { readImages, type ReaderWriterName } from "../io/image-io.js";
import { channelNames, type DatasetJson } from "../dataset/raw.js";
import { InputError } from "../errors.js";
import type { ConfigurationPlan, Plans } from "../planning/plans.js";
import { runCase } from "../preprocessing/default-preprocessor.js";
import { exportPredictionFromLogits, type ExportLabelInfo, type ExportProperties } from "./export.js";

export interface PreprocessTaskInput {
  files: string[];
  readerWriter: ReaderWriterName;
  plans: Plans;
  configurationName: string;
  datasetJson: DatasetJson;
}

export interface PreprocessedCase {
  data: Float32Array;
  /** [C, X, Y, Z] */
  shape: number[];
  properties: ExportProperties;
}

/** Reads a case's channels and preprocesses them like training data, without a segmentation. */
export async function preprocessTask({ files, readerWriter, plans, configurationName, datasetJson }: PreprocessTaskInput): Promise<PreprocessedCase> {
  const images = await readImages(files, readerWriter);
  const numChannels = Object.keys(channelNames(datasetJson)).length;
  if (images.shape[0] !== numChannels) {
    throw new InputError(`these files hold ${images.shape[0]} channel(s), the model takes ${numChannels} (dataset.json channel_names)`, {
      file: files.join(", "),
    });
  }
  // runCase may be synchronous; await covers both
  const out = await runCase(images, null, plans, configurationName, datasetJson);
  return { data: out.data, shape: out.shape, properties: out.properties };
}

export interface ExportTaskInput {
  logits: Float32Array;
  logitsShape: number[];
  properties: ExportProperties;
  configuration: ConfigurationPlan;
  plans: Plans;
  labels: ExportLabelInfo;
  fileEnding: string;
  outputFileTruncated: string;
  saveProbabilities: boolean;
}

/** Resamples, converts and writes one prediction; returns nothing large (the worker would copy it back). */
export async function exportTask(i: ExportTaskInput): Promise<{ file: string }> {
  await exportPredictionFromLogits(i.logits, i.logitsShape, i.properties, i.configuration, i.plans, i.labels, i.fileEnding, i.outputFileTruncated, {
    saveProbabilities: i.saveProbabilities,
  });
  return { file: i.outputFileTruncated + i.fileEnding };
}
