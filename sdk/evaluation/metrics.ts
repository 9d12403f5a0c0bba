// Per-case segmentation metrics, a port of nnU-Net's evaluation/evaluate_predictions.py (compute_tp_fp_fn_tn,
// compute_metrics). Segmentations are flat typed arrays of equal length (any axis order, as long as both agree).

import { InputError } from "../errors.js";

/** A label (int) or a region (a set of labels, evaluated as their union), like upstream's `Union[int, Tuple[int, ...]]`. */
export type LabelOrRegion = number | readonly number[];

/** Upstream's metric names, in the order compute_metrics fills them. */
export const METRIC_NAMES = ["Dice", "IoU", "FP", "TP", "FN", "TN", "n_pred", "n_ref"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type Metrics = Record<MetricName, number>;

export type SegArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | Int8Array;

/** `str(label_or_region)` in Python: `1` -> "1", `(1, 2)` -> "(1, 2)", `(3,)` -> "(3,)". Used as summary.json keys. */
export function labelOrRegionToKey(r: LabelOrRegion): string {
  if (typeof r === "number") return String(r);
  return r.length === 1 ? `(${r[0]},)` : `(${r.join(", ")})`;
}

/** Inverse of labelOrRegionToKey (upstream's key_to_label_or_region). */
export function keyToLabelOrRegion(key: string): LabelOrRegion {
  if (/^-?\d+$/.test(key.trim())) return parseInt(key, 10);
  return key
    .replace(/[()]/g, "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length)
    .map((s) => parseInt(s, 10));
}

/** Membership test for one label or region; a Set for multi-label regions so each voxel costs one lookup. */
function memberTest(r: LabelOrRegion): (v: number) => boolean {
  if (typeof r === "number") return (v) => v === r;
  if (r.length === 1) {
    const a = r[0]!;
    return (v) => v === a;
  }
  const set = new Set(r);
  return (v) => set.has(v);
}

/**
 * TP, FP, FN, TN of `pred` against `ref` for one label or region, counting only voxels where `ref != ignoreLabel`.
 * Matches upstream's compute_tp_fp_fn_tn(region_or_label_to_mask(ref, r), region_or_label_to_mask(pred, r), ref == ignore).
 */
export function computeTpFpFnTn(ref: SegArray, pred: SegArray, r: LabelOrRegion, ignoreLabel: number | null = null): [number, number, number, number] {
  if (ref.length !== pred.length) throw new InputError(`prediction has ${pred.length} voxels, reference has ${ref.length}`);
  const inR = memberTest(r);
  let tp = 0,
    fp = 0,
    fn = 0,
    tn = 0;
  const useIgnore = ignoreLabel !== null && ignoreLabel !== undefined;
  for (let i = 0; i < ref.length; i++) {
    const rv = ref[i]!;
    if (useIgnore && rv === ignoreLabel) continue;
    const a = inR(rv),
      b = inR(pred[i]!);
    if (a) {
      if (b) tp++;
      else fn++;
    } else if (b) fp++;
    else tn++;
  }
  return [tp, fp, fn, tn];
}

/** Dice, IoU and counts from TP/FP/FN/TN; Dice = IoU = NaN when TP+FP+FN == 0 (numpy's 0/0), like upstream. */
export function metricsFromCounts(tp: number, fp: number, fn: number, tn: number): Metrics {
  const denom = tp + fp + fn;
  return {
    Dice: denom === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn),
    IoU: denom === 0 ? NaN : tp / denom,
    FP: fp,
    TP: tp,
    FN: fn,
    TN: tn,
    n_pred: fp + tp,
    n_ref: fn + tp,
  };
}

/**
 * Metrics of every label/region of one case. The shape check names both files, since a shape mismatch is the usual
 * symptom of predicting with the wrong model or of mixed-up folders.
 */
export function computeMetrics(
  ref: SegArray,
  pred: SegArray,
  labelsOrRegions: readonly LabelOrRegion[],
  ignoreLabel: number | null = null,
): Map<LabelOrRegion, Metrics> {
  const out = new Map<LabelOrRegion, Metrics>();
  for (const r of labelsOrRegions) out.set(r, metricsFromCounts(...computeTpFpFnTn(ref, pred, r, ignoreLabel)));
  return out;
}
