// The SDK entry points behind nnUNetv2_train_pretrained and nnUNetv2_train (nnunetv2/run/run_training.py and the
// fork's run_training_from_pretrained.py): resolve dataset, plans, configuration and fold, build the trainer context,
// load pretrained weights or a checkpoint to continue from, train, write checkpoint_final.pth, validate.

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { randomInt } from "node:crypto";
import { backendInfo, cacheOnCpu, checkDevice } from "../backend/index.js";
import { setOnednnPrecision, type OnednnPrecision } from "../backend/onednn.js";
import { requirePath, type Paths } from "../config/env.js";
import { foldFolderName, modelFolder, preprocessedDatasetFolder } from "../config/folders.js";
import { ConfigError, InputError } from "../errors.js";
import { warn } from "../warnings.js";
import { exists, probeWritable, removeStaleTempFiles, writeJsonAtomic } from "../util/fs.js";
import { lockFolder, type FolderLock } from "../util/lock.js";
import { checkPreprocessedFolder } from "./preprocessed-check.js";
import { checkTrainOptions } from "./check-train-options.js";
import type { ProgressCallback } from "../util/progress.js";
import { loadPlans, resolveConfiguration, type ConfigurationPlan, type Plans } from "../planning/plans.js";
import { loadDatasetJson, maybeConvertToDatasetName, channelNames, type DatasetJson } from "../dataset/raw.js";
import { LabelManager } from "../dataset/labels.js";
import type { TransferReport } from "../networks/pretrained.js";
import type { WeightTransferReport } from "../networks/dynamic-transfer.js";
import type { EvaluationSummary } from "../evaluation/summary.js";
import { doSplit, type Fold } from "./splits.js";
import { configureAugmentation } from "./augmentation/initial-patch-size.js";
import { resolveTrainer, type TrainerSpec } from "./trainers.js";
import { TrainingLogFile, emptyLogging, type TrainingLogging } from "./training-log.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint-io.js";
import type { PretrainInfo } from "./pretrained-weights.js";
import { applyTrainerPlanOverrides, buildTrainerNetwork, citationBlock, loadTrainerWeights } from "./trainer-network.js";
import { performActualValidation } from "./final-validation.js";
import {
  StagedOptimizer,
  deepSupervisionScales,
  defaultNumWorkers,
  maybeLoadCheckpointForContinue,
  runTrainingLoop,
  type FreezePlan,
  type LoopResult,
  type LoopStart,
  type TrainerContext,
  type TrainerEvents,
} from "./trainer.js";
import { trainingStages } from "./stages.js";
import { frozenMask, layerwiseLrScales, parseFreeze, type FreezeTarget } from "./freeze.js";
import type { AugmentationConfig } from "./augmentation/initial-patch-size.js";
import type { LoaderConfig } from "./data-loader.js";
import type { Network } from "../networks/network.js";

