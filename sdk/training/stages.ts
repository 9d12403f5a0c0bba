// Training stages: which parameters the optimizer holds and which learning-rate schedule runs, per epoch range.
// nnUNetTrainer has one stage (poly). PretrainedTrainer (nnU-Net master, pretraining/pretrainedTrainer.py) has
// `warmup_all` then `train` on the same optimizer. The fork's sawtooth trainers (TaWald/nnUNet,
// pretraining/sawtooth_trainer.py) have four: the decoder ("heads") is warmed up and decayed first, then a new
// optimizer over all parameters is warmed up and decayed.
//
// Two upstream defects of the sawtooth trainers, and what we do about them:
// 1. For nnU-Net's UNets, `network.decoder.parameters()` includes the encoder (UNetDecoder keeps a reference to it), so
//    the "decoder-only" stages train every weight. We reproduce that (a run equals upstream's); real decoder-first
//    training is `--freeze encoder --unfreeze_at_epoch N`.
// 2. Upstream's get_stage() (used to pick the optimizer when resuming with --c) tests `epoch < warmup_duration_whole_net`
//    instead of `epoch < decoder + whole_net`, so `warmup_all` is never selected when the two durations are equal
//    (both 50, or both 15), and only partly when they differ (Primus_sawtooth_150ep: 15 and 50). A run resumed inside
//    the whole-net warm-up then trains at the full learning rate until the ramp would have ended. We select the
//    stage from the epoch ranges the uninterrupted run uses (stageAt), so a resumed run equals an uninterrupted one;
//    upstreamSawtoothStage documents upstream's choice.
// A third effect, reproduced: in the Primus decoder stages the optimizer holds only the up_projection, but every weight
// still gets a gradient and optimizer.zero_grad() clears only the optimizer's own, so the encoder's gradients pile up
// from step to step and enter clip_grad_norm_ (see trainStep in trainer.ts).

import { linearWarmupLr, polyLr, polyLrOffset, type LrSchedule } from "./lr-schedule.js";
import type { TrainerSpec } from "./trainers.js";

export type StageName = "warmup_decoder" | "train_decoder" | "warmup_all" | "train";

export interface TrainingStage {
  name: StageName;
  /** First epoch of the stage and the first epoch after it. */
  start: number;
  end: number;
  /** The optimizer holds every parameter, or only the heads (the sawtooth decoder stages). */
  params: "all" | "heads";
  /** The stage whose optimizer (and momentum) this one keeps when entered from it; otherwise a new optimizer starts. */
  keepsOptimizerOf: StageName | null;
  /** Learning rate per epoch (set once at the start of every epoch). */
  lr: LrSchedule;
  /** What upstream prints when it configures the stage's optimizer. */
  message: string;
}

/** Lin_incr_offset_LRScheduler(max_lr, max_steps, start): `max_lr / (max_steps - start) * (1 + epoch - start)`. */
export function linearWarmupOffsetLr(maxLr: number, maxSteps: number, startStep: number): LrSchedule {
  return (epoch) => (maxLr / (maxSteps - startStep)) * (1 + epoch - startStep);
}

/** The stages of a trainer, in order; stages that would be empty for this number of epochs are left out. */
export function trainingStages(spec: TrainerSpec, initialLr: number): TrainingStage[] {
  const n = spec.numEpochs;
  let stages: TrainingStage[];
  if (spec.schedule === "poly") {
    stages = [{ name: "train", start: 0, end: n, params: "all", keepsOptimizerOf: null, lr: polyLr(initialLr, n), message: "train, poly lr" }];
  } else if (spec.schedule === "warmup_poly") {
    const w = spec.warmupEpochs;
    stages = [
      { name: "warmup_all", start: 0, end: w, params: "all", keepsOptimizerOf: null, lr: linearWarmupLr(initialLr, w), message: "train whole net, warmup" },
      {
        name: "train",
        start: w,
        end: n,
        params: "all",
        keepsOptimizerOf: "warmup_all",
        lr: polyLrOffset(initialLr, n, w),
        message: "train whole net, default schedule",
      },
    ];
  } else {
    const d = spec.sawtooth!.decoderEpochs;
    const w = spec.warmupEpochs;
    const half = Math.floor(d / 2);
    const headLr = initialLr * spec.sawtooth!.warmupLrFactor;
    stages = [
      {
        name: "warmup_decoder",
        start: 0,
        end: half,
        params: "heads",
        keepsOptimizerOf: null,
        lr: linearWarmupLr(headLr, half),
        message: "train decoder, lin warmup",
      },
      {
        name: "train_decoder",
        start: half,
        end: d,
        params: "heads",
        keepsOptimizerOf: "warmup_decoder",
        lr: polyLrOffset(headLr, d, half),
        message: "train decoder, poly lr",
      },
      {
        name: "warmup_all",
        start: d,
        end: d + w,
        params: "all",
        keepsOptimizerOf: null,
        lr: linearWarmupOffsetLr(initialLr, d + w, d),
        message: "train whole net, warmup",
      },
      {
        name: "train",
        start: d + w,
        end: n,
        params: "all",
        keepsOptimizerOf: "warmup_all",
        lr: polyLrOffset(initialLr, n, d + w),
        message: "train whole net, default schedule",
      },
    ];
  }
  return stages.map((s) => ({ ...s, end: Math.min(s.end, n) })).filter((s) => s.start < s.end);
}

/** The stage an epoch belongs to (get_stage, with the epoch ranges of the uninterrupted run). */
export function stageAt(stages: readonly TrainingStage[], epoch: number): TrainingStage {
  return stages.find((s) => epoch >= s.start && epoch < s.end) ?? stages[stages.length - 1]!;
}

/** Upstream's sawtooth get_stage() (defect 2 above), for the record and the tests. */
export function upstreamSawtoothStage(decoderEpochs: number, warmupEpochs: number, epoch: number): StageName {
  if (epoch < Math.floor(decoderEpochs / 2)) return "warmup_decoder";
  if (epoch < decoderEpochs) return "train_decoder";
  if (epoch < warmupEpochs) return "warmup_all";
  return "train";
}
