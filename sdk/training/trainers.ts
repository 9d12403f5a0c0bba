// Trainer variants as registry entries (not subclasses): nnUNetTrainer's defaults, the nnssl fork's PretrainedTrainer
// family (nnunetv2/training/nnUNetTrainer/pretraining/pretrainedTrainer.py in the nnssl fork and nnU-Net master), and upstream's training-length
// names (`nnUNetTrainer_5epochs`, `PretrainedTrainer_10epochs`, ...), which only change the number of epochs.

import { ConfigError } from "../errors.js";

export interface TrainerSpec {
  /** The upstream class name, written into checkpoints as trainer_name and into the output folder name. */
  name: string;
  optimizer: "SGD" | "AdamW";
  initialLr: number;
  /** The learning rate without pretrained weights (PretrainedTrainer family); null = same as initialLr. */
  initialLrFromScratch: number | null;
  weightDecay: number;
  /** "poly": PolyLRScheduler; "warmup_poly": linear warm-up for warmupEpochs, then PolyLRScheduler_offset. */
  schedule: "poly" | "warmup_poly";
  warmupEpochs: number;
  numEpochs: number;
  numIterationsPerEpoch: number;
  numValIterationsPerEpoch: number;
  enableDeepSupervision: boolean;
  gradClip: number;
  /** Overrides the plans' batch size (nnU-Net master's PretrainedTrainer forces 2); null keeps the plans value. */
  batchSize: number | null;
  oversampleForegroundPercent: number;
  /** Loads `plans.pretrain_info` weights unless --from_scratch. */
  usesPretrainedWeights: boolean;
  /** Epochs between checkpoint_latest.pth writes (upstream 50; see DEFAULT_SAVE_EVERY). */
  saveEvery: number;
}

/**
 * Upstream writes checkpoint_latest.pth every 50 epochs; we write it after every epoch so that `--c` after a kill loses
 * at most the epoch that was running (an epoch on CPU takes minutes, the write takes well under a second).
 */
export const DEFAULT_SAVE_EVERY = 1;

const nnUNetTrainer: TrainerSpec = {
  name: "nnUNetTrainer", optimizer: "SGD", initialLr: 1e-2, initialLrFromScratch: null, weightDecay: 3e-5,
  schedule: "poly", warmupEpochs: 0, numEpochs: 1000, numIterationsPerEpoch: 250, numValIterationsPerEpoch: 50,
  enableDeepSupervision: true, gradClip: 12, batchSize: null, oversampleForegroundPercent: 0.33,
  usesPretrainedWeights: false, saveEvery: DEFAULT_SAVE_EVERY,
};

const PretrainedTrainer: TrainerSpec = {
  ...nnUNetTrainer, name: "PretrainedTrainer", initialLr: 1e-3, initialLrFromScratch: 1e-2, schedule: "warmup_poly",
  warmupEpochs: 50, enableDeepSupervision: false, batchSize: 2, usesPretrainedWeights: true,
};

const PretrainedTrainer_Primus: TrainerSpec = {
  ...PretrainedTrainer, name: "PretrainedTrainer_Primus", optimizer: "AdamW", initialLr: 1e-4, initialLrFromScratch: 3e-4,
  weightDecay: 5e-2, gradClip: 1,
};

/** The named trainers. `-tr` also accepts any of these with an `_<N>epochs` / `_<N>epoch` suffix. */
export const TRAINERS: Readonly<Record<string, TrainerSpec>> = {
  nnUNetTrainer,
  PretrainedTrainer,
  PretrainedTrainer_150ep: { ...PretrainedTrainer, name: "PretrainedTrainer_150ep", warmupEpochs: 15, numEpochs: 150 },
  PretrainedTrainer_300ep: { ...PretrainedTrainer, name: "PretrainedTrainer_300ep", warmupEpochs: 15, numEpochs: 300 },
  PretrainedTrainer_Primus,
  PretrainedTrainer_Primus_150ep: { ...PretrainedTrainer_Primus, name: "PretrainedTrainer_Primus_150ep", warmupEpochs: 15, numEpochs: 150 },
};

/**
 * The spec of a `-tr` name. `<Known>_<N>epochs` (upstream's nnUNetTrainer_Xepochs naming) sets numEpochs = N.
 * @example resolveTrainer("PretrainedTrainer_5epochs").numEpochs // 5
 */
export function resolveTrainer(name: string): TrainerSpec {
  const known = TRAINERS[name];
  if (known) return { ...known };
  const m = /^(.+?)_(\d+)epochs?$/.exec(name);
  if (m && TRAINERS[m[1]!] && Number(m[2]) > 0) return { ...TRAINERS[m[1]!]!, name, numEpochs: Number(m[2]) };
  throw new ConfigError(`unknown trainer ${JSON.stringify(name)} (known: ${Object.keys(TRAINERS).join(", ")}, each optionally with _<N>epochs)`);
}
