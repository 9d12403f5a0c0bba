// nnU-Net master's trainers for nnssl checkpoints beyond the PretrainedTrainer family (registered into TRAINERS by
// trainers.ts): DynamicPretrainedTrainer (pretraining/dynamicPretrainedTrainer.py), PretrainedTrainer_Primusx
// (pretraining/thrp_primusx_finetuning.py) and the from-scratch nnUNet_Primus_{S,B,M,L}_Trainer
// (primus/primus_trainers.py), with master's hyper-parameters. The fields below say how they differ from the plain
// trainers: which network they build, how they load the weights, mirroring and a patch-size override.

import type { TrainerSpec } from "./trainers.js";

/** Which network a trainer builds. */
export type TrainerNetworkKind =
  /** The plans' architecture block (get_network_from_plans / get_network_from_name). */
  | "plans"
  /** PretrainedTrainer_Primusx: Primus from the plans' explicit arch_kwargs (drop_path_rate 0.2), the preset without. */
  | "primusx"
  /** nnUNet_Primus_<S|B|M|L>_Trainer: that preset at the plans' patch size, drop_path_rate 0.2, ignoring the plans' architecture. */
  | "PrimusS"
  | "PrimusB"
  | "PrimusM"
  | "PrimusL";

/** Trainer fields for the nnssl routes; all optional, so the plain registry entries need none of them. */
export interface NnsslTrainerFields {
  /** Default "plans". */
  network?: TrainerNetworkKind;
  /** "strict": PretrainedTrainer.load_pretrained_weights; "dynamic": DynamicPretrainedTrainer's adaptation. Default strict. */
  weightTransfer?: "strict" | "dynamic";
  /** false: no mirroring augmentation and inference_allowed_mirroring_axes None (the `_nomirroring` variants). Default true. */
  mirroring?: boolean;
  /** Replaces the configuration's patch_size (and the copy in plans.json), as `_150ep_small_debug` does. */
  patchSizeOverride?: number[];
  /** One line for `--help` / `nnssl-adapt trainers`. */
  purpose?: string;
}

/** master's `_nomirroring` subclasses: mirror_axes None, inference_allowed_mirroring_axes None. */
const noMirror = (s: TrainerSpec, name: string): TrainerSpec => ({
  ...s,
  name,
  mirroring: false,
  purpose: `${s.name} without mirroring (training and test-time)`,
});

/**
 * The registry entries, derived from the plain trainers they subclass upstream.
 * @example nnsslTrainers(base).DynamicPretrainedTrainer_adam_150ep.initialLr // 1e-4
 */
