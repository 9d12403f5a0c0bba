// nnUNetv2_plan_like_dynamic (nnU-Net master, nnunetv2/experiment_planning/like_nnssl.py::plan_like_dynamic): keeps a
// dataset's own plans (nnUNetPlans or a ResEnc plans file: architecture, spacing, patch size, normalisation, data
// identifier) and only adds a `pretrain_info` block, so DynamicPretrainedTrainer can adapt the checkpoint's encoder to
// that architecture when it loads the weights. Writes `ptPlans_dynamic__<name>.json` exactly as master's save_json
// does and preprocesses 3d_fullres under the base plans' data identifier.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import * as aq from "arquero";
import type { Paths } from "../config/env.js";
import { Checkpoint } from "../checkpoint/checkpoint.js";
import type { AdaptationPlan } from "../checkpoint/adaptation-plan.js";
import { openRawDataset, type RawDataset } from "../dataset/raw.js";
import { ConfigError, InputError } from "../errors.js";
import { loadPlans, type Plans } from "../planning/plans.js";
import { writeFileAtomic } from "../util/fs.js";
import { PyFloat, formatPythonJson, parsePythonJson } from "../util/python-json.js";
import { noProgress, type ProgressCallback } from "../util/progress.js";
import { preprocessedDatasetFolder } from "../config/folders.js";
import { copyGtSegmentations, runPreprocessing } from "./run-preprocessing.js";
import type { PreprocessCaseSummary } from "./preprocess-case-task.js";

export interface PlanLikeDynamicOptions {
  /** -n: unique name of the pretraining; the plans are named `ptPlans_dynamic__<name>`. */
  name: string;
  /** -pl: the base plans identifier (default nnUNetPlans; e.g. nnUNetResEncUNetLPlans). */
  plansIdentifier?: string;
  /** -np; default 4. */
  numWorkers?: number;
  /** --overwrite_pp: redo every case; otherwise finished cases (shared with the base plans) are kept. */
  overwrite?: boolean;
  paths?: Paths;
  onProgress?: ProgressCallback;
  log?: (line: string) => void;
}

export interface PlanLikeDynamicResult {
  plans: Plans;
  plansName: string;
  plansFile: string;
  /** The base plans file the dynamic plans were made from. */
  basePlansFile: string;
  /** One row per case: identifier, skipped, original_spacing, target_spacing, original_shape (after cropping), new_shape. */
  cases: aq.ColumnTable;
}

/** The `pretrain_info` block master's plan_like_dynamic writes (preprocess_like_nnssl's plus pt_architecture_kwargs). */
export function dynamicPretrainInfo(ap: AdaptationPlan, citations: unknown[], checkpointPath: string, name: string): Record<string, unknown> {
  const firstConfig = Object.values(ap.pretrain_plan.configurations)[0]!;
  return {
    checkpoint_path: checkpointPath,
    checkpoint_name: name,
    key_to_encoder: ap.key_to_encoder,
    key_to_stem: ap.key_to_stem,
    keys_to_in_proj: ap.keys_to_in_proj,
    key_to_lpe: ap.key_to_lpe,
    pt_num_in_channels: ap.pretrain_num_input_channels,
    pt_used_patchsize: firstConfig.patch_size,
    pt_recommended_downstream_patchsize: ap.recommended_downstream_patchsize,
    citations,
    // master reads adaptation_plan.get("architecture_kwargs", {}); nnssl keeps the architecture under
    // architecture_plans.arch_kwargs instead, so this is {} for every nnssl checkpoint (the trainer reads the checkpoint).
    pt_architecture_kwargs: "architecture_kwargs" in ap ? (ap.architecture_kwargs ?? null) : {},
  };
}

/**
 * The dynamic plans from the base plans file text: the base plans as loaded (Python floats kept as floats, so the
 * file is byte-identical to master's), `configurations` reduced to the resolved 3d_fullres, a new plans_name and
 * `pretrain_info`. Returns the file text and the plans as a plain object.
 */
