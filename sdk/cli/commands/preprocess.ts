// nnUNetv2_preprocess: same flags as upstream's preprocess_entry (plan_and_preprocess_entrypoints.py).

import type { ParserSpec } from "../argparse.js";
import { DEFAULT_CONFIGURATIONS, DEFAULT_NUM_PROCESSES, preprocess } from "../../preprocessing/preprocess.js";
import { terminalProgress } from "../progress.js";

export const spec: ParserSpec = {
  prog: "nnUNetv2_preprocess",
  description: "Preprocesses planned datasets (DefaultPreprocessor) for the given configurations.",
  args: [
    { flags: ["-d"], type: "int", nargs: "+", required: true, help: "[REQUIRED] List of dataset IDs. Example: 2 4 5." },
    { flags: ["-plans_name"], default: "nnUNetPlans", help: "[OPTIONAL] Plans identifier (file name without .json)." },
    { flags: ["-c"], nargs: "+", default: [...DEFAULT_CONFIGURATIONS], help: "[OPTIONAL] Configurations to preprocess; missing ones are skipped." },
    {
      flags: ["-np"],
      type: "int",
      min: 1,
      nargs: "+",
      default: [...DEFAULT_NUM_PROCESSES],
      help: "[OPTIONAL] Worker threads: one number, or one per configuration.",
    },
    {
      flags: ["--pp_format"],
      default: "npy",
      choices: ["npy", "npz"],
      help: "[OPTIONAL] How preprocessed cases are stored: npy (<case>.npy, _seg.npy, .json; default) or npz (<case>.npz + .pkl, the layout Python nnU-Net master's numpy dataset class loads).",
    },
    { flags: ["--verbose"], action: "store_true", help: "Print a lot of stuff. Disables the progress bar." },
  ],
};

export async function run(args: Record<string, any>): Promise<void> {
  const verbose = args.verbose as boolean;
  const progress = terminalProgress();
  try {
    for (const d of args.d as number[]) {
      await preprocess(d, {
        plansName: args.plans_name as string,
        configurations: args.c as string[],
        numWorkers: args.np as number[],
        format: args.pp_format as "npy" | "npz",
        onProgress: verbose ? undefined : progress,
        log: (line) => process.stdout.write(line + "\n"),
      });
      progress.stop();
    }
  } finally {
    progress.stop();
  }
}
