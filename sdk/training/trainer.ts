// nnUNetTrainer's run_training loop (training/nnUNetTrainer/nnUNetTrainer.py) over tfjs: per epoch the LR is set
// once, num_iterations_per_epoch train steps (forward, loss, backward, clip, optimizer step) and
// num_val_iterations_per_epoch validation steps (loss + pseudo Dice), then logging, checkpoint_best on a new best EMA
// pseudo Dice, checkpoint_latest (atomically), progress.png. Batches come from worker threads (batch-producer.ts).

import * as os from "node:os";
import * as path from "node:path";
import { promises as fsp } from "node:fs";
import { cacheOnCpu, tf } from "../backend/index.js";
import type { Network } from "../networks/network.js";
import type { ProgressCallback } from "../util/progress.js";
import { InputError } from "../errors.js";
import { runFrozenPrefixWithoutTape } from "./freeze.js";
import { augmentationWorkers } from "../config/switches.js";
import { BatchProducer, type BatchJob } from "./batch-producer.js";
import type { Batch, LoaderConfig } from "./data-loader.js";
import type { TransformConfig } from "./augmentation/pipeline.js";
import { dcAndBceLoss, dcAndCeLoss, deepSupervisionLoss, deepSupervisionWeights, type SegLoss, type TargetArray } from "./loss.js";
import { AdamW, SGD, clipGradNorm, type Optimizer } from "./optimizers.js";
import type { LrSchedule } from "./lr-schedule.js";
import { stageAt, trainingStages, type TrainingStage } from "./stages.js";
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
  /**
   * Ends training cleanly (SIGUSR1 / Ctrl-C in the CLI): the running iteration finishes, checkpoint_latest.pth is
   * written with the epochs completed so far and the loop returns (`stopped`), so `--c` continues. The interrupted
   * epoch is repeated from its start (same batches) when continuing.
   */
  stopSignal?: AbortSignal;
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
  /** Partial fine-tuning (--freeze, --unfreeze_at_epoch), or null. */
  freeze: FreezePlan | null;
  /** The fields of init_args / trainer_name / mirroring axes that every checkpoint carries. */
  checkpointMeta: Pick<CheckpointContent, "initArgs" | "trainerName" | "inferenceAllowedMirroringAxes">;
  log: TrainingLogFile;
}

/** Frozen parameters (by index of network.namedParameters()) and the epoch from which everything trains again. */
export interface FreezePlan {
  frozen: boolean[];
  unfreezeAtEpoch: number | null;
  /** The --freeze value, for the log. */
  description: string;
}

export interface LoopResult {
  /** The loop ended early on events.stopSignal (checkpoint_latest.pth holds the completed epochs). */
  stopped: boolean;
  logging: TrainingLogging;
  bestEma: number | null;
  epochsRun: number;
  startEpoch: number;
  meanEpochSeconds: number;
  dataWaitSeconds: number;
}

/** The learning rate of every epoch for the trainer's schedule (all stages). */
export function learningRateSchedule(spec: TrainerSpec, initialLr: number): LrSchedule {
  const stages = trainingStages(spec, initialLr);
  return (epoch) => stageAt(stages, epoch).lr(epoch);
}

/** configure_optimizers' optimizer (SGD momentum 0.99 Nesterov, or AdamW betas 0.9/0.98) over some of the network's parameters. */
export function buildOptimizer(
  spec: TrainerSpec,
  net: Network,
  initialLr: number,
  indices?: readonly number[],
  lrScales?: readonly number[] | null,
): Optimizer {
  const all = net.namedParameters().map(([, v]) => v);
  const allLayouts = net.parameterLayouts();
  const idx = indices ?? all.map((_, i) => i);
  const params = idx.map((i) => all[i]!);
  const layouts = idx.map((i) => allLayouts[i]!);
  const scales = lrScales ? { lrScales: idx.map((i) => lrScales[i]!) } : {};
  return spec.optimizer === "AdamW"
    ? new AdamW(params, { lr: initialLr, weightDecay: spec.weightDecay, betas: [0.9, 0.98], layouts, ...scales })
    : new SGD(params, { lr: initialLr, weightDecay: spec.weightDecay, momentum: 0.99, nesterov: true, layouts, ...scales });
}

