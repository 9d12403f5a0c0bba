// nnUNetPredictor (inference/predict_from_raw_data.py) for tfjs: a trained model folder (plans.json, dataset.json,
// fold_F/<checkpoint>) -> network + one state dict per fold -> fold-averaged sliding-window logits -> exported
// segmentations. Unlike upstream's fork, the network is built from the plans with the patch size passed by name, so
// models trained with nnssl's PretrainedTrainer (ResEncL, Primus) predict too (upstream calls
// build_network_architecture positionally and PretrainedTrainer's 4th parameter is the patch size).

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { CheckpointError, InputError } from "../errors.js";
import { warn } from "../warnings.js";
import type { tf } from "../backend/index.js";
import { LabelManager } from "../dataset/labels.js";
import { channelNames, type DatasetJson } from "../dataset/raw.js";
import { loadTorchFile } from "../io/torch/index.js";
import { buildNetwork, type StateDictInput } from "../networks/index.js";
import { buildTrainerNetwork } from "../training/trainer-network.js";
import { resolveTrainer, type TrainerSpec } from "../training/trainers.js";

/** The registry entry of a checkpoint's trainer_name, or null for trainers this package does not know. */
function knownTrainer(name: string): TrainerSpec | null {
  try {
    return resolveTrainer(name);
  } catch {
    return null;
  }
}
import { resolveConfiguration, type ConfigurationPlan, type Plans } from "../planning/plans.js";
import { readJson } from "../util/fs.js";
import type { ProgressCallback } from "../util/progress.js";
import {
  convertPredictedLogitsToSegmentationWithCorrectShape,
  exportPredictionFromLogits,
  type ExportLabelInfo,
  type ExportProperties,
  type SegmentationResult,
} from "./export.js";
import { predictSlidingWindowReturnLogits } from "./sliding-window.js";
import { checkInt, checkNumber } from "../util/check-options.js";

export interface PredictorOptions {
  /** Fraction of the patch between tile starts (upstream -step_size); default 0.5. */
  tileStepSize?: number;
  useGaussian?: boolean;
  /** Test-time mirroring over the checkpoint's inference_allowed_mirroring_axes (upstream: not --disable_tta). */
  useMirroring?: boolean;
  /** Tiles per network call; default 2. */
  tilesPerBatch?: number;
  onProgress?: ProgressCallback;
}

/** What the predictor needs from a network; sdk/networks' Network satisfies it. */
export interface PredictorNetwork {
  forward(x: tf.Tensor): tf.Tensor | tf.Tensor[];
  loadStateDict(sd: StateDictInput): Promise<void>;
  setDeepSupervision?(on: boolean): void;
  dispose?(): void;
}

export interface ManualInitialization {
  network: PredictorNetwork;
  plans: Plans;
  configurationName: string;
  datasetJson: DatasetJson;
  /** One state dict per fold to average; empty or omitted: use the network's current weights. */
  parameters?: StateDictInput[];
  trainerName?: string;
  /** Patch axes allowed for test-time mirroring; null disables it (upstream when the checkpoint has none). */
  inferenceAllowedMirroringAxes?: number[] | null;
}

type Fold = number | "all";

/** The folds with `fold_F/<checkpointName>` present, excluding fold_all (upstream's auto_detect_available_folds). */
export async function autoDetectAvailableFolds(modelFolder: string, checkpointName: string): Promise<number[]> {
  let entries;
  try {
    entries = await fsp.readdir(modelFolder, { withFileTypes: true });
  } catch (err) {
    throw new InputError("model folder not found", { file: modelFolder, cause: err });
  }
  const folds: number[] = [];
  for (const e of entries) {
    const m = /^fold_(\d+)$/.exec(e.name);
    if (
      e.isDirectory() &&
      m &&
      (await fsp.access(path.join(modelFolder, e.name, checkpointName)).then(
        () => true,
        () => false,
      ))
    )
      folds.push(parseInt(m[1]!, 10));
  }
  return folds.sort((a, b) => a - b);
}

const get = (o: unknown, k: string): unknown => (o instanceof Map ? o.get(k) : o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined);

export class NnUNetPredictor {
  readonly tileStepSize: number;
  readonly useGaussian: boolean;
  readonly useMirroring: boolean;
  readonly tilesPerBatch: number;
  onProgress: ProgressCallback | undefined;
  plans!: Plans;
  configurationName!: string;
  configuration!: ConfigurationPlan;
  datasetJson!: DatasetJson;
  labelManager!: LabelManager;
  network!: PredictorNetwork;
  listOfParameters: StateDictInput[] = [];
  trainerName = "nnUNetTrainer";
  allowedMirroringAxes: number[] | null = null;

