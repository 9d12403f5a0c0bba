// The `ptPlans__<name>____<data_identifier>` plans of nnUNetv2_preprocess_like_nnssl (nnssl fork of nnU-Net,
// nnunetv2/experiment_planning/like_nnssl.py::preprocess_like_nnssl): the base plan's 3d_fullres configuration with
// spacing by adaptation mode, ZScore normalisation, the checkpoint's architecture and patch size, batch size 2 and a
// pretrain_info block. Pure functions; like-nnssl.ts does the I/O.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { checkSpacing } from "../util/check-options.js";
import { ConfigError } from "../errors.js";
import type { AdaptationPlan } from "../checkpoint/adaptation-plan.js";
import { formatPythonJson, type JsonPath } from "../util/python-json.js";
import { loadPlans, plansNumberIsFloat, type Plans, type StoredConfiguration } from "../planning/plans.js";

export type AdaptationMode = "default_nnunet" | "like_pretrained" | "fixed" | "no_resample";

/** The `-am` choices, in upstream's Literal order; the CLI default is default_nnunet. */
export const ADAPTATION_MODES: readonly AdaptationMode[] = ["fixed", "default_nnunet", "no_resample", "like_pretrained"];

/** Base plans looked up in this order in `$nnUNet_preprocessed/<Dataset>/`; the first that exists is used. */
export const BASE_PLANS_CANDIDATES: readonly string[] = ["nnUNetPlans.json", ...["", "M", "L", "XL"].map((k) => `nnUNetResEncUNet${k}Plans.json`)];

/** The spacing of the first configuration of the checkpoint's pretraining plan (null for `noresample` pretraining). */
export function pretrainSpacing(plan: AdaptationPlan): (number | null)[] | null {
  const first = Object.values(plan.pretrain_plan.configurations)[0];
  return (first?.spacing as (number | null)[] | null | undefined) ?? null;
}

/**
 * Target spacing of the adapted 3d_fullres configuration (`new_spacing_from_mode`): the base plan's spacing, the
 * override (exactly 3 numbers, transposed axis order), [null, null, null] (each case keeps its own spacing), or the
 * pretraining spacing. A checkpoint pretrained without resampling falls back to the base plan's spacing, as nnU-Net
 * master does.
 */
export function newSpacingFromMode(
  mode: AdaptationMode,
  originalSpacing: readonly number[],
  pretrainSpacingValue: readonly (number | null)[] | null,
  overrideSpacing: readonly number[] | null | undefined,
  log: (line: string) => void = () => {},
): (number | null)[] {
  switch (mode) {
    case "default_nnunet":
      return [...originalSpacing];
    case "fixed":
      if (!overrideSpacing) throw new ConfigError("-os/--override_spacing: You need to provide a spacing when using the fixed adaptation mode.");
      return checkSpacing(overrideSpacing, "-os/--override_spacing");
    case "no_resample":
      return [null, null, null];
    case "like_pretrained":
      if (!pretrainSpacingValue || pretrainSpacingValue.some((s) => s === null)) {
        log(
          "[like_nnssl] The pre-training used no fixed target spacing (spacing=None). " +
            "Falling back to 'default_nnunet' behaviour (using the dataset's default nnU-Net spacing).",
        );
        return [...originalSpacing];
      }
      return [...pretrainSpacingValue];
    default:
      throw new ConfigError(`invalid adaptation mode ${JSON.stringify(mode)} (expected one of ${ADAPTATION_MODES.join(", ")})`);
  }
}

/** Python's `f"{x:.2f}"`: correctly rounded, ties (exact binary halves such as 0.625) to even. */
export function formatFixed2(x: number): string {
  const m8 = x * 8;
  if (Number.isInteger(m8) && m8 % 2 !== 0) {
    // x = odd/8 is the only way a value sits exactly halfway between two hundredths
    const y = x * 100;
    const lo = Math.floor(y);
    const n = lo % 2 === 0 ? lo : lo + 1;
    return (n / 100).toFixed(2);
  }
  return x.toFixed(2);
}

/** `Spacing__a_b_c___Norm__Z[_Z...]` with `%.2f` spacings and "None" for null entries. */
export function adaptedDataIdentifier(spacing: readonly (number | null)[], numChannels: number): string {
  const s = spacing.map((x) => (x === null ? "None" : formatFixed2(x))).join("_");
  return `Spacing__${s}___Norm__${new Array(numChannels).fill("Z").join("_")}`;
}

export interface AdaptedPlansInput {
  /** The base nnU-Net plans (e.g. nnUNetPlans.json), not modified. */
  basePlans: Plans;
  adaptationPlan: AdaptationPlan;
  citations: unknown[];
  /** Stored as pretrain_info.checkpoint_path: what -pc named (a local path as given, or the downloaded file). */
  checkpointPath: string;
  /** -n: the unique pretraining name. */
  name: string;
  mode: AdaptationMode;
  overrideSpacing?: readonly number[] | null;
  log?: (line: string) => void;
}

