// Aggregation and summary.json layout of nnU-Net's compute_metrics_on_folder: per-class nanmean over cases,
// foreground mean as a plain mean over classes (so one all-NaN class makes it NaN, as upstream), keys as str(label).

import { METRIC_NAMES, labelOrRegionToKey, type LabelOrRegion, type MetricName, type Metrics } from "./metrics.js";
import { formatPythonJson, pyFloat, PyFloat } from "./python-json.js";
import { writeFileAtomic } from "../util/fs.js";

/** One entry of `metric_per_case`. `metrics` is keyed like summary.json: "1", "(1, 2)". */
export interface CaseMetrics {
  reference_file: string;
  prediction_file: string;
  metrics: Record<string, Metrics>;
}

/** The content of summary.json. */
export interface EvaluationSummary {
  metric_per_case: CaseMetrics[];
  mean: Record<string, Metrics>;
  foreground_mean: Metrics;
}

/** np.nanmean: mean of the non-NaN values, NaN when there are none. */
export function nanMean(values: readonly number[]): number {
  let s = 0,
    n = 0;
  for (const v of values)
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  return n === 0 ? NaN : s / n;
}

/** np.mean: NaN as soon as one value is NaN, and for an empty list. */
export function plainMean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Builds `mean` and `foreground_mean` from per-case results, in the label/region order given. */
export function summarizeMetrics(perCase: CaseMetrics[], labelsOrRegions: readonly LabelOrRegion[]): EvaluationSummary {
  const mean: Record<string, Metrics> = {};
  for (const r of labelsOrRegions) {
    const k = labelOrRegionToKey(r);
    const m = {} as Metrics;
    for (const name of METRIC_NAMES) m[name] = nanMean(perCase.map((c) => c.metrics[k]![name]));
    mean[k] = m;
  }
  const foreground_mean = {} as Metrics;
  const fgKeys = Object.keys(mean).filter((k) => k !== "0");
  for (const name of METRIC_NAMES) foreground_mean[name] = plainMean(fgKeys.map((k) => mean[k]![name]));
  return { metric_per_case: perCase, mean, foreground_mean };
}

const COUNT_METRICS = new Set<MetricName>(["TP", "FP", "FN", "TN", "n_pred", "n_ref"]);

function typed(m: Metrics, countsAreInts: boolean): Record<string, number | PyFloat> {
  const out: Record<string, number | PyFloat> = {};
  for (const name of METRIC_NAMES) out[name] = countsAreInts && COUNT_METRICS.has(name) ? m[name] : pyFloat(m[name]);
  return out;
}

/**
 * summary.json text as upstream writes it: per-case counts are Python ints (numpy sums), everything averaged is a
 * float (`12.0`), Dice/IoU floats with NaN written bare.
 */
export function formatSummaryJson(summary: EvaluationSummary): string {
  const mapObj = (o: Record<string, Metrics>, ints: boolean) => Object.fromEntries(Object.entries(o).map(([k, m]) => [k, typed(m, ints)]));
  return formatPythonJson({
    foreground_mean: typed(summary.foreground_mean, false),
    mean: mapObj(summary.mean, false),
    metric_per_case: summary.metric_per_case.map((c) => ({
      metrics: mapObj(c.metrics, true),
      prediction_file: c.prediction_file,
      reference_file: c.reference_file,
    })),
  });
}

/** Writes summary.json atomically (upstream's save_summary_json). */
export async function saveSummaryJson(summary: EvaluationSummary, file: string): Promise<void> {
  await writeFileAtomic(file, formatSummaryJson(summary));
}