export interface TrainOptions extends TrainerEvents {
  /** Dataset id (123), "123" or "Dataset123_Name". */
  dataset: number | string;
  configuration: string;
  fold: Fold;
  /** Plans identifier (file name without .json). */
  plans?: string;
  /** Trainer name (registry entry, optionally `_<N>epochs`). */
  trainer?: string;
  /** No pretrained weights: plans_name gets "__from_scratch" and the scratch learning rate is used. */
  fromScratch?: boolean;
  /** `--c`: continue from checkpoint_final / _latest / _best. */
  continueTraining?: boolean;
  /** `--val`: only run the final validation (with checkpoint_final.pth, or _best with validationWithBest). */
  validationOnly?: boolean;
  validationWithBest?: boolean;
  /** `--npz`: also save softmax probabilities of the validation cases. */
  exportValidationProbabilities?: boolean;
  disableCheckpointing?: boolean;
  /** `--checkpointing`: activation recomputation per network stage (Network.checkpointing): less memory, more compute. */
  activationCheckpointing?: boolean;
  /**
   * `--precision`: "bf16" runs the convolutions (forward and both backward passes, and the final validation's) in bf16
   * with fp32 accumulation on cpu-onednn where the CPU has bf16 instructions; weights, optimizer state, loss and
   * checkpoints stay fp32. Elsewhere fp32, with a one-line notice (onLog, else stderr). Default fp32.
   */
  precision?: OnednnPrecision;
  /** `-device`: "cpu" runs on the selected backend, "gpu"/"cuda" requires a GPU backend (checkDevice in sdk/backend). */
  device?: "cpu" | "gpu" | "cuda";
  /** Force a tfjs backend (webgpu, cpu-onednn, cpu, tensorflow), as --backend / NNSSL_ADAPT_BACKEND. */
  backend?: string;
  /** `-overwrite_ckpt_path`: replaces plans.pretrain_info.checkpoint_path. */
  overwriteCkptPath?: string | null;
  numEpochs?: number;
  numIterationsPerEpoch?: number;
  numValIterationsPerEpoch?: number;
  /**
   * Linear whole-network warm-up epochs (PretrainedTrainer: 50, or 15 for the _150ep variants; sawtooth: the
   * whole-net warm-up after the decoder stages). Default with `numEpochs` shorter than the trainer's: scaled in
   * proportion, at least 1 (PretrainedTrainer with numEpochs 8: 1; with 500: 25), and logged. Upstream's `_<N>epochs`
   * names keep the trainer's warm-up, as upstream does.
   */
  warmupEpochs?: number;
  /**
   * Partial fine-tuning: "encoder", "stem" or "stages:A-B" (encoder stages A..B, 0-based). Frozen weights get no
   * gradient and no optimizer state; the frozen encoder part that runs first is computed without the gradient tape.
   */
  freeze?: string | null;
  /** With `freeze`: the epoch from which every parameter trains again (default: frozen to the end). */
  unfreezeAtEpoch?: number | null;
  /** Layer-wise learning-rate decay F in (0, 1]: decoder x1, deepest encoder stage xF, the one before xF², ..., stem. */
  lrDecayPerStage?: number | null;
  /** Ends training cleanly after the running iteration, writing checkpoint_latest.pth (see TrainerEvents.stopSignal). */
  stopSignal?: AbortSignal;
  /**
   * Learning rate for this run, with or without pretrained weights (replaces the trainer's initial_lr and its
   * from-scratch rate). Lets a comparison give both arms the same rate, so only the initial weights differ.
   */
  initialLr?: number;
  /** Seeds network init, data loading and augmentation; random (and logged) when omitted. */
  seed?: number;
  /** Augmentation worker threads (0 = in the main thread). Default: nnUNet_n_proc_DA or cores - 1. */
  numWorkers?: number;
  /** Skip the final validation (it can be run later with validationOnly). */
  skipValidation?: boolean;
  paths?: Paths;
  /** Receives every log line (the CLI prints them). */
  onLog?: (line: string) => void;
  onValidationProgress?: ProgressCallback;
}

/** What a training (or validation-only) run produced. */
export interface TrainingRun {
  datasetName: string;
  configuration: string;
  fold: Fold;
  trainerName: string;
  plansName: string;
  /** `$nnUNet_results/DatasetXXX/<Trainer>__<plans>__<configuration>`. */
  outputFolderBase: string;
  /** `.../fold_F`. */
  outputFolder: string;
  checkpointFinal: string | null;
  checkpointBest: string | null;
  logFile: string | null;
  logging: TrainingLogging;
  bestEma: number | null;
  startEpoch: number;
  epochsRun: number;
  resumedFrom: string | null;
  transfer: TransferReport | null;
  /** Every target tensor's source (checkpoint / adapted / init) and the skipped checkpoint tensors, for any trainer. */
  transferReport: WeightTransferReport | null;
  /** Mean wall time per epoch and total time the loop waited for batches (both seconds). */
  meanEpochSeconds: number;
  dataWaitSeconds: number;
  validation: EvaluationSummary | null;
  seed: number;
  numWorkers: number;
  backend: string;
  /** The precision the convolutions ran in (fp32 where bf16 was asked for but is not available). */
  precision: OnednnPrecision;
  /** Training ended early on stopSignal (checkpoint_latest.pth holds the completed epochs; continue with continueTraining). */
  stopped: boolean;
  /** The warm-up epochs this run used (after scaling to numEpochs), 0 without warm-up. */
  warmupEpochs: number;
}

const intOption = (flag: string, v: unknown, min: number): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ConfigError(`invalid ${flag}: ${String(v)} (expected an integer >= ${min})`);
  return v;
};

/**
 * Applies the length and learning-rate overrides to a trainer spec. A shorter `numEpochs` without `warmupEpochs` scales
 * the warm-up (and the sawtooth decoder stages) in proportion, so the SDK and the CLI give the same run for a budget.
 */
