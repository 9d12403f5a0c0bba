// Port of nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py (ExperimentPlanner):
// target spacing, transpose, 2d / 3d_fullres / 3d_lowres configurations with topology, patch size, VRAM estimate and
// batch size. Pure: takes the dataset.json and fingerprint contents and returns the plans dict; I/O is in
// plan-experiment.ts. Python rounds half to even and numpy reduces in float64 here, so both are reproduced exactly.

import { ConfigError } from "../errors.js";
import type { FingerprintJson } from "../fingerprint/fingerprint-json.js";
import { computeConvFeatureMapSize } from "./conv-feature-map-size.js";
import { getPoolAndConvProps } from "./network-topology.js";
import { argmax, argsortLast, medianAxis0, percentileLinear, prod, roundHalfEven } from "../util/python-math.js";
import { normalizationSchemeFor } from "./normalization-schemes.js";
import { unetArchitecture, type ArchitecturePlan, type ConfigurationPlan, type Plans, type ResamplingKwargs } from "./plans.js";

/** The dataset.json keys planning reads (structurally compatible with sdk/dataset/raw.ts DatasetJson). */
export interface PlannerDatasetJson {
  channel_names?: Record<string, string>;
  modality?: Record<string, string>;
  labels: Record<string, unknown>;
  numTraining: number;
  [k: string]: unknown;
}

export interface PlannerInput {
  /** `DatasetXXX_Name` */
  datasetName: string;
  datasetJson: PlannerDatasetJson;
  fingerprint: FingerprintJson;
  /** Class name written as `image_reader_writer` (SimpleITKIO, NibabelIO, ...). */
  imageReaderWriter: string;
}

export interface PlannerOptions {
  /** Default depends on the planner (8 GB; ResEncL 24, ResEncXL 40). */
  gpuMemoryTargetInGb?: number;
  preprocessorName?: string;
  plansName?: string;
  /** Replaces the computed fullres target spacing (untransposed, reader axis order). */
  overwriteTargetSpacing?: number[] | null;
  suppressTranspose?: boolean;
}

const PLAIN_CONV_UNET = "dynamic_network_architectures.architectures.unet.PlainConvUNet";
export const RESIDUAL_ENCODER_UNET = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet";

const RESAMPLING_FN = "resample_data_or_seg_to_shape";

type Cache = Map<string, number>;

export class ExperimentPlanner {
  /** The plans identifier this planner writes unless `plansName` is given (upstream's constructor default). */
  static readonly defaultPlansName: string = "nnUNetPlans";
  /** Class name written as `experiment_planner_used`. */
  plannerName = "ExperimentPlanner";
  UNetClass = PLAIN_CONV_UNET;
  UNetBaseNumFeatures = 32;
  UNetReferenceVal3d = 560_000_000;
  UNetReferenceVal2d = 85_000_000;
  UNetReferenceValCorrespGB = 8;
  UNetReferenceValCorrespBs2d = 12;
  UNetReferenceValCorrespBs3d = 2;
  UNetFeaturemapMinEdgeLength = 4;
  UNetBlocksPerStageEncoder: readonly number[] = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
  UNetBlocksPerStageDecoder: readonly number[] = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
  UNetMinBatchSize = 2;
  UNetMaxFeatures2d = 512;
  UNetMaxFeatures3d = 320;
  maxDatasetCovered = 0.05;
  UNetVramTargetGB: number;
  lowresCreationThreshold = 0.25;
  anisotropyThreshold = 3;
  preprocessorName: string;
  plansIdentifier: string;
  overwriteTargetSpacing: number[] | null;
  suppressTranspose: boolean;

  constructor(
    readonly input: PlannerInput,
    opts: PlannerOptions = {},
    defaults: { plansName?: string; gpuMemoryTargetInGb?: number } = {},
  ) {
    this.UNetVramTargetGB = opts.gpuMemoryTargetInGb ?? defaults.gpuMemoryTargetInGb ?? 8;
    this.preprocessorName = opts.preprocessorName ?? "DefaultPreprocessor";
    this.plansIdentifier = opts.plansName ?? defaults.plansName ?? ExperimentPlanner.defaultPlansName;
    this.overwriteTargetSpacing = opts.overwriteTargetSpacing ?? null;
    this.suppressTranspose = opts.suppressTranspose ?? false;
    const fp = input.fingerprint;
    if (!fp.spacings?.length || fp.spacings.length !== fp.shapes_after_crop?.length) {
      throw new ConfigError(`fingerprint of ${input.datasetName} has no cases or mismatched spacings/shapes`);
    }
  }