export function buildDynamicPlans(
  basePlansText: string,
  basePlansFile: string,
  pretrainInfo: Record<string, unknown>,
  name: string,
): { text: string; plans: Plans } {
  let exact: Record<string, unknown>;
  try {
    exact = parsePythonJson(basePlansText) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`not valid JSON: ${(err as Error).message}`, { file: basePlansFile });
  }
  const configs = exact.configurations as Record<string, Record<string, unknown>> | undefined;
  if (!configs || typeof configs !== "object") throw new ConfigError("not an nnU-Net plans file (no 'configurations')", { file: basePlansFile });
  const resolve = (n: string, seen: string[]): Record<string, unknown> => {
    const c = configs[n];
    if (!c) throw new ConfigError(`configuration ${n} not found in the base plans (available: ${Object.keys(configs).join(", ")})`, { file: basePlansFile });
    const parent = c.inherits_from;
    if (typeof parent !== "string") return { ...c };
    if (seen.includes(parent)) throw new ConfigError(`circular inheritance of configurations: ${[...seen, parent].join(" -> ")}`, { file: basePlansFile });
    return { ...resolve(parent, [...seen, parent]), ...c };
  };
  const fullres = resolve("3d_fullres", ["3d_fullres"]);
  if (!("architecture" in fullres)) {
    throw new ConfigError("the base plans' 3d_fullres has no 'architecture' (old plans format): rerun nnUNetv2_plan_experiment", { file: basePlansFile });
  }
  const out: Record<string, unknown> = {
    ...exact,
    pretrain_info: pretrainInfo,
    configurations: { "3d_fullres": fullres },
    plans_name: `ptPlans_dynamic__${name}`,
  };
  const text = formatPythonJson(out, { indent: 4, sortKeys: true });
  const plain = (v: unknown): unknown =>
    v instanceof PyFloat
      ? v.value
      : Array.isArray(v)
        ? v.map(plain)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
          : v;
  return { text, plans: plain(out) as Plans };
}

/**
 * Writes `ptPlans_dynamic__<name>.json` next to the base plans `-pl` and preprocesses 3d_fullres with it (the data
 * identifier is the base plans', so data already preprocessed for them is reused; `overwrite` redoes it).
 * @example const { plansName } = await planLikeDynamic(900, "ckpt.pth", { name: "MyMAE", plansIdentifier: "nnUNetResEncUNetLPlans" })
 */
export async function planLikeDynamic(
  datasetIdOrName: number | string | RawDataset,
  checkpoint: string | Checkpoint,
  { name, plansIdentifier = "nnUNetPlans", numWorkers = 4, overwrite = false, paths, onProgress = noProgress, log = () => {} }: PlanLikeDynamicOptions,
): Promise<PlanLikeDynamicResult> {
  if (!name || /[/\\]/.test(name))
    throw new ConfigError(`-n/--pretraining_name: a unique name without path separators is required, got ${JSON.stringify(name)}`);
  const ds = typeof datasetIdOrName === "object" ? datasetIdOrName : await openRawDataset(datasetIdOrName, paths);
  log(`Creating dynamic adaptation plan for dataset ${ds.name}`);
  const folder = preprocessedDatasetFolder(ds, paths);
  const basePlansFile = path.join(folder, `${plansIdentifier}.json`);
  let baseText: string;
  try {
    baseText = await fsp.readFile(basePlansFile, "utf8");
  } catch (err) {
    throw new InputError(
      `-pl ${plansIdentifier}: plans file not found; plan the dataset first (nnUNetv2_plan_and_preprocess --no_pp or nnUNetv2_plan_experiment)`,
      { file: basePlansFile, cause: err },
    );
  }
  await loadPlans(basePlansFile); // the same "not a plans file" check as everywhere else
  let ckpt: Checkpoint;
  let given: string;
  if (typeof checkpoint === "string") {
    ckpt = await Checkpoint.load(checkpoint, { paths, onProgress });
    // A local path is stored as given (master stores what -pc named); a Hub URL becomes the downloaded file.
    given = checkpoint.startsWith("https://huggingface.co/") ? ckpt.path : checkpoint;
  } else {
    ckpt = checkpoint;
    given = checkpoint.path;
  }
  const info = dynamicPretrainInfo(ckpt.adaptationPlan, ckpt.citations, given, name);
  const { text, plans } = buildDynamicPlans(baseText, basePlansFile, info, name);
  const plansFile = path.join(folder, `${plans.plans_name}.json`);
  await writeFileAtomic(plansFile, text);
  log(`Saved dynamic adaptation plan to: ${plansFile}`);
  const rows = await runPreprocessing(ds, plans, "3d_fullres", { numWorkers, overwrite, paths, onProgress });
  await copyGtSegmentations(ds, paths);
  return { plans, plansName: plans.plans_name, plansFile, basePlansFile, cases: casesTable(rows) };
}

function casesTable(rows: readonly PreprocessCaseSummary[]): aq.ColumnTable {
  return aq.table({
    identifier: rows.map((r) => r.identifier),
    skipped: rows.map((r) => r.skipped),
    original_spacing: rows.map((r) => r.originalSpacing),
    target_spacing: rows.map((r) => r.targetSpacing),
    original_shape: rows.map((r) => r.originalShape),
    new_shape: rows.map((r) => r.newShape),
  });
}
