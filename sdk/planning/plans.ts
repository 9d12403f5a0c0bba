// Types for nnUNetPlans.json (keys exactly as upstream writes them, snake_case) and the load / save / resolve helpers
// every later stage uses. Mirrors nnU-Net's PlansManager / ConfigurationManager without their property wrappers.

import { ConfigError } from "../errors.js";
import { readJson, writeFileAtomic } from "../util/fs.js";
import { formatPythonJson, type JsonPath } from "../util/python-json.js";
import type { IntensityProperties } from "../fingerprint/fingerprint-json.js";

export interface ResamplingKwargs {
  is_seg: boolean;
  order: number;
  order_z: number;
  force_separate_z: boolean | null;
}

/** `arch_kwargs` of dynamic_network_architectures' PlainConvUNet / ResidualEncoderUNet. */
export interface ArchKwargs {
  n_stages: number;
  features_per_stage: number[];
  conv_op: string;
  kernel_sizes: number[][];
  strides: number[][];
  /** PlainConvUNet */
  n_conv_per_stage?: number[];
  /** ResidualEncoderUNet */
  n_blocks_per_stage?: number[];
  n_conv_per_stage_decoder: number[];
  conv_bias: boolean;
  norm_op: string;
  norm_op_kwargs: { eps: number; affine: boolean; [k: string]: unknown };
  dropout_op: string | null;
  dropout_op_kwargs: Record<string, unknown> | null;
  nonlin: string;
  nonlin_kwargs: Record<string, unknown>;
  [k: string]: unknown;
}

export interface ArchitecturePlan {
  network_class_name: string;
  arch_kwargs: ArchKwargs;
  _kw_requires_import: string[];
}

/** One entry of `configurations` after inheritance is resolved. */
export interface ConfigurationPlan {
  data_identifier: string;
  preprocessor_name: string;
  batch_size: number;
  patch_size: number[];
  median_image_size_in_voxels: number[];
  spacing: number[];
  normalization_schemes: string[];
  use_mask_for_norm: boolean[];
  resampling_fn_data: string;
  resampling_fn_seg: string;
  resampling_fn_data_kwargs: ResamplingKwargs;
  resampling_fn_seg_kwargs: ResamplingKwargs;
  resampling_fn_probabilities: string;
  resampling_fn_probabilities_kwargs: ResamplingKwargs;
  architecture: ArchitecturePlan;
  batch_dice: boolean;
  next_stage?: string | string[];
  previous_stage?: string;
  inherits_from?: string;
  [k: string]: unknown;
}

/** A configuration as stored: may be partial and inherit the rest (`3d_cascade_fullres`). */
export type StoredConfiguration = Partial<ConfigurationPlan> & { inherits_from?: string; [k: string]: unknown };

export interface Plans {
  dataset_name: string;
  plans_name: string;
  original_median_spacing_after_transp: number[];
  original_median_shape_after_transp: number[];
  image_reader_writer: string;
  transpose_forward: number[];
  transpose_backward: number[];
  configurations: Record<string, StoredConfiguration>;
  experiment_planner_used: string;
  label_manager: string;
  foreground_intensity_properties_per_channel: Record<string, IntensityProperties>;
  [k: string]: unknown;
}

const FLOAT_KEYS = new Set([
  "original_median_spacing_after_transp",
  "spacing",
  "eps",
  "max",
  "mean",
  "median",
  "min",
  "percentile_00_5",
  "percentile_99_5",
  "std",
]);

/** Which numbers upstream's plans dict holds as Python floats (decides `3.0` vs `3` in the file). */
export function plansNumberIsFloat(path: JsonPath): boolean {
  const key = [...path].reverse().find((p) => typeof p === "string") as string | undefined;
  if (key === undefined) return false;
  if (key === "median_image_size_in_voxels") {
    // np.median gives floats for 2d / 3d_fullres; 3d_lowres holds a tuple of round()ed ints.
    return !(path[0] === "configurations" && path[1] === "3d_lowres");
  }
  return FLOAT_KEYS.has(key);
}

/** The plans file text exactly as upstream's `save_json(plans, file, sort_keys=False)` writes it. */
export function formatPlans(plans: Plans): string {
  return formatPythonJson(plans, { indent: 4, sortKeys: false, isFloat: plansNumberIsFloat });
}

