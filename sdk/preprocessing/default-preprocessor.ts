// nnU-Net's DefaultPreprocessor.run_case_npy (nnunetv2/preprocessing/preprocessors/default_preprocessor.py) for one
// case: transpose -> crop to the nonzero mask -> normalise -> resample -> class_locations. Used for training data and,
// with seg = null, at inference time. Arrays are C-contiguous; after the transpose they are (C, Z, Y, X).

import { ConfigError, InputError } from "../errors.js";
import type { ImageProperties, ImageVolume } from "../io/image-io.js";
import type { DatasetJson } from "../dataset/raw.js";
import { LabelManager } from "../dataset/labels.js";
import { resolveConfiguration, type ConfigurationPlan, type Plans, type ResamplingKwargs } from "../planning/plans.js";
import { cropToNonzero } from "../fingerprint/crop-to-nonzero.js";
import { computeNewShape, resampleDataOrSegToShape } from "./resample.js";
import { normalizationScheme, type ChannelIntensityProperties } from "./normalization.js";
import { sampleForegroundLocations, type ClassLocations, type ClassOrRegion } from "./class-locations.js";

/** The properties upstream pickles next to each preprocessed case (stored as `<case>.json` here). */
export interface PreprocessedProperties extends ImageProperties {
  shape_before_cropping: number[];
  /** Half-open [start, end) per axis, in transposed axis order. */
  bbox_used_for_cropping: [number, number][];
  shape_after_cropping_and_before_resampling: number[];
  class_locations?: ClassLocations;
}

export interface PreprocessedCase {
  /** float32, C x Z x Y x X (transposed axis order). */
  data: Float32Array;
  /** [C, Z, Y, X] */
  shape: number[];
  /** int16 segmentation (-1 outside the nonzero mask), 1 x Z x Y x X; null when no segmentation was given. */
  seg: Int16Array | null;
  properties: PreprocessedProperties;
}

/** Only upstream's default resampling function exists here; plans naming another one are rejected by name. */
const RESAMPLING_FN = "resample_data_or_seg_to_shape";

/** Transposes a C-contiguous [C, a, b, c] array by `transposeForward` on the spatial axes. */
function transposeSpatial<T extends Float32Array>(src: T, shape: readonly number[], tf: readonly number[]): { data: T; shape: number[] } {
  const [C, ...sp] = shape as [number, number, number, number];
  const newShape = [C, ...tf.map((i) => sp[i]!)];
  if (tf.every((v, i) => v === i)) return { data: src, shape: newShape };
  const srcStrides = [sp[1]! * sp[2]!, sp[2]!, 1];
  const s = tf.map((i) => srcStrides[i]!);
  const [n0, n1, n2] = newShape.slice(1) as [number, number, number];
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const vox = n0 * n1 * n2;
  let p = 0;
  for (let c = 0; c < C; c++) {
    const base = c * vox;
    for (let a = 0; a < n0; a++)
      for (let b = 0; b < n1; b++) {
        let q = base + a * s[0]! + b * s[1]!;
        for (let d = 0; d < n2; d++, q += s[2]!) out[p++] = src[q]!;
      }
  }
  return { data: out, shape: newShape };
}

/** The resampling kwargs of a configuration in camelCase, after checking the function name. */
function resamplingOptions(cfg: ConfigurationPlan, which: "data" | "seg"): { isSeg: boolean; order: number; orderZ: number; forceSeparateZ: boolean | null } {
  const fn = which === "data" ? cfg.resampling_fn_data : cfg.resampling_fn_seg;
  if (fn !== RESAMPLING_FN) throw new ConfigError(`unsupported resampling_fn_${which} ${JSON.stringify(fn)} (only ${RESAMPLING_FN} is implemented)`);
  const k: Partial<ResamplingKwargs> = (which === "data" ? cfg.resampling_fn_data_kwargs : cfg.resampling_fn_seg_kwargs) ?? {};
  return { isSeg: k.is_seg ?? false, order: k.order ?? 3, orderZ: k.order_z ?? 0, forceSeparateZ: k.force_separate_z ?? null };
}

/** Classes whose voxel locations are stored: foreground regions or labels, plus all annotated labels with an ignore label. */
export function classesForLocations(datasetJson: DatasetJson): ClassOrRegion[] {
  const lm = new LabelManager(datasetJson.labels, datasetJson.regions_class_order);
  const classes: ClassOrRegion[] = lm.hasRegions ? [...lm.foregroundRegions!] : [...lm.foregroundLabels];
  // when using the ignore label we want to sample only from annotated regions. Therefore we also need to collect
  // samples uniformly from all classes (incl background)
  if (lm.hasIgnoreLabel) classes.push([-1, ...lm.allLabels]);
  return classes;
}

/**
 * The spacing a case is resampled to. The configuration's spacing is already transposed; 2d configurations have 2
 * entries and keep the out-of-plane spacing; None entries (no_resample) keep this case's own spacing, as the nnssl
 * fork's DefaultPreprocessor does ("casewise_target_spacing").
 */
