// nnUNetv2_train_pretrained: the fork's run_training_from_pretrained.py flags. DATASET CONFIGURATION FOLD are
// positional as upstream; the seed README's `-d/-c/-f` spelling is accepted too. Maps the flags to trainPretrained().

import { applyBackendFlag, backendArg } from "../backend-flag.js";
import { UsageError, type ArgSpec, type ParserSpec } from "../argparse.js";
import { terminalProgress } from "../progress.js";
import { trainPretrained, type TrainOptions, type TrainingRun } from "../../training/run-training.js";
import type { EpochEndEvent } from "../../training/trainer.js";
import { formatTrainerTable } from "../../training/trainers.js";
import { parseFreeze } from "../../training/freeze.js";

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
    { flags: ["-num_gpus"], type: "int", default: 1, help: "Number of GPUs; only 1 is supported (no multi-GPU / DDP training)" },
    { flags: ["--npz"], action: "store_true", help: "Save softmax predictions of the final validation as .npz" },
    { flags: ["--c"], action: "store_true", dest: "c_continue", help: "Continue training from checkpoint_final / _latest / _best" },
    { flags: ["--val"], action: "store_true", help: "Only run the final validation (needs a finished training)" },
    { flags: ["--val_best"], action: "store_true", help: "Validate with checkpoint_best.pth instead of checkpoint_final.pth (after training, or with --val)" },
    { flags: ["--disable_checkpointing"], action: "store_true", help: "Write no checkpoints" },
    {
      flags: ["--checkpointing"],
      action: "store_true",
      help: "Recompute each stage's activations in the backward pass (less memory for large patches, ~1 more forward)",
    },
    {
      flags: ["--precision"],
      default: "fp32",
      choices: ["fp32", "bf16"],
      help: "bf16: bf16 convolutions (forward and backward), fp32 accumulation, weights and optimizer state (cpu-onednn, CPUs with bf16)",
    },
    {
      flags: ["-device"],
      default: "cpu",
      choices: ["cpu", "gpu", "cuda", "mps"],
      help: "Device recorded in the checkpoint; the tfjs backend is picked automatically (see nnssl-adapt doctor)",
    },
    backendArg,
    { flags: ["-overwrite_ckpt_path"], default: null, help: "Pretrained checkpoint to use instead of plans pretrain_info.checkpoint_path" },
    { flags: ["--num_epochs"], type: "int", min: 1, help: "Override the trainer's number of epochs" },
    { flags: ["--num_iterations_per_epoch"], type: "int", min: 1, help: "Override the training iterations per epoch (250)" },
    { flags: ["--num_val_iterations_per_epoch"], type: "int", min: 0, help: "Override the validation iterations per epoch (50)" },
    { flags: ["--initial_lr"], type: "float", gt: 0, help: "Override the trainer's initial learning rate (used with and without pretrained weights)" },
    {
      flags: ["--warmup_epochs"],
      type: "int",
      min: 0,
      help: "Whole-network warm-up epochs (default: the trainer's, scaled in proportion when --num_epochs is shorter; printed)",
    },
    { flags: ["--freeze"], help: "Partial fine-tuning: freeze encoder, stem or stages:A-B (encoder stages, 0-based); frozen weights get no gradient" },
    { flags: ["--unfreeze_at_epoch"], type: "int", min: 0, help: "With --freeze: train every weight again from this epoch on" },
    {
      flags: ["--lr_decay_per_stage"],
      type: "float",
      help: "Layer-wise LR decay F in (0, 1]: decoder x1, deepest encoder stage xF, the one before xF^2, ..., stem",
    },
    { flags: ["--seed"], type: "int", min: 0, max: 4294967295, help: "Seed for weights init, patch sampling and augmentation (random if omitted; logged)" },
    { flags: ["--num_workers"], type: "int", min: 0, help: "Augmentation worker threads (default: nnUNet_n_proc_DA, else cores - 1)" },
  ];
}