function withOverrides(spec: TrainerSpec, o: TrainOptions): { spec: TrainerSpec; warmupNote: string | null } {
  const s = { ...spec };
  for (const [k, v] of [
    ["numEpochs", o.numEpochs],
    ["numIterationsPerEpoch", o.numIterationsPerEpoch],
    ["numValIterationsPerEpoch", o.numValIterationsPerEpoch],
    ["warmupEpochs", o.warmupEpochs],
  ] as const) {
    if (v === undefined || v === null) continue;
    if (!Number.isInteger(v) || v < (k === "numValIterationsPerEpoch" ? 0 : 1)) throw new ConfigError(`invalid ${k}: ${v}`);
    if (k === "warmupEpochs" && s.schedule === "poly") throw new ConfigError(`warmupEpochs: ${s.name} has no warm-up (poly schedule)`);
    s[k] = v;
  }
  let warmupNote: string | null = null;
  const n = o.numEpochs ?? null;
  if (n !== null && n < spec.numEpochs && s.schedule !== "poly") {
    const scale = (e: number) => Math.max(1, Math.round((e * n) / spec.numEpochs));
    const notes: string[] = [];
    if (o.warmupEpochs === undefined || o.warmupEpochs === null) {
      s.warmupEpochs = scale(spec.warmupEpochs);
      notes.push(`warm-up ${s.warmupEpochs} epoch(s) instead of ${spec.warmupEpochs} of ${spec.numEpochs} (set --warmup_epochs to choose)`);
    }
    // The decoder stages have no flag of their own: they always follow the run's length.
    if (s.sawtooth) {
      s.sawtooth = { ...s.sawtooth, decoderEpochs: scale(s.sawtooth.decoderEpochs) };
      notes.push(`decoder stages ${s.sawtooth.decoderEpochs} epoch(s) instead of ${spec.sawtooth!.decoderEpochs}`);
    }
    if (notes.length) warmupNote = `Scaled to --num_epochs ${n}: ${notes.join("; ")}`;
  }
  if (o.initialLr !== undefined && o.initialLr !== null) {
    if (!(o.initialLr > 0 && Number.isFinite(o.initialLr))) throw new ConfigError(`invalid initialLr: ${o.initialLr}`);
    s.initialLr = o.initialLr;
    s.initialLrFromScratch = o.initialLr;
  }
  return { spec: s, warmupNote };
}

/** Checks --freeze / --unfreeze_at_epoch / --lr_decay_per_stage before anything is read. */
function checkPartialFineTuning(o: TrainOptions): FreezeTarget | null {
  const target = o.freeze ? parseFreeze(o.freeze) : null;
  if (o.unfreezeAtEpoch !== undefined && o.unfreezeAtEpoch !== null) {
    if (!target) throw new ConfigError("--unfreeze_at_epoch needs --freeze");
    intOption("--unfreeze_at_epoch", o.unfreezeAtEpoch, 1);
  }
  if (o.lrDecayPerStage !== undefined && o.lrDecayPerStage !== null && !(o.lrDecayPerStage > 0 && o.lrDecayPerStage <= 1)) {
    throw new ConfigError(`invalid --lr_decay_per_stage: ${o.lrDecayPerStage} (expected a factor in (0, 1])`);
  }
  return target;
}

/**
 * nnUNetv2_train_pretrained: fine-tunes from `plans.pretrain_info` (PretrainedTrainer by default).
 * @example
 * const run = await trainPretrained({ dataset: 900, configuration: "3d_fullres", fold: 0,
 *   plans: "ptPlans__MAE____Spacing__1.00_1.00_1.00___Norm__Z", trainer: "PretrainedTrainer_5epochs" });
 */
export function trainPretrained(opts: TrainOptions): Promise<TrainingRun> {
  if (!opts.plans) throw new ConfigError("-p PLANS is required (the ptPlans__... identifier written by nnUNetv2_preprocess_like_nnssl)");
  return runTraining({ ...opts, trainer: opts.trainer ?? "PretrainedTrainer" });
}

/**
 * nnUNetv2_train: plain nnU-Net training from scratch (nnUNetTrainer, plans nnUNetPlans by default).
 * @example const run = await train({ dataset: 900, configuration: "3d_fullres", fold: 0, trainer: "nnUNetTrainer_5epochs" });
 */
export function train(opts: TrainOptions): Promise<TrainingRun> {
  return runTraining({ ...opts, plans: opts.plans ?? "nnUNetPlans", trainer: opts.trainer ?? "nnUNetTrainer" });
}

/** Everything a run is about, resolved from the options, folders, plans and dataset.json; nothing built or written yet. */
export interface ResolvedRun {
  options: TrainOptions;
  backend: string;
  /** The convolutions' precision in effect (set by runTraining once the backend is selected). */
  precision: OnednnPrecision;
  datasetName: string;
  /** `$nnUNet_preprocessed/DatasetXXX`. */
  preprocessedBase: string;
  plansFile: string;
  /** The plans as this run uses them (plans_name with "__from_scratch", checkpoint path overridden). */
  plans: Plans;
  configuration: ConfigurationPlan;
  spec: TrainerSpec;
  fromScratch: boolean;
  pretrainInfo: PretrainInfo | null;
  /** Loads plans.pretrain_info weights (trainer uses them, not --from_scratch, and a checkpoint path is set). */
  usePretrained: boolean;
  /** The trainer's learning rate for this run (its from-scratch rate when no weights are loaded). */
  initialLr: number;
  datasetJson: DatasetJson;
  labels: LabelManager;
  inputChannels: number;
  numClasses: number;
  outputFolderBase: string;
  outputFolder: string;
  dataFolder: string;
  split: { train: string[]; val: string[] };
  seed: number;
  numWorkers: number;
  /** --freeze, parsed (null: nothing frozen). */
  freezeTarget: FreezeTarget | null;
  /** The log line about a warm-up scaled to a shorter run, or null. */
  warmupNote: string | null;
}

