// Learning-rate schedules, set once at the start of every epoch like nnU-Net's `lr_scheduler.step(current_epoch)`.
// PolyLRScheduler: training/lr_scheduler/polylr.py. The PretrainedTrainer warm-up: the fork's
// training/lr_scheduler/warmup.py (Lin_incr_LRScheduler, then PolyLRScheduler_offset on the same optimizer).

/** A schedule maps an epoch index to the learning rate used for the whole epoch. */
export type LrSchedule = (epoch: number) => number;

/** nnU-Net's PolyLRScheduler: `initial_lr * (1 - epoch / max_steps) ** exponent`. */
export function polyLr(initialLr: number, maxSteps: number, exponent = 0.9): LrSchedule {
  return (epoch) => initialLr * Math.pow(1 - epoch / maxSteps, exponent);
}

/** Lin_incr_LRScheduler: a linear ramp that reaches `initialLr` at epoch `warmupEpochs - 1`. */
export function linearWarmupLr(initialLr: number, warmupEpochs: number): LrSchedule {
  return (epoch) => (initialLr / warmupEpochs) * (epoch + 1);
}

/** PolyLRScheduler_offset: poly decay that starts at `startStep` (`max(e - start, 0) / (max_steps - start)`). */
export function polyLrOffset(initialLr: number, maxSteps: number, startStep: number, exponent = 0.9): LrSchedule {
  return (epoch) => initialLr * Math.pow(1 - Math.max(epoch - startStep, 0) / (maxSteps - startStep), exponent);
}

/**
 * PretrainedTrainer's two stages: `warmup_all` (linear ramp) for epochs < warmupEpochs, then `train` (poly with offset).
 * @example warmupPolyLr(1e-3, 1000, 50)(0) // 2e-5
 */
export function warmupPolyLr(initialLr: number, numEpochs: number, warmupEpochs: number, exponent = 0.9): LrSchedule {
  const warm = linearWarmupLr(initialLr, warmupEpochs);
  const poly = polyLrOffset(initialLr, numEpochs, warmupEpochs, exponent);
  return (epoch) => (epoch < warmupEpochs ? warm(epoch) : poly(epoch));
}

/** The PretrainedTrainer stage an epoch belongs to (`get_stage`), used in logs and when resuming. */
export function trainingStage(epoch: number, warmupEpochs: number): "warmup_all" | "train" {
  return epoch < warmupEpochs ? "warmup_all" : "train";
}