/**
 * The optimizer through the trainer's stages: a new one where upstream's configure_optimizers creates one, the same
 * one (momentum kept) where it keeps it. `indices` are positions in network.namedParameters().
 */
export class StagedOptimizer {
  stage: TrainingStage | null = null;
  private opt: Optimizer | null = null;
  private held: number[] = [];

  constructor(
    private readonly spec: TrainerSpec,
    private readonly network: Network,
    private readonly initialLr: number,
    readonly stages: readonly TrainingStage[],
    /** The parameters of the "heads" stages (sawtooth), by index. */
    private readonly heads: readonly number[],
    private readonly lrScales: readonly number[] | null,
  ) {}

  get optimizer(): Optimizer {
    if (!this.opt) throw new Error("StagedOptimizer: enter() an epoch first");
    return this.opt;
  }

  /** Indices (into network.namedParameters()) of the parameters the optimizer holds, in its order. */
  get paramIndices(): readonly number[] {
    return this.held;
  }

  /** Switches to the stage of `epoch`; returns the stage when a different one was entered. */
  enter(epoch: number): TrainingStage | null {
    const next = stageAt(this.stages, epoch);
    if (this.stage && next.name === this.stage.name) return null;
    if (!(this.opt && this.stage && next.keepsOptimizerOf === this.stage.name)) {
      this.opt?.dispose();
      this.held = next.params === "heads" ? [...this.heads] : this.network.namedParameters().map((_, i) => i);
      this.opt = buildOptimizer(this.spec, this.network, this.initialLr, this.held, this.lrScales);
    }
    this.stage = next;
    return next;
  }