  constructor({ tileStepSize = 0.5, useGaussian = true, useMirroring = true, tilesPerBatch = 2, onProgress }: PredictorOptions = {}) {
    checkNumber(tileStepSize, "tileStepSize", { gt: 0, max: 1 });
    checkInt(tilesPerBatch, "tilesPerBatch", { min: 1 });
    this.tileStepSize = tileStepSize;
    this.useGaussian = useGaussian;
    this.useMirroring = useMirroring;
    this.tilesPerBatch = tilesPerBatch;
    this.onProgress = onProgress;
  }

  /**
   * Loads plans.json, dataset.json and `fold_F/<checkpointName>` of every fold (null: all folds found), builds the
   * network from the plans (deep supervision off, patch size passed) and loads the first fold's weights.
   */
  async initializeFromTrainedModelFolder(modelFolder: string, useFolds: readonly Fold[] | null = null, checkpointName = "checkpoint_final.pth"): Promise<this> {
    const folds: Fold[] = useFolds ? [...useFolds] : await autoDetectAvailableFolds(modelFolder, checkpointName);
    if (folds.length === 0) throw new CheckpointError(`no fold_*/${checkpointName} found: is this a trained model folder?`, { file: modelFolder });
    const parameters: StateDictInput[] = [];
    let configurationName: string | undefined;
    let mirror: number[] | null = null;
    let trainerName = "nnUNetTrainer";
    // all checkpoints must exist before anything is loaded: a typo in -f should not cost minutes of reading
    for (const f of folds) {
      const file = path.join(modelFolder, `fold_${f}`, checkpointName);
      if (
        !(await fsp.access(file).then(
          () => true,
          () => false,
        ))
      ) {
        throw new CheckpointError(
          `checkpoint not found (fold ${f}); trained folds here: ${(await autoDetectAvailableFolds(modelFolder, checkpointName)).join(", ") || "none"}`,
          { file },
        );
      }
    }
    const datasetJson = await readJson<DatasetJson>(path.join(modelFolder, "dataset.json"));
    const plans = await readJson<Plans>(path.join(modelFolder, "plans.json"));
    for (const [i, f] of folds.entries()) {
      const file = path.join(modelFolder, `fold_${f}`, checkpointName);
      const ckpt = await loadTorchFile(file);
      const weights = get(ckpt, "network_weights");
      if (!weights || typeof weights !== "object") throw new CheckpointError("no network_weights in checkpoint", { file });
      if (i === 0) {
        trainerName = String(get(ckpt, "trainer_name") ?? trainerName);
        const cfg = get(get(ckpt, "init_args"), "configuration");
        configurationName = typeof cfg === "string" ? cfg : undefined;
        const axes = get(ckpt, "inference_allowed_mirroring_axes");
        mirror = Array.isArray(axes) ? axes.map(Number) : null;
        if (mirror === null) warn(`${file}: no inference_allowed_mirroring_axes in the checkpoint, so no test-time mirroring (as upstream)`);
      }
      parameters.push(weights as StateDictInput);
    }
    if (!configurationName) {
      // model folders are named <trainer>__<plans>__<configuration>
      configurationName = path.basename(path.resolve(modelFolder)).split("__")[2];
      if (!configurationName) throw new CheckpointError("checkpoint has no init_args.configuration and the folder name does not say it", { file: modelFolder });
    }
    const configuration = resolveConfiguration(plans, configurationName);
    const labelManager = new LabelManager(datasetJson.labels, datasetJson.regions_class_order ?? null, { file: path.join(modelFolder, "dataset.json") });
    // The fix of upstream's PretrainedTrainer predictor bug: everything by name, patch size included.
    const buildOpts = {
      inputChannels: Object.keys(channelNames(datasetJson)).length,
      numClasses: labelManager.numSegmentationHeads,
      deepSupervision: false,
      patchSize: [...configuration.patch_size],
    };
    // Like upstream's trainer_class.build_network_architecture: nnUNet_Primus_*_Trainer and PretrainedTrainer_Primusx
    // build their own network rather than the plans' architecture.
    const spec = knownTrainer(trainerName);
    const ownNetwork = spec !== null && spec.network !== undefined && spec.network !== "plans";
    const network = ownNetwork ? buildTrainerNetwork(spec, configuration.architecture, buildOpts) : buildNetwork(configuration.architecture, buildOpts);
    this.manualInitialization({ network, plans, configurationName, datasetJson, parameters, trainerName, inferenceAllowedMirroringAxes: mirror });
    try {
      await network.loadStateDict(parameters[0]!);
    } catch (err) {
      throw new CheckpointError(`weights do not fit the network built from plans.json (${(err as Error).message})`, {
        file: path.join(modelFolder, `fold_${folds[0]}`, checkpointName),
        cause: err,
      });
    }
    return this;
  }