/** Adapted plans plus the values derived on the way. */
export interface AdaptedPlans {
  plans: Plans;
  plansName: string;
  dataIdentifier: string;
  spacing: (number | null)[];
}

/**
 * Builds the ptPlans dict exactly as `preprocess_like_nnssl` does: everything from the base plans, only `3d_fullres`
 * kept, and in it spacing by mode, batch_size 2, ZScoreNormalization for every channel (use_mask_for_norm inherited),
 * the new data_identifier, DefaultPreprocessor, the checkpoint's architecture with `arch_class_name` renamed to
 * `network_class_name` and `arch_kwargs_requiring_import` to `_kw_requires_import`, and its recommended patch size.
 * @example
 * buildAdaptedPlans({ basePlans, adaptationPlan: ckpt.adaptationPlan, citations: ckpt.citations, checkpointPath: "ckpt.pth", name: "MyMAE",
 *   mode: "like_pretrained" })
 */
export function buildAdaptedPlans({
  basePlans,
  adaptationPlan: ap,
  citations,
  checkpointPath,
  name,
  mode,
  overrideSpacing,
  log,
}: AdaptedPlansInput): AdaptedPlans {
  const base = basePlans.configurations["3d_fullres"];
  if (!base) throw new ConfigError(`plans ${basePlans.plans_name} have no 3d_fullres configuration, which preprocess_like_nnssl adapts`);
  const cfg: StoredConfiguration = structuredClone(base);
  const firstConfigName = Object.keys(ap.pretrain_plan.configurations)[0]!;
  const plans: Plans & { pretrain_info?: Record<string, unknown> } = structuredClone(basePlans);
  plans.pretrain_info = {
    checkpoint_path: checkpointPath,
    checkpoint_name: name,
    key_to_encoder: ap.key_to_encoder,
    key_to_stem: ap.key_to_stem,
    keys_to_in_proj: ap.keys_to_in_proj,
    key_to_lpe: ap.key_to_lpe,
    pt_num_in_channels: ap.pretrain_num_input_channels,
    pt_used_patchsize: ap.pretrain_plan.configurations[firstConfigName]!.patch_size,
    pt_recommended_downstream_patchsize: ap.recommended_downstream_patchsize,
    citations,
  };
  const spacing = newSpacingFromMode(mode, cfg.spacing as number[], pretrainSpacing(ap), overrideSpacing, log);
  cfg.spacing = spacing as number[];
  cfg.batch_size = 2;
  // ToDo upstream: allow an override for CT-style normalisation; every channel gets ZScoreNormalization for now.
  const normalization = (cfg.normalization_schemes ?? []).map(() => "ZScoreNormalization");
  cfg.normalization_schemes = normalization;
  const dataIdentifier = adaptedDataIdentifier(spacing, normalization.length);
  cfg.data_identifier = dataIdentifier;
  cfg.preprocessor_name = "DefaultPreprocessor";
  const arch = structuredClone(ap.architecture_plans) as unknown as Record<string, unknown>;
  const { arch_class_name, arch_kwargs_requiring_import, ...rest } = arch;
  cfg.architecture = {
    ...rest,
    network_class_name: arch_class_name,
    _kw_requires_import: arch_kwargs_requiring_import,
  } as unknown as StoredConfiguration["architecture"];
  cfg.patch_size = [...ap.recommended_downstream_patchsize];
  plans.configurations = { "3d_fullres": cfg };
  const plansName = `ptPlans__${name}____${dataIdentifier}`;
  plans.plans_name = plansName;
  return { plans, plansName, dataIdentifier, spacing };
}

/**
 * The ptPlans file text: the fork's save_json (sort_keys=True, indent 4). Spacings given as floats (base plans, -os)
 * print as Python floats, the checkpoint's (like_pretrained) as they are.
 */
export function formatAdaptedPlans(plans: Plans, mode: AdaptationMode): string {
  const isFloat = (p: JsonPath) => {
    if (p[0] === "configurations" && p[2] === "spacing") return mode === "default_nnunet" || mode === "fixed";
    return plansNumberIsFloat(p);
  };
  return formatPythonJson(plans, { indent: 4, sortKeys: true, numericIntKeys: true, isFloat });
}

/** The base plans of a preprocessed dataset folder: the first of BASE_PLANS_CANDIDATES that exists. */
export async function findBasePlans(preprocessedDatasetFolder: string): Promise<{ file: string; plans: Plans }> {
  for (const name of BASE_PLANS_CANDIDATES) {
    const file = path.join(preprocessedDatasetFolder, name);
    try {
      await fsp.access(file);
    } catch {
      continue;
    }
    return { file, plans: await loadPlans(file) };
  }
  throw new ConfigError(
    `no plans file found; plan the dataset normally first (nnUNetv2_plan_and_preprocess --no_pp or nnUNetv2_plan_experiment). Looked for ${BASE_PLANS_CANDIDATES.join(", ")}`,
    { file: preprocessedDatasetFolder },
  );
}
