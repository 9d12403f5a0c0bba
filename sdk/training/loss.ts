// nnU-Net's training losses (training/loss/compound_losses.py, dice.py, deep_supervision.py) on tfjs tensors.
// Labels: DC_and_CE_loss with MemoryEfficientSoftDiceLoss (softmax, do_bg False) + CrossEntropy (mean over annotated
// voxels). Regions: DC_and_BCE_loss (sigmoid, do_bg True) + BCEWithLogits. Logits are NCDHW (or NCHW), float32.
// Targets are plain typed arrays (they come from the data loader), turned into one-hot tensors here.

import { tf } from "../backend/index.js";
import { InputError } from "../errors.js";

/** A label map (B,1,...) or, for regions, a stack of binary region masks (B,R,...) as the data loader returns them. */
export interface TargetArray {
  data: Int16Array | Uint8Array;
  shape: number[];
}

export interface DiceOptions {
  /** Sum the dice statistics over the batch before dividing (plans `batch_dice`). */
  batchDice: boolean;
  smooth?: number;
  doBg?: boolean;
}

export interface LossOptions {
  batchDice: boolean;
  /** The ignore label (labels) or true when the last target channel is the ignore mask (regions). */
  ignoreLabel?: number | null;
  smooth?: number;
}

/** A loss maps the network output of one resolution and its target to a scalar. */
export type SegLoss = (logits: tf.Tensor, target: TargetArray) => tf.Scalar;

function checkShapes(logits: tf.Tensor, target: TargetArray, channels: number | null): void {
  const ls = logits.shape;
  const ok =
    target.shape.length === ls.length &&
    target.shape[0] === ls[0] &&
    (channels === null || target.shape[1] === channels) &&
    target.shape.slice(2).every((s, i) => s === ls[i + 2]);
  if (!ok) throw new InputError(`loss: target shape [${target.shape}] does not fit logits shape [${ls}]`);
}

/** Numerically stable log-softmax over axis 1 (tfjs only supports the last axis). */
export function logSoftmaxDim1(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shifted = tf.sub(x, tf.max(x, 1, true));
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true)));
  });
}

/**
 * One-hot encoding of a (B,1,...) label map over `numClasses` channels; voxels equal to `ignoreLabel` get all zeros,
 * and the returned mask (B,1,...) is 0 there. Any other label outside [0, numClasses) is an error.
 */
export function oneHotLabels(
  target: TargetArray,
  numClasses: number,
  ignoreLabel: number | null = null,
): { y: Float32Array; mask: Float32Array | null; annotated: number } {
  const [b] = target.shape as [number];
  const vox = target.data.length / b;
  const y = new Float32Array(b * numClasses * vox);
  const mask = ignoreLabel === null ? null : new Float32Array(b * vox);
  let annotated = 0;
  for (let i = 0; i < b; i++) {
    const src = i * vox;
    const dst = i * numClasses * vox;
    for (let v = 0; v < vox; v++) {
      const l = target.data[src + v]!;
      if (l === ignoreLabel) continue;
      if (mask) mask[src + v] = 1;
      annotated++;
      // torch's cross-entropy rejects such targets too; it means dataset.json labels and the segmentations disagree.
      if (l < 0 || l >= numClasses)
        throw new InputError(`loss: label ${l} in the training target, but the network predicts ${numClasses} classes (check the labels in dataset.json)`);
      y[dst + l * vox + v] = 1;
    }
  }
  return { y, mask, annotated };
}

/**
 * MemoryEfficientSoftDiceLoss on probabilities `p` and one-hot `y` (same shape), optional loss mask (B,1,...).
 * Returns `-mean(dc)` with `dc = (2I + smooth) / max(G + P + smooth, 1e-8)`.
 */
export function softDiceLoss(p: tf.Tensor, y: tf.Tensor, mask: tf.Tensor | null, { batchDice, smooth = 1e-5, doBg = false }: DiceOptions): tf.Scalar {
  return tf.tidy(() => {
    let pp = p;
    let yy = y;
    if (!doBg) {
      const c = p.shape[1]!;
      const begin = p.shape.map((_, i) => (i === 1 ? 1 : 0));
      const size = p.shape.map((s, i) => (i === 1 ? c - 1 : s));
      pp = tf.slice(p, begin, size);
      yy = tf.slice(y, begin, size);
    }
    const axes = pp.shape.slice(2).map((_, i) => i + 2);
    const pm = mask ? tf.mul(pp, mask) : pp;
    let intersect = tf.sum(tf.mul(pm, yy), axes);
    let sumPred = tf.sum(pm, axes);
    let sumGt = tf.sum(mask ? tf.mul(yy, mask) : yy, axes);
    if (batchDice) {
      intersect = tf.sum(intersect, 0);
      sumPred = tf.sum(sumPred, 0);
      sumGt = tf.sum(sumGt, 0);
    }
    const dc = tf.div(tf.add(tf.mul(intersect, 2), smooth), tf.maximum(tf.add(tf.add(sumGt, sumPred), smooth), 1e-8));
    return tf.neg(tf.mean(dc)) as tf.Scalar;
  });
}