/** The command line as TrainOptions (positionals or -d/-c/-f). */
export function toTrainOptions(prog: string, a: Record<string, any>): TrainOptions {
  const pick = (pos: string, flag: string) => {
    if (a[pos] != null && a[flag] != null && String(a[pos]) !== String(a[flag]))
      throw new UsageError(prog, `argument ${pos} given twice (${a[pos]} and -${flag} ${a[flag]})`);
    return a[pos] ?? a[flag] ?? null;
  };
  const dataset = pick("dataset_name_or_id", "d");
  const configuration = pick("configuration", "c");
  const foldRaw = pick("fold", "f");
  const missing = [
    ["dataset_name_or_id", dataset],
    ["configuration", configuration],
    ["fold", foldRaw],
  ]
    .filter(([, v]) => v === null)
    .map(([k]) => k);
  if (missing.length) throw new UsageError(prog, `the following arguments are required: ${missing.join(", ")}`);
  const fold = foldRaw === "all" ? "all" : /^\d+$/.test(String(foldRaw)) ? Number(foldRaw) : null;
  if (fold === null) throw new UsageError(prog, `argument fold: invalid choice: '${foldRaw}' (choose from 0, 1, ..., 'all')`);
  if (a.num_gpus !== 1) {
    const why = "nnssl-adapt trains on one device (no multi-GPU / DDP training); use -num_gpus 1";
    throw new UsageError(prog, `argument -num_gpus: ${a.num_gpus} is not supported: ${why}`);
  }
  const positive = (flag: string, v: unknown, min: number) => {
    if (v != null && (v as number) < min) throw new UsageError(prog, `argument ${flag}: must be >= ${min} (got ${v})`);
  };
  positive("--warmup_epochs", a.warmup_epochs, 1);
  positive("--unfreeze_at_epoch", a.unfreeze_at_epoch, 1);
  if (a.unfreeze_at_epoch != null && a.freeze == null) throw new UsageError(prog, "argument --unfreeze_at_epoch: needs --freeze");
  if (a.lr_decay_per_stage != null && !(a.lr_decay_per_stage > 0 && a.lr_decay_per_stage <= 1)) {
    throw new UsageError(prog, `argument --lr_decay_per_stage: expected a factor in (0, 1] (got ${a.lr_decay_per_stage})`);
  }
  if (a.freeze != null) {
    try {
      parseFreeze(a.freeze);
    } catch (e) {
      throw new UsageError(prog, `argument ${(e as Error).message}`);
    }
  }
  const o: TrainOptions = {
    dataset: String(dataset),
    configuration: String(configuration),
    fold,
    plans: a.p,
    trainer: a.tr,
    fromScratch: a.from_scratch,
    continueTraining: a.c_continue,
    validationOnly: a.val,
    validationWithBest: a.val_best,
    exportValidationProbabilities: a.npz,
    disableCheckpointing: a.disable_checkpointing,
    device: a.device === "mps" ? "cpu" : a.device,
    overwriteCkptPath: a.overwrite_ckpt_path,
  };
  if (a.backend != null) o.backend = a.backend;
  if (a.num_epochs != null) o.numEpochs = a.num_epochs;
  if (a.initial_lr != null) o.initialLr = a.initial_lr;
  if (a.num_iterations_per_epoch != null) o.numIterationsPerEpoch = a.num_iterations_per_epoch;
  if (a.num_val_iterations_per_epoch != null) o.numValIterationsPerEpoch = a.num_val_iterations_per_epoch;
  if (a.warmup_epochs != null) o.warmupEpochs = a.warmup_epochs;
  if (a.freeze != null) o.freeze = a.freeze;
  if (a.unfreeze_at_epoch != null) o.unfreezeAtEpoch = a.unfreeze_at_epoch;
  if (a.lr_decay_per_stage != null) o.lrDecayPerStage = a.lr_decay_per_stage;
  if (a.seed != null) o.seed = a.seed;
  if (a.num_workers != null) o.numWorkers = a.num_workers;
  if (a.checkpointing) o.activationCheckpointing = true;
  if (a.precision != null && a.precision !== "fp32") o.precision = a.precision;
  return o;
}

/**
 * Ends a training cleanly on SIGUSR1 (master's hook for wall-time limits) and Ctrl-C (SIGINT): the running iteration
 * finishes, checkpoint_latest.pth is written and the command exits (0 after SIGUSR1, 130 after Ctrl-C), so `--c`
 * continues. A second Ctrl-C exits at once.
 */
function installStopHandlers(out: (line: string) => void): { signal: AbortSignal; remove: () => void; exitCode: () => number | null } {
  const ctl = new AbortController();
  let code: number | null = null;
  const handler = (sig: NodeJS.Signals) => {
    if (ctl.signal.aborted) {
      if (sig === "SIGINT") process.exit(130);
      return;
    }
    code = sig === "SIGINT" ? 130 : 0;
    out(`\n${sig} received: finishing the current iteration, then writing checkpoint_latest.pth (Ctrl-C again to exit at once)`);
    ctl.abort(sig);
  };
  process.on("SIGUSR1", handler);
  process.on("SIGINT", handler);
  return {
    signal: ctl.signal,
    exitCode: () => code,
    remove: () => {
      process.off("SIGUSR1", handler);
      process.off("SIGINT", handler);
    },
  };
}

/** Runs a training with a bar per epoch on stderr and upstream's log lines on stdout. */
export async function runTrainingCommand(fn: (o: TrainOptions) => Promise<TrainingRun>, o: TrainOptions): Promise<TrainingRun> {
  await applyBackendFlag(o.backend);
  const bar = terminalProgress();
  const out = (line: string) => process.stdout.write(line + "\n");
  const stop = installStopHandlers(out);
  try {
    const run = await fn({
      ...o,
      onProgress: bar,
      onValidationProgress: bar,
      onLog: out,
      onEpochEnd: (e: EpochEndEvent) => {
        if (e.dataWaitSeconds > 0.05 * e.epochSeconds) out(`(waited ${e.dataWaitSeconds.toFixed(1)} s for data this epoch)`);
      },
      stopSignal: stop.signal,
    });
    if (run.stopped) {
      out(`Stopped. Continue with the same command and --c (results in ${run.outputFolder})`);
      process.exitCode = stop.exitCode() ?? 0;
      return run;
    }
    if (run.validation) out(`Validation Dice (foreground mean): ${run.validation.foreground_mean.Dice}`);
    out(`Results in ${run.outputFolder}`);
    return run;
  } finally {
    stop.remove();
    bar.stop();
  }
}

export const spec: ParserSpec = {
  prog: "nnUNetv2_train_pretrained",
  description: "Fine-tune an nnssl pretrained checkpoint with nnU-Net (PretrainedTrainer and variants).",
  args: trainingArgs({ trainer: "PretrainedTrainer", plans: null }),
  epilog: () => `trainers (-tr; each also with _<N>epochs, which keeps the trainer's warm-up as upstream does):\n${formatTrainerTable()}`,
};

export async function run(args: Record<string, any>): Promise<void> {
  await runTrainingCommand(trainPretrained, toTrainOptions(spec.prog, args));
}