/** Mirror axes of one run: patch axes for inference (checkpoint, final validation) and 3-D-form axes for the transforms. */
export interface MirrorAxes {
  /** inference_allowed_mirroring_axes; null for the _nomirroring trainers. */
  inference: number[] | null;
  /** Axes the training transforms flip, in the 3-D form of TransformConfig (2-D configurations: shifted by one). */
  training: number[];
}

/**
 * configure_rotation_dummyDA_mirroring_and_inital_patch_size's mirror axes, computed once: all spatial axes, or none
 * (mirror_axes = inference_allowed_mirroring_axes = None) for the _nomirroring trainers.
 */
export function mirrorAxesFor(spec: TrainerSpec, aug: AugmentationConfig, is2d: boolean): MirrorAxes {
  if (!spec.mirroring) return { inference: null, training: [] };
  return { inference: [...aug.mirrorAxes], training: is2d ? aug.mirrorAxes.map((a) => a + 1) : [...aug.mirrorAxes] };
}

/** The trainer as built for a run: network, optimizer, learning-rate schedule and the loop's context. */
export interface BuiltTrainer {
  network: Network;
  /** The optimizer through the trainer's stages (`.optimizer` is the current one). */
  optimizers: StagedOptimizer;
  ctx: TrainerContext;
  log: TrainingLogFile;
  patchSize: number[];
  augmentation: AugmentationConfig;
  mirror: MirrorAxes;
  dsScales: number[][] | null;
}

/** Checks the flags and resolves folders, plans, configuration, trainer, labels and split. Creates the fold folder. */
export async function resolveRun(o: TrainOptions): Promise<ResolvedRun> {
  checkTrainOptions(o);
  if (o.precision !== undefined && o.precision !== "fp32" && o.precision !== "bf16") {
    throw new ConfigError(`invalid precision: ${JSON.stringify(o.precision)} (expected "fp32" or "bf16")`);
  }
  if (o.validationOnly && o.continueTraining) throw new ConfigError("--val and --c cannot be combined");
  if (o.validationWithBest && o.disableCheckpointing) throw new ConfigError("--val_best is not compatible with --disable_checkpointing");
  if (o.fold !== "all" && (!Number.isInteger(o.fold) || o.fold < 0)) throw new ConfigError(`invalid fold: ${o.fold} (expected 0, 1, ... or all)`);
  // Both folders are checked before any work, so a missing variable fails at once.
  requirePath("nnUNet_preprocessed", o.paths);
  requirePath("nnUNet_results", o.paths);
  const backendSelected = await backendInfo(o.backend ? { backend: o.backend } : {});
  checkDevice(o.device, backendSelected);
  const backend = backendSelected.name;
  const datasetName = await maybeConvertToDatasetName(o.dataset, o.paths);
  const preBase = preprocessedDatasetFolder(datasetName, o.paths);
  const plansFile = path.join(preBase, `${o.plans}.json`);
  const plans: Plans = await loadPlans(plansFile);
  const freezeTarget = checkPartialFineTuning(o);
  const overridden = withOverrides(resolveTrainer(o.trainer!), o);
  let spec = overridden.spec;
  const fromScratch = Boolean(o.fromScratch);
  const info = (plans.pretrain_info ?? null) as PretrainInfo | null;
  if (fromScratch) {
    plans.plans_name = `${plans.plans_name}__from_scratch`;
    if (info) info.checkpoint_path = null;
  } else if (o.overwriteCkptPath) {
    if (!info)
      throw new ConfigError("-overwrite_ckpt_path given but the plans have no pretrain_info (use ptPlans from nnUNetv2_preprocess_like_nnssl)", {
        file: plansFile,
      });
    info.checkpoint_path = path.resolve(o.overwriteCkptPath);
  }
  if (!(o.configuration in plans.configurations)) {
    throw new ConfigError(`configuration ${o.configuration} not in plans (available: ${Object.keys(plans.configurations).join(", ")})`, { file: plansFile });
  }
  const cfg = resolveConfiguration(plans, o.configuration);
  applyTrainerPlanOverrides(spec, plans, cfg, o.configuration);
  const datasetJsonFile = path.join(preBase, "dataset.json");
  const datasetJson = await loadDatasetJson(datasetJsonFile);
  const lm = new LabelManager(datasetJson.labels, datasetJson.regions_class_order ?? null, { file: datasetJsonFile });
  if (spec.batchSize === null) spec = { ...spec, batchSize: cfg.batch_size };

  const outputFolderBase = modelFolder(datasetName, spec.name, plans.plans_name, o.configuration, o.paths);
  const outputFolder = path.join(outputFolderBase, foldFolderName(o.fold));
  await probeWritable(outputFolder);
  const dataFolder = path.join(preBase, cfg.data_identifier);
  const ids = await checkPreprocessedFolder({
    dataFolder,
    preprocessedDatasetFolder: preBase,
    datasetName,
    datasetJson,
    plansIdentifier: o.plans!,
    configuration: o.configuration,
    paths: o.paths,
  });
  const split = await doSplit(preBase, ids, o.fold);
  const usePretrained = spec.usesPretrainedWeights && !fromScratch && info !== null && info.checkpoint_path !== null;
  // [MN]: the scratch learning rate follows pretrain_info.checkpoint_path being None.
  const initialLr = spec.usesPretrainedWeights && !usePretrained && spec.initialLrFromScratch !== null ? spec.initialLrFromScratch : spec.initialLr;
  return {
    options: o,
    backend,
    precision: "fp32",
    datasetName,
    preprocessedBase: preBase,
    plansFile,
    plans,
    configuration: cfg,
    spec,
    fromScratch,
    pretrainInfo: info,
    usePretrained,
    initialLr,
    datasetJson,
    labels: lm,
    inputChannels: Object.keys(channelNames(datasetJson)).length,
    numClasses: lm.numSegmentationHeads,
    outputFolderBase,
    outputFolder,
    dataFolder,
    split,
    seed: o.seed ?? randomInt(0, 2 ** 31 - 1),
    numWorkers: o.numWorkers ?? defaultNumWorkers(),
    freezeTarget,
    warmupNote: overridden.warmupNote,
  };
}