/**
 * DC_and_CE_loss (weights 1/1): cross-entropy averaged over annotated voxels plus soft Dice without background.
 * With an ignore label, ignored voxels count for neither term, and CE is 0 when nothing in the batch is annotated.
 * @example const loss = dcAndCeLoss({ batchDice: false })(logits, { data: seg, shape: [2, 1, 8, 8, 8] })
 */
export function dcAndCeLoss({ batchDice, ignoreLabel = null, smooth = 1e-5 }: LossOptions): SegLoss {
  return (logits, target) => {
    const c = logits.shape[1]!;
    checkShapes(logits, target, 1);
    const { y, mask, annotated } = oneHotLabels(target, c, ignoreLabel ?? null);
    return tf.tidy(() => {
      const yT = tf.tensor(y, logits.shape);
      const maskT = mask ? tf.tensor(mask, target.shape) : null;
      const logp = logSoftmaxDim1(logits);
      const dice = softDiceLoss(tf.exp(logp), yT, maskT, { batchDice, smooth, doBg: false });
      if (annotated === 0) return dice;
      const ce = tf.div(tf.neg(tf.sum(tf.mul(logp, yT))), annotated);
      return tf.add(ce, dice) as tf.Scalar;
    });
  };
}

/**
 * DC_and_BCE_loss for region-based training: BCEWithLogits (mean, or masked mean when the last target channel is the
 * ignore mask) plus soft Dice on sigmoid outputs including every region.
 */
export function dcAndBceLoss({ batchDice, ignoreLabel = null, smooth = 1e-5 }: LossOptions): SegLoss {
  const useIgnore = ignoreLabel !== null && ignoreLabel !== undefined;
  return (logits, target) => {
    const r = logits.shape[1]!;
    checkShapes(logits, target, r + (useIgnore ? 1 : 0));
    const [b] = target.shape as [number];
    const vox = target.data.length / (b * (r + (useIgnore ? 1 : 0)));
    const y = new Float32Array(b * r * vox);
    const mask = useIgnore ? new Float32Array(b * vox) : null;
    const tc = r + (useIgnore ? 1 : 0);
    for (let i = 0; i < b; i++) {
      for (let c = 0; c < r; c++) {
        const src = (i * tc + c) * vox;
        const dst = (i * r + c) * vox;
        for (let v = 0; v < vox; v++) y[dst + v] = target.data[src + v] ? 1 : 0;
      }
      if (mask) {
        const src = (i * tc + r) * vox;
        for (let v = 0; v < vox; v++) mask[i * vox + v] = target.data[src + v] ? 0 : 1;
      }
    }
    return tf.tidy(() => {
      const yT = tf.tensor(y, logits.shape);
      const maskShape = [b, 1, ...logits.shape.slice(2)];
      const maskT = mask ? tf.tensor(mask, maskShape) : null;
      const dice = softDiceLoss(tf.sigmoid(logits), yT, maskT, { batchDice, smooth, doBg: true });
      // Stable BCE with logits: max(x,0) - x*y + log(1 + exp(-|x|)).
      const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, yT)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
      const ce = maskT ? tf.div(tf.sum(tf.mul(bce, maskT)), tf.maximum(tf.sum(maskT), 1e-8)) : tf.mean(bce);
      return tf.add(ce, dice) as tf.Scalar;
    });
  };
}

/**
 * Deep-supervision weights as nnUNetTrainer._build_loss: `1/2^i`, the lowest resolution set to 0, normalised to sum 1.
 * @example deepSupervisionWeights(5) // [8/15, 4/15, 2/15, 1/15, 0]
 */
export function deepSupervisionWeights(n: number): number[] {
  if (n === 1) return [1];
  const w = Array.from({ length: n }, (_, i) => 1 / 2 ** i);
  w[n - 1] = 0;
  const s = w.reduce((a, v) => a + v, 0);
  return w.map((v) => v / s);
}

/** DeepSupervisionWrapper: `sum_i w_i * loss(out_i, tgt_i)`, skipping zero weights (highest resolution first). */
export function deepSupervisionLoss(loss: SegLoss, weights: readonly number[]): (outputs: tf.Tensor[], targets: TargetArray[]) => tf.Scalar {
  return (outputs, targets) => {
    if (outputs.length !== targets.length || outputs.length !== weights.length) {
      throw new InputError(`deep supervision: ${outputs.length} outputs, ${targets.length} targets, ${weights.length} weights`);
    }
    return tf.tidy(() => {
      let total: tf.Scalar | null = null;
      for (let i = 0; i < outputs.length; i++) {
        if (weights[i] === 0) continue;
        const term = tf.mul(loss(outputs[i]!, targets[i]!), weights[i]!) as tf.Scalar;
        total = total ? (tf.add(total, term) as tf.Scalar) : term;
      }
      return total ?? tf.scalar(0);
    });
  };
}
