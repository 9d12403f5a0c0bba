// Back from network space to the source image: nnU-Net's export_prediction.py
// (convert_predicted_logits_to_segmentation_with_correct_shape, export_prediction_from_logits).
// Logits are float32 [H, X, Y, Z] in the preprocessed (transposed, cropped, resampled) space.

import { InputError } from "../errors.js";
import { READER_WRITER_NAMES, writeSeg, type ImageProperties, type ReaderWriterName } from "../io/image-io.js";
import type { ConfigurationPlan, Plans } from "../planning/plans.js";
import { resampleDataOrSegToShape } from "../preprocessing/resample.js";
import { writeJsonAtomic } from "../util/fs.js";
import { writeNpzFile } from "./npz.js";
import { prod } from "../util/python-math.js";

/** The properties of a preprocessed case that the export needs (runCase's properties satisfy it). */
export interface ExportProperties extends ImageProperties {
  /** Original spacing, untransposed (nnU-Net array order of the file). */
  spacing: number[];
  /** Shape after the transpose, before cropping. */
  shape_before_cropping: number[];
  /** [[lo, hi), ...] per axis of shape_before_cropping (transposed space). */
  bbox_used_for_cropping: number[][];
  /** Transposed shape after cropping (the target of the resampling back). */
  shape_after_cropping_and_before_resampling: number[];
}

/** What the export needs to know about the labels (a LabelManager provides all of it). */
export interface ExportLabelInfo {
  hasRegions: boolean;
  /** Foreground label count decides uint8 vs uint16, like upstream (< 255 -> uint8). */
  foregroundLabels: readonly number[];
  /** dataset.json `regions_class_order`, required with regions. */
  regionsClassOrder?: readonly number[] | null;
}

export interface SegmentationResult {
  segmentation: Uint8Array | Uint16Array;
  /** Shape of `segmentation`: the source image's [X, Y, Z] in nnU-Net order. */
  shape: number[];
  /** Softmax / sigmoid probabilities [H, X, Y, Z] (when asked for), background 1 outside the crop for softmax. */
  probabilities?: Float32Array;
}

