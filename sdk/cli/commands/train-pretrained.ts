// nnUNetv2_train_pretrained: the fork's run_training_from_pretrained.py flags. DATASET CONFIGURATION FOLD are
// positional as upstream; the seed README's `-d/-c/-f` spelling is accepted too. Maps the flags to trainPretrained().

import { UsageError, type ArgSpec, type ParserSpec } from "../argparse.js";
import { terminalProgress } from "../progress.js";
import { trainPretrained, type TrainOptions, type TrainingRun } from "../../training/run-training.js";
import type { EpochEndEvent } from "../../training/trainer.js";

/** Flags shared by nnUNetv2_train and nnUNetv2_train_pretrained (defaults of -tr / -p differ). */
export function trainingArgs(defaults: { trainer: string; plans: string | null }): ArgSpec[] {
  return [
    { flags: ["dataset_name_or_id"], nargs: "?", help: "Dataset name or ID to train with" },
    { flags: ["configuration"], nargs: "?", help: "Configuration that should be trained" },
    { flags: ["fold"], nargs: "?", help: "Fold of the 5-fold cross-validation (0..4, a larger number for a random 80:20 split, or 'all')" },
    { flags: ["-d"], dest: "d", help: "Dataset name or ID (alternative to the positional argument)" },
    { flags: ["-c"], dest: "c", help: "Configuration (alternative to the positional argument)" },
    { flags: ["-f"], dest: "f", help: "Fold (alternative to the positional argument)" },
    { flags: ["-tr"], default: defaults.trainer, help: `Trainer name (registry entry, optionally with _<N>epochs). Default: ${defaults.trainer}` },
    defaults.plans === null
      ? { flags: ["-p"], required: true, help: "Plans identifier (the ptPlans__... name written by nnUNetv2_preprocess_like_nnssl)" }
      : { flags: ["-p"], default: defaults.plans, help: "Plans identifier" },
    { flags: ["--from_scratch"], action: "store_true", help: "Train without pretrained weights (separate output folder, scratch learning rate)" },
    { flags: ["-num_gpus"], type: "int", default: 1, help: "Accepted for compatibility; only 1 is supported" },
    { flags: ["--npz"], action: "store_true", help: "Save softmax predictions of the final validation as .npz" },
    { flags: ["--c"], action: "store_true", dest: "c_continue", help: "Continue training from checkpoint_final / _latest / _best" },
    { flags: ["--val"], action: "store_true", help: "Only run the final validation (needs a finished training)" },
    { flags: ["--val_best"], action: "store_true", help: "Validate with checkpoint_best.pth instead of checkpoint_final.pth" },
    { flags: ["--disable_checkpointing"], action: "store_true", help: "Write no checkpoints" },
    { flags: ["--checkpointing"], action: "store_true", help: "Recompute each stage's activations in the backward pass (less memory for large patches, ~1 more forward)" },
    { flags: ["-device"], default: "cpu", choices: ["cpu", "gpu", "cuda", "mps"], help: "Device recorded in the checkpoint; the tfjs backend is picked automatically (see nnssl-adapt doctor)" },
    { flags: ["-overwrite_ckpt_path"], default: null, help: "Pretrained checkpoint to use instead of plans pretrain_info.checkpoint_path" },
    { flags: ["--num_epochs"], type: "int", help: "Override the trainer's number of epochs" },
    { flags: ["--num_iterations_per_epoch"], type: "int", help: "Override the training iterations per epoch (250)" },
    { flags: ["--num_val_iterations_per_epoch"], type: "int", help: "Override the validation iterations per epoch (50)" },
    { flags: ["--initial_lr"], type: "float", help: "Override the trainer's initial learning rate (used with and without pretrained weights)" },
    { flags: ["--seed"], type: "int", help: "Seed for weights init, patch sampling and augmentation (random if omitted; logged)" },
    { flags: ["--num_workers"], type: "int", help: "Augmentation worker threads (default: nnUNet_n_proc_DA, else cores - 1)" },
  ];
}

