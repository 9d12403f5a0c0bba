// nnUNetTrainer's run_training loop (training/nnUNetTrainer/nnUNetTrainer.py) over tfjs: per epoch the LR is set
// once, num_iterations_per_epoch train steps (forward, loss, backward, clip, optimizer step) and
// num_val_iterations_per_epoch validation steps (loss + pseudo Dice), then logging, checkpoint_best on a new best EMA
// pseudo Dice, checkpoint_latest (atomically), progress.png. Batches come from worker threads (batch-producer.ts).

import * as os from "node:os";
import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { tf } from "../backend/index.js";
import type { Network } from "../networks/network.js";
import type { ProgressCallback } from "../util/progress.js";
import { InputError } from "../errors.js";
import { augmentationWorkers } from "../config/switches.js";
import { BatchProducer, type BatchJob } from "./batch-producer.js";
import type { Batch, LoaderConfig } from "./data-loader.js";
import type { TransformConfig } from "./augmentation/pipeline.js";
import { dcAndBceLoss, dcAndCeLoss, deepSupervisionLoss, deepSupervisionWeights, type SegLoss, type TargetArray } from "./loss.js";
import { AdamW, SGD, clipGradNorm, type Optimizer } from "./optimizers.js";
import { polyLr, warmupPolyLr, type LrSchedule } from "./lr-schedule.js";
import { addCounts, pseudoDice, pseudoDiceCounts, type TpFpFn } from "./pseudo-dice.js";
import { emptyLogging, logMeanFgDice, npRound, pyRepr, truncateLogging, type TrainingLogFile, type TrainingLogging } from "./training-log.js";
import { loadCheckpoint, saveCheckpoint, type CheckpointContent } from "./checkpoint-io.js";
import { plotProgressPng } from "./progress-plot.js";
import type { TrainerSpec } from "./trainers.js";

export interface IterationEvent {
  phase: "train" | "val";
  epoch: number;
  iteration: number;
  total: number;
  loss: number;
}

export interface EpochEndEvent {
  epoch: number;
  numEpochs: number;
  trainLoss: number;
  valLoss: number;
  pseudoDice: number[];
  meanFgDice: number;
  emaFgDice: number;
  lr: number;
  epochSeconds: number;
  /** Seconds the training loop waited for batches this epoch (train + val). */
  dataWaitSeconds: number;
  newBest: boolean;
  logging: TrainingLogging;
}

export interface TrainerEvents {
  onIteration?: (e: IterationEvent) => void;
  onEpochEnd?: (e: EpochEndEvent) => void | Promise<void>;
  /** Per-epoch progress (task `epoch N`, done/total iterations) for a terminal bar or a notebook widget. */
  onProgress?: ProgressCallback;
  /** Stops training between iterations (the current epoch is lost, like a kill). */
  signal?: AbortSignal;
}

/** Everything the loop needs, resolved from plans, dataset.json and the command line. */
export interface TrainerContext {
  spec: TrainerSpec;
  network: Network;
  is2d: boolean;
  numClasses: number;
  regions: boolean;
  ignoreLabel: number | null;
  batchDice: boolean;
  /** Deep-supervision scales in 3-D form, or null. */
  dsScales: number[][] | null;
  loader: { train: LoaderConfig; val: LoaderConfig };
  transforms: TransformConfig;
  folder: string;
  trainIds: string[];
  valIds: string[];
  outputFolder: string;
  seed: number;
  numWorkers: number;
  disableCheckpointing: boolean;
  /** The fields of init_args / trainer_name / mirroring axes that every checkpoint carries. */
  checkpointMeta: Pick<CheckpointContent, "initArgs" | "trainerName" | "inferenceAllowedMirroringAxes">;
  log: TrainingLogFile;
}

export interface LoopResult {
  logging: TrainingLogging;
  bestEma: number | null;
  epochsRun: number;
  startEpoch: number;
  meanEpochSeconds: number;
  dataWaitSeconds: number;
}