  /** Uses an existing network (the trainer's final validation does this). */
  manualInitialization(init: ManualInitialization): this {
    this.network = init.network;
    this.network.setDeepSupervision?.(false);
    this.plans = init.plans;
    this.configurationName = init.configurationName;
    this.configuration = resolveConfiguration(init.plans, init.configurationName);
    this.datasetJson = init.datasetJson;
    this.labelManager = new LabelManager(init.datasetJson.labels, init.datasetJson.regions_class_order ?? null);
    this.listOfParameters = init.parameters ?? [];
    this.trainerName = init.trainerName ?? "nnUNetTrainer";
    this.allowedMirroringAxes = init.inferenceAllowedMirroringAxes ?? null;
    return this;
  }

  get labelInfo(): ExportLabelInfo {
    return {
      hasRegions: this.labelManager.hasRegions,
      foregroundLabels: this.labelManager.foregroundLabels,
      regionsClassOrder: this.labelManager.regionsClassOrder ?? null,
    };
  }

  /** Sliding-window logits [H, X, Y, Z] of one preprocessed case with the network's current weights. */
  async predictSlidingWindowReturnLogits(data: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    return predictSlidingWindowReturnLogits((x) => this.network.forward(x), data, shape, {
      patchSize: this.configuration.patch_size,
      numHeads: this.labelManager.numSegmentationHeads,
      tileStepSize: this.tileStepSize,
      useGaussian: this.useGaussian,
      mirrorAxes: this.useMirroring ? this.allowedMirroringAxes : null,
      tilesPerBatch: this.tilesPerBatch,
      ...(this.onProgress ? { onProgress: this.onProgress } : {}),
    });
  }

  /**
   * Logits of one preprocessed case averaged over the folds (upstream's predict_logits_from_preprocessed_data).
   * Upstream sums the folds in float16; here the sum is float32 (see sliding-window.ts on accumulator precision).
   */
  async predictLogitsFromPreprocessedData(data: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    if (this.listOfParameters.length <= 1) {
      if (this.listOfParameters.length === 1) await this.network.loadStateDict(this.listOfParameters[0]!);
      return this.predictSlidingWindowReturnLogits(data, shape);
    }
    let sum: Float32Array | null = null;
    for (const params of this.listOfParameters) {
      await this.network.loadStateDict(params);
      const p = await this.predictSlidingWindowReturnLogits(data, shape);
      if (!sum) sum = p;
      else for (let i = 0; i < sum.length; i++) sum[i]! += p[i]!;
    }
    const n = this.listOfParameters.length;
    for (let i = 0; i < sum!.length; i++) sum![i]! /= n;
    return sum!;
  }

  /**
   * Predicts one preprocessed case and writes `<outputFileTruncated><file_ending>` (+ .npz/.json with
   * saveProbabilities). This is what the trainer's final validation calls for each validation case (upstream's
   * perform_actual_validation: step 0.5, Gaussian, mirroring, deep supervision off).
   * @example
   * const p = new NnUNetPredictor({ tileStepSize: 0.5, useGaussian: true, useMirroring: true })
   *   .manualInitialization({ network, plans, configurationName: "3d_fullres", datasetJson, inferenceAllowedMirroringAxes: [0, 1, 2] });
   * const c = await loadPreprocessedCase(folder, "case_007");
   * await p.predictPreprocessedCase(c.data, c.shape, c.properties, path.join(foldFolder, "validation", "case_007"));
   */
  async predictPreprocessedCase(
    data: Float32Array,
    shape: readonly number[],
    properties: ExportProperties,
    outputFileTruncated: string,
    { saveProbabilities = false }: { saveProbabilities?: boolean } = {},
  ): Promise<SegmentationResult> {
    const logits = await this.predictLogitsFromPreprocessedData(data, shape);
    return exportPredictionFromLogits(
      logits,
      [this.labelManager.numSegmentationHeads, ...shape.slice(1)],
      properties,
      this.configuration,
      this.plans,
      this.labelInfo,
      this.datasetJson.file_ending,
      outputFileTruncated,
      { saveProbabilities },
    );
  }

  /** Like predictPreprocessedCase, but returns the segmentation in the source geometry instead of writing it. */
  async predictPreprocessedToSegmentation(
    data: Float32Array,
    shape: readonly number[],
    properties: ExportProperties,
    { returnProbabilities = false }: { returnProbabilities?: boolean } = {},
  ): Promise<SegmentationResult> {
    const logits = await this.predictLogitsFromPreprocessedData(data, shape);
    return convertPredictedLogitsToSegmentationWithCorrectShape(
      logits,
      [this.labelManager.numSegmentationHeads, ...shape.slice(1)],
      this.plans,
      this.configuration,
      this.labelInfo,
      properties,
      { returnProbabilities },
    );
  }

  dispose(): void {
    this.network?.dispose?.();
    this.listOfParameters = [];
  }
}