  /** Key under which the channel names are stored (`channel_names`, legacy `modality`). */
  protected channelNames(): Record<string, string> {
    const names = this.input.datasetJson.channel_names ?? this.input.datasetJson.modality;
    if (!names) throw new ConfigError(`dataset.json of ${this.input.datasetName} has neither channel_names nor modality`);
    return names;
  }

  generateDataIdentifier(configurationName: string): string {
    return `${this.plansIdentifier}_${configurationName}`;
  }

  determineFullresTargetSpacing(): number[] {
    if (this.overwriteTargetSpacing) return [...this.overwriteTargetSpacing];
    const spacings = this.input.fingerprint.spacings;
    const sizes = this.input.fingerprint.shapes_after_crop;
    const dim = spacings[0]!.length;
    const target = [...Array(dim).keys()].map((j) =>
      percentileLinear(
        spacings.map((s) => s[j]!),
        50,
      ),
    );
    const targetSize = [...Array(dim).keys()].map((j) =>
      percentileLinear(
        sizes.map((s) => s[j]!),
        50,
      ),
    );
    const worst = argmax(target);
    const others = [...Array(dim).keys()].filter((i) => i !== worst);
    const otherSpacings = others.map((i) => target[i]!);
    const otherSizes = others.map((i) => targetSize[i]!);
    const hasAnisoSpacing = target[worst]! > this.anisotropyThreshold * Math.max(...otherSpacings);
    const hasAnisoVoxels = targetSize[worst]! * this.anisotropyThreshold < Math.min(...otherSizes);
    if (hasAnisoSpacing && hasAnisoVoxels) {
      let t = percentileLinear(
        spacings.map((s) => s[worst]!),
        10,
      );
      // don't let the low-res axis become finer than the others (would flip which axis is the low-res one)
      if (t < Math.max(...otherSpacings)) t = Math.max(Math.max(...otherSpacings), t) + 1e-5;
      target[worst] = t;
    }
    return target;
  }

  determineTranspose(): { transposeForward: number[]; transposeBackward: number[] } {
    if (this.suppressTranspose) return { transposeForward: [0, 1, 2], transposeBackward: [0, 1, 2] };
    const target = this.determineFullresTargetSpacing();
    const maxAxis = argmax(target);
    const transposeForward = [maxAxis, ...[0, 1, 2].filter((i) => i !== maxAxis)];
    const transposeBackward = [0, 1, 2].map((i) => transposeForward.indexOf(i));
    return { transposeForward, transposeBackward };
  }

  determineResampling(): { data: ResamplingKwargs; seg: ResamplingKwargs; probabilities: ResamplingKwargs } {
    return {
      data: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
      seg: { is_seg: true, order: 1, order_z: 0, force_separate_z: null },
      probabilities: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
    };
  }

  determineNormalizationSchemeAndWhetherMaskIsUsedForNorm(): { schemes: string[]; useMask: boolean[] } {
    const schemes = Object.values(this.channelNames()).map(normalizationSchemeFor);
    // a dataset.json key "use_mask_for_norm": true forces the mask (upstream master, after 2.5)
    const useMask =
      this.input.fingerprint.median_relative_size_after_cropping < 3 / 4 || Boolean(this.input.datasetJson.use_mask_for_norm)
        ? schemes.map((s) => s.leavesPixelsOutsideMaskAtZeroIfUseMaskForNormIsTrue)
        : schemes.map(() => false);
    return { schemes: schemes.map((s) => s.name), useMask };
  }

  /** The `n_conv_per_stage` / `n_blocks_per_stage` entries of arch_kwargs for `numStages` stages. */
  protected stageKwargs(numStages: number): Record<string, number[]> {
    return {
      n_conv_per_stage: this.UNetBlocksPerStageEncoder.slice(0, numStages),
      n_conv_per_stage_decoder: this.UNetBlocksPerStageDecoder.slice(0, numStages - 1),
    };
  }

  /** True while the patch is too large for the VRAM reference (ExperimentPlanner corrects for its batch size of 2). */
  protected exceedsReference(estimate: number, refBs: number, reference: number): boolean {
    return (estimate / refBs) * 2 > reference;
  }

  private architecture(numStages: number, maxFeatures: number, dim: number, kernelSizes: number[][], strides: number[][]): ArchitecturePlan {
    const { n_conv_per_stage_decoder, ...encoder } = this.stageKwargs(numStages);
    const features = Array.from({ length: numStages }, (_, i) => Math.min(maxFeatures, this.UNetBaseNumFeatures * 2 ** i));
    return unetArchitecture(this.UNetClass, dim, features, kernelSizes, strides, encoder, n_conv_per_stage_decoder!);
  }

