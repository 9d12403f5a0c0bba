// The `nnssl_adaptation_plan` of an nnssl checkpoint (nnssl `AdaptationPlan.serialize()`), typed and validated.
// Keys stay exactly as nnssl writes them, so the object can be saved back as adaptation_plan.json unchanged.

import { CheckpointError } from "../errors.js";
import { PyTuple, TorchDevice, TorchDtype } from "../io/torch/index.js";

export interface ArchitecturePlans {
  /** ResEncL | NoSkipResEncL | PrimusS | PrimusB | PrimusM | PrimusL | ResidualEncoderUNet | PlainConvUNet | ... */
  arch_class_name: string;
  /** null for named presets; constructor kwargs (classes as dotted names) for ResidualEncoderUNet / PlainConvUNet / PrimusX. */
  arch_kwargs: Record<string, unknown> | null;
  /** Keys of arch_kwargs whose value is a class path string, e.g. ["conv_op", "norm_op", "nonlin"]. */
  arch_kwargs_requiring_import: string[] | null;
}

export interface PretrainConfigurationPlan {
  data_identifier?: string;
  preprocessor_name?: string;
  /** onemmiso | median | noresample */
  spacing_style?: string;
  normalization_schemes?: string[];
  use_mask_for_norm?: boolean[];
  resampling_fn_data?: string;
  resampling_fn_data_kwargs?: Record<string, unknown>;
  resampling_fn_mask?: string;
  resampling_fn_mask_kwargs?: Record<string, unknown>;
  /** null for noresample */
  spacing?: number[] | null;
  patch_size?: number[];
  [key: string]: unknown;
}

export interface PretrainPlan {
  dataset_name: string;
  plans_name: string;
  original_median_spacing_after_transp?: number[];
  image_reader_writer?: string;
  transpose_forward?: number[];
  transpose_backward?: number[];
  /** Exactly one entry is expected downstream; the first is used. */
  configurations: Record<string, PretrainConfigurationPlan>;
  experiment_planner_used?: string;
  [key: string]: unknown;
}

export interface AdaptationPlan {
  architecture_plans: ArchitecturePlans;
  pretrain_plan: PretrainPlan;
  pretrain_num_input_channels: number;
  recommended_downstream_patchsize: number[];
  key_to_encoder: string;
  key_to_stem: string;
  keys_to_in_proj: string[];
  key_to_lpe: string | null;
  /** Overrides the pretraining patch size used for LPE resizing (e.g. VoCo). */
  pretrain_patch_size?: number[];
  /** Read only by the dynamic trainer (kernel_sizes, n_stages). */
  architecture_kwargs?: Record<string, unknown>;
  trainer_name?: string;
  [key: string]: unknown;
}

/** A JSON-compatible copy of an unpickled value (tuples become arrays, devices and dtypes strings, Maps objects). */
export function toPlain(v: unknown): unknown {
  if (v instanceof PyTuple || Array.isArray(v)) return Array.from(v as unknown[], toPlain);
  if (v instanceof TorchDevice || v instanceof TorchDtype) return v.toString();
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toPlain(x)]));
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  }
  return v;
}

/** Checks the structure of an adaptation plan and returns it typed; every problem names the file and the key. */
export function validateAdaptationPlan(raw: unknown, file: string, where = "nnssl_adaptation_plan"): AdaptationPlan {
  const fail = (key: string, problem: string): never => {
    throw new CheckpointError(`${where}.${key} ${problem}`, { file });
  };
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  if (!isObj(raw)) throw new CheckpointError(`${where} is not a dict`, { file });
  const plan = toPlain(raw) as Record<string, unknown>;
  const str = (key: string, v: unknown, nullable = false): void => {
    if (v === undefined) fail(key, "is missing");
    if (!(typeof v === "string" || (nullable && v === null))) fail(key, `must be a string${nullable ? " or null" : ""}, got ${JSON.stringify(v)}`);
  };
  const ints = (key: string, v: unknown, nullable = false): void => {
    if (v === undefined) fail(key, "is missing");
    if (nullable && v === null) return;
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x > 0)) fail(key, `must be a list of positive integers, got ${JSON.stringify(v)}`);
  };

  const ap = plan.architecture_plans;
  if (!isObj(ap)) fail("architecture_plans", ap === undefined ? "is missing" : "is not a dict");
  const arch = ap as Record<string, unknown>;
  str("architecture_plans.arch_class_name", arch.arch_class_name);
  if (arch.arch_kwargs === undefined) arch.arch_kwargs = null;
  if (!(arch.arch_kwargs === null || isObj(arch.arch_kwargs))) fail("architecture_plans.arch_kwargs", "must be a dict or null");
  if (arch.arch_kwargs_requiring_import === undefined) arch.arch_kwargs_requiring_import = null;
  const req = arch.arch_kwargs_requiring_import;
  if (!(req === null || (Array.isArray(req) && req.every((x) => typeof x === "string")))) {
    fail("architecture_plans.arch_kwargs_requiring_import", "must be a list of strings or null");
  }

  const pp = plan.pretrain_plan;
  if (!isObj(pp)) fail("pretrain_plan", pp === undefined ? "is missing" : "is not a dict");
  const pre = pp as Record<string, unknown>;
  if (!isObj(pre.configurations) || Object.keys(pre.configurations).length === 0) {
    fail("pretrain_plan.configurations", pre.configurations === undefined ? "is missing" : "must be a non-empty dict");
  }
  for (const [name, c] of Object.entries(pre.configurations as Record<string, unknown>)) {
    if (!isObj(c)) fail(`pretrain_plan.configurations.${name}`, "is not a dict");
    const cfg = c as Record<string, unknown>;
    if (cfg.spacing !== undefined && cfg.spacing !== null && !(Array.isArray(cfg.spacing) && cfg.spacing.every((x) => typeof x === "number" && x > 0))) {
      fail(`pretrain_plan.configurations.${name}.spacing`, `must be a list of positive numbers or null, got ${JSON.stringify(cfg.spacing)}`);
    }
    if (cfg.patch_size !== undefined) ints(`pretrain_plan.configurations.${name}.patch_size`, cfg.patch_size);
  }

  const ch = plan.pretrain_num_input_channels;
  if (ch === undefined) fail("pretrain_num_input_channels", "is missing");
  if (!Number.isInteger(ch) || (ch as number) < 1) fail("pretrain_num_input_channels", `must be a positive integer, got ${JSON.stringify(ch)}`);
  ints("recommended_downstream_patchsize", plan.recommended_downstream_patchsize);
  str("key_to_encoder", plan.key_to_encoder);
  str("key_to_stem", plan.key_to_stem);
  const inProj = plan.keys_to_in_proj;
  if (inProj === undefined) fail("keys_to_in_proj", "is missing");
  if (!Array.isArray(inProj) || inProj.length === 0 || !inProj.every((x) => typeof x === "string")) {
    fail("keys_to_in_proj", `must be a non-empty list of strings, got ${JSON.stringify(inProj)}`);
  }
  if (plan.key_to_lpe === undefined) fail("key_to_lpe", "is missing");
  str("key_to_lpe", plan.key_to_lpe, true);
  if (plan.pretrain_patch_size !== undefined && plan.pretrain_patch_size !== null) ints("pretrain_patch_size", plan.pretrain_patch_size);
  return plan as AdaptationPlan;
}
