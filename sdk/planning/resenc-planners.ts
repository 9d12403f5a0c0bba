// Port of nnunetv2/experiment_planning/experiment_planners/residual_unets/residual_encoder_unet_planners.py:
// ResidualEncoderUNet planners. They share nnUNetPlans' preprocessed 2d / 3d_fullres data (same spacing and
// preprocessing), stop shrinking the patch once the estimate fits the reference (no batch-size-2 correction), and the
// M/L/XL presets may cover the whole dataset with one batch.

import { warn } from "../warnings.js";
import { ExperimentPlanner, RESIDUAL_ENCODER_UNET, type PlannerInput, type PlannerOptions } from "./experiment-planner.js";

export class ResEncUNetPlanner extends ExperimentPlanner {
  static override readonly defaultPlansName: string = "nnUNetResEncUNetPlans";
  override plannerName = "ResEncUNetPlanner";
  override UNetClass = RESIDUAL_ENCODER_UNET;
  override UNetReferenceVal3d = 680_000_000;
  override UNetReferenceVal2d = 135_000_000;
  override UNetBlocksPerStageEncoder: readonly number[] = [1, 3, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6];
  override UNetBlocksPerStageDecoder: readonly number[] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];

  constructor(input: PlannerInput, opts: PlannerOptions = {}, defaults: { plansName?: string; gpuMemoryTargetInGb?: number } = {}) {
    super(input, opts, { plansName: ResEncUNetPlanner.defaultPlansName, ...defaults });
  }

  override generateDataIdentifier(configurationName: string): string {
    if (configurationName === "2d" || configurationName === "3d_fullres") return `${ExperimentPlanner.defaultPlansName}_${configurationName}`;
    return `${this.plansIdentifier}_${configurationName}`;
  }

  protected override stageKwargs(numStages: number): Record<string, number[]> {
    return {
      n_blocks_per_stage: this.UNetBlocksPerStageEncoder.slice(0, numStages),
      n_conv_per_stage_decoder: this.UNetBlocksPerStageDecoder.slice(0, numStages - 1),
    };
  }

  protected override exceedsReference(estimate: number, _refBs: number, reference: number): boolean {
    return estimate > reference;
  }
}

interface Preset {
  name: string;
  plansName: string;
  gb: number;
  ref3d: number;
  ref2d: number;
}

/** Shared constructor of the M / L / XL presets: their VRAM target, references and full-dataset batch cap. */
abstract class ResEncPreset extends ResEncUNetPlanner {
  constructor(input: PlannerInput, opts: PlannerOptions, { name, plansName, gb, ref3d, ref2d }: Preset) {
    if (opts.gpuMemoryTargetInGb !== undefined && opts.gpuMemoryTargetInGb !== gb) {
      warn(
        `You are running ${name.replace("ResEnc", "")} with a non-standard gpu_memory_target_in_gb. Expected ${gb}, got ${opts.gpuMemoryTargetInGb}.` +
          `You should only see this warning if you modified this value intentionally!!`,
      );
    }
    super(input, opts, { plansName, gpuMemoryTargetInGb: gb });
    this.plannerName = name;
    this.UNetReferenceValCorrespGB = gb;
    this.UNetReferenceVal3d = ref3d;
    this.UNetReferenceVal2d = ref2d;
    this.maxDatasetCovered = 1;
  }
}

export class nnUNetPlannerResEncM extends ResEncPreset {
  static override readonly defaultPlansName: string = "nnUNetResEncUNetMPlans";
  constructor(input: PlannerInput, opts: PlannerOptions = {}) {
    super(input, opts, { name: "nnUNetPlannerResEncM", plansName: nnUNetPlannerResEncM.defaultPlansName, gb: 8, ref3d: 680_000_000, ref2d: 135_000_000 });
  }
}

export class nnUNetPlannerResEncL extends ResEncPreset {
  static override readonly defaultPlansName: string = "nnUNetResEncUNetLPlans";
  constructor(input: PlannerInput, opts: PlannerOptions = {}) {
    super(input, opts, { name: "nnUNetPlannerResEncL", plansName: nnUNetPlannerResEncL.defaultPlansName, gb: 24, ref3d: 2_100_000_000, ref2d: 380_000_000 });
  }
}

export class nnUNetPlannerResEncXL extends ResEncPreset {
  static override readonly defaultPlansName: string = "nnUNetResEncUNetXLPlans";
  constructor(input: PlannerInput, opts: PlannerOptions = {}) {
    super(input, opts, { name: "nnUNetPlannerResEncXL", plansName: nnUNetPlannerResEncXL.defaultPlansName, gb: 40, ref3d: 3_600_000_000, ref2d: 560_000_000 });
  }
}
