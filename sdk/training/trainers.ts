// Trainer variants as registry entries (not subclasses): nnUNetTrainer's defaults, the PretrainedTrainer family of
// nnU-Net master (nnunetv2/training/nnUNetTrainer/pretraining/pretrainedTrainer.py), the nnssl fork's sawtooth trainers
// (TaWald/nnUNet, pretraining/sawtooth_trainer.py), and upstream's training-length names (`nnUNetTrainer_5epochs`,
// `PretrainedTrainer_10epochs`, ...), which only change the number of epochs.

import { ConfigError } from "../errors.js";
import { nnsslTrainers, type NnsslTrainerFields } from "./trainers-nnssl.js";

export interface TrainerSpec extends NnsslTrainerFields {
  /** The upstream class name, written into checkpoints as trainer_name and into the output folder name. */
  name: string;
  optimizer: "SGD" | "AdamW";
  initialLr: number;
  /** The learning rate without pretrained weights (PretrainedTrainer family); null = same as initialLr. */
  initialLrFromScratch: number | null;
  weightDecay: number;
  /**
   * "poly": PolyLRScheduler; "warmup_poly": linear warm-up for warmupEpochs, then PolyLRScheduler_offset;
   * "sawtooth": the fork's four stages (decoder warm-up and decay, then whole-net warm-up and decay, see stages.ts).
   */
  schedule: "poly" | "warmup_poly" | "sawtooth";
  /** Whole-network linear warm-up epochs (warmup_duration_whole_net). */
  warmupEpochs: number;
  /** Sawtooth trainers only: the decoder stages and their learning-rate factor; null otherwise. */
  sawtooth: SawtoothSpec | null;
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
  /**
   * Mirroring augmentation and test-time mirroring on all spatial axes. false: mirror_axes = None and
   * inference_allowed_mirroring_axes = None (the _nomirroring trainers).
   */
  mirroring: boolean;
  /** One line for `nnssl-adapt trainers` and `--help`: what the trainer is for and where it comes from. */
  purpose?: string;
}

/** The decoder-first stages of the fork's sawtooth trainers. */
export interface SawtoothSpec {
  /** warmup_duration_decoder: linear decoder warm-up for half of it, then poly decay of the decoder until it ends. */
  decoderEpochs: number;
  /** The decoder stages run at initial_lr * warmupLrFactor (warmup_lr_factor of the Primus variants; 1 for the CNN ones). */
  warmupLrFactor: number;
  /**
   * The parameters the decoder stages optimize: "decoder" = network.decoder.parameters(), which for nnU-Net's UNets
   * includes the encoder (UNetDecoder keeps a reference to it), so every parameter is trained, as upstream does;
   * "up_projection" = Primus' up_projection only. Either way plus the input projection when the pretrained
   * checkpoint had fewer input channels.
   */
  heads: "decoder" | "up_projection";
}

/**
 * Upstream writes checkpoint_latest.pth every 50 epochs; we write it after every epoch so that `--c` after a kill loses
 * at most the epoch that was running (an epoch on CPU takes minutes, the write takes well under a second).
 */
export const DEFAULT_SAVE_EVERY = 1;

const nnUNetTrainer: TrainerSpec = {
  name: "nnUNetTrainer",
  optimizer: "SGD",
  initialLr: 1e-2,
  initialLrFromScratch: null,
  weightDecay: 3e-5,
  schedule: "poly",
  warmupEpochs: 0,
  sawtooth: null,
  numEpochs: 1000,
  numIterationsPerEpoch: 250,
  numValIterationsPerEpoch: 50,
  enableDeepSupervision: true,
  gradClip: 12,
  batchSize: null,
  oversampleForegroundPercent: 0.33,
  usesPretrainedWeights: false,
  saveEvery: DEFAULT_SAVE_EVERY,
  mirroring: true,
  purpose: "nnU-Net's default trainer, from scratch (deep supervision, poly LR)",
};

const PretrainedTrainer: TrainerSpec = {
  ...nnUNetTrainer,
  name: "PretrainedTrainer",
  initialLr: 1e-3,
  initialLrFromScratch: 1e-2,
  schedule: "warmup_poly",
  warmupEpochs: 50,
  enableDeepSupervision: false,
  batchSize: 2,
  usesPretrainedWeights: true,
  purpose: "fine-tune a CNN (ResEnc) nnssl checkpoint: whole net, linear warm-up then poly (default of nnUNetv2_train_pretrained)",
};

