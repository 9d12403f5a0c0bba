// Worker task of computeMetricsOnFolder: reads one reference/prediction pair and computes its metrics
// (upstream's compute_metrics). Kept in its own module so worker threads only load image io and the metrics.

import { readSeg, type ReaderWriterName } from "../io/image-io.js";
import { InputError } from "../errors.js";
import { computeMetrics, labelOrRegionToKey, type LabelOrRegion, type Metrics } from "./metrics.js";
import type { CaseMetrics } from "./summary.js";

export interface EvaluateCaseInput {
  referenceFile: string;
  predictionFile: string;
  labelsOrRegions: LabelOrRegion[];
  ignoreLabel: number | null;
  readerWriter?: ReaderWriterName;
}

export async function evaluateCase(input: EvaluateCaseInput): Promise<CaseMetrics> {
  const { referenceFile, predictionFile, labelsOrRegions, ignoreLabel, readerWriter } = input;
  const [ref, pred] = await Promise.all([readSeg(referenceFile, readerWriter), readSeg(predictionFile, readerWriter)]);
  if (ref.shape.join(",") !== pred.shape.join(",")) {
    throw new InputError(`shape [${pred.shape}] differs from reference ${referenceFile} [${ref.shape}]`, { file: predictionFile });
  }
  const m = computeMetrics(ref.data, pred.data, labelsOrRegions, ignoreLabel);
  const metrics: Record<string, Metrics> = {};
  for (const [r, v] of m) metrics[labelOrRegionToKey(r)] = v;
  return { reference_file: referenceFile, prediction_file: predictionFile, metrics };
}
