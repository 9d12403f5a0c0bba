// nnUNetv2_preprocess_like_nnssl's API: adapt a dataset to how an nnssl checkpoint was pretrained (ptPlans file), then
// preprocess every case for it; and compareAdaptationModes, which shows what each mode would produce without writing.

import * as path from "node:path";
import * as aq from "arquero";
import type { Paths } from "../config/env.js";
import { Checkpoint } from "../checkpoint/checkpoint.js";
import { openRawDataset, type RawDataset } from "../dataset/raw.js";
import { readJson, writeFileAtomic } from "../util/fs.js";
import { checkInt, checkSpacing } from "../util/check-options.js";
import { median } from "../util/python-math.js";
import type { Plans } from "../planning/plans.js";
import { noProgress, type ProgressCallback } from "../util/progress.js";
import { computeNewShape } from "./resample.js";
import {
  ADAPTATION_MODES,
  adaptedDataIdentifier,
  buildAdaptedPlans,
  findBasePlans,
  formatAdaptedPlans,
  newSpacingFromMode,
  pretrainSpacing,
  type AdaptationMode,
} from "./adapted-plans.js";
import { isHuggingFaceUrl, preprocessedDatasetFolder } from "../config/folders.js";
import { copyGtSegmentations, runPreprocessing } from "./run-preprocessing.js";
import type { PreprocessedFormat } from "./nnunet-format.js";
import type { PreprocessCaseSummary } from "./preprocess-case-task.js";

export interface PreprocessLikeNnsslOptions {
  /** -n: unique name of the pretraining, used in the plans name. */
  name: string;
  /** -am; default default_nnunet like upstream's CLI (the docs recommend like_pretrained). */
  mode?: AdaptationMode;
  /** -os: target spacing for mode "fixed" (transposed axis order). */
  overrideSpacing?: readonly number[] | null;
  /** -np; default 4. */
  numWorkers?: number;
  /** --overwrite_pp: redo every case; otherwise finished cases (shared by plans with the same data identifier) are kept. */
  overwrite?: boolean;
  /** "npy" (default) or "npz" (Python nnU-Net master's numpy dataset layout); see runPreprocessing. */
  format?: PreprocessedFormat;
  paths?: Paths;
  onProgress?: ProgressCallback;
  log?: (line: string) => void;
}

export interface PreprocessLikeNnsslResult {
  plans: Plans;
  plansName: string;
  plansFile: string;
  /** One row per case: identifier, skipped, original_spacing, target_spacing, original_shape (after cropping), new_shape. */
  cases: aq.ColumnTable;
}

async function loadCheckpoint(
  checkpoint: string | Checkpoint,
  paths: Paths | undefined,
  onProgress: ProgressCallback,
): Promise<{ ckpt: Checkpoint; given: string }> {
  if (typeof checkpoint !== "string") return { ckpt: checkpoint, given: checkpoint.path };
  const ckpt = await Checkpoint.load(checkpoint, { paths, onProgress });
  // A local path is stored as given (the fork stores what -pc named); a Hub URL becomes the downloaded file.
  return { ckpt, given: isHuggingFaceUrl(checkpoint) ? ckpt.path : checkpoint };
}

/** The per-case summaries as an arquero table. */
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

/**
 * Writes `ptPlans__<name>____<data_identifier>.json` next to the base plans and preprocesses every case of the dataset
 * for its 3d_fullres configuration into `<data_identifier>/`, then copies gt_segmentations.
 * Matches `preprocess_like_nnssl` of the nnssl fork of nnU-Net (no_resample keeps each case's own spacing).
 * @example const { plans, cases } = await preprocessLikeNnssl(900, "ckpt.pth", { name: "MyMAE", mode: "like_pretrained" })
 */