/** The command line as TrainOptions (positionals or -d/-c/-f). */
export function toTrainOptions(prog: string, a: Record<string, any>): TrainOptions {
  const pick = (pos: string, flag: string) => {
    if (a[pos] != null && a[flag] != null && String(a[pos]) !== String(a[flag])) throw new UsageError(prog, `argument ${pos} given twice (${a[pos]} and -${flag} ${a[flag]})`);
    return a[pos] ?? a[flag] ?? null;
  };
  const dataset = pick("dataset_name_or_id", "d");
  const configuration = pick("configuration", "c");
  const foldRaw = pick("fold", "f");
  const missing = [["dataset_name_or_id", dataset], ["configuration", configuration], ["fold", foldRaw]].filter(([, v]) => v === null).map(([k]) => k);
  if (missing.length) throw new UsageError(prog, `the following arguments are required: ${missing.join(", ")}`);
  const fold = foldRaw === "all" ? "all" : /^\d+$/.test(String(foldRaw)) ? Number(foldRaw) : null;
  if (fold === null) throw new UsageError(prog, `argument fold: invalid choice: '${foldRaw}' (choose from 0, 1, ..., 'all')`);
  if (a.num_gpus !== 1) throw new UsageError(prog, `argument -num_gpus: only 1 is supported (got ${a.num_gpus})`);
  const o: TrainOptions = {
    dataset: String(dataset), configuration: String(configuration), fold, plans: a.p, trainer: a.tr,
    fromScratch: a.from_scratch, continueTraining: a.c_continue, validationOnly: a.val, validationWithBest: a.val_best,
    exportValidationProbabilities: a.npz, disableCheckpointing: a.disable_checkpointing, device: a.device === "mps" ? "cpu" : a.device,
    overwriteCkptPath: a.overwrite_ckpt_path,
  };
  if (a.num_epochs != null) o.numEpochs = a.num_epochs;
  if (a.initial_lr != null) o.initialLr = a.initial_lr;
  if (a.num_iterations_per_epoch != null) o.numIterationsPerEpoch = a.num_iterations_per_epoch;
  if (a.num_val_iterations_per_epoch != null) o.numValIterationsPerEpoch = a.num_val_iterations_per_epoch;
  if (a.seed != null) o.seed = a.seed;
  if (a.num_workers != null) o.numWorkers = a.num_workers;
  if (a.checkpointing) o.activationCheckpointing = true;
  return o;
}

/** Runs a training with a bar per epoch on stderr and upstream's log lines on stdout. */
export async function runTrainingCommand(fn: (o: TrainOptions) => Promise<TrainingRun>, o: TrainOptions): Promise<TrainingRun> {
  const bar = terminalProgress();
  const out = (line: string) => process.stdout.write(line + "\n");
  try {
    const run = await fn({
      ...o,
      onProgress: bar,
      onValidationProgress: bar,
      onLog: out,
      onEpochEnd: (e: EpochEndEvent) => { if (e.dataWaitSeconds > 0.05 * e.epochSeconds) out(`(waited ${e.dataWaitSeconds.toFixed(1)} s for data this epoch)`); },
    });
    if (run.validation) out(`Validation Dice (foreground mean): ${run.validation.foreground_mean.Dice}`);
    out(`Results in ${run.outputFolder}`);
    return run;
  } finally {
    bar.stop();
  }
}

export const spec: ParserSpec = {
  prog: "nnUNetv2_train_pretrained",
  description: "Fine-tune an nnssl pretrained checkpoint with nnU-Net (PretrainedTrainer and variants).",
  args: trainingArgs({ trainer: "PretrainedTrainer", plans: null }),
};

export async function run(args: Record<string, any>): Promise<void> {
  await runTrainingCommand(trainPretrained, toTrainOptions(spec.prog, args));
}