/** Writes a plans file atomically. */
export async function savePlans(file: string, plans: Plans): Promise<void> {
  await writeFileAtomic(file, formatPlans(plans));
}

/** Reads a plans file; a file without `configurations` is a named error. */
export async function loadPlans(file: string): Promise<Plans> {
  const plans = await readJson<Plans>(file);
  if (!plans || typeof plans !== "object" || typeof plans.configurations !== "object" || plans.configurations === null) {
    throw new ConfigError("not an nnU-Net plans file (no 'configurations')", { file });
  }
  return plans;
}

/**
 * The configuration `name` with `inherits_from` applied (parent keys updated by the child, recursively), like
 * PlansManager._internal_resolve_configuration_inheritance; legacy configurations without `architecture` are converted
 * like ConfigurationManager.__init__ does.
 */
export function resolveConfiguration(plans: Plans, name: string, visited: readonly string[] = []): ConfigurationPlan {
  const stored = plans.configurations[name];
  if (!stored) {
    throw new ConfigError(`configuration ${name} not found in plans ${plans.plans_name} (available: ${Object.keys(plans.configurations).join(", ")})`);
  }
  let conf: Record<string, unknown> = structuredClone(stored);
  if (typeof stored.inherits_from === "string") {
    const parent = stored.inherits_from;
    if (visited.includes(parent) || parent === name) {
      throw new ConfigError(`circular inheritance of configurations: ${[...visited, name, parent].join(" -> ")}`);
    }
    conf = { ...resolveConfiguration(plans, parent, [...visited, name]), ...conf };
  }
  if (!("architecture" in conf)) conf = convertLegacyConfiguration(conf);
  return conf as ConfigurationPlan;
}

/**
 * The `architecture` block nnU-Net writes for its U-Nets: conv / instance norm / LeakyReLU ops named for `dim`, in
 * upstream's key order (plans files are compared as text). `encoder` holds `n_conv_per_stage` (PlainConvUNet) or
 * `n_blocks_per_stage` (ResidualEncoderUNet).
 */
export function unetArchitecture(
  networkClassName: string,
  dim: number,
  featuresPerStage: number[],
  kernelSizes: number[][],
  strides: number[][],
  encoder: Record<string, number[]>,
  nConvPerStageDecoder: number[],
): ArchitecturePlan {
  return {
    network_class_name: networkClassName,
    arch_kwargs: {
      n_stages: featuresPerStage.length,
      features_per_stage: featuresPerStage,
      conv_op: `torch.nn.modules.conv.Conv${dim}d`,
      kernel_sizes: kernelSizes,
      strides,
      ...encoder,
      n_conv_per_stage_decoder: nConvPerStageDecoder,
      conv_bias: true,
      norm_op: `torch.nn.modules.instancenorm.InstanceNorm${dim}d`,
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      dropout_op_kwargs: null,
      nonlin: "torch.nn.LeakyReLU",
      nonlin_kwargs: { inplace: true },
    },
    _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
  };
}

/** Old plans (before dynamic_network_architectures' `architecture` block) -> the current layout. */
function convertLegacyConfiguration(c: Record<string, any>): Record<string, unknown> {
  if (!("UNet_class_name" in c)) return c;
  const plain = c.UNet_class_name === "PlainConvUNet";
  const nStages = (c.n_conv_per_stage_encoder as number[]).length;
  const dim = (c.patch_size as number[]).length;
  const architecture = unetArchitecture(
    plain ? "dynamic_network_architectures.architectures.unet.PlainConvUNet" : "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
    dim,
    Array.from({ length: nStages }, (_, i) => Math.min(c.UNet_base_num_features * 2 ** i, c.unet_max_num_features)),
    structuredClone(c.conv_kernel_sizes),
    structuredClone(c.pool_op_kernel_sizes),
    { [plain ? "n_conv_per_stage" : "n_blocks_per_stage"]: structuredClone(c.n_conv_per_stage_encoder) },
    structuredClone(c.n_conv_per_stage_decoder),
  );
  const out = { ...c };
  for (const k of [
    "UNet_class_name",
    "UNet_base_num_features",
    "n_conv_per_stage_encoder",
    "n_conv_per_stage_decoder",
    "num_pool_per_axis",
    "pool_op_kernel_sizes",
    "conv_kernel_sizes",
    "unet_max_num_features",
  ])
    delete out[k];
  out.architecture = architecture;
  return out;
}