  dispose(): void {
    this.opt?.dispose();
    this.opt = null;
  }
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

/** Which parameters get gradients this step and how they map onto the optimizer's parameter list. */
interface StepParams {
  /** Variables to differentiate (every trainable parameter, frozen ones left out). */
  vars: tf.Variable[];
  /** For each variable: its position in the optimizer, or -1 when the optimizer does not hold it. */
  slot: number[];
  numOptParams: number;
}

function stepParams(ctx: TrainerContext, staged: StagedOptimizer, frozenNow: boolean): StepParams {
  const all = ctx.network.namedParameters().map(([, v]) => v);
  const pos = new Map(staged.paramIndices.map((p, k) => [p, k] as const));
  const vars: tf.Variable[] = [];
  const slot: number[] = [];
  all.forEach((v, i) => {
    if (frozenNow && ctx.freeze!.frozen[i]) return;
    vars.push(v);
    slot.push(pos.get(i) ?? -1);
  });
  return { vars, slot, numOptParams: staged.paramIndices.length };
}

/**
 * train_step: forward, loss, backward, clip_grad_norm_ over network.parameters(), optimizer step. Parameters that are
 * trainable but not in the optimizer (Primus sawtooth decoder stages) behave as in torch: optimizer.zero_grad() never
 * clears their .grad, so their gradients accumulate from step to step and count in the clipping norm; `stale` holds them.
 */
async function trainStep(
  ctx: TrainerContext,
  opt: Optimizer,
  sp: StepParams,
  stale: Map<number, tf.Tensor>,
  loss: ReturnType<typeof buildLoss>,
  b: Batch,
): Promise<number> {
  const x = toNetInput(b, ctx.is2d);
  const targets = toTargets(b, ctx.is2d);
  try {
    const { value, grads } = tf.variableGrads(() => loss(ctx.network.forward(x), targets), sp.vars);
    const ordered: (tf.Tensor | null)[] = new Array(sp.numOptParams).fill(null);
    const outsideKeys: number[] = [];
    const outside: tf.Tensor[] = [];
    sp.vars.forEach((v, k) => {
      const g = grads[v.name] ?? null;
      if (sp.slot[k]! >= 0) {
        ordered[sp.slot[k]!] = g;
        return;
      }
      if (!g) return;
      const prev = stale.get(k);
      outsideKeys.push(k);
      outside.push(prev ? tf.tidy(() => tf.add(prev, g)) : g);
      if (prev) {
        prev.dispose();
        g.dispose();
      }
    });
    // clip_grad_norm_ scales every .grad in place, the accumulated ones included.
    const { grads: all } = clipGradNorm([...ordered, ...outside], ctx.spec.gradClip);
    const clipped = all.slice(0, sp.numOptParams);
    outsideKeys.forEach((k, j) => stale.set(k, all[sp.numOptParams + j]!));
    opt.step(clipped);
    const l = (await value.data())[0]!;
    value.dispose();
    for (const g of clipped) g?.dispose();
    return l;
  } finally {
    x.dispose();
  }
}

async function validationStep(ctx: TrainerContext, loss: ReturnType<typeof buildLoss>, b: Batch): Promise<{ loss: number; counts: TpFpFn }> {
  const x = toNetInput(b, ctx.is2d);
  const targets = toTargets(b, ctx.is2d);
  try {
    const out = ctx.network.forward(x);
    const outs = Array.isArray(out) ? out : [out];
    const lt = tf.tidy(() => loss(out, targets));
    const l = (await lt.data())[0]!;
    lt.dispose();
    const top = outs[0]!;
    const counts = pseudoDiceCounts((await top.data()) as Float32Array, top.shape, targets[0]!, { regions: ctx.regions, ignoreLabel: ctx.ignoreLabel });
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
 * Restores network, optimizer (of the stage the checkpoint's epoch belongs to), logging and epoch from the first of
 * checkpoint_final / _latest / _best that exists (`--c`). Returns null when there is none.
 */
export async function maybeLoadCheckpointForContinue(ctx: TrainerContext, staged: StagedOptimizer): Promise<(LoopStart & { file: string }) | null> {
  for (const name of ["checkpoint_final.pth", "checkpoint_latest.pth", "checkpoint_best.pth"]) {
    const file = path.join(ctx.outputFolder, name);
    try {
      await fsp.access(file);
    } catch {
      continue;
    }
    const ck = await loadCheckpoint(file);
    await ctx.network.loadStateDict(ck.networkWeights as Map<string, never>);
    staged.enter(Math.min(ck.currentEpoch, ctx.spec.numEpochs - 1));
    staged.optimizer.loadStateDict(ck.optimizerState, file);
    return { epoch: ck.currentEpoch, logging: truncateLogging(ck.logging, ck.currentEpoch), bestEma: ck.bestEma, file };
  }
  return null;
}

/** What one epoch measured, handed to endEpoch. */
export interface EpochMeasurements {
  epoch: number;
  /** Epoch start, seconds since the Unix epoch. */
  t0: number;
  lr: number;
  trainLosses: number[];
  valLosses: number[];
  /** Summed tp/fp/fn of the validation steps (null without validation iterations). */
  counts: TpFpFn | null;
  dataWaitSeconds: number;
}

/**
 * on_epoch_end: appends the epoch to `logging`, prints upstream's log lines, writes checkpoint_best.pth on a new best
 * EMA pseudo Dice and checkpoint_latest.pth every saveEvery epochs (not after the last), plots progress.png, then
 * calls events.onEpochEnd. Returns the (possibly new) best EMA and the epoch's wall time.
 */
export async function endEpoch(
  ctx: TrainerContext,
  opt: Optimizer,
  m: EpochMeasurements,
  logging: TrainingLogging,
  bestEmaIn: number | null,
  events: TrainerEvents = {},
): Promise<{ bestEma: number | null; epochSeconds: number; newBest: boolean }> {
  const { spec } = ctx;
  const { epoch, t0, lr, trainLosses, valLosses } = m;
  let bestEma = bestEmaIn;
  const dice = m.counts ? pseudoDice(m.counts) : { perClass: [], meanFg: NaN };
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
  await ctx.log.print(
    "Pseudo dice",
    dice.perClass.map((d) => npRound(d, 4)),
  );
  await ctx.log.print(`Epoch time: ${npRound(t1 - t0, 2)} s`);
  const ema = logging.ema_fg_dice[logging.ema_fg_dice.length - 1]!;
  const finished = epoch + 1;
  await cacheOnCpu([...ctx.network.namedParameters().map(([, v]) => v), ...opt.stateTensors()]);
  const content = (): CheckpointContent => ({
    networkWeights: ctx.network.stateDict(),
    optimizer: opt,
    logging,
    bestEma,
    currentEpoch: finished,
    ...ctx.checkpointMeta,
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
  await events.onEpochEnd?.({
    epoch,
    numEpochs: spec.numEpochs,
    trainLoss: mean(trainLosses),
    valLoss: mean(valLosses),
    pseudoDice: dice.perClass,
    meanFgDice: dice.meanFg,
    emaFgDice: ema,
    lr,
    epochSeconds: t1 - t0,
    dataWaitSeconds: m.dataWaitSeconds,
    newBest,
    logging,
  });
  return { bestEma, epochSeconds: t1 - t0, newBest };
}

/** The epoch and bookkeeping a loop starts from (epoch 0 and empty logging, or what `--c` restored). */
export interface LoopStart {
  epoch: number;
  logging: TrainingLogging;
  bestEma: number | null;
}

/** The epoch loop from `startEpoch` to spec.numEpochs; writes checkpoints and the log; returns the logging. */
export async function runTrainingLoop(ctx: TrainerContext, staged: StagedOptimizer, start: LoopStart, events: TrainerEvents = {}): Promise<LoopResult> {
  const { spec } = ctx;
  const logging = start.logging ?? emptyLogging();
  let bestEma = start.bestEma;
  const loss = buildLoss(ctx);
  const job = (train: boolean): BatchJob => ({
    folder: ctx.folder,
    identifiers: train ? ctx.trainIds : ctx.valIds,
    loader: train ? ctx.loader.train : ctx.loader.val,
    transforms: ctx.transforms,
    train,
    seed: ctx.seed,
    stream: train ? 0 : 1,
  });
  const trainProducer = new BatchProducer(job(true), { numWorkers: ctx.numWorkers });
  const valProducer = new BatchProducer(job(false), { numWorkers: Math.max(ctx.numWorkers > 0 ? 1 : 0, Math.floor(ctx.numWorkers / 2)) });
  // Resuming continues the same batch sequence as an uninterrupted run with this seed.
  trainProducer.seek(start.epoch * spec.numIterationsPerEpoch);
  valProducer.seek(start.epoch * spec.numValIterationsPerEpoch);
  const epochTimes: number[] = [];
  let waitTotal = 0;
  let stopped = false;
  const stale = new Map<number, tf.Tensor>();
  const clearStale = () => {
    for (const t of stale.values()) t.dispose();
    stale.clear();
  };
  let frozenNow: boolean | null = null;
  let prefix: { units: number; restore: () => void } | null = null;
  let sp: StepParams | null = null;
  const stopRequested = () => events.stopSignal?.aborted === true;
  try {
    for (let epoch = start.epoch; epoch < spec.numEpochs && !stopped; epoch++) {
      const t0 = Date.now() / 1000;
      const wait0 = trainProducer.waitMs + valProducer.waitMs;
      const entered = staged.enter(epoch);
      if (entered) clearStale();
      if ((entered || epoch === start.epoch) && staged.stages.length > 1) {
        const st = staged.stage!;
        await ctx.log.print(
          `${st.message} (stage ${st.name}, epochs ${st.start}-${st.end - 1}, optimizer over ${staged.paramIndices.length} parameter tensors)`,
        );
      }
      const freezeActive = ctx.freeze !== null && (ctx.freeze.unfreezeAtEpoch === null || epoch < ctx.freeze.unfreezeAtEpoch);
      if (freezeActive !== frozenNow) {
        prefix?.restore();
        prefix = freezeActive ? runFrozenPrefixWithoutTape(ctx.network, ctx.freeze!.frozen) : null;
        if (freezeActive) {
          const n = ctx.freeze!.frozen.filter(Boolean).length;
          await ctx.log.print(
            `Frozen (${ctx.freeze!.description}): ${n} of ${ctx.freeze!.frozen.length} parameter tensors, ` +
              `the first ${prefix!.units} encoder part(s) without gradient tape`,
          );
        } else if (frozenNow) {
          await ctx.log.print("Unfrozen: every parameter trains from this epoch on");
        }
        frozenNow = freezeActive;
        sp = null;
      }
      if (entered || !sp) sp = stepParams(ctx, staged, freezeActive);
      const opt = staged.optimizer;
      const lr = entered ? entered.lr(epoch) : staged.stage!.lr(epoch);
      opt.lr = lr;
      await ctx.log.print("");
      await ctx.log.print(`Epoch ${epoch}`);
      await ctx.log.print(`Current learning rate: ${pyRepr(npRound(lr, 5))}`);
      const total = spec.numIterationsPerEpoch + spec.numValIterationsPerEpoch;
      const task = `epoch ${epoch + 1}/${spec.numEpochs}`;
      events.onProgress?.({ task, done: 0, total });
      const trainLosses: number[] = [];
      for (let it = 0; it < spec.numIterationsPerEpoch && !stopped; it++) {
        checkAbort(events.signal);
        const b = await trainProducer.next();
        const l = await trainStep(ctx, opt, sp, stale, loss, b);
        trainLosses.push(l);
        events.onIteration?.({ phase: "train", epoch, iteration: it, total: spec.numIterationsPerEpoch, loss: l });
        events.onProgress?.({ task, done: it + 1, total, detail: { loss: l.toFixed(4) } });
        stopped = stopRequested();
      }
      const valLosses: number[] = [];
      let counts: TpFpFn | null = null;
      for (let it = 0; it < spec.numValIterationsPerEpoch && !stopped; it++) {
        checkAbort(events.signal);
        const b = await valProducer.next();
        const r = await validationStep(ctx, loss, b);
        valLosses.push(r.loss);
        if (counts) addCounts(counts, r.counts);
        else counts = r.counts;
        events.onIteration?.({ phase: "val", epoch, iteration: it, total: spec.numValIterationsPerEpoch, loss: r.loss });
        events.onProgress?.({ task, done: spec.numIterationsPerEpoch + it + 1, total, detail: { val_loss: r.loss.toFixed(4) } });
        stopped = stopRequested();
      }
      if (stopped) {
        await stopTraining(ctx, opt, epoch, logging, bestEma);
        break;
      }
      const waited = (trainProducer.waitMs + valProducer.waitMs - wait0) / 1000;
      const end = await endEpoch(ctx, opt, { epoch, t0, lr, trainLosses, valLosses, counts, dataWaitSeconds: waited }, logging, bestEma, events);
      bestEma = end.bestEma;
      waitTotal += waited;
      epochTimes.push(end.epochSeconds);
      stopped = stopRequested();
      if (stopped && epoch + 1 < spec.numEpochs) await stopTraining(ctx, opt, epoch + 1, logging, bestEma);
    }
  } finally {
    prefix?.restore();
    clearStale();
    await trainProducer.close();
    await valProducer.close();
  }
  return { stopped, logging, bestEma, epochsRun: epochTimes.length, startEpoch: start.epoch, meanEpochSeconds: mean(epochTimes), dataWaitSeconds: waitTotal };
}

/** A clean stop: checkpoint_latest.pth with the `completed` epochs, so `--c` starts again at epoch `completed`. */
async function stopTraining(ctx: TrainerContext, opt: Optimizer, completed: number, logging: TrainingLogging, bestEma: number | null): Promise<void> {
  if (ctx.disableCheckpointing) {
    await ctx.log.print(`Training stopped after ${completed} completed epoch(s); --disable_checkpointing is set, so nothing was saved`);
    return;
  }
  await cacheOnCpu([...ctx.network.namedParameters().map(([, v]) => v), ...opt.stateTensors()]);
  await saveCheckpoint(path.join(ctx.outputFolder, "checkpoint_latest.pth"), {
    networkWeights: ctx.network.stateDict(),
    optimizer: opt,
    logging: truncateLogging(logging, completed),
    bestEma,
    currentEpoch: completed,
    ...ctx.checkpointMeta,
  });
  await ctx.log.print(`Training stopped after ${completed} completed epoch(s): checkpoint_latest.pth written, continue with --c`);
}