const PretrainedTrainer_Primus: TrainerSpec = {
  ...PretrainedTrainer,
  name: "PretrainedTrainer_Primus",
  optimizer: "AdamW",
  initialLr: 1e-4,
  initialLrFromScratch: 3e-4,
  weightDecay: 5e-2,
  gradClip: 1,
  purpose: "fine-tune a Primus (transformer) checkpoint with AdamW",
};

const PretrainedTrainer_150ep: TrainerSpec = {
  ...PretrainedTrainer,
  name: "PretrainedTrainer_150ep",
  warmupEpochs: 15,
  numEpochs: 150,
  purpose: "PretrainedTrainer, short schedule",
};
const PretrainedTrainer_adam_150ep: TrainerSpec = {
  ...PretrainedTrainer_Primus,
  name: "PretrainedTrainer_adam_150ep",
  warmupEpochs: 15,
  numEpochs: 150,
  purpose: "AdamW (PretrainedTrainer_Primus settings) for any network, short schedule",
};
const noMirroring = (t: TrainerSpec, name: string, purpose: string): TrainerSpec => ({ ...t, name, mirroring: false, purpose });

// The fork's PretrainedTrainer does not force batch size 2 (master's does); its sawtooth trainers keep the plans' value.
const PretrainedTrainer_sawtooth: TrainerSpec = {
  ...PretrainedTrainer,
  name: "PretrainedTrainer_sawtooth",
  initialLrFromScratch: null,
  schedule: "sawtooth",
  batchSize: null,
  sawtooth: { decoderEpochs: 50, warmupLrFactor: 1, heads: "decoder" },
  purpose: "fork (TaWald/nnUNet): decoder warm-up/decay, then whole-net warm-up/decay (for UNets the decoder stages train every weight, as upstream)",
};
const PretrainedTrainer_Primus_sawtooth: TrainerSpec = {
  ...PretrainedTrainer_Primus,
  name: "PretrainedTrainer_Primus_sawtooth",
  initialLrFromScratch: null,
  schedule: "sawtooth",
  batchSize: null,
  sawtooth: { decoderEpochs: 50, warmupLrFactor: 0.01, heads: "up_projection" },
  purpose: "fork (TaWald/nnUNet): Primus up_projection first at lr x 0.01, then whole-net warm-up/decay",
};