/** Builds network, optimizer, schedule and the data/augmentation settings of the loop (upstream's trainer.initialize). */
export function buildTrainer(r: ResolvedRun): BuiltTrainer {
  const { spec, configuration: cfg, labels: lm, options: o } = r;
  const patch = cfg.patch_size;
  const is2d = patch.length === 2;
  const aug = configureAugmentation(patch);
  const mirror = mirrorAxesFor(spec, aug, is2d);
  const p3 = (p: readonly number[]) => (is2d ? [1, p[0]!, p[1]!] : [...p]) as [number, number, number];
  const strides = (cfg.architecture?.arch_kwargs as { strides?: number[][] } | null | undefined)?.strides;
  const useDs = spec.enableDeepSupervision && Array.isArray(strides) && strides.length > 1;
  const dsScales = useDs ? deepSupervisionScales(strides!, is2d) : null;
  const network = buildTrainerNetwork(spec, cfg.architecture as never, {
    inputChannels: r.inputChannels,
    numClasses: r.numClasses,
    deepSupervision: useDs,
    patchSize: [...patch],
    seed: r.seed,
  });
  network.checkpointing = o.activationCheckpointing ?? false;
  const optimizers = new StagedOptimizer(
    spec,
    network,
    r.initialLr,
    trainingStages(spec, r.initialLr),
    headParameters(r, network),
    o.lrDecayPerStage !== undefined && o.lrDecayPerStage !== null && o.lrDecayPerStage !== 1 ? layerwiseLrScales(network, o.lrDecayPerStage) : null,
  );
  const freeze: FreezePlan | null = r.freezeTarget
    ? { frozen: frozenMask(network, r.freezeTarget), unfreezeAtEpoch: o.unfreezeAtEpoch ?? null, description: `--freeze ${o.freeze}` }
    : null;
  const log = new TrainingLogFile(r.outputFolder, o.onLog ?? null);
  const regionList = lm.hasRegions
    ? [...lm.foregroundRegions!.map((x) => (Array.isArray(x) ? [...x] : x)), ...(lm.ignoreLabel !== null ? [lm.ignoreLabel] : [])]
    : null;
  const loaderConfig = (patchSize: readonly number[]): LoaderConfig => ({
    patchSize: p3(patchSize),
    finalPatchSize: p3(patch),
    batchSize: spec.batchSize!,
    oversampleForegroundPercent: spec.oversampleForegroundPercent,
    hasIgnore: lm.hasIgnoreLabel,
  });
  const ctx: TrainerContext = {
    spec,
    network,
    is2d,
    numClasses: r.numClasses,
    regions: lm.hasRegions,
    ignoreLabel: lm.ignoreLabel,
    batchDice: Boolean(cfg.batch_dice),
    dsScales,
    loader: { train: loaderConfig(aug.initialPatchSize), val: loaderConfig(patch) },
    transforms: {
      patchSize: p3(patch),
      is2d,
      doDummy2d: aug.doDummy2d,
      rotation: aug.rotation,
      mirrorAxes: mirror.training,
      maskChannels: (cfg.use_mask_for_norm ?? []).flatMap((m, c) => (m ? [c] : [])),
      regions: regionList,
      dsScales,
    },
    folder: r.dataFolder,
    trainIds: r.split.train,
    valIds: r.split.val,
    outputFolder: r.outputFolder,
    seed: r.seed,
    numWorkers: r.numWorkers,
    disableCheckpointing: Boolean(o.disableCheckpointing),
    freeze,
    checkpointMeta: {
      initArgs: {
        plans: r.plans,
        configuration: o.configuration,
        fold: o.fold,
        dataset_json: r.datasetJson,
        device: o.device === "gpu" || o.device === "cuda" ? "cuda" : "cpu",
      },
      trainerName: spec.name,
      inferenceAllowedMirroringAxes: mirror.inference,
    },
    log,
  };
  return { network, optimizers, ctx, log, patchSize: [...patch], augmentation: aug, mirror, dsScales };
}

