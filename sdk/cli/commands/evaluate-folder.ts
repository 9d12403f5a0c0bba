// nnUNetv2_evaluate_folder: same flags as upstream's evaluate_folder_entry_point.

import type { ParserSpec } from "../argparse.js";
import { defaultNumProcesses } from "../../config/switches.js";
import { computeMetricsOnFolder2 } from "../../evaluation/evaluate-folder.js";
import { terminalProgress } from "../progress.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_evaluate_folder",
  description: "Computes Dice, IoU and TP/FP/FN/TN of every prediction against the reference of the same name and writes summary.json.",
  args: [
    { flags: ["gt_folder"], help: "folder with gt segmentations" },
    { flags: ["pred_folder"], help: "folder with predicted segmentations" },
    { flags: ["-djfile"], required: true, help: "dataset.json file" },
    { flags: ["-pfile"], required: true, help: "plans.json file" },
    { flags: ["-o"], default: null, help: "Output file. Optional. Default: pred_folder/summary.json" },
    { flags: ["-np"], type: "int", min: 1, default: defaultNumProcesses(), help: "number of worker threads used" },
    { flags: ["--chill"], action: "store_true", help: "don't crash if pred_folder does not have all files that are present in gt_folder" },
  ],
};

export async function run(args: Record<string, any>): Promise<void> {
  const progress = terminalProgress();
  try {
    const summary = await computeMetricsOnFolder2(args.gt_folder, args.pred_folder, args.djfile, args.pfile, {
      ...(args.o ? { outputFile: args.o as string } : {}),
      numProcesses: args.np as number,
      chill: args.chill as boolean,
      onProgress: progress,
    });
    progress.stop();
    const fg = summary.foreground_mean;
    process.stdout.write(
      `foreground mean Dice ${fg.Dice.toFixed(4)} (${summary.metric_per_case.length} cases) -> ${args.o ?? `${args.pred_folder}/summary.json`}\n`,
    );
  } finally {
    progress.stop();
  }
}
