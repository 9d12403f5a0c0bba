// The SDK entry points behind nnUNetv2_train_pretrained and nnUNetv2_train (nnunetv2/run/run_training.py and the
// fork's run_training_from_pretrained.py): resolve dataset, plans, configuration and fold, build the trainer context,
// load pretrained weights or a checkpoint to continue from, train, write checkpoint_final.pth, validate.

import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { randomInt } from "node:crypto";
import { backendInfo } from "../backend/index.js";
import { requirePath, type Paths } from "../config/env.js";
import { ConfigError, InputError } from "../errors.js";
import { warn } from "../warnings.js";
import { exists, writeJsonAtomic } from "../util/fs.js";
import type { ProgressCallback } from "../util/progress.js";
import { loadPlans, resolveConfiguration, type Plans } from "../planning/plans.js";
import { loadDatasetJson, maybeConvertToDatasetName, channelNames } from "../dataset/raw.js";
import { LabelManager } from "../dataset/labels.js";
import { buildNetwork } from "../networks/build-network.js";
import type { TransferReport } from "../networks/pretrained.js";
import type { EvaluationSummary } from "../evaluation/summary.js";
import { doSplit, type Fold } from "./splits.js";
import { configureAugmentation } from "./augmentation/initial-patch-size.js";
import { resolveTrainer, type TrainerSpec } from "./trainers.js";
import { TrainingLogFile, emptyLogging, type TrainingLogging } from "./training-log.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint-io.js";
import { loadPretrainedFromPlans, type PretrainInfo } from "./pretrained-weights.js";
import { performActualValidation } from "./final-validation.js";
import {
  buildOptimizer, deepSupervisionScales, defaultNumWorkers, learningRateSchedule, maybeLoadCheckpointForContinue,
  runTrainingLoop, type TrainerContext, type TrainerEvents,
} from "./trainer.js";

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
  /** `-device`; the tfjs backend is chosen by initBackend(), "cpu" forces tfjs' pure-JS CPU backend when nothing else is set. */
  device?: "cpu" | "gpu" | "cuda";
  /** `-overwrite_ckpt_path`: replaces plans.pretrain_info.checkpoint_path. */
  overwriteCkptPath?: string | null;
  numEpochs?: number;
  numIterationsPerEpoch?: number;
  numValIterationsPerEpoch?: number;
  /**
   * Linear warm-up epochs of the PretrainedTrainer schedule (50, or 15 for the _150ep variants). Upstream's
   * `_<N>epochs` names keep the 50-epoch ramp, so a short run never reaches the full learning rate; short CPU runs
   * can scale it down here.
   */
  warmupEpochs?: number;
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
  /** Mean wall time per epoch and total time the loop waited for batches (both seconds). */
  meanEpochSeconds: number;
  dataWaitSeconds: number;
  validation: EvaluationSummary | null;
  seed: number;
  numWorkers: number;
  backend: string;
}

/** Python-style list of *.npy case files (without _seg) in a preprocessed folder, sorted. */
async function listCaseIds(folder: string): Promise<string[]> {
  let names: string[];
  try { names = await fsp.readdir(folder); } catch (err) {
    throw new InputError("preprocessed data folder not found: run nnUNetv2_preprocess (or nnUNetv2_preprocess_like_nnssl) first", { file: folder, cause: err });
  }
  return names.filter((n) => n.endsWith(".npy") && !n.endsWith("_seg.npy")).map((n) => n.slice(0, -4)).sort();
}

/** Applies the CLI's length overrides to a trainer spec. */
function withOverrides(spec: TrainerSpec, o: TrainOptions): TrainerSpec {
  const s = { ...spec };
  for (const [k, v] of [["numEpochs", o.numEpochs], ["numIterationsPerEpoch", o.numIterationsPerEpoch], ["numValIterationsPerEpoch", o.numValIterationsPerEpoch], ["warmupEpochs", o.warmupEpochs]] as const) {
    if (v === undefined || v === null) continue;
    if (!Number.isInteger(v) || v < (k === "numValIterationsPerEpoch" ? 0 : 1)) throw new ConfigError(`invalid ${k}: ${v}`);
    if (k === "warmupEpochs" && s.schedule !== "warmup_poly") throw new ConfigError(`warmupEpochs: ${s.name} has no warm-up (poly schedule)`);
    s[k] = v;
  }
  if (o.initialLr !== undefined && o.initialLr !== null) {
    if (!(o.initialLr > 0 && Number.isFinite(o.initialLr))) throw new ConfigError(`invalid initialLr: ${o.initialLr}`);
    s.initialLr = o.initialLr;
    s.initialLrFromScratch = o.initialLr;
  }
  return s;
}