/** nnUNetTrainer.num_iterations_per_epoch etc. with the learning-rate function for the trainer's schedule. */
export function learningRateSchedule(spec: TrainerSpec, initialLr: number): LrSchedule {
  return spec.schedule === "warmup_poly" ? warmupPolyLr(initialLr, spec.numEpochs, spec.warmupEpochs) : polyLr(initialLr, spec.numEpochs);
}

export function buildOptimizer(spec: TrainerSpec, net: Network, initialLr: number): Optimizer {
  const params = net.namedParameters().map(([, v]) => v);
  const layouts = net.parameterLayouts();
  return spec.optimizer === "AdamW"
    ? new AdamW(params, { lr: initialLr, weightDecay: spec.weightDecay, betas: [0.9, 0.98], layouts })
    : new SGD(params, { lr: initialLr, weightDecay: spec.weightDecay, momentum: 0.99, nesterov: true, layouts });
}

/** `1 / cumprod(strides)` without the last entry (get_deep_supervision_scales), in 3-D form. */
export function deepSupervisionScales(strides: readonly (readonly number[])[], is2d: boolean): number[][] {
  const out: number[][] = [];
  let acc = strides[0]!.map(() => 1);
  for (const s of strides) {
    acc = acc.map((a, i) => a * s[i]!);
    out.push(acc.map((a) => 1 / a));
  }
  out.pop();
  return is2d ? out.map((s) => [1, ...s]) : out;
}