  private estimate(arch: ArchitecturePlan, patchSize: number[], cache: Cache): number {
    const key = `${patchSize}_${JSON.stringify(arch.arch_kwargs.strides)}`;
    let est = cache.get(key);
    if (est === undefined) {
      est = computeConvFeatureMapSize(arch.network_class_name, arch.arch_kwargs, patchSize, Object.keys(this.input.datasetJson.labels).length);
      cache.set(key, est);
    }
    return est;
  }

  getPlansForConfiguration(
    spacing: number[],
    medianShape: number[],
    dataIdentifier: string,
    approximateNVoxelsDataset: number,
    cache: Cache = new Map(),
  ): ConfigurationPlan {
    if (!spacing.every((s) => s > 0)) throw new ConfigError(`Spacing must be > 0! Spacing: [${spacing.join(", ")}]`);
    const dim = spacing.length;
    if (dim !== 2 && dim !== 3) throw new ConfigError(`cannot plan a ${dim}-d configuration`);
    const maxFeatures = dim === 2 ? this.UNetMaxFeatures2d : this.UNetMaxFeatures3d;
    const median = medianShape.slice(0, dim);

    // Initial patch: the spacing's aspect ratio scaled to the volume of a 256^3 (2d: 2048^2) patch, clipped to the median shape.
    const tmp = spacing.map((s) => 1 / s);
    const scale = dim === 3 ? (256 ** 3 / prod(tmp)) ** (1 / 3) : (2048 ** 2 / prod(tmp)) ** (1 / 2);
    const initialPatchSize = tmp.map((t, i) => Math.min(roundHalfEven(t * scale), median[i]!));

    let topo = getPoolAndConvProps(spacing, initialPatchSize, this.UNetFeaturemapMinEdgeLength, 999999);
    let patchSize = topo.patchSize;
    let arch = this.architecture(topo.poolOpKernelSizes.length, maxFeatures, dim, topo.convKernelSizes, topo.poolOpKernelSizes);
    let estimate = this.estimate(arch, patchSize, cache);

    const reference = (dim === 2 ? this.UNetReferenceVal2d : this.UNetReferenceVal3d) * (this.UNetVramTargetGB / this.UNetReferenceValCorrespGB);
    const refBs = dim === 2 ? this.UNetReferenceValCorrespBs2d : this.UNetReferenceValCorrespBs3d;
    while (this.exceedsReference(estimate, refBs, reference)) {
      // Shrink the axis that is largest relative to the median shape. Subtracting the current divisor could skip valid
      // sizes (256 - 64 = 192 skips 224), so subtract the divisor recomputed for the reduced size instead.
      const axis = argsortLast(patchSize.map((p, i) => p / median[i]!));
      const reduced = [...patchSize];
      reduced[axis]! -= topo.shapeMustBeDivisibleBy[axis]!;
      const divisor = getPoolAndConvProps(spacing, reduced, this.UNetFeaturemapMinEdgeLength, 999999).shapeMustBeDivisibleBy;
      const next = [...patchSize];
      next[axis]! -= divisor[axis]!;
      topo = getPoolAndConvProps(spacing, next, this.UNetFeaturemapMinEdgeLength, 999999);
      patchSize = topo.patchSize;
      arch = this.architecture(topo.poolOpKernelSizes.length, maxFeatures, dim, topo.convKernelSizes, topo.poolOpKernelSizes);
      estimate = this.estimate(arch, patchSize, cache);
    }

    let batchSize = roundHalfEven((reference / estimate) * refBs);
    // cap the batch to max_dataset_covered of all voxels (overfitting precaution), but never below the minimum
    const bsCap = roundHalfEven((approximateNVoxelsDataset * this.maxDatasetCovered) / prod(patchSize));
    batchSize = Math.max(Math.min(batchSize, bsCap), this.UNetMinBatchSize);

    const resampling = this.determineResampling();
    const { schemes, useMask } = this.determineNormalizationSchemeAndWhetherMaskIsUsedForNorm();
    return {
      data_identifier: dataIdentifier,
      preprocessor_name: this.preprocessorName,
      batch_size: batchSize,
      patch_size: patchSize,
      median_image_size_in_voxels: [...medianShape],
      spacing: [...spacing],
      normalization_schemes: schemes,
      use_mask_for_norm: useMask,
      resampling_fn_data: RESAMPLING_FN,
      resampling_fn_seg: RESAMPLING_FN,
      resampling_fn_data_kwargs: resampling.data,
      resampling_fn_seg_kwargs: resampling.seg,
      resampling_fn_probabilities: RESAMPLING_FN,
      resampling_fn_probabilities_kwargs: resampling.probabilities,
      architecture: arch,
    } as ConfigurationPlan;
  }

