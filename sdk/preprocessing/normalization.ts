// nnU-Net's intensity normalisation schemes (nnunetv2/preprocessing/normalization/default_normalization_schemes.py),
// one channel at a time, in place, with upstream's float32 arithmetic (NumPy's value-based casting turns the Python
// float constants into float32 before each array operation).

import { ConfigError } from "../errors.js";
import { npMean, npStd } from "../util/numpy-reductions.js";

const f = Math.fround;

/** The fingerprint's per-channel foreground intensity statistics (`foreground_intensity_properties_per_channel[c]`). */
export interface ChannelIntensityProperties {
  mean: number;
  std: number;
  percentile_00_5: number;
  percentile_99_5: number;
  [key: string]: number;
}

export interface NormalizationInput {
  /** True to normalise only where `seg >= 0` (the nonzero region); upstream's `use_mask_for_norm[c]`. */
  useMaskForNorm: boolean;
  /** Needed by CTNormalization only. */
  intensityProperties?: ChannelIntensityProperties;
}

/** A scheme normalises `image` in place; `seg` is the cropped segmentation (-1 outside the nonzero mask) or null. */
export type NormalizationFn = (image: Float32Array, seg: ArrayLike<number> | null, opts: NormalizationInput) => void;

/** max(std, 1e-8) as Python evaluates it, then used as a float32 divisor. */
const divisor = (std: number) => (std >= 1e-8 ? std : f(1e-8));

// The masked passes run in chunks of CHUNK voxels, one small-function call each: called many times per case, V8
// optimises them once with complete type feedback instead of recompiling a long loop in every case. One copy of
// each loop for the int16 segmentations preprocessing passes, one for any other array.
const CHUNK = 65536;

/** image[seg >= 0] in C order (numpy's boolean indexing), into the front of a scratch array. */
function selectWhereSegNonNegative(image: Float32Array, seg: ArrayLike<number>): Float32Array {
  const buf = new Float32Array(image.length);
  let k = 0;
  for (let i = 0; i < image.length; i += CHUNK) {
    const end = Math.min(image.length, i + CHUNK);
    k = seg instanceof Int16Array ? select16(image, seg, buf, k, i, end) : selectAny(image, seg, buf, k, i, end);
  }
  return buf.subarray(0, k);
}

function select16(image: Float32Array, seg: Int16Array, buf: Float32Array, k: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (seg[i]! >= 0) buf[k++] = image[i]!;
  return k;
}

function selectAny(image: Float32Array, seg: ArrayLike<number>, buf: Float32Array, k: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (seg[i]! >= 0) buf[k++] = image[i]!;
  return k;
}

/** image[seg >= 0] = (image[seg >= 0] - mean) / d in float32. */
function applyWhereSegNonNegative(image: Float32Array, seg: ArrayLike<number>, mean: number, d: number): void {
  for (let i = 0; i < image.length; i += CHUNK) {
    const end = Math.min(image.length, i + CHUNK);
    if (seg instanceof Int16Array) apply16(image, seg, mean, d, i, end);
    else applyAny(image, seg, mean, d, i, end);
  }
}

function apply16(image: Float32Array, seg: Int16Array, mean: number, d: number, from: number, to: number): void {
  for (let i = from; i < to; i++) if (seg[i]! >= 0) image[i] = f(image[i]! - mean) / d;
}

function applyAny(image: Float32Array, seg: ArrayLike<number>, mean: number, d: number, from: number, to: number): void {
  for (let i = from; i < to; i++) if (seg[i]! >= 0) image[i] = f(image[i]! - mean) / d;
}

/** image = (image - mean) / d in float32. */
function applyAll(image: Float32Array, mean: number, d: number, from: number, to: number): void {
  for (let i = from; i < to; i++) image[i] = f(image[i]! - mean) / d;
}

/**
 * Z-score per case. With `useMaskForNorm`, mean and std come from the voxels where seg >= 0 and only those are changed
 * (outside stays 0): negative values in the segmentation encode the 'outside' region (think zero values around the
 * brain as in BraTS). Matches `ZScoreNormalization.run`.
 */
export const zScoreNormalization: NormalizationFn = (image, seg, { useMaskForNorm }) => {
  if (seg !== null && useMaskForNorm) {
    const selected = selectWhereSegNonNegative(image, seg);
    const mean = npMean(selected);
    const d = divisor(npStd(selected, mean));
    applyWhereSegNonNegative(image, seg, mean, d);
  } else {
    const mean = npMean(image);
    const d = divisor(npStd(image, mean));
    for (let i = 0; i < image.length; i += CHUNK) applyAll(image, mean, d, i, Math.min(image.length, i + CHUNK));
  }
};

/** Clip to the dataset's foreground 0.5 / 99.5 percentiles, then z-score with the foreground mean / std. `CTNormalization.run`. */
export const ctNormalization: NormalizationFn = (image, _seg, { intensityProperties: p }) => {
  if (!p) throw new ConfigError("CTNormalization requires intensity properties (foreground_intensity_properties_per_channel in the plans)");
  const lo = f(p.percentile_00_5),
    hi = f(p.percentile_99_5),
    mean = f(p.mean),
    d = divisor(f(p.std));
  for (let i = 0; i < image.length; i += CHUNK) clipApply(image, lo, hi, mean, d, i, Math.min(image.length, i + CHUNK));
};

function clipApply(image: Float32Array, lo: number, hi: number, mean: number, d: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const v = image[i]!;
    image[i] = f((v < lo ? lo : v > hi ? hi : v) - mean) / d;
  }
}

/** Cast only. `NoNormalization.run`. */
export const noNormalization: NormalizationFn = () => {};

/** (x - min) / max(max', 1e-8). `RescaleTo01Normalization.run`. */
export const rescaleTo01Normalization: NormalizationFn = (image) => {
  let lo = Infinity;
  for (let i = 0; i < image.length; i++) if (image[i]! < lo) lo = image[i]!;
  let hi = -Infinity;
  for (let i = 0; i < image.length; i++) {
    image[i] = f(image[i]! - lo);
    if (image[i]! > hi) hi = image[i]!;
  }
  const d = hi >= 1e-8 ? hi : f(1e-8);
  for (let i = 0; i < image.length; i++) image[i] = image[i]! / d;
};

/** x / 255 for 8-bit RGB data. `RGBTo01Normalization.run`. */
export const rgbTo01Normalization: NormalizationFn = (image) => {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < image.length; i++) {
    const v = image[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo < 0) throw new ConfigError(`RGBTo01Normalization: RGB images are uint8, found a value below 0 (${lo})`);
  if (hi > 255) throw new ConfigError(`RGBTo01Normalization: RGB images are uint8, found a value above 255 (${hi})`);
  for (let i = 0; i < image.length; i++) image[i] = image[i]! / 255;
};

/** Upstream scheme names -> implementations (the names plans files use in `normalization_schemes`). */
export const NORMALIZATION_SCHEMES: Readonly<Record<string, NormalizationFn>> = {
  ZScoreNormalization: zScoreNormalization,
  CTNormalization: ctNormalization,
  NoNormalization: noNormalization,
  RescaleTo01Normalization: rescaleTo01Normalization,
  RGBTo01Normalization: rgbTo01Normalization,
};

/** The scheme called `name`; an unknown name is an error listing the known ones. */
export function normalizationScheme(name: string): NormalizationFn {
  const fn = NORMALIZATION_SCHEMES[name];
  if (!fn) throw new ConfigError(`unknown normalization scheme ${JSON.stringify(name)} (known: ${Object.keys(NORMALIZATION_SCHEMES).join(", ")})`);
  return fn;
}
