// nnUNetPredictor.predict_from_files: a folder of raw images (imagesTs naming) -> a folder of segmentations, with
// preprocessing of the next cases and export of the previous ones running in worker threads while the network runs.

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { formatPlans } from "../planning/plans.js";
import { formatPythonJson as formatPlansJson } from "../util/python-json.js";
import { channelNames } from "../dataset/raw.js";
import { ConfigError } from "../errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { formatPythonJson } from "../evaluation/python-json.js";
import { planReaderWriter } from "./export.js";
import { isFinished, listInputCases, type InputCase } from "./input-files.js";
import type { NnUNetPredictor } from "./predictor.js";
import type { ExportTaskInput, PreprocessTaskInput, PreprocessedCase } from "./pipeline-tasks.js";
import { TaskPool } from "./task-pool.js";

export interface PredictFromFilesOptions {
  saveProbabilities?: boolean;
  /** false = --continue_prediction: cases whose outputs exist are skipped. */
  overwrite?: boolean;
  /** Worker threads preprocessing upcoming cases (-npp); 0 = in the main thread. Default 3 like upstream. */
  numProcessesPreprocessing?: number;
  /** Worker threads exporting finished cases (-nps); 0 = in the main thread. Default 3. */
  numProcessesSegmentationExport?: number;
  /** Predict only cases[partId::numParts] (upstream -num_parts / -part_id). */
  numParts?: number;
  partId?: number;
  /** Called after each case is written. */
  onCase?: (id: string, done: number, total: number) => void;
}

const ext = (url: string) => (url.endsWith(".ts") ? ".ts" : ".js");

/**
 * Predicts every case of `inputFolder` (or the given cases) into `outputFolder`/<case><file_ending>, writing
 * dataset.json, plans.json and predict_from_raw_data_args.json beside them like upstream. Outputs are written
 * atomically, so an interrupted run leaves whole files only and `overwrite: false` resumes it.
 * Returns the identifiers that were predicted.
 */
export async function predictFromFiles(
  predictor: NnUNetPredictor,
  input: string | InputCase[],
  outputFolder: string,
  {
    saveProbabilities = false,
    overwrite = true,
    numProcessesPreprocessing = 3,
    numProcessesSegmentationExport = 3,
    numParts = 1,
    partId = 0,
    onCase,
  }: PredictFromFilesOptions = {},
): Promise<string[]> {
  const { datasetJson, plans, configurationName } = predictor;
  const fileEnding = datasetJson.file_ending;
  await fsp.mkdir(outputFolder, { recursive: true });
  const args = {
    list_of_lists_or_source_folder: typeof input === "string" ? input : input.map((c) => c.files),
    output_folder_or_list_of_truncated_output_files: outputFolder,
    save_probabilities: saveProbabilities,
    overwrite,
    num_processes_preprocessing: numProcessesPreprocessing,
    num_processes_segmentation_export: numProcessesSegmentationExport,
    folder_with_segs_from_prev_stage: null,
    num_parts: numParts,
    part_id: partId,
  };
  await writeFileAtomic(path.join(outputFolder, "predict_from_raw_data_args.json"), formatPythonJson(args));
  await writeFileAtomic(path.join(outputFolder, "dataset.json"), formatPlansJson(datasetJson, { sortKeys: false }));
  await writeFileAtomic(path.join(outputFolder, "plans.json"), formatPlans(plans));

  if (!(Number.isInteger(numParts) && numParts >= 1 && Number.isInteger(partId) && partId >= 0 && partId < numParts)) {
    throw new ConfigError(`part_id must be in 0..num_parts-1, got part_id ${partId} with num_parts ${numParts}`);
  }
  const listed = typeof input === "string" ? await listInputCases(input, fileEnding, Object.keys(channelNames(datasetJson)).length) : input;
  const all = listed.filter((_, i) => i % numParts === partId);
  const todo: InputCase[] = [];
  for (const c of all) if (overwrite || !(await isFinished(path.join(outputFolder, c.id), fileEnding, saveProbabilities))) todo.push(c);
  if (todo.length === 0) return [];

  const readerWriter = planReaderWriter(plans);
  const pre = new TaskPool<PreprocessTaskInput, PreprocessedCase>(
    new URL(`./pipeline-tasks${ext(import.meta.url)}`, import.meta.url),
    "preprocessTask",
    Math.min(numProcessesPreprocessing, todo.length),
  );
  const exp = new TaskPool<ExportTaskInput, { file: string }>(
    new URL(`./pipeline-tasks${ext(import.meta.url)}`, import.meta.url),
    "exportTask",
    Math.min(numProcessesSegmentationExport, todo.length),
  );
  const lookahead = Math.max(1, numProcessesPreprocessing);
  const preprocessed: Promise<PreprocessedCase>[] = [];
  const submit = (k: number) => {
    if (k < todo.length) preprocessed[k] = pre.run({ files: todo[k]!.files, readerWriter, plans, configurationName, datasetJson });
  };
  const inflight = new Set<Promise<unknown>>();
  let done = 0;
  try {
    for (let k = 0; k < lookahead; k++) submit(k);
    for (let k = 0; k < todo.length; k++) {
      const c = todo[k]!;
      const { data, shape, properties } = await preprocessed[k]!;
      // keep a rejected promise from being reported as unhandled while we are busy with the network
      for (let j = k + 1; j < preprocessed.length; j++) preprocessed[j]?.catch(() => {});
      submit(k + lookahead);
      const logits = await predictor.predictLogitsFromPreprocessedData(data, shape);
      // bound queued exports (upstream allows 2 queued per worker) so fast networks do not pile up logits in memory
      while (inflight.size > Math.max(1, numProcessesSegmentationExport) + 1) await Promise.race(inflight);
      const p: Promise<unknown> = exp
        .run({
          logits,
          logitsShape: [predictor.labelManager.numSegmentationHeads, ...shape.slice(1)],
          properties,
          configuration: predictor.configuration,
          plans,
          labels: predictor.labelInfo,
          fileEnding,
          outputFileTruncated: path.join(outputFolder, c.id),
          saveProbabilities,
        })
        .then(() => {
          inflight.delete(p);
          onCase?.(c.id, ++done, todo.length);
        });
      p.catch(() => {}); // observed by Promise.race / Promise.all below; avoids an unhandled-rejection crash meanwhile
      inflight.add(p);
    }
    await Promise.all(inflight);
  } finally {
    // let exports that are writing finish before the workers are stopped, so no temporary file is left behind
    await Promise.allSettled(inflight);
    await Promise.all([pre.close(), exp.close()]);
  }
  return todo.map((c) => c.id);
}
