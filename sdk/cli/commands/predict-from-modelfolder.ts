// nnUNetv2_predict_from_modelfolder: upstream's predict_entry_point_modelfolder flags.

import { applyBackendFlag, backendArg } from "../backend-flag.js";
import type { ArgSpec, ParserSpec } from "../argparse.js";
import { ConfigError } from "../../errors.js";
import { parseFolds, runPrediction } from "../../inference/run-prediction.js";
import { terminalProgress } from "../progress.js";
import { predictionWorkers } from "../../config/switches.js";

/** Flags shared with nnUNetv2_predict (same names, defaults and help as upstream). */
export const COMMON_PREDICT_ARGS: ArgSpec[] = [
  {
    flags: ["-i"],
    required: true,
    help: "input folder. Remember to use the correct channel numberings for your files (_0000 etc). File endings must be the same as the training dataset!",
  },
  {
    flags: ["-o"],
    required: true,
    help: "Output folder. If it does not exist it will be created. Predicted segmentations will have the same name as their source images.",
  },
  { flags: ["-f"], nargs: "+", default: ["0", "1", "2", "3", "4"], help: "Specify the folds of the trained model that should be used for prediction." },
  { flags: ["-step_size"], type: "float", gt: 0, max: 1, default: 0.5, help: "Step size for sliding window prediction. Cannot be larger than 1." },
  { flags: ["--disable_tta"], action: "store_true", help: "Disable test time data augmentation in the form of mirroring. Faster, but less accurate." },
  { flags: ["--verbose"], action: "store_true", help: "Show stack traces of errors." },
  { flags: ["--save_probabilities"], action: "store_true", help: "Export predicted class probabilities (<case>.npz) and properties (<case>.json)." },
  {
    flags: ["--continue_prediction", "--c"],
    dest: "continue_prediction",
    action: "store_true",
    help: "Continue an aborted previous prediction (will not overwrite existing files)",
  },
  { flags: ["-chk"], default: "checkpoint_final.pth", help: "Name of the checkpoint you want to use." },
  { flags: ["-npp"], type: "int", min: 1, default: predictionWorkers().npp, help: "Number of worker threads used for preprocessing." },
  { flags: ["-nps"], type: "int", min: 1, default: predictionWorkers().nps, help: "Number of worker threads used for segmentation export." },
  { flags: ["-prev_stage_predictions"], default: null, help: "Folder containing the predictions of the previous stage (cascade; not supported)." },
  {
    flags: ["-device"],
    default: null,
    choices: ["cpu", "gpu", "cuda", "mps"],
    help: "cpu or gpu: gpu (or cuda) needs a GPU backend (webgpu on a GPU, or @tensorflow/tfjs-node-gpu). Default: the fastest backend present.",
  },
  { flags: ["--disable_progress_bar"], action: "store_true", help: "Disable the progress bar." },
  backendArg,
  { flags: ["--precision"], default: "fp32", choices: ["fp32", "bf16"], help: "bf16: bf16 convolutions, fp32 accumulation (cpu-onednn, CPUs with bf16)" },
];

export const spec: ParserSpec = {
  prog: "nnUNetv2_predict_from_modelfolder",
  description: "Run inference with a trained nnU-Net model folder (plans.json, dataset.json, fold_X/checkpoint).",
  args: [
    ...COMMON_PREDICT_ARGS.slice(0, 2),
    { flags: ["-m"], required: true, help: "Folder in which the trained model is. Must have subfolders fold_X for the different folds you trained" },
    ...COMMON_PREDICT_ARGS.slice(2),
  ],
};

/** Maps the shared flags to runPrediction options and runs it. */
export async function runWithModelFolder(modelFolder: string, args: Record<string, any>, parts: { numParts?: number; partId?: number } = {}): Promise<void> {
  if (args.prev_stage_predictions) throw new ConfigError("-prev_stage_predictions: cascaded configurations are not supported by nnssl-adapt");
  await applyBackendFlag(args.backend);
  const progress = args.disable_progress_bar ? undefined : terminalProgress();
  try {
    const done = await runPrediction(modelFolder, {
      input: args.i,
      output: args.o,
      folds: parseFolds(args.f),
      checkpoint: args.chk,
      tta: !args.disable_tta,
      stepSize: args.step_size,
      saveProbabilities: args.save_probabilities,
      continuePrediction: args.continue_prediction,
      npp: args.npp,
      nps: args.nps,
      device: args.device ?? undefined,
      backend: args.backend ?? undefined,
      precision: args.precision,
      ...parts,
      onCase: (id, done, total) => process.stderr.write(`${id}: done (${done}/${total})\n`),
      ...(progress ? { onProgress: progress } : {}),
    });
    progress?.stop();
    process.stdout.write(`predicted ${done.length} case(s) into ${args.o}\n`);
  } finally {
    progress?.stop();
  }
}

export async function run(args: Record<string, any>): Promise<void> {
  await runWithModelFolder(args.m, args);
}
