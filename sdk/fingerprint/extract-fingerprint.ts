// DatasetFingerprintExtractor.run (nnunetv2/experiment_planning/dataset_fingerprint/fingerprint_extractor.py):
// analyses every training case in worker threads and writes $nnUNet_preprocessed/DatasetXXX/dataset_fingerprint.json.

import * as path from "node:path";
import type { Paths } from "../config/env.js";
import { preprocessedDatasetFolder } from "../config/folders.js";
import { InputError } from "../errors.js";
import { channelNames, verifyDatasetIntegrity, type RawDataset } from "../dataset/raw.js";
import { median } from "../util/python-math.js";
import { exists, probeWritable, removeStaleTempFiles } from "../util/fs.js";
import { checkOptionalInt } from "../util/check-options.js";
import { mapInWorkers } from "../util/pool.js";
import { noProgress, type ProgressCallback } from "../util/progress.js";
import type { AnalyzeCaseInput, AnalyzeCaseOutput } from "./analyze-case.js";
import { Fingerprint } from "./fingerprint.js";
import { foregroundIntensityProperties } from "./intensity-statistics.js";
import type { FingerprintJson } from "./fingerprint-json.js";
import type { IntensityProperties } from "./fingerprint-json.js";

const EMPTY = new Float32Array(0);

/** Upstream's num_foreground_voxels_for_intensitystats: 10e7, i.e. 1e8 samples over the whole dataset. */
export const NUM_FOREGROUND_VOXELS_FOR_INTENSITYSTATS = 10e7;

export interface ExtractFingerprintOptions {
  /** Worker threads (upstream `-np`); default: number of cores. */
  numProcesses?: number;
  /** Recompute even if dataset_fingerprint.json exists (upstream `--clean`). */
  clean?: boolean;
  /** Run verify_dataset_integrity first. */
  verifyDatasetIntegrity?: boolean;
  paths?: Paths;
  onProgress?: ProgressCallback;
}

/**
 * Combines the per-case analyses into the fingerprint (dataset-level statistics over the concatenated samples).
 * Consumes the case sample arrays (replaced by empty ones once copied) so 1e8 samples are not held twice.
 */
export function aggregateCaseAnalyses(results: readonly AnalyzeCaseOutput[], numChannels: number): Fingerprint {
  const properties: Record<string, IntensityProperties> = {};
  // np.concatenate with the [] of a case without foreground promotes the whole channel to float64
  const promote = results.some((r) => r.samples[0]!.length === 0);
  for (let c = 0; c < numChannels; c++) {
    const total = results.reduce((s, r) => s + r.samples[c]!.length, 0);
    const all = promote ? new Float64Array(total) : new Float32Array(total);
    let off = 0;
    for (const r of results) {
      all.set(r.samples[c]!, off);
      off += r.samples[c]!.length;
      r.samples[c] = EMPTY;
    }
    properties[String(c)] = foregroundIntensityProperties(all);
  }
  const json: FingerprintJson = {
    spacings: results.map((r) => r.spacing),
    shapes_after_crop: results.map((r) => r.shapeAfterCrop),
    foreground_intensity_properties_per_channel: properties,
    median_relative_size_after_cropping: median(results.map((r) => r.relativeSizeAfterCropping)),
  };
  return new Fingerprint(
    json,
    results.map((r) => ({
      id: r.id,
      spacing: r.spacing,
      shapeBeforeCrop: r.shapeBeforeCrop,
      shapeAfterCrop: r.shapeAfterCrop,
      relativeSizeAfterCropping: r.relativeSizeAfterCropping,
    })),
  );
}

/**
 * Extracts (or, unless `clean`, loads the existing) fingerprint of `ds` and writes dataset_fingerprint.json.
 * @example const fp = await extractFingerprint(await openRawDataset(900), { numProcesses: 2 })
 */
export async function extractFingerprint(ds: RawDataset, opts: ExtractFingerprintOptions = {}): Promise<Fingerprint> {
  const { numProcesses, clean = false, paths = {}, onProgress = noProgress } = opts;
  checkOptionalInt(numProcesses, "numProcesses", { min: 1 });
  if (opts.verifyDatasetIntegrity) await verifyDatasetIntegrity(ds, { numWorkers: numProcesses });
  const folder = preprocessedDatasetFolder(ds, paths);
  const file = path.join(folder, "dataset_fingerprint.json");
  if (!clean && (await exists(file))) return Fingerprint.load(file, ds.identifiers);

  const n = ds.identifiers.length;
  if (n === 0) throw new InputError("no training cases found (imagesTr is empty or no file matches file_ending)", { file: ds.folder });
  // a folder that cannot be written fails now, not after every case has been read
  await probeWritable(folder);
  await removeStaleTempFiles(folder);
  const numSamples = Math.floor(NUM_FOREGROUND_VOXELS_FOR_INTENSITYSTATS / n);
  const inputs: AnalyzeCaseInput[] = ds.identifiers.map((id) => ({
    id,
    images: ds.cases[id]!.images,
    label: ds.cases[id]!.label,
    readerWriter: ds.readerWriter,
    numSamples,
  }));
  onProgress({ task: "fingerprint", done: 0, total: n });
  const results = await mapInWorkers<AnalyzeCaseInput, AnalyzeCaseOutput>(
    new URL(import.meta.url.endsWith(".ts") ? "./analyze-case.ts" : "./analyze-case.js", import.meta.url),
    "analyzeCase",
    inputs,
    {
      numWorkers: numProcesses,
      onProgress: (done, total) => onProgress({ task: "fingerprint", done, total }),
    },
  );
  const numChannels = Object.keys(channelNames(ds.datasetJson)).length;
  for (const r of results) {
    if (r.samples.length !== numChannels) {
      throw new InputError(`case ${r.id} has ${r.samples.length} channel(s) but dataset.json declares ${numChannels}`, { file: ds.cases[r.id]!.images[0] });
    }
  }
  const fingerprint = aggregateCaseAnalyses(results, numChannels);
  await fingerprint.save(file);
  return fingerprint;
}