/** The named trainers. `-tr` also accepts any of these with an `_<N>epochs` / `_<N>epoch` suffix. */
export const TRAINERS: Readonly<Record<string, TrainerSpec>> = {
  nnUNetTrainer,
  PretrainedTrainer,
  PretrainedTrainer_150ep,
  PretrainedTrainer_300ep: { ...PretrainedTrainer_150ep, name: "PretrainedTrainer_300ep", numEpochs: 300, purpose: "PretrainedTrainer_150ep with 300 epochs" },
  PretrainedTrainer_smallerlr: {
    ...PretrainedTrainer,
    name: "PretrainedTrainer_smallerlr",
    initialLr: 3e-5,
    initialLrFromScratch: 1e-4,
    weightDecay: 5e-2,
    purpose: "PretrainedTrainer with a 33x smaller LR and weight decay 5e-2 (keeps more of the pretrained weights)",
  },
  PretrainedTrainer_nomirroring: noMirroring(
    PretrainedTrainer,
    "PretrainedTrainer_nomirroring",
    "PretrainedTrainer without mirroring (lateralised structures)",
  ),
  PretrainedTrainer_150ep_nomirroring: noMirroring(PretrainedTrainer_150ep, "PretrainedTrainer_150ep_nomirroring", "PretrainedTrainer_150ep without mirroring"),
  PretrainedTrainer_adam__nomirroring: noMirroring(
    PretrainedTrainer,
    "PretrainedTrainer_adam__nomirroring",
    "despite its name SGD: master derives it from PretrainedTrainer, we copy that (PretrainedTrainer without mirroring)",
  ),
  PretrainedTrainer_adam_150ep,
  PretrainedTrainer_adam_150ep_nomirroring: noMirroring(
    PretrainedTrainer_adam_150ep,
    "PretrainedTrainer_adam_150ep_nomirroring",
    "PretrainedTrainer_adam_150ep without mirroring",
  ),
  PretrainedTrainer_Primus,
  PretrainedTrainer_Primus_150ep: {
    ...PretrainedTrainer_Primus,
    name: "PretrainedTrainer_Primus_150ep",
    warmupEpochs: 15,
    numEpochs: 150,
    purpose: "PretrainedTrainer_Primus, short schedule",
  },
  PretrainedTrainer_sawtooth,
  PretrainedTrainer_sawtooth_150ep: {
    ...PretrainedTrainer_sawtooth,
    name: "PretrainedTrainer_sawtooth_150ep",
    warmupEpochs: 15,
    numEpochs: 150,
    sawtooth: { ...PretrainedTrainer_sawtooth.sawtooth!, decoderEpochs: 15 },
    purpose: "PretrainedTrainer_sawtooth, short schedule (15 + 15 warm-up epochs)",
  },
  PretrainedTrainer_Primus_sawtooth,
  PretrainedTrainer_Primus_sawtooth_150ep: {
    ...PretrainedTrainer_Primus_sawtooth,
    name: "PretrainedTrainer_Primus_sawtooth_150ep",
    warmupEpochs: 50,
    numEpochs: 150,
    sawtooth: { ...PretrainedTrainer_Primus_sawtooth.sawtooth!, decoderEpochs: 15, warmupLrFactor: 0.1 },
    purpose: "PretrainedTrainer_Primus_sawtooth, short schedule (15 decoder epochs at lr x 0.1, 50 warm-up epochs)",
  },
  // DynamicPretrainedTrainer*, PretrainedTrainer_Primusx*, nnUNet_Primus_{S,B,M,L}_Trainer
  ...nnsslTrainers({ nnUNetTrainer, PretrainedTrainer, PretrainedTrainer_Primus }),
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

/** One row of `nnssl-adapt trainers` / `nnUNetv2_train_pretrained --help`. */
export interface TrainerRow {
  name: string;
  optimizer: string;
  /** Learning rate with pretrained weights, and without (null = the same). */
  lr: number;
  lrFromScratch: number | null;
  weightDecay: number;
  /** Warm-up in words: "50", "-" (none), or the sawtooth stages. */
  warmup: string;
  epochs: number;
  mirroring: boolean;
  purpose: string;
}

/** Every registry entry as a table row, in registry order (entries other modules add to TRAINERS appear too). */
export function trainerRows(): TrainerRow[] {
  return Object.values(TRAINERS).map((t) => ({
    name: t.name,
    optimizer: t.optimizer,
    lr: t.initialLr,
    lrFromScratch: t.initialLrFromScratch === t.initialLr ? null : t.initialLrFromScratch,
    weightDecay: t.weightDecay,
    warmup:
      t.schedule === "poly"
        ? "-"
        : t.sawtooth
          ? `decoder ${t.sawtooth.decoderEpochs}${t.sawtooth.warmupLrFactor !== 1 ? ` (lr x${t.sawtooth.warmupLrFactor})` : ""}, then ${t.warmupEpochs}`
          : String(t.warmupEpochs),
    epochs: t.numEpochs,
    mirroring: t.mirroring,
    purpose: t.purpose ?? "",
  }));
}

/** The rows as a fixed-width text table. */
export function formatTrainerTable(rows: readonly TrainerRow[] = trainerRows()): string {
  const lr = (r: TrainerRow) => `${r.lr}${r.lrFromScratch !== null ? ` (${r.lrFromScratch} scratch)` : ""}`;
  const cells = [
    ["trainer", "optimizer", "lr", "warm-up", "epochs", "mirroring", "what it is for"],
    ...rows.map((r) => [r.name, r.optimizer, lr(r), r.warmup, String(r.epochs), r.mirroring ? "yes" : "no", r.purpose]),
  ];
  const widths = cells[0]!.slice(0, -1).map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells
    .map((row) =>
      row
        .map((v, c) => (c < widths.length ? v.padEnd(widths[c]!) : v))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