/** The run record before anything ran. */
function emptyRun(r: ResolvedRun, b: BuiltTrainer): TrainingRun {
  const o = r.options;
  return {
    datasetName: r.datasetName,
    configuration: o.configuration,
    fold: o.fold,
    trainerName: r.spec.name,
    plansName: r.plans.plans_name,
    outputFolderBase: r.outputFolderBase,
    outputFolder: r.outputFolder,
    checkpointFinal: null,
    checkpointBest: null,
    logFile: o.validationOnly ? null : b.log.file,
    logging: emptyLogging(),
    bestEma: null,
    startEpoch: 0,
    epochsRun: 0,
    resumedFrom: null,
    transfer: null,
    transferReport: null,
    meanEpochSeconds: NaN,
    dataWaitSeconds: 0,
    validation: null,
    seed: r.seed,
    numWorkers: r.numWorkers,
    backend: r.backend,
    precision: r.precision,
    stopped: false,
    warmupEpochs: r.spec.schedule === "poly" ? 0 : r.spec.warmupEpochs,
  };
}

/** perform_actual_validation on the fold's validation cases (null when skipped, with the reason as a warning). */
async function validate(r: ResolvedRun, b: BuiltTrainer): Promise<EvaluationSummary | null> {
  const o = r.options;
  if (o.skipValidation) return null;
  if (r.split.val.length === 0) {
    warn("no validation cases in this fold: skipping the final validation");
    return null;
  }
  const gtFolder = path.join(r.preprocessedBase, "gt_segmentations");
  if (!(await exists(gtFolder))) {
    warn(`${gtFolder} not found: skipping the final validation (it needs the reference segmentations)`);
    return null;
  }
  return performActualValidation({
    network: b.network,
    plans: r.plans,
    configurationName: o.configuration,
    datasetJson: r.datasetJson,
    trainerName: r.spec.name,
    mirrorAxes: b.mirror.inference,
    preprocessedFolder: r.dataFolder,
    gtFolder,
    valIds: r.split.val,
    outputFolder: r.outputFolder,
    saveProbabilities: o.exportValidationProbabilities,
    ...(o.onValidationProgress ? { onProgress: o.onValidationProgress } : {}),
  });
}

/** `--val` / `--val_best`: loads checkpoint_final (or _best) and validates. */
async function validateOnly(r: ResolvedRun, b: BuiltTrainer, run: TrainingRun): Promise<TrainingRun> {
  const best = Boolean(r.options.validationWithBest);
  const file = path.join(r.outputFolder, best ? "checkpoint_best.pth" : "checkpoint_final.pth");
  if (!(await exists(file))) throw new InputError("checkpoint not found: --val needs a finished training (or --val_best a checkpoint_best.pth)", { file });
  const ck = await loadCheckpoint(file);
  await b.network.loadStateDict(ck.networkWeights as Map<string, never>);
  Object.assign(run, {
    logging: ck.logging,
    bestEma: ck.bestEma,
    startEpoch: ck.currentEpoch,
    checkpointFinal: best ? null : file,
    checkpointBest: best ? file : null,
  });
  run.validation = await validate(r, b);
  return run;
}