export async function preprocessLikeNnssl(
  datasetIdOrName: number | string | RawDataset,
  checkpoint: string | Checkpoint,
  {
    name,
    mode = "default_nnunet",
    overrideSpacing,
    numWorkers = 4,
    overwrite = false,
    paths,
    onProgress = noProgress,
    log = () => {},
    format,
  }: PreprocessLikeNnsslOptions,
): Promise<PreprocessLikeNnsslResult> {
  checkInt(numWorkers, "numWorkers", { min: 1 });
  if (overrideSpacing !== undefined && overrideSpacing !== null) checkSpacing(overrideSpacing, "overrideSpacing");
  const ds = typeof datasetIdOrName === "object" ? datasetIdOrName : await openRawDataset(datasetIdOrName, paths);
  log(`Preprocessing dataset ${ds.name}`);
  const { ckpt, given } = await loadCheckpoint(checkpoint, paths, onProgress);
  const folder = preprocessedDatasetFolder(ds, paths);
  const { plans: basePlans } = await findBasePlans(folder);
  const adapted = buildAdaptedPlans({
    basePlans,
    adaptationPlan: ckpt.adaptationPlan,
    citations: ckpt.citations,
    checkpointPath: given,
    name,
    mode,
    overrideSpacing,
    log,
  });
  const plansFile = path.join(folder, `${adapted.plansName}.json`);
  await writeFileAtomic(plansFile, formatAdaptedPlans(adapted.plans, mode));
  const rows = await runPreprocessing(ds, adapted.plans, "3d_fullres", { numWorkers, overwrite, paths, onProgress, ...(format ? { format } : {}) });
  await copyGtSegmentations(ds, paths);
  return { plans: adapted.plans, plansName: adapted.plansName, plansFile, cases: casesTable(rows) };
}

/** What one adaptation mode would produce for a dataset. */
export interface AdaptationModeComparison {
  mode: AdaptationMode;
  /** Target spacing (null entries: each case keeps its own). */
  spacing: (number | null)[];
  dataIdentifier: string;
  patchSize: number[];
  /** Per-axis median of the resampled case shapes (np.median, so possibly .5). */
  medianShape: number[];
  /** Fraction of the median case one patch covers: prod(min(patch, median)) / prod(median). */
  patchCoverage: number;
  /** Bytes the preprocessed .npy files would take (float32 data, int16 seg, 128-byte headers). */
  sizeOnDisk: number;
}

/**
 * For each adaptation mode (fixed only when `overrideSpacing` is given): target spacing, median resampled shape, how
 * much of the median case one patch covers and the size on disk, from the dataset fingerprint (cropped shapes and
 * spacings) without reading or writing images.
 * @example await compareAdaptationModes(900, "ckpt.pth")
 */
export async function compareAdaptationModes(
  datasetIdOrName: number | string | RawDataset,
  checkpoint: string | Checkpoint,
  { overrideSpacing, paths }: { overrideSpacing?: readonly number[] | null; paths?: Paths } = {},
): Promise<AdaptationModeComparison[]> {
  const ds = typeof datasetIdOrName === "object" ? datasetIdOrName : await openRawDataset(datasetIdOrName, paths);
  const { ckpt } = await loadCheckpoint(checkpoint, paths, noProgress);
  const folder = preprocessedDatasetFolder(ds, paths);
  const { plans: basePlans } = await findBasePlans(folder);
  const fp = await readJson<{ spacings: number[][]; shapes_after_crop: number[][] }>(path.join(folder, "dataset_fingerprint.json"));
  const tf = basePlans.transpose_forward;
  const spacings = fp.spacings.map((s) => tf.map((i) => s[i]!));
  const shapes = fp.shapes_after_crop.map((s) => tf.map((i) => s[i]!));
  const channels = (basePlans.configurations["3d_fullres"]?.normalization_schemes ?? ["x"]).length;
  const patchSize = [...ckpt.adaptationPlan.recommended_downstream_patchsize];
  const modes = ADAPTATION_MODES.filter((m) => m !== "fixed" || overrideSpacing);
  return modes.map((mode) => {
    const spacing = newSpacingFromMode(
      mode,
      basePlans.configurations["3d_fullres"]!.spacing as number[],
      pretrainSpacing(ckpt.adaptationPlan),
      overrideSpacing,
    );
    const newShapes = shapes.map((shape, c) =>
      computeNewShape(
        shape,
        spacings[c]!,
        spacing.map((s, i) => s ?? spacings[c]![i]!),
      ),
    );
    const medianShape = [0, 1, 2].map((a) => median(newShapes.map((s) => s[a]!)));
    const covered = medianShape.reduce((acc, m, a) => acc * Math.min(patchSize[a]!, m), 1);
    const patchCoverage = covered / medianShape.reduce((a, b) => a * b, 1);
    const sizeOnDisk = newShapes.reduce((acc, s) => acc + s.reduce((a, b) => a * b, 1) * (4 * channels + 2) + 2 * 128, 0);
    return { mode, spacing, dataIdentifier: adaptedDataIdentifier(spacing, channels), patchSize, medianShape, patchCoverage, sizeOnDisk };
  });
}