export function caseTargetSpacing(cfg: Pick<ConfigurationPlan, "spacing">, originalSpacing: readonly number[]): number[] {
  let target: (number | null)[] = [...(cfg.spacing as (number | null)[])];
  if (target.length < originalSpacing.length) target = [originalSpacing[0]!, ...target];
  return target.map((t, i) => (t === null || t === undefined ? originalSpacing[i]! : t));
}

/**
 * Preprocesses one case held in memory: transposes by the plans' `transpose_forward`, crops to the hole-filled
 * nonzero mask, normalises each channel (before resampling, so the nonzero mask still fits the image), resamples to
 * the configuration's spacing (`null` entries keep the case's own spacing, which makes `no_resample` work) and, with a
 * segmentation, samples `class_locations`.
 * Matches `DefaultPreprocessor.run_case_npy` in nnU-Net's `default_preprocessor.py`.
 * @example
 * const { data, shape, seg, properties } = runCase(await readImages(files, "NibabelIO"), await readSeg(label, "NibabelIO"), plans, "3d_fullres",
 *   datasetJson)
 */
export function runCase(images: ImageVolume, seg: ImageVolume | null, plans: Plans, configurationName: string, datasetJson: DatasetJson): PreprocessedCase {
  const cfg = resolveConfiguration(plans, configurationName);
  const tf = plans.transpose_forward;
  if (images.shape.length !== 4) throw new InputError(`runCase: images must be [C, X, Y, Z], got shape [${images.shape}]`);
  if (seg && seg.shape.slice(1).some((s, i) => s !== images.shape[i + 1])) {
    throw new InputError(`runCase: segmentation shape [${seg.shape}] differs from image shape [${images.shape}]`);
  }
  const spacing = images.properties.spacing;
  // apply transpose_forward, this also needs to be applied to the spacing!
  // cropToNonzero copies, so the inputs are never modified and need no defensive copy here
  const data0 = transposeSpatial(images.data, images.shape, tf);
  const seg0 = seg
    ? transposeSpatial(
        seg.data.subarray(
          0,
          seg.shape.slice(1).reduce((a, b) => a * b, 1),
        ),
        [1, ...seg.shape.slice(1)],
        tf,
      )
    : null;
  const originalSpacing = tf.map((i) => spacing[i]!);
  const shapeBeforeCropping = data0.shape.slice(1);

  // crop, remember to store size before cropping! Without a segmentation this creates one (0 inside, -1 outside the
  // nonzero mask), which normalisation needs.
  // int16 straight away: the segmentation is resampled as int16 (as upstream's astype after cropping)
  const crop = cropToNonzero(data0.data, data0.shape, seg0 ? seg0.data : null, { segType: "int16" });
  const shapeAfterCropping = crop.shape.slice(1);

  const targetSpacing = caseTargetSpacing(cfg, originalSpacing);
  const newShape = computeNewShape(shapeAfterCropping, originalSpacing, targetSpacing);

  // normalize. Normalization MUST happen before resampling or we get huge problems with resampled nonzero masks no
  // longer fitting the images perfectly!
  const nVox = shapeAfterCropping.reduce((a, b) => a * b, 1);
  const C = crop.shape[0]!;
  for (let c = 0; c < C; c++) {
    const scheme = cfg.normalization_schemes[c];
    if (scheme === undefined)
      throw new ConfigError(`configuration ${configurationName} has ${cfg.normalization_schemes.length} normalization_schemes but the case has ${C} channels`);
    const props = plans.foreground_intensity_properties_per_channel?.[String(c)] as unknown as ChannelIntensityProperties | undefined;
    normalizationScheme(scheme)(crop.data.subarray(c * nVox, (c + 1) * nVox), crop.seg, {
      useMaskForNorm: cfg.use_mask_for_norm?.[c] ?? false,
      intensityProperties: props,
    });
  }

  const data = resampleDataOrSegToShape(crop.data, crop.shape, newShape, originalSpacing, targetSpacing, resamplingOptions(cfg, "data"));
  const properties: PreprocessedProperties = {
    ...images.properties,
    shape_before_cropping: shapeBeforeCropping,
    bbox_used_for_cropping: crop.bbox,
    shape_after_cropping_and_before_resampling: shapeAfterCropping,
  };
  let outSeg: Int16Array | null = null;
  if (seg) {
    const seg16 = crop.seg as Int16Array; // segType "int16" above
    outSeg = resampleDataOrSegToShape(seg16, [1, ...shapeAfterCropping], newShape, originalSpacing, targetSpacing, resamplingOptions(cfg, "seg"));
    // if we have a segmentation, sample foreground locations for oversampling and add those to properties
    properties.class_locations = sampleForegroundLocations(outSeg, [1, ...newShape], classesForLocations(datasetJson));
  }
  return { data, shape: [C, ...newShape], seg: outSeg, properties };
}