/** Default number of augmentation workers: nnUNet_n_proc_DA if set, else cores - 1 (at least 1, at most 4). */
export function defaultNumWorkers(): number {
  const env = augmentationWorkers();
  if (env !== undefined) return env;
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

function toNetInput(b: Batch, is2d: boolean): tf.Tensor {
  const shape = is2d ? [b.dataShape[0]!, b.dataShape[1]!, b.dataShape[3]!, b.dataShape[4]!] : b.dataShape;
  return tf.tensor(b.data, shape);
}

function toTargets(b: Batch, is2d: boolean): TargetArray[] {
  // 2D batches carry a singleton depth axis (patch (1, H, W)); the 2D network and loss do not.
  return b.targets.map((t) => ({ data: t.data, shape: is2d ? [t.shape[0]!, t.shape[1]!, ...t.shape.slice(3)] : t.shape }));
}

function buildLoss(ctx: TrainerContext): (out: tf.Tensor | tf.Tensor[], targets: TargetArray[]) => tf.Scalar {
  const base: SegLoss = ctx.regions
    ? dcAndBceLoss({ batchDice: ctx.batchDice, ignoreLabel: ctx.ignoreLabel })
    : dcAndCeLoss({ batchDice: ctx.batchDice, ignoreLabel: ctx.ignoreLabel });
  if (!ctx.dsScales) return (out, targets) => base(Array.isArray(out) ? out[0]! : out, targets[0]!);
  const ds = deepSupervisionLoss(base, deepSupervisionWeights(ctx.dsScales.length));
  return (out, targets) => ds(out as tf.Tensor[], targets);
}

function trainStep(ctx: TrainerContext, opt: Optimizer, vars: tf.Variable[], loss: ReturnType<typeof buildLoss>, b: Batch): number {
  const x = toNetInput(b, ctx.is2d);
  const targets = toTargets(b, ctx.is2d);
  try {
    const { value, grads } = tf.variableGrads(() => loss(ctx.network.forward(x), targets), vars);
    const ordered = vars.map((v) => grads[v.name] ?? null);
    const { grads: clipped } = clipGradNorm(ordered, ctx.spec.gradClip);
    opt.step(clipped);
    const l = value.dataSync()[0]!;
    value.dispose();
    for (const g of clipped) g?.dispose();
    return l;
  } finally {
    x.dispose();
  }
}

function validationStep(ctx: TrainerContext, loss: ReturnType<typeof buildLoss>, b: Batch): { loss: number; counts: TpFpFn } {
  const x = toNetInput(b, ctx.is2d);
  const targets = toTargets(b, ctx.is2d);
  try {
    const out = ctx.network.forward(x);
    const outs = Array.isArray(out) ? out : [out];
    const l = tf.tidy(() => loss(out, targets).dataSync()[0]!);
    const top = outs[0]!;
    const counts = pseudoDiceCounts(top.dataSync() as Float32Array, top.shape, targets[0]!, { regions: ctx.regions, ignoreLabel: ctx.ignoreLabel });
    for (const o of outs) o.dispose();
    return { loss: l, counts };
  } finally {
    x.dispose();
  }
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InputError(`training stopped: ${String(signal.reason ?? "aborted")}`);
}

/**
 * Restores network, optimizer, logging and epoch from the first of checkpoint_final / _latest / _best that exists
 * (`--c`). Returns null when there is none.
 */
export async function maybeLoadCheckpointForContinue(ctx: TrainerContext, opt: Optimizer): Promise<{ epoch: number; logging: TrainingLogging; bestEma: number | null; file: string } | null> {
  for (const name of ["checkpoint_final.pth", "checkpoint_latest.pth", "checkpoint_best.pth"]) {
    const file = path.join(ctx.outputFolder, name);
    try { await fsp.access(file); } catch { continue; }
    const ck = await loadCheckpoint(file);
    await ctx.network.loadStateDict(ck.networkWeights as Map<string, never>);
    opt.loadStateDict(ck.optimizerState, file);
    return { epoch: ck.currentEpoch, logging: truncateLogging(ck.logging, ck.currentEpoch), bestEma: ck.bestEma, file };
  }
  return null;
}

/** The epoch loop from `startEpoch` to spec.numEpochs; writes checkpoints and the log; returns the logging. */
export async function runTrainingLoop(ctx: TrainerContext, opt: Optimizer, schedule: LrSchedule, start: { epoch: number; logging: TrainingLogging; bestEma: number | null }, events: TrainerEvents = {}): Promise<LoopResult> {
  const { spec } = ctx;
  const logging = start.logging ?? emptyLogging();
  let bestEma = start.bestEma;
  const vars = ctx.network.namedParameters().map(([, v]) => v);
  const loss = buildLoss(ctx);
  const job = (train: boolean): BatchJob => ({
    folder: ctx.folder, identifiers: train ? ctx.trainIds : ctx.valIds, loader: train ? ctx.loader.train : ctx.loader.val,
    transforms: ctx.transforms, train, seed: ctx.seed, stream: train ? 0 : 1,
  });
  const trainProducer = new BatchProducer(job(true), { numWorkers: ctx.numWorkers });
  const valProducer = new BatchProducer(job(false), { numWorkers: Math.max(ctx.numWorkers > 0 ? 1 : 0, Math.floor(ctx.numWorkers / 2)) });
  // Resuming continues the same batch sequence as an uninterrupted run with this seed.
  trainProducer.seek(start.epoch * spec.numIterationsPerEpoch);
  valProducer.seek(start.epoch * spec.numValIterationsPerEpoch);
  const epochTimes: number[] = [];
  let waitTotal = 0;
  try {
    for (let epoch = start.epoch; epoch < spec.numEpochs; epoch++) {
      const t0 = Date.now() / 1000;
      const wait0 = trainProducer.waitMs + valProducer.waitMs;
      const lr = schedule(epoch);
      opt.lr = lr;
      await ctx.log.print("");
      await ctx.log.print(`Epoch ${epoch}`);
      await ctx.log.print(`Current learning rate: ${pyRepr(npRound(lr, 5))}`);
      const total = spec.numIterationsPerEpoch + spec.numValIterationsPerEpoch;
      const task = `epoch ${epoch + 1}/${spec.numEpochs}`;
      events.onProgress?.({ task, done: 0, total });
      const trainLosses: number[] = [];
      for (let it = 0; it < spec.numIterationsPerEpoch; it++) {
        checkAbort(events.signal);
        const b = await trainProducer.next();
        const l = trainStep(ctx, opt, vars, loss, b);
        trainLosses.push(l);
        events.onIteration?.({ phase: "train", epoch, iteration: it, total: spec.numIterationsPerEpoch, loss: l });
        events.onProgress?.({ task, done: it + 1, total, detail: { loss: l.toFixed(4) } });
      }
      const valLosses: number[] = [];
      let counts: TpFpFn | null = null;
      for (let it = 0; it < spec.numValIterationsPerEpoch; it++) {
        checkAbort(events.signal);
        const b = await valProducer.next();
        const r = validationStep(ctx, loss, b);
        valLosses.push(r.loss);
        if (counts) addCounts(counts, r.counts); else counts = r.counts;
        events.onIteration?.({ phase: "val", epoch, iteration: it, total: spec.numValIterationsPerEpoch, loss: r.loss });
        events.onProgress?.({ task, done: spec.numIterationsPerEpoch + it + 1, total, detail: { val_loss: r.loss.toFixed(4) } });
      }
      const dice = counts ? pseudoDice(counts) : { perClass: [], meanFg: NaN };
      logging.epoch_start_timestamps.push(t0);
      logging.lrs.push(lr);
      logging.train_losses.push(mean(trainLosses));
      logging.val_losses.push(mean(valLosses));
      logging.dice_per_class_or_region.push(dice.perClass);
      logMeanFgDice(logging, dice.meanFg);
      const t1 = Date.now() / 1000;
      logging.epoch_end_timestamps.push(t1);
      await ctx.log.print("train_loss", npRound(mean(trainLosses), 4));
      await ctx.log.print("val_loss", npRound(mean(valLosses), 4));
      await ctx.log.print("Pseudo dice", dice.perClass.map((d) => npRound(d, 4)));
      await ctx.log.print(`Epoch time: ${npRound(t1 - t0, 2)} s`);
      const ema = logging.ema_fg_dice[logging.ema_fg_dice.length - 1]!;
      const finished = epoch + 1;
      const content = (): CheckpointContent => ({
        networkWeights: ctx.network.stateDict(), optimizer: opt, logging, bestEma, currentEpoch: finished, ...ctx.checkpointMeta,
      });
      // A NaN EMA (no foreground anywhere yet) never counts as a new best, as in Python (nan > x is False).
      const newBest = !Number.isNaN(ema) && (bestEma === null || ema > bestEma);
      if (newBest) {
        bestEma = ema;
        await ctx.log.print(`Yayy! New best EMA pseudo Dice: ${npRound(ema, 4)}`);
        if (!ctx.disableCheckpointing) await saveCheckpoint(path.join(ctx.outputFolder, "checkpoint_best.pth"), content());
      }
      if (!ctx.disableCheckpointing && finished % spec.saveEvery === 0 && epoch !== spec.numEpochs - 1) {
        await saveCheckpoint(path.join(ctx.outputFolder, "checkpoint_latest.pth"), content());
      }
      await plotProgressPng(path.join(ctx.outputFolder, "progress.png"), logging);
      const waited = (trainProducer.waitMs + valProducer.waitMs - wait0) / 1000;
      waitTotal += waited;
      epochTimes.push(t1 - t0);
      await events.onEpochEnd?.({
        epoch, numEpochs: spec.numEpochs, trainLoss: mean(trainLosses), valLoss: mean(valLosses), pseudoDice: dice.perClass,
        meanFgDice: dice.meanFg, emaFgDice: ema, lr, epochSeconds: t1 - t0, dataWaitSeconds: waited, newBest, logging,
      });
    }
  } finally {
    await trainProducer.close();
    await valProducer.close();
  }
  return { logging, bestEma, epochsRun: epochTimes.length, startEpoch: start.epoch, meanEpochSeconds: mean(epochTimes), dataWaitSeconds: waitTotal };
}
