// nnU-Net checkpoints (nnUNetTrainer.save_checkpoint / load_checkpoint) written with our torch writer, so Python
// nnU-Net (and torch.load(weights_only=False)) reads them: network_weights under PyTorch names incl. aliases,
// optimizer_state in torch.optim layout, logging lists, _best_ema, current_epoch, init_args, trainer_name,
// inference_allowed_mirroring_axes.

import { loadTorchFile, orderedDict, pyFloat, PyTuple, TorchDevice, type TorchTensor } from "../io/torch/index.js";
import { saveTorchFile } from "../io/torch/save.js";
import { CheckpointError } from "../errors.js";
import type { Optimizer } from "./optimizers.js";
import { emptyLogging, type TrainingLogging } from "./training-log.js";

export interface CheckpointContent {
  networkWeights: Map<string, TorchTensor>;
  optimizer: Optimizer;
  logging: TrainingLogging;
  bestEma: number | null;
  /** Number of finished epochs (upstream stores current_epoch + 1). */
  currentEpoch: number;
  initArgs: { plans: unknown; configuration: string; fold: number | "all"; dataset_json: unknown; device: string };
  trainerName: string;
  inferenceAllowedMirroringAxes: number[] | null;
}

const floats = (xs: readonly number[]) => xs.map((x) => pyFloat(x));

/** The dict nnUNetTrainer.save_checkpoint writes. */
export function checkpointDict(c: CheckpointContent): Record<string, unknown> {
  const l = c.logging;
  return {
    network_weights: orderedDict(Object.fromEntries(c.networkWeights)),
    optimizer_state: c.optimizer.stateDict(),
    grad_scaler_state: null,
    logging: {
      mean_fg_dice: floats(l.mean_fg_dice),
      ema_fg_dice: floats(l.ema_fg_dice),
      dice_per_class_or_region: l.dice_per_class_or_region.map(floats),
      train_losses: floats(l.train_losses),
      val_losses: floats(l.val_losses),
      lrs: floats(l.lrs),
      epoch_start_timestamps: floats(l.epoch_start_timestamps),
      epoch_end_timestamps: floats(l.epoch_end_timestamps),
    },
    _best_ema: c.bestEma === null ? null : pyFloat(c.bestEma),
    current_epoch: c.currentEpoch,
    init_args: { ...c.initArgs, device: new TorchDevice(c.initArgs.device === "gpu" ? "cuda" : c.initArgs.device) },
    trainer_name: c.trainerName,
    inference_allowed_mirroring_axes: c.inferenceAllowedMirroringAxes ? PyTuple.ofItems(c.inferenceAllowedMirroringAxes) : null,
  };
}

/** Writes a checkpoint atomically (a kill during the write leaves the previous file intact). */
export async function saveCheckpoint(file: string, c: CheckpointContent): Promise<void> {
  await saveTorchFile(file, checkpointDict(c));
}

export interface LoadedCheckpoint {
  networkWeights: Map<string, unknown> | Record<string, unknown>;
  optimizerState: unknown;
  logging: TrainingLogging;
  bestEma: number | null;
  currentEpoch: number;
  trainerName: string | null;
}

const get = (o: unknown, k: string): unknown => (o instanceof Map ? o.get(k) : o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined);
const num = (x: unknown): number =>
  typeof x === "number" ? x : typeof x === "bigint" ? Number(x) : x && typeof x === "object" && "value" in x ? Number((x as { value: number }).value) : NaN;

/** Reads a checkpoint written by us or by Python nnU-Net. */
export async function loadCheckpoint(file: string): Promise<LoadedCheckpoint> {
  const ck = await loadTorchFile(file);
  const weights = get(ck, "network_weights");
  if (!weights || typeof weights !== "object") throw new CheckpointError("no network_weights in checkpoint", { file });
  const ce = get(ck, "current_epoch");
  if (ce === undefined) throw new CheckpointError("no current_epoch in checkpoint", { file });
  const rawLog = get(ck, "logging");
  const logging = emptyLogging();
  for (const k of Object.keys(logging) as (keyof TrainingLogging)[]) {
    const v = get(rawLog, k);
    if (Array.isArray(v)) (logging[k] as unknown[]) = v.map((x) => (Array.isArray(x) ? x.map(num) : num(x)));
  }
  const be = get(ck, "_best_ema");
  const tn = get(ck, "trainer_name");
  return {
    networkWeights: weights as Map<string, unknown>,
    optimizerState: get(ck, "optimizer_state"),
    logging,
    bestEma: be === null || be === undefined ? null : num(be),
    currentEpoch: num(ce),
    trainerName: typeof tn === "string" ? tn : null,
  };
}