export function nnsslTrainers(base: {
  nnUNetTrainer: TrainerSpec;
  PretrainedTrainer: TrainerSpec;
  PretrainedTrainer_Primus: TrainerSpec;
}): Record<string, TrainerSpec> {
  const DynamicPretrainedTrainer: TrainerSpec = {
    ...base.PretrainedTrainer,
    name: "DynamicPretrainedTrainer",
    weightTransfer: "dynamic",
    purpose: "ptPlans_dynamic plans: the dataset's own U-Net, encoder adapted from the checkpoint (kernels averaged, depth cut)",
  };
  // AdamW 1e-4 (3e-4 from scratch), warm-up 15, 150 epochs; weight decay (3e-5) and clipping (12) are NOT overridden upstream.
  const DynamicPretrainedTrainer_adam_150ep: TrainerSpec = {
    ...DynamicPretrainedTrainer,
    name: "DynamicPretrainedTrainer_adam_150ep",
    optimizer: "AdamW",
    initialLr: 1e-4,
    initialLrFromScratch: 3e-4,
    warmupEpochs: 15,
    numEpochs: 150,
    purpose: "DynamicPretrainedTrainer with AdamW (weight decay 3e-5 and clipping 12 kept, as upstream), 150 epochs",
  };
  const PretrainedTrainer_Primusx: TrainerSpec = {
    ...base.PretrainedTrainer_Primus,
    name: "PretrainedTrainer_Primusx",
    network: "primusx",
    purpose: "Primus checkpoints with explicit settings (PrimusX, nnFoundationViT); presets without arch_kwargs",
  };
  const PretrainedTrainer_Primusx_150ep: TrainerSpec = {
    ...PretrainedTrainer_Primusx,
    name: "PretrainedTrainer_Primusx_150ep",
    warmupEpochs: 15,
    numEpochs: 150,
    purpose: "PretrainedTrainer_Primusx, 150 epochs",
  };
  const primusScratch = (size: "S" | "B" | "M" | "L"): TrainerSpec => ({
    // AbstractPrimus(nnUNetTrainer_warmup): AdamW 3e-4, wd 5e-2, 50 warm-up epochs of 1000, clip 1, no deep supervision.
    ...base.nnUNetTrainer,
    name: `nnUNet_Primus_${size}_Trainer`,
    optimizer: "AdamW",
    initialLr: 3e-4,
    weightDecay: 5e-2,
    schedule: "warmup_poly",
    warmupEpochs: 50,
    enableDeepSupervision: false,
    gradClip: 1,
    network: `Primus${size}`,
    purpose: `Primus-${size} from scratch at the plans' patch size (no pretrained weights)`,
  });
  const entries: TrainerSpec[] = [
    DynamicPretrainedTrainer,
    DynamicPretrainedTrainer_adam_150ep,
    noMirror(DynamicPretrainedTrainer, "DynamicPretrainedTrainer_nomirroring"),
    noMirror(DynamicPretrainedTrainer_adam_150ep, "DynamicPretrainedTrainer_adam_150ep_nomirroring"),
    PretrainedTrainer_Primusx,
    PretrainedTrainer_Primusx_150ep,
    {
      ...PretrainedTrainer_Primusx,
      name: "PretrainedTrainer_Primusx_30ep",
      warmupEpochs: 3,
      numEpochs: 30,
      purpose: "PretrainedTrainer_Primusx, 30 epochs (3 warm-up)",
    },
    {
      ...PretrainedTrainer_Primusx_150ep,
      name: "PretrainedTrainer_Primusx_300ep",
      numEpochs: 300,
      purpose: "PretrainedTrainer_Primusx, 300 epochs (15 warm-up)",
    },
    {
      ...PretrainedTrainer_Primusx,
      name: "PretrainedTrainer_Primusx_smallerlr",
      initialLr: 3e-5,
      initialLrFromScratch: 1e-4,
      purpose: "PretrainedTrainer_Primusx with lr 3e-5 (1e-4 from scratch)",
    },
    // upstream sets initial_lr = 3e-4 after the scratch switch, so 3e-4 applies with and without weights; warm-up stays 50.
    {
      ...PretrainedTrainer_Primusx,
      name: "PretrainedTrainer_Primusx_150ep_lr3e4",
      initialLr: 3e-4,
      initialLrFromScratch: 3e-4,
      numEpochs: 150,
      purpose: "PretrainedTrainer_Primusx, lr 3e-4, 150 epochs (50 warm-up)",
    },
    {
      ...PretrainedTrainer_Primusx_150ep,
      name: "PretrainedTrainer_Primusx_150ep_small_debug",
      patchSizeOverride: [48, 48, 48],
      batchSize: 2,
      purpose: "debugging: patch 48x48x48, batch 2, 150 epochs",
    },
    noMirror(PretrainedTrainer_Primusx, "PretrainedTrainer_Primusx_nomirroring"),
    noMirror(PretrainedTrainer_Primusx_150ep, "PretrainedTrainer_Primusx_150ep_nomirroring"),
    primusScratch("S"),
    primusScratch("B"),
    primusScratch("M"),
    primusScratch("L"),
  ];
  return Object.fromEntries(entries.map((e) => [e.name, e]));
}
