// The online "pseudo Dice" of nnUNetTrainer.validation_step / on_validation_epoch_end: hard predictions of the
// highest-resolution output (argmax, or sigmoid > 0.5 for regions) against the patch targets, tp/fp/fn summed over
// batch and space per class (background dropped for labels), Dice from the sums of the whole epoch.

import type { TargetArray } from "./loss.js";

export interface TpFpFn {
  tp: Float64Array;
  fp: Float64Array;
  fn: Float64Array;
}

/**
 * Counts for one batch. `logits` is (B, C, ...) channels-first. Labels: one-hot of argmax (ties -> first) vs the
 * (B,1,...) target; ignored voxels (target == ignoreLabel) count nowhere. Regions: logits > 0 (sigmoid > 0.5) vs the
 * (B,R[,+ignore],...) target; with an ignore label the last target channel masks voxels.
 */
export function pseudoDiceCounts(
  logits: Float32Array,
  shape: readonly number[],
  target: TargetArray,
  { regions, ignoreLabel }: { regions: boolean; ignoreLabel: number | null },
): TpFpFn {
  const [B, C] = shape as [number, number];
  const vox = logits.length / (B * C);
  const nOut = regions ? C : C - 1;
  const tp = new Float64Array(nOut),
    fp = new Float64Array(nOut),
    fn = new Float64Array(nOut);
  if (regions) {
    const tc = target.shape[1]!;
    for (let b = 0; b < B; b++) {
      for (let v = 0; v < vox; v++) {
        if (ignoreLabel !== null && target.data[(b * tc + tc - 1) * vox + v]) continue;
        for (let c = 0; c < C; c++) {
          const p = logits[(b * C + c) * vox + v]! > 0;
          const t = target.data[(b * tc + c) * vox + v]! !== 0;
          if (p && t) tp[c]++;
          else if (p) fp[c]++;
          else if (t) fn[c]++;
        }
      }
    }
    return { tp, fp, fn };
  }
  for (let b = 0; b < B; b++) {
    for (let v = 0; v < vox; v++) {
      let t = target.data[b * vox + v]!;
      if (ignoreLabel !== null && t === ignoreLabel) continue;
      let best = 0,
        bestV = logits[b * C * vox + v]!;
      for (let c = 1; c < C; c++) {
        const x = logits[(b * C + c) * vox + v]!;
        if (x > bestV) {
          bestV = x;
          best = c;
        }
      }
      if (t < 0 || t >= C) t = 0;
      if (best === t) {
        if (t > 0) tp[t - 1]++;
      } else {
        if (best > 0) fp[best - 1]++;
        if (t > 0) fn[t - 1]++;
      }
    }
  }
  return { tp, fp, fn };
}

/** Adds `b` into `a`. */
export function addCounts(a: TpFpFn, b: TpFpFn): void {
  for (let i = 0; i < a.tp.length; i++) {
    a.tp[i]! += b.tp[i]!;
    a.fp[i]! += b.fp[i]!;
    a.fn[i]! += b.fn[i]!;
  }
}

/** `2tp / (2tp + fp + fn)` per class (NaN when all are 0, as numpy's 0/0), and their nanmean. */
export function pseudoDice({ tp, fp, fn }: TpFpFn): { perClass: number[]; meanFg: number } {
  const perClass = Array.from(tp, (t, i) => {
    const d = 2 * t + fp[i]! + fn[i]!;
    return d === 0 ? NaN : (2 * t) / d;
  });
  const valid = perClass.filter((x) => !Number.isNaN(x));
  return { perClass, meanFg: valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : NaN };
}