/** Copies plans.json, dataset.json and dataset_fingerprint.json next to the folds, as upstream does. */
async function writeModelFolderFiles(r: ResolvedRun): Promise<void> {
  await writeJsonAtomic(path.join(r.outputFolderBase, "plans.json"), r.plans);
  await writeJsonAtomic(path.join(r.outputFolderBase, "dataset.json"), r.datasetJson);
  const fp = path.join(r.preprocessedBase, "dataset_fingerprint.json");
  if (await exists(fp)) await fsp.copyFile(fp, path.join(r.outputFolderBase, "dataset_fingerprint.json"));
}

/** `--c` restores a checkpoint; otherwise the pretrained weights are loaded (or the run starts from its initialisation). */
async function initialWeights(r: ResolvedRun, b: BuiltTrainer, run: TrainingRun): Promise<LoopStart> {
  let start: LoopStart = { epoch: 0, logging: emptyLogging(), bestEma: null };
  if (r.options.continueTraining) {
    const restored = await maybeLoadCheckpointForContinue(b.ctx, b.optimizers);
    if (restored) {
      start = restored;
      run.resumedFrom = restored.file;
      await b.log.print(`Continuing from ${path.basename(restored.file)} at epoch ${restored.epoch}`);
    } else {
      warn(`${r.outputFolder}: no checkpoint to continue from, starting a new training`);
    }
  }
  if (!run.resumedFrom && r.usePretrained) {
    run.transferReport = await loadTrainerWeights(r.spec, b.network, r.pretrainInfo, r.configuration.architecture as never, {
      numInputChannels: r.inputChannels,
      patchSize: b.patchSize,
    });
    run.transfer = run.transferReport.strict;
    await b.log.print(`Loaded pretrained weights (${run.transferReport.mode}) from ${r.pretrainInfo!.checkpoint_path}: ${run.transferReport.summary()}`);
    for (const note of run.transferReport.notes) await b.log.print(`  ${note}`);
    const cite = citationBlock(r.pretrainInfo!.citations);
    if (cite) await b.log.print(cite);
  } else if (!run.resumedFrom && r.spec.usesPretrainedWeights && !r.fromScratch) {
    throw new ConfigError(
      "plans have no pretrain_info.checkpoint_path: pass -overwrite_ckpt_path PATH, or --from_scratch to train without pretrained weights",
      { file: r.plansFile },
    );
  }
  return start;
}

/** debug.json and the log header (trainer, plans, configuration, split). */
async function writeRunHeader(r: ResolvedRun, b: BuiltTrainer): Promise<void> {
  const o = r.options;
  await writeJsonAtomic(path.join(r.outputFolder, "debug.json"), {
    trainer: r.spec,
    initial_lr: r.initialLr,
    seed: r.seed,
    num_workers: r.numWorkers,
    backend: r.backend,
    precision: r.precision,
    batch_size: r.spec.batchSize,
    patch_size: b.patchSize,
    initial_patch_size: b.augmentation.initialPatchSize,
    do_dummy_2d_data_aug: b.augmentation.doDummy2d,
    deep_supervision_scales: b.dsScales,
    fold: o.fold,
    num_train_cases: r.split.train.length,
    num_val_cases: r.split.val.length,
    from_scratch: r.fromScratch,
  });
  await b.log.print(
    `Trainer ${r.spec.name}, plans ${r.plans.plans_name}, configuration ${o.configuration}, fold ${o.fold}, seed ${r.seed}, ` +
      `backend ${r.backend}, ${r.numWorkers} augmentation worker(s)`,
  );
  if (r.precision === "bf16") await b.log.print("Precision: bf16 convolutions with fp32 accumulation; fp32 weights, optimizer state, loss and checkpoints");
  await b.log.print("This is the configuration used by this training:");
  await b.log.print(`Configuration name: ${o.configuration}`);
  await b.log.print(` ${JSON.stringify(r.configuration)}`);
  await b.log.print(`This split has ${r.split.train.length} training and ${r.split.val.length} validation cases.`);
  if (r.warmupNote) await b.log.print(r.warmupNote);
}