  /** plan_experiment(): the plans dict upstream would save (without merging an existing file). */
  planExperiment(): Plans {
    const cache: Cache = new Map();
    const fp = this.input.fingerprint;
    const numTraining = this.input.datasetJson.numTraining;
    const { transposeForward, transposeBackward } = this.determineTranspose();
    const fullresSpacing = this.determineFullresTargetSpacing();
    const fullresSpacingT = transposeForward.map((i) => fullresSpacing[i]!);

    // compute_new_shape per case: what each case would measure after resampling to the target spacing
    const newShapes = fp.spacings.map((sp, c) => fp.shapes_after_crop[c]!.map((s, i) => roundHalfEven((sp[i]! / fullresSpacing[i]!) * s)));
    const newMedianShape = medianAxis0(newShapes);
    const newMedianShapeT = transposeForward.map((i) => newMedianShape[i]!);
    const approximateNVoxelsDataset = prod(newMedianShapeT) * numTraining;

    let fullres: ConfigurationPlan | null = null;
    let lowres: ConfigurationPlan | null = null;
    if (newMedianShapeT[0] !== 1) {
      fullres = this.getPlansForConfiguration(fullresSpacingT, newMedianShapeT, this.generateDataIdentifier("3d_fullres"), approximateNVoxelsDataset, cache);
      let medianNumVoxels = prod(newMedianShapeT);
      let numVoxelsInPatch = prod(fullres.patch_size);
      const lowresSpacing = [...fullres.spacing];
      const spacingIncreaseFactor = 1.03;
      while (numVoxelsInPatch / medianNumVoxels < this.lowresCreationThreshold) {
        // coarsen the anisotropic axis/axes first until they are within 2x of the others, then all axes together
        const maxSpacing = Math.max(...lowresSpacing);
        const aniso = lowresSpacing.map((s) => maxSpacing / s > 2);
        if (aniso.some(Boolean))
          aniso.forEach((a, i) => {
            if (a) lowresSpacing[i]! *= spacingIncreaseFactor;
          });
        else
          lowresSpacing.forEach((_, i) => {
            lowresSpacing[i]! *= spacingIncreaseFactor;
          });
        const lowresShape = fullres.spacing.map((s, i) => (s / lowresSpacing[i]!) * newMedianShapeT[i]!);
        medianNumVoxels = prod(lowresShape);
        lowres = this.getPlansForConfiguration(
          [...lowresSpacing],
          lowresShape.map(roundHalfEven),
          this.generateDataIdentifier("3d_lowres"),
          medianNumVoxels * numTraining,
          cache,
        );
        numVoxelsInPatch = prod(lowres.patch_size);
      }
      // a lowres stage barely smaller than fullres is not worth a cascade
      if (prod(newMedianShapeT) / medianNumVoxels < 2) lowres = null;
      if (lowres) {
        lowres.batch_dice = false;
        fullres.batch_dice = true;
      } else {
        fullres.batch_dice = false;
      }
    }

    const plan2d = this.getPlansForConfiguration(
      fullresSpacingT.slice(1),
      newMedianShapeT.slice(1),
      this.generateDataIdentifier("2d"),
      approximateNVoxelsDataset,
      cache,
    );
    plan2d.batch_dice = true;

    const medianSpacing = medianAxis0(fp.spacings);
    const medianShape = medianAxis0(fp.shapes_after_crop);
    const configurations: Plans["configurations"] = { "2d": plan2d };
    if (lowres) {
      configurations["3d_lowres"] = lowres;
      if (fullres) lowres.next_stage = "3d_cascade_fullres";
    }
    if (fullres) {
      configurations["3d_fullres"] = fullres;
      if (lowres) configurations["3d_cascade_fullres"] = { inherits_from: "3d_fullres", previous_stage: "3d_lowres" };
    }
    return {
      dataset_name: this.input.datasetName,
      plans_name: this.plansIdentifier,
      original_median_spacing_after_transp: transposeForward.map((i) => medianSpacing[i]!),
      original_median_shape_after_transp: transposeForward.map((i) => roundHalfEven(medianShape[i]!)),
      image_reader_writer: this.input.imageReaderWriter,
      transpose_forward: transposeForward,
      transpose_backward: transposeBackward,
      configurations,
      experiment_planner_used: this.plannerName,
      label_manager: "LabelManager",
      foreground_intensity_properties_per_channel: structuredClone(fp.foreground_intensity_properties_per_channel),
    };
  }
}
