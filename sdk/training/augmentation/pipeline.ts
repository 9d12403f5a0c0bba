// nnUNetTrainer.get_training_transforms / get_validation_transforms, per sample, in upstream's order and
// probabilities. Randomness comes from one seeded RandomState per sample, so a run is reproducible given its seed
// (upstream draws from unseeded global generators in worker processes).

import type { RandomState } from "../../util/random-state.js";
import { Gauss, type Sample } from "./sample.js";
import { applySpatialTransform, drawSpatialParams } from "./spatial-transform.js";
import { gaussianBlur, gaussianNoise } from "./noise-and-blur.js";
import { contrast, gamma, multiplicativeBrightness } from "./intensity.js";
import { simulateLowResolution } from "./simulate-low-resolution.js";
import { convertSegToRegions, downsampleSegForDS, maskImage, mirror, removeLabel } from "./seg-transforms.js";

/** Everything the transforms need to know about the configuration, in 3-D form (2D configurations: depth 1). */
export interface TransformConfig {
  /** Final patch [D, H, W] (2D: [1, H, W]). */
  patchSize: [number, number, number];
  /** A 2D configuration (rotation/scaling/low-res only in-plane, mirroring on axes 1, 2). */
  is2d: boolean;
  doDummy2d: boolean;
  rotation: [number, number];
  /** Mirror axes in 3-D form. */
  mirrorAxes: number[];
  /** Image channels with use_mask_for_norm. */
  maskChannels: number[];
  /** Regions to convert to (plus the ignore label as the last one), or null for plain labels. */
  regions: (number | number[])[] | null;
  /** Deep-supervision scales in 3-D form, or null without deep supervision. */
  dsScales: number[][] | null;
}

/** Targets as the loss takes them: (1, ...) int16 labels or (R, ...) uint8 regions, one per DS scale. */
export interface SampleTargets {
  image: Float32Array;
  targets: { data: Int16Array | Uint8Array; shape: number[] }[];
  /** Which spatial transform / mirroring was drawn (for tests and debugging). */
  applied: string[];
}

function finish(s: Sample, cfg: TransformConfig, applied: string[]): SampleTargets {
  if (cfg.maskChannels.length) maskImage(s, cfg.maskChannels);
  removeLabel(s.seg, -1, 0);
  const channels = cfg.regions ? cfg.regions.length : 1;
  const seg: Int16Array | Uint8Array = cfg.regions ? convertSegToRegions(s.seg, cfg.regions) : s.seg;
  const scales = cfg.dsScales ?? [[1, 1, 1]];
  const targets = downsampleSegForDS(seg, channels, s.shape, scales).map((t) => ({ data: t.data, shape: [channels, ...t.shape] }));
  return { image: s.image, targets, applied };
}

/** The training pipeline on one cropped sample (of the initial patch size). */
export function applyTrainingTransforms(input: Sample, rs: RandomState, cfg: TransformConfig): SampleTargets {
  const applied: string[] = [];
  const inPlane = cfg.is2d || cfg.doDummy2d;
  const params = drawSpatialParams(rs, { patchSize: cfg.patchSize, rotation: cfg.rotation, inPlane });
  if (params.affine) applied.push("spatial");
  const s = applySpatialTransform(input, params, cfg.patchSize);
  const gauss = new Gauss(rs);
  const spatialAxes = cfg.is2d ? [1, 2] : [0, 1, 2];
  const maybe = (p: number, name: string, fn: () => void) => {
    if (rs.randomSample() < p) {
      applied.push(name);
      fn();
    }
  };
  maybe(0.1, "noise", () => gaussianNoise(s, rs, gauss));
  maybe(0.2, "blur", () => gaussianBlur(s, rs, spatialAxes));
  maybe(0.15, "brightness", () => multiplicativeBrightness(s, rs));
  maybe(0.15, "contrast", () => contrast(s, rs));
  maybe(0.25, "lowres", () => simulateLowResolution(s, rs, inPlane ? [0] : []));
  maybe(0.1, "gamma_inverted", () => gamma(s, rs, 1));
  maybe(0.3, "gamma", () => gamma(s, rs, 0));
  const flipped = mirror(s, rs, cfg.mirrorAxes);
  if (flipped.length) applied.push(`mirror${flipped.join("")}`);
  return finish(s, cfg, applied);
}

/** The validation pipeline: mask, -1 -> 0, regions, DS targets (the crop already has the final patch size). */
export function applyValidationTransforms(s: Sample, cfg: TransformConfig): SampleTargets {
  return finish({ ...s, image: s.image.slice(), seg: s.seg.slice() }, cfg, []);
}