/** Transposes C-order `src` of `shape` so that out.shape[i] = shape[axes[i]] (numpy's transpose(axes)). */
export function transposeArray<T extends Uint8Array | Uint16Array | Float32Array>(src: T, shape: readonly number[], axes: readonly number[]): T {
  if (axes.every((a, i) => a === i)) return src;
  const nd = shape.length;
  const outShape = axes.map((a) => shape[a]!);
  const inStride = new Array<number>(nd);
  inStride[nd - 1] = 1;
  for (let d = nd - 2; d >= 0; d--) inStride[d] = inStride[d + 1]! * shape[d + 1]!;
  const strideForOut = axes.map((a) => inStride[a]!);
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const idx = new Array<number>(nd).fill(0);
  const last = nd - 1,
    lastStride = strideForOut[last]!,
    lastLen = outShape[last]!;
  let o = 0;
  while (o < out.length) {
    let base = 0;
    for (let d = 0; d < last; d++) base += idx[d]! * strideForOut[d]!;
    for (let k = 0; k < lastLen; k++) out[o++] = src[base + k * lastStride]!;
    for (let d = last - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
    if (last === 0) break;
  }
  return out;
}

/** Writes `inner` (shape = bbox extent) into `outer` of `outerShape` at `bbox` (insert_crop_into_image); per channel when `channels` > 1. */
function insertCrop<T extends Uint8Array | Uint16Array | Float32Array>(
  outer: T,
  outerShape: readonly number[],
  inner: T,
  bbox: readonly number[][],
  channels = 1,
): void {
  const [X, Y, Z] = outerShape as [number, number, number];
  const [[x0, x1], [y0, y1], [z0, z1]] = bbox as [[number, number], [number, number], [number, number]];
  const bx = x1 - x0,
    by = y1 - y0,
    bz = z1 - z0;
  for (let c = 0; c < channels; c++) {
    for (let x = 0; x < bx; x++) {
      for (let y = 0; y < by; y++) {
        const s = ((c * bx + x) * by + y) * bz;
        outer.set(inner.subarray(s, s + bz), ((c * X + x0 + x) * Y + y0 + y) * Z + z0);
      }
    }
  }
}

/**
 * Resamples logits back to the cropped source shape (plans `resampling_fn_probabilities_kwargs`), turns them into
 * labels (argmax, first maximum wins; or regions: sigmoid > 0.5 in regions_class_order, later overwrites earlier),
 * puts the crop back into shape_before_cropping and reverts the transpose. Matches upstream's
 * convert_predicted_logits_to_segmentation_with_correct_shape, except that labels come from an argmax of the logits
 * rather than of float32 softmax values (identical unless two classes tie after the softmax's rounding).
 */
export function convertPredictedLogitsToSegmentationWithCorrectShape(
  logits: Float32Array,
  logitsShape: readonly number[],
  plans: Plans,
  configuration: ConfigurationPlan,
  labels: ExportLabelInfo,
  properties: ExportProperties,
  { returnProbabilities = false }: { returnProbabilities?: boolean } = {},
): SegmentationResult {
  const H = logitsShape[0]!;
  const tf = plans.transpose_forward,
    tb = plans.transpose_backward;
  const target = properties.shape_after_cropping_and_before_resampling;
  if (logitsShape.length !== 4 || target.length !== 3) {
    throw new InputError(`expected logits [H, X, Y, Z] and a 3-D target shape, got [${logitsShape}] and [${target}]`);
  }
  const spacingT = tf.map((i) => properties.spacing[i]!);
  const currentSpacing = configuration.spacing.length === target.length ? configuration.spacing : [spacingT[0]!, ...configuration.spacing];
  const k = configuration.resampling_fn_probabilities_kwargs;
  const resampled = resampleDataOrSegToShape(logits, logitsShape, target, currentSpacing, spacingT, {
    isSeg: k?.is_seg ?? false,
    order: k?.order ?? 1,
    orderZ: k?.order_z ?? 0,
    forceSeparateZ: k?.force_separate_z ?? null,
  });
  const n = prod(target);
  const big = labels.foregroundLabels.length >= 255;
  const seg = big ? new Uint16Array(n) : new Uint8Array(n);
  let probs: Float32Array | undefined;
  if (labels.hasRegions) {
    const order = labels.regionsClassOrder;
    if (!order || order.length !== H) throw new InputError(`regions_class_order has ${order?.length ?? 0} entries, the network has ${H} outputs`);
    // float32 sigmoid > 0.5, like torch: logits within ~6e-8 of 0 give exactly 0.5
    for (let h = 0; h < H; h++) {
      const c = order[h]!,
        off = h * n;
      for (let i = 0; i < n; i++) if (Math.fround(1 / (1 + Math.exp(-resampled[off + i]!))) > 0.5) seg[i] = c;
    }
    if (returnProbabilities) {
      probs = new Float32Array(H * n);
      for (let i = 0; i < H * n; i++) probs[i] = 1 / (1 + Math.exp(-resampled[i]!));
    }
  } else {
    for (let i = 0; i < n; i++) {
      let best = 0,
        bv = resampled[i]!;
      for (let h = 1; h < H; h++) {
        const v = resampled[h * n + i]!;
        if (v > bv) {
          bv = v;
          best = h;
        }
      }
      seg[i] = best;
    }
    if (returnProbabilities) probs = softmaxChannels(resampled, H, n);
  }

  const before = properties.shape_before_cropping;
  const bbox = properties.bbox_used_for_cropping;
  const bboxShape = bbox.map(([lo, hi]) => hi! - lo!);
  // shape_before_cropping and the bbox are in the transposed space (preprocessing transposes before cropping)
  if (bboxShape.some((s, i) => s !== target[i])) {
    throw new InputError(`bbox_used_for_cropping [${bbox.map((b) => b.join(":"))}] does not match shape_after_cropping_and_before_resampling [${target}]`);
  }
  const full = big ? new Uint16Array(prod(before)) : new Uint8Array(prod(before));
  insertCrop(full, before, seg, bbox);
  const segmentation = transposeArray(full, before, tb);
  const shape = tb.map((a) => before[a]!);
  if (!probs) return { segmentation, shape };
  const fullP = new Float32Array(H * prod(before));
  if (!labels.hasRegions) fullP.fill(1, 0, prod(before)); // background probability 1 outside the crop
  insertCrop(fullP, before, probs, bbox, H);
  return { segmentation, shape, probabilities: transposeArray(fullP, [H, ...before], [0, ...tb.map((a) => a + 1)]) };
}

/** Float32 softmax over the channel axis of [H, n] logits. */
function softmaxChannels(x: Float32Array, H: number, n: number): Float32Array {
  const out = new Float32Array(H * n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let h = 0; h < H; h++) m = Math.max(m, x[h * n + i]!);
    let s = 0;
    for (let h = 0; h < H; h++) s += out[h * n + i] = Math.exp(x[h * n + i]! - m);
    for (let h = 0; h < H; h++) out[h * n + i]! /= s;
  }
  return out;
}

/** The reader/writer named in the plans, checked. */
export function planReaderWriter(plans: Plans): ReaderWriterName {
  const rw = plans.image_reader_writer as ReaderWriterName;
  if (!READER_WRITER_NAMES.includes(rw)) {
    throw new InputError(`image_reader_writer ${plans.image_reader_writer} is not supported (supported: ${READER_WRITER_NAMES.join(", ")})`);
  }
  return rw;
}

/**
 * Converts logits and writes `<outputFileTruncated><file_ending>` with the source geometry; with `saveProbabilities`
 * also `<outputFileTruncated>.npz` (`probabilities`, float32, np.load-able) and the properties as
 * `<outputFileTruncated>.json` (upstream writes a .pkl; JSON is what a JS tool can write safely).
 * Every file is written atomically. Matches upstream's export_prediction_from_logits.
 */
export async function exportPredictionFromLogits(
  logits: Float32Array,
  logitsShape: readonly number[],
  properties: ExportProperties,
  configuration: ConfigurationPlan,
  plans: Plans,
  labels: ExportLabelInfo,
  fileEnding: string,
  outputFileTruncated: string,
  { saveProbabilities = false }: { saveProbabilities?: boolean } = {},
): Promise<SegmentationResult> {
  const res = convertPredictedLogitsToSegmentationWithCorrectShape(logits, logitsShape, plans, configuration, labels, properties, {
    returnProbabilities: saveProbabilities,
  });
  if (saveProbabilities && res.probabilities) {
    await writeNpzFile(`${outputFileTruncated}.npz`, { probabilities: { dtype: "float32", shape: [logitsShape[0]!, ...res.shape], data: res.probabilities } });
    await writeJsonAtomic(`${outputFileTruncated}.json`, properties);
  }
  await writeSeg(res.segmentation, res.shape, `${outputFileTruncated}${fileEnding}`, properties, planReaderWriter(plans));
  return res;
}