/**
 * nnUNetv2_train_pretrained: fine-tunes from `plans.pretrain_info` (PretrainedTrainer by default).
 * @example const run = await trainPretrained({ dataset: 900, configuration: "3d_fullres", fold: 0, plans: "ptPlans__MAE____Spacing__1.00_1.00_1.00___Norm__Z", trainer: "PretrainedTrainer_5epochs" });
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

async function runTraining(o: TrainOptions): Promise<TrainingRun> {
  if (o.validationOnly && o.continueTraining) throw new ConfigError("--val and --c cannot be combined");
  if (o.validationWithBest && o.disableCheckpointing) throw new ConfigError("--val_best is not compatible with --disable_checkpointing");
  if (o.fold !== "all" && (!Number.isInteger(o.fold) || o.fold < 0)) throw new ConfigError(`invalid fold: ${o.fold} (expected 0, 1, ... or all)`);
  const pre = requirePath("nnUNet_preprocessed", o.paths);
  const results = requirePath("nnUNet_results", o.paths);
  const backend = (await backendInfo()).name;
  const datasetName = await maybeConvertToDatasetName(o.dataset, o.paths);
  const preBase = path.join(pre, datasetName);
  const plansFile = path.join(preBase, `${o.plans}.json`);
  const plans: Plans = await loadPlans(plansFile);
  let spec = withOverrides(resolveTrainer(o.trainer!), o);
  const fromScratch = Boolean(o.fromScratch);
  const info = (plans.pretrain_info ?? null) as PretrainInfo | null;
  if (fromScratch) {
    plans.plans_name = `${plans.plans_name}__from_scratch`;
    if (info) info.checkpoint_path = null;
  } else if (o.overwriteCkptPath) {
    if (!info) throw new ConfigError("-overwrite_ckpt_path given but the plans have no pretrain_info (use ptPlans from nnUNetv2_preprocess_like_nnssl)", { file: plansFile });
    info.checkpoint_path = path.resolve(o.overwriteCkptPath);
  }
  if (!(o.configuration in plans.configurations)) {
    throw new ConfigError(`configuration ${o.configuration} not in plans (available: ${Object.keys(plans.configurations).join(", ")})`, { file: plansFile });
  }
  const cfg = resolveConfiguration(plans, o.configuration);
  const datasetJsonFile = path.join(preBase, "dataset.json");
  const datasetJson = await loadDatasetJson(datasetJsonFile);
  const lm = new LabelManager(datasetJson.labels, datasetJson.regions_class_order ?? null, { file: datasetJsonFile });
  const inputChannels = Object.keys(channelNames(datasetJson)).length;
  const numClasses = lm.numSegmentationHeads;
  if (spec.batchSize === null) spec = { ...spec, batchSize: cfg.batch_size };

  const outputFolderBase = path.join(results, datasetName, `${spec.name}__${plans.plans_name}__${o.configuration}`);
  const outputFolder = path.join(outputFolderBase, `fold_${o.fold}`);
  await fsp.mkdir(outputFolder, { recursive: true });
  const dataFolder = path.join(preBase, cfg.data_identifier);
  const ids = await listCaseIds(dataFolder);
  if (ids.length === 0) throw new InputError("no preprocessed cases (<case>.npy) found", { file: dataFolder });
  const split = await doSplit(preBase, ids, o.fold);

  const patch = cfg.patch_size;
  const is2d = patch.length === 2;
  const aug = configureAugmentation(patch);
  const p3 = (p: readonly number[]) => (is2d ? [1, p[0]!, p[1]!] : [...p]) as [number, number, number];
  const strides = (cfg.architecture?.arch_kwargs as { strides?: number[][] } | null | undefined)?.strides;
  const useDs = spec.enableDeepSupervision && Array.isArray(strides) && strides.length > 1;
  const dsScales = useDs ? deepSupervisionScales(strides!, is2d) : null;
  const seed = o.seed ?? randomInt(0, 2 ** 31 - 1);
  const numWorkers = o.numWorkers ?? defaultNumWorkers();
  const network = buildNetwork(cfg.architecture as never, { inputChannels, numClasses, deepSupervision: useDs, patchSize: [...patch], seed });
  network.checkpointing = o.activationCheckpointing ?? false;
  const usePretrained = spec.usesPretrainedWeights && !fromScratch && info !== null && info.checkpoint_path !== null;
  // [MN]: the scratch learning rate follows pretrain_info.checkpoint_path being None.
  const initialLr = spec.usesPretrainedWeights && !usePretrained && spec.initialLrFromScratch !== null ? spec.initialLrFromScratch : spec.initialLr;
  const optimizer = buildOptimizer(spec, network, initialLr);
  const mirrorAxes = is2d ? aug.mirrorAxes.map((a) => a + 1) : aug.mirrorAxes;
  const log = new TrainingLogFile(outputFolder, o.onLog ?? null);
  const regions = lm.hasRegions;
  const regionList = regions ? [...lm.foregroundRegions!.map((r) => (Array.isArray(r) ? [...r] : r)), ...(lm.ignoreLabel !== null ? [lm.ignoreLabel] : [])] : null;
  const ctx: TrainerContext = {
    spec, network, is2d, numClasses, regions, ignoreLabel: lm.ignoreLabel, batchDice: Boolean(cfg.batch_dice), dsScales,
    loader: {
      train: { patchSize: p3(aug.initialPatchSize), finalPatchSize: p3(patch), batchSize: spec.batchSize!, oversampleForegroundPercent: spec.oversampleForegroundPercent, hasIgnore: lm.hasIgnoreLabel },
      val: { patchSize: p3(patch), finalPatchSize: p3(patch), batchSize: spec.batchSize!, oversampleForegroundPercent: spec.oversampleForegroundPercent, hasIgnore: lm.hasIgnoreLabel },
    },
    transforms: {
      patchSize: p3(patch), is2d, doDummy2d: aug.doDummy2d, rotation: aug.rotation, mirrorAxes: is2d ? aug.mirrorAxes.map((a) => a + 1) : aug.mirrorAxes,
      maskChannels: (cfg.use_mask_for_norm ?? []).flatMap((m, c) => (m ? [c] : [])), regions: regionList, dsScales,
    },
    folder: dataFolder, trainIds: split.train, valIds: split.val, outputFolder, seed, numWorkers,
    disableCheckpointing: Boolean(o.disableCheckpointing),
    checkpointMeta: {
      initArgs: { plans, configuration: o.configuration, fold: o.fold, dataset_json: datasetJson, device: o.device === "gpu" || o.device === "cuda" ? "cuda" : "cpu" },
      trainerName: spec.name,
      inferenceAllowedMirroringAxes: is2d ? aug.mirrorAxes : mirrorAxes,
    },
    log,
  };
  const run: TrainingRun = {
    datasetName, configuration: o.configuration, fold: o.fold, trainerName: spec.name, plansName: plans.plans_name, outputFolderBase, outputFolder,
    checkpointFinal: null, checkpointBest: null, logFile: o.validationOnly ? null : log.file, logging: emptyLogging(), bestEma: null, startEpoch: 0, epochsRun: 0,
    resumedFrom: null, transfer: null, meanEpochSeconds: NaN, dataWaitSeconds: 0, validation: null, seed, numWorkers, backend,
  };
  const gtFolder = path.join(preBase, "gt_segmentations");
  const validate = async () => {
    if (o.skipValidation) return null;
    if (split.val.length === 0) { warn("no validation cases in this fold: skipping the final validation"); return null; }
    if (!(await exists(gtFolder))) { warn(`${gtFolder} not found: skipping the final validation (it needs the reference segmentations)`); return null; }
    return performActualValidation({
      network, plans, configurationName: o.configuration, datasetJson, trainerName: spec.name, mirrorAxes: ctx.checkpointMeta.inferenceAllowedMirroringAxes,
      preprocessedFolder: dataFolder, gtFolder, valIds: split.val, outputFolder, saveProbabilities: o.exportValidationProbabilities,
      ...(o.onValidationProgress ? { onProgress: o.onValidationProgress } : {}),
    });
  };

  try {
    if (o.validationOnly) {
      const file = path.join(outputFolder, o.validationWithBest ? "checkpoint_best.pth" : "checkpoint_final.pth");
      if (!(await exists(file))) throw new InputError("checkpoint not found: --val needs a finished training (or --val_best a checkpoint_best.pth)", { file });
      const ck = await loadCheckpoint(file);
      await network.loadStateDict(ck.networkWeights as Map<string, never>);
      Object.assign(run, { logging: ck.logging, bestEma: ck.bestEma, startEpoch: ck.currentEpoch, checkpointFinal: o.validationWithBest ? null : file, checkpointBest: o.validationWithBest ? file : null });
      run.validation = await validate();
      return run;
    }

    await writeJsonAtomic(path.join(outputFolderBase, "plans.json"), plans);
    await writeJsonAtomic(path.join(outputFolderBase, "dataset.json"), datasetJson);
    const fp = path.join(preBase, "dataset_fingerprint.json");
    if (await exists(fp)) await fsp.copyFile(fp, path.join(outputFolderBase, "dataset_fingerprint.json"));

    let start = { epoch: 0, logging: emptyLogging(), bestEma: null as number | null };
    if (o.continueTraining) {
      const restored = await maybeLoadCheckpointForContinue(ctx, optimizer);
      if (restored) {
        start = restored;
        run.resumedFrom = restored.file;
        await log.print(`Continuing from ${path.basename(restored.file)} at epoch ${restored.epoch}`);
      } else {
        warn(`${outputFolder}: no checkpoint to continue from, starting a new training`);
      }
    }
    if (!run.resumedFrom && usePretrained) {
      run.transfer = await loadPretrainedFromPlans(network, info, null, { numInputChannels: inputChannels, patchSize: [...patch] });
      await log.print(`Loaded pretrained weights from ${info!.checkpoint_path}: ${run.transfer.loaded.length} state-dict entries transferred, ${run.transfer.random.length} left at their initialisation`);
    } else if (!run.resumedFrom && spec.usesPretrainedWeights && !fromScratch) {
      throw new ConfigError("plans have no pretrain_info.checkpoint_path: pass -overwrite_ckpt_path PATH, or --from_scratch to train without pretrained weights", { file: plansFile });
    }
    await writeJsonAtomic(path.join(outputFolder, "debug.json"), {
      trainer: spec, initial_lr: initialLr, seed, num_workers: numWorkers, backend, batch_size: spec.batchSize, patch_size: patch,
      initial_patch_size: aug.initialPatchSize, do_dummy_2d_data_aug: aug.doDummy2d, deep_supervision_scales: dsScales, fold: o.fold,
      num_train_cases: split.train.length, num_val_cases: split.val.length, from_scratch: fromScratch,
    });
    await log.print(`Trainer ${spec.name}, plans ${plans.plans_name}, configuration ${o.configuration}, fold ${o.fold}, seed ${seed}, backend ${backend}, ${numWorkers} augmentation worker(s)`);
    await log.print("This is the configuration used by this training:");
    await log.print(`Configuration name: ${o.configuration}`);
    await log.print(` ${JSON.stringify(cfg)}`);
    await log.print(`This split has ${split.train.length} training and ${split.val.length} validation cases.`);
    const schedule = learningRateSchedule(spec, initialLr);
    const loop = await runTrainingLoop(ctx, optimizer, schedule, start, o);
    Object.assign(run, { logging: loop.logging, bestEma: loop.bestEma, startEpoch: loop.startEpoch, epochsRun: loop.epochsRun, meanEpochSeconds: loop.meanEpochSeconds, dataWaitSeconds: loop.dataWaitSeconds });
    if (!ctx.disableCheckpointing) {
      const final = path.join(outputFolder, "checkpoint_final.pth");
      if (loop.epochsRun > 0 || !(await exists(final))) {
        await saveCheckpoint(final, { networkWeights: network.stateDict(), optimizer, logging: loop.logging, bestEma: loop.bestEma, currentEpoch: spec.numEpochs, ...ctx.checkpointMeta });
      }
      await fsp.rm(path.join(outputFolder, "checkpoint_latest.pth"), { force: true });
      run.checkpointFinal = final;
      const best = path.join(outputFolder, "checkpoint_best.pth");
      run.checkpointBest = (await exists(best)) ? best : null;
    }
    await log.print(`Training done. Mean epoch time ${loop.meanEpochSeconds.toFixed(2)} s, waited ${loop.dataWaitSeconds.toFixed(2)} s for data in total.`);
    run.validation = await validate();
    if (run.validation) await log.print(`Mean Validation Dice: ${run.validation.foreground_mean.Dice}`);
    return run;
  } finally {
    optimizer.dispose();
    network.dispose();
  }
}