/** checkpoint_final.pth (unless nothing ran and one exists), checkpoint_latest.pth removed, as on_train_end. */
async function finishCheckpoints(r: ResolvedRun, b: BuiltTrainer, loop: LoopResult, run: TrainingRun): Promise<void> {
  if (b.ctx.disableCheckpointing) return;
  const final = path.join(r.outputFolder, "checkpoint_final.pth");
  if (loop.epochsRun > 0 || !(await exists(final))) {
    await cacheOnCpu([...b.network.namedParameters().map(([, v]) => v), ...b.optimizers.optimizer.stateTensors()]);
    await saveCheckpoint(final, {
      networkWeights: b.network.stateDict(),
      optimizer: b.optimizers.optimizer,
      logging: loop.logging,
      bestEma: loop.bestEma,
      currentEpoch: r.spec.numEpochs,
      ...b.ctx.checkpointMeta,
    });
  }
  await fsp.rm(path.join(r.outputFolder, "checkpoint_latest.pth"), { force: true });
  run.checkpointFinal = final;
  const best = path.join(r.outputFolder, "checkpoint_best.pth");
  run.checkpointBest = (await exists(best)) ? best : null;
}

/** Trains from the start (or the restored epoch) to the end, writes the final checkpoint and validates. */
async function runAndValidate(r: ResolvedRun, b: BuiltTrainer, run: TrainingRun): Promise<TrainingRun> {
  await writeModelFolderFiles(r);
  const start = await initialWeights(r, b, run);
  await writeRunHeader(r, b);
  // Before the first epoch the optimizer of the start epoch's stage exists (a restored one, or a new one here).
  if (!b.optimizers.stage) b.optimizers.enter(Math.min(start.epoch, r.spec.numEpochs - 1));
  const loop = await runTrainingLoop(b.ctx, b.optimizers, start, r.options);
  Object.assign(run, {
    logging: loop.logging,
    bestEma: loop.bestEma,
    startEpoch: loop.startEpoch,
    epochsRun: loop.epochsRun,
    meanEpochSeconds: loop.meanEpochSeconds,
    dataWaitSeconds: loop.dataWaitSeconds,
  });
  if (loop.stopped) {
    run.stopped = true;
    return run;
  }
  await finishCheckpoints(r, b, loop, run);
  await b.log.print(`Training done. Mean epoch time ${loop.meanEpochSeconds.toFixed(2)} s, waited ${loop.dataWaitSeconds.toFixed(2)} s for data in total.`);
  if (r.options.validationWithBest && run.checkpointBest) {
    // --val_best after training: validate with checkpoint_best.pth, as master's train_pretrained does.
    const ck = await loadCheckpoint(run.checkpointBest);
    await b.network.loadStateDict(ck.networkWeights as Map<string, never>);
    await b.log.print("Validating with checkpoint_best.pth");
  }
  run.validation = await validate(r, b);
  if (run.validation) await b.log.print(`Mean Validation Dice: ${run.validation.foreground_mean.Dice}`);
  return run;
}

/**
 * The parameters of the sawtooth decoder stages, by index of network.namedParameters(): for nnU-Net's UNets every
 * parameter (decoder.parameters() includes the encoder, reproduced from upstream), for Primus the up_projection; plus
 * the input projection when pretrained weights with fewer input channels are used (pt_weight_in_ch_mismatch).
 */
function headParameters(r: ResolvedRun, network: Network): number[] {
  const names = network.namedParameters().map(([n]) => n);
  const all = names.map((_, i) => i);
  if (!r.spec.sawtooth || r.spec.sawtooth.heads === "decoder") return all;
  const heads = all.filter((i) => names[i]!.startsWith("up_projection."));
  const mismatch = r.usePretrained && r.pretrainInfo !== null && r.inputChannels > r.pretrainInfo.pt_num_in_channels;
  const inProj = network.transferKeys.keysToInProj[0];
  const extra = mismatch && inProj ? all.filter((i) => names[i]!.startsWith(`${inProj}.`) && !heads.includes(i)) : [];
  return [...heads, ...extra];
}

async function runTraining(o: TrainOptions): Promise<TrainingRun> {
  const resolved = await resolveRun(o);
  // One writer per fold folder: a second run of the same fold refuses, naming this process.
  const lock: FolderLock = await lockFolder(resolved.outputFolder);
  let built: BuiltTrainer | null = null;
  // After resolveRun: the backend is selected, which decides whether bf16 is available.
  const { precision, notice } = setOnednnPrecision(o.precision ?? "fp32", { training: true });
  resolved.precision = precision;
  if (notice) (o.onLog ?? ((line: string) => process.stderr.write(`${line}\n`)))(notice);
  try {
    const { preprocessedBase, outputFolderBase, outputFolder } = resolved;
    for (const f of [preprocessedBase, outputFolderBase, outputFolder, path.join(outputFolder, "validation")]) await removeStaleTempFiles(f);
    built = buildTrainer(resolved);
    const run = emptyRun(resolved, built);
    return await (o.validationOnly ? validateOnly(resolved, built, run) : runAndValidate(resolved, built, run));
  } finally {
    setOnednnPrecision("fp32");
    built?.optimizers.dispose();
    built?.network.dispose();
    await lock.release();
  }
}
